#ifndef TANDEM_SAMPLING_RNG_H_
#define TANDEM_SAMPLING_RNG_H_

#include <array>
#include <cstdint>

namespace tandem::sampling {

// Why a random number is drawn. Each (position, purpose) pair names one draw.
enum class RandomPurpose : uint64_t {
  kSample = 0,    // Sample the token at a position from the target distribution
                  // (plain decoding, and the bonus token after a fully accepted draft).
  kAccept = 1,    // The accept/reject test of the draft token at a position.
  kResidual = 2,  // Resample a rejected position from the residual distribution.
  kDraft = 3,     // The drafter samples its token at a position.
};

// A sequence's random source, keyed by position: the uniform for (position,
// purpose) is Philox4x32-10 (LibTorch's at::philox_engine, the generator
// torch uses on CUDA) with key = seed, counter = (purpose, position). No state
// advances, so what a seeded sequence draws for a decision depends only on
// the seed, the position and the purpose: not on batching, concurrent load,
// the replica, a failover re-prefill or how many draws came before. Within a
// sequence every (position, purpose) decides one thing at most once, which
// keeps the draws independent (docs/speculative_decoding.md).
// Thread-compatible (const methods only).
class Rng {
 public:
  explicit Rng(uint64_t seed) : seed_(seed) {}

  // A seed from the operating system, for requests that set none.
  static uint64_t SeedFromOs();

  // Uniform in [0, 1) with 53 random bits: the first two 32-bit words of the
  // block for (position, purpose).
  double Uniform(int64_t position, RandomPurpose purpose) const;

  // The index-th of a family of independent uniforms for (position, purpose),
  // for a decision that is tried several times at one position (the k-th
  // sibling of a draft tree: index k). `index` goes in the high purpose
  // counter word, which is 0 for every RandomPurpose, so index 0 is exactly
  // Uniform(position, purpose) and no index collides with another purpose.
  double Uniform(int64_t position, RandomPurpose purpose, uint32_t index) const;

  // The raw Philox4x32-10 block: key = seed (low word first), counter words =
  // (purpose low, purpose high, position low, position high).
  std::array<uint32_t, 4> Block(uint64_t position, uint64_t purpose) const;

  uint64_t seed() const { return seed_; }

 private:
  uint64_t seed_;
};

}  // namespace tandem::sampling

#endif  // TANDEM_SAMPLING_RNG_H_
