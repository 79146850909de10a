#ifndef TANDEM_DECODING_BATCHER_H_
#define TANDEM_DECODING_BATCHER_H_

#include <algorithm>
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
  // Caller runs: when nothing is queued and no batch of this batcher is
  // running, Submit / TrySubmitAll / Run / RunAll run their items as the
  // batch on the calling thread (under the engine mutex) instead of handing
  // them to the worker and waiting for it — two thread hand-offs fewer per
  // batch for a lone stream. Items arriving meanwhile queue for the worker
  // as usual. Only with window 0. (TrySubmit, which callers use one item at
  // a time for items meant to share a batch, always queues.)
  bool run_inline_when_idle = true;
};

// A row budget per batch (a step's rows: what its forward costs). Without
// one (max_rows 0) a batch is every queued item up to max_batch, first come
// first served. With one, a batch is formed in passes by `rank` (0 first,
// then 1, ...), each pass in arrival order: `fit(item, left, first)` returns
// the rows the item adds when `left` rows of the budget remain (left may be
// <= 0) and may shrink the item to fit (a prefill chunk); 0 leaves it queued
// for a later batch. `first` is true for the first item a pass offers; fit
// must accept (> 0) an item offered with `first` true and `left` ==
// max_rows, so a non-empty queue always yields a batch.
template <typename Item>
struct RowBudget {
  int64_t max_rows = 0;
  std::function<int(const Item&)> rank;
  std::function<int64_t(Item&, int64_t left, bool first)> fit;
};

// Collects items submitted from many threads and runs them in batches on one
// worker thread (or, with run_inline_when_idle, on an idle caller's thread):
// one batch of a batcher runs at a time. `engine_mutex` (shared by every
// batcher of one engine) keeps different batchers of the same engine from
// running concurrently.
template <typename Item, typename Outcome>
class Batcher {
 public:
  using BatchFn = std::function<std::vector<Outcome>(absl::Span<const Item>)>;

  Batcher(BatchFn fn, BatcherOptions options, std::mutex* engine_mutex,
          RowBudget<Item> budget = {})
      : fn_(std::move(fn)), options_(options), budget_(std::move(budget)),
        engine_mutex_(engine_mutex), worker_([this] { Loop(); }) {}

  ~Batcher() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    worker_.join();
  }

  // Queues the item; the future is ready when its batch ran.
  std::future<Outcome> Submit(Item item) {
    return *Enqueue(std::move(item), /*bounded=*/false, /*may_run_here=*/true);
  }

  // As Submit, but refuses (nullopt) when max_queued items already wait, so
  // a server under overload answers RESOURCE_EXHAUSTED instead of queueing
  // without bound.
  std::optional<std::future<Outcome>> TrySubmit(Item item) {
    return Enqueue(std::move(item), /*bounded=*/true, /*may_run_here=*/false);
  }

  // As TrySubmit for several items queued together (under one lock), so the
  // worker cannot start a batch between them: up to max_batch of them run
  // in the same batch. Each refused item (max_queued) gets nullopt.
  std::vector<std::optional<std::future<Outcome>>> TrySubmitAll(std::vector<Item> items) {
    return EnqueueAll(std::move(items), /*bounded=*/true, /*may_run_here=*/true);
  }

  // Blocks until the items' batch ran (one batch when they fit max_batch);
  // returns their outcomes in order.
  std::vector<Outcome> RunAll(std::vector<Item> items) {
    std::vector<Outcome> out;
    for (auto& f : EnqueueAll(std::move(items), /*bounded=*/false, /*may_run_here=*/true)) {
      out.push_back(f->get());
    }
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
  std::optional<std::future<Outcome>> Enqueue(Item item, bool bounded, bool may_run_here) {
    std::vector<Item> one;
    one.push_back(std::move(item));
    return std::move(EnqueueAll(std::move(one), bounded, may_run_here).front());
  }

  // Queues the items together (one lock), each unless `bounded` and
  // max_queued items already wait; or, when `may_run_here` and the batcher
  // is idle (run_inline_when_idle), runs them now as one batch on this
  // thread.
  std::vector<std::optional<std::future<Outcome>>> EnqueueAll(std::vector<Item> items,
                                                              bool bounded, bool may_run_here) {
    std::vector<std::optional<std::future<Outcome>>> out;
    out.reserve(items.size());
    std::vector<Pending> here;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (may_run_here && options_.run_inline_when_idle &&
          options_.window == absl::ZeroDuration() && !running_ && !stopping_ &&
          queue_.empty() && !items.empty() &&
          static_cast<int>(items.size()) <= options_.max_batch) {
        running_ = true;
        for (Item& item : items) {
          std::promise<Outcome> promise;
          out.push_back(promise.get_future());
          here.push_back({std::move(item), std::move(promise)});
        }
        if (budget_.max_rows > 0) {
          // The budget picks which of them run here; the rest queue for the
          // worker (the queue was empty, so the batch holds only ours).
          for (Pending& p : here) queue_.push_back(std::move(p));
          here = TakeBatchLocked();
        }
      }
    }
    if (!here.empty()) {
      RunBatch(here);
      bool more;
      {
        std::lock_guard<std::mutex> lock(mu_);
        running_ = false;
        more = !queue_.empty();
      }
      if (more) cv_.notify_one();
      return out;
    }
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

  // Removes the next batch from the non-empty queue (see RowBudget).
  std::vector<Pending> TakeBatchLocked() {
    std::vector<Pending> batch;
    if (budget_.max_rows <= 0) {
      while (!queue_.empty() && static_cast<int>(batch.size()) < options_.max_batch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      return batch;
    }
    std::vector<bool> taken(queue_.size(), false);
    int max_rank = 0;
    for (const Pending& p : queue_) max_rank = std::max(max_rank, budget_.rank(p.item));
    int64_t left = budget_.max_rows;
    for (int rank = 0; rank <= max_rank; ++rank) {
      bool first = true;
      for (size_t i = 0; i < queue_.size(); ++i) {
        if (static_cast<int>(batch.size()) >= options_.max_batch) break;
        if (taken[i] || budget_.rank(queue_[i].item) != rank) continue;
        const int64_t rows = budget_.fit(queue_[i].item, left, first || batch.empty());
        first = false;
        if (rows <= 0) continue;
        left -= rows;
        taken[i] = true;
        batch.push_back(std::move(queue_[i]));
      }
    }
    std::deque<Pending> rest;
    for (size_t i = 0; i < queue_.size(); ++i) {
      if (!taken[i]) rest.push_back(std::move(queue_[i]));
    }
    queue_.swap(rest);
    return batch;
  }

  // Runs one batch on the calling thread and fulfils its promises.
  void RunBatch(std::vector<Pending>& batch) {
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

  void Loop() {
    while (true) {
      std::vector<Pending> batch;
      {
        std::unique_lock<std::mutex> lock(mu_);
        // A batch a caller runs inline goes first; what queued meanwhile
        // forms the next one.
        cv_.wait(lock, [this] { return (stopping_ && !running_) || (!queue_.empty() && !running_); });
        if (queue_.empty()) return;
        if (options_.window > absl::ZeroDuration()) {
          cv_.wait_for(lock, absl::ToChronoNanoseconds(options_.window), [this] {
            return stopping_ || static_cast<int>(queue_.size()) >= options_.max_batch;
          });
        }
        batch = TakeBatchLocked();
        running_ = true;
      }
      RunBatch(batch);
      std::lock_guard<std::mutex> lock(mu_);
      running_ = false;
    }
  }

  BatchFn fn_;
  BatcherOptions options_;
  RowBudget<Item> budget_;
  std::mutex* engine_mutex_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  bool running_ = false;  // A batch of this batcher is running (worker or caller).
  std::atomic<int64_t> batches_{0};
  std::atomic<int64_t> items_{0};
  std::atomic<int64_t> refused_{0};
  std::thread worker_;  // Last: starts after the members it uses.
};

}  // namespace tandem::decoding

#endif  // TANDEM_DECODING_BATCHER_H_
