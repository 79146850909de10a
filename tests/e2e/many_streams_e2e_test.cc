// 1,000 concurrent GenerateStream calls over real gRPC servers: the
// orchestrator holds them all at once (every target session open at the
// same time) on a fixed pool of threads, so the process's thread count does
// not grow with the number of streams; every stream completes with its
// tokens, and every session is released afterwards.

#include <atomic>
#include <condition_variable>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "absl/time/clock.h"
#include "proto/tandem/v1/generation_service.grpc.pb.h"
#include "services/common/channel.h"
#include "tests/e2e/tiny_pair_cluster.h"

namespace tandem {
namespace {

constexpr int kStreams = 1000;
constexpr int kSequenceThreads = 8;
constexpr int kNewTokens = 12;

// Threads of this process (servers and client alike), from /proc.
int ProcessThreads() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  }
  return -1;
}

// Counts the streams that ended and how.
struct Tally {
  std::mutex mu;
  std::condition_variable cv;
  int done = 0;
  int ok = 0;
  int with_all_tokens = 0;
  std::string first_error;
};

// One streaming call on the client's callback API (no client thread per
// stream either); deletes itself when the call is done.
class StreamReader : public grpc::ClientReadReactor<v1::GenerateStreamResponse> {
 public:
  StreamReader(v1::GenerationService::Stub& stub, int i, Tally& tally) : tally_(tally) {
    const std::vector<uint32_t> prompt = {1u, 3u, static_cast<uint32_t>(4 + i % 4), 5u, 3u};
    request_.add_prompts()->mutable_token_ids()->mutable_ids()->Add(prompt.begin(), prompt.end());
    v1::GenerationConfig* config = request_.mutable_config();
    config->mutable_stopping()->set_max_new_tokens(kNewTokens);
    config->mutable_stopping()->set_ignore_eos(true);
    config->mutable_sampling()->set_temperature(0);
    config->mutable_speculation()->set_mode(i % 2 == 0 ? v1::SPECULATION_MODE_DRAFT_MODEL
                                                       : v1::SPECULATION_MODE_OFF);
    context_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(240));
    stub.async()->GenerateStream(&context_, &request_, this);
    StartRead(&message_);
    StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;
    if (message_.has_chunk()) tokens_ += message_.chunk().tokens_size();
    if (message_.has_sequence_end()) ended_ = true;
    StartRead(&message_);
  }

  void OnDone(const grpc::Status& status) override {
    {
      std::lock_guard<std::mutex> lock(tally_.mu);
      ++tally_.done;
      if (status.ok()) ++tally_.ok;
      if (status.ok() && ended_ && tokens_ == kNewTokens) ++tally_.with_all_tokens;
      if (!status.ok() && tally_.first_error.empty()) tally_.first_error = status.error_message();
    }
    tally_.cv.notify_all();
    delete this;
  }

 private:
  Tally& tally_;
  grpc::ClientContext context_;
  v1::GenerateStreamRequest request_;
  v1::GenerateStreamResponse message_;
  int tokens_ = 0;
  bool ended_ = false;
};

TEST(ManyStreamsE2eTest, AThousandStreamsAtOnceCostNoThreadEach) {
  testing::E2eOptions options;
  options.max_sessions = kStreams + 8;
  options.limits.max_active_sequences = kStreams + 8;
  options.limits.sequence_threads = kSequenceThreads;
  options.session_ttl = absl::Seconds(120);
  absl::StatusOr<testing::TinyPairCluster> tiny = testing::StartTinyPairCluster(options);
  ASSERT_TRUE(tiny.ok()) << tiny.status();
  testing::E2eCluster& cluster = *tiny->cluster;
  auto channel = services::MakeChannel(cluster.address());
  ASSERT_TRUE(channel.ok()) << channel.status();
  auto stub = v1::GenerationService::NewStub(*channel);

  // Warm up (every server has run a call), then the baseline.
  {
    Tally warm;
    for (int i = 0; i < 2; ++i) new StreamReader(*stub, i, warm);
    std::unique_lock<std::mutex> lock(warm.mu);
    ASSERT_TRUE(warm.cv.wait_for(lock, std::chrono::seconds(60), [&] { return warm.done == 2; }));
    ASSERT_EQ(warm.with_all_tokens, 2) << warm.first_error;
  }
  const int baseline_threads = ProcessThreads();
  ASSERT_GT(baseline_threads, 0);

  Tally tally;
  for (int i = 0; i < kStreams; ++i) new StreamReader(*stub, i, tally);
  int most_threads = 0;
  int64_t most_sessions = 0;
  {
    std::unique_lock<std::mutex> lock(tally.mu);
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(240);
    while (tally.done < kStreams && std::chrono::steady_clock::now() < give_up) {
      lock.unlock();
      most_threads = std::max(most_threads, ProcessThreads());
      most_sessions = std::max(most_sessions, cluster.target_service().open_sessions());
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      lock.lock();
    }
  }
  std::cout << kStreams << " streams: peak target sessions " << most_sessions
            << ", process threads " << baseline_threads << " idle, " << most_threads
            << " at peak\n";
  std::lock_guard<std::mutex> lock(tally.mu);
  ASSERT_EQ(tally.done, kStreams) << "streams still running after 240 s";
  EXPECT_EQ(tally.ok, kStreams) << tally.first_error;
  EXPECT_EQ(tally.with_all_tokens, kStreams);
  // They ran at the same time: (nearly) every stream's target session was
  // open at once, not admitted a few at a time.
  EXPECT_GE(most_sessions, kStreams * 9 / 10);
  // ...on a fixed number of threads. A thread per stream (or per RPC held
  // open) would add ~1,000; what may grow is bounded by the rounds in
  // flight (kSequenceThreads: their model-server RPC handlers and pipelined
  // drafts) and gRPC's own pollers.
  EXPECT_LE(most_threads - baseline_threads, 64)
      << "baseline " << baseline_threads << ", peak " << most_threads;
  // Everything released.
  const absl::Time start = absl::Now();
  while (cluster.target_service().open_sessions() + cluster.draft_service().open_sessions() > 0 &&
         absl::Now() - start < absl::Seconds(5)) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(cluster.target_service().open_sessions(), 0);
  EXPECT_EQ(cluster.draft_service().open_sessions(), 0);
}

}  // namespace
}  // namespace tandem
