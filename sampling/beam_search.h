#ifndef TANDEM_SAMPLING_BEAM_SEARCH_H_
#define TANDEM_SAMPLING_BEAM_SEARCH_H_

// Beam-search scoring and bookkeeping (Hugging Face BeamSearchScorer
// semantics). The loop that runs a model lives above this layer; it calls
// BeamSearchStep once per generated position and FinalizeBeamSearch at the end.

#include <cstdint>
#include <functional>
#include <vector>

#include <ATen/ATen.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tandem::sampling {

enum class EarlyStopping {
  kHeuristic,  // Stop when no live beam can beat the worst kept hypothesis.
  kTrue,       // Stop as soon as num_beams hypotheses are finished.
  kNever,      // Stop only when no beam could ever improve (canonical search).
};

struct BeamSearchOptions {
  int num_beams = 1;                 // >= 1.
  double length_penalty = 1.0;       // score = sum_logprobs / length^penalty.
  EarlyStopping early_stopping = EarlyStopping::kHeuristic;
  int num_return_sequences = 1;      // in [1, num_beams].
  std::vector<int64_t> eos_token_ids;
  int64_t max_new_tokens = 16;       // >= 1; bounds kNever's estimate.
  // Optional: whether a candidate (generated tokens, the new one last) ends
  // its sequence other than by EOS (e.g. a stop string matched); such a
  // candidate is treated exactly like one ending in EOS. Called at most
  // 2*num_beams times per step; must not block.
  std::function<bool(const std::vector<int64_t>& tokens)> ends_hypothesis;
};

// InvalidArgument naming the field and its range.
absl::Status ValidateBeamSearchOptions(const BeamSearchOptions& options);

// A live beam: its generated tokens and their summed log-probability.
struct Beam {
  std::vector<int64_t> tokens;
  double sum_logprobs = 0.0;
  // Index (in the previous step's beams) of the beam this one extends; -1 for
  // the initial beam.
  int64_t parent = -1;
};

// A finished hypothesis. Its length for the penalty is tokens.size(), which
// includes the EOS token when it ended on one.
struct Hypothesis {
  std::vector<int64_t> tokens;
  double sum_logprobs = 0.0;
  double score = 0.0;
};

// The best `num_beams` finished hypotheses seen so far.
class BeamHypotheses {
 public:
  explicit BeamHypotheses(const BeamSearchOptions& options);

  // Length-penalised score of a hypothesis with this sum and length.
  double Score(double sum_logprobs, int64_t length) const;

  // Keeps the hypothesis if fewer than num_beams are kept or it beats the
  // worst one (which is then dropped).
  void Add(std::vector<int64_t> tokens, double sum_logprobs);

  // Whether the search can stop, given the best live sum of log-probabilities
  // and the current generated length.
  bool IsDone(double best_live_sum_logprobs, int64_t length) const;

  // Kept hypotheses, best score first.
  std::vector<Hypothesis> Sorted() const;
  size_t size() const { return hypotheses_.size(); }

 private:
  BeamSearchOptions options_;
  std::vector<Hypothesis> hypotheses_;
  double worst_score_ = 1e9;
};

// One step. `beams` are the live beams (1..num_beams; the first step passes a
// single beam), `log_probs` [beams.size(), V] their processed next-token
// log-probabilities. Candidates are ranked by sum_logprobs + log_prob; the
// best 2*num_beams are examined in order: one ending in EOS among the first
// num_beams (or accepted by options.ends_hypothesis) becomes a hypothesis, others
// extend beams until num_beams live
// beams exist. Returns the next live beams (empty when the search is done).
absl::StatusOr<std::vector<Beam>> BeamSearchStep(
    const std::vector<Beam>& beams, const at::Tensor& log_probs,
    const BeamSearchOptions& options, BeamHypotheses& hypotheses);

// Adds the live beams as hypotheses (for searches stopped by length) and
// returns the best num_return_sequences, best first.
std::vector<Hypothesis> FinalizeBeamSearch(const std::vector<Beam>& beams,
                                           const BeamSearchOptions& options,
                                           BeamHypotheses& hypotheses);

}  // namespace tandem::sampling

#endif  // TANDEM_SAMPLING_BEAM_SEARCH_H_
