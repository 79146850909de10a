// OpenSession on the target with chunked prefill (--prefill_chunk): the
// prompt runs over several engine steps outside the engine mutex; opens up
// to max_sessions succeed even while others are still prefilling; the next
// one is refused at once; a cancelled or expired open leaves no session.

#include <atomic>
#include <chrono>
#include <memory>
#include <utility>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "proto/tandem/v1/target_service.grpc.pb.h"
#include "services/common/channel.h"
#include "tests/services/common/test_server.h"

namespace tandem::services {
namespace {

class TargetOpenTest : public ::testing::Test {
 protected:
  void Start(int64_t max_sessions, int64_t prefill_chunk, bool tail_with_first_step = true) {
    ModelServerOptions options;
    options.max_sessions = max_sessions;
    options.prefill_chunk = prefill_chunk;
    options.prompt_tail_with_first_step = tail_with_first_step;
    auto server = testing::TestTargetServer::Start(nullptr, options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    stub_ = v1::TargetService::NewStub(*MakeChannel(server_->address()));
  }

  grpc::Status Open(int prompt_tokens, uint64_t* id,
                    std::chrono::milliseconds deadline = std::chrono::seconds(30)) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + deadline);
    v1::OpenSessionRequest request;
    for (int i = 0; i < prompt_tokens; ++i) request.add_prompt_token_ids(1 + i % 15);
    v1::OpenSessionResponse response;
    grpc::Status s = stub_->OpenSession(&context, request, &response);
    if (id != nullptr) *id = response.session_id();
    return s;
  }

  void Close(uint64_t id) {
    grpc::ClientContext context;
    v1::CloseSessionRequest request;
    request.set_session_id(id);
    v1::CloseSessionResponse response;
    EXPECT_TRUE(stub_->CloseSession(&context, request, &response).ok());
  }

  // Scores session `id`'s next token (synced at `base_length`; beam
  // search's score_only step): its top 5 candidates.
  std::vector<std::pair<uint32_t, float>> DecodeTop5(uint64_t id, uint32_t base_length) {
    grpc::ClientContext context;
    v1::DecodeRequest request;
    v1::DecodeItem* item = request.add_items();
    item->set_session_id(id);
    item->mutable_sync()->set_base_length(base_length);
    item->set_score_only(true);
    item->set_top_logprobs(5);
    v1::DecodeResponse response;
    grpc::Status s = stub_->Decode(&context, request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::vector<std::pair<uint32_t, float>> top;
    if (!s.ok() || response.results_size() != 1) return top;
    EXPECT_EQ(response.results(0).status().code(), 0) << response.results(0).status().message();
    for (const v1::TokenLogprob& c : response.results(0).candidates()) {
      top.emplace_back(c.token_id(), c.logprob());
    }
    return top;
  }

  int64_t EngineSequences() {
    std::lock_guard<std::mutex> lock(server_->service().engine_mutex());
    return server_->model().num_sequences();
  }

  std::unique_ptr<testing::TestTargetServer> server_;
  std::unique_ptr<v1::TargetService::Stub> stub_;
};

TEST_F(TargetOpenTest, PromptIsCachedAfterAChunkedOpen) {
  Start(8, 3, /*tail_with_first_step=*/false);
  uint64_t id = 0;
  ASSERT_TRUE(Open(20, &id).ok());
  std::lock_guard<std::mutex> lock(server_->service().engine_mutex());
  EXPECT_EQ(server_->model().Length(id), 19);  // All but the pending last token.
  EXPECT_EQ(server_->service().TakePromptTail(id), 0);
}

// --prompt_tail_with_first_step: the open runs chunks of 8 while more than
// 8 positions are left (19 -> 11 -> 3), and leaves those 3 to the first
// step, which then runs them with the pending token — and yields the same
// candidates and log-probabilities as after a whole-prompt open.
TEST_F(TargetOpenTest, ThePromptTailRunsWithTheFirstStepAndChangesNothing) {
  std::vector<std::vector<std::pair<uint32_t, float>>> tops;
  for (bool tail : {true, false}) {
    Start(8, 8, tail);
    uint64_t id = 0;
    ASSERT_TRUE(Open(20, &id).ok());
    {
      std::lock_guard<std::mutex> lock(server_->service().engine_mutex());
      EXPECT_EQ(server_->model().Length(id), tail ? 16 : 19);
    }
    tops.push_back(DecodeTop5(id, 20));
    ASSERT_EQ(tops.back().size(), 5u);
    {
      std::lock_guard<std::mutex> lock(server_->service().engine_mutex());
      EXPECT_GE(server_->model().Length(id), 19);  // The tail ran.
    }
    // The first step took the tail's row count for the scheduler (once).
    EXPECT_EQ(server_->service().TakePromptTail(id), 0);
    Close(id);
  }
  EXPECT_EQ(tops[0], tops[1]);
}

TEST_F(TargetOpenTest, APromptTailIsForgottenWhenItsSessionCloses) {
  Start(8, 256);
  uint64_t id = 0;
  ASSERT_TRUE(Open(20, &id).ok());
  {
    std::lock_guard<std::mutex> lock(server_->service().engine_mutex());
    EXPECT_EQ(server_->model().Length(id), 0);  // A short prompt waits whole for its first step.
  }
  Close(id);
  EXPECT_EQ(server_->service().TakePromptTail(id), 0);
  uint64_t other = 0;
  ASSERT_TRUE(Open(30, &other).ok());
  EXPECT_EQ(server_->service().TakePromptTail(other), 29);
  EXPECT_EQ(server_->service().TakePromptTail(other), 0);
}

TEST_F(TargetOpenTest, ConcurrentOpensUpToTheLimitAllSucceed) {
  constexpr int kSessions = 4;
  Start(kSessions, 1);  // One position per step: every open overlaps the others.
  for (int round = 0; round < 3; ++round) {
    std::vector<uint64_t> ids(kSessions);
    std::vector<grpc::Status> status(kSessions);
    std::vector<std::thread> threads;
    for (int i = 0; i < kSessions; ++i) {
      threads.emplace_back([&, i] { status[i] = Open(60, &ids[i]); });
    }
    for (auto& t : threads) t.join();
    for (int i = 0; i < kSessions; ++i) {
      EXPECT_TRUE(status[i].ok()) << "round " << round << " open " << i << ": "
                                  << status[i].error_message();
    }
    EXPECT_EQ(server_->service().open_sessions(), kSessions);
    grpc::Status over = Open(5, nullptr);
    EXPECT_EQ(over.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    for (uint64_t id : ids) Close(id);
    EXPECT_EQ(server_->service().open_sessions(), 0);
  }
}

// Streams that each reopen as soon as they closed never exceed the limit,
// so none may be refused — also when an open, its prompt done, still waits
// for the engine mutex (held by the others' prefill steps) to finish.
TEST_F(TargetOpenTest, ReopeningStreamsAtTheLimitAreNeverRefused) {
  constexpr int kStreams = 4;
  Start(kStreams, 4);
  std::atomic<int> refused{0};
  std::vector<std::thread> streams;
  for (int i = 0; i < kStreams; ++i) {
    streams.emplace_back([&] {
      for (int k = 0; k < 60; ++k) {
        uint64_t id = 0;
        grpc::Status s = Open(24, &id);
        if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
          ++refused;
          continue;
        }
        ASSERT_TRUE(s.ok()) << s.error_message();
        Close(id);
      }
    });
  }
  for (auto& t : streams) t.join();
  EXPECT_EQ(refused.load(), 0);
  EXPECT_EQ(server_->service().open_sessions(), 0);
}

TEST_F(TargetOpenTest, OpenThatRunsPastItsDeadlineLeavesNoSession) {
  Start(8, 1);
  // ~1000 steps of one position: far longer than 20 ms.
  grpc::Status s = Open(1000, nullptr, std::chrono::milliseconds(20));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  for (int i = 0; i < 200 && (EngineSequences() > 0 || server_->service().open_sessions() > 0);
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(EngineSequences(), 0);
  EXPECT_EQ(server_->service().open_sessions(), 0);
}

}  // namespace
}  // namespace tandem::services
