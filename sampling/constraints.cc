#include "sampling/constraints.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "sampling/penalties.h"

namespace tandem::sampling {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

absl::Status CheckIdsInVocab(absl::Span<const int64_t> ids, int64_t vocab,
                             absl::string_view what) {
  for (int64_t id : ids) {
    if (id >= vocab) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, " contains token id ", id, ", outside the vocabulary [0, ",
          vocab, ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckNonNegative(absl::Span<const int64_t> ids,
                              absl::string_view what) {
  for (int64_t id : ids) {
    if (id < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " must be >= 0, got ", id));
    }
  }
  return absl::OkStatus();
}

void FillRow(at::Tensor& logits, int64_t row, absl::Span<const int64_t> ids,
             float value) {
  if (ids.empty()) return;
  at::Tensor index = at::empty({static_cast<int64_t>(ids.size())}, at::kLong);
  std::copy(ids.begin(), ids.end(), index.data_ptr<int64_t>());
  logits.select(0, row).index_fill_(0, index.to(logits.device()), value);
}

}  // namespace

absl::StatusOr<std::unique_ptr<NoRepeatNGramProcessor>>
NoRepeatNGramProcessor::Create(int64_t ngram_size) {
  if (ngram_size < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "no_repeat_ngram_size must be >= 1 (0 disables it), got ", ngram_size));
  }
  return std::unique_ptr<NoRepeatNGramProcessor>(
      new NoRepeatNGramProcessor(ngram_size));
}

std::vector<int64_t> NoRepeatNGramProcessor::BannedNextTokens(
    absl::Span<const int64_t> tokens, int64_t ngram_size) {
  std::vector<int64_t> banned;
  const int64_t len = static_cast<int64_t>(tokens.size());
  if (len + 1 < ngram_size) return banned;
  const int64_t prefix_len = ngram_size - 1;
  absl::Span<const int64_t> suffix = tokens.subspan(len - prefix_len);
  for (int64_t start = 0; start + ngram_size <= len; ++start) {
    if (std::equal(suffix.begin(), suffix.end(), tokens.begin() + start)) {
      banned.push_back(tokens[start + prefix_len]);
    }
  }
  std::sort(banned.begin(), banned.end());
  banned.erase(std::unique(banned.begin(), banned.end()), banned.end());
  return banned;
}

absl::Status NoRepeatNGramProcessor::Process(
    absl::Span<const TokenHistory> histories, at::Tensor& logits) const {
  if (absl::Status s = CheckLogitsShape(histories, logits); !s.ok()) return s;
  for (size_t r = 0; r < histories.size(); ++r) {
    std::vector<int64_t> banned = BannedNextTokens(histories[r].tokens, n_);
    if (absl::Status s = CheckIdsInVocab(banned, logits.size(1), "history");
        !s.ok()) {
      return s;
    }
    FillRow(logits, static_cast<int64_t>(r), banned, kNegInf);
  }
  return absl::OkStatus();
}

std::string NoRepeatNGramProcessor::Name() const {
  return absl::StrCat("no_repeat_ngram(", n_, ")");
}

absl::StatusOr<std::unique_ptr<MinNewTokensProcessor>>
MinNewTokensProcessor::Create(int64_t min_new_tokens,
                              std::vector<int64_t> eos_token_ids) {
  if (min_new_tokens < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "min_new_tokens must be >= 0, got ", min_new_tokens));
  }
  if (absl::Status s = CheckNonNegative(eos_token_ids, "eos_token_ids");
      !s.ok()) {
    return s;
  }
  return std::unique_ptr<MinNewTokensProcessor>(
      new MinNewTokensProcessor(min_new_tokens, std::move(eos_token_ids)));
}

absl::Status MinNewTokensProcessor::Process(
    absl::Span<const TokenHistory> histories, at::Tensor& logits) const {
  if (absl::Status s = CheckLogitsShape(histories, logits); !s.ok()) return s;
  if (absl::Status s =
          CheckIdsInVocab(eos_token_ids_, logits.size(1), "eos_token_ids");
      !s.ok()) {
    return s;
  }
  for (size_t r = 0; r < histories.size(); ++r) {
    if (histories[r].num_generated() < min_new_tokens_) {
      FillRow(logits, static_cast<int64_t>(r), eos_token_ids_, kNegInf);
    }
  }
  return absl::OkStatus();
}

std::string MinNewTokensProcessor::Name() const {
  return absl::StrCat("min_new_tokens(", min_new_tokens_, ")");
}

absl::StatusOr<std::unique_ptr<BannedTokensProcessor>>
BannedTokensProcessor::Create(std::vector<int64_t> token_ids) {
  if (absl::Status s = CheckNonNegative(token_ids, "banned_token_ids");
      !s.ok()) {
    return s;
  }
  return std::unique_ptr<BannedTokensProcessor>(
      new BannedTokensProcessor(std::move(token_ids)));
}

absl::Status BannedTokensProcessor::Process(
    absl::Span<const TokenHistory> histories, at::Tensor& logits) const {
  if (absl::Status s = CheckLogitsShape(histories, logits); !s.ok()) return s;
  if (absl::Status s =
          CheckIdsInVocab(token_ids_, logits.size(1), "banned_token_ids");
      !s.ok()) {
    return s;
  }
  if (token_ids_.empty()) return absl::OkStatus();
  at::Tensor index =
      at::empty({static_cast<int64_t>(token_ids_.size())}, at::kLong);
  std::copy(token_ids_.begin(), token_ids_.end(), index.data_ptr<int64_t>());
  logits.index_fill_(1, index.to(logits.device()), kNegInf);
  return absl::OkStatus();
}

std::string BannedTokensProcessor::Name() const {
  return absl::StrCat("banned_tokens(", token_ids_.size(), ")");
}

absl::StatusOr<std::unique_ptr<LogitBiasProcessor>> LogitBiasProcessor::Create(
    std::vector<TokenBias> biases) {
  for (const TokenBias& b : biases) {
    if (b.token_id < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "logit_bias token_id must be >= 0, got ", b.token_id));
    }
    if (!(b.bias >= -100.0 && b.bias <= 100.0)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "logit_bias bias must be in [-100, 100], got ", b.bias,
          " for token ", b.token_id));
    }
  }
  return std::unique_ptr<LogitBiasProcessor>(
      new LogitBiasProcessor(std::move(biases)));
}

absl::Status LogitBiasProcessor::Process(
    absl::Span<const TokenHistory> histories, at::Tensor& logits) const {
  if (absl::Status s = CheckLogitsShape(histories, logits); !s.ok()) return s;
  if (biases_.empty()) return absl::OkStatus();
  const int64_t vocab = logits.size(1);
  at::Tensor bias = at::zeros({vocab}, at::kFloat);
  float* data = bias.data_ptr<float>();
  for (const TokenBias& b : biases_) {
    if (b.token_id >= vocab) {
      return absl::InvalidArgumentError(absl::StrCat(
          "logit_bias contains token id ", b.token_id,
          ", outside the vocabulary [0, ", vocab, ")"));
    }
    data[b.token_id] += static_cast<float>(b.bias);
  }
  logits.add_(bias.to(logits.device()).unsqueeze(0));
  return absl::OkStatus();
}

std::string LogitBiasProcessor::Name() const {
  return absl::StrCat("logit_bias(", biases_.size(), ")");
}

}  // namespace tandem::sampling
