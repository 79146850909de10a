#include "sampling/rng.h"

#include <random>

#include <ATen/core/PhiloxRNGEngine.h>

namespace tandem::sampling {

uint64_t Rng::SeedFromOs() {
  std::random_device device;
  return (static_cast<uint64_t>(device()) << 32) ^ device();
}

std::array<uint32_t, 4> Rng::Block(uint64_t position, uint64_t purpose) const {
  at::philox_engine engine(seed_, /*subsequence=*/position, /*offset=*/purpose);
  std::array<uint32_t, 4> out;
  for (uint32_t& word : out) word = engine();
  return out;
}

double Rng::Uniform(int64_t position, RandomPurpose purpose) const {
  return Uniform(position, purpose, /*index=*/0);
}

double Rng::Uniform(int64_t position, RandomPurpose purpose,
                    uint32_t index) const {
  const uint64_t counter =
      static_cast<uint64_t>(purpose) | (static_cast<uint64_t>(index) << 32);
  const std::array<uint32_t, 4> b =
      Block(static_cast<uint64_t>(position), counter);
  const uint64_t bits = (static_cast<uint64_t>(b[0]) << 32) | b[1];
  return static_cast<double>(bits >> 11) * 0x1.0p-53;
}

}  // namespace tandem::sampling
