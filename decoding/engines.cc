#include "decoding/engines.h"

#include <cmath>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "sampling/tree_verifier.h"

namespace tandem::decoding {
namespace {

// Per-item checks done before batching, so one bad item cannot fail the
// batched forward pass of the others.
absl::Status CheckFeed(model::Model& model, const EngineSession& s,
                       const std::vector<int64_t>& feed, int64_t extra) {
  const model::ModelInfo& info = model.info();
  for (int64_t t : feed) {
    if (t < 0 || t >= info.vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "token id ", t, " is outside the vocabulary [0, ", info.vocab_size, ")"));
    }
  }
  const int64_t end = model.Length(s.sequence) + static_cast<int64_t>(feed.size()) + extra;
  if (end > info.context_length) {
    return absl::OutOfRangeError(absl::StrCat(
        "the sequence would reach ", end, " positions; the context length is ",
        info.context_length));
  }
  return absl::OkStatus();
}

// The shared first step of every engine call for one item: find the
// session, apply the sync, bring the model's cache up to the committed
// prefix, and return the tokens to run (catch-up, the pending token, then
// `extra` such as drafted tokens), checked against the vocabulary and the
// context (with `reserve` more positions to come).
struct Prepared {
  EngineSession* session = nullptr;
  std::vector<int64_t> feed;
};

absl::StatusOr<Prepared> PrepareFeed(SessionTable& sessions, model::Model& model, SessionId id,
                                 const SequenceSync& sync, absl::Span<const int64_t> extra,
                                 int64_t reserve) {
  absl::StatusOr<EngineSession*> s = sessions.Find(id);
  if (!s.ok()) return s.status();
  if (absl::Status st = (*s)->ApplySync(sync); !st.ok()) return st;
  absl::StatusOr<std::vector<int64_t>> feed = (*s)->CatchUp(model);
  if (!feed.ok()) return feed.status();
  Prepared p{*s, *std::move(feed)};
  p.feed.push_back((*s)->committed.back());
  p.feed.insert(p.feed.end(), extra.begin(), extra.end());
  if (absl::Status st = CheckFeed(model, **s, p.feed, reserve); !st.ok()) return st;
  return p;
}

// A tree's shape: one parent per token, each before it, at most
// kMaxTreeNodes tokens.
absl::Status CheckTree(const Draft& tree) {
  if (tree.parents.size() != tree.tokens.size() ||
      tree.tokens.size() > static_cast<size_t>(kMaxTreeNodes)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a draft tree needs one parent per token and at most ", kMaxTreeNodes,
        " tokens; got ", tree.tokens.size(), " tokens and ", tree.parents.size(), " parents"));
  }
  for (size_t i = 0; i < tree.parents.size(); ++i) {
    if (tree.parents[i] < -1 || tree.parents[i] >= static_cast<int32_t>(i)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "draft token ", i, "'s parent is ", tree.parents[i], "; it must be in [-1, ", i, ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckTreeRequest(int64_t proposals, int64_t alternatives, int64_t depth) {
  if (alternatives < 0 || alternatives > kMaxTreeAlternatives) {
    return absl::InvalidArgumentError(absl::StrCat("`tree_alternatives` must be in [0, ",
                                                   kMaxTreeAlternatives, "], got ", alternatives));
  }
  const int64_t most = std::max<int64_t>(proposals, 0);
  if (depth < 0 || depth > most) {
    return absl::InvalidArgumentError(absl::StrCat(
        "`tree_depth` must be in [0, ", most, "] (the drafted tokens), got ", depth));
  }
  if (most + alternatives * depth > kMaxTreeNodes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a tree of ", most, " drafted tokens with ", alternatives, " alternatives at ", depth,
        " positions holds ", most + alternatives * depth, " tokens; at most ", kMaxTreeNodes,
        " are allowed"));
  }
  return absl::OkStatus();
}

struct TargetEngine::Job {
  size_t index = 0;
  EngineSession* session = nullptr;
  std::vector<int64_t> feed;  // Rows of the forward.
  // The last rows whose logits Finish reads (ForwardRequest::logits_rows).
  int64_t logits_rows = 1;
  std::vector<int32_t> tree_parents;  // A tree draft's (ForwardRequest).
  int64_t remaining = 0;      // Prefill: positions left after this chunk.
};

namespace {

template <typename Item> struct OutcomeOf;
template <> struct OutcomeOf<VerifyItem> { using type = VerifyOutcome; };
template <> struct OutcomeOf<PrefillItem> { using type = PrefillOutcome; };
template <> struct OutcomeOf<ScoreItem> { using type = ScoreOutcome; };

}  // namespace

bool TargetEngine::Prepare(const VerifyItem& item, Job& job, VerifyOutcome& out) {
  model::Model& model = sessions_.model();
  absl::StatusOr<Prepared> p =
      PrepareFeed(sessions_, model, item.session, item.sync, item.draft.tokens, 0);
  if (!p.ok()) {
    out.status = p.status();
    return false;
  }
  if (item.draft.tokens.size() != item.draft.dists.size() &&
      !p->session->selector->params().greedy()) {
    out.status = absl::InvalidArgumentError(absl::StrCat(
        "draft has ", item.draft.tokens.size(), " tokens but ",
        item.draft.dists.size(), " distributions"));
    return false;
  }
  const Draft& draft = item.draft;
  if (draft.is_tree()) {
    if (absl::Status st = CheckTree(draft); !st.ok()) {
      out.status = st;
      return false;
    }
    job.tree_parents = draft.parents;
  }
  job.session = p->session;
  job.feed = std::move(p->feed);
  // Finish reads the pending token's and the drafts' rows only: no LM head
  // for catch-up rows (a prompt tail, synced tokens).
  job.logits_rows = static_cast<int64_t>(draft.tokens.size()) + 1;
  return true;
}

namespace {

// The next chunk of a registered session's prompt: sets `session` and
// `feed` (the positions to run), or returns false with `out` final (an
// error, or nothing left to run).
bool PreparePrefillChunk(SessionTable& sessions, const PrefillItem& item,
                         EngineSession*& session, std::vector<int64_t>& feed,
                         PrefillOutcome& out) {
  if (item.max_tokens < 1) {
    out.status = absl::InvalidArgumentError("prefill max_tokens must be >= 1");
    return false;
  }
  absl::StatusOr<EngineSession*> s = sessions.Find(item.session);
  if (!s.ok()) {
    out.status = s.status();
    return false;
  }
  absl::StatusOr<std::vector<int64_t>> missing = (*s)->CatchUp(sessions.model());
  if (!missing.ok()) {
    out.status = missing.status();
    return false;
  }
  const int64_t total = static_cast<int64_t>(missing->size());
  const int64_t run = std::min(total, item.max_tokens);
  out.remaining = total - run;
  if (run == 0) return false;
  session = *s;
  feed.assign(missing->begin(), missing->begin() + run);
  return true;
}

}  // namespace

bool TargetEngine::Prepare(const PrefillItem& item, Job& job, PrefillOutcome& out) {
  if (!PreparePrefillChunk(sessions_, item, job.session, job.feed, out)) return false;
  job.remaining = out.remaining;
  return true;
}

void TargetEngine::Finish(const PrefillItem&, Job& job, const at::Tensor&,
                          PrefillOutcome& out) {
  job.session->cached.insert(job.session->cached.end(), job.feed.begin(), job.feed.end());
  out.remaining = job.remaining;
}

void TargetEngine::Finish(const VerifyItem& item, Job& job, const at::Tensor& logits,
                          VerifyOutcome& out) {
  model::Model& model = sessions_.model();
  EngineSession& s = *job.session;
  const Draft& draft = item.draft;
  const int64_t gamma = static_cast<int64_t>(draft.tokens.size());
  const int64_t n = static_cast<int64_t>(s.committed.size());
  at::Tensor rows = logits.narrow(0, logits.size(0) - gamma - 1, gamma + 1);
  const sampling::VerifyOptions options{s.selector->params().greedy(), s.top_logprobs};
  const sampling::TokenHistory prefix{s.committed, s.prompt_length};
  absl::StatusOr<at::Tensor> processed =
      draft.is_tree()
          ? sampling::ProcessTreePositions(*s.selector, prefix, draft.tokens, draft.parents, rows)
          : sampling::ProcessDraftPositions(*s.selector, prefix, draft.tokens, rows);
  absl::StatusOr<sampling::VerifyResult> result =
      !processed.ok() ? absl::StatusOr<sampling::VerifyResult>(processed.status())
      : draft.is_tree()
          ? sampling::VerifyTree(*processed, {draft.tokens, draft.parents, draft.dists}, options,
                                 *s.rng, n)
          : sampling::VerifyDraft(*processed, draft.tokens, draft.dists, options, *s.rng, n);
  // Whatever happened, the cache keeps only committed positions: the
  // accepted drafts (a tree's accepted path, moved into place).
  s.cached.assign(s.committed.begin(), s.committed.end());
  if (!result.ok()) {
    (void)model.Truncate(s.sequence, n - 1);
    s.cached.resize(n - 1);
    out.status = result.status();
    return;
  }
  // Row of the forward that emitted token i was chosen from: the root's,
  // then each accepted node's.
  std::vector<int64_t> chosen_row = {0};
  if (draft.is_tree()) {
    std::vector<int64_t> slots;
    for (int32_t node : result->accepted_nodes) {
      slots.push_back(n + node);
      s.cached.push_back(draft.tokens[node]);
      chosen_row.push_back(1 + node);
    }
    if (absl::Status kept = model.KeepSlots(s.sequence, n, slots); !kept.ok()) {
      (void)model.Truncate(s.sequence, n - 1);
      s.cached.resize(n - 1);
      out.status = kept;
      return;
    }
  } else {
    s.cached.insert(s.cached.end(), draft.tokens.begin(),
                    draft.tokens.begin() + result->num_accepted);
    for (int i = 1; i <= result->num_accepted; ++i) chosen_row.push_back(i);
    if (n + result->num_accepted < model.Length(s.sequence)) {
      (void)model.Truncate(s.sequence, n + result->num_accepted);
    }
  }
  if (s.distribution_top_n > 0) {
    const at::Tensor raw = rows.to(at::kFloat).log_softmax(-1);
    const at::Tensor chosen_from = processed->log_softmax(-1);
    for (size_t i = 0; i < result->emitted.size(); ++i) {
      const int64_t r = chosen_row[i];
      result->emitted[i].raw_distribution = sampling::TopTokens(raw[r], s.distribution_top_n);
      result->emitted[i].processed_distribution =
          sampling::TopTokens(chosen_from[r], s.distribution_top_n);
    }
  }
  for (const sampling::StepResult& step : result->emitted) s.committed.push_back(step.token);
  out.result = *std::move(result);
  out.committed_length = static_cast<int64_t>(s.committed.size());
}

std::vector<StepOutcome> TargetEngine::Step(absl::Span<const StepItem> items) {
  model::Model& model = sessions_.model();
  std::vector<StepOutcome> out(items.size());
  std::vector<Job> jobs;
  absl::flat_hash_set<SessionId> in_step;
  for (size_t i = 0; i < items.size(); ++i) {
    std::visit(
        [&](const auto& item) {
          using Outcome = typename OutcomeOf<std::decay_t<decltype(item)>>::type;
          Outcome& outcome = out[i].template emplace<Outcome>();
          if (in_step.contains(item.session)) {
            outcome.status = absl::FailedPreconditionError(
                absl::StrCat("session ", item.session, " already has work in this step"));
            return;
          }
          Job job{i};
          if (!Prepare(item, job, outcome)) return;
          in_step.insert(item.session);
          jobs.push_back(std::move(job));
        },
        items[i]);
  }
  if (jobs.empty()) return out;
  const absl::Time start = absl::Now();
  std::vector<model::ForwardRequest> batch;
  int64_t rows = 0;
  for (const Job& job : jobs) {
    batch.push_back(
        {job.session->sequence, job.feed, 0, /*all_logits=*/job.logits_rows > 1,
         job.tree_parents, job.logits_rows});
    rows += static_cast<int64_t>(job.feed.size());
  }
  absl::StatusOr<std::vector<at::Tensor>> logits = model.Forward(batch);
  for (size_t k = 0; k < jobs.size(); ++k) {
    Job& job = jobs[k];
    std::visit(
        [&](const auto& item) {
          using Outcome = typename OutcomeOf<std::decay_t<decltype(item)>>::type;
          Outcome& outcome = std::get<Outcome>(out[job.index]);
          if (!logits.ok()) {
            outcome.status = logits.status();
            return;
          }
          Finish(item, job, (*logits)[k], outcome);
        },
        items[job.index]);
  }
  // The step's whole cost (forward and verification), how busy the engine
  // is, then each verify item's marginal cost against the other rows it
  // shared the step with.
  const absl::Time end = absl::Now();
  if (logits.ok()) step_cost_.Record(rows, end - start);
  busy_.Record(start, end);
  row_share_.Step(rows);
  for (Job& job : jobs) row_share_.Add(job.session->recent_rows, job.feed.size());
  const double busy = busy_.fraction();
  const std::vector<float> alone = step_cost_.Marginal(0, kMarginalRows);
  for (const Job& job : jobs) {
    auto* v = std::get_if<VerifyOutcome>(&out[job.index]);
    if (v == nullptr || !v->status.ok()) continue;
    // Rows beside others cost the others' time only while the engine is
    // saturated; when it idles between steps they would mostly have run in
    // a step of their own.
    const int64_t others = rows - static_cast<int64_t>(job.feed.size());
    const std::vector<float> shared = step_cost_.Marginal(others, kMarginalRows);
    v->others_busy =
        static_cast<float>(busy * row_share_.OthersShare(job.session->recent_rows));
    v->marginal_seconds.resize(shared.size());
    for (size_t j = 0; j < shared.size(); ++j) {
      v->marginal_seconds[j] = static_cast<float>(busy * shared[j] + (1 - busy) * alone[j]);
    }
  }
  return out;
}

namespace {

// Step over items of one kind, its outcomes unwrapped.
template <typename Outcome, typename Item>
std::vector<Outcome> StepOf(TargetEngine& engine, absl::Span<const Item> items) {
  std::vector<StepItem> step(items.begin(), items.end());
  std::vector<StepOutcome> done = engine.Step(step);
  std::vector<Outcome> out;
  for (StepOutcome& o : done) out.push_back(std::move(std::get<Outcome>(o)));
  return out;
}

}  // namespace

std::vector<VerifyOutcome> TargetEngine::Verify(absl::Span<const VerifyItem> items) {
  return StepOf<VerifyOutcome>(*this, items);
}

std::vector<PrefillOutcome> TargetEngine::Prefill(absl::Span<const PrefillItem> items) {
  return StepOf<PrefillOutcome>(*this, items);
}

std::vector<DraftOutcome> TargetEngine::DraftEarlyExit(
    absl::Span<const EarlyExitItem> items) {
  model::Model& model = sessions_.model();
  std::vector<DraftOutcome> out(items.size());
  std::vector<DraftJob> jobs;
  std::vector<size_t> job_item;
  for (size_t i = 0; i < items.size(); ++i) {
    const EarlyExitItem& item = items[i];
    const int64_t layers = model.info().num_layers;
    const int64_t exit = item.exit_layer > 0 ? item.exit_layer
                                             : model.info().default_early_exit_layer;
    if (exit <= 0 || exit >= layers) {
      out[i].status = absl::InvalidArgumentError(absl::StrCat(
          "exit_layer must be in [1, ", layers, "), got ", exit,
          item.exit_layer == 0 ? " (the model has no default early-exit layer)" : ""));
      continue;
    }
    if (item.gamma < 0) {
      out[i].status = absl::InvalidArgumentError("gamma must be >= 0");
      continue;
    }
    absl::StatusOr<EngineSession*> found = sessions_.Find(item.session);
    if (found.ok() && model.DraftLength((*found)->sequence) > model.Length((*found)->sequence)) {
      // Stale drafts of an earlier round are dropped before drafting anew.
      (void)model.Truncate((*found)->sequence, model.Length((*found)->sequence));
    }
    absl::StatusOr<Prepared> p =
        PrepareFeed(sessions_, model, item.session, item.sync, {}, item.gamma);
    if (!p.ok()) {
      out[i].status = p.status();
      continue;
    }
    jobs.push_back(DraftJob{p->session, std::move(p->feed), item.gamma, exit,
                            p->session->rng.get()});
    job_item.push_back(i);
  }
  const absl::Time start = absl::Now();
  std::vector<DraftOutcome> drafted = RunDraftSteps(model, jobs);
  // Self-speculative drafting occupies the engine like a step does.
  if (!jobs.empty()) busy_.Record(start, absl::Now());
  for (size_t k = 0; k < jobs.size(); ++k) out[job_item[k]] = std::move(drafted[k]);
  return out;
}

bool TargetEngine::Prepare(const ScoreItem& item, Job& job, ScoreOutcome& out) {
  if (item.top_n < 1) {
    out.status = absl::InvalidArgumentError("top_n must be >= 1");
    return false;
  }
  Draft tree = item.tree;
  if (!tree.tokens.empty() && !tree.is_tree()) {
    for (size_t i = 0; i < tree.tokens.size(); ++i) {
      tree.parents.push_back(static_cast<int32_t>(i) - 1);
    }
  }
  if (absl::Status st = CheckTree(tree); !st.ok()) {
    out.status = st;
    return false;
  }
  absl::StatusOr<Prepared> p =
      PrepareFeed(sessions_, sessions_.model(), item.session, item.sync, tree.tokens, 0);
  if (!p.ok()) {
    out.status = p.status();
    return false;
  }
  job.session = p->session;
  job.feed = std::move(p->feed);
  if (!tree.tokens.empty()) {
    job.tree_parents = std::move(tree.parents);
    job.logits_rows = static_cast<int64_t>(tree.tokens.size()) + 1;
  }
  return true;
}

void TargetEngine::Finish(const ScoreItem& item, Job& job, const at::Tensor& logits,
                          ScoreOutcome& out) {
  EngineSession& s = *job.session;
  const int64_t nodes = static_cast<int64_t>(item.tree.tokens.size());
  const int64_t n = static_cast<int64_t>(s.committed.size());
  s.cached = s.committed;
  if (nodes > 0) {
    // The tree's KV is not kept: the caller commits its choice with the
    // next sync.
    (void)sessions_.model().Truncate(s.sequence, n);
  }
  sampling::SamplingParams greedy = s.selector->params();
  greedy.temperature = 0;  // beam scores: penalties only, no warpers
  auto selector = sampling::TokenSelector::Create(greedy);
  if (!selector.ok()) {
    out.status = selector.status();
    return;
  }
  const sampling::TokenHistory prefix{s.committed, s.prompt_length};
  absl::StatusOr<at::Tensor> processed;
  if (nodes > 0) {
    processed = sampling::ProcessTreePositions(**selector, prefix, item.tree.tokens,
                                               job.tree_parents,
                                               logits.narrow(0, logits.size(0) - nodes - 1,
                                                             nodes + 1));
  } else {
    processed = (*selector)->Process({prefix}, logits);
  }
  if (!processed.ok()) {
    out.status = processed.status();
    return;
  }
  const at::Tensor log_probs = processed->to(at::kCPU, at::kFloat).log_softmax(-1);
  const int64_t k = std::min<int64_t>(item.top_n, log_probs.size(1));
  auto [values, ids] = log_probs.topk(k, /*dim=*/1);
  values = values.contiguous();
  ids = ids.contiguous();
  out.node_candidates.resize(nodes);
  for (int64_t r = 0; r <= nodes; ++r) {
    std::vector<sampling::TokenLogprob>& into = r == 0 ? out.candidates : out.node_candidates[r - 1];
    for (int64_t j = 0; j < k; ++j) {
      const double lp = values.data_ptr<float>()[r * k + j];
      if (!std::isfinite(lp)) break;
      into.push_back({ids.data_ptr<int64_t>()[r * k + j], lp});
    }
  }
}

std::vector<ScoreOutcome> TargetEngine::Score(absl::Span<const ScoreItem> items) {
  return StepOf<ScoreOutcome>(*this, items);
}

std::vector<PrefillOutcome> DraftEngine::Prefill(absl::Span<const PrefillItem> items) {
  model::Model& model = sessions_.model();
  std::vector<PrefillOutcome> out(items.size());
  std::vector<EngineSession*> chunk_session;
  std::vector<std::vector<int64_t>> feeds;
  std::vector<size_t> chunk_item;
  absl::flat_hash_set<SessionId> seen;
  for (size_t i = 0; i < items.size(); ++i) {
    if (!seen.insert(items[i].session).second) {
      out[i].status = absl::FailedPreconditionError(
          absl::StrCat("session ", items[i].session, " already has work in this call"));
      continue;
    }
    EngineSession* session = nullptr;
    std::vector<int64_t> feed;
    if (!PreparePrefillChunk(sessions_, items[i], session, feed, out[i])) continue;
    chunk_session.push_back(session);
    feeds.push_back(std::move(feed));
    chunk_item.push_back(i);
  }
  if (feeds.empty()) return out;
  std::vector<model::ForwardRequest> batch;
  for (size_t k = 0; k < feeds.size(); ++k) {
    batch.push_back({chunk_session[k]->sequence, feeds[k], 0, /*all_logits=*/false});
  }
  absl::StatusOr<std::vector<at::Tensor>> logits = model.Forward(batch);
  for (size_t k = 0; k < feeds.size(); ++k) {
    if (!logits.ok()) {
      out[chunk_item[k]].status = logits.status();
      continue;
    }
    EngineSession& s = *chunk_session[k];
    s.cached.insert(s.cached.end(), feeds[k].begin(), feeds[k].end());
  }
  return out;
}

std::vector<DraftOutcome> DraftEngine::Propose(
    absl::Span<const ProposeItem> items) {
  model::Model& model = sessions_.model();
  std::vector<DraftOutcome> out(items.size());
  std::vector<DraftJob> jobs;
  std::vector<size_t> job_item;
  for (size_t i = 0; i < items.size(); ++i) {
    const ProposeItem& item = items[i];
    if (item.gamma < 0) {
      out[i].status = absl::InvalidArgumentError("gamma must be >= 0");
      continue;
    }
    if (item.top_logprobs < 0 || item.top_logprobs > kMaxProposeTopLogprobs) {
      out[i].status = absl::InvalidArgumentError(absl::StrCat(
          "`top_logprobs` must be in [0, ", kMaxProposeTopLogprobs, "], got ", item.top_logprobs));
      continue;
    }
    absl::StatusOr<Prepared> p =
        PrepareFeed(sessions_, model, item.session, item.sync, {}, item.gamma);
    if (!p.ok()) {
      out[i].status = p.status();
      continue;
    }
    jobs.push_back(DraftJob{p->session, std::move(p->feed), item.gamma, 0,
                            p->session->rng.get(), item.guess_first, item.tree_alternatives,
                            item.tree_depth, item.top_logprobs});
    job_item.push_back(i);
  }
  std::vector<DraftOutcome> drafted = RunDraftSteps(model, jobs);
  for (size_t k = 0; k < jobs.size(); ++k) {
    DraftOutcome& d = drafted[k];
    EngineSession& s = *jobs[k].session;
    if (d.status.ok() && jobs[k].gamma > 0) {
      // The model ran the pending token and every draft but the last.
      s.cached = s.committed;
      const std::vector<int64_t> chain = d.draft.chain();
      s.cached.insert(s.cached.end(), chain.begin(), chain.end() - 1);
    } else if (!d.status.ok()) {
      (void)model.Truncate(s.sequence, std::min<int64_t>(s.cached.size(),
                                                         model.Length(s.sequence)));
    }
    out[job_item[k]] = std::move(d);
  }
  return out;
}

}  // namespace tandem::decoding
