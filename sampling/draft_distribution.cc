#include "sampling/draft_distribution.h"

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"

namespace tandem::sampling {

DraftDistribution DraftDistribution::Sparse(std::vector<int64_t> ids,
                                            std::vector<float> probs) {
  DraftDistribution d;
  d.kind = Kind::kSparse;
  d.ids = std::move(ids);
  d.probs = std::move(probs);
  return d;
}

DraftDistribution DraftDistribution::Dense(at::Tensor probs) {
  DraftDistribution d;
  d.kind = Kind::kDense;
  d.dense = std::move(probs);
  return d;
}

DraftDistribution PackDraftDistribution(const at::Tensor& probs) {
  at::Tensor cpu = probs.to(at::kCPU, at::kFloat).contiguous();
  const float* p = cpu.data_ptr<float>();
  const int64_t vocab = cpu.numel();
  int64_t nonzero = 0;
  for (int64_t i = 0; i < vocab; ++i) nonzero += p[i] != 0.0f;
  if (nonzero * 8 >= vocab * 4) return DraftDistribution::Dense(cpu);
  std::vector<int64_t> ids;
  std::vector<float> values;
  ids.reserve(nonzero);
  values.reserve(nonzero);
  for (int64_t i = 0; i < vocab; ++i) {
    if (p[i] != 0.0f) {
      ids.push_back(i);
      values.push_back(p[i]);
    }
  }
  return DraftDistribution::Sparse(std::move(ids), std::move(values));
}

absl::StatusOr<double> DraftProbability(const DraftDistribution& dist,
                                        int64_t drafted, int64_t token,
                                        int64_t vocab_size) {
  switch (dist.kind) {
    case DraftDistribution::Kind::kNone:
    case DraftDistribution::Kind::kOneHot:
      return token == drafted ? 1.0 : 0.0;
    case DraftDistribution::Kind::kSparse: {
      if (dist.ids.size() != dist.probs.size()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "sparse draft distribution has ", dist.ids.size(), " ids but ",
            dist.probs.size(), " probabilities"));
      }
      double found = 0.0;
      for (size_t i = 0; i < dist.ids.size(); ++i) {
        if (dist.ids[i] < 0 || dist.ids[i] >= vocab_size) {
          return absl::InvalidArgumentError(
              absl::StrCat("sparse draft distribution id ", dist.ids[i],
                           " is outside [0, ", vocab_size, ")"));
        }
        if (!(dist.probs[i] >= 0.0f) || std::isinf(dist.probs[i])) {
          return absl::InvalidArgumentError(absl::StrCat(
              "sparse draft probability ", dist.probs[i], " for token ",
              dist.ids[i], " must be finite and >= 0"));
        }
        if (dist.ids[i] == token) found = dist.probs[i];
      }
      return found;
    }
    case DraftDistribution::Kind::kDense: {
      if (!dist.dense.defined() || dist.dense.dim() != 1 ||
          dist.dense.size(0) != vocab_size) {
        return absl::InvalidArgumentError(absl::StrCat(
            "dense draft distribution must have shape [", vocab_size, "]"));
      }
      const double q = dist.dense[token].item<double>();
      if (!(q >= 0.0) || std::isinf(q)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "dense draft probability for token ", token, " is ", q));
      }
      return q;
    }
  }
  return absl::InternalError("unknown draft distribution kind");
}

at::Tensor DraftDense(const DraftDistribution& dist, int64_t drafted,
                      int64_t vocab_size, const at::Device& device) {
  at::Tensor q = at::zeros({vocab_size}, at::kFloat);
  switch (dist.kind) {
    case DraftDistribution::Kind::kNone:
    case DraftDistribution::Kind::kOneHot:
      q[drafted] = 1.0f;
      break;
    case DraftDistribution::Kind::kSparse: {
      float* data = q.data_ptr<float>();
      for (size_t i = 0; i < dist.ids.size(); ++i) {
        data[dist.ids[i]] = dist.probs[i];
      }
      break;
    }
    case DraftDistribution::Kind::kDense:
      return dist.dense.to(device, at::kFloat);
  }
  return q.to(device);
}

}  // namespace tandem::sampling
