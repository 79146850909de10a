#include "decoding/backend_beam_search.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <utility>

#include <ATen/ATen.h>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "decoding/beam_draft_policy.h"

namespace tandem::decoding {
namespace {

struct LiveBeam {
  sampling::Beam beam;
  SessionId session = 0;
  int64_t known = 0;  // Committed tokens the session has seen.
};

// The candidates each scored prefix (generated tokens) got: where every
// token of every beam and hypothesis was chosen from.
using ScoredPrefixes = absl::flat_hash_map<std::vector<int64_t>, std::vector<sampling::TokenLogprob>>;

absl::StatusOr<std::vector<sampling::StepResult>> StepsOf(const ScoredPrefixes& scored,
                                                         const std::vector<int64_t>& tokens,
                                                         size_t from, size_t to, int top_n) {
  std::vector<sampling::StepResult> steps;
  std::vector<int64_t> prefix(tokens.begin(), tokens.begin() + from);
  for (size_t i = from; i < to; ++i) {
    auto it = scored.find(prefix);
    if (it == scored.end()) {
      return absl::InternalError(absl::StrCat("beam search: prefix of length ", i, " was never scored"));
    }
    sampling::StepResult step;
    step.token = tokens[i];
    bool found = false;
    for (const sampling::TokenLogprob& c : it->second) {
      if (c.token == tokens[i]) {
        step.logprob = c.logprob;
        found = true;
        break;
      }
    }
    if (!found) {
      return absl::InternalError(
          absl::StrCat("beam search: token ", tokens[i], " at ", i, " was not a candidate"));
    }
    step.prob = std::exp(step.logprob);
    const size_t n = std::min<size_t>(top_n, it->second.size());
    step.top.assign(it->second.begin(), it->second.begin() + n);
    steps.push_back(std::move(step));
    prefix.push_back(tokens[i]);
  }
  return steps;
}

// [rows.size(), vocab] log-probabilities: -inf except each row's
// candidates (a null row stays -inf).
at::Tensor CandidateLogProbs(const std::vector<const std::vector<sampling::TokenLogprob>*>& rows,
                             int64_t vocab) {
  at::Tensor out = at::full({static_cast<int64_t>(rows.size()), vocab},
                            -std::numeric_limits<float>::infinity());
  float* data = out.data_ptr<float>();
  for (size_t b = 0; b < rows.size(); ++b) {
    if (rows[b] == nullptr) continue;
    for (const sampling::TokenLogprob& c : *rows[b]) {
      if (c.token >= 0 && c.token < vocab) data[b * vocab + c.token] = static_cast<float>(c.logprob);
    }
  }
  return out;
}

// The length of the prefix `a` and `b` share.
size_t CommonPrefix(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  return static_cast<size_t>(std::mismatch(a.begin(), a.begin() + std::min(a.size(), b.size()),
                                           b.begin())
                                 .first -
                             a.begin());
}

// The length of the prefix that every live beam and every kept hypothesis
// shares: the returned best sequence starts with it whatever happens next.
size_t CertainPrefix(const std::vector<sampling::Beam>& live,
                     const std::vector<sampling::Hypothesis>& kept) {
  const std::vector<int64_t>* first =
      !live.empty() ? &live.front().tokens : (!kept.empty() ? &kept.front().tokens : nullptr);
  if (first == nullptr) return 0;
  size_t n = first->size();
  for (const sampling::Beam& b : live) n = std::min(n, CommonPrefix(*first, b.tokens));
  for (const sampling::Hypothesis& h : kept) n = std::min(n, CommonPrefix(*first, h.tokens));
  return n;
}

// The draft half of speculative beam search: runs the same beam search with
// the draft model's scores for a few steps from the live beams and returns,
// per live beam, the tree of prefixes the draft kept alive under it. Draft
// sessions are reused across passes; each beam is synced onto the session
// holding the longest common prefix (the draft engine recomputes only the
// rest). A draft failure turns drafting off for the request (the search goes
// on plain); it never fails the search.
class BeamDrafter {
 public:
  BeamDrafter(DraftBackend& draft, const std::vector<int64_t>& prompt, SessionOptions options,
              int draft_beams)
      : draft_(draft),
        prompt_(prompt),
        options_(std::move(options)),
        draft_beams_(draft_beams),
        top_n_(2 * draft_beams) {}
  ~BeamDrafter() {
    for (const Slot& slot : slots_) draft_.Close(slot.session);
  }

  bool ok() const { return ok_; }

  // Trees (tokens after each root's own, parents as Draft) for `roots`; a
  // root gets at most max_nodes[r] tokens.
  std::vector<Draft> Trees(const std::vector<sampling::Beam>& roots,
                           const sampling::BeamSearchOptions& options,
                           const sampling::BeamHypotheses& hypotheses, int steps,
                           const std::vector<int64_t>& max_nodes, int64_t vocab) {
    std::vector<Draft> trees(roots.size());
    std::vector<sampling::Beam> beams = roots;
    std::vector<size_t> root_of(beams.size());
    std::vector<int32_t> node_of(beams.size(), -1);  // -1: the root; -2: not in the tree.
    for (size_t b = 0; b < beams.size(); ++b) root_of[b] = b;
    sampling::BeamHypotheses draft_hypotheses = hypotheses;
    // The draft keeps more beams than the search: every target beam must be
    // in the tree for a step to go on, and the target's last beams are often
    // the draft's next ones.
    sampling::BeamSearchOptions wide = options;
    wide.num_beams = draft_beams_;
    for (int s = 0; s < steps && ok_; ++s) {
      std::vector<size_t> asked;  // Beams whose subtree can still grow.
      for (size_t b = 0; b < beams.size(); ++b) {
        if (node_of[b] != -2) asked.push_back(b);
      }
      if (asked.empty()) break;
      std::vector<sampling::Beam> subset;
      for (size_t b : asked) subset.push_back(beams[b]);
      absl::StatusOr<std::vector<std::vector<sampling::TokenLogprob>>> candidates =
          Candidates(subset);
      if (!candidates.ok()) {
        ok_ = false;
        break;
      }
      // Beams the draft did not score keep -inf: the draft search drops them.
      std::vector<const std::vector<sampling::TokenLogprob>*> rows(beams.size(), nullptr);
      for (size_t k = 0; k < asked.size(); ++k) rows[asked[k]] = &(*candidates)[k];
      absl::StatusOr<std::vector<sampling::Beam>> next = sampling::BeamSearchStep(
          beams, CandidateLogProbs(rows, vocab), wide, draft_hypotheses);
      if (!next.ok() || next->empty()) break;
      std::vector<size_t> next_root;
      std::vector<int32_t> next_node;
      for (const sampling::Beam& child : *next) {
        const size_t r = root_of[child.parent];
        const int32_t parent_node = node_of[child.parent];
        Draft& tree = trees[r];
        int32_t node = -2;
        if (parent_node != -2 &&
            static_cast<int64_t>(tree.tokens.size()) < max_nodes[r]) {
          node = static_cast<int32_t>(tree.tokens.size());
          tree.tokens.push_back(child.tokens.back());
          tree.parents.push_back(parent_node);
        }
        next_root.push_back(r);
        next_node.push_back(node);
      }
      beams = *std::move(next);
      root_of = std::move(next_root);
      node_of = std::move(next_node);
    }
    return trees;
  }

 private:
  struct Slot {
    SessionId session = 0;
    std::vector<int64_t> held;  // Generated tokens the session holds.
  };

  // The draft's top candidates after each beam's tokens: one ProposeAll
  // call, one batched draft step.
  absl::StatusOr<std::vector<std::vector<sampling::TokenLogprob>>> Candidates(
      const std::vector<sampling::Beam>& beams) {
    while (slots_.size() < beams.size()) {
      absl::StatusOr<SessionId> opened = draft_.Open(prompt_, options_);
      if (!opened.ok()) return opened.status();
      slots_.push_back({*opened, {}});
    }
    // Each beam takes the free session sharing the longest prefix with it.
    std::vector<bool> taken(slots_.size(), false);
    std::vector<ProposeItem> items;
    for (const sampling::Beam& beam : beams) {
      size_t best = 0, best_common = 0;
      bool found = false;
      for (size_t k = 0; k < slots_.size(); ++k) {
        const size_t common = CommonPrefix(slots_[k].held, beam.tokens);
        if (!taken[k] && (!found || common > best_common)) {
          best = k;
          best_common = common;
          found = true;
        }
      }
      taken[best] = true;
      Slot& slot = slots_[best];
      ProposeItem item;
      item.session = slot.session;
      // The session keeps the prefix it shares with the beam and appends
      // the rest (its committed tokens are the prompt and `held`).
      item.sync.base_length = static_cast<int64_t>(prompt_.size() + best_common);
      item.sync.append.assign(beam.tokens.begin() + best_common, beam.tokens.end());
      item.gamma = 1;
      item.top_logprobs = top_n_;
      slot.held = beam.tokens;
      items.push_back(std::move(item));
    }
    // One call: one batched draft step for every beam.
    std::vector<std::vector<sampling::TokenLogprob>> out;
    absl::Status failed;
    for (absl::StatusOr<TimedDraft>& drafted : draft_.ProposeAll(items)) {
      if (!drafted.ok()) {
        failed.Update(drafted.status());
        out.emplace_back();
        continue;
      }
      out.push_back(drafted->draft.candidates.empty() ? std::vector<sampling::TokenLogprob>{}
                                                       : drafted->draft.candidates.front());
    }
    if (!failed.ok()) return failed;
    return out;
  }

  DraftBackend& draft_;
  const std::vector<int64_t>& prompt_;
  SessionOptions options_;
  int draft_beams_;
  int top_n_;
  std::vector<Slot> slots_;
  bool ok_ = true;
};

}  // namespace

absl::StatusOr<BeamSearchResult> RunBackendBeamSearch(const BackendBeamSearchRequest& request,
                                                      TargetBackend& target) {
  const sampling::BeamSearchOptions& options = request.options;
  if (absl::Status s = sampling::ValidateBeamSearchOptions(options); !s.ok()) return s;
  if (request.top_logprobs < 0 || request.top_logprobs > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("`top_logprobs` must be in [0, 64], got ", request.top_logprobs));
  }
  if (request.draft != nullptr &&
      (request.draft_steps < 1 || request.draft_steps > kMaxBeamDraftSteps)) {
    return absl::InvalidArgumentError(absl::StrCat("`draft_steps` must be in [1, ",
                                                   kMaxBeamDraftSteps, "], got ",
                                                   request.draft_steps));
  }
  if (request.draft != nullptr && request.draft_beams != 0 &&
      (request.draft_beams < options.num_beams || request.draft_beams > kMaxTreeNodes)) {
    return absl::InvalidArgumentError(absl::StrCat("`draft_beams` must be 0 or in [num_beams=",
                                                   options.num_beams, ", ", kMaxTreeNodes,
                                                   "], got ", request.draft_beams));
  }
  const model::ModelInfo info = target.Info();
  const int64_t vocab = info.vocab_size;
  const int64_t prompt = static_cast<int64_t>(request.prompt.size());
  SessionOptions session = request.session;
  session.params.temperature = 0;
  if (session.max_sequence_length <= 0) {
    session.max_sequence_length = std::min(info.context_length, prompt + options.max_new_tokens);
  }
  SessionOptions draft_session = session;
  if (request.draft != nullptr) {
    // Room for a pass's tree beyond the longest sequence.
    session.max_sequence_length =
        std::min(info.context_length, session.max_sequence_length + kMaxTreeNodes);
    draft_session.max_sequence_length =
        std::min(request.draft->Info().context_length, draft_session.max_sequence_length + 1);
  }
  absl::StatusOr<SessionId> root = target.Open(request.prompt, session);
  if (!root.ok()) return root.status();
  std::vector<SessionId> open = {*root};
  auto close_all = [&] {
    for (SessionId id : open) target.Close(id);
  };
  const int candidates_per_beam = std::max(2 * options.num_beams, request.top_logprobs);
  const bool streaming = request.on_final_tokens && options.num_return_sequences == 1;
  std::optional<BeamDrafter> drafter;
  BeamDraftPolicy policy(request.draft_steps, request.adaptive_draft_steps);
  if (request.draft != nullptr) {
    drafter.emplace(*request.draft, request.prompt, draft_session,
                    request.draft_beams > 0
                        ? request.draft_beams
                        : std::max(options.num_beams, std::min(2 * options.num_beams,
                                                               kMaxTreeNodes)));
  }
  std::vector<LiveBeam> beams = {{sampling::Beam{}, *root, prompt}};
  sampling::BeamHypotheses hypotheses(options);
  ScoredPrefixes scored;
  BeamSearchResult result;
  size_t streamed = 0;
  std::vector<sampling::Beam> last;
  for (bool done = false; !done;) {  // One target pass per iteration.
    if (result.steps > 0 && absl::Now() >= request.deadline) {
      result.timed_out = true;
      for (const LiveBeam& b : beams) last.push_back(b.beam);
      break;
    }
    std::vector<sampling::Beam> current;
    for (const LiveBeam& b : beams) current.push_back(b.beam);
    std::vector<Draft> trees(beams.size());
    const int64_t left = options.max_new_tokens - result.steps;
    int depth = 0;
    absl::Duration draft_time;
    if (drafter && drafter->ok() && left > 1) {
      depth = static_cast<int>(
          std::min<int64_t>(policy.Next(static_cast<int>(beams.size())), left - 1));
    }
    if (depth > 0) {
      std::vector<int64_t> room;
      for (const LiveBeam& b : beams) {
        const int64_t n = prompt + static_cast<int64_t>(b.beam.tokens.size());
        room.push_back(std::clamp<int64_t>(session.max_sequence_length - n, 0, kMaxTreeNodes));
      }
      const absl::Time start = absl::Now();
      trees = drafter->Trees(current, options, hypotheses, depth, room, vocab);
      draft_time = absl::Now() - start;
      result.draft_time += draft_time;
    }
    const absl::Time score_start = absl::Now();
    const int64_t steps_before = result.steps;
    int64_t tree_tokens = 0;
    // Score every live beam and its tree in one call: one target pass.
    std::vector<ScoreItem> items;
    for (size_t b = 0; b < beams.size(); ++b) {
      LiveBeam& live = beams[b];
      ScoreItem item{live.session, {live.known, {}}, candidates_per_beam, trees[b]};
      const int64_t done_tokens = live.known - prompt;
      item.sync.append.assign(live.beam.tokens.begin() + done_tokens, live.beam.tokens.end());
      live.known = prompt + static_cast<int64_t>(live.beam.tokens.size());
      tree_tokens += static_cast<int64_t>(trees[b].tokens.size());
      items.push_back(std::move(item));
    }
    result.drafted_nodes += tree_tokens;
    std::vector<absl::StatusOr<Scores>> scored_items = target.ScoreAll(items);
    ++result.target_passes;
    absl::Status failed;
    for (size_t b = 0; b < beams.size(); ++b) {
      absl::StatusOr<Scores>& got = scored_items[b];
      if (!got.ok()) {
        failed.Update(got.status());
        continue;
      }
      const Draft& tree = trees[b];
      if (got->node_candidates.size() != tree.tokens.size()) {
        failed.Update(absl::InternalError("the target scored a tree only in part"));
        continue;
      }
      // Node i's prefix: the beam's tokens, then the path to node i.
      std::vector<std::vector<int64_t>> prefix(tree.tokens.size());
      for (size_t i = 0; i < tree.tokens.size(); ++i) {
        prefix[i] = tree.parents[i] < 0 ? beams[b].beam.tokens : prefix[tree.parents[i]];
        prefix[i].push_back(tree.tokens[i]);
        scored[prefix[i]] = std::move(got->node_candidates[i]);
      }
      scored[beams[b].beam.tokens] = std::move(got->candidates);
    }
    result.score_time += absl::Now() - score_start;
    if (!failed.ok()) {
      close_all();
      return failed;
    }
    // Steps while every live beam's next-token candidates are known; each
    // beam remembers the pass's beam (its session) it descends from.
    std::vector<size_t> ancestor(current.size());
    for (size_t b = 0; b < ancestor.size(); ++b) ancestor[b] = b;
    for (bool first = true;; first = false) {
      if (!first && absl::Now() >= request.deadline) {
        result.timed_out = true;
        last = current;
        done = true;
        break;
      }
      std::vector<const std::vector<sampling::TokenLogprob>*> known;
      for (const sampling::Beam& b : current) {
        auto it = scored.find(b.tokens);
        if (it == scored.end()) break;
        known.push_back(&it->second);
      }
      if (known.size() < current.size()) break;  // The next step needs a target pass.
      auto next =
          sampling::BeamSearchStep(current, CandidateLogProbs(known, vocab), options, hypotheses);
      if (!next.ok()) {
        close_all();
        return next.status();
      }
      ++result.steps;
      if (next->empty()) {  // Done: the hypotheses hold the answer.
        done = true;
        break;
      }
      if (result.steps == options.max_new_tokens) {
        last = *std::move(next);
        done = true;
        break;
      }
      if (streaming) {
        const size_t certain = CertainPrefix(*next, hypotheses.Sorted());
        if (certain > streamed) {
          absl::StatusOr<std::vector<sampling::StepResult>> steps =
              StepsOf(scored, next->front().tokens, streamed, certain, request.top_logprobs);
          if (!steps.ok()) {
            close_all();
            return steps.status();
          }
          request.on_final_tokens(*steps);
          streamed = certain;
        }
      }
      std::vector<size_t> next_ancestor;
      for (const sampling::Beam& child : *next) next_ancestor.push_back(ancestor[child.parent]);
      current = *std::move(next);
      ancestor = std::move(next_ancestor);
    }
    if (done) break;
    // The first descendant of a pass's beam inherits its session; others
    // fork it at the length it was scored at.
    const absl::Time fork_start = absl::Now();
    std::vector<bool> claimed(beams.size(), false);
    std::vector<LiveBeam> following;
    for (size_t j = 0; j < current.size(); ++j) {
      const LiveBeam& from = beams[ancestor[j]];
      LiveBeam live{std::move(current[j]), from.session, from.known};
      if (claimed[ancestor[j]]) {
        absl::StatusOr<SessionId> fork = target.Fork(from.session, from.known);
        if (!fork.ok()) {
          close_all();
          return fork.status();
        }
        open.push_back(*fork);
        live.session = *fork;
      }
      claimed[ancestor[j]] = true;
      following.push_back(std::move(live));
    }
    for (size_t b = 0; b < beams.size(); ++b) {
      if (!claimed[b]) {
        target.Close(beams[b].session);
        open.erase(std::find(open.begin(), open.end(), beams[b].session));
      }
    }
    beams = std::move(following);
    result.fork_time += absl::Now() - fork_start;
    // Passes that ended the search are not recorded: their steps were cut
    // short by the end, not by the trees.
    if (drafter) {
      policy.Record(depth, static_cast<int64_t>(items.size()) + tree_tokens, tree_tokens,
                    draft_time, absl::Now() - score_start, result.steps - steps_before);
    }
  }
  close_all();
  result.draft_fell_back = drafter.has_value() && !drafter->ok();
  for (sampling::Hypothesis& h : sampling::FinalizeBeamSearch(last, options, hypotheses)) {
    absl::StatusOr<std::vector<sampling::StepResult>> steps =
        StepsOf(scored, h.tokens, 0, h.tokens.size(), request.top_logprobs);
    if (!steps.ok()) return steps.status();
    result.sequences.push_back({std::move(h), *std::move(steps)});
  }
  if (streaming && !result.sequences.empty()) {
    const std::vector<sampling::StepResult>& best = result.sequences.front().steps;
    if (best.size() > streamed) {
      request.on_final_tokens(absl::MakeConstSpan(best).subspan(streamed));
    }
  }
  return result;
}

}  // namespace tandem::decoding
