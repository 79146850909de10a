#include "sampling/penalties.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace tandem::sampling {

absl::StatusOr<at::Tensor> TokensToTensor(absl::Span<const int64_t> tokens,
                                          int64_t vocab_size,
                                          const at::Device& device) {
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] < 0 || tokens[i] >= vocab_size) {
      return absl::InvalidArgumentError(
          absl::StrCat("history token at position ", i, " is ", tokens[i],
                       ", outside the vocabulary [0, ", vocab_size, ")"));
    }
  }
  at::Tensor cpu = at::empty({static_cast<int64_t>(tokens.size())}, at::kLong);
  std::copy(tokens.begin(), tokens.end(), cpu.data_ptr<int64_t>());
  return device.is_cpu() ? cpu : cpu.to(device);
}

absl::StatusOr<std::unique_ptr<RepetitionPenaltyProcessor>>
RepetitionPenaltyProcessor::Create(double penalty) {
  if (!std::isfinite(penalty) || penalty <= 0.0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "repetition_penalty must be finite and > 0 (1 disables it), got ",
        penalty));
  }
  return std::unique_ptr<RepetitionPenaltyProcessor>(
      new RepetitionPenaltyProcessor(penalty));
}

absl::Status RepetitionPenaltyProcessor::Process(
    absl::Span<const TokenHistory> histories, at::Tensor& logits) const {
  if (absl::Status s = CheckLogitsShape(histories, logits); !s.ok()) return s;
  if (penalty_ == 1.0) return absl::OkStatus();
  for (size_t r = 0; r < histories.size(); ++r) {
    if (histories[r].tokens.empty()) continue;
    absl::StatusOr<at::Tensor> ids =
        TokensToTensor(histories[r].tokens, logits.size(1), logits.device());
    if (!ids.ok()) return ids.status();
    at::Tensor row = logits.select(0, static_cast<int64_t>(r));
    at::Tensor seen = row.index_select(0, *ids);
    // Duplicated ids scatter the same penalized value, so each token is
    // penalized once however often it occurred.
    row.index_put_({*ids},
                   at::where(seen > 0, seen / penalty_, seen * penalty_));
  }
  return absl::OkStatus();
}

std::string RepetitionPenaltyProcessor::Name() const {
  return absl::StrCat("repetition_penalty(", penalty_, ")");
}

absl::StatusOr<std::unique_ptr<PresenceFrequencyPenaltyProcessor>>
PresenceFrequencyPenaltyProcessor::Create(double presence_penalty,
                                          double frequency_penalty) {
  if (!(presence_penalty >= -2.0 && presence_penalty <= 2.0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "presence_penalty must be >= -2 and <= 2, got ", presence_penalty));
  }
  if (!(frequency_penalty >= -2.0 && frequency_penalty <= 2.0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "frequency_penalty must be >= -2 and <= 2, got ", frequency_penalty));
  }
  return std::unique_ptr<PresenceFrequencyPenaltyProcessor>(
      new PresenceFrequencyPenaltyProcessor(presence_penalty,
                                            frequency_penalty));
}

absl::Status PresenceFrequencyPenaltyProcessor::Process(
    absl::Span<const TokenHistory> histories, at::Tensor& logits) const {
  if (absl::Status s = CheckLogitsShape(histories, logits); !s.ok()) return s;
  if (presence_ == 0.0 && frequency_ == 0.0) return absl::OkStatus();
  const int64_t vocab = logits.size(1);
  for (size_t r = 0; r < histories.size(); ++r) {
    absl::Span<const int64_t> generated = histories[r].generated();
    if (generated.empty()) continue;
    absl::StatusOr<at::Tensor> ids =
        TokensToTensor(generated, vocab, logits.device());
    if (!ids.ok()) return ids.status();
    at::Tensor counts = at::bincount(*ids, /*weights=*/{}, vocab)
                            .to(at::kFloat);
    at::Tensor row = logits.select(0, static_cast<int64_t>(r));
    row.sub_(counts * frequency_ + (counts > 0).to(at::kFloat) * presence_);
  }
  return absl::OkStatus();
}

std::string PresenceFrequencyPenaltyProcessor::Name() const {
  return absl::StrCat("presence_frequency_penalty(", presence_, ", ",
                      frequency_, ")");
}

}  // namespace tandem::sampling
