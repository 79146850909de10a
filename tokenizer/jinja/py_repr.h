#ifndef TANDEM_TOKENIZER_JINJA_PY_REPR_H_
#define TANDEM_TOKENIZER_JINJA_PY_REPR_H_

// Python's str() and repr() of template values, byte for byte as CPython
// prints them: True/False/None, floats as the shortest round-trip repr
// ("0.1", "1e+16", "1.5e-05", "inf"), strings inside containers quoted and
// escaped as repr does (the quote it picks, \n, \x.., \u....), lists
// [..], tuples (..), dicts {..}, namespaces <Namespace {..}>.
// Undefined prints as the empty string (jinja2's Undefined.__str__).

#include <string>

#include "absl/status/statusor.h"
#include "tokenizer/jinja/value.h"

namespace tandem::tokenizer::jinja {

// str(v). InvalidArgument for generators and views, whose Python str() is an
// object address no template output should contain.
absl::StatusOr<std::string> PyStr(const Value& v);

// repr(v), with the same error.
absl::StatusOr<std::string> PyRepr(const Value& v);

// repr() of a str.
std::string PyReprString(const std::string& s);

// repr() of a float.
std::string PyReprFloat(double d);

}  // namespace tandem::tokenizer::jinja

#endif  // TANDEM_TOKENIZER_JINJA_PY_REPR_H_
