#include "services/target/relevance_runner.h"

#include <numeric>

#include "absl/strings/str_cat.h"
#include "model/formats/checkpoint_loader.h"

namespace tandem::services {

absl::StatusOr<const model::DifferentiableForward*> RelevanceRunner::Forward() {
  if (forward_ != nullptr) return forward_.get();
  model::DifferentiableForwardOptions f;
  try {
    f.device = at::Device(options_.device);
  } catch (const c10::Error& e) {
    return absl::FailedPreconditionError(
        absl::StrCat("device \"", options_.device, "\": ", e.what_without_backtrace()));
  }
  absl::StatusOr<model::Checkpoint> checkpoint = model::LoadCheckpoint(options_.model_path);
  if (!checkpoint.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "relevance needs the checkpoint reloaded from ", options_.model_path, ": ",
        checkpoint.status().message()));
  }
  absl::StatusOr<std::unique_ptr<model::DifferentiableForward>> forward =
      model::DifferentiableForward::Create(*checkpoint, f);
  if (!forward.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat(options_.model_path, ": ", forward.status().message()));
  }
  forward_ = *std::move(forward);
  return forward_.get();
}

absl::StatusOr<std::vector<model::TokenRelevance>> RelevanceRunner::Run(
    absl::Span<const int64_t> tokens, int64_t first_generated,
    const model::RelevanceOptions& options, const std::function<bool()>& cancelled) {
  if (first_generated < 1 || first_generated >= static_cast<int64_t>(tokens.size())) {
    return absl::InvalidArgumentError(
        absl::StrCat("`first_generated` must be in [1, ", tokens.size(), "), got ",
                     first_generated));
  }
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    if (waiting_ >= options_.max_waiting + 1) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "one relevance computation runs at a time and ", options_.max_waiting,
          " more are waiting; retry with backoff"));
    }
    ++waiting_;
  }
  std::unique_lock<std::mutex> run(run_mu_);
  struct Leave {
    RelevanceRunner* self;
    ~Leave() {
      std::lock_guard<std::mutex> lock(self->queue_mu_);
      --self->waiting_;
    }
  } leave{this};
  if (cancelled && cancelled()) {
    return absl::CancelledError("cancelled while waiting for the relevance computation");
  }
  absl::StatusOr<const model::DifferentiableForward*> forward = Forward();
  if (!forward.ok()) return forward.status();
  std::vector<int64_t> positions(tokens.size() - first_generated);
  std::iota(positions.begin(), positions.end(), first_generated);
  return model::ComputeRelevance(**forward, tokens, positions, options);
}

}  // namespace tandem::services
