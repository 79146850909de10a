#include "decoding/tree_shape_policy.h"

#include <algorithm>
#include <cmath>

namespace tandem::decoding {

TreeShape TreeShapePolicy::Next(int gamma, const DraftLengthPolicy& chain) {
  if (most_.alternatives <= 0 || most_.depth <= 0 || gamma <= 0) return {};
  const TreeShape tree{most_.alternatives, std::min(most_.depth, gamma)};
  if (!adaptive_) return tree;
  const int rows = gamma + 1;
  const double alone = chain.MarginalSeconds(rows);
  const double with_tree = chain.MarginalSeconds(rows + tree.alternatives * tree.depth);
  if (alone <= 0 || with_tree <= 0) return {};  // No load signal yet: no basis.
  const double a = std::min(chain.alpha(), 1.0 - 1e-9);
  const double tokens = (1.0 - std::pow(a, gamma + 1)) / (1.0 - a);
  const double rejected_where_alternatives = 1.0 - std::pow(a, tree.depth);
  const auto pays = [&](double beta) {
    return (tokens + beta * rejected_where_alternatives) / with_tree > tokens / alone;
  };
  if (!pays(1.0)) return {};  // Not even if every alternative were taken.
  if (pays(alternative_rate())) {
    probe_interval_ = kProbeRounds;
    until_probe_ = kProbeRounds;
    return tree;
  }
  if (--until_probe_ > 0) return {};
  // A probe refreshes β; the next one waits twice as long.
  probe_interval_ = std::min(2 * probe_interval_, kMaxProbeRounds);
  until_probe_ = probe_interval_;
  return tree;
}

void TreeShapePolicy::Update(bool rejected_within_depth, bool alternative_accepted) {
  if (!rejected_within_depth) return;
  hits_ = kDecay * hits_ + (alternative_accepted ? 1.0 : 0.0);
  tries_ = kDecay * tries_ + 1.0;
}

}  // namespace tandem::decoding
