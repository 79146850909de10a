#include "decoding/round_pool.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace tandem::decoding {
namespace {

// Shared counters of a batch of CountingTasks.
struct Counters {
  std::atomic<int> running{0};
  std::atomic<int> most_running{0};
  std::atomic<int> first_steps{0};
  std::atomic<int> finished{0};
  // first_steps seen by the earliest second step of any task.
  std::atomic<int> first_steps_at_a_second{1 << 30};
};

// Needs `steps` steps; each holds its thread for a moment, like a round
// blocked on a verify RPC.
class CountingTask : public RoundPool::Task {
 public:
  CountingTask(Counters& c, int steps) : c_(c), steps_(steps) {}
  ~CountingTask() override { ++c_.finished; }
  bool Step() override {
    const int now = ++c_.running;
    int most = c_.most_running.load();
    while (now > most && !c_.most_running.compare_exchange_weak(most, now)) {
    }
    if (done_ == 0) ++c_.first_steps;
    if (done_ == 1) {
      int seen = c_.first_steps.load();
      int low = c_.first_steps_at_a_second.load();
      while (seen < low && !c_.first_steps_at_a_second.compare_exchange_weak(low, seen)) {
      }
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    --c_.running;
    return ++done_ == steps_;
  }

 private:
  Counters& c_;
  const int steps_;
  int done_ = 0;
};

TEST(RoundPoolTest, ManyTasksOnFewThreadsAllFinishAndTakeTurns) {
  Counters c;
  constexpr int kTasks = 200;
  {
    RoundPool pool(4);
    EXPECT_EQ(pool.threads(), 4);
    for (int i = 0; i < kTasks; ++i) ASSERT_TRUE(pool.Submit(std::make_unique<CountingTask>(c, 5)));
    while (c.finished.load() < kTasks) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    EXPECT_EQ(pool.tasks(), 0);
  }
  EXPECT_EQ(c.finished.load(), kTasks);
  // Never more steps at once than threads.
  EXPECT_LE(c.most_running.load(), 4);
  EXPECT_GE(c.most_running.load(), 2);
  // Turns: a task steps again only after the tasks queued before it had
  // their turn (all but the few taken by the other threads meanwhile).
  EXPECT_GE(c.first_steps_at_a_second.load(), kTasks - 4);
}

TEST(RoundPoolTest, DestructorRunsHeldTasksToCompletion) {
  Counters c;
  {
    RoundPool pool(2);
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(pool.Submit(std::make_unique<CountingTask>(c, 3)));
  }
  EXPECT_EQ(c.finished.load(), 20);
}

TEST(RoundPoolTest, AtLeastOneThread) {
  Counters c;
  RoundPool pool(0);
  EXPECT_EQ(pool.threads(), 1);
  ASSERT_TRUE(pool.Submit(std::make_unique<CountingTask>(c, 2)));
  while (c.finished.load() < 1) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

}  // namespace
}  // namespace tandem::decoding
