#ifndef TANDEM_TOKENIZER_JINJA_ACCESS_H_
#define TANDEM_TOKENIZER_JINJA_ACCESS_H_

// Attribute and item access with the semantics of jinja2's
// ImmutableSandboxedEnvironment (getattr / getitem):
//  - x.name: a Python attribute first, then x["name"]; x[key]: the item
//    first, then (for string keys) the attribute;
//  - a missing key, index out of range or unknown attribute gives undefined
//    (with jinja2's hint, e.g. "'dict object' has no attribute 'a'");
//  - any access on undefined is an error (jinja2's UndefinedError);
//  - a Python method reached without a call (message.items, text.upper) is
//    an error: jinja2 would yield a bound method whose printed form is an
//    address, never a useful prompt.

#include <optional>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tokenizer/jinja/value.h"

namespace tandem::tokenizer::jinja {

absl::StatusOr<Value> GetAttr(const Value& obj, absl::string_view name);

absl::StatusOr<Value> GetItem(const Value& obj, const Value& key);

// obj[start:stop:step] for lists, tuples and strings (bounds are ints or
// None); undefined for other containers, as jinja2's getitem. Zero step is
// an error.
absl::StatusOr<Value> GetSlice(const Value& obj, const Value& start, const Value& stop,
                               const Value& step);

// jinja2's make_attrgetter: "a.b.0" looked up part by part with GetItem
// (digit parts as integers).
absl::StatusOr<Value> GetAttributePath(const Value& obj, absl::string_view path);

}  // namespace tandem::tokenizer::jinja

#endif  // TANDEM_TOKENIZER_JINJA_ACCESS_H_
