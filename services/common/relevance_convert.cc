#include "services/common/relevance_convert.h"

#include "absl/strings/str_cat.h"

namespace tandem::services {
namespace {

absl::Status Invalid(absl::string_view prefix, absl::string_view field, absl::string_view range,
                     int64_t got) {
  return absl::InvalidArgumentError(
      absl::StrCat("`", prefix, field, "` must be ", range, ", got ", got));
}

}  // namespace

absl::StatusOr<ValidatedRelevance> FromProto(const v1::RelevanceOptions& options,
                                             absl::string_view prefix) {
  ValidatedRelevance out;
  model::RelevanceOptions& o = out.options;
  o.max_positions = kMaxRelevanceSequence;
  switch (options.method()) {
    case v1::RELEVANCE_METHOD_UNSPECIFIED:
    case v1::RELEVANCE_METHOD_INTEGRATED_GRADIENTS:
      o.method = model::RelevanceMethod::kIntegratedGradients;
      break;
    case v1::RELEVANCE_METHOD_INPUT_X_GRADIENT:
      o.method = model::RelevanceMethod::kInputTimesGradient;
      break;
    default:
      return Invalid(prefix, "method", "a RelevanceMethod value (0 to 2)", options.method());
  }
  switch (options.baseline()) {
    case v1::RELEVANCE_BASELINE_UNSPECIFIED:
    case v1::RELEVANCE_BASELINE_MEAN_EMBEDDING:
      o.baseline = model::RelevanceBaseline::kMeanEmbedding;
      break;
    case v1::RELEVANCE_BASELINE_ZERO:
      o.baseline = model::RelevanceBaseline::kZero;
      break;
    default:
      return Invalid(prefix, "baseline", "a RelevanceBaseline value (0 to 2)", options.baseline());
  }
  const bool ig = o.method == model::RelevanceMethod::kIntegratedGradients;
  if (!ig && (options.baseline() != v1::RELEVANCE_BASELINE_UNSPECIFIED || options.steps() != 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "`", prefix, options.steps() != 0 ? "steps" : "baseline",
        "` applies to RELEVANCE_METHOD_INTEGRATED_GRADIENTS only; leave it unset with "
        "RELEVANCE_METHOD_INPUT_X_GRADIENT"));
  }
  if (options.steps() > model::kMaxRelevanceSteps) {
    return Invalid(prefix, "steps", absl::StrCat("0 (= 32) or in [1, ", model::kMaxRelevanceSteps, "]"),
                   options.steps());
  }
  o.steps = options.steps() == 0 ? kDefaultRelevanceSteps : options.steps();
  o.top_n = options.has_top_n() ? options.top_n() : kDefaultRelevanceTopN;
  if (o.top_n > kMaxRelevanceTopN) {
    return Invalid(prefix, "top_n", absl::StrCat("in [0, ", kMaxRelevanceTopN, "]"), o.top_n);
  }
  out.dense = options.dense();
  if (o.top_n == 0 && !out.dense) {
    return absl::InvalidArgumentError(
        absl::StrCat("`", prefix, "top_n` must be in [1, ", kMaxRelevanceTopN, "] unless `",
                     prefix, "dense` is set (nothing would be returned), got 0"));
  }
  return out;
}

void ToProto(const ValidatedRelevance& relevance, v1::RelevanceOptions* out) {
  const model::RelevanceOptions& o = relevance.options;
  out->set_enabled(true);
  if (o.method == model::RelevanceMethod::kInputTimesGradient) {
    out->set_method(v1::RELEVANCE_METHOD_INPUT_X_GRADIENT);
  } else {
    out->set_method(v1::RELEVANCE_METHOD_INTEGRATED_GRADIENTS);
    out->set_baseline(o.baseline == model::RelevanceBaseline::kZero
                          ? v1::RELEVANCE_BASELINE_ZERO
                          : v1::RELEVANCE_BASELINE_MEAN_EMBEDDING);
    out->set_steps(o.steps);
  }
  out->set_top_n(o.top_n);
  out->set_dense(relevance.dense);
}

void ToProto(const model::TokenRelevance& relevance, bool dense, v1::TokenRelevance* out) {
  out->set_position(relevance.position);
  for (const model::ScoredPosition& p : relevance.top) {
    v1::ScoredPosition* s = out->add_top();
    s->set_position(p.position);
    s->set_score(static_cast<float>(p.score));
  }
  if (dense) {
    out->mutable_dense_scores()->Reserve(relevance.scores.size());
    for (double s : relevance.scores) out->add_dense_scores(static_cast<float>(s));
  }
  out->set_target(relevance.target);
  out->set_baseline(relevance.baseline);
}

model::TokenRelevance FromProto(const v1::TokenRelevance& relevance) {
  model::TokenRelevance out;
  out.position = relevance.position();
  for (const v1::ScoredPosition& p : relevance.top()) out.top.push_back({p.position(), p.score()});
  out.scores.assign(relevance.dense_scores().begin(), relevance.dense_scores().end());
  out.target = relevance.target();
  out.baseline = relevance.baseline();
  return out;
}

}  // namespace tandem::services
