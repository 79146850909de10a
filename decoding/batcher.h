#ifndef TANDEM_DECODING_BATCHER_H_
#define TANDEM_DECODING_BATCHER_H_

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "absl/types/span.h"

namespace tandem::decoding {

struct BatcherOptions {
  int max_batch = 64;
  // How long the worker waits for more items after the first one arrives.
  // 0 = continuous batching: run whatever is queued at once; items arriving
  // during a run form the next batch.
  absl::Duration window = absl::ZeroDuration();
  // Backpressure: TrySubmit refuses an item while this many wait for a
  // batch (0 = no limit).
  int64_t max_queued = 0;
};

// Collects items submitted from many threads and runs them in batches on one
// worker thread. `engine_mutex` (shared by every batcher of one engine) keeps
// different batchers of the same engine from running concurrently.
template <typename Item, typename Outcome>
class Batcher {
 public:
  using BatchFn = std::function<std::vector<Outcome>(absl::Span<const Item>)>;

  Batcher(BatchFn fn, BatcherOptions options, std::mutex* engine_mutex)
      : fn_(std::move(fn)), options_(options), engine_mutex_(engine_mutex),
        worker_([this] { Loop(); }) {}

  ~Batcher() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    worker_.join();
  }

  // Queues the item; the future is ready when its batch ran.
  std::future<Outcome> Submit(Item item) { return *Enqueue(std::move(item), /*bounded=*/false); }

  // As Submit, but refuses (nullopt) when max_queued items already wait, so
  // a server under overload answers RESOURCE_EXHAUSTED instead of queueing
  // without bound.
  std::optional<std::future<Outcome>> TrySubmit(Item item) {
    return Enqueue(std::move(item), /*bounded=*/true);
  }

  // As TrySubmit for several items queued together (under one lock), so the
  // worker cannot start a batch between them: up to max_batch of them run
  // in the same batch. Each refused item (max_queued) gets nullopt.
  std::vector<std::optional<std::future<Outcome>>> TrySubmitAll(std::vector<Item> items) {
    return EnqueueAll(std::move(items), /*bounded=*/true);
  }

  // Blocks until the items' batch ran (one batch when they fit max_batch);
  // returns their outcomes in order.
  std::vector<Outcome> RunAll(std::vector<Item> items) {
    std::vector<Outcome> out;
    for (auto& f : EnqueueAll(std::move(items), /*bounded=*/false)) out.push_back(f->get());
    return out;
  }

  // Blocks until the item's batch ran; returns its outcome.
  Outcome Run(Item item) { return Submit(std::move(item)).get(); }

  int64_t batches_run() const { return batches_; }
  int64_t items_run() const { return items_; }
  int64_t refused() const { return refused_; }
  int64_t queued() {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<int64_t>(queue_.size());
  }

 private:
  struct Pending {
    Item item;
    std::promise<Outcome> promise;
  };

  // Queues the item unless `bounded` and max_queued items already wait.
  std::optional<std::future<Outcome>> Enqueue(Item item, bool bounded) {
    std::vector<Item> one;
    one.push_back(std::move(item));
    return std::move(EnqueueAll(std::move(one), bounded).front());
  }

  // Queues the items together (one lock), each unless `bounded` and
  // max_queued items already wait.
  std::vector<std::optional<std::future<Outcome>>> EnqueueAll(std::vector<Item> items,
                                                              bool bounded) {
    std::vector<std::optional<std::future<Outcome>>> out;
    out.reserve(items.size());
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (Item& item : items) {
        if (bounded && options_.max_queued > 0 &&
            static_cast<int64_t>(queue_.size()) >= options_.max_queued) {
          ++refused_;
          out.push_back(std::nullopt);
          continue;
        }
        std::promise<Outcome> promise;
        out.push_back(promise.get_future());
        queue_.push_back({std::move(item), std::move(promise)});
      }
    }
    cv_.notify_one();
    return out;
  }

  void Loop() {
    while (true) {
      std::vector<Pending> batch;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        if (options_.window > absl::ZeroDuration()) {
          cv_.wait_for(lock, absl::ToChronoNanoseconds(options_.window), [this] {
            return stopping_ || static_cast<int>(queue_.size()) >= options_.max_batch;
          });
        }
        while (!queue_.empty() && static_cast<int>(batch.size()) < options_.max_batch) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      std::vector<Item> items;
      items.reserve(batch.size());
      for (Pending& p : batch) items.push_back(std::move(p.item));
      std::vector<Outcome> outcomes;
      {
        std::lock_guard<std::mutex> engine_lock(*engine_mutex_);
        outcomes = fn_(items);
      }
      ++batches_;
      items_ += batch.size();
      for (size_t i = 0; i < batch.size(); ++i) {
        batch[i].promise.set_value(std::move(outcomes[i]));
      }
    }
  }

  BatchFn fn_;
  BatcherOptions options_;
  std::mutex* engine_mutex_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  std::atomic<int64_t> batches_{0};
  std::atomic<int64_t> items_{0};
  std::atomic<int64_t> refused_{0};
  std::thread worker_;  // Last: starts after the members it uses.
};

}  // namespace tandem::decoding

#endif  // TANDEM_DECODING_BATCHER_H_
