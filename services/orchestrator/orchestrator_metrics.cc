#include "services/orchestrator/orchestrator_metrics.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace tandem::services {
namespace {

int ModeIndex(decoding::SpeculationMode mode) { return static_cast<int>(mode); }

}  // namespace

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
  spills_ = &registry.GetCounter(
      "tandem_orchestrator_replica_spills_total",
      "Sessions a full replica refused (RESOURCE_EXHAUSTED) that another replica took.");
  fallbacks_ = &registry.GetCounter(
      "tandem_orchestrator_draft_fallbacks_total",
      "Sequences that finished target-only because the draft service failed or was slow.");
  pre_drafts_ = &registry.GetCounter(
      "tandem_orchestrator_pre_drafts_total",
      "Rounds drafted ahead while the previous round was being verified (pipelined drafting).");
  pre_draft_hits_ = &registry.GetCounter(
      "tandem_orchestrator_pre_draft_hits_total",
      "Pre-drafted rounds whose predicted outcome came true: the draft was ready on arrival.");
  draft_hidden_ = &registry.GetCounter(
      "tandem_orchestrator_draft_hidden_seconds_total",
      "Drafting time overlapped with verification (pipelined drafting).");
  draft_exposed_ = &registry.GetCounter(
      "tandem_orchestrator_draft_exposed_seconds_total",
      "Drafting time the decoding loop waited for.");
  for (int speculative : {0, 1}) {
    const metrics::Labels labels = {{"speculative", speculative ? "true" : "false"}};
    beam_searches_[speculative] = &registry.GetCounter(
        "tandem_orchestrator_beam_searches_total",
        "Finished beam searches, plain or speculative (mode DRAFT_MODEL).", labels);
    beam_steps_[speculative] = &registry.GetCounter(
        "tandem_orchestrator_beam_search_steps_total",
        "Beam-search steps (generated positions) of finished beam searches.", labels);
    beam_passes_[speculative] = &registry.GetCounter(
        "tandem_orchestrator_beam_search_passes_total",
        "Target passes of finished beam searches (steps / passes = steps per pass).", labels);
  }
  beam_tree_tokens_ = &registry.GetCounter(
      "tandem_orchestrator_beam_search_tree_tokens_total",
      "Draft tree tokens speculative beam searches had the target score beside the beams.");
  for (decoding::SpeculationMode each : decoding::kAllSpeculationModes) {
    const int m = ModeIndex(each);
    const std::string mode = decoding::SpeculationModeName(each);
    generated_[m] = &registry.GetCounter("tandem_orchestrator_generated_tokens_total",
                                         "Tokens generated, by speculation mode.",
                                         {{"mode", mode}});
    passes_[m] = &registry.GetCounter("tandem_orchestrator_verify_passes_total",
                                      "Target passes (verify rounds), by speculation mode.",
                                      {{"mode", mode}});
    plain_[m] = &registry.GetCounter(
        "tandem_orchestrator_plain_rounds_total",
        "Target passes that verified no draft (γ = 0: adaptive back-off under load or low "
        "acceptance, no n-gram match, draft fallback), by speculation mode.",
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

void OrchestratorMetrics::RecordBeamSearch(bool speculative, int64_t prompt_tokens, int64_t steps,
                                           int64_t passes, int64_t tree_tokens,
                                           bool draft_fell_back, absl::Duration first_token) {
  const int k = speculative ? 1 : 0;
  beam_searches_[k]->Increment();
  beam_steps_[k]->Increment(static_cast<double>(steps));
  beam_passes_[k]->Increment(static_cast<double>(passes));
  beam_tree_tokens_->Increment(static_cast<double>(tree_tokens));
  if (draft_fell_back) fallbacks_->Increment();
  prompt_tokens_->Increment(static_cast<double>(prompt_tokens));
  if (steps > 0) ttft_->Observe(absl::ToDoubleSeconds(first_token));
}

void OrchestratorMetrics::RecordSequence(decoding::SpeculationMode mode, int64_t prompt_tokens,
                                         const decoding::GenerationResult& result) {
  const decoding::SpeculationStats& s = result.stats;
  if (s.fell_back_to_target_only) fallbacks_->Increment();
  pre_drafts_->Increment(static_cast<double>(s.pre_drafts));
  pre_draft_hits_->Increment(static_cast<double>(s.pre_draft_hits));
  draft_hidden_->Increment(absl::ToDoubleSeconds(s.draft_time_hidden));
  draft_exposed_->Increment(absl::ToDoubleSeconds(s.draft_time));
  const int m = ModeIndex(mode);
  prompt_tokens_->Increment(static_cast<double>(prompt_tokens));
  generated_[m]->Increment(static_cast<double>(result.tokens.size()));
  passes_[m]->Increment(static_cast<double>(s.rounds));
  plain_[m]->Increment(static_cast<double>(s.plain_rounds));
  if (!result.tokens.empty()) ttft_->Observe(absl::ToDoubleSeconds(result.time_to_first_token));
  const size_t positions = std::min<size_t>(s.drafted_at.size(), kPositions);
  for (size_t p = 0; p < positions; ++p) {
    drafted_[m][p]->Increment(static_cast<double>(s.drafted_at[p]));
    if (p < s.accepted_at.size()) accepted_[m][p]->Increment(static_cast<double>(s.accepted_at[p]));
  }
}

}  // namespace tandem::services
