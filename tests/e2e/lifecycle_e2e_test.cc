// Request lifecycle over real gRPC servers on loopback: the client's deadline
// reaches the backends and their sessions are released within a second;
// admission control answers RESOURCE_EXHAUSTED at once instead of queueing;
// and a soak of completed, cancelled, timed-out and abandoned requests leaves
// KV-cache memory and sessions exactly at their baseline.

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "client/tandem_client.h"
#include "proto/tandem/v1/target_service.grpc.pb.h"
#include "services/common/channel.h"
#include "tests/e2e/e2e_cluster.h"

namespace tandem {
namespace {

using ::testing::HasSubstr;

client::GenerateOptions Long(const std::string& prompt, int64_t max_new_tokens,
                             const std::string& mode = "draft") {
  client::GenerateOptions o;
  o.prompts = {prompt};
  o.temperature = 0;
  o.max_new_tokens = max_new_tokens;
  o.speculation = mode;
  return o;
}

// Waits up to `limit` for both models to hold no sequences; returns how long
// it took (or limit + 1 ms if they never emptied).
// Models are thread-compatible: read them under their service's engine
// mutex (the batchers hold it while they run).
int64_t Sequences(testing::E2eCluster& cluster) {
  std::lock_guard<std::mutex> t(cluster.target_service().engine_mutex());
  std::lock_guard<std::mutex> d(cluster.draft_service().engine_mutex());
  return cluster.target_model().num_sequences() + cluster.draft_model().num_sequences();
}

int64_t KvBytes(testing::E2eCluster& cluster, bool target) {
  if (target) {
    std::lock_guard<std::mutex> lock(cluster.target_service().engine_mutex());
    return cluster.target_model().kv_cache_bytes();
  }
  std::lock_guard<std::mutex> lock(cluster.draft_service().engine_mutex());
  return cluster.draft_model().kv_cache_bytes();
}

absl::Duration WaitForRelease(testing::E2eCluster& cluster, absl::Duration limit) {
  const absl::Time start = absl::Now();
  while (absl::Now() - start < limit) {
    if (Sequences(cluster) == 0 && cluster.target_service().open_sessions() == 0 &&
        cluster.draft_service().open_sessions() == 0) {
      return absl::Now() - start;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  return limit + absl::Milliseconds(1);
}

TEST(LifecycleE2eTest, ClientDeadlineStopsGenerationAndReleasesSessionsWithinASecond) {
  auto cluster = testing::E2eCluster::Start();
  ASSERT_NE(cluster, nullptr);
  client::TandemClient c(cluster->address());
  for (const char* mode : {"draft", "self", "off"}) {
    const absl::Time start = absl::Now();
    auto r = c.Generate(*client::BuildRequest(Long("The LORD is my shepherd", 1000, mode)),
                        absl::Milliseconds(300));
    ASSERT_FALSE(r.ok()) << mode << ": finished 1000 tokens within 300 ms?";
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded) << r.status();
    const absl::Duration released = WaitForRelease(*cluster, absl::Seconds(1));
    EXPECT_LE(released, absl::Seconds(1)) << mode << ": sessions still open 1 s after the deadline";
    EXPECT_LT(absl::Now() - start, absl::Seconds(2)) << mode;
  }
  // Streams too.
  int chunks = 0;
  absl::Status s = c.GenerateStream(
      *client::BuildRequest(Long("It is a truth universally acknowledged", 1000)),
      [&](const v1::GenerateStreamResponse& m) {
        chunks += m.has_chunk();
        return true;
      },
      absl::Milliseconds(1500));
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s << " after " << chunks << " chunks";
  EXPECT_LE(WaitForRelease(*cluster, absl::Seconds(1)), absl::Seconds(1));
}

// 500 requests whose deadline expires while their sessions are being opened
// (1-10 ms deadlines, concurrent) must not leave sessions behind: the model
// servers drop an open whose caller is gone, and the orchestrator gives every
// session a lease that ends soon after its request's deadline, so even an
// open whose reply is lost in flight is reaped within seconds, not the
// 300 s TTL. Later requests then find every session free.
TEST(LifecycleE2eTest, ExpiredDeadlinesDuringOpenLeakNoSessions) {
  auto cluster = testing::E2eCluster::Start();
  ASSERT_NE(cluster, nullptr);
  std::vector<std::thread> threads;
  std::atomic<int> failed{0};
  constexpr int kThreads = 10;
  constexpr int kPerThread = 50;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      client::TandemClient c(cluster->address());
      for (int i = 0; i < kPerThread; ++i) {
        auto r = c.Generate(
            *client::BuildRequest(Long("And God said, Let there be light", 32,
                                       (i % 3 == 0) ? "draft" : (i % 3 == 1) ? "ngram" : "off")),
            absl::Milliseconds(1 + (t + i) % 10));
        failed += r.ok() ? 0 : 1;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_GT(failed.load(), kThreads * kPerThread / 2)
      << "the deadlines were not short enough to test anything";
  EXPECT_LE(WaitForRelease(*cluster, absl::Seconds(5)), absl::Seconds(5))
      << "target sessions " << cluster->target_service().open_sessions() << ", draft sessions "
      << cluster->draft_service().open_sessions();
  client::TandemClient c(cluster->address());
  auto ok = c.Generate(*client::BuildRequest(Long("In the beginning", 16)), absl::Seconds(30));
  EXPECT_TRUE(ok.ok()) << ok.status();
}

TEST(LifecycleE2eTest, AdmissionLimitAnswersResourceExhaustedAtOnce) {
  testing::E2eOptions options;
  options.limits.max_active_sequences = 2;
  auto cluster = testing::E2eCluster::Start(options);
  ASSERT_NE(cluster, nullptr);
  client::TandemClient c(cluster->address());
  // Two long sequences fill the orchestrator.
  client::GenerateOptions busy = Long("In the beginning", 600);
  busy.num_return_sequences = 2;
  busy.temperature = 0.8;
  std::atomic<bool> started{false};
  absl::Status busy_status;
  std::thread runner([&] {
    busy_status = c.GenerateStream(*client::BuildRequest(busy),
                                   [&](const v1::GenerateStreamResponse& m) {
                                     if (m.has_chunk()) started = true;
                                     return true;
                                   });
  });
  while (!started) absl::SleepFor(absl::Milliseconds(2));
  const absl::Time start = absl::Now();
  auto refused = c.Generate(*client::BuildRequest(Long("Blessed are the meek", 8)));
  const absl::Duration took = absl::Now() - start;
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted) << refused.status();
  EXPECT_THAT(refused.status().message(), HasSubstr("at most 2 sequences"));
  EXPECT_LT(took, absl::Milliseconds(500));
  runner.join();
  EXPECT_TRUE(busy_status.ok()) << busy_status;
  // Capacity comes back once the running request is done.
  auto after = c.Generate(*client::BuildRequest(Long("Blessed are the meek", 8)));
  EXPECT_TRUE(after.ok()) << after.status();
}

TEST(LifecycleE2eTest, SoakLeavesKvCacheAndSessionsAtBaseline) {
  testing::E2eOptions options;
  options.session_ttl = absl::Milliseconds(800);
  auto cluster = testing::E2eCluster::Start(options);
  ASSERT_NE(cluster, nullptr);
  const int64_t target_baseline = KvBytes(*cluster, true);
  const int64_t draft_baseline = KvBytes(*cluster, false);
  client::TandemClient c(cluster->address());
  auto target_stub = v1::TargetService::NewStub(*services::MakeChannel(cluster->target_address()));
  const std::vector<std::string> prompts = {"In the beginning God created", "The LORD is my",
                                            "It is a truth universally", "Behold, I stand at"};
  std::atomic<int> completed{0}, cancelled{0}, timed_out{0};
  // The soak must actually use the caches it checks.
  std::atomic<bool> done{false};
  std::atomic<int64_t> target_peak{0};
  std::thread monitor([&] {
    while (!done) {
      target_peak = std::max<int64_t>(target_peak, KvBytes(*cluster, true));
      absl::SleepFor(absl::Milliseconds(2));
    }
  });
  constexpr int kRounds = 6;
  constexpr int kClients = 4;
  std::vector<std::thread> clients;
  for (int t = 0; t < kClients; ++t) {
    clients.emplace_back([&, t] {
      for (int round = 0; round < kRounds; ++round) {
        const std::string& prompt = prompts[(t + round) % prompts.size()];
        const char* mode = (round % 3 == 0) ? "draft" : (round % 3 == 1) ? "self" : "ngram";
        switch ((t + round) % 3) {
          case 0: {  // Completed.
            auto r = c.Generate(*client::BuildRequest(Long(prompt, 24, mode)));
            EXPECT_TRUE(r.ok()) << r.status();
            completed += r.ok();
            break;
          }
          case 1: {  // Cancelled by the client mid-stream.
            int chunks = 0;
            absl::Status s = c.GenerateStream(*client::BuildRequest(Long(prompt, 500, mode)),
                                              [&](const v1::GenerateStreamResponse& m) {
                                                return !(m.has_chunk() && ++chunks >= 2);
                                              });
            EXPECT_EQ(s.code(), absl::StatusCode::kCancelled) << s;
            cancelled += s.code() == absl::StatusCode::kCancelled;
            break;
          }
          case 2: {  // Deadline passes mid-request.
            auto r = c.Generate(*client::BuildRequest(Long(prompt, 500, mode)),
                                absl::Milliseconds(150));
            EXPECT_FALSE(r.ok());
            timed_out += !r.ok();
            break;
          }
        }
      }
    });
  }
  // Abandoned: sessions opened directly on the target by a "crashed"
  // orchestrator and never closed; the TTL reaper must take them back.
  for (int i = 0; i < 5; ++i) {
    grpc::ClientContext context;
    v1::OpenSessionRequest request;
    request.set_request_id("abandoned");
    for (int64_t id : {5, 17, 42, 99, 7}) request.add_prompt_token_ids(id + i);
    request.mutable_config()->mutable_sampling()->set_temperature(0);
    v1::OpenSessionResponse response;
    grpc::Status s = target_stub->OpenSession(&context, request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  for (auto& t : clients) t.join();
  done = true;
  monitor.join();
  EXPECT_GT(target_peak, target_baseline);
  EXPECT_EQ(completed + cancelled + timed_out, kRounds * kClients);
  EXPECT_GT(cancelled, 0);
  EXPECT_GT(timed_out, 0);
  // Requests release at once; abandoned sessions after the TTL (+ a reaper
  // period).
  EXPECT_LE(WaitForRelease(*cluster, absl::Seconds(5)), absl::Seconds(5));
  EXPECT_EQ(Sequences(*cluster), 0);
  EXPECT_EQ(KvBytes(*cluster, true), target_baseline);
  EXPECT_EQ(KvBytes(*cluster, false), draft_baseline);
  // And the cluster still serves.
  auto r = c.Generate(*client::BuildRequest(Long("Blessed are the meek", 8)));
  EXPECT_TRUE(r.ok()) << r.status();
  EXPECT_LE(WaitForRelease(*cluster, absl::Seconds(1)), absl::Seconds(1));
  EXPECT_EQ(KvBytes(*cluster, true), target_baseline);
}

}  // namespace
}  // namespace tandem
