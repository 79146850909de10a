#include "tests/conformance/llama_cpp/oracle.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "tests/testing/oracles.h"

namespace tandem::testing {

absl::StatusOr<LlamaCppOracleResult> ParseLlamaCppOracleJson(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InternalError(absl::StrCat("llama_logits.mjs printed invalid JSON: ",
                                            text.substr(0, 200)));
  }
  LlamaCppOracleResult r;
  try {
    r.n_vocab = j.at("n_vocab").get<int64_t>();
    r.positions = j.at("positions").get<std::vector<int64_t>>();
    r.greedy_ids = j.at("greedy").get<std::vector<int64_t>>();
    for (const nlohmann::json& row : j.at("logits")) {
      r.logits.push_back(row.get<std::vector<float>>());
      if (static_cast<int64_t>(r.logits.back().size()) != r.n_vocab) {
        return absl::InternalError(absl::StrCat("logits row of ", r.logits.back().size(),
                                                " values, n_vocab is ", r.n_vocab));
      }
    }
  } catch (const nlohmann::json::exception& e) {
    return absl::InternalError(absl::StrCat("unexpected llama_logits.mjs output: ", e.what()));
  }
  if (r.logits.size() != r.positions.size()) {
    return absl::InternalError("llama_logits.mjs: positions and logits differ in length");
  }
  return r;
}

absl::StatusOr<LlamaCppOracleResult> RunLlamaCppOracle(const LlamaCppOracleRequest& request) {
  absl::StatusOr<std::string> script = RunfilePath("tests/conformance/llama_cpp/llama_logits.mjs");
  if (!script.ok()) return script.status();
  absl::StatusOr<std::string> node_modules = OraclesDir();
  if (!node_modules.ok()) return node_modules.status();
  std::vector<std::string> args = {
      "--node_modules", *node_modules, "--model", request.gguf_path,
      "--tokens", absl::StrJoin(request.prompt_ids, ","),
      "--greedy", absl::StrCat(request.n_greedy), "--threads", absl::StrCat(request.threads),
      "--kv_type", request.kv_type};
  if (request.all_positions) args.push_back("--all_positions");
  absl::StatusOr<std::string> out = RunNode(*script, args);
  if (!out.ok()) return out.status();
  return ParseLlamaCppOracleJson(*out);
}

}  // namespace tandem::testing
