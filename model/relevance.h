#ifndef TANDEM_MODEL_RELEVANCE_H_
#define TANDEM_MODEL_RELEVANCE_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "model/differentiable_forward.h"

namespace tandem::model {

// Token-level relevance: for a generated token t at position i, how much
// each earlier position j < i contributed to f_i, the target score of t
// computed from tokens [0, i) (the logits row i - 1 under the causal mask).
//
// The attribution input is the token-embedding row of each position
// (DifferentiableForward::Embed: before Gemma's scale and GPT-2's position
// embeddings, which are properties of the position, not of the token).
// Position j's score is sum_h (x_j - x'_j)[h] * g_j[h], with x' the baseline
// (RelevanceBaseline) and g_j:
//   kIntegratedGradients: the average gradient of f_i along the straight
//     path x' + a (x - x'), by the midpoint rule: a_k = (k + 1/2) / steps,
//     k < steps. Completeness: sum_j score_j -> f_i(x) - f_i(x') with an
//     error O(1 / steps^2) for a smooth path (see RelevanceBaseline).
//   kInputTimesGradient: x' = 0 and the gradient at x (one node, a = 1).
//     Cheap, no completeness; blind (Euler's theorem) to a position whose
//     only path to f_i is a scale-invariant norm of its own embedding.
enum class RelevanceMethod {
  kIntegratedGradients,
  kInputTimesGradient,
};

// What f_i is. kLogit (the default): the pre-softmax logit of t (after the
// final soft-cap): the evidence for t alone (with the zero baseline, f(x')
// is 0 for Llama-family models without biases, so the scores split the
// logit itself). kLogProb: log softmax(logits)[t], which also credits evidence
// against the other tokens; sums are relative to a changing normaliser.
enum class RelevanceTarget {
  kLogit,
  kLogProb,
};

// IG's baseline x'. kZero: the zero embedding at every position. For
// RMSNorm models (the Llama family) it is a singular point: RMSNorm(a x)
// turns on within a ~ sqrt(norm_eps) / |x| and, through the layers, f
// changes at scales down to ~1e-4 and below (measured on the tiny test
// models), so the midpoint rule misses most of f(x) - f(0) at any practical
// step count. kMeanEmbedding: the mean of the vocabulary's embedding rows at
// every position; the path stays away from 0 and IG converges at 1 / steps^2
// on the families tested (Llama, Qwen2, Gemma 2, GPT-2). GPT-2 (LayerNorm
// after adding position embeddings) is
// smooth with either.
enum class RelevanceBaseline {
  kZero,
  kMeanEmbedding,
};

struct RelevanceOptions {
  RelevanceMethod method = RelevanceMethod::kIntegratedGradients;
  RelevanceTarget target = RelevanceTarget::kLogit;
  RelevanceBaseline baseline = RelevanceBaseline::kZero;  // IG only.
  int64_t steps = 32;           // IG nodes, [1, kMaxRelevanceSteps]; ignored otherwise.
  int64_t max_positions = 2048;  // Bound on the sequence length, [1, kMaxRelevancePositions].
  int64_t top_n = 8;            // Sparse list size, [0, max_positions]; 0 = dense only.
  // Bound on rows (batch entries x their length) per forward / backward
  // chunk: memory is ~ rows x layers x (H + heads x rows) floats. >= 1; a
  // chunk always holds at least one entry.
  int64_t max_chunk_rows = 4096;
};

inline constexpr int64_t kMaxRelevanceSteps = 1024;
inline constexpr int64_t kMaxRelevancePositions = 1 << 16;

// InvalidArgument naming the first field outside its range (as documented
// on RelevanceOptions).
absl::Status ValidateRelevanceOptions(const RelevanceOptions& options);

struct ScoredPosition {
  int64_t position = 0;
  double score = 0;
};

// The relevance of one generated token.
struct TokenRelevance {
  int64_t position = 0;     // i: where the token sits in the sequence.
  int64_t token = 0;        // t.
  double target = 0;        // f_i(x).
  double baseline = 0;      // f_i(x') (IG only; 0 for input x gradient).
  std::vector<double> scores;      // Dense, positions [0, i).
  std::vector<ScoredPosition> top;  // TopPositions(scores, options.top_n).
};

// The `n` positions with the largest |score|, in decreasing |score| (ties:
// the earlier position first); all of them when n >= scores.size().
std::vector<ScoredPosition> TopPositions(absl::Span<const double> scores, int64_t n);

// Relevance of tokens[i] for each i in `generated_positions` (strictly
// increasing, each in [1, tokens.size())), in that order.
//
// Cost: one forward + one backward per chunk of (generated token, IG node)
// entries: each entry is its own batch row, the sequence cut to the entry's
// prefix and replicated, because f_i's gradient must not mix with f_k's
// (summing several f's before one backward would add their gradients). So
// the work is steps x G prefix passes for G generated tokens (~ steps x G / 2
// full-sequence passes), batched max_chunk_rows rows at a time; plus, for
// IG, two gradient-free full-sequence forwards for f(x) and f(x').
//
// Errors: InvalidArgument for bad options (ValidateRelevanceOptions), more
// tokens than options.max_positions or the model's context, a token outside
// the vocabulary, or bad generated_positions (naming the entry); Internal
// for a LibTorch failure. Thread-safe if `forward` is.
absl::StatusOr<std::vector<TokenRelevance>> ComputeRelevance(
    const DifferentiableForward& forward, absl::Span<const int64_t> tokens,
    absl::Span<const int64_t> generated_positions, const RelevanceOptions& options);

}  // namespace tandem::model

#endif  // TANDEM_MODEL_RELEVANCE_H_
