#include "decoding/speculation_options.h"

namespace tandem::decoding {

const char* SpeculationModeName(SpeculationMode mode) {
  switch (mode) {
    case SpeculationMode::kOff: return "off";
    case SpeculationMode::kDraftModel: return "draft";
    case SpeculationMode::kSelfSpeculative: return "self";
    case SpeculationMode::kNgram: return "ngram";
  }
  return "unknown";
}

}  // namespace tandem::decoding
