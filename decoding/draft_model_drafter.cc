#include "decoding/draft_model_drafter.h"

#include <algorithm>
#include <utility>

namespace tandem::decoding {

DraftModelDrafter::DraftModelDrafter(DraftBackend& backend, const SessionOptions& options,
                                     bool pipelined, int tree_alternatives, int tree_depth)
    : backend_(backend),
      options_(options),
      context_length_(backend.Info().context_length),
      pipelined_(pipelined),
      tree_alternatives_(tree_alternatives),
      tree_depth_(tree_depth) {
  // The draft model's context may be shorter than the target's.
  if (options_.max_sequence_length > context_length_) {
    options_.max_sequence_length = context_length_;
  }
}

absl::Status DraftModelDrafter::OpenOn(const std::vector<int64_t>& committed) {
  absl::StatusOr<SessionId> id = backend_.Open(committed, options_);
  if (!id.ok()) return id.status();
  id_ = *id;
  view_ = committed;
  return absl::OkStatus();
}

ProposeItem DraftModelDrafter::Request(SequenceSync sync, int gamma, bool guess) const {
  ProposeItem item{*id_, std::move(sync), gamma, guess};
  const int proposals = gamma - (guess ? 1 : 0);
  if (tree_alternatives_ > 0 && proposals > 0) {
    const int room = (kMaxTreeNodes - proposals) / tree_alternatives_;
    item.tree_alternatives = tree_alternatives_;
    item.tree_depth = std::max(0, std::min({tree_depth_, proposals, room}));
    if (item.tree_depth == 0) item.tree_alternatives = 0;
  }
  return item;
}

DraftModelDrafter::~DraftModelDrafter() {
  if (pending_.has_value()) pending_->result.wait();
  if (id_.has_value()) backend_.Close(*id_);
}

SequenceSync DraftModelDrafter::SyncTo(const std::vector<int64_t>& sequence) {
  const size_t limit = std::min(view_.size(), sequence.size());
  size_t common = 0;
  while (common < limit && view_[common] == sequence[common]) ++common;
  SequenceSync sync{static_cast<int64_t>(common), {sequence.begin() + common, sequence.end()}};
  view_ = sequence;
  return sync;
}

absl::StatusOr<Proposal> DraftModelDrafter::Propose(const std::vector<int64_t>& committed,
                                                    int gamma) {
  if (!id_.has_value()) {
    // Opening prefills everything committed: the first drafts follow it.
    if (absl::Status opened = OpenOn(committed); !opened.ok()) return opened;
  }
  if (pending_.has_value()) {
    PreDraft pre = std::move(*pending_);
    pending_.reset();
    const absl::Time wait_start = absl::Now();
    absl::StatusOr<TimedDraft> ready = pre.result.get();
    const absl::Duration waited = absl::Now() - wait_start;
    if (ready.ok()) stats_.server_time += ready->server_time;
    if (!ready.ok()) {
      // The session may or may not have applied the pre-draft's sync: only
      // the prefix both states share is known. Draft afresh (a dead replica
      // then fails that call too).
      view_.resize(pre.known_length);
      ready = TimedDraft{};
    }
    const std::vector<int64_t>& got = ready->draft.tokens;
    const size_t n = pre.after.size();
    const bool hit = committed.size() == n + 1 && got.size() >= 2 &&
                     std::equal(pre.after.begin(), pre.after.end(), committed.begin()) &&
                     committed.back() == got[0];
    if (hit) {
      Proposal p;
      p.draft = ready->draft.Slice(1, static_cast<size_t>(gamma));
      p.server_time = ready->server_time;
      ++stats_.pre_draft_hits;
      stats_.hidden_time += std::max(absl::ZeroDuration(), (*pre.end - pre.start) - waited);
      return p;
    }
    // A miss: the time waited above is part of this round's exposed draft
    // time; draft afresh after what was actually committed.
  }
  absl::StatusOr<TimedDraft> d = backend_.Propose(Request(SyncTo(committed), gamma, false));
  if (!d.ok()) return d.status();
  stats_.server_time += d->server_time;
  Proposal p;
  p.draft = std::move(d->draft);
  p.server_time = d->server_time;
  return p;
}

void DraftModelDrafter::OnVerifyStarted(const std::vector<int64_t>& committed,
                                        const Draft& draft, int next_gamma) {
  if (!pipelined_ || !id_.has_value() || draft.tokens.empty() || next_gamma < 1 ||
      pending_.has_value()) {
    return;
  }
  // Stay inside the draft model's context (the engine would refuse).
  const int64_t length = static_cast<int64_t>(committed.size() + draft.chain_length());
  if (length + next_gamma + 1 > context_length_) return;
  PreDraft pre;
  pre.after = committed;
  // The outcome pre-drafted for: the whole chain accepted (a tree's
  // alternatives are tried only where the chain is rejected), then g.
  const std::vector<int64_t> chain = draft.chain();
  pre.after.insert(pre.after.end(), chain.begin(), chain.end());
  // g is only a guess at the target's bonus token (never proposed): its most
  // likely value is the draft's argmax, also when sampling.
  ProposeItem item = Request(SyncTo(pre.after), next_gamma + 1, /*guess=*/true);
  pre.known_length = item.sync.base_length;
  pre.start = absl::Now();
  pre.end = std::make_shared<absl::Time>(pre.start);
  pre.result = std::async(std::launch::async,
                          [backend = &backend_, item = std::move(item), end = pre.end] {
                            absl::StatusOr<TimedDraft> r = backend->Propose(item);
                            *end = absl::Now();
                            return r;
                          });
  pending_ = std::move(pre);
  ++stats_.pre_drafts;
}

}  // namespace tandem::decoding
