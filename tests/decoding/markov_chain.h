#ifndef TANDEM_TESTS_DECODING_MARKOV_CHAIN_H_
#define TANDEM_TESTS_DECODING_MARKOV_CHAIN_H_

// A Markov chain over kMarkovVocab tokens for statistical tests through the
// decoding loop (with model::testing::FakeModel): the target's next-token
// logits depend on the last token only, so the exact law of any generated
// position is a matrix power; the draft's rows are perturbed, so it
// proposes well but not perfectly.

#include <cmath>
#include <cstdint>
#include <vector>

#include "decoding/engines.h"
#include "decoding/local_backends.h"
#include "model/testing/fake_model.h"

namespace tandem::decoding::testing {

inline constexpr int kMarkovVocab = 6;

inline std::vector<float> MarkovRow(int64_t last, bool draft) {
  std::vector<float> row(kMarkovVocab);
  for (int v = 0; v < kMarkovVocab; ++v) {
    const double base = std::sin(1.7 * (last + 1) * (v + 1)) * 1.5;
    row[v] = static_cast<float>(base + (draft ? 0.8 * std::cos(2.3 * v + last) : 0.0));
  }
  return row;
}

inline std::vector<double> Softmax(const std::vector<float>& row) {
  std::vector<double> p(row.size());
  double z = 0;
  for (size_t i = 0; i < row.size(); ++i) z += p[i] = std::exp(row[i]);
  for (double& x : p) x /= z;
  return p;
}

// The chain's target and perturbed draft as FakeModels behind in-process
// engines and backends.
struct MarkovPair {
  model::testing::FakeModel target_model{
      kMarkovVocab, 4, 64,
      [](const std::vector<int64_t>& p, int64_t) { return MarkovRow(p.back(), false); }};
  model::testing::FakeModel draft_model{
      kMarkovVocab, 2, 64,
      [](const std::vector<int64_t>& p, int64_t) { return MarkovRow(p.back(), true); }};
  TargetEngine target_engine{target_model, 0};
  DraftEngine draft_engine{draft_model, 0};
  LocalTargetBackend target{target_engine};
  LocalDraftBackend draft{draft_engine};
};

}  // namespace tandem::decoding::testing

#endif  // TANDEM_TESTS_DECODING_MARKOV_CHAIN_H_
