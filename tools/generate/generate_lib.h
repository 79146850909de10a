#ifndef TANDEM_TOOLS_GENERATE_GENERATE_LIB_H_
#define TANDEM_TOOLS_GENERATE_GENERATE_LIB_H_

// The logic of the `generate` CLI (main.cc only parses flags): load a model
// and its tokenizer, then sample, decode greedily or beam-search from a
// prompt, streaming text as it is produced.

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tokenizer/tokenizer.h"

// Forward declarations keep ATen out of main.cc and the tests.
namespace tandem::model {
class Model;
}  // namespace tandem::model
namespace tandem::sampling {
struct SamplingParams;
}  // namespace tandem::sampling

namespace tandem::tools {

struct ModelLoadOptions {
  std::string model_path;      // Hugging Face directory or .gguf file.
  std::string tokenizer_path;  // Empty: model_path.
  std::string device = "cpu";  // "cpu" or "cuda".
  std::string dtype = "float32";  // "float32", "bfloat16" or "float16".
  int threads = 0;             // Intra-op threads; 0 = LibTorch's default.
  // KV positions allocated per sequence; 0 = min(context length, 4096).
  int64_t max_context = 0;
};

// Sampling flags before the preset is applied: unset fields keep the preset's
// value (or SamplingParams' default: temperature 1, no truncation).
struct SamplingFlags {
  std::string preset;  // Empty: none.
  std::optional<double> temperature;
  std::optional<int64_t> top_k;
  std::optional<double> top_p;
  std::optional<double> min_p;
  std::optional<double> repetition_penalty;
};

struct GenerateOptions {
  std::string prompt;                 // Exactly one of prompt / prompt_tokens.
  std::vector<int64_t> prompt_tokens;
  int64_t max_new_tokens = 64;        // >= 1.
  SamplingFlags sampling;
  int num_samples = 1;                // >= 1; sample i uses seed + i.
  uint64_t seed = 0;
  int num_beams = 1;                  // > 1: beam search (num_samples must be 1).
  double length_penalty = 1.0;
  int num_return_sequences = 1;       // In [1, num_beams].
};

struct GeneratedSequence {
  std::vector<int64_t> tokens;  // Generated tokens, EOS included when reached.
  std::string text;             // Their decoded text (special tokens skipped).
  bool finished_on_eos = false;
  double score = 0.0;           // Beam search: the length-penalised score.
  uint64_t seed = 0;            // Sampling: the seed it was drawn with.
  double seconds = 0.0;         // Wall time (sampling: prefill + decode).
};

struct GenerateResult {
  std::vector<int64_t> prompt_tokens;
  std::vector<GeneratedSequence> sequences;
};

// Checks the options' ranges that do not depend on the model, the sampling
// flags included (preset name, temperature, top_k, ...); InvalidArgument
// naming the flag and its allowed range.
absl::Status ValidateGenerateOptions(const GenerateOptions& options);

// A seed from the operating system, for runs that set none.
uint64_t RandomSeed();

// "1,2,3" -> ids. InvalidArgument naming --prompt_tokens on bad input.
absl::StatusOr<std::vector<int64_t>> ParseTokenList(const std::string& text);

// A loaded model and tokenizer. Not thread-safe.
class TextGenerator {
 public:
  // InvalidArgument for a bad device/dtype/threads value; loader errors
  // (NotFound, InvalidArgument, ...) for the model or tokenizer files;
  // FailedPrecondition for cuda without a CUDA build.
  static absl::StatusOr<std::unique_ptr<TextGenerator>> Load(const ModelLoadOptions& options);

  // Runs `options`. When `text_out` is set, the prompt and each sample's text
  // are written to it as they are produced, one line-terminated block per
  // sample (headed "--- sample i (seed s) ---" when num_samples > 1; beam
  // search: "--- beam i (score x) ---" blocks at the end); `stats_out` gets
  // one stats line per sequence, after its text. Stops each sequence at EOS (the tokenizer's and the model's
  // EOS ids), max_new_tokens or the end of the context.
  absl::StatusOr<GenerateResult> Run(const GenerateOptions& options, std::ostream* text_out,
                                     std::ostream* stats_out);

  ~TextGenerator();

  const model::Model& model() const { return *model_; }
  // Model sequences currently holding a KV cache (0 between runs).
  int64_t num_open_sequences() const;
  const tokenizer::Tokenizer& tokenizer() const { return *tokenizer_; }
  const std::vector<int64_t>& eos_token_ids() const { return eos_ids_; }

 private:
  TextGenerator(std::unique_ptr<model::Model> model,
                std::unique_ptr<tokenizer::Tokenizer> tokenizer);

  // The sampling flags resolved for this model (its EOS ids, its vocabulary).
  absl::StatusOr<sampling::SamplingParams> ModelSamplingParams(
      const GenerateOptions& options) const;
  absl::StatusOr<std::vector<int64_t>> PromptIds(const GenerateOptions& options) const;
  absl::StatusOr<GeneratedSequence> Sample(const sampling::SamplingParams& params,
                                           const std::vector<int64_t>& prompt,
                                           int64_t max_new_tokens, uint64_t seed,
                                           std::ostream* text_out);
  absl::StatusOr<std::vector<GeneratedSequence>> BeamSearch(
      const GenerateOptions& options, const sampling::SamplingParams& params,
      const std::vector<int64_t>& prompt, int64_t max_new_tokens);
  // The prompt's text and `tokens`' text as the stream decoder renders them.
  absl::StatusOr<std::pair<std::string, std::string>> DecodeAfterPrompt(
      const std::vector<int64_t>& prompt, const std::vector<int64_t>& tokens) const;

  std::unique_ptr<model::Model> model_;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer_;
  std::vector<int64_t> eos_ids_;
  uint64_t next_sequence_ = 1;  // model::SequenceId
};

}  // namespace tandem::tools

#endif  // TANDEM_TOOLS_GENERATE_GENERATE_LIB_H_
