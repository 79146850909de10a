#ifndef TANDEM_TESTS_TESTING_REFERENCE_SAMPLING_H_
#define TANDEM_TESTS_TESTING_REFERENCE_SAMPLING_H_

// An independent re-implementation, in double precision and plain loops, of
// the logits processors and the sampling distribution as the proto
// (proto/tandem/v1/common.proto SamplingParams / StoppingCriteria) and
// docs/sampling.md document them. Statistical tests derive their expected
// distributions from it, never from sampling/. It shares no code with
// sampling/.

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

namespace tandem::testing {

// The documented semantics, stage by stage, in the documented order.
struct ReferenceParams {
  std::vector<std::pair<int64_t, double>> logit_bias;  // Added (duplicates add up).
  std::vector<int64_t> banned;                        // Logit -inf.
  // EOS ids get -inf while fewer than min_new_tokens tokens were generated.
  int64_t min_new_tokens = 0;
  std::vector<int64_t> eos_ids;
  // Ban every token that would complete an n-gram already present in
  // prompt + generated. 0 = off.
  int no_repeat_ngram_size = 0;
  // Each distinct token of prompt + generated: logit / penalty if > 0,
  // logit * penalty otherwise. 1 = off.
  double repetition_penalty = 1.0;
  // Over generated tokens only: logit -= presence * [count > 0] + frequency * count.
  double presence_penalty = 0.0;
  double frequency_penalty = 0.0;
  double temperature = 1.0;  // > 0 (greedy is not a distribution).
  // Warpers, each on the renormalised result of the previous one.
  int top_k = 0;             // Keep the k largest logits, ties with the k-th kept. 0 = off.
  double top_p = 1.0;        // Smallest most-probable prefix with mass >= top_p.
  double min_p = 0.0;        // Keep p_i >= min_p * max_j p_j.
  double typical_p = 1.0;    // Rank by |-log p_i - H|; smallest prefix with mass >= typical_p.
};

// The probability of each next token given `raw_logits` (the model's output
// after `history`, of which the first `prompt_length` tokens are the prompt).
std::vector<double> ReferenceNextTokenDistribution(const std::vector<float>& raw_logits,
                                                   const std::vector<int64_t>& history,
                                                   int64_t prompt_length,
                                                   const ReferenceParams& params);

// The model's raw logits for the token after `sequence` (prompt + generated).
using RawLogitsFn = std::function<std::vector<float>(const std::vector<int64_t>& sequence)>;

// The exact joint distribution of the first three generated tokens after
// `prompt` under target-only sampling with `params`, by brute force over the
// vocabulary: entry a*V*V + b*V + c is P(t1 = a, t2 = b, t3 = c).
std::vector<double> ReferenceJointOfThree(const std::vector<int64_t>& prompt, int64_t vocab_size,
                                          const ReferenceParams& params,
                                          const RawLogitsFn& raw_logits);

}  // namespace tandem::testing

#endif  // TANDEM_TESTS_TESTING_REFERENCE_SAMPLING_H_
