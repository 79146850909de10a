#ifndef TANDEM_DECODING_BEAM_DRAFT_POLICY_H_
#define TANDEM_DECODING_BEAM_DRAFT_POLICY_H_

#include <cstdint>
#include <vector>

#include "absl/time/time.h"

namespace tandem::decoding {

// Chooses, before each target pass of one speculative beam search
// (backend_beam_search.h), how many draft beam steps to run: the tree depth
// D, 0 = a plain pass.
//  * Fixed: always `max_depth`.
//  * Adaptive: from the passes so far it estimates
//      T(r)  a pass's time without its drafting (the score call, session
//            forks, bookkeeping) as a function of its target rows r: the
//            least-squares line through the passes seen (decayed); with one
//            row count seen, a line whose slope gives rows kPriorRowShare of
//            the time (on a CPU the target is compute-bound after a few rows);
//      d     the draft's time per draft step (decayed mean);
//      n     tree tokens per draft step (decayed mean; prior: one per beam);
//      P(i)  the fraction of passes drafted to depth >= i that took more
//            than i steps (their trees held every live beam through step i),
//            decayed, with a prior of 0.5^i of weight 1;
//    and picks the D in [0, max_depth] that maximises steps per second
//        R(D) = (1 + Σ_{i=1..D} P(i)) / (T(beams + n·D) + d·D).
//    The first pass drafts depth 1 (nothing is known yet; a deep first
//    tree is dear where rows are). Below max_depth, a probe pass drafts one
//    step deeper than the best D to refresh P, d and T there, so the depth
//    climbs where deeper trees pay and a search that backed off to plain
//    passes comes back when drafting starts to pay. Probes come every
//    kProbeEvery passes; each probe after which the best stays below the
//    probed depth doubles the interval, up to kMaxProbeEvery.
// Not thread-safe (one per search).
class BeamDraftPolicy {
 public:
  static constexpr int kProbeEvery = 8;
  static constexpr int kMaxProbeEvery = 64;
  static constexpr double kPriorRowShare = 0.5;

  BeamDraftPolicy(int max_depth, bool adaptive);

  // The depth for the next pass of a search with `live_beams` beams.
  int Next(int live_beams);
  // One finished pass: its depth, target rows (beams + tree tokens), tree
  // tokens, drafting time, the rest of its time, and the steps it took.
  void Record(int depth, int64_t rows, int64_t tree_tokens, absl::Duration draft_time,
              absl::Duration pass_time, int64_t steps);

  // R(D) under the current estimates (steps per second; 0 before any pass).
  double StepsPerSecond(int depth, int live_beams) const;
  // T(rows) in seconds under the current estimates (0 before any pass).
  double PassSeconds(double rows) const;
  // P(i) for i >= 1.
  double Coverage(int depth) const;

 private:
  int max_depth_;
  bool adaptive_;
  int64_t passes_ = 0;
  int since_probe_ = 0;
  int probe_every_ = kProbeEvery;
  int probed_ = 0;  // Depth of the last probe, until Next judges it.
  // Decayed least-squares sums of (rows, seconds).
  double n_ = 0, sx_ = 0, sy_ = 0, sxx_ = 0, sxy_ = 0;
  double draft_step_seconds_ = 0, draft_weight_ = 0;
  double tokens_per_step_ = 0, tokens_weight_ = 0;
  std::vector<double> tried_, reached_;  // Index i: depth i (1-based; [0] unused).
};

}  // namespace tandem::decoding

#endif  // TANDEM_DECODING_BEAM_DRAFT_POLICY_H_
