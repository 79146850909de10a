// --kv_budget over real gRPC servers (issue 12 §2, admission by KV memory):
// ModelInfo reports the budget and the bytes held; a session is admitted by
// reserving its max_sequence_length at OpenSession, and one that would pass
// the budget is refused RESOURCE_EXHAUSTED at once, naming it — directly on
// the target and through the orchestrator; closing a session readmits.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "client/tandem_client.h"
#include "proto/tandem/v1/target_service.grpc.pb.h"
#include "services/common/channel.h"
#include "tests/e2e/e2e_cluster.h"
#include "tests/e2e/tiny_pair_cluster.h"

namespace tandem {
namespace {

// The tiny pair's target has a 64-position context: one KV block per session.
constexpr int64_t kContext = 64;
constexpr int kSessionsInBudget = 3;

class KvBudgetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The target's bytes per position, from the reference copy of an unbounded cluster.
    absl::StatusOr<testing::TinyPairCluster> probe = testing::StartTinyPairCluster();
    ASSERT_TRUE(probe.ok()) << probe.status();
    bytes_per_position_ = probe->reference->info().kv_bytes_per_token;
    probe->cluster.reset();
    budget_ = kSessionsInBudget * kContext * bytes_per_position_;
    testing::E2eOptions options;
    options.kv_budget_bytes = budget_;
    absl::StatusOr<testing::TinyPairCluster> pair = testing::StartTinyPairCluster(options);
    ASSERT_TRUE(pair.ok()) << pair.status();
    cluster_ = std::move(pair->cluster);
    stub_ = v1::TargetService::NewStub(*services::MakeChannel(cluster_->target_address()));
  }

  grpc::Status Open(uint64_t* id) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::OpenSessionRequest request;
    for (uint32_t t : {1u, 3u, 4u, 5u}) request.add_prompt_token_ids(t);
    request.set_max_sequence_length(20);
    v1::OpenSessionResponse response;
    grpc::Status s = stub_->OpenSession(&context, request, &response);
    *id = response.session_id();
    return s;
  }

  void Close(uint64_t id) {
    grpc::ClientContext context;
    v1::CloseSessionRequest request;
    request.set_session_id(id);
    v1::CloseSessionResponse response;
    EXPECT_TRUE(stub_->CloseSession(&context, request, &response).ok());
  }

  v1::GetModelInfoResponse Info() {
    grpc::ClientContext context;
    v1::GetModelInfoResponse response;
    EXPECT_TRUE(stub_->GetModelInfo(&context, v1::GetModelInfoRequest(), &response).ok());
    return response;
  }

  absl::StatusOr<v1::GenerateResponse> Generate() {
    client::GenerateOptions o;
    o.prompt_token_ids = {{1, 3, 4, 5}};
    o.temperature = 0;
    o.max_new_tokens = 8;
    o.speculation = "off";
    client::TandemClient c(cluster_->address());
    return c.Generate(*client::BuildRequest(o), absl::Seconds(20));
  }

  int64_t bytes_per_position_ = 0;
  int64_t budget_ = 0;
  std::unique_ptr<testing::E2eCluster> cluster_;
  std::unique_ptr<v1::TargetService::Stub> stub_;
};

TEST_F(KvBudgetTest, AdmitsByReservedMemoryAndRefusesNamingTheBudget) {
  v1::GetModelInfoResponse idle = Info();
  EXPECT_EQ(idle.limits().kv_budget_bytes(), static_cast<uint64_t>(budget_));
  EXPECT_EQ(idle.load().kv_cache_bytes(), 0u);
  ASSERT_TRUE(Generate().ok()) << "a request fits an empty budget";

  std::vector<uint64_t> held;
  for (int i = 0; i < kSessionsInBudget; ++i) {
    uint64_t id = 0;
    grpc::Status s = Open(&id);
    ASSERT_TRUE(s.ok()) << i << ": " << s.error_message();
    held.push_back(id);
  }
  EXPECT_EQ(Info().load().kv_cache_bytes(), static_cast<uint64_t>(budget_));

  uint64_t refused_id = 0;
  const auto start = std::chrono::steady_clock::now();
  grpc::Status refused = Open(&refused_id);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(absl::StrContains(refused.error_message(),
                                "KV cache budget of " + std::to_string(budget_) + " bytes"))
      << refused.error_message();
  EXPECT_TRUE(absl::StrContains(refused.error_message(), "--kv_budget"));

  // Through the orchestrator: the only replica is full.
  absl::StatusOr<v1::GenerateResponse> busy = Generate();
  EXPECT_EQ(busy.status().code(), absl::StatusCode::kResourceExhausted) << busy.status();
  EXPECT_TRUE(absl::StrContains(busy.status().message(), "KV cache budget")) << busy.status();

  // Out-of-range reservations are refused as such.
  {
    grpc::ClientContext context;
    v1::OpenSessionRequest request;
    for (uint32_t t : {1u, 3u, 4u, 5u}) request.add_prompt_token_ids(t);
    request.set_max_sequence_length(3);  // Shorter than the prompt.
    v1::OpenSessionResponse response;
    EXPECT_EQ(stub_->OpenSession(&context, request, &response).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }

  Close(held.back());
  held.pop_back();
  absl::StatusOr<v1::GenerateResponse> again = Generate();
  EXPECT_TRUE(again.ok()) << again.status();
  for (uint64_t id : held) Close(id);
  EXPECT_EQ(Info().load().kv_cache_bytes(), 0u);
}

}  // namespace
}  // namespace tandem
