#include "services/orchestrator/orchestrator_metrics.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace tandem::services {
namespace {

constexpr decoding::SpeculationMode kModes[] = {
    decoding::SpeculationMode::kOff, decoding::SpeculationMode::kDraftModel,
    decoding::SpeculationMode::kSelfSpeculative, decoding::SpeculationMode::kNgram};

int ModeIndex(decoding::SpeculationMode mode) {
  for (int i = 0; i < 4; ++i) {
    if (kModes[i] == mode) return i;
  }
  return 0;
}

}  // namespace

const char* OrchestratorMetrics::ModeName(decoding::SpeculationMode mode) {
  switch (mode) {
    case decoding::SpeculationMode::kOff: return "off";
    case decoding::SpeculationMode::kDraftModel: return "draft";
    case decoding::SpeculationMode::kSelfSpeculative: return "self";
    case decoding::SpeculationMode::kNgram: return "ngram";
  }
  return "off";
}

OrchestratorMetrics::OrchestratorMetrics(metrics::Registry& registry) : registry_(registry) {
  ttft_ = &registry.GetHistogram("tandem_orchestrator_time_to_first_token_seconds",
                                 "Time from request start to a sequence's first token.",
                                 metrics::LatencyBucketsSeconds());
  prompt_tokens_ = &registry.GetCounter("tandem_orchestrator_prompt_tokens_total",
                                        "Prompt tokens of finished sequences.");
  active_ = &registry.GetGauge("tandem_orchestrator_active_sequences",
                               "Sequences being generated now (admission counts these).");
  failovers_ = &registry.GetCounter(
      "tandem_orchestrator_replica_failovers_total",
      "Sessions moved to another replica (re-prefilled) after a replica failed.");
  fallbacks_ = &registry.GetCounter(
      "tandem_orchestrator_draft_fallbacks_total",
      "Sequences that finished target-only because the draft service failed or was slow.");
  for (int m = 0; m < kModes; ++m) {
    const std::string mode = ModeName(tandem::services::kModes[m]);
    generated_[m] = &registry.GetCounter("tandem_orchestrator_generated_tokens_total",
                                         "Tokens generated, by speculation mode.",
                                         {{"mode", mode}});
    passes_[m] = &registry.GetCounter("tandem_orchestrator_verify_passes_total",
                                      "Target passes (verify rounds), by speculation mode.",
                                      {{"mode", mode}});
    for (int p = 0; p < kPositions; ++p) {
      const metrics::Labels labels = {{"mode", mode}, {"position", absl::StrCat(p + 1)}};
      drafted_[m][p] = &registry.GetCounter("tandem_orchestrator_drafted_tokens_total",
                                            "Draft tokens proposed at each draft position.",
                                            labels);
      accepted_[m][p] = &registry.GetCounter("tandem_orchestrator_accepted_tokens_total",
                                             "Draft tokens accepted at each draft position.",
                                             labels);
    }
  }
  // Touch the common series so they are exported from the start.
  for (const char* method : {"Generate", "GenerateStream"}) {
    registry.GetCounter("tandem_orchestrator_requests_total", "Finished requests by status code.",
                        {{"method", method}, {"code", "OK"}});
    registry.GetHistogram("tandem_orchestrator_request_latency_seconds",
                          "Request latency (whole request, all sequences).",
                          metrics::LatencyBucketsSeconds(), {{"method", method}});
  }
}

void OrchestratorMetrics::RecordRequest(const std::string& method, const std::string& code,
                                        absl::Duration latency) {
  registry_
      .GetCounter("tandem_orchestrator_requests_total", "Finished requests by status code.",
                  {{"method", method}, {"code", code}})
      .Increment();
  registry_
      .GetHistogram("tandem_orchestrator_request_latency_seconds",
                    "Request latency (whole request, all sequences).",
                    metrics::LatencyBucketsSeconds(), {{"method", method}})
      .Observe(absl::ToDoubleSeconds(latency));
}

void OrchestratorMetrics::RecordSequence(decoding::SpeculationMode mode, int64_t prompt_tokens,
                                         const decoding::GenerationResult& result) {
  const decoding::SpeculationStats& s = result.stats;
  if (s.fell_back_to_target_only) fallbacks_->Increment();
  const int m = ModeIndex(mode);
  prompt_tokens_->Increment(static_cast<double>(prompt_tokens));
  generated_[m]->Increment(static_cast<double>(result.tokens.size()));
  passes_[m]->Increment(static_cast<double>(s.rounds));
  if (!result.tokens.empty()) ttft_->Observe(absl::ToDoubleSeconds(result.time_to_first_token));
  const size_t positions = std::min<size_t>(s.drafted_at.size(), kPositions);
  for (size_t p = 0; p < positions; ++p) {
    drafted_[m][p]->Increment(static_cast<double>(s.drafted_at[p]));
    if (p < s.accepted_at.size()) accepted_[m][p]->Increment(static_cast<double>(s.accepted_at[p]));
  }
}

}  // namespace tandem::services
