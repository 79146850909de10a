#ifndef TANDEM_DECODING_SPECULATION_OPTIONS_H_
#define TANDEM_DECODING_SPECULATION_OPTIONS_H_

#include <cstdint>
#include <optional>
#include <string_view>

namespace tandem::decoding {

enum class SpeculationMode {
  kOff,              // Target-only decoding (γ = 0).
  kDraftModel,       // A separate draft model (DraftBackend).
  kSelfSpeculative,  // The target's own first layers (early exit).
  kNgram,            // Prompt lookup, no model.
};

// Every mode, in enum order (for metrics that pre-register a series per mode).
inline constexpr SpeculationMode kAllSpeculationModes[] = {
    SpeculationMode::kOff, SpeculationMode::kDraftModel, SpeculationMode::kSelfSpeculative,
    SpeculationMode::kNgram};

// The mode's short name: "off", "draft", "self", "ngram" (metric labels,
// benchmark flags, logs).
const char* SpeculationModeName(SpeculationMode mode);
// The inverse of SpeculationModeName; nullopt for any other string.
std::optional<SpeculationMode> ParseSpeculationMode(std::string_view name);

struct SpeculationOptions {
  SpeculationMode mode = SpeculationMode::kOff;
  int draft_length = 4;    // γ, or the starting γ when adaptive.
  bool adaptive = false;
  int max_draft_length = 8;
  // Adaptive: the floor of the chosen γ (draft_length_policy.h); 0 lets the
  // policy switch speculation off while it does not pay.
  int min_draft_length = 0;
  int64_t exit_layer = 0;  // Self-speculation; 0 = the model's default.
  int ngram_max = 3;
  int ngram_min = 1;
  // Draft model: draft the next round while the target verifies this one
  // (draft_model_drafter.h). Changes when drafts are computed, never what is
  // accepted.
  bool pipelined = true;
  // Draft model: the draft service runs on the target's CPU (same host, or
  // in-process). The adaptive policy then counts the draft's whole compute
  // time per round as taken from the target's other sessions (in proportion
  // to how much of the target's time they fill); draft_length_policy.h.
  bool draft_shares_target_cpu = false;
  // Draft model: token trees (DraftJob::tree_alternatives / tree_depth);
  // alternatives 0 = chains. The depth is cut where the tree would pass
  // kMaxTreeNodes (engines.h). adaptive_tree: draft that tree only in rounds
  // where it pays (tree_shape_policy.h); else in every round.
  int tree_alternatives = 0;
  int tree_depth = 0;
  bool adaptive_tree = false;
};

}  // namespace tandem::decoding

#endif  // TANDEM_DECODING_SPECULATION_OPTIONS_H_
