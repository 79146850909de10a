#ifndef TANDEM_DECODING_STEP_COST_MODEL_H_
#define TANDEM_DECODING_STEP_COST_MODEL_H_

#include <cstdint>
#include <map>
#include <vector>

#include "absl/time/time.h"

namespace tandem::decoding {

// How long one engine step takes as a function of the rows it runs, learned
// from the steps themselves (decayed means per row count, row counts above
// 32 in buckets), and what extra rows cost on top of a step.
//
// This is the load signal for speculation: a request deciding its draft
// length needs the *marginal* cost of its rows in the step it will share
// with other sessions. Alone (0 other rows) that is T(k) — the first row
// pays for streaming the weights, later ones ride along while the step is
// memory-bound. In a step full of other rows it is T(o + k) − T(o), about
// k rows' compute: there plain decoding yields one token per row and
// speculation fewer (E(α, γ) / (γ + 1) < 1), so it should stop.
//
// Estimates between measured row counts are linear interpolations through
// (0, 0) and the measurements; beyond the largest, the last slope extends
// them. With one row count R measured, each further row is taken to cost
// min(T(R)/R, kPriorRowShare · T(R)): a server that has only run 1-row
// steps (one plain stream) does not know yet whether rows are free
// (memory-bound) or cost a row's compute, and claiming the latter would
// tell every request that drafting can never pay — so none would draft,
// and the cost of more rows would never be measured. Marginals are never
// negative. Not thread-safe (the engine's step runs under its mutex).
class StepCostModel {
 public:
  void Record(int64_t rows, absl::Duration time);
  // T(rows) in seconds; 0 for rows <= 0 or before any Record.
  double Seconds(int64_t rows) const;
  // [T(others + j) − T(others)] for j = 1..max_rows, in seconds; empty
  // before any Record. Beside kSmoothFrom or more other rows, T is the
  // least-squares line through the measurements between others / 2 and
  // 2 · others + max_rows (when it holds two or more): there the step is
  // compute-bound and rows cost about the same each, while neighbouring
  // row counts' means are noisy (each step mixes decode, verify and prefill
  // rows), and interpolating between two noisy means can make a few rows
  // look free — enough to start drafting on a saturated target.
  std::vector<float> Marginal(int64_t others, int max_rows) const;
  bool empty() const { return seconds_.empty(); }

  static constexpr double kWeight = 0.1;  // Of a new measurement in the mean.
  // A further row's cost, as a share of the only measured step (above).
  static constexpr double kPriorRowShare = 0.1;
  static constexpr int64_t kSmoothFrom = 8;

 private:
  static int64_t Bucket(int64_t rows);
  std::map<int64_t, double> seconds_;  // Bucket → decayed mean step time.
};

// The fraction of wall time an engine spends in steps (decayed over recent
// steps): the gap between one step's end and the next step's start is idle.
// Not thread-safe.
class BusyFraction {
 public:
  void Record(absl::Time start, absl::Time end);
  // In [0, 1]; 1 before the first gap is known (assume saturated).
  double fraction() const { return fraction_; }

  static constexpr double kWeight = 0.05;

 private:
  absl::Time last_end_ = absl::InfinitePast();
  double fraction_ = 1.0;
};

// Which share of an engine's recent rows each session ran (decayed by
// kDecay per step), so that a session can tell how much of the engine's
// time other sessions fill — also when every step runs one session alone
// (an idle engine runs an arriving call by itself, so 4 streams often step
// one after another, never together). Each session keeps its own decayed
// count (`Session`, stored with the session and dying with it); the engine
// keeps the total. Not thread-safe (the engine's step runs under its mutex).
class RowShare {
 public:
  struct Session {
    double rows = 0;     // Decayed, as of `step`.
    int64_t step = -1;   // The step it was last updated at.
  };
  // A new step of `rows` rows in all; then Add each session's part of it.
  void Step(int64_t rows);
  void Add(Session& session, int64_t rows) const;
  // Other sessions' share of the recent rows, in [0, 1]; 0 before any step.
  double OthersShare(const Session& session) const;

  static constexpr double kDecay = 0.9;

 private:
  double Own(const Session& session) const;
  double total_ = 0;
  int64_t step_ = -1;
};

}  // namespace tandem::decoding

#endif  // TANDEM_DECODING_STEP_COST_MODEL_H_
