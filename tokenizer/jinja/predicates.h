#ifndef TANDEM_TOKENIZER_JINJA_PREDICATES_H_
#define TANDEM_TOKENIZER_JINJA_PREDICATES_H_

// jinja2's tests (`x is defined`, `x is string`, select("equalto", 1)...),
// with jinja2's definitions: `iterable` is true for undefined, strings and
// dicts; `sequence` for strings, lists, tuples and dicts; `number` for
// bools too; `mapping` for dicts only.

#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tokenizer/jinja/value.h"

namespace tandem::tokenizer::jinja {

// `name` is one of IsTest()'s names. InvalidArgument for a wrong number of
// arguments or operand types the test rejects.
absl::StatusOr<bool> ApplyTest(absl::string_view name, const Value& value,
                               const std::vector<Value>& args);

// Python's `item in container` (substring for strings, key for dicts,
// false for undefined). InvalidArgument for non-containers.
absl::StatusOr<bool> ContainsValue(const Value& container, const Value& item);

}  // namespace tandem::tokenizer::jinja

#endif  // TANDEM_TOKENIZER_JINJA_PREDICATES_H_
