#include "services/common/model_service_metrics.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tandem::services {
namespace {

const std::vector<double>& BatchItemBuckets() {
  static const auto* buckets = new std::vector<double>{1, 2, 4, 8, 16, 32, 64, 128, 256};
  return *buckets;
}

}  // namespace

std::string StatusCodeName(grpc::StatusCode code) {
  // grpc::StatusCode and absl::StatusCode share their numbering.
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

std::string ModelServiceMetrics::Name(absl::string_view suffix) const {
  return absl::StrCat("tandem_", role_, "_", suffix);
}

ModelServiceMetrics::ModelServiceMetrics(std::string role, metrics::Registry& registry)
    : role_(std::move(role)),
      registry_(registry),
      sessions_(registry.GetGauge(Name("sessions"), "Open sessions (each holds a KV cache).")),
      kv_cache_bytes_(registry.GetGauge(Name("kv_cache_bytes"),
                                        "Bytes of KV cache allocated by the model.")),
      kv_budget_bytes_(registry.GetGauge(
          Name("kv_budget_bytes"),
          "Bytes of KV cache the sessions may hold together (--kv_budget; 0 = unlimited).")),
      opened_(registry.GetCounter(Name("sessions_opened_total"),
                                  "Sessions opened (OpenSession and ForkSession).")),
      closed_(registry.GetCounter(Name("sessions_closed_total"),
                                  "Sessions closed by CloseSession.")),
      expired_(registry.GetCounter(Name("sessions_expired_total"),
                                   "Sessions closed by the idle-TTL reaper.")) {}

ModelServiceMetrics::~ModelServiceMetrics() {
  SetSessions(0);
  SetKvCacheBytes(0);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (my_prefix_entries_ != 0) {
      registry_.GetGauge(Name("prefix_cache_entries"), "")
          .Add(static_cast<double>(-my_prefix_entries_));
      my_prefix_entries_ = 0;
    }
  }
}

void ModelServiceMetrics::RecordRpc(absl::string_view method, grpc::StatusCode code,
                                    absl::Duration latency) {
  registry_
      .GetCounter(Name("rpc_total"), "Finished RPCs by method and gRPC status code.",
                  {{"method", std::string(method)}, {"code", StatusCodeName(code)}})
      .Increment();
  registry_
      .GetHistogram(Name("rpc_latency_seconds"), "RPC handler latency in seconds.",
                    metrics::LatencyBucketsSeconds(), {{"method", std::string(method)}})
      .Observe(absl::ToDoubleSeconds(latency));
}

void ModelServiceMetrics::RecordItemError(absl::string_view method, grpc::StatusCode code) {
  registry_
      .GetCounter(Name("item_errors_total"),
                  "Items of batched RPCs that failed, by method and status code.",
                  {{"method", std::string(method)}, {"code", StatusCodeName(code)}})
      .Increment();
}

void ModelServiceMetrics::RecordBatch(absl::string_view op, size_t items) {
  registry_
      .GetHistogram(Name("batch_items"), "Items per engine batch (one batched forward pass).",
                    BatchItemBuckets(), {{"op", std::string(op)}})
      .Observe(static_cast<double>(items));
}

void ModelServiceMetrics::SetSessions(int64_t sessions) {
  std::lock_guard<std::mutex> lock(mu_);
  sessions_.Add(static_cast<double>(sessions - my_sessions_));
  my_sessions_ = sessions;
}

void ModelServiceMetrics::SetPrefixCache(int64_t entries, int64_t hits, int64_t reused_tokens) {
  std::lock_guard<std::mutex> lock(mu_);
  registry_
      .GetGauge(Name("prefix_cache_entries"),
                "Closed sessions whose KV is kept for prompts that start the same way.")
      .Add(static_cast<double>(entries - my_prefix_entries_));
  registry_
      .GetCounter(Name("prefix_cache_hits_total"),
                  "Sessions opened on a copied prefix of a kept session's KV.")
      .Increment(static_cast<double>(hits - my_prefix_hits_));
  registry_
      .GetCounter(Name("prefix_cache_reused_tokens_total"),
                  "Prompt positions copied from kept KV instead of recomputed.")
      .Increment(static_cast<double>(reused_tokens - my_prefix_reused_));
  my_prefix_entries_ = entries;
  my_prefix_hits_ = hits;
  my_prefix_reused_ = reused_tokens;
}

void ModelServiceMetrics::SetKvCacheBytes(int64_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  kv_cache_bytes_.Add(static_cast<double>(bytes - my_kv_cache_bytes_));
  my_kv_cache_bytes_ = bytes;
}

}  // namespace tandem::services
