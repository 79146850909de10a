#ifndef TANDEM_SERVICES_COMMON_BATCHED_ITEMS_H_
#define TANDEM_SERVICES_COMMON_BATCHED_ITEMS_H_

// The one scaffold of the model servers' batched-item RPCs (target Verify,
// Decode, DraftEarlyExit; draft Propose): every request carries `items`, one
// per session, each answered by a result with its own ItemStatus.

#include <cstdint>
#include <functional>
#include <future>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "proto/tandem/v1/session.pb.h"
#include "services/common/convert.h"
#include "services/common/rpc_call.h"

namespace tandem::services {

// The server a batched-item RPC runs in (ModelServiceBase; a fake in
// services/common/testing/). Implementations are thread-safe: concurrent RPCs
// call them.
class BatchedItemHost {
 public:
  virtual ~BatchedItemHost() = default;
  // Batch-level check of one call's sessions (item count, duplicates); may
  // renew the sessions' leases. An error fails the whole call.
  virtual absl::Status CheckItems(const std::vector<uint64_t>& sessions) = 0;
  // The status of an item its batcher refused (queue full).
  virtual absl::Status QueueFull() const = 0;
  // Writes an item's final status into its result (and counts / logs a
  // failure).
  virtual void SetItemStatus(const RpcCall& call, uint64_t session, const absl::Status& status,
                             v1::ItemStatus* out) = 0;
};

// What one RPC does with its items. `Item` and `Result` are the proto
// messages (e.g. v1::VerifyItem, v1::VerifyResult); `EngineItem` is what the
// batcher queues and `Outcome` what its future yields.
template <typename Item, typename Result, typename EngineItem, typename Outcome>
struct BatchedItemOps {
  // Validates an item and converts it for the batcher; an error becomes the
  // item's status and the item is not queued. Required.
  std::function<absl::StatusOr<EngineItem>(const Item&)> prepare;
  // Queues an item on a batcher; nullopt when its queue is full (the item's
  // status is then host.QueueFull()). Required.
  std::function<std::optional<std::future<Outcome>>(EngineItem)> submit;
  // Optional: queues all prepared items of the call together, so they share
  // one batch (Batcher::TrySubmitAll); when set it is used instead of
  // `submit`.
  std::function<std::vector<std::optional<std::future<Outcome>>>(std::vector<EngineItem>)>
      submit_all;
  // Writes a finished item's payload into `result` and returns its status
  // (the payload is written only when that status is OK). Required.
  std::function<absl::Status(const Item&, Outcome, Result*)> finish;
};

// Runs one batched-item RPC: checks the items' sessions with
// host.CheckItems (an error is returned as is, and `response` gets no
// results); prepares and submits every item before waiting for any, so that
// all of them can share one batch (with ops.submit_all: are queued together,
// so they do); then waits for each in order and appends
// exactly one result per item, in item order, whose status is set through
// host.SetItemStatus; finally sets response->server_time. Returns OK once
// the call was accepted: per-item failures live in the item statuses.
// Blocks until every submitted item's batch ran. Thread-safe if `host` and
// `ops` are; nothing is retained after it returns.
template <typename Request, typename Response, typename Item, typename Result, typename EngineItem,
          typename Outcome>
absl::Status RunBatchedItems(BatchedItemHost& host, const RpcCall& call, const Request& request,
                             const BatchedItemOps<Item, Result, EngineItem, Outcome>& ops,
                             Response* response) {
  const absl::Time start = absl::Now();
  const int n = request.items_size();
  std::vector<uint64_t> ids;
  ids.reserve(n);
  for (const Item& item : request.items()) ids.push_back(item.session_id());
  if (absl::Status s = host.CheckItems(ids); !s.ok()) return s;
  std::vector<std::future<Outcome>> futures(n);
  std::vector<absl::Status> early(n);
  std::vector<EngineItem> ready;
  std::vector<int> ready_index;
  for (int i = 0; i < n; ++i) {
    absl::StatusOr<EngineItem> prepared = ops.prepare(request.items(i));
    if (!prepared.ok()) {
      early[i] = prepared.status();
      continue;
    }
    if (ops.submit_all) {
      ready.push_back(*std::move(prepared));
      ready_index.push_back(i);
      continue;
    }
    std::optional<std::future<Outcome>> queued = ops.submit(*std::move(prepared));
    if (!queued) {
      early[i] = host.QueueFull();
      continue;
    }
    futures[i] = std::move(*queued);
  }
  if (!ready.empty()) {
    std::vector<std::optional<std::future<Outcome>>> queued = ops.submit_all(std::move(ready));
    for (size_t k = 0; k < ready_index.size(); ++k) {
      const int i = ready_index[k];
      if (k >= queued.size() || !queued[k]) {
        early[i] = host.QueueFull();
        continue;
      }
      futures[i] = std::move(*queued[k]);
    }
  }
  for (int i = 0; i < n; ++i) {
    Result* result = response->add_results();
    const absl::Status status =
        early[i].ok() ? ops.finish(request.items(i), futures[i].get(), result) : early[i];
    host.SetItemStatus(call, request.items(i).session_id(), status, result->mutable_status());
  }
  ToProto(absl::Now() - start, response->mutable_server_time());
  return absl::OkStatus();
}

}  // namespace tandem::services

#endif  // TANDEM_SERVICES_COMMON_BATCHED_ITEMS_H_
