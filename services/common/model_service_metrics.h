#ifndef TANDEM_SERVICES_COMMON_MODEL_SERVICE_METRICS_H_
#define TANDEM_SERVICES_COMMON_MODEL_SERVICE_METRICS_H_

#include <cstdint>
#include <mutex>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/common/metrics.h"

namespace tandem::services {

// The metrics of one draft or target service, named tandem_<role>_*, so a
// target and a draft in one process do not collide (docs/operations.md):
//
//   tandem_<role>_sessions                   gauge      open sessions
//   tandem_<role>_kv_cache_bytes             gauge      KV cache allocated by the model
//   tandem_<role>_sessions_opened_total      counter    OpenSession + ForkSession successes
//   tandem_<role>_sessions_closed_total      counter    CloseSession successes
//   tandem_<role>_sessions_expired_total     counter    closed by the idle-TTL reaper
//   tandem_<role>_rpc_total{method,code}     counter    finished RPCs by gRPC status code
//   tandem_<role>_rpc_latency_seconds{method} histogram handler time
//   tandem_<role>_item_errors_total{method,code} counter items of a batched RPC that failed
//   tandem_<role>_batch_items{op}            histogram  items per engine batch (one forward)
//
// Several services of one role in a process add up: each instance contributes
// its own share to the gauges and withdraws it when destroyed. Thread-safe.
class ModelServiceMetrics {
 public:
  explicit ModelServiceMetrics(std::string role,
                               metrics::Registry& registry = metrics::Registry::Default());
  ~ModelServiceMetrics();
  ModelServiceMetrics(const ModelServiceMetrics&) = delete;
  ModelServiceMetrics& operator=(const ModelServiceMetrics&) = delete;

  void RecordRpc(absl::string_view method, grpc::StatusCode code, absl::Duration latency);
  void RecordItemError(absl::string_view method, grpc::StatusCode code);
  void RecordBatch(absl::string_view op, size_t items);
  void SessionOpened() { opened_.Increment(); }
  void SessionClosed() { closed_.Increment(); }
  void SessionsExpired(size_t n) { expired_.Increment(static_cast<double>(n)); }

  // This instance's current open sessions and KV cache bytes.
  void SetSessions(int64_t sessions);
  void SetKvCacheBytes(int64_t bytes);
  // The prefix cache's kept sessions now and its cumulative hits and reused
  // tokens (counters advance by the difference to the last call).
  void SetPrefixCache(int64_t entries, int64_t hits, int64_t reused_tokens);
  // The model's KV budget (0 = unlimited); one value per process.
  void SetKvBudgetBytes(int64_t bytes) { kv_budget_bytes_.Set(static_cast<double>(bytes)); }

  const std::string& role() const { return role_; }

 private:
  std::string Name(absl::string_view suffix) const;

  const std::string role_;
  metrics::Registry& registry_;
  metrics::Gauge& sessions_;
  metrics::Gauge& kv_cache_bytes_;
  metrics::Gauge& kv_budget_bytes_;
  metrics::Counter& opened_;
  metrics::Counter& closed_;
  metrics::Counter& expired_;
  std::mutex mu_;
  int64_t my_sessions_ = 0;
  int64_t my_kv_cache_bytes_ = 0;
  int64_t my_prefix_entries_ = 0;
  int64_t my_prefix_hits_ = 0;
  int64_t my_prefix_reused_ = 0;
};

// The canonical name of a gRPC status code ("OK", "INVALID_ARGUMENT", ...).
std::string StatusCodeName(grpc::StatusCode code);

}  // namespace tandem::services

#endif  // TANDEM_SERVICES_COMMON_MODEL_SERVICE_METRICS_H_
