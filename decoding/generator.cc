#include "decoding/generator.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "decoding/draft_length_policy.h"
#include "decoding/drafter.h"
#include "decoding/target_session.h"
#include "decoding/tree_shape_policy.h"

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

bool IsEos(const StopOptions& stop, int64_t token) {
  return std::find(stop.eos_token_ids.begin(), stop.eos_token_ids.end(), token) !=
         stop.eos_token_ids.end();
}

// The verify pass emits up to γ+1 tokens and must fit the budget.
int ClampGamma(int gamma, int64_t budget) {
  return static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(gamma, budget - 1)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<GenerationLoop>> GenerationLoop::Start(GenerateRequest request,
                                                                      TargetBackend& target,
                                                                      DraftBackend* draft,
                                                                      TokenCallback on_tokens) {
  std::unique_ptr<GenerationLoop> loop(new GenerationLoop());
  loop->start_ = absl::Now();
  loop->request_ = std::move(request);
  loop->on_tokens_ = std::move(on_tokens);
  const GenerateRequest& r = loop->request_;
  const SpeculationOptions& spec = r.speculation;
  if (r.stop.max_new_tokens < 1) {
    return absl::InvalidArgumentError("`max_new_tokens` must be >= 1");
  }
  if (spec.mode == SpeculationMode::kDraftModel && draft == nullptr) {
    return absl::FailedPreconditionError(
        "speculation mode DRAFT_MODEL needs a draft service");
  }
  // Reserve KV for the longest this sequence can get: the prompt, every new
  // token, and drafts in flight past them (pipelined drafting may run a
  // round ahead) and a tree's alternatives, within the context.
  loop->session_ = r.session;
  SessionOptions& session = loop->session_;
  if (session.max_sequence_length <= 0) {
    const int64_t drafts = spec.mode == SpeculationMode::kOff
                               ? 0
                               : 2 * spec.max_draft_length + 2 +
                                     int64_t{spec.tree_alternatives} * spec.tree_depth;
    session.max_sequence_length =
        std::min(target.Info().context_length,
                 static_cast<int64_t>(r.prompt.size()) + r.stop.max_new_tokens + drafts);
  }
  absl::StatusOr<std::unique_ptr<TargetSession>> target_session =
      TargetSession::Open(target, r.prompt, session);
  if (!target_session.ok()) return target_session.status();
  loop->verifier_ = *std::move(target_session);
  absl::StatusOr<std::unique_ptr<Drafter>> made =
      MakeDrafter(spec, {loop->verifier_.get(), draft, &session});
  if (!made.ok()) return made.status();
  loop->drafter_ = *std::move(made);
  loop->context_ = loop->verifier_->context_length();
  loop->committed_ = r.prompt;
  loop->policy_ = std::make_unique<DraftLengthPolicy>(
      loop->drafter_ == nullptr ? 0 : spec.draft_length, spec.max_draft_length, spec.adaptive,
      spec.min_draft_length, spec.draft_shares_target_cpu);
  loop->tree_policy_ = std::make_unique<TreeShapePolicy>(
      TreeShape{spec.tree_alternatives, spec.tree_depth}, spec.adaptive_tree);
  loop->gamma_ = loop->drafter_ == nullptr ? 0 : loop->policy_->Next();
  return loop;
}

GenerationLoop::~GenerationLoop() = default;

void GenerationLoop::Finalize() {
  done_ = true;
  SpeculationStats& stats = result_.stats;
  if (drafter_ != nullptr) {
    const DrafterStats d = drafter_->stats();
    stats.fell_back_to_target_only = d.fell_back;
    stats.pre_drafts = d.pre_drafts;
    stats.pre_draft_hits = d.pre_draft_hits;
    stats.draft_time_hidden = d.hidden_time;
  }
  result_.total_time = absl::Now() - start_;
}

absl::StatusOr<bool> GenerationLoop::Round() {
  if (done_) return absl::FailedPreconditionError("the sequence has finished");
  const GenerateRequest& request = request_;
  DraftLengthPolicy& policy = *policy_;
  TreeShapePolicy& tree_policy = *tree_policy_;
  TargetSession& verifier = *verifier_;
  Drafter* drafter = drafter_.get();
  std::vector<int64_t>& committed = committed_;
  int& gamma = gamma_;
  SpeculationStats& stats = result_.stats;
  const int64_t generated = static_cast<int64_t>(result_.tokens.size());
  const int64_t budget = std::min(request.stop.max_new_tokens - generated,
                                  context_ - static_cast<int64_t>(committed.size()));
  if (budget <= 0) {
    result_.finish = FinishReason::kLength;
    Finalize();
    return true;
  }
  if (absl::Now() - start_ >= request.stop.max_time) {
    result_.finish = FinishReason::kMaxTime;
    Finalize();
    return true;
  }
  gamma = ClampGamma(gamma, budget);
  Proposal proposal;
  const absl::Time draft_start = absl::Now();
  if (gamma > 0) {
    TreeShape tree = tree_policy.Next(gamma, policy);
    // A tree's alternatives take cache slots too (one verify row each).
    if (static_cast<int64_t>(committed.size()) + gamma + tree.alternatives * tree.depth >=
        context_) {
      tree = {};
    }
    drafter->SetTreeShape(tree.alternatives, tree.depth);
    absl::StatusOr<Proposal> p = drafter->Propose(committed, gamma);
    if (!p.ok()) return p.status();
    proposal = *std::move(p);
  }
  const absl::Duration draft_time = absl::Now() - draft_start;
  absl::Duration server_time = proposal.server_time;
  // γ is the chain's length; a tree's alternatives ride beside it.
  const int drafted = static_cast<int>(proposal.draft.chain_length());
  const int64_t alternatives = static_cast<int64_t>(proposal.draft.tokens.size()) - drafted;
  const std::vector<int32_t> proposal_parents = proposal.draft.parents;
  // The next round's γ as far as it is known now (the policy updates after
  // verification); a pipelined drafter drafts that far ahead meanwhile.
  if (drafter != nullptr && drafted > 0) {
    drafter->OnVerifyStarted(committed, proposal.draft,
                             ClampGamma(policy.Peek(), budget - drafted - 1));
  }
  const absl::Time verify_start = absl::Now();
  absl::StatusOr<TimedVerify> verified = verifier.Verify(committed, std::move(proposal.draft));
  if (!verified.ok()) return verified.status();
  const absl::Duration verify_time = absl::Now() - verify_start;
  server_time += verified->server_time;
  const sampling::VerifyResult& round = verified->outcome.result;
  ++stats.rounds;
  if (drafted == 0) ++stats.plain_rounds;
  stats.drafted += drafted;
  stats.accepted += round.num_accepted;
  stats.tree_alternatives += alternatives;
  // The chain's own acceptance (α) excludes an accepted alternative.
  int chain_accepted = round.num_accepted;
  bool alternative_accepted = false;
  for (int32_t node : round.accepted_nodes) {
    if (node >= drafted) {
      alternative_accepted = true;
      chain_accepted = round.num_accepted - 1;
      break;
    }
  }
  if (alternative_accepted) ++stats.tree_alternative_hits;
  if (alternatives > 0) {
    // Alternatives sit beside the chain's first positions: the deepest
    // one bounds where a rejection could be rescued.
    int depth = 0;
    for (size_t i = drafted; i < proposal_parents.size(); ++i) {
      depth = std::max(depth, proposal_parents[i] + 2);
    }
    tree_policy.Update(chain_accepted < std::min(depth, drafted), alternative_accepted);
  }
  if (static_cast<int>(stats.drafted_at.size()) < drafted) {
    stats.drafted_at.resize(drafted);
    stats.accepted_at.resize(drafted);
  }
  for (int i = 0; i < drafted; ++i) ++stats.drafted_at[i];
  for (int i = 0; i < round.num_accepted; ++i) ++stats.accepted_at[i];
  stats.draft_time += draft_time;
  stats.verify_time += verify_time;
  if (verified->server_time > absl::ZeroDuration() || server_time > absl::ZeroDuration()) {
    stats.rpc_time += std::max(absl::ZeroDuration(), draft_time + verify_time - server_time);
  }
  // The verify call's time outside the target's own handling (transport,
  // queues on the way): latency every round pays, not target compute.
  const absl::Duration transport =
      verified->server_time > absl::ZeroDuration()
          ? std::max(absl::ZeroDuration(), verify_time - verified->server_time)
          : absl::ZeroDuration();
  // The drafting server's time since the last round (pre-drafts included).
  absl::Duration draft_compute;
  if (drafter != nullptr) {
    const absl::Duration total = drafter->stats().server_time;
    draft_compute = total - draft_server_time_;
    draft_server_time_ = total;
  }
  policy.Update(drafted, chain_accepted, draft_time, verify_time,
                verified->outcome.marginal_seconds, transport, verified->outcome.others_busy,
                draft_compute);
  gamma = drafter == nullptr ? 0 : policy.Next();

  // Commit, cutting at EOS and at the budget.
  std::vector<sampling::StepResult> fresh;
  bool hit_eos = false;
  for (const sampling::StepResult& step : round.emitted) {
    if (static_cast<int64_t>(fresh.size()) >= budget) break;
    fresh.push_back(step);
    if (IsEos(request.stop, step.token)) {
      hit_eos = true;
      break;
    }
  }
  for (const auto& step : fresh) committed.push_back(step.token);
  if (result_.tokens.empty() && !fresh.empty()) {
    result_.time_to_first_token = absl::Now() - start_;
  }
  result_.tokens.insert(result_.tokens.end(), fresh.begin(), fresh.end());
  if (on_tokens_) {
    if (std::optional<FinishReason> stop = on_tokens_(fresh)) {
      result_.finish = *stop;
      Finalize();
      return true;
    }
  }
  if (hit_eos) {
    result_.finish = FinishReason::kEos;
    Finalize();
    return true;
  }
  return false;
}

absl::StatusOr<GenerationResult> Generate(const GenerateRequest& request,
                                          TargetBackend& target,
                                          DraftBackend* draft,
                                          const TokenCallback& on_tokens) {
  absl::StatusOr<std::unique_ptr<GenerationLoop>> loop =
      GenerationLoop::Start(request, target, draft, on_tokens);
  if (!loop.ok()) return loop.status();
  while (true) {
    absl::StatusOr<bool> done = (*loop)->Round();
    if (!done.ok()) return done.status();
    if (*done) break;
  }
  return (*loop)->TakeResult();
}

}  // namespace tandem::decoding
