// OpenSession on the target with chunked prefill (--prefill_chunk): the
// prompt runs over several engine steps outside the engine mutex; opens up
// to max_sessions succeed even while others are still prefilling; the next
// one is refused at once; a cancelled or expired open leaves no session.

#include <atomic>
#include <chrono>
#include <memory>
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
  void Start(int64_t max_sessions, int64_t prefill_chunk) {
    ModelServerOptions options;
    options.max_sessions = max_sessions;
    options.prefill_chunk = prefill_chunk;
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

  int64_t EngineSequences() {
    std::lock_guard<std::mutex> lock(server_->service().engine_mutex());
    return server_->model().num_sequences();
  }

  std::unique_ptr<testing::TestTargetServer> server_;
  std::unique_ptr<v1::TargetService::Stub> stub_;
};

TEST_F(TargetOpenTest, PromptIsCachedAfterAChunkedOpen) {
  Start(8, 3);
  uint64_t id = 0;
  ASSERT_TRUE(Open(20, &id).ok());
  std::lock_guard<std::mutex> lock(server_->service().engine_mutex());
  EXPECT_EQ(server_->model().Length(id), 19);  // All but the pending last token.
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
