#ifndef TANDEM_TOKENIZER_JINJA_FILTERS_H_
#define TANDEM_TOKENIZER_JINJA_FILTERS_H_

// jinja2's built-in filters that chat templates use (builtins.h lists
// them), with jinja2 3.1's behaviour: string filters print their input with
// Python's str() first (undefined prints as ""); select/reject/selectattr/
// rejectattr/map/items/unique/reverse return generators; sort and unique
// ignore case unless case_sensitive=true; `tojson` is Hugging Face's
// override, json.dumps(x, ensure_ascii=False, indent, separators, sort_keys).

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tokenizer/jinja/call_args.h"
#include "tokenizer/jinja/value.h"

namespace tandem::tokenizer::jinja {

// `name` is one of IsFilter()'s names. InvalidArgument for bad arguments
// and the errors the filter's Python code would raise.
absl::StatusOr<Value> ApplyFilter(absl::string_view name, const Value& value,
                                  const CallArgs& args);

}  // namespace tandem::tokenizer::jinja

#endif  // TANDEM_TOKENIZER_JINJA_FILTERS_H_
