#include "model/rope.h"

#include <cmath>

namespace tandem::model {
namespace {

std::vector<double> BaseInverseFrequencies(const ModelConfig& c, double theta) {
  std::vector<double> inv(static_cast<size_t>(c.head_dim / 2));
  for (size_t i = 0; i < inv.size(); ++i) {
    inv[i] = 1.0 / std::pow(theta, 2.0 * static_cast<double>(i) /
                                       static_cast<double>(c.head_dim));
  }
  return inv;
}

// The factor dividing inverse frequency `f` under llama3 scaling.
double Llama3Divisor(const Llama3RopeScaling& s, double f) {
  const double old_ctx = static_cast<double>(s.original_max_position_embeddings);
  const double wavelen = 2 * M_PI / f;
  if (wavelen < old_ctx / s.high_freq_factor) return 1.0;
  if (wavelen > old_ctx / s.low_freq_factor) return s.factor;
  const double smooth =
      (old_ctx / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
  return 1.0 / ((1 - smooth) / s.factor + smooth);
}

}  // namespace

std::vector<double> RopeInverseFrequencies(const ModelConfig& c, bool local) {
  if (local && c.rope_local_theta > 0) return BaseInverseFrequencies(c, c.rope_local_theta);
  std::vector<double> inv = BaseInverseFrequencies(c, c.rope_theta);
  for (size_t i = 0; i < inv.size(); ++i) {
    if (c.rope_scaling.enabled) inv[i] /= Llama3Divisor(c.rope_scaling, inv[i]);
    if (i < c.rope_freq_factors.size()) inv[i] /= c.rope_freq_factors[i];
    inv[i] /= c.rope_linear_factor;
  }
  return inv;
}

std::vector<float> Llama3RopeFreqFactors(const ModelConfig& c) {
  std::vector<float> factors;
  for (double f : BaseInverseFrequencies(c, c.rope_theta)) {
    factors.push_back(static_cast<float>(Llama3Divisor(c.rope_scaling, f)));
  }
  return factors;
}

}  // namespace tandem::model
