#include "decoding/drafter.h"

#include <utility>

#include "decoding/draft_model_drafter.h"
#include "decoding/early_exit_drafter.h"
#include "decoding/fallback_drafter.h"
#include "decoding/ngram_drafter.h"

namespace tandem::decoding {

absl::StatusOr<std::unique_ptr<Drafter>> MakeDrafter(const SpeculationOptions& options,
                                                     const DrafterDeps& deps) {
  switch (options.mode) {
    case SpeculationMode::kOff:
      return nullptr;
    case SpeculationMode::kDraftModel: {
      if (deps.draft == nullptr) {
        return absl::FailedPreconditionError(
            "speculation mode DRAFT_MODEL needs a draft service");
      }
      absl::StatusOr<std::unique_ptr<DraftModelDrafter>> d =
          DraftModelDrafter::Open(*deps.draft, *deps.prompt, *deps.session, options.pipelined);
      // A draft service that cannot open the session must not fail the
      // request: it runs target-only.
      return std::make_unique<FallbackDrafter>(d.ok() ? *std::move(d) : nullptr);
    }
    case SpeculationMode::kSelfSpeculative:
      return std::make_unique<EarlyExitDrafter>(*deps.target, options.exit_layer);
    case SpeculationMode::kNgram:
      return std::make_unique<NgramDrafter>(options.ngram_max, options.ngram_min);
  }
  return absl::InvalidArgumentError("unknown speculation mode");
}

}  // namespace tandem::decoding
