#ifndef TANDEM_SAMPLING_DRAFT_DISTRIBUTION_H_
#define TANDEM_SAMPLING_DRAFT_DISTRIBUTION_H_

#include <cstdint>
#include <vector>

#include <ATen/ATen.h>

#include "absl/status/statusor.h"

namespace tandem::sampling {

// The distribution q a drafter drew one draft token from, in the form it
// travels to the verifier. Exactness rests on q being bit-for-bit the values
// the drafter sampled from; every form below carries them unchanged.
struct DraftDistribution {
  enum class Kind {
    kNone,    // No distribution (n-gram lookup): treated as one-hot on the token.
    kOneHot,  // Greedy drafter: all mass on the drafted token.
    kSparse,  // Truncated support (top-k/top-p/min-p): ids + probabilities.
    kDense,   // Full vocabulary: probs has shape [V].
  };

  Kind kind = Kind::kNone;
  std::vector<int64_t> ids;   // kSparse: token ids, each at most once.
  std::vector<float> probs;   // kSparse: probability of ids[i].
  at::Tensor dense;           // kDense: float32 [V], any device.

  static DraftDistribution None() { return {}; }
  static DraftDistribution OneHot() {
    DraftDistribution d;
    d.kind = Kind::kOneHot;
    return d;
  }
  static DraftDistribution Sparse(std::vector<int64_t> ids,
                                  std::vector<float> probs);
  static DraftDistribution Dense(at::Tensor probs);

  // True when q is a point mass on the drafted token.
  bool IsPointMass() const {
    return kind == Kind::kNone || kind == Kind::kOneHot;
  }
};

// Packs the probabilities a drafter sampled from (1-D [V], any device) into
// the cheaper exact form: sparse when the nonzero entries take fewer bytes as
// (id, prob) pairs (8 bytes each) than the dense vector (4 bytes per token),
// dense otherwise. Zero entries are dropped, nothing is rounded.
DraftDistribution PackDraftDistribution(const at::Tensor& probs);

// q(token) under `dist`, where `drafted` is the token the drafter emitted.
// InvalidArgument if the distribution is malformed (ids out of [0, vocab),
// negative or non-finite probabilities, size mismatch).
absl::StatusOr<double> DraftProbability(const DraftDistribution& dist,
                                        int64_t drafted, int64_t token,
                                        int64_t vocab_size);

// q as a dense float32 [V] tensor on `device` (one-hot on `drafted` for the
// point-mass kinds).
at::Tensor DraftDense(const DraftDistribution& dist, int64_t drafted,
                      int64_t vocab_size, const at::Device& device);

}  // namespace tandem::sampling

#endif  // TANDEM_SAMPLING_DRAFT_DISTRIBUTION_H_
