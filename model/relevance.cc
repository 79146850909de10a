#include "model/relevance.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"

namespace tandem::model {
namespace {

absl::Status CheckRange(const char* field, int64_t value, int64_t low, int64_t high) {
  if (value >= low && value <= high) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(field, " must be in [", low, ", ", high, "], got ", value));
}

// One quadrature node of the path integral: the input x' + alpha (x - x'),
// its gradient weighted by `weight`.
struct Node {
  double alpha = 1;
  double weight = 1;
};

std::vector<Node> Nodes(const RelevanceOptions& options) {
  if (options.method == RelevanceMethod::kInputTimesGradient) return {Node{}};
  std::vector<Node> nodes;
  const double steps = static_cast<double>(options.steps);
  for (int64_t k = 0; k < options.steps; ++k) {
    nodes.push_back({(static_cast<double>(k) + 0.5) / steps, 1.0 / steps});
  }
  return nodes;
}

// One batch row of the backward: generated token `index` (into the result)
// at sequence position `position`, at one node.
struct Entry {
  size_t index = 0;
  int64_t position = 0;
  Node node;
};

// f of each row: hidden [B, H] (the rows predicting the tokens), tokens [B].
at::Tensor TargetValues(const DifferentiableForward& forward, const at::Tensor& hidden,
                        const at::Tensor& tokens, RelevanceTarget target) {
  at::Tensor logits = forward.Logits(hidden);
  if (target == RelevanceTarget::kLogProb) logits = logits.log_softmax(-1);
  return logits.gather(1, tokens.unsqueeze(1)).squeeze(1);
}

absl::Status ValidatePositions(absl::Span<const int64_t> tokens,
                               absl::Span<const int64_t> generated,
                               const RelevanceOptions& options) {
  const int64_t length = static_cast<int64_t>(tokens.size());
  if (absl::Status s = CheckRange("tokens.size()", length, 1, options.max_positions); !s.ok()) {
    return s;
  }
  for (size_t k = 0; k < generated.size(); ++k) {
    const int64_t low = k == 0 ? 1 : generated[k - 1] + 1;
    if (generated[k] < low || generated[k] >= length) {
      return absl::InvalidArgumentError(absl::StrCat(
          "generated_positions[", k, "] must be in [", low, ", ", length - 1, "], got ",
          generated[k], " (positions are strictly increasing and have a prefix)"));
    }
  }
  return absl::OkStatus();
}

// f at the rows predicting each generated token, for embeddings `x` [T, H],
// without autograd.
absl::StatusOr<at::Tensor> TargetsAt(const DifferentiableForward& forward, const at::Tensor& x,
                                     const at::Tensor& rows, const at::Tensor& tokens,
                                     RelevanceTarget target) {
  at::NoGradGuard no_grad;
  absl::StatusOr<at::Tensor> hidden = forward.Hidden(x);
  if (!hidden.ok()) return hidden.status();
  return TargetValues(forward, hidden->index_select(0, rows), tokens, target)
      .to(at::kDouble)
      .cpu();
}

// Adds the weighted input x gradient of every entry of `chunk` to its
// token's scores: one forward and one backward for the whole chunk.
// x' and x - x' [T, H] of one request.
struct Path {
  at::Tensor baseline, delta;
};

absl::Status RunChunk(const DifferentiableForward& forward, const Path& path,
                      absl::Span<const Entry> chunk, absl::Span<const int64_t> tokens,
                      RelevanceTarget target, std::vector<TokenRelevance>& results) {
  const int64_t batch = static_cast<int64_t>(chunk.size());
  int64_t length = 0;
  std::vector<double> alphas;
  std::vector<int64_t> rows, targets;
  for (const Entry& e : chunk) {
    length = std::max(length, e.position);
    alphas.push_back(e.node.alpha);
    rows.push_back(e.position - 1);
    targets.push_back(tokens[e.position]);
  }
  const at::Device device = path.delta.device();
  const at::Tensor base = path.baseline.narrow(0, 0, length).unsqueeze(0);
  const at::Tensor delta = path.delta.narrow(0, 0, length).unsqueeze(0);
  at::Tensor scale = at::tensor(alphas, at::kDouble).to(device, delta.scalar_type());
  at::Tensor input = (base + scale.view({batch, 1, 1}) * delta).detach().requires_grad_(true);
  at::AutoGradMode grad_mode(true);
  absl::StatusOr<at::Tensor> hidden = forward.Hidden(input);
  if (!hidden.ok()) return hidden.status();
  at::Tensor row_index = at::tensor(rows, at::kLong).to(device);
  at::Tensor picked = hidden->index({at::arange(batch, row_index.options()), row_index});
  TargetValues(forward, picked, at::tensor(targets, at::kLong).to(device), target)
      .sum()
      .backward();
  // Rows of different entries are independent, so entry b's gradient is
  // that of its own f alone. No gradient: no f depends on the input.
  if (!input.grad().defined()) return absl::OkStatus();
  const at::Tensor contributions = (input.grad() * delta).sum(-1).to(at::kDouble).cpu();
  const auto c = contributions.accessor<double, 2>();
  for (int64_t b = 0; b < batch; ++b) {
    const Entry& e = chunk[b];
    std::vector<double>& scores = results[e.index].scores;
    for (int64_t j = 0; j < e.position; ++j) scores[j] += e.node.weight * c[b][j];
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateRelevanceOptions(const RelevanceOptions& o) {
  if (o.method != RelevanceMethod::kIntegratedGradients &&
      o.method != RelevanceMethod::kInputTimesGradient) {
    return absl::InvalidArgumentError("method must be integrated gradients or input x gradient");
  }
  if (o.target != RelevanceTarget::kLogit && o.target != RelevanceTarget::kLogProb) {
    return absl::InvalidArgumentError("target must be logit or log-prob");
  }
  if (o.baseline != RelevanceBaseline::kZero && o.baseline != RelevanceBaseline::kMeanEmbedding) {
    return absl::InvalidArgumentError("baseline must be zero or mean embedding");
  }
  for (const auto& [field, value, low, high] :
       {std::tuple<const char*, int64_t, int64_t, int64_t>{"steps", o.steps, 1,
                                                           kMaxRelevanceSteps},
        {"max_positions", o.max_positions, 1, kMaxRelevancePositions},
        {"top_n", o.top_n, 0, o.max_positions},
        {"max_chunk_rows", o.max_chunk_rows, 1, int64_t{1} << 40}}) {
    if (absl::Status s = CheckRange(field, value, low, high); !s.ok()) return s;
  }
  return absl::OkStatus();
}

std::vector<ScoredPosition> TopPositions(absl::Span<const double> scores, int64_t n) {
  std::vector<int64_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return std::abs(scores[a]) > std::abs(scores[b]);
  });
  order.resize(std::clamp<int64_t>(n, 0, static_cast<int64_t>(order.size())));
  std::vector<ScoredPosition> top;
  for (int64_t p : order) top.push_back({p, scores[p]});
  return top;
}

namespace {

// Fills each result's target and baseline values: f(x), and f(x') for IG
// (two gradient-free full-sequence forwards), and returns the path.
absl::StatusOr<Path> EvaluateEndpoints(const DifferentiableForward& forward,
                                       const at::Tensor& embeddings,
                                       const RelevanceOptions& options,
                                       std::vector<TokenRelevance>& results) {
  std::vector<int64_t> rows, targets;
  for (const TokenRelevance& r : results) {
    rows.push_back(r.position - 1);
    targets.push_back(r.token);
  }
  const at::Tensor row_index = at::tensor(rows, at::kLong).to(embeddings.device());
  const at::Tensor target_ids = at::tensor(targets, at::kLong).to(embeddings.device());
  absl::StatusOr<at::Tensor> f =
      TargetsAt(forward, embeddings, row_index, target_ids, options.target);
  if (!f.ok()) return f.status();
  for (size_t g = 0; g < results.size(); ++g) results[g].target = (*f)[g].item<double>();
  Path path{at::zeros_like(embeddings), embeddings};
  if (options.method != RelevanceMethod::kIntegratedGradients) return path;
  if (options.baseline == RelevanceBaseline::kMeanEmbedding) {
    path.baseline = forward.MeanEmbedding().expand_as(embeddings);
    path.delta = embeddings - path.baseline;
  }
  absl::StatusOr<at::Tensor> f0 =
      TargetsAt(forward, path.baseline, row_index, target_ids, options.target);
  if (!f0.ok()) return f0.status();
  for (size_t g = 0; g < results.size(); ++g) results[g].baseline = (*f0)[g].item<double>();
  return path;
}

// Accumulates every (token, node) entry's scores, max_chunk_rows rows per
// forward and backward.
absl::Status AccumulateScores(const DifferentiableForward& forward, const Path& path,
                              absl::Span<const int64_t> tokens, const RelevanceOptions& options,
                              std::vector<TokenRelevance>& results) {
  // Entries in increasing position: a chunk's padding is what its last
  // (longest) entry adds to the others.
  std::vector<Entry> chunk;
  const std::vector<Node> nodes = Nodes(options);
  for (size_t g = 0; g < results.size(); ++g) {
    const int64_t position = results[g].position;
    for (const Node& node : nodes) {
      if (!chunk.empty() &&
          static_cast<int64_t>(chunk.size() + 1) * position > options.max_chunk_rows) {
        if (absl::Status s = RunChunk(forward, path, chunk, tokens, options.target, results);
            !s.ok()) {
          return s;
        }
        chunk.clear();
      }
      chunk.push_back({g, position, node});
    }
  }
  return RunChunk(forward, path, chunk, tokens, options.target, results);
}

}  // namespace

absl::StatusOr<std::vector<TokenRelevance>> ComputeRelevance(
    const DifferentiableForward& forward, absl::Span<const int64_t> tokens,
    absl::Span<const int64_t> generated_positions, const RelevanceOptions& options) {
  if (absl::Status s = ValidateRelevanceOptions(options); !s.ok()) return s;
  if (absl::Status s = ValidatePositions(tokens, generated_positions, options); !s.ok()) return s;
  absl::StatusOr<at::Tensor> embeddings = forward.Embed(tokens);
  if (!embeddings.ok()) return embeddings.status();
  std::vector<TokenRelevance> results;
  for (int64_t i : generated_positions) {
    results.push_back({i, tokens[i], 0, 0, std::vector<double>(i, 0.0), {}});
  }
  if (results.empty()) return results;
  try {
    absl::StatusOr<Path> path = EvaluateEndpoints(forward, *embeddings, options, results);
    if (!path.ok()) return path.status();
    if (absl::Status s = AccumulateScores(forward, *path, tokens, options, results); !s.ok()) {
      return s;
    }
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("relevance failed: ", e.what_without_backtrace()));
  }
  for (TokenRelevance& r : results) r.top = TopPositions(r.scores, options.top_n);
  return results;
}

}  // namespace tandem::model
