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

std::optional<SpeculationMode> ParseSpeculationMode(std::string_view name) {
  for (SpeculationMode mode : kAllSpeculationModes) {
    if (name == SpeculationModeName(mode)) return mode;
  }
  return std::nullopt;
}

}  // namespace tandem::decoding
