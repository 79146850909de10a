#include "decoding/generator.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "decoding/draft_length_policy.h"
#include "decoding/ngram_drafter.h"

namespace tandem::decoding {

const char* FinishReasonName(FinishReason reason) {
  switch (reason) {
    case FinishReason::kEos: return "eos";
    case FinishReason::kStopString: return "stop_string";
    case FinishReason::kLength: return "length";
    case FinishReason::kMaxTime: return "max_time";
    case FinishReason::kCancelled: return "cancelled";
  }
  return "unknown";
}

namespace {

// Tracks how far a stateful backend session has seen the committed tokens.
struct SyncPoint {
  int64_t known = 0;
  SequenceSync Next(const std::vector<int64_t>& committed) {
    SequenceSync sync{known, {committed.begin() + known, committed.end()}};
    known = static_cast<int64_t>(committed.size());
    return sync;
  }
};

class SessionCloser {
 public:
  ~SessionCloser() {
    for (auto& close : closers_) close();
  }
  void Add(std::function<void()> close) { closers_.push_back(std::move(close)); }

 private:
  std::vector<std::function<void()>> closers_;
};

}  // namespace

absl::StatusOr<GenerationResult> Generate(const GenerateRequest& request,
                                          TargetBackend& target,
                                          DraftBackend* draft,
                                          const TokenCallback& on_tokens) {
  const absl::Time start = absl::Now();
  const SpeculationOptions& spec = request.speculation;
  if (request.stop.max_new_tokens < 1) {
    return absl::InvalidArgumentError("`max_new_tokens` must be >= 1");
  }
  if (spec.mode == SpeculationMode::kDraftModel && draft == nullptr) {
    return absl::FailedPreconditionError(
        "speculation mode DRAFT_MODEL needs a draft service");
  }
  SessionCloser closer;
  absl::StatusOr<SessionId> target_session = target.Open(request.prompt, request.session);
  if (!target_session.ok()) return target_session.status();
  closer.Add([&target, id = *target_session] { target.Close(id); });
  SpeculationMode mode = spec.mode;
  SessionId draft_session = 0;
  GenerationResult result;
  if (mode == SpeculationMode::kDraftModel) {
    absl::StatusOr<SessionId> d = draft->Open(request.prompt, request.session);
    if (d.ok()) {
      draft_session = *d;
      closer.Add([draft, id = *d] { draft->Close(id); });
    } else {
      mode = SpeculationMode::kOff;
      result.stats.fell_back_to_target_only = true;
    }
  }
  const int64_t context = target.Info().context_length;
  std::vector<int64_t> committed = request.prompt;
  SyncPoint target_sync{static_cast<int64_t>(committed.size())};
  SyncPoint draft_sync{static_cast<int64_t>(committed.size())};
  DraftLengthPolicy policy(mode == SpeculationMode::kOff ? 0 : spec.draft_length,
                           spec.max_draft_length, spec.adaptive);
  SpeculationStats& stats = result.stats;
  const auto is_eos = [&](int64_t t) {
    const auto& eos = request.stop.eos_token_ids;
    return std::find(eos.begin(), eos.end(), t) != eos.end();
  };
  while (true) {
    const int64_t generated = static_cast<int64_t>(result.tokens.size());
    const int64_t budget = std::min(request.stop.max_new_tokens - generated,
                                    context - static_cast<int64_t>(committed.size()));
    if (budget <= 0) {
      result.finish = FinishReason::kLength;
      break;
    }
    if (absl::Now() - start >= request.stop.max_time) {
      result.finish = FinishReason::kMaxTime;
      break;
    }
    int gamma = mode == SpeculationMode::kOff ? 0 : policy.Next();
    // The verify pass emits up to γ+1 tokens and must fit the context.
    gamma = static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(gamma, budget - 1)));
    Draft proposal;
    const absl::Time draft_start = absl::Now();
    absl::Duration server_time;
    if (gamma > 0 && mode == SpeculationMode::kDraftModel) {
      absl::StatusOr<TimedDraft> d =
          draft->Propose({draft_session, draft_sync.Next(committed), gamma});
      if (d.ok()) {
        proposal = std::move(d->draft);
        server_time += d->server_time;
      } else {
        mode = SpeculationMode::kOff;  // Finish target-only.
        stats.fell_back_to_target_only = true;
      }
    } else if (gamma > 0 && mode == SpeculationMode::kSelfSpeculative) {
      absl::StatusOr<TimedDraft> d = target.DraftEarlyExit(
          {*target_session, target_sync.Next(committed), gamma, spec.exit_layer});
      if (!d.ok()) return d.status();
      proposal = std::move(d->draft);
      server_time += d->server_time;
    } else if (gamma > 0 && mode == SpeculationMode::kNgram) {
      proposal.tokens = NgramDraft(committed, gamma, spec.ngram_max, spec.ngram_min);
      proposal.dists.assign(proposal.tokens.size(), sampling::DraftDistribution::None());
    }
    const absl::Duration draft_time = absl::Now() - draft_start;
    const absl::Time verify_start = absl::Now();
    const int drafted = static_cast<int>(proposal.tokens.size());
    absl::StatusOr<TimedVerify> verified = target.Verify(
        {*target_session, target_sync.Next(committed), std::move(proposal)});
    if (!verified.ok()) return verified.status();
    const absl::Duration verify_time = absl::Now() - verify_start;
    server_time += verified->server_time;
    const sampling::VerifyResult& round = verified->outcome.result;
    ++stats.rounds;
    stats.drafted += drafted;
    stats.accepted += round.num_accepted;
    if (static_cast<int>(stats.drafted_at.size()) < drafted) {
      stats.drafted_at.resize(drafted);
      stats.accepted_at.resize(drafted);
    }
    for (int i = 0; i < drafted; ++i) ++stats.drafted_at[i];
    for (int i = 0; i < round.num_accepted; ++i) ++stats.accepted_at[i];
    stats.draft_time += draft_time;
    stats.verify_time += verify_time;
    if (verified->server_time > absl::ZeroDuration() || server_time > absl::ZeroDuration()) {
      stats.rpc_time += std::max(absl::ZeroDuration(),
                                 draft_time + verify_time - server_time);
    }
    policy.Update(drafted, round.num_accepted, draft_time, verify_time);

    // Commit, cutting at EOS and at the budget.
    std::vector<sampling::StepResult> fresh;
    bool hit_eos = false;
    for (const sampling::StepResult& step : round.emitted) {
      if (static_cast<int64_t>(fresh.size()) >= budget) break;
      fresh.push_back(step);
      if (is_eos(step.token)) {
        hit_eos = true;
        break;
      }
    }
    for (const auto& step : fresh) committed.push_back(step.token);
    if (result.tokens.empty() && !fresh.empty()) {
      result.time_to_first_token = absl::Now() - start;
    }
    result.tokens.insert(result.tokens.end(), fresh.begin(), fresh.end());
    if (on_tokens) {
      if (std::optional<FinishReason> stop = on_tokens(fresh)) {
        result.finish = *stop;
        break;
      }
    }
    if (hit_eos) {
      result.finish = FinishReason::kEos;
      break;
    }
  }
  result.total_time = absl::Now() - start;
  return result;
}

}  // namespace tandem::decoding
