#include "tokenizer/jinja/call_args.h"

#include "absl/strings/str_cat.h"

namespace tandem::tokenizer::jinja {

absl::StatusOr<std::vector<Value>> BindArgs(const CallArgs& args,
                                            const std::vector<Param>& params,
                                            absl::string_view callee) {
  if (args.positional.size() > params.size()) {
    return absl::InvalidArgumentError(absl::StrCat(callee, "() takes at most ", params.size(),
                                                   " arguments (", args.positional.size(),
                                                   " given)"));
  }
  std::vector<std::optional<Value>> bound(params.size());
  for (size_t i = 0; i < args.positional.size(); ++i) bound[i] = args.positional[i];
  for (const auto& [name, value] : args.keyword) {
    size_t i = 0;
    while (i < params.size() && name != params[i].name) ++i;
    if (i == params.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat(callee, "() got an unexpected keyword argument '", name, "'"));
    }
    if (bound[i]) {
      return absl::InvalidArgumentError(
          absl::StrCat(callee, "() got multiple values for argument '", name, "'"));
    }
    bound[i] = value;
  }
  std::vector<Value> out;
  for (size_t i = 0; i < params.size(); ++i) {
    if (!bound[i]) bound[i] = params[i].default_value;
    if (!bound[i]) {
      return absl::InvalidArgumentError(absl::StrCat(
          callee, "() missing required argument '", params[i].name, "'"));
    }
    out.push_back(std::move(*bound[i]));
  }
  return out;
}

}  // namespace tandem::tokenizer::jinja
