#ifndef TANDEM_SAMPLING_PENALTIES_H_
#define TANDEM_SAMPLING_PENALTIES_H_

// History-dependent penalties on tokens that already occurred.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "sampling/logits_processor.h"

namespace tandem::sampling {

// Hugging Face / CTRL repetition penalty over prompt + generated tokens: for
// every token seen, a positive logit is divided by `penalty` and a negative
// one multiplied by it. penalty must be finite and > 0 (1 is a no-op).
class RepetitionPenaltyProcessor : public LogitsProcessor {
 public:
  static absl::StatusOr<std::unique_ptr<RepetitionPenaltyProcessor>> Create(
      double penalty);
  absl::Status Process(absl::Span<const TokenHistory> histories,
                       at::Tensor& logits) const override;
  std::string Name() const override;
  bool DependsOnHistory() const override { return true; }

 private:
  explicit RepetitionPenaltyProcessor(double p) : penalty_(p) {}
  double penalty_;
};

// OpenAI-style additive penalties over GENERATED tokens only (not the prompt):
// logit -= frequency_penalty * count(token) + presence_penalty * [count > 0].
// Both must lie in [-2, 2].
class PresenceFrequencyPenaltyProcessor : public LogitsProcessor {
 public:
  static absl::StatusOr<std::unique_ptr<PresenceFrequencyPenaltyProcessor>>
  Create(double presence_penalty, double frequency_penalty);
  absl::Status Process(absl::Span<const TokenHistory> histories,
                       at::Tensor& logits) const override;
  std::string Name() const override;
  bool DependsOnHistory() const override { return true; }

 private:
  PresenceFrequencyPenaltyProcessor(double presence, double frequency)
      : presence_(presence), frequency_(frequency) {}
  double presence_;
  double frequency_;
};

// Copies `tokens` to a 1-D int64 tensor on `device`, after checking every id
// lies in [0, vocab_size). Shared by the history-dependent processors.
absl::StatusOr<at::Tensor> TokensToTensor(absl::Span<const int64_t> tokens,
                                          int64_t vocab_size,
                                          const at::Device& device);

}  // namespace tandem::sampling

#endif  // TANDEM_SAMPLING_PENALTIES_H_
