#ifndef TANDEM_SAMPLING_SAMPLING_PARAMS_H_
#define TANDEM_SAMPLING_SAMPLING_PARAMS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "sampling/constraints.h"
#include "sampling/logits_processor.h"

namespace tandem::sampling {

// Everything that decides how the next token is chosen. Defaults are the
// identity: plain sampling at temperature 1 from the model's distribution.
struct SamplingParams {
  double temperature = 1.0;   // >= 0; 0 selects greedy (argmax).
  int64_t top_k = 0;          // >= 0; 0 disables.
  double top_p = 1.0;         // (0, 1]; 1 disables.
  double min_p = 0.0;         // [0, 1]; 0 disables.
  double typical_p = 1.0;     // (0, 1]; 1 disables.
  double repetition_penalty = 1.0;  // > 0; 1 disables.
  double presence_penalty = 0.0;    // [-2, 2].
  double frequency_penalty = 0.0;   // [-2, 2].
  int64_t no_repeat_ngram_size = 0;  // >= 0; 0 disables.
  int64_t min_new_tokens = 0;        // >= 0; EOS is suppressed until reached.
  std::vector<int64_t> eos_token_ids;
  std::vector<int64_t> banned_token_ids;
  std::vector<TokenBias> logit_bias;
  // Per-request RNG seed; unset means "draw one from the OS".
  std::optional<uint64_t> seed;

  bool greedy() const { return temperature == 0.0; }
};

enum class Preset {
  kCreative,       // T 1.2, top-p 0.95, top-k 100, repetition 1.1
  kPrecise,        // T 0.3, top-p 0.9, top-k 20, repetition 1.05
  kBalanced,       // T 0.7, top-p 0.9, top-k 50
  kDeterministic,  // greedy
};

// Accepts "creative", "precise", "balanced", "deterministic" (any case).
absl::StatusOr<Preset> ParsePreset(absl::string_view name);
absl::string_view PresetName(Preset preset);
SamplingParams PresetParams(Preset preset);

// Checks every field against its range. vocab_size > 0 also checks that token
// ids (eos, banned, logit bias) are inside [0, vocab_size); pass 0 when the
// vocabulary is not known yet. Errors name the field and the allowed range.
absl::Status ValidateSamplingParams(const SamplingParams& params,
                                    int64_t vocab_size);

// The processor chain for `params`, in Hugging Face's order: logit bias,
// banned tokens, min_new_tokens, no-repeat-n-gram, repetition penalty,
// presence/frequency penalties, then (unless greedy) temperature, top-k,
// top-p, min-p, typical-p. Disabled stages are left out. For greedy params the
// warpers are omitted: they never change the argmax.
absl::StatusOr<std::unique_ptr<LogitsProcessorChain>> BuildProcessorChain(
    const SamplingParams& params);

}  // namespace tandem::sampling

#endif  // TANDEM_SAMPLING_SAMPLING_PARAMS_H_
