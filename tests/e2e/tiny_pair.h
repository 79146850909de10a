#ifndef TANDEM_TESTS_E2E_TINY_PAIR_H_
#define TANDEM_TESTS_E2E_TINY_PAIR_H_

// A random-weight float32 target/draft pair over an 8-token vocabulary,
// written by make_tiny_model, for statistical tests whose expectations are a
// brute force over every continuation: <unk> (0), <s> (1), </s> (2, EOS) and
// "▁a".."▁e" (3..7). The target has two layers (self-speculation exits after
// the first); the draft is the target's first layer, final norm and LM head
// with noise on every weight, so it proposes what the target often, but not
// always, accepts.

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace tandem::testing {

inline constexpr int64_t kTinyPairVocab = 8;
inline constexpr int64_t kTinyPairEos = 2;

struct TinyPairPaths {
  std::string target_gguf;
  std::string draft_gguf;
};

// Writes both models (GGUF with the embedded vocabulary) under `dir`.
absl::StatusOr<TinyPairPaths> WriteTinyPair(const std::string& dir);

}  // namespace tandem::testing

#endif  // TANDEM_TESTS_E2E_TINY_PAIR_H_
