#ifndef TANDEM_TESTS_CONFORMANCE_LLAMA_CPP_ORACLE_H_
#define TANDEM_TESTS_CONFORMANCE_LLAMA_CPP_ORACLE_H_

// llama.cpp (npm node-llama-cpp, CPU) as a numerics oracle for tests: runs
// tests/conformance/llama_cpp/llama_logits.mjs on a GGUF file. A test using
// it depends on :oracle (which carries the script and package.json as data).

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tandem::testing {

struct LlamaCppOracleRequest {
  std::string gguf_path;
  std::vector<int64_t> prompt_ids;  // Fed as token ids; no BOS is added.
  int n_greedy = 64;                // Greedy continuation length (0: none).
  bool all_positions = false;       // Logits after every prompt position, not just the last.
  int threads = 2;
  // llama.cpp's KV cache type: "F32" (default here; matches a float32
  // reference to ~1e-5 for Llama) or "F16" (llama.cpp's default, ~1e-3).
  std::string kv_type = "F32";
};

// Measured against an independent float64 NumPy forward of the same tiny
// weights: Llama max |diff| ~3e-6 with an F32 KV cache; GPT-2 ~3e-3 because
// ggml's CPU GELU uses a float16 lookup table.
struct LlamaCppOracleResult {
  int64_t n_vocab = 0;
  std::vector<int64_t> positions;          // Prompt indices the logits rows belong to.
  std::vector<std::vector<float>> logits;  // [positions.size()][n_vocab], raw.
  std::vector<int64_t> greedy_ids;         // n_greedy tokens after the prompt (argmax).
};

// Internal with node's exit status and stderr tail when llama.cpp fails
// (e.g. it rejects the GGUF); NotFound when the oracles are not installed.
absl::StatusOr<LlamaCppOracleResult> RunLlamaCppOracle(const LlamaCppOracleRequest& request);

// The script's JSON output -> result (exposed for tests of the parser).
absl::StatusOr<LlamaCppOracleResult> ParseLlamaCppOracleJson(const std::string& json);

}  // namespace tandem::testing

#endif  // TANDEM_TESTS_CONFORMANCE_LLAMA_CPP_ORACLE_H_
