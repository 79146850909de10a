// Batcher: items from many threads run in shared batches; with max_queued
// set, TrySubmit refuses work beyond the bound instead of queueing it.

#include "decoding/batcher.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace tandem::decoding {
namespace {

// A batch function that blocks until released, recording batch sizes.
class Gate {
 public:
  std::vector<int> Run(absl::Span<const int> items) {
    std::unique_lock<std::mutex> lock(mu_);
    ++entered_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
    sizes_.push_back(static_cast<int>(items.size()));
    std::vector<int> out;
    for (int i : items) out.push_back(i * 10);
    return out;
  }
  void WaitEntered(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return entered_ >= n; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  std::vector<int> sizes() {
    std::lock_guard<std::mutex> lock(mu_);
    return sizes_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int entered_ = 0;
  bool open_ = false;
  std::vector<int> sizes_;
};

TEST(BatcherTest, TrySubmitRefusesBeyondMaxQueuedAndRunsTheRest) {
  Gate gate;
  std::mutex engine;
  BatcherOptions options;
  options.max_batch = 64;
  options.max_queued = 3;
  Batcher<int, int> batcher([&](absl::Span<const int> items) { return gate.Run(items); },
                            options, &engine);
  // The first item occupies the worker; the next three wait; the fifth is
  // refused.
  auto first = batcher.TrySubmit(1);
  ASSERT_TRUE(first.has_value());
  gate.WaitEntered(1);
  std::vector<std::future<int>> waiting;
  for (int i = 2; i <= 4; ++i) {
    auto f = batcher.TrySubmit(i);
    ASSERT_TRUE(f.has_value()) << i;
    waiting.push_back(std::move(*f));
  }
  EXPECT_EQ(batcher.queued(), 3);
  EXPECT_FALSE(batcher.TrySubmit(5).has_value());
  EXPECT_EQ(batcher.refused(), 1);
  gate.Open();
  EXPECT_EQ(first->get(), 10);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(waiting[i].get(), (i + 2) * 10);
  // The three waiting items ran as one batch.
  EXPECT_EQ(gate.sizes(), (std::vector<int>{1, 3}));
  // Capacity is back.
  auto again = batcher.TrySubmit(6);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->get(), 60);
}

// Items submitted together run in ONE batch even when the worker is idle
// (separate TrySubmits would let it start on the first alone); with
// max_queued, those beyond the bound are refused.
TEST(BatcherTest, SubmitAllRunsItsItemsInOneBatch) {
  std::mutex engine;
  std::mutex mu;
  std::vector<int> sizes;
  Batcher<int, int> batcher(
      [&](absl::Span<const int> items) {
        std::lock_guard<std::mutex> lock(mu);
        sizes.push_back(static_cast<int>(items.size()));
        return std::vector<int>(items.begin(), items.end());
      },
      BatcherOptions{}, &engine);
  for (int round = 0; round < 50; ++round) {
    std::vector<int> out = batcher.RunAll({1, 2, 3, 4});
    EXPECT_EQ(out, (std::vector<int>{1, 2, 3, 4}));
  }
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(sizes, std::vector<int>(50, 4));

  Gate gate;
  BatcherOptions bounded;
  bounded.max_queued = 2;
  Batcher<int, int> small([&](absl::Span<const int> items) { return gate.Run(items); }, bounded,
                          &engine);
  auto first = small.TrySubmit(1);
  gate.WaitEntered(1);
  auto queued = small.TrySubmitAll({2, 3, 4});
  ASSERT_EQ(queued.size(), 3u);
  EXPECT_TRUE(queued[0].has_value());
  EXPECT_TRUE(queued[1].has_value());
  EXPECT_FALSE(queued[2].has_value());
  gate.Open();
  EXPECT_EQ(queued[1]->get(), 30);
  EXPECT_EQ(gate.sizes(), (std::vector<int>{1, 2}));
}

TEST(BatcherTest, UnboundedByDefault) {
  Gate gate;
  std::mutex engine;
  Batcher<int, int> batcher([&](absl::Span<const int> items) { return gate.Run(items); },
                            BatcherOptions{}, &engine);
  auto first = batcher.TrySubmit(0);
  gate.WaitEntered(1);
  std::vector<std::future<int>> all;
  for (int i = 1; i < 200; ++i) {
    auto f = batcher.TrySubmit(i);
    ASSERT_TRUE(f.has_value());
    all.push_back(std::move(*f));
  }
  gate.Open();
  for (int i = 1; i < 200; ++i) EXPECT_EQ(all[i - 1].get(), i * 10);
  EXPECT_EQ(batcher.refused(), 0);
}

// Caller runs: an idle batcher runs Run's items on the calling thread; the
// worker only takes over what queues while a batch runs, and batches never
// overlap.
TEST(BatcherTest, IdleBatcherRunsTheCallersItemsOnTheCallersThread) {
  std::mutex engine;
  std::mutex ids_mu;
  std::vector<std::thread::id> ran_on;
  auto record = [&](absl::Span<const int> items) {
    std::lock_guard<std::mutex> lock(ids_mu);
    ran_on.push_back(std::this_thread::get_id());
    return std::vector<int>(items.begin(), items.end());
  };
  BatcherOptions inline_on;
  ASSERT_TRUE(inline_on.run_inline_when_idle);  // The default.
  {
    Batcher<int, int> batcher(record, inline_on, &engine);
    EXPECT_EQ(batcher.Run(7), 7);
    EXPECT_EQ(batcher.RunAll({1, 2, 3}), (std::vector<int>{1, 2, 3}));
    // TrySubmit (items meant to share a batch) always goes to the worker.
    EXPECT_EQ(batcher.TrySubmit(4)->get(), 4);
    EXPECT_EQ(batcher.batches_run(), 3);
  }
  ASSERT_EQ(ran_on.size(), 3u);
  EXPECT_EQ(ran_on[0], std::this_thread::get_id());
  EXPECT_EQ(ran_on[1], std::this_thread::get_id());
  EXPECT_NE(ran_on[2], std::this_thread::get_id());
  ran_on.clear();
  BatcherOptions inline_off;
  inline_off.run_inline_when_idle = false;
  {
    Batcher<int, int> batcher(record, inline_off, &engine);
    EXPECT_EQ(batcher.Run(7), 7);
  }
  ASSERT_EQ(ran_on.size(), 1u);
  EXPECT_NE(ran_on[0], std::this_thread::get_id());
}

TEST(BatcherTest, ItemsArrivingDuringAnInlineBatchFormTheNextBatch) {
  Gate gate;
  std::mutex engine;
  std::atomic<int> running{0};
  std::atomic<int> most{0};
  Batcher<int, int> batcher(
      [&](absl::Span<const int> items) {
        const int now = ++running;
        if (now > most) most = now;
        std::vector<int> out = gate.Run(items);
        --running;
        return out;
      },
      BatcherOptions{}, &engine);
  // The first caller runs inline and blocks in the gate...
  std::thread first([&] { EXPECT_EQ(batcher.Run(1), 10); });
  gate.WaitEntered(1);
  // ...so these queue (the batcher is busy) and must wait for it.
  std::vector<std::future<int>> later;
  for (int i = 2; i <= 4; ++i) later.push_back(batcher.Submit(i));
  auto more = batcher.TrySubmitAll({5, 6});
  gate.Open();
  first.join();
  for (int i = 2; i <= 4; ++i) EXPECT_EQ(later[i - 2].get(), i * 10);
  EXPECT_EQ((*more[0]).get(), 50);
  EXPECT_EQ((*more[1]).get(), 60);
  EXPECT_EQ(most.load(), 1);  // Never two batches at once.
  EXPECT_EQ(gate.sizes(), (std::vector<int>{1, 5}));
}

// Row budget: items are ints; >= 100 is a "prefill" of (item - 100) rows
// (rank 1, shrinkable), < 100 a "decode" of `item` rows (rank 0, always
// runs). Budget 100 rows per batch.
RowBudget<int> TestBudget() {
  RowBudget<int> budget;
  budget.max_rows = 100;
  budget.rank = [](const int& item) { return item >= 100 ? 1 : 0; };
  budget.fit = [](int& item, int64_t left, bool first) -> int64_t {
    if (item < 100) return item;
    const int64_t wanted = item - 100;
    int64_t rows = std::min<int64_t>(wanted, left);
    if (rows < std::min<int64_t>(wanted, 10)) {
      if (!first) return 0;
      rows = std::min<int64_t>(wanted, 10);
    }
    item = static_cast<int>(100 + rows);
    return rows;
  };
  return budget;
}

// The batches a batch function saw (their items, after the budget's shrinking).
class Seen {
 public:
  void Add(absl::Span<const int> batch) {
    std::lock_guard<std::mutex> lock(mu_);
    batches_.emplace_back(batch.begin(), batch.end());
  }
  std::vector<std::vector<int>> batches() {
    std::lock_guard<std::mutex> lock(mu_);
    return batches_;
  }

 private:
  std::mutex mu_;
  std::vector<std::vector<int>> batches_;
};

// Runs one gated batch, queues `items` behind it, releases it and returns
// the batches that followed.
std::vector<std::vector<int>> BatchesAfterAGate(const RowBudget<int>& budget,
                                                const std::vector<int>& items) {
  Gate gate;
  std::mutex engine;
  Seen seen;
  {
    Batcher<int, int> batcher(
        [&](absl::Span<const int> batch) {
          seen.Add(batch);
          return gate.Run(batch);
        },
        BatcherOptions{}, &engine, budget);
    std::thread first([&] { batcher.Run(1); });
    gate.WaitEntered(1);
    std::vector<std::future<int>> futures;
    for (int item : items) futures.push_back(batcher.Submit(item));
    gate.Open();
    first.join();
    for (auto& f : futures) f.get();
  }
  std::vector<std::vector<int>> batches = seen.batches();
  batches.erase(batches.begin());  // The gated batch.
  return batches;
}

TEST(BatcherTest, RowBudgetRunsRunningRowsFirstAndSpreadsPrefillsOldestFirst) {
  // Queued: prefills of 60, 80 and 30 rows with decodes of 2 and 3 rows
  // between them.
  const std::vector<std::vector<int>> batches =
      BatchesAfterAGate(TestBudget(), {160, 2, 180, 3, 130});
  // Batch 1: both decodes (5 rows), the 60-row prefill, and the 80-row one
  // shrunk to the 35 rows left; the 30-row one waits (0 rows left, not first).
  // Batch 2: the other 45 rows of the second prompt are a new item only when
  // its caller submits them, so here: the 30-row prefill alone.
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[0], (std::vector<int>{2, 3, 160, 135}));
  EXPECT_EQ(batches[1], (std::vector<int>{130}));
}

TEST(BatcherTest, RowBudgetAlwaysAdvancesTheOldestPrefill) {
  // Decodes alone exceed the budget: they all run, and the oldest prefill
  // still gets its minimum (10 rows); the next prefill waits.
  const std::vector<std::vector<int>> batches =
      BatchesAfterAGate(TestBudget(), {150, 60, 170, 50});
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[0], (std::vector<int>{60, 50, 110}));
  EXPECT_EQ(batches[1], (std::vector<int>{170}));
}

TEST(BatcherTest, WithoutARowBudgetEveryQueuedItemRunsInOneBatchInArrivalOrder) {
  // The control for the two tests above: same items, no budget.
  const std::vector<std::vector<int>> batches = BatchesAfterAGate({}, {160, 2, 180, 3, 130});
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0], (std::vector<int>{160, 2, 180, 3, 130}));
}

TEST(BatcherTest, ACallerRunningInlineRunsOnlyWhatTheBudgetAllows) {
  std::mutex engine;
  Seen seen;
  Batcher<int, int> batcher(
      [&](absl::Span<const int> batch) {
        seen.Add(batch);
        return std::vector<int>(batch.begin(), batch.end());
      },
      BatcherOptions{}, &engine, TestBudget());
  // Idle batcher: the caller runs the 90-row prefill and the 4-row decode;
  // the 50-row prefill (6 rows left) goes to the worker's next batch.
  EXPECT_EQ(batcher.RunAll({190, 4, 150}), (std::vector<int>{190, 4, 150}));
  const std::vector<std::vector<int>> batches = seen.batches();
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[0], (std::vector<int>{4, 190}));
  EXPECT_EQ(batches[1], (std::vector<int>{150}));
}

}  // namespace
}  // namespace tandem::decoding
