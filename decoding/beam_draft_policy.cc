#include "decoding/beam_draft_policy.h"

#include <algorithm>
#include <cmath>

namespace tandem::decoding {
namespace {

// Older passes weigh less: costs move with load, coverage with the text.
constexpr double kDecay = 0.9;

}  // namespace

BeamDraftPolicy::BeamDraftPolicy(int max_depth, bool adaptive)
    : max_depth_(std::max(0, max_depth)),
      adaptive_(adaptive),
      tried_(max_depth_ + 1, 0.0),
      reached_(max_depth_ + 1, 0.0) {}

double BeamDraftPolicy::PassSeconds(double rows) const {
  if (n_ <= 0) return 0;
  const double mean_x = sx_ / n_, mean_y = sy_ / n_;
  const double var = sxx_ / n_ - mean_x * mean_x;
  double slope;
  if (var > 0.25) {  // At least two row counts seen.
    slope = std::max(0.0, (sxy_ / n_ - mean_x * mean_y) / var);
  } else {
    slope = mean_x > 0 ? kPriorRowShare * mean_y / mean_x : 0;
  }
  const double intercept = std::max(0.0, mean_y - slope * mean_x);
  return intercept + slope * rows;
}

double BeamDraftPolicy::Coverage(int depth) const {
  if (depth < 1 || depth > max_depth_) return 0;
  // Prior 0.5^depth with weight 1.
  return (reached_[depth] + std::pow(0.5, depth)) / (tried_[depth] + 1.0);
}

double BeamDraftPolicy::StepsPerSecond(int depth, int live_beams) const {
  if (n_ <= 0) return 0;
  double steps = 1;
  for (int i = 1; i <= depth; ++i) steps += Coverage(i);
  const double per_step = tokens_weight_ > 0 ? tokens_per_step_ : live_beams;
  const double draft = draft_weight_ > 0 ? draft_step_seconds_ : 0;
  const double seconds = PassSeconds(live_beams + per_step * depth) + draft * depth;
  return seconds > 0 ? steps / seconds : 0;
}

int BeamDraftPolicy::Next(int live_beams) {
  if (!adaptive_) return max_depth_;
  if (passes_ == 0) return std::min(1, max_depth_);
  int best = 0;
  double best_rate = StepsPerSecond(0, live_beams);
  for (int d = 1; d <= max_depth_; ++d) {
    const double rate = StepsPerSecond(d, live_beams);
    if (rate > best_rate) {
      best_rate = rate;
      best = d;
    }
  }
  if (probed_ > 0) {
    // The last probe's verdict: a deeper best resets the probing interval,
    // a probe that did not pay doubles it.
    probe_every_ = best >= probed_ ? kProbeEvery : std::min(2 * probe_every_, kMaxProbeEvery);
    probed_ = 0;
  }
  // Every probe_every-th pass looks one step deeper than the best, so a
  // depth that was not paying (or never tried) is measured again.
  if (best < max_depth_ && ++since_probe_ >= probe_every_) {
    since_probe_ = 0;
    probed_ = best + 1;
    return probed_;
  }
  return best;
}

void BeamDraftPolicy::Record(int depth, int64_t rows, int64_t tree_tokens,
                             absl::Duration draft_time, absl::Duration pass_time,
                             int64_t steps) {
  ++passes_;
  const double x = static_cast<double>(rows);
  const double y = absl::ToDoubleSeconds(pass_time);
  n_ = kDecay * n_ + 1;
  sx_ = kDecay * sx_ + x;
  sy_ = kDecay * sy_ + y;
  sxx_ = kDecay * sxx_ + x * x;
  sxy_ = kDecay * sxy_ + x * y;
  if (depth <= 0) return;
  const double per_step = absl::ToDoubleSeconds(draft_time) / depth;
  draft_step_seconds_ =
      (kDecay * draft_weight_ * draft_step_seconds_ + per_step) / (kDecay * draft_weight_ + 1);
  draft_weight_ = kDecay * draft_weight_ + 1;
  const double tokens = static_cast<double>(tree_tokens) / depth;
  tokens_per_step_ =
      (kDecay * tokens_weight_ * tokens_per_step_ + tokens) / (kDecay * tokens_weight_ + 1);
  tokens_weight_ = kDecay * tokens_weight_ + 1;
  for (int i = 1; i <= std::min(depth, max_depth_); ++i) {
    tried_[i] = kDecay * tried_[i] + 1;
    reached_[i] = kDecay * reached_[i] + (steps > i ? 1 : 0);
  }
}

}  // namespace tandem::decoding
