#ifndef TANDEM_TOKENIZER_JINJA_METHODS_H_
#define TANDEM_TOKENIZER_JINJA_METHODS_H_

// Python methods called from templates: str.strip/lstrip/rstrip/split/
// startswith/endswith/replace/upper/lower/title/capitalize/join/find/count
// and dict.get/items/keys/values, with CPython's results (items/keys/values
// are views: iterable, len(), not printable). Calling a method the object
// does not have is jinja2's error for calling undefined.

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tokenizer/jinja/call_args.h"
#include "tokenizer/jinja/value.h"

namespace tandem::tokenizer::jinja {

// InvalidArgument for wrong arguments (Python's TypeError/ValueError) and
// for methods `obj` does not have.
absl::StatusOr<Value> CallMethod(const Value& obj, absl::string_view name,
                                 const CallArgs& args);

}  // namespace tandem::tokenizer::jinja

#endif  // TANDEM_TOKENIZER_JINJA_METHODS_H_
