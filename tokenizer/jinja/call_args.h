#ifndef TANDEM_TOKENIZER_JINJA_CALL_ARGS_H_
#define TANDEM_TOKENIZER_JINJA_CALL_ARGS_H_

// Evaluated arguments of a filter, test, method or function call, and
// binding them to a Python-style signature.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tokenizer/jinja/value.h"

namespace tandem::tokenizer::jinja {

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

// One parameter: its name and its default (absent = required).
struct Param {
  const char* name;
  std::optional<Value> default_value;
};

// Binds `args` to `params` as Python would (positionally, then by keyword),
// one value per parameter. InvalidArgument naming `callee` for missing,
// duplicate, unknown or surplus arguments.
absl::StatusOr<std::vector<Value>> BindArgs(const CallArgs& args,
                                            const std::vector<Param>& params,
                                            absl::string_view callee);

}  // namespace tandem::tokenizer::jinja

#endif  // TANDEM_TOKENIZER_JINJA_CALL_ARGS_H_
