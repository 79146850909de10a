#ifndef TANDEM_DECODING_DRAFT_LENGTH_POLICY_H_
#define TANDEM_DECODING_DRAFT_LENGTH_POLICY_H_

#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "absl/types/span.h"

namespace tandem::decoding {

// Chooses the draft length γ for each round of one request.
//  * Fixed: always `initial`.
//  * Adaptive: from the rounds so far it estimates
//      α     the per-position acceptance probability (accepted / examined
//            draft positions, exponentially decayed);
//      d     the drafting time per drafted token the loop waited for (with
//            pipelined drafting, the exposed part only);
//      v(γ)  the time of a verify round with γ drafts. Verification is not
//            free: on a CPU the target is compute-bound after a few rows, and
//            under load the batch it joins is fuller. v is tracked per γ
//            (decayed means) and, for γ not yet seen, taken from the
//            least-squares line through the γ seen in the last kFreshRounds
//            rounds (or, with one γ seen, a line with a prior slope of
//            kPriorRowCost of a step per row);
//    and picks the γ in [1, max] maximising the expected speedup over
//    plain decoding
//        S(γ) = E(α, γ) · v(0) / (γ d + v(γ)),  E = (1 − α^(γ+1)) / (1 − α),
//    Leviathan et al.'s formula with the measured verify cost in place of
//    "one step". When the target reports its load signal (the marginal
//    cost m(k) of k rows of this session in a step shared with the other
//    sessions' rows; step_cost_model.h), speculation must also pay for the
//    target's throughput: S is capped by
//        S_target(γ) = E(α, γ) · m(1) / (m(γ + 1) + γ d),
//    which is ≈ Leviathan's when the session is alone and drops below 1
//    when the target is compute-saturated (m(k) ≈ k m(1)); the round's
//    transport latency o (RPC, measured) is added to both m's, since every
//    round pays it whatever its rows — weighted by 1 − b, where b is how
//    much of the target's time other sessions fill (as the target reports
//    it): while others keep it busy their steps fill that latency, so fewer
//    rounds cannot win it back for the target's throughput; a lone stream
//    (b = 0, however busy it keeps the target itself) amortizes all of it.
//    When even the best S is below 1 speculation does not pay
//    (a low α, a dear draft, or a saturated target): γ = 0 (plain decoding)
//    for kBackoffRounds rounds, which also measures v(0), then one γ = 1
//    probe refreshes the estimates; each probe that still does not pay
//    doubles the next back-off, up to kMaxBackoffRounds.
//    The target's load signal comes with plain rounds too, so the target's
//    side needs no probe: a request's first round is plain (it measures
//    v(0) and the target's load before anything is drafted, and its first
//    token waits for no draft), and the initial rounds and every probe
//    happen only while the target's load leaves room: E(α, γ) m(1) ≥
//    m(γ + 1) for some γ (TargetMayPay: the rows alone, with free drafting
//    and no latency to amortize — so a dear draft never holds a probe back,
//    and neither can one round's transport time, which under load is mostly
//    queueing, push a request into drafting on a saturated target). While
//    the target stays saturated a request drafts nothing at all — with a
//    lazily opened draft session
//    (draft_model_drafter.h) the draft service does no work for it — and
//    the probe that was due runs in the first round the target has room.
//    When the draft shares the target's CPU (`draft_shares_cpu`), its whole
//    compute time per drafted token c (the draft server's own time, hidden
//    pre-drafts included) is taken from the target's other sessions in
//    proportion b to how much of the target's time they fill: S_target's
//    denominator and the gate's right-hand side gain b · γ · c. Alone (b = 0)
//    nothing changes; on a split deployment the flag is off.
//    A floor `min` >= 1 (AdaptiveDraftLength.min_draft_length) restricts
//    the choice to [min, max] and turns the back-off off: the client asked
//    for speculation whether or not the model says it pays. (The loop may
//    still verify fewer drafts when the token budget or the context leaves
//    less room, or when the drafter proposes fewer.) min = 0 is the policy
//    above.
// Not thread-safe (one per request).
class DraftLengthPolicy {
 public:
  // `initial` is clamped to [max(min, 1), max] when adaptive.
  DraftLengthPolicy(int initial, int max, bool adaptive, int min = 0,
                    bool draft_shares_cpu = false);

  // The γ for the next round (advances the back-off schedule).
  int Next();
  // What Next() would return now, without advancing anything (a pipelined
  // drafter's guess of the next round's γ).
  int Peek() const;
  // One finished round: γ it drafted, drafts accepted, the drafting time the
  // loop waited for, the verify round's time, and the target's load signal
  // (seconds for 1, 2, ... rows; empty when the target sends none).
  // `transport` is the part of verify_time spent outside the target's own
  // handling (RPC), when known: a per-round latency that speculation
  // amortizes but that costs the target nothing. `others_busy` in [0, 1]
  // is how much of the target's time other sessions fill, as it reports it
  // (0 when unknown). `draft_compute` is the drafting server's own time for
  // this round, hidden pre-drafts included (zero when unknown).
  void Update(int drafted, int accepted, absl::Duration draft_time,
              absl::Duration verify_time, absl::Span<const float> marginal_seconds = {},
              absl::Duration transport = absl::ZeroDuration(), double others_busy = 0,
              absl::Duration draft_compute = absl::ZeroDuration());

  double alpha() const;
  // Drafting cost per token relative to a plain decode step (v(0)).
  double cost_ratio() const;
  // The modelled verify time (seconds) of a round with γ drafts; 0 before
  // any round.
  double VerifySeconds(int gamma) const;
  // S(γ) under the current estimates (the minimum of the request's own
  // view and the target's, when the target sends its load signal).
  double ModelSpeedup(int gamma) const;
  // The target's marginal seconds for `rows` rows of this session (decayed
  // mean of the reports, extrapolated linearly past the reported rows); 0
  // without reports.
  double MarginalSeconds(int rows) const;
  // The target's side of S(γ): E(α, γ) · (m(1) + o) / (m(γ + 1) + o + γ d);
  // +infinity without the load signal.
  double TargetSpeedup(int gamma) const;
  // Whether the target's load leaves room for some γ in [1, max]: the rows
  // alone pay, E(α, γ) · m(1) >= m(γ + 1) — free drafting, no latency to
  // amortize (always true without the signal).
  bool TargetMayPay() const;
  static double ExpectedSpeedup(double alpha, double c, int gamma);

  static constexpr int kBackoffRounds = 8;
  static constexpr int kMaxBackoffRounds = 64;
  static constexpr double kPriorRowCost = 0.1;
  // A verify time not refreshed for this many rounds is ignored (the load
  // may have changed since).
  static constexpr int kFreshRounds = 32;
  // Weight of a new measurement in the decayed means (verify times, drafting
  // cost, load signal).
  static constexpr double kWeight = 0.2;

 private:
  // What Next() does now: the γ and how the schedule advances.
  enum class Move { kNone, kBackoffTick, kHoldProbe, kEnterBackoff, kSpeculate };
  struct Choice {
    int gamma;
    Move move;
  };
  Choice Decide() const;
  // E(α, γ): the tokens a round with γ drafts emits, under the current α.
  double ExpectedTokens(int gamma) const;
  bool HasLoadSignal() const;
  // What γ drafts take from the target's other sessions: b · γ · c when the
  // draft shares the target's CPU, else 0 (seconds).
  double SharedCpuSeconds(int gamma) const;
  bool Fresh(int gamma) const;
  // The γ maximising ModelSpeedup, and that speedup.
  std::pair<int, double> Best() const;

  int initial_;
  int max_;
  int min_;  // 0, or the floor in [1, max_].
  bool adaptive_;
  bool draft_shares_cpu_;
  double draft_compute_per_token_ = 0;  // Decayed mean, seconds.
  double accepted_ = 0;
  double examined_ = 0;
  double draft_seconds_per_token_ = 0;
  std::vector<double> verify_seconds_;  // [γ], decayed mean; 0 = unseen.
  std::vector<int> updated_at_;         // [γ], round of the last update.
  std::vector<double> marginal_;        // [rows − 1], decayed mean.
  double transport_seconds_ = 0;        // Decayed mean per round.
  double others_busy_ = 0;              // Decayed mean of the reports.
  int rounds_ = 0;
  int backoff_left_ = 0;
  int backoff_length_ = kBackoffRounds;
};

}  // namespace tandem::decoding

#endif  // TANDEM_DECODING_DRAFT_LENGTH_POLICY_H_
