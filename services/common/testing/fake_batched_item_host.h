#ifndef TANDEM_SERVICES_COMMON_TESTING_FAKE_BATCHED_ITEM_HOST_H_
#define TANDEM_SERVICES_COMMON_TESTING_FAKE_BATCHED_ITEM_HOST_H_

#include <cstdint>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "services/common/batched_items.h"
#include "services/common/status.h"

namespace tandem::services::testing {

// A BatchedItemHost that records what a handler reports: the sessions each
// CheckItems saw and every item status set. CheckItems answers
// `check_status` (set it to inject a batch-level failure); QueueFull is
// RESOURCE_EXHAUSTED "queue full". Thread-safe.
class FakeBatchedItemHost : public BatchedItemHost {
 public:
  void set_check_status(absl::Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    check_status_ = std::move(status);
  }

  absl::Status CheckItems(const std::vector<uint64_t>& sessions) override {
    std::lock_guard<std::mutex> lock(mu_);
    checked_.push_back(sessions);
    return check_status_;
  }
  absl::Status QueueFull() const override { return absl::ResourceExhaustedError("queue full"); }
  void SetItemStatus(const RpcCall&, uint64_t session, const absl::Status& status,
                     v1::ItemStatus* out) override {
    ToItemStatus(status, out);
    std::lock_guard<std::mutex> lock(mu_);
    item_statuses_.push_back({session, status});
  }

  std::vector<std::vector<uint64_t>> checked() const {
    std::lock_guard<std::mutex> lock(mu_);
    return checked_;
  }
  // (session, status) per SetItemStatus call, in call order.
  std::vector<std::pair<uint64_t, absl::Status>> item_statuses() const {
    std::lock_guard<std::mutex> lock(mu_);
    return item_statuses_;
  }

 private:
  mutable std::mutex mu_;
  absl::Status check_status_;
  std::vector<std::vector<uint64_t>> checked_;
  std::vector<std::pair<uint64_t, absl::Status>> item_statuses_;
};

}  // namespace tandem::services::testing

#endif  // TANDEM_SERVICES_COMMON_TESTING_FAKE_BATCHED_ITEM_HOST_H_
