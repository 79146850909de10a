#include "decoding/engine_session.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace tandem::decoding {

absl::Status EngineSession::ApplySync(const SequenceSync& sync) {
  if (sync.base_length < 0 ||
      sync.base_length > static_cast<int64_t>(committed.size())) {
    return absl::FailedPreconditionError(absl::StrCat(
        "sync base_length ", sync.base_length, " is past the session's ",
        committed.size(), " committed tokens"));
  }
  if (sync.base_length < prompt_length) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sync base_length ", sync.base_length, " would cut into the prompt (",
        prompt_length, " tokens)"));
  }
  committed.resize(sync.base_length);
  committed.insert(committed.end(), sync.append.begin(), sync.append.end());
  if (committed.empty()) {
    return absl::InvalidArgumentError("a session needs at least one token");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<int64_t>> EngineSession::CatchUp(
    model::Model& model) {
  const int64_t target = static_cast<int64_t>(committed.size()) - 1;
  int64_t common = 0;
  const int64_t limit = std::min<int64_t>(cached.size(), target);
  while (common < limit && cached[common] == committed[common]) ++common;
  if (common < model.Length(sequence)) {
    if (absl::Status s = model.Truncate(sequence, common); !s.ok()) return s;
  }
  cached.resize(common);
  return std::vector<int64_t>(committed.begin() + common,
                              committed.begin() + target);
}

std::vector<int64_t> EngineSession::History(
    const std::vector<int64_t>& extra) const {
  std::vector<int64_t> h = committed;
  h.insert(h.end(), extra.begin(), extra.end());
  return h;
}

absl::StatusOr<std::unique_ptr<EngineSession>> NewEngineSession(
    const model::ModelInfo& info, model::SequenceId sequence,
    std::vector<int64_t> prompt, const SessionOptions& options) {
  if (prompt.empty()) {
    return absl::InvalidArgumentError("`prompt` must not be empty");
  }
  if (static_cast<int64_t>(prompt.size()) >= info.context_length) {
    return absl::InvalidArgumentError(absl::StrCat(
        "`prompt` has ", prompt.size(), " tokens; the context length is ",
        info.context_length, " and at least one token must be generated"));
  }
  for (int64_t t : prompt) {
    if (t < 0 || t >= info.vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "`prompt` contains token id ", t, "; ids must be in [0, ",
          info.vocab_size, ")"));
    }
  }
  if (absl::Status s =
          sampling::ValidateSamplingParams(options.params, info.vocab_size);
      !s.ok()) {
    return s;
  }
  if (options.top_logprobs < 0 || options.top_logprobs > 64) {
    return absl::InvalidArgumentError(absl::StrCat(
        "`top_logprobs` must be in [0, 64], got ", options.top_logprobs));
  }
  if (options.distribution_top_n < 0 || options.distribution_top_n > kMaxDistributionTopN) {
    return absl::InvalidArgumentError(absl::StrCat("`distribution_top_n` must be in [0, ",
                                                   kMaxDistributionTopN, "], got ",
                                                   options.distribution_top_n));
  }
  auto selector = sampling::TokenSelector::Create(options.params);
  if (!selector.ok()) return selector.status();
  auto session = std::make_unique<EngineSession>();
  session->sequence = sequence;
  session->prompt_length = static_cast<int64_t>(prompt.size());
  session->committed = std::move(prompt);
  session->selector = *std::move(selector);
  session->rng = std::make_unique<sampling::Rng>(options.seed);
  session->top_logprobs = options.top_logprobs;
  session->distribution_top_n = options.distribution_top_n;
  return session;
}

}  // namespace tandem::decoding
