#ifndef TANDEM_SERVICES_ORCHESTRATOR_VALIDATION_H_
#define TANDEM_SERVICES_ORCHESTRATOR_VALIDATION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "decoding/generator.h"
#include "sampling/beam_search.h"
#include "model/model.h"
#include "proto/tandem/v1/generation_service.pb.h"
#include "services/common/relevance_convert.h"
#include "tokenizer/chat_template_loader.h"
#include "tokenizer/tokenizer.h"

namespace tandem::services {

// The orchestrator's limits and defaults (from flags).
struct GenerationLimits {
  int max_prompts = 32;
  int max_return_sequences = 16;
  int64_t max_new_tokens = 1024;      // Upper bound for max_new_tokens.
  int64_t default_max_new_tokens = 64;
  int max_draft_length = 16;
  decoding::SpeculationMode default_mode = decoding::SpeculationMode::kDraftModel;
  int default_draft_length = 4;
  bool default_adaptive = false;
  // Token trees for DRAFT_MODEL when SpeculationConfig.tree is unset.
  int default_tree_alternatives = 0;
  int default_tree_depth = 0;
  bool draft_available = true;
  // The draft replicas share a host with the target replicas
  // (SpeculationOptions::draft_shares_target_cpu).
  bool draft_shares_target_cpu = false;
  // Admission: sequences (prompts × return sequences, or beam searches) the
  // orchestrator runs at once; a request that would exceed it is refused
  // with RESOURCE_EXHAUSTED instead of queueing without bound.
  int64_t max_active_sequences = 256;
  // Threads that drive the rounds of every running sequence (a fixed pool:
  // more sequences wait their turn, they do not add threads). At most this
  // many rounds are in flight at once, so it also bounds how many verify
  // items can meet in one target step.
  int sequence_threads = 64;
};

// A text prompt may have at most this many bytes per token of the target's
// context: longer text cannot fit the context, and is refused before it is
// tokenized (tokenizing costs CPU time in proportion to the bytes). Real
// text averages 3-5 bytes per token.
inline constexpr int64_t kMaxPromptBytesPerToken = 32;
int64_t MaxPromptBytes(int64_t context_length);

// Bounds the size of a response's next-token distributions:
// OutputOptions.distribution_top_n × max_new_tokens × returned sequences.
inline constexpr int64_t kMaxDistributionEntries = 65536;

// SpeculationConfig.tree.depth's upper bound (a tree's size is further cut
// to decoding::kMaxTreeNodes by the drafter).
inline constexpr int kMaxTreeDepth = 8;

// A GenerateRequest after validation: everything the decoding loop needs,
// checked once, at the edge.
struct ValidatedGeneration {
  std::string request_id;
  std::vector<std::vector<int64_t>> prompts;  // Token ids.
  int num_return_sequences = 1;
  decoding::GenerateRequest base;  // Per sequence: prompt and seed filled in.
  std::optional<uint64_t> seed;    // Given by the client.
  std::optional<int64_t> max_length;  // Prompt + generated tokens.
  std::vector<std::string> stop_strings;
  bool logprobs = false;
  int top_logprobs = 0;
  bool include_speculation_stats = false;
  // num_beams > 1: beam search (no speculation); num_return_sequences then
  // counts hypotheses of one search per prompt.
  bool beam_search = false;
  sampling::BeamSearchOptions beam;
  // OutputOptions.relevance when enabled: computed by the target for each
  // finished sequence.
  std::optional<ValidatedRelevance> relevance;
};

// INVALID_ARGUMENT naming the field (by its path from the request root,
// e.g. `config.stopping.eos_token_ids`) and the allowed range for every
// violation (out-of-range sampling values, token ids outside the vocabulary,
// prompts longer than the context, empty prompts, oversized batches, draft
// length out of range, beam search combined with speculation, options of
// another speculation mode, enum values outside their enum...). Every such
// promise of the proto comments has a row in
// tests/e2e/contract_e2e_test.cc.
absl::StatusOr<ValidatedGeneration> ValidateGenerate(
    const std::string& request_id, const google::protobuf::RepeatedPtrField<v1::Prompt>& prompts,
    const v1::GenerationConfig& config, const model::ModelInfo& target,
    const std::vector<int64_t>& model_eos, const tokenizer::Tokenizer& tokenizer,
    const GenerationLimits& limits,
    const tokenizer::LoadedChatTemplate* chat_template = nullptr);

// The admission limit for `requested` concurrent sequences when the target
// replicas hold `target_max_sessions` sessions each (0 = unlimited): every
// sequence holds a target session, so admitting more than their total only
// defers RESOURCE_EXHAUSTED downstream. Returns min(requested, total), or
// `requested` when any replica is unlimited or there are none.
int64_t AdmissionLimit(int64_t requested, const std::vector<int64_t>& target_max_sessions);

// The wire enum of a decoding mode (the inverse of the mapping in
// ValidateGenerate; both live in validation.cc).
v1::SpeculationMode SpeculationModeToProto(decoding::SpeculationMode mode);

}  // namespace tandem::services

#endif  // TANDEM_SERVICES_ORCHESTRATOR_VALIDATION_H_
