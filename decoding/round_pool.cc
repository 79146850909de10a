#include "decoding/round_pool.h"

#include <utility>

namespace tandem::decoding {

RoundPool::RoundPool(int threads) {
  if (threads < 1) threads = 1;
  threads_.reserve(threads);
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Work(); });
}

RoundPool::~RoundPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : threads_) t.join();
}

bool RoundPool::Submit(std::unique_ptr<Task> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return false;
    queue_.push_back(std::move(task));
    ++held_;
  }
  cv_.notify_one();
  return true;
}

int64_t RoundPool::tasks() const {
  std::lock_guard<std::mutex> lock(mu_);
  return held_;
}

void RoundPool::Work() {
  std::unique_ptr<Task> task;
  while (true) {
    if (task == nullptr) {
      std::unique_lock<std::mutex> lock(mu_);
      // When stopping, a thread leaves only once no task is held anywhere:
      // a stepping task may still come back to the queue.
      cv_.wait(lock, [this] { return !queue_.empty() || (stopping_ && held_ == 0); });
      if (queue_.empty()) return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    if (task->Step()) {
      task.reset();  // Outside the lock: it may close sessions.
      std::lock_guard<std::mutex> lock(mu_);
      --held_;
      if (stopping_ && held_ == 0) cv_.notify_all();
      continue;
    }
    // Its turn is over: behind whatever waits (with nothing waiting, the
    // same thread goes on with it, no hand-over).
    std::lock_guard<std::mutex> lock(mu_);
    if (queue_.empty()) continue;
    queue_.push_back(std::move(task));
    task = std::move(queue_.front());
    queue_.pop_front();
  }
}

}  // namespace tandem::decoding
