// The model servers' metrics and structured logs, through a real TargetService
// (FakeModel) on 127.0.0.1:0 called over gRPC with an x-request-id, and a
// DraftService in the same process (separate metric names).

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "proto/tandem/v1/target_service.grpc.pb.h"
#include "services/common/channel.h"
#include "services/common/log.h"
#include "services/common/metrics.h"
#include "services/draft/draft_service.h"
#include "tests/services/common/test_server.h"

namespace tandem::services {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;

metrics::Registry& R() { return metrics::Registry::Default(); }

double Gauge(const std::string& name) { return R().GetGauge(name, "").Value(); }
double Counter(const std::string& name, const metrics::Labels& labels = {}) {
  return R().GetCounter(name, "", labels).Value();
}

class ModelServiceObservabilityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetLogSink([this](absl::string_view line) {
      std::lock_guard<std::mutex> lock(mu_);
      lines_.emplace_back(line);
    });
    auto server = testing::TestTargetServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    stub_ = v1::TargetService::NewStub(*MakeChannel(server_->address()));
  }
  void TearDown() override {
    server_.reset();
    SetLogSink(nullptr);
  }

  void Prepare(grpc::ClientContext& context, const std::string& request_id) {
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (!request_id.empty()) context.AddMetadata("x-request-id", request_id);
  }

  uint64_t Open(const std::string& request_id, int ttl_s = 0) {
    grpc::ClientContext context;
    Prepare(context, request_id);
    v1::OpenSessionRequest request;
    for (int t : {1, 2, 3}) request.add_prompt_token_ids(t);
    if (ttl_s > 0) request.mutable_ttl_hint()->set_seconds(ttl_s);
    v1::OpenSessionResponse response;
    grpc::Status s = stub_->OpenSession(&context, request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response.session_id();
  }

  std::vector<std::string> Lines() {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_;
  }

  std::unique_ptr<testing::TestTargetServer> server_;
  std::unique_ptr<v1::TargetService::Stub> stub_;
  std::mutex mu_;
  std::vector<std::string> lines_;
};

TEST_F(ModelServiceObservabilityTest, SessionLifecycleMovesGaugesCountersAndLogs) {
  const double sessions = Gauge("tandem_target_sessions");
  const double opened = Counter("tandem_target_sessions_opened_total");
  const double closed = Counter("tandem_target_sessions_closed_total");
  const double open_ok =
      Counter("tandem_target_rpc_total", {{"method", "OpenSession"}, {"code", "OK"}});

  const uint64_t id = Open("req-42");
  EXPECT_EQ(Gauge("tandem_target_sessions"), sessions + 1);
  EXPECT_EQ(Counter("tandem_target_sessions_opened_total"), opened + 1);
  EXPECT_EQ(Counter("tandem_target_rpc_total", {{"method", "OpenSession"}, {"code", "OK"}}),
            open_ok + 1);

  {  // One decode step: the engine runs a batch of one item.
    grpc::ClientContext context;
    Prepare(context, "req-42");
    v1::DecodeRequest request;
    v1::DecodeItem* item = request.add_items();
    item->set_session_id(id);
    item->mutable_sync()->set_base_length(3);
    v1::DecodeResponse response;
    ASSERT_TRUE(stub_->Decode(&context, request, &response).ok());
    ASSERT_EQ(response.results(0).status().code(), 0) << response.results(0).status().message();
  }
  EXPECT_GT(Gauge("tandem_target_kv_cache_bytes"), 0);
  EXPECT_GE(R().GetHistogram("tandem_target_batch_items", "", {1, 2, 4, 8, 16, 32, 64, 128, 256},
                             {{"op", "verify"}})
                .Count(),
            1u);
  EXPECT_GE(R().GetHistogram("tandem_target_rpc_latency_seconds", "",
                             metrics::LatencyBucketsSeconds(), {{"method", "Decode"}})
                .Count(),
            1u);

  {
    grpc::ClientContext context;
    Prepare(context, "req-42");
    v1::CloseSessionRequest request;
    request.set_session_id(id);
    v1::CloseSessionResponse response;
    ASSERT_TRUE(stub_->CloseSession(&context, request, &response).ok());
  }
  EXPECT_EQ(Gauge("tandem_target_sessions"), sessions);
  EXPECT_EQ(Counter("tandem_target_sessions_closed_total"), closed + 1);
  EXPECT_EQ(server_->model().num_sequences(), 0);

  const std::vector<std::string> lines = Lines();
  EXPECT_THAT(lines, Contains(AllOf(HasSubstr("\"component\":\"target\""),
                                    HasSubstr("\"event\":\"session_opened\""),
                                    HasSubstr("\"request_id\":\"req-42\""),
                                    HasSubstr("\"session_id\":" + std::to_string(id)))));
  EXPECT_THAT(lines, Contains(AllOf(HasSubstr("\"event\":\"session_closed\""),
                                    HasSubstr("\"request_id\":\"req-42\""))));
  const std::string text = R().RenderText();
  EXPECT_THAT(text, HasSubstr("# TYPE tandem_target_rpc_latency_seconds histogram\n"));
  EXPECT_THAT(text, HasSubstr("tandem_target_rpc_total{code=\"OK\",method=\"Decode\"}"));
}

TEST_F(ModelServiceObservabilityTest, FailedRpcsAndItemsAreCountedAndLoggedWithTheRequestId) {
  const metrics::Labels bad_call = {{"method", "Decode"}, {"code", "INVALID_ARGUMENT"}};
  const metrics::Labels bad_item = {{"method", "Decode"}, {"code", "NOT_FOUND"}};
  const double calls = Counter("tandem_target_rpc_total", bad_call);
  const double items = Counter("tandem_target_item_errors_total", bad_item);
  const double sessions = Gauge("tandem_target_sessions");
  {
    grpc::ClientContext context;
    Prepare(context, "req-bad");
    v1::DecodeResponse response;
    EXPECT_EQ(stub_->Decode(&context, v1::DecodeRequest(), &response).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    grpc::ClientContext context;
    Prepare(context, "req-unknown");
    v1::DecodeRequest request;
    request.add_items()->set_session_id(987654321);
    request.mutable_items(0)->mutable_sync()->set_base_length(1);
    v1::DecodeResponse response;
    ASSERT_TRUE(stub_->Decode(&context, request, &response).ok());
    EXPECT_EQ(response.results(0).status().code(), grpc::StatusCode::NOT_FOUND);
  }
  EXPECT_EQ(Counter("tandem_target_rpc_total", bad_call), calls + 1);
  EXPECT_EQ(Counter("tandem_target_item_errors_total", bad_item), items + 1);
  Open("");  // Refreshes the sessions gauge: the unknown id got no lease.
  EXPECT_EQ(Gauge("tandem_target_sessions"), sessions + 1);
  const std::vector<std::string> lines = Lines();
  EXPECT_THAT(lines, Contains(AllOf(HasSubstr("\"level\":\"warn\""),
                                    HasSubstr("\"event\":\"rpc_failed\""),
                                    HasSubstr("\"request_id\":\"req-bad\""),
                                    HasSubstr("\"code\":\"INVALID_ARGUMENT\""))));
  EXPECT_THAT(lines, Contains(AllOf(HasSubstr("\"event\":\"item_failed\""),
                                    HasSubstr("\"request_id\":\"req-unknown\""),
                                    HasSubstr("\"session_id\":987654321"))));
}

TEST_F(ModelServiceObservabilityTest, ReaperExpiresIdleSessionsWithTheirRequestId) {
  const double expired = Counter("tandem_target_sessions_expired_total");
  const double sessions = Gauge("tandem_target_sessions");
  Open("req-idle", /*ttl_s=*/1);
  EXPECT_EQ(Gauge("tandem_target_sessions"), sessions + 1);
  for (int i = 0; i < 100 && Counter("tandem_target_sessions_expired_total") == expired; ++i) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(Counter("tandem_target_sessions_expired_total"), expired + 1);
  EXPECT_EQ(Gauge("tandem_target_sessions"), sessions);
  EXPECT_THAT(Lines(), Contains(AllOf(HasSubstr("\"event\":\"session_expired\""),
                                      HasSubstr("\"request_id\":\"req-idle\""))));
}

TEST_F(ModelServiceObservabilityTest, DraftAndTargetInOneProcessHaveSeparateMetrics) {
  const double target_opened = Counter("tandem_target_sessions_opened_total");
  auto draft_model =
      model::testing::FakeModel::FromTable(16, {}, std::vector<float>(16, 0.0f));
  const double draft_sessions_before = Gauge("tandem_draft_sessions");
  {
    DraftServiceImpl draft(ModelServerOptions{}, *draft_model);
    grpc::ServerContext context;
    v1::OpenSessionRequest request;
    request.set_request_id("req-draft");
    request.add_prompt_token_ids(1);
    v1::OpenSessionResponse response;
    ASSERT_TRUE(draft.OpenSession(&context, &request, &response).ok());
    EXPECT_EQ(Gauge("tandem_draft_sessions"), draft_sessions_before + 1);
  }
  // A destroyed service withdraws its share of the gauges.
  EXPECT_EQ(Gauge("tandem_draft_sessions"), draft_sessions_before);
  EXPECT_EQ(Counter("tandem_target_sessions_opened_total"), target_opened);
  EXPECT_THAT(Lines(), Contains(AllOf(HasSubstr("\"component\":\"draft\""),
                                      HasSubstr("\"request_id\":\"req-draft\""))));
}

TEST(ServerRunnerMetricsTest, ServesTheDefaultRegistryWhenConfigured) {
  auto model = model::testing::FakeModel::FromTable(16, {}, std::vector<float>(16, 0.0f));
  TargetServiceImpl service(ModelServerOptions{}, *model);
  ServerRunOptions run;
  run.metrics_listen = "127.0.0.1:0";
  auto server = RunningServer::Start(run, {&service});
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_NE((*server)->metrics_address(), "");
  EXPECT_NE((*server)->metrics_address(), "127.0.0.1:0");
  (*server)->Shutdown();
  TargetServiceImpl other(ModelServerOptions{}, *model);
  auto without = RunningServer::Start(ServerRunOptions{}, {&other});
  ASSERT_TRUE(without.ok());
  EXPECT_EQ((*without)->metrics_address(), "");
}

}  // namespace
}  // namespace tandem::services
