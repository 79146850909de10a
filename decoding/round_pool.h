#ifndef TANDEM_DECODING_ROUND_POOL_H_
#define TANDEM_DECODING_ROUND_POOL_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace tandem::decoding {

// Drives many resumable tasks (a sequence's GenerationLoop, round by round)
// on a fixed set of threads, so that N concurrent sequences cost N small
// objects, not N OS threads. Tasks run one step at a time in FIFO order: a
// task whose step did not finish it goes to the back of the queue, so every
// live sequence advances one round per turn. At most `threads` steps run at
// once; a step may block (a verify RPC), holding its thread meanwhile.
//
// Thread-safe. The destructor stops taking new tasks, runs every task it
// holds to completion (callers end them quickly, e.g. by cancelling their
// requests first) and joins its threads.
class RoundPool {
 public:
  class Task {
   public:
    virtual ~Task() = default;
    // One step of work. Returns true when the task is finished: the pool
    // then destroys it and never calls it again.
    virtual bool Step() = 0;
  };

  // threads >= 1.
  explicit RoundPool(int threads);
  ~RoundPool();
  RoundPool(const RoundPool&) = delete;
  RoundPool& operator=(const RoundPool&) = delete;

  // Queues the task (its first step runs when a thread is free). Returns
  // false, without running it, once the pool is being destroyed.
  bool Submit(std::unique_ptr<Task> task);

  int threads() const { return static_cast<int>(threads_.size()); }
  // Tasks held (queued or stepping).
  int64_t tasks() const;

 private:
  void Work();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Task>> queue_;
  int64_t held_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;  // Last: start after the members they use.
};

}  // namespace tandem::decoding

#endif  // TANDEM_DECODING_ROUND_POOL_H_
