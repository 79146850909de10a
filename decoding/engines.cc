#include "decoding/engines.h"

#include <cmath>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"

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

absl::StatusOr<Prepared> Prepare(SessionTable& sessions, model::Model& model, SessionId id,
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

}  // namespace

struct TargetEngine::Job {
  size_t index = 0;
  EngineSession* session = nullptr;
  std::vector<int64_t> feed;  // Rows of the forward.
  int64_t remaining = 0;      // Prefill: positions left after this chunk.
};

bool TargetEngine::PrepareVerify(const VerifyItem& item, Job& job, VerifyOutcome& out) {
  model::Model& model = sessions_.model();
  absl::StatusOr<Prepared> p =
      Prepare(sessions_, model, item.session, item.sync, item.draft.tokens, 0);
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
  job.session = p->session;
  job.feed = std::move(p->feed);
  return true;
}

bool TargetEngine::PreparePrefill(const PrefillItem& item, Job& job, PrefillOutcome& out) {
  if (item.max_tokens < 1) {
    out.status = absl::InvalidArgumentError("prefill max_tokens must be >= 1");
    return false;
  }
  absl::StatusOr<EngineSession*> s = sessions_.Find(item.session);
  if (!s.ok()) {
    out.status = s.status();
    return false;
  }
  absl::StatusOr<std::vector<int64_t>> missing = (*s)->CatchUp(sessions_.model());
  if (!missing.ok()) {
    out.status = missing.status();
    return false;
  }
  const int64_t total = static_cast<int64_t>(missing->size());
  const int64_t run = std::min(total, item.max_tokens);
  out.remaining = total - run;
  if (run == 0) return false;
  job.session = *s;
  job.feed.assign(missing->begin(), missing->begin() + run);
  job.remaining = total - run;
  return true;
}

void TargetEngine::FinishVerify(const VerifyItem& item, Job& job, const at::Tensor& logits,
                                VerifyOutcome& out) {
  model::Model& model = sessions_.model();
  EngineSession& s = *job.session;
  const Draft& draft = item.draft;
  const int64_t gamma = static_cast<int64_t>(draft.tokens.size());
  const int64_t n = static_cast<int64_t>(s.committed.size());
  s.cached.assign(s.committed.begin(), s.committed.end());
  s.cached.insert(s.cached.end(), draft.tokens.begin(), draft.tokens.end());
  at::Tensor rows = logits.narrow(0, logits.size(0) - gamma - 1, gamma + 1);
  absl::StatusOr<at::Tensor> processed = sampling::ProcessDraftPositions(
      *s.selector, {s.committed, s.prompt_length}, draft.tokens, rows);
  absl::StatusOr<sampling::VerifyResult> result =
      processed.ok()
          ? sampling::VerifyDraft(*processed, draft.tokens, draft.dists,
                                  {s.selector->params().greedy(), s.top_logprobs}, *s.rng)
          : absl::StatusOr<sampling::VerifyResult>(processed.status());
  // Whatever happened, the cache keeps only committed positions.
  const int64_t keep = n + (result.ok() ? result->num_accepted : -1);
  if (keep < model.Length(s.sequence)) {
    (void)model.Truncate(s.sequence, keep);
  }
  s.cached.resize(keep);
  if (!result.ok()) {
    out.status = result.status();
    return;
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
    Job job{i};
    const SessionId id = std::visit([](const auto& item) { return item.session; }, items[i]);
    absl::Status* status = nullptr;
    bool runs = false;
    if (const auto* verify = std::get_if<VerifyItem>(&items[i])) {
      out[i] = VerifyOutcome{};
      status = &std::get<VerifyOutcome>(out[i]).status;
      if (in_step.contains(id)) {
        *status = absl::FailedPreconditionError(
            absl::StrCat("session ", id, " already has work in this step"));
        continue;
      }
      runs = PrepareVerify(*verify, job, std::get<VerifyOutcome>(out[i]));
    } else {
      out[i] = PrefillOutcome{};
      status = &std::get<PrefillOutcome>(out[i]).status;
      if (in_step.contains(id)) {
        *status = absl::FailedPreconditionError(
            absl::StrCat("session ", id, " already has work in this step"));
        continue;
      }
      runs = PreparePrefill(std::get<PrefillItem>(items[i]), job, std::get<PrefillOutcome>(out[i]));
    }
    if (!runs) continue;
    in_step.insert(id);
    jobs.push_back(std::move(job));
  }
  if (jobs.empty()) return out;
  std::vector<model::ForwardRequest> batch;
  for (const Job& job : jobs) {
    const bool verify = std::holds_alternative<VerifyItem>(items[job.index]);
    batch.push_back({job.session->sequence, job.feed, 0, /*all_logits=*/verify});
  }
  absl::StatusOr<std::vector<at::Tensor>> logits = model.Forward(batch);
  for (size_t k = 0; k < jobs.size(); ++k) {
    Job& job = jobs[k];
    if (auto* verify = std::get_if<VerifyOutcome>(&out[job.index])) {
      if (!logits.ok()) {
        verify->status = logits.status();
      } else {
        FinishVerify(std::get<VerifyItem>(items[job.index]), job, (*logits)[k], *verify);
      }
      continue;
    }
    PrefillOutcome& prefill = std::get<PrefillOutcome>(out[job.index]);
    if (!logits.ok()) {
      prefill.status = logits.status();
      continue;
    }
    job.session->cached.insert(job.session->cached.end(), job.feed.begin(), job.feed.end());
    prefill.remaining = job.remaining;
  }
  return out;
}

std::vector<VerifyOutcome> TargetEngine::Verify(absl::Span<const VerifyItem> items) {
  std::vector<StepItem> step(items.begin(), items.end());
  std::vector<StepOutcome> done = Step(step);
  std::vector<VerifyOutcome> out;
  for (StepOutcome& o : done) out.push_back(std::move(std::get<VerifyOutcome>(o)));
  return out;
}

std::vector<PrefillOutcome> TargetEngine::Prefill(absl::Span<const PrefillItem> items) {
  std::vector<StepItem> step(items.begin(), items.end());
  std::vector<StepOutcome> done = Step(step);
  std::vector<PrefillOutcome> out;
  for (StepOutcome& o : done) out.push_back(std::move(std::get<PrefillOutcome>(o)));
  return out;
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
    absl::StatusOr<Prepared> p = Prepare(sessions_, model, item.session, item.sync, {}, item.gamma);
    if (!p.ok()) {
      out[i].status = p.status();
      continue;
    }
    jobs.push_back(DraftJob{p->session, std::move(p->feed), item.gamma, exit,
                            p->session->draft_rng.get()});
    job_item.push_back(i);
  }
  std::vector<DraftOutcome> drafted = RunDraftSteps(model, jobs);
  for (size_t k = 0; k < jobs.size(); ++k) out[job_item[k]] = std::move(drafted[k]);
  return out;
}

std::vector<ScoreOutcome> TargetEngine::Score(absl::Span<const ScoreItem> items) {
  model::Model& model = sessions_.model();
  std::vector<ScoreOutcome> out(items.size());
  std::vector<EngineSession*> session(items.size(), nullptr);
  std::vector<std::vector<int64_t>> feeds(items.size());
  std::vector<size_t> in_batch;
  for (size_t i = 0; i < items.size(); ++i) {
    if (items[i].top_n < 1) {
      out[i].status = absl::InvalidArgumentError("top_n must be >= 1");
      continue;
    }
    absl::StatusOr<Prepared> p = Prepare(sessions_, model, items[i].session, items[i].sync, {}, 0);
    if (!p.ok()) {
      out[i].status = p.status();
      continue;
    }
    session[i] = p->session;
    feeds[i] = std::move(p->feed);
    in_batch.push_back(i);
  }
  std::vector<model::ForwardRequest> batch;
  for (size_t i : in_batch) batch.push_back({session[i]->sequence, feeds[i], 0, false});
  if (batch.empty()) return out;
  absl::StatusOr<std::vector<at::Tensor>> logits = model.Forward(batch);
  for (size_t k = 0; k < in_batch.size(); ++k) {
    const size_t i = in_batch[k];
    if (!logits.ok()) {
      out[i].status = logits.status();
      continue;
    }
    EngineSession& s = *session[i];
    s.cached = s.committed;
    sampling::SamplingParams greedy = s.selector->params();
    greedy.temperature = 0;  // beam scores: penalties only, no warpers
    auto selector = sampling::TokenSelector::Create(greedy);
    if (!selector.ok()) {
      out[i].status = selector.status();
      continue;
    }
    const std::vector<sampling::TokenHistory> h = {{s.committed, s.prompt_length}};
    absl::StatusOr<at::Tensor> processed = (*selector)->Process(h, (*logits)[k]);
    if (!processed.ok()) {
      out[i].status = processed.status();
      continue;
    }
    at::Tensor log_probs = (*processed)[0].log_softmax(-1);
    const int64_t n = std::min<int64_t>(items[i].top_n, log_probs.size(0));
    auto [values, ids] = log_probs.topk(n);
    for (int64_t j = 0; j < n; ++j) {
      const double lp = values[j].item<double>();
      if (!std::isfinite(lp)) break;
      out[i].candidates.push_back({ids[j].item<int64_t>(), lp});
    }
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
    absl::StatusOr<Prepared> p = Prepare(sessions_, model, item.session, item.sync, {}, item.gamma);
    if (!p.ok()) {
      out[i].status = p.status();
      continue;
    }
    jobs.push_back(DraftJob{p->session, std::move(p->feed), item.gamma, 0,
                            p->session->draft_rng.get()});
    job_item.push_back(i);
  }
  std::vector<DraftOutcome> drafted = RunDraftSteps(model, jobs);
  for (size_t k = 0; k < jobs.size(); ++k) {
    DraftOutcome& d = drafted[k];
    EngineSession& s = *jobs[k].session;
    if (d.status.ok() && jobs[k].gamma > 0) {
      // The model ran the pending token and every draft but the last.
      s.cached = s.committed;
      s.cached.insert(s.cached.end(), d.draft.tokens.begin(), d.draft.tokens.end() - 1);
    } else if (!d.status.ok()) {
      (void)model.Truncate(s.sequence, std::min<int64_t>(s.cached.size(),
                                                         model.Length(s.sequence)));
    }
    out[job_item[k]] = std::move(d);
  }
  return out;
}

}  // namespace tandem::decoding
