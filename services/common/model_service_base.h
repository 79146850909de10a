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
#include "decoding/engines.h"
#include "decoding/prefix_cache.h"
#include "model/model.h"
#include "proto/tandem/v1/session.pb.h"
#include "services/common/batched_items.h"
#include "services/common/model_server_options.h"
#include "services/common/model_service_metrics.h"
#include "services/common/rpc_call.h"
#include "services/common/session_leases.h"

namespace tandem::services {

// What the draft and target services share: session open/close with idle
// TTL leases (a reaper thread closes expired sessions), model info, limits,
// the per-request item checks, and the per-role metrics and structured logs
// (component = role). The engine is reached only under engine_mutex() (the
// batchers hold it while they run). The handlers (Do*, and the subclasses'
// RunBatchedItems bodies) return absl::Status; Instrumented is the one place
// it becomes a grpc::Status.
class ModelServiceBase : public BatchedItemHost {
 public:
  using OpenFn = std::function<absl::StatusOr<decoding::SessionId>(
      std::vector<int64_t>, const decoding::SessionOptions&)>;
  using CloseFn = std::function<absl::Status(decoding::SessionId)>;
  using ForkFn = std::function<absl::StatusOr<decoding::SessionId>(decoding::SessionId, int64_t)>;
  // Runs one chunk of a just-opened session's prompt (an engine call
  // through a batcher, which takes the engine mutex). With it, OpenSession
  // only registers the session under the mutex and then runs the prompt
  // chunk by chunk (--prefill_chunk positions each) WITHOUT the mutex, so
  // other sessions' work proceeds between chunks; an error or a cancelled
  // open closes the session and fails the open.
  //
  // `leaves_prompt_tail` (the target, whose engine catches a session up in
  // its first Verify / Score): with options.prompt_tail_with_first_step,
  // OpenSession leaves the prompt's last chunk (<= prefill_chunk positions)
  // to the session's first step, which then runs it in the same forward that
  // yields the first token — one engine step less before the first token.
  // TakePromptTail tells that step's item how many rows it catches up.
  using PrefillFn = std::function<decoding::PrefillOutcome(decoding::PrefillItem)>;

  // `role` ("target" or "draft") prefixes the metric names and is the log
  // component.
  ModelServiceBase(std::string role, const ModelServerOptions& options, model::Model& model,
                   OpenFn open, CloseFn close, ForkFn fork, PrefillFn prefill = nullptr,
                   bool leaves_prompt_tail = false);
  ~ModelServiceBase() override;

  // Runs `body` as RPC `method`: times it, converts its status to the
  // grpc::Status returned (ToGrpcStatus), counts it by status code, logs
  // failures with the request id.
  grpc::Status Instrumented(absl::string_view method, const grpc::ServerContext* context,
                            absl::string_view request_id_field,
                            const std::function<absl::Status(const RpcCall&)>& body);

  absl::Status DoOpen(const RpcCall& call, const v1::OpenSessionRequest& request,
                      v1::OpenSessionResponse* response);
  absl::Status DoClose(const RpcCall& call, const v1::CloseSessionRequest& request);
  absl::Status DoFork(const RpcCall& call, const v1::ForkSessionRequest& request,
                      v1::ForkSessionResponse* response);
  absl::Status DoModelInfo(v1::GetModelInfoResponse* response);

  // BatchedItemHost. CheckItems checks the item count
  // (1..max_items_per_call) and that sessions are distinct, and renews each
  // session's lease; SetItemStatus also counts and logs a failed item.
  absl::Status CheckItems(const std::vector<uint64_t>& sessions) override;
  void SetItemStatus(const RpcCall& call, uint64_t session, const absl::Status& status,
                     v1::ItemStatus* out) override;
  // The prompt positions OpenSession left to `session`'s first step (see
  // PrefillFn), once: later calls return 0. Thread-safe.
  int64_t TakePromptTail(uint64_t session);
  // The item status when a batcher's queue is full (max_queued_items).
  absl::Status QueueFull() const override;
  // An item's `num_draft_tokens` (Propose, DraftEarlyExit) must be in
  // [1, max_draft_length]; INVALID_ARGUMENT otherwise.
  absl::Status CheckNumDraftTokens(int64_t num_draft_tokens) const;

  // For batch functions, which run under engine_mutex(), after their engine
  // call: records the batch size of engine operation `op` and refreshes the
  // KV cache gauge (to what the batch left).
  void RecordBatchLocked(absl::string_view op, size_t items);

  std::mutex& engine_mutex() { return engine_mutex_; }
  const ModelServerOptions& options() const { return options_; }
  int64_t open_sessions() const { return leases_.size(); }
  const std::string& role() const { return metrics_.role(); }

 protected:
  // The subclass engine's prefix-cache statistics, for the gauges; called
  // with the engine mutex held. Default: none.
  virtual decoding::PrefixCacheStats PrefixCacheStatsLocked() const { return {}; }

  void StopReaper();

 private:
  void ReapLoop();
  // Called with engine_mutex_ held after sessions changed.
  void RefreshGaugesLocked();
  void RememberRequestId(uint64_t session, const std::string& request_id);
  // Drops a closed session's request id (returned) and prompt tail.
  std::string ForgetSession(uint64_t session);

  ModelServerOptions options_;
  model::Model& model_;
  OpenFn open_;
  CloseFn close_;
  ForkFn fork_;
  PrefillFn prefill_;
  const bool leaves_prompt_tail_;
  // The prompt (`prompt_size` positions) of a registered session, chunk by
  // chunk through prefill_, until done (or only its last chunk is left, when
  // the tail is left to the first step), an error, or the caller cancels.
  // Returns the positions left for the first step.
  absl::StatusOr<int64_t> RunPrefill(decoding::SessionId id, int64_t prompt_size,
                                     const RpcCall& call);
  ModelServiceMetrics metrics_;
  std::mutex engine_mutex_;
  SessionLeases leases_;
  std::mutex request_ids_mu_;
  // The request each open session serves, for the reaper's logs.
  absl::flat_hash_map<uint64_t, std::string> request_ids_;
  // Prompt positions left to each such session's first step (TakePromptTail).
  absl::flat_hash_map<uint64_t, int64_t> tails_;
  std::atomic<bool> stopping_{false};
  // Opens between the admission check and the engine (for the fast check).
  std::atomic<int64_t> opening_{0};
  std::thread reaper_;
};

}  // namespace tandem::services

#endif  // TANDEM_SERVICES_COMMON_MODEL_SERVICE_BASE_H_
