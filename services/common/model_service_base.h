#ifndef TANDEM_SERVICES_COMMON_MODEL_SERVICE_BASE_H_
#define TANDEM_SERVICES_COMMON_MODEL_SERVICE_BASE_H_

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "decoding/engine_session.h"
#include "model/model.h"
#include "proto/tandem/v1/session.pb.h"
#include "services/common/model_server_options.h"
#include "services/common/model_service_metrics.h"
#include "services/common/session_leases.h"

namespace tandem::services {

// One RPC being served: its method name and the client request it belongs to
// (the "x-request-id" metadata the orchestrator forwards; else the request's
// own request_id field; else ""), for metrics and logs.
struct RpcCall {
  std::string method;
  std::string request_id;
  const grpc::ServerContext* context = nullptr;  // For cancellation checks.
};

// What the draft and target services share: session open/close with idle
// TTL leases (a reaper thread closes expired sessions), model info, limits,
// the per-request item checks, and the per-role metrics and structured logs
// (component = role). The engine is reached only under engine_mutex() (the
// batchers hold it while they run).
class ModelServiceBase {
 public:
  using OpenFn = std::function<absl::StatusOr<decoding::SessionId>(
      std::vector<int64_t>, const decoding::SessionOptions&)>;
  using CloseFn = std::function<absl::Status(decoding::SessionId)>;
  using ForkFn = std::function<absl::StatusOr<decoding::SessionId>(decoding::SessionId, int64_t)>;
  // Runs a just-opened session's prompt, called WITHOUT the engine mutex
  // (it goes through the batchers, which take it per step). An error closes
  // the session and fails the open.
  using PrefillFn = std::function<absl::Status(decoding::SessionId, const RpcCall&)>;

  // `role` ("target" or "draft") prefixes the metric names and is the log
  // component.
  ModelServiceBase(std::string role, const ModelServerOptions& options, model::Model& model,
                   OpenFn open, CloseFn close, ForkFn fork, PrefillFn prefill = nullptr);
  virtual ~ModelServiceBase();

  // Runs `body` as RPC `method`: times it, counts it by status code, logs
  // failures with the request id.
  grpc::Status Instrumented(absl::string_view method, const grpc::ServerContext* context,
                            absl::string_view request_id_field,
                            const std::function<grpc::Status(const RpcCall&)>& body);

  grpc::Status DoOpen(const RpcCall& call, const v1::OpenSessionRequest& request,
                      v1::OpenSessionResponse* response);
  grpc::Status DoClose(const RpcCall& call, const v1::CloseSessionRequest& request);
  grpc::Status DoFork(const RpcCall& call, const v1::ForkSessionRequest& request,
                      v1::ForkSessionResponse* response);
  grpc::Status DoModelInfo(v1::GetModelInfoResponse* response);

  // Checks the item count (1..max_items_per_call) and that sessions are
  // distinct; renews each session's lease.
  grpc::Status CheckItems(const std::vector<uint64_t>& sessions);

  // Writes an item's status into its result; a failed item is also counted
  // and logged.
  void SetItemStatus(const RpcCall& call, uint64_t session, const absl::Status& status,
                     v1::ItemStatus* out);

  // For batch functions, which run under engine_mutex(): records the batch
  // size of engine operation `op` and refreshes the KV cache gauge.
  void RecordBatchLocked(absl::string_view op, size_t items);

  std::mutex& engine_mutex() { return engine_mutex_; }
  // The item status when a batcher's queue is full (max_queued_items).
  absl::Status QueueFull() const;
  const ModelServerOptions& options() const { return options_; }
  int64_t open_sessions() const { return leases_.size(); }
  const std::string& role() const { return metrics_.role(); }

 protected:
  void StopReaper();

 private:
  void ReapLoop();
  // Called with engine_mutex_ held after sessions changed.
  void RefreshGaugesLocked();
  void RememberRequestId(uint64_t session, const std::string& request_id);
  std::string ForgetRequestId(uint64_t session);

  ModelServerOptions options_;
  model::Model& model_;
  OpenFn open_;
  CloseFn close_;
  ForkFn fork_;
  PrefillFn prefill_;
  ModelServiceMetrics metrics_;
  std::mutex engine_mutex_;
  SessionLeases leases_;
  std::mutex request_ids_mu_;
  // The request each open session serves, for the reaper's logs.
  absl::flat_hash_map<uint64_t, std::string> request_ids_;
  std::atomic<bool> stopping_{false};
  // Opens between the admission check and the engine (for the fast check).
  std::atomic<int64_t> opening_{0};
  std::thread reaper_;
};

}  // namespace tandem::services

#endif  // TANDEM_SERVICES_COMMON_MODEL_SERVICE_BASE_H_
