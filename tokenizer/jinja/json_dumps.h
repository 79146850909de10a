#ifndef TANDEM_TOKENIZER_JINJA_JSON_DUMPS_H_
#define TANDEM_TOKENIZER_JINJA_JSON_DUMPS_H_

// Python's json.dumps over template values, as Hugging Face's `tojson`
// filter calls it: json.dumps(x, ensure_ascii=False, indent=indent,
// separators=separators, sort_keys=sort_keys). Byte-identical to CPython:
// separators default to (", ", ": ") without indent and (",", ": ") with it;
// floats use repr (NaN, Infinity); dict keys that are numbers, bools or None
// become strings as Python converts them.

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "tokenizer/jinja/value.h"

namespace tandem::tokenizer::jinja {

struct JsonDumpsOptions {
  bool ensure_ascii = false;
  // Newline + this string per level; absent = one line.
  std::optional<std::string> indent;
  std::optional<std::string> item_separator;
  std::optional<std::string> key_separator;
  bool sort_keys = false;
};

// InvalidArgument for undefined, namespaces and generators ("Object of type
// X is not JSON serializable") and for sort_keys over mixed key types.
absl::StatusOr<std::string> JsonDumps(const Value& v, const JsonDumpsOptions& options);

}  // namespace tandem::tokenizer::jinja

#endif  // TANDEM_TOKENIZER_JINJA_JSON_DUMPS_H_
