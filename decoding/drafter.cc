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
      // Its session opens with the first proposal; a draft service that
      // cannot open it must not fail the request: it runs target-only.
      return std::make_unique<FallbackDrafter>(std::make_unique<DraftModelDrafter>(
          *deps.draft, *deps.session, options.pipelined));
    }
    case SpeculationMode::kSelfSpeculative:
      return std::make_unique<EarlyExitDrafter>(*deps.target, options.exit_layer);
    case SpeculationMode::kNgram:
      return std::make_unique<NgramDrafter>(options.ngram_max, options.ngram_min);
  }
  return absl::InvalidArgumentError("unknown speculation mode");
}

}  // namespace tandem::decoding
