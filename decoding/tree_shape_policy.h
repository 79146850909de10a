#ifndef TANDEM_DECODING_TREE_SHAPE_POLICY_H_
#define TANDEM_DECODING_TREE_SHAPE_POLICY_H_

// Chooses, round by round, whether a draft-model round drafts a token tree
// (its chain plus alternatives, draft_steps.h) or a plain chain.
//
// A tree adds k = alternatives × depth target rows to the round. It pays when
// the tokens it adds outweigh the time those rows add:
//   (E + β (1 − α^depth)) / m(γ + 1 + k)  >  E / m(γ + 1),
// with E = (1 − α^(γ+1)) / (1 − α) the chain's expected tokens per round, α
// the chain's measured acceptance (DraftLengthPolicy), 1 − α^depth the chance
// that the chain is rejected at a position that has alternatives, β the
// measured chance that an alternative is then accepted, and m(rows) the
// target's measured marginal cost of that many rows of this session
// (the load signal). On a target where a row costs almost nothing (a GPU, a
// memory-bound model) trees pay; on a CPU whose verify cost grows with every
// row past a few (docs/benchmarks.md) they do not, and the policy keeps
// chains. While a tree would pay only for a β better than measured, it still
// drafts one every probe interval (16 rounds, doubling to 128 while probes do
// not pay) to keep β current; it never probes a tree that could not pay even
// if every alternative hit. Not thread-safe (one generation loop).

#include "decoding/draft_length_policy.h"

namespace tandem::decoding {

struct TreeShape {
  int alternatives = 0;  // Per drafted position; 0 = a chain.
  int depth = 0;         // Drafted positions with alternatives.
};

class TreeShapePolicy {
 public:
  // `most`: the tree to draft when drafting one. Not adaptive: always `most`.
  TreeShapePolicy(TreeShape most, bool adaptive) : most_(most), adaptive_(adaptive) {}

  // The shape for a round of `gamma` drafts, given the chain's policy (α and
  // the load signal).
  TreeShape Next(int gamma, const DraftLengthPolicy& chain);

  // After a round that drafted a tree: whether the chain was rejected at a
  // position with alternatives, and whether an alternative was accepted
  // there.
  void Update(bool rejected_within_depth, bool alternative_accepted);

  // β: the decayed rate of alternatives accepted where the chain was
  // rejected (a weak prior of 0.3 before any tree).
  double alternative_rate() const { return (hits_ + 0.3 * kPrior) / (tries_ + kPrior); }

  static constexpr int kProbeRounds = 16;
  static constexpr int kMaxProbeRounds = 128;
  static constexpr double kPrior = 4.0;  // Pseudo-observations behind the prior.
  static constexpr double kDecay = 0.95;

 private:
  TreeShape most_;
  bool adaptive_;
  double hits_ = 0, tries_ = 0;
  int until_probe_ = kProbeRounds;
  int probe_interval_ = kProbeRounds;
};

}  // namespace tandem::decoding

#endif  // TANDEM_DECODING_TREE_SHAPE_POLICY_H_
