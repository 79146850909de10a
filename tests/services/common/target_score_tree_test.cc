// DecodeItem.score_tokens / score_parents over gRPC (speculative beam
// search): a scored tree returns one candidate list per token and commits
// nothing; malformed trees fail as their item's status, naming the field.

#include <memory>
#include <string>

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "proto/tandem/v1/target_service.grpc.pb.h"
#include "services/common/channel.h"
#include "tests/services/common/test_server.h"

namespace tandem::services {
namespace {

using ::testing::HasSubstr;

class TargetScoreTreeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = testing::TestTargetServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    stub_ = v1::TargetService::NewStub(*MakeChannel(server_->address()));
    grpc::ClientContext context;
    v1::OpenSessionRequest open;
    for (int t : {1, 2, 3}) open.add_prompt_token_ids(t);
    v1::OpenSessionResponse opened;
    ASSERT_TRUE(stub_->OpenSession(&context, open, &opened).ok());
    session_ = opened.session_id();
  }

  v1::DecodeItem Item() const {
    v1::DecodeItem item;
    item.set_session_id(session_);
    item.mutable_sync()->set_base_length(3);
    item.set_score_only(true);
    item.set_top_logprobs(2);
    return item;
  }

  v1::DecodeResult Decode(const v1::DecodeItem& item) {
    grpc::ClientContext context;
    v1::DecodeRequest request;
    *request.add_items() = item;
    v1::DecodeResponse response;
    grpc::Status s = stub_->Decode(&context, request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response.results_size() == 1 ? response.results(0) : v1::DecodeResult();
  }

  void ExpectInvalid(const v1::DecodeItem& item, const std::string& field) {
    const v1::DecodeResult r = Decode(item);
    EXPECT_EQ(r.status().code(), grpc::StatusCode::INVALID_ARGUMENT) << field;
    EXPECT_THAT(r.status().message(), HasSubstr(field));
  }

  std::unique_ptr<testing::TestTargetServer> server_;
  std::unique_ptr<v1::TargetService::Stub> stub_;
  uint64_t session_ = 0;
};

TEST_F(TargetScoreTreeTest, ScoresEveryTokenAndCommitsNothing) {
  v1::DecodeItem item = Item();
  for (int t : {4, 5, 6}) item.add_score_tokens(t);
  for (int p : {-1, 0, -1}) item.add_score_parents(p);
  const v1::DecodeResult r = Decode(item);
  ASSERT_EQ(r.status().code(), 0) << r.status().message();
  EXPECT_EQ(r.candidates_size(), 2);
  ASSERT_EQ(r.node_candidates_size(), 3);
  for (const v1::TokenCandidates& node : r.node_candidates()) EXPECT_EQ(node.candidates_size(), 2);
  EXPECT_EQ(r.sequence_length(), 0u);  // score_only commits nothing.
  std::lock_guard<std::mutex> lock(server_->service().engine_mutex());
  EXPECT_EQ(server_->model().Length(session_), 3);
}

TEST_F(TargetScoreTreeTest, MalformedTreesNameTheirField) {
  v1::DecodeItem too_many = Item();
  for (int i = 0; i < 17; ++i) too_many.add_score_tokens(4);
  ExpectInvalid(too_many, "`score_tokens` has 17 entries; at most 16");
  v1::DecodeItem mismatch = Item();
  mismatch.add_score_tokens(4);
  mismatch.add_score_tokens(5);
  mismatch.add_score_parents(-1);
  ExpectInvalid(mismatch, "`score_parents` has 1 entries for 2 `score_tokens`");
  v1::DecodeItem forward = Item();
  forward.add_score_tokens(4);
  forward.add_score_tokens(5);
  forward.add_score_parents(-1);
  forward.add_score_parents(1);
  ExpectInvalid(forward, "parent is 1");
  v1::DecodeItem not_scoring = Item();
  not_scoring.set_score_only(false);
  not_scoring.add_score_tokens(4);
  ExpectInvalid(not_scoring, "`score_tokens` needs `score_only`");
  v1::DecodeItem outside = Item();
  outside.add_score_tokens(99);
  ExpectInvalid(outside, "token id 99 is outside the vocabulary");
  // The session is still usable.
  EXPECT_EQ(Decode(Item()).status().code(), 0);
}

}  // namespace
}  // namespace tandem::services
