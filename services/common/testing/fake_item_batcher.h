#ifndef TANDEM_SERVICES_COMMON_TESTING_FAKE_ITEM_BATCHER_H_
#define TANDEM_SERVICES_COMMON_TESTING_FAKE_ITEM_BATCHER_H_

#include <cstdint>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace tandem::services::testing {

// Stands in for decoding::Batcher's TrySubmit in tests of batched-item
// handlers. An accepted item runs `run` only when its future is waited on
// (a deferred future), and every submit and run is logged in order, so a test
// sees whether the caller queued every item before waiting for any. Refuses
// (nullopt, as a full queue) once `capacity` items were accepted; a negative
// capacity never refuses. Thread-safe.
template <typename Item, typename Outcome>
class FakeItemBatcher {
 public:
  using RunFn = std::function<Outcome(const Item&)>;

  explicit FakeItemBatcher(RunFn run, int64_t capacity = -1)
      : run_(std::move(run)), capacity_(capacity) {}

  std::optional<std::future<Outcome>> TrySubmit(Item item) {
    std::lock_guard<std::mutex> lock(mu_);
    if (capacity_ >= 0 && accepted_ >= capacity_) {
      events_.push_back("refuse");
      return std::nullopt;
    }
    const int64_t index = accepted_++;
    events_.push_back(absl::StrCat("submit ", index));
    return std::async(std::launch::deferred, [this, index, item = std::move(item)] {
      {
        std::lock_guard<std::mutex> lock(mu_);
        events_.push_back(absl::StrCat("run ", index));
      }
      return run_(item);
    });
  }

  // "submit N" (the N-th accepted item), "refuse", "run N", in order.
  std::vector<std::string> events() const {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }
  int64_t accepted() const {
    std::lock_guard<std::mutex> lock(mu_);
    return accepted_;
  }

 private:
  const RunFn run_;
  const int64_t capacity_;
  mutable std::mutex mu_;
  int64_t accepted_ = 0;
  std::vector<std::string> events_;
};

}  // namespace tandem::services::testing

#endif  // TANDEM_SERVICES_COMMON_TESTING_FAKE_ITEM_BATCHER_H_
