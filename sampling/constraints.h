#ifndef TANDEM_SAMPLING_CONSTRAINTS_H_
#define TANDEM_SAMPLING_CONSTRAINTS_H_

// Processors that forbid or bias specific tokens.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sampling/logits_processor.h"

namespace tandem::sampling {

// Forbids any token that would complete an n-gram (n = ngram_size) already
// present in prompt + generated tokens (Hugging Face semantics). ngram_size >= 1.
class NoRepeatNGramProcessor : public LogitsProcessor {
 public:
  static absl::StatusOr<std::unique_ptr<NoRepeatNGramProcessor>> Create(
      int64_t ngram_size);
  absl::Status Process(absl::Span<const TokenHistory> histories,
                       at::Tensor& logits) const override;
  std::string Name() const override;
  bool DependsOnHistory() const override { return true; }

  // The tokens banned after `tokens` (exposed for tests and the explorer).
  static std::vector<int64_t> BannedNextTokens(absl::Span<const int64_t> tokens,
                                               int64_t ngram_size);

 private:
  explicit NoRepeatNGramProcessor(int64_t n) : n_(n) {}
  int64_t n_;
};

// Forbids the end-of-sequence tokens while fewer than min_new_tokens tokens
// have been generated. min_new_tokens >= 0; eos ids >= 0.
class MinNewTokensProcessor : public LogitsProcessor {
 public:
  static absl::StatusOr<std::unique_ptr<MinNewTokensProcessor>> Create(
      int64_t min_new_tokens, std::vector<int64_t> eos_token_ids);
  absl::Status Process(absl::Span<const TokenHistory> histories,
                       at::Tensor& logits) const override;
  std::string Name() const override;
  bool DependsOnHistory() const override { return true; }

 private:
  MinNewTokensProcessor(int64_t n, std::vector<int64_t> eos)
      : min_new_tokens_(n), eos_token_ids_(std::move(eos)) {}
  int64_t min_new_tokens_;
  std::vector<int64_t> eos_token_ids_;
};

// Forbids a fixed set of token ids. Ids must be >= 0; an id outside the
// vocabulary of the logits is an error at Process time.
class BannedTokensProcessor : public LogitsProcessor {
 public:
  static absl::StatusOr<std::unique_ptr<BannedTokensProcessor>> Create(
      std::vector<int64_t> token_ids);
  absl::Status Process(absl::Span<const TokenHistory> histories,
                       at::Tensor& logits) const override;
  std::string Name() const override;

 private:
  explicit BannedTokensProcessor(std::vector<int64_t> ids)
      : token_ids_(std::move(ids)) {}
  std::vector<int64_t> token_ids_;
};

struct TokenBias {
  int64_t token_id = 0;
  double bias = 0.0;  // in [-100, 100], added to the token's logit.
};

// Adds a per-token bias (OpenAI logit_bias semantics). Duplicate ids add up.
class LogitBiasProcessor : public LogitsProcessor {
 public:
  static absl::StatusOr<std::unique_ptr<LogitBiasProcessor>> Create(
      std::vector<TokenBias> biases);
  absl::Status Process(absl::Span<const TokenHistory> histories,
                       at::Tensor& logits) const override;
  std::string Name() const override;

 private:
  explicit LogitBiasProcessor(std::vector<TokenBias> b)
      : biases_(std::move(b)) {}
  std::vector<TokenBias> biases_;
};

}  // namespace tandem::sampling

#endif  // TANDEM_SAMPLING_CONSTRAINTS_H_
