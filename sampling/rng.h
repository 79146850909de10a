#ifndef TANDEM_SAMPLING_RNG_H_
#define TANDEM_SAMPLING_RNG_H_

#include <cstdint>
#include <random>

namespace tandem::sampling {

// A per-request random source. There is no global RNG in tandem: every
// sequence owns one, so the same seed gives the same tokens whatever else the
// server is doing. The stream is std::mt19937_64 (fully specified by the C++
// standard), so a seed reproduces across platforms and library versions.
// Not thread-safe: one Rng per sequence.
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed), seed_(seed) {}

  // A seed from the operating system, for requests that set none.
  static uint64_t SeedFromOs() {
    std::random_device device;
    return (static_cast<uint64_t>(device()) << 32) ^ device();
  }

  // Uniform in [0, 1), 53 random bits.
  double Uniform() {
    return static_cast<double>(engine_() >> 11) * 0x1.0p-53;
  }

  uint64_t seed() const { return seed_; }

 private:
  std::mt19937_64 engine_;
  uint64_t seed_;
};

}  // namespace tandem::sampling

#endif  // TANDEM_SAMPLING_RNG_H_
