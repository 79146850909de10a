#ifndef TANDEM_TOOLS_EXPLORER_EXPLORER_H_
#define TANDEM_TOOLS_EXPLORER_EXPLORER_H_

// The sampling explorer: shows what a sampling configuration does to a
// next-token distribution, as a terminal bar chart with entropy and seeded
// sample frequencies.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sampling/sampling_params.h"

namespace tandem::explorer {

// A next-token distribution to explore: labels and raw logits, plus the token
// ids (indices into labels) already in the context, for the penalties.
struct Example {
  std::string context;
  std::vector<std::string> labels;
  std::vector<float> logits;
  std::vector<int64_t> history;
  int64_t prompt_length = 0;
};

// "The cat sat on the" -> 12 candidate words, with "the"/"mat" seen before.
Example BuiltInExample();

// Parses "1.5,0.2,-1" into logits; labels default to "tok0".."tokN-1".
absl::StatusOr<Example> ExampleFromLogits(const std::string& logits_csv,
                                          const std::string& labels_csv);

// Probabilities index like Example::labels; a negative probability means
// "not known" (a live model's row outside the returned top-N) and renders as
// such.
struct Exploration {
  std::vector<double> raw_probs;
  std::vector<double> processed_probs;
  std::vector<int64_t> sample_counts;
  int num_samples = 0;
  std::string chain;
  std::string note;  // Printed under the entropies when not empty.
};

// Applies `params` to the example, then draws num_samples tokens with a
// per-run Rng seeded by params.seed (greedy params always pick the argmax).
absl::StatusOr<Exploration> Explore(const Example& example,
                                    const sampling::SamplingParams& params,
                                    int num_samples);

// The order Render lists tokens in: processed probability descending, then
// raw probability descending (stable).
std::vector<size_t> DisplayOrder(const Exploration& exploration);

// Shannon entropy in bits (zero-probability entries contribute nothing).
double EntropyBits(const std::vector<double>& probs);

// The report: one bar per token (raw vs processed), entropies, frequencies.
std::string Render(const Example& example, const Exploration& exploration,
                   int bar_width);

}  // namespace tandem::explorer

#endif  // TANDEM_TOOLS_EXPLORER_EXPLORER_H_
