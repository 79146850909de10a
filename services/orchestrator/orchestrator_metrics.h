#ifndef TANDEM_SERVICES_ORCHESTRATOR_ORCHESTRATOR_METRICS_H_
#define TANDEM_SERVICES_ORCHESTRATOR_ORCHESTRATOR_METRICS_H_

#include <array>
#include <cstdint>
#include <iterator>
#include <string>

#include "absl/time/time.h"
#include "decoding/generator.h"
#include "services/common/metrics.h"

namespace tandem::services {

// The orchestrator's Prometheus metrics (docs/operations.md lists them):
//
//   tandem_orchestrator_requests_total{method,code}          counter
//   tandem_orchestrator_request_latency_seconds{method}      histogram
//   tandem_orchestrator_time_to_first_token_seconds          histogram
//   tandem_orchestrator_prompt_tokens_total                  counter
//   tandem_orchestrator_generated_tokens_total{mode}         counter
//   tandem_orchestrator_drafted_tokens_total{mode,position}  counter
//   tandem_orchestrator_accepted_tokens_total{mode,position} counter
//   tandem_orchestrator_verify_passes_total{mode}            counter
//   tandem_orchestrator_plain_rounds_total{mode}             counter
//   tandem_orchestrator_active_sequences                     gauge
//   tandem_orchestrator_replica_failovers_total              counter
//   tandem_orchestrator_replica_spills_total                 counter
//   tandem_orchestrator_draft_fallbacks_total                counter
//   tandem_orchestrator_beam_searches_total{speculative}     counter
//   tandem_orchestrator_beam_search_steps_total{speculative} counter
//   tandem_orchestrator_beam_search_passes_total{speculative} counter
//   tandem_orchestrator_beam_search_tree_tokens_total        counter
//   tandem_orchestrator_pre_drafts_total                     counter
//   tandem_orchestrator_pre_draft_hits_total                 counter
//   tandem_orchestrator_draft_hidden_seconds_total           counter
//   tandem_orchestrator_draft_exposed_seconds_total          counter
//
// `mode` is off | draft | self | ngram; `position` is the draft position
// 1..16 (acceptance at position i = accepted / drafted at i). The γ chosen
// per round follows from these: rounds with γ >= i = drafted{position=i},
// rounds at γ = 0 = plain_rounds.
class OrchestratorMetrics {
 public:
  explicit OrchestratorMetrics(metrics::Registry& registry = metrics::Registry::Default());

  // One finished RPC (method "Generate" or "GenerateStream"; code as the
  // gRPC status code name, e.g. "OK", "INVALID_ARGUMENT").
  void RecordRequest(const std::string& method, const std::string& code, absl::Duration latency);
  // One finished sequence.
  void RecordSequence(decoding::SpeculationMode mode, int64_t prompt_tokens,
                      const decoding::GenerationResult& result);
  // One finished beam search (all its returned sequences): steps searched,
  // target passes they took, tree tokens scored beside the beams (speculative
  // searches), whether a failed draft turned speculation off, and the time to
  // its first streamed or returned token.
  void RecordBeamSearch(bool speculative, int64_t prompt_tokens, int64_t steps, int64_t passes,
                        int64_t tree_tokens, bool draft_fell_back, absl::Duration first_token);
  void AddActiveSequences(int64_t n) { active_->Add(static_cast<double>(n)); }
  void RecordFailover() { failovers_->Increment(); }
  void RecordSpill() { spills_->Increment(); }

 private:
  static constexpr int kPositions = 16;
  static constexpr int kModes = std::size(decoding::kAllSpeculationModes);

  metrics::Registry& registry_;
  metrics::Histogram* ttft_;
  metrics::Counter* prompt_tokens_;
  metrics::Gauge* active_;
  metrics::Counter* failovers_;
  metrics::Counter* spills_;
  metrics::Counter* fallbacks_;
  metrics::Counter* pre_drafts_;
  metrics::Counter* pre_draft_hits_;
  metrics::Counter* draft_hidden_;
  metrics::Counter* draft_exposed_;
  std::array<metrics::Counter*, 2> beam_searches_, beam_steps_, beam_passes_;  // [speculative]
  metrics::Counter* beam_tree_tokens_;
  std::array<metrics::Counter*, kModes> generated_;
  std::array<metrics::Counter*, kModes> passes_;
  std::array<metrics::Counter*, kModes> plain_;
  std::array<std::array<metrics::Counter*, kPositions>, kModes> drafted_, accepted_;
};

}  // namespace tandem::services

#endif  // TANDEM_SERVICES_ORCHESTRATOR_ORCHESTRATOR_METRICS_H_
