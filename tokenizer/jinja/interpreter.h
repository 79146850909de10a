#ifndef TANDEM_TOKENIZER_JINJA_INTERPRETER_H_
#define TANDEM_TOKENIZER_JINJA_INTERPRETER_H_

// Renders a parsed template with jinja2's semantics: printed values use
// Python's str(); undefined prints as "" and fails on arithmetic, attribute
// access and calls; `and`/`or` return an operand; comparisons chain; each
// for-loop iteration has its own scope (a `set` inside a loop is not seen
// after it or in the next iteration, as in jinja2), while `if` has none;
// namespace attributes are shared. Globals: range, namespace, dict, and Hugging
// Face's raise_exception(msg) and strftime_now(format).

#include <cstddef>
#include <ctime>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/value.h"

namespace tandem::tokenizer::jinja {

struct RenderSettings {
  // strftime_now formats this instant in the local time zone (as Python's
  // datetime.now().strftime does).
  std::time_t now = 0;
  // Output (and any string built) larger than this fails with ResourceExhausted.
  size_t max_output_bytes = size_t{16} << 20;
  // range() longer than this fails with ResourceExhausted.
  int64_t max_range = 1 << 20;
};

// The status payload key marking an error raised by raise_exception(); its
// message is then exactly the template's message.
inline constexpr absl::string_view kRaiseExceptionPayload = "tandem.jinja.raise_exception";

// Renders `body` with `variables` as the template's context.
// InvalidArgument "chat template line N: ..." for runtime errors (Python's
// TypeError, jinja2's UndefinedError...), InvalidArgument with exactly the
// message for raise_exception(message), ResourceExhausted past the limits.
absl::StatusOr<std::string> Render(const Body& body, const std::map<std::string, Value>& variables,
                                   const RenderSettings& settings);

}  // namespace tandem::tokenizer::jinja

#endif  // TANDEM_TOKENIZER_JINJA_INTERPRETER_H_
