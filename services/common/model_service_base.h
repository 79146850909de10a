#ifndef TANDEM_SERVICES_COMMON_MODEL_SERVICE_BASE_H_
#define TANDEM_SERVICES_COMMON_MODEL_SERVICE_BASE_H_

#include <atomic>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "decoding/engine_session.h"
#include "model/model.h"
#include "proto/tandem/v1/session.pb.h"
#include "services/common/model_server_options.h"
#include "services/common/session_leases.h"

namespace tandem::services {

// What the draft and target services share: session open/close with idle
// TTL leases (a reaper thread closes expired sessions), model info, limits,
// and the per-request item checks. The engine is reached only under
// engine_mutex() (the batchers hold it while they run).
class ModelServiceBase {
 public:
  using OpenFn = std::function<absl::StatusOr<decoding::SessionId>(
      std::vector<int64_t>, const decoding::SessionOptions&)>;
  using CloseFn = std::function<absl::Status(decoding::SessionId)>;
  using ForkFn = std::function<absl::StatusOr<decoding::SessionId>(decoding::SessionId, int64_t)>;

  ModelServiceBase(const ModelServerOptions& options, model::Model& model,
                   OpenFn open, CloseFn close, ForkFn fork);
  virtual ~ModelServiceBase();

  grpc::Status DoOpen(const v1::OpenSessionRequest& request,
                      v1::OpenSessionResponse* response);
  grpc::Status DoClose(const v1::CloseSessionRequest& request);
  grpc::Status DoFork(const v1::ForkSessionRequest& request, v1::ForkSessionResponse* response);
  grpc::Status DoModelInfo(v1::GetModelInfoResponse* response);

  // Checks the item count (1..max_items_per_call) and that sessions are
  // distinct; renews each session's lease.
  grpc::Status CheckItems(const std::vector<uint64_t>& sessions);

  std::mutex& engine_mutex() { return engine_mutex_; }
  const ModelServerOptions& options() const { return options_; }
  int64_t open_sessions() const { return leases_.size(); }

 protected:
  void StopReaper();

 private:
  void ReapLoop();

  ModelServerOptions options_;
  model::Model& model_;
  OpenFn open_;
  CloseFn close_;
  ForkFn fork_;
  std::mutex engine_mutex_;
  SessionLeases leases_;
  std::atomic<bool> stopping_{false};
  std::thread reaper_;
};

}  // namespace tandem::services

#endif  // TANDEM_SERVICES_COMMON_MODEL_SERVICE_BASE_H_
