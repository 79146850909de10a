// Replica discovery over real target servers on several loopback addresses
// (127.0.0.2, .3, .4) behind one name: new sequences start on the least-loaded
// replica by the servers' own reports, a replica added mid-run is picked up,
// and one removed mid-run finishes the streams it holds; a least-loaded
// replica that is full (at --max_sessions) spills new sessions to another
// before the client sees its RESOURCE_EXHAUSTED. The name resolves
// through a test lookup (the system resolver cannot be told about test
// names); everything else is the orchestrator's own discovery code.

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "client/tandem_client.h"
#include "proto/tandem/v1/target_service.grpc.pb.h"
#include "services/common/channel.h"
#include "services/common/metrics.h"
#include "services/common/model_server_options.h"
#include "services/common/server_runner.h"
#include "services/orchestrator/generation_service.h"
#include "services/orchestrator/remote_backends.h"
#include "services/orchestrator/replica_discovery.h"
#include "services/target/target_service.h"
#include "tests/testing/oracles.h"
#include "tokenizer/load_tokenizer.h"

namespace tandem {
namespace {

using services::TargetPool;

struct TargetServer {
  std::unique_ptr<model::Model> model;
  std::unique_ptr<services::TargetServiceImpl> service;
  std::unique_ptr<services::RunningServer> server;
};

std::string TargetDir() {
  auto path = testing::RunfilePath("assets/target/config.json");
  return path.ok() ? path->substr(0, path->rfind('/')) : "";
}

// `max_sessions` 0 = the ModelServerOptions default.
std::unique_ptr<TargetServer> StartTarget(const std::string& listen, int64_t max_sessions = 0) {
  services::ModelServerOptions options;
  options.model_path = TargetDir();
  options.dtype = "float32";
  if (max_sessions > 0) options.max_sessions = max_sessions;
  auto model = services::LoadModel(options);
  if (!model.ok()) return nullptr;
  auto t = std::make_unique<TargetServer>();
  t->model = *std::move(model);
  t->service = std::make_unique<services::TargetServiceImpl>(options, *t->model);
  auto server = services::RunningServer::Start({listen, "", "target"}, {t->service.get()});
  if (!server.ok()) return nullptr;
  t->server = *std::move(server);
  return t;
}

class DiscoveryE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = StartTarget("127.0.0.2:0", a_max_sessions_);
    ASSERT_NE(a_, nullptr);
    port_ = a_->server->port();
    b_ = StartTarget(absl::StrCat("127.0.0.3:", port_), b_max_sessions_);
    ASSERT_NE(b_, nullptr) << "port " << port_ << " busy on 127.0.0.3";
    SetResolvedTo({"127.0.0.2", "127.0.0.3"});
    auto tok = tokenizer::LoadTokenizer(TargetDir());
    ASSERT_TRUE(tok.ok());
    tokenizer_ = *std::move(tok);
    pool_ = std::make_unique<TargetPool>(
        [](const std::string& address) -> absl::StatusOr<TargetPool::Member> {
          auto backend = std::make_shared<services::RemoteTargetBackend>(
              *services::MakeChannel(address), services::RemoteOptions{});
          if (absl::Status s = backend->Connect(absl::Seconds(5)); !s.ok()) return s;
          return TargetPool::Member{backend, [backend](absl::Duration timeout) {
                                      return backend->PollOpenSessions(timeout);
                                    }};
        });
    spec_.dns_host = "target-headless";
    spec_.dns_port = port_;
    services::RefreshReplicas(*pool_, spec_, Lookup(), "target");
    ASSERT_EQ(pool_->size(), 2u);
    services::Backends backends;
    backends.targets = pool_.get();
    backends.target_info = a_->model->info();
    services::GenerationLimits limits;
    limits.default_mode = decoding::SpeculationMode::kOff;
    generation_ =
        std::make_unique<services::GenerationServiceImpl>(backends, *tokenizer_, limits);
    auto server = services::RunningServer::Start({"127.0.0.1:0", "", "orchestrator"},
                                                 {generation_.get()});
    ASSERT_TRUE(server.ok());
    orchestrator_ = *std::move(server);
    discovery_ = std::make_unique<services::PeriodicTask>(absl::Milliseconds(50), [this] {
      services::RefreshReplicas(*pool_, spec_, Lookup(), "target");
    });
  }

  void TearDown() override {
    discovery_.reset();
    if (orchestrator_) orchestrator_->Shutdown();
    for (auto* t : {&a_, &b_, &c_}) {
      if (*t) (*t)->server->Shutdown();
    }
  }

  void SetResolvedTo(std::vector<std::string> ips) {
    std::lock_guard<std::mutex> lock(mu_);
    resolved_ = std::move(ips);
  }
  services::HostLookup Lookup() {
    return [this](const std::string& host) -> absl::StatusOr<std::vector<std::string>> {
      if (host != "target-headless") return absl::NotFoundError(host);
      std::lock_guard<std::mutex> lock(mu_);
      return resolved_;
    };
  }

  // A long greedy stream; returns its text once done.
  std::thread Stream(int max_new_tokens, absl::Status& status, std::string& text) {
    return std::thread([this, max_new_tokens, &status, &text] {
      client::GenerateOptions o;
      o.prompts = {"In the beginning God created the heaven and the earth."};
      o.temperature = 0;
      o.max_new_tokens = max_new_tokens;
      client::TandemClient c(orchestrator_->address());
      auto request = client::BuildRequest(o);
      request->mutable_config()->mutable_stopping()->set_ignore_eos(true);
      status = c.GenerateStream(*request, [&](const v1::GenerateStreamResponse& m) {
        if (m.has_chunk()) text += m.chunk().text_delta();
        return true;
      });
    });
  }

  static bool WaitFor(const std::function<bool()>& done, absl::Duration limit = absl::Seconds(10)) {
    const absl::Time end = absl::Now() + limit;
    while (!done() && absl::Now() < end) absl::SleepFor(absl::Milliseconds(10));
    return done();
  }

  // Session limits of replicas a_ (127.0.0.2) and b_ (.3); 0 = default.
  int64_t a_max_sessions_ = 0;
  int64_t b_max_sessions_ = 0;
  std::unique_ptr<TargetServer> a_, b_, c_;
  int port_ = 0;
  std::mutex mu_;
  std::vector<std::string> resolved_;
  services::ReplicaSpec spec_;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer_;
  std::unique_ptr<TargetPool> pool_;
  std::unique_ptr<services::GenerationServiceImpl> generation_;
  std::unique_ptr<services::RunningServer> orchestrator_;
  std::unique_ptr<services::PeriodicTask> discovery_;
};

TEST_F(DiscoveryE2eTest, LeastLoadedReplicasAddedAndRemovedMidRun) {
  const int kLong = 700;  // Seconds of work on this model: still running below.
  absl::Status s1, s2, s3, s4;
  std::string t1, t2, t3, t4;
  // Two streams: one per replica (the second goes to the idle one).
  std::thread first = Stream(kLong, s1, t1);
  ASSERT_TRUE(WaitFor([&] { return a_->service->open_sessions() + b_->service->open_sessions() == 1; }));
  std::thread second = Stream(kLong, s2, t2);
  ASSERT_TRUE(WaitFor([&] { return a_->service->open_sessions() + b_->service->open_sessions() == 2; }));
  EXPECT_EQ(a_->service->open_sessions(), 1);
  EXPECT_EQ(b_->service->open_sessions(), 1);

  // A third replica appears behind the name: it is the least loaded, so the
  // next stream starts there.
  c_ = StartTarget(absl::StrCat("127.0.0.4:", port_));
  ASSERT_NE(c_, nullptr);
  SetResolvedTo({"127.0.0.2", "127.0.0.3", "127.0.0.4"});
  ASSERT_TRUE(WaitFor([&] { return pool_->size() == 3; }));
  ASSERT_TRUE(WaitFor([&] { return pool_->Snapshot()[0].address == absl::StrCat("127.0.0.4:", port_); }));
  std::thread third = Stream(kLong, s3, t3);
  ASSERT_TRUE(WaitFor([&] { return c_->service->open_sessions() == 1; }));

  // 127.0.0.2 leaves the name: new streams avoid it, the one it holds runs on.
  const int64_t on_a = a_->service->open_sessions();
  SetResolvedTo({"127.0.0.3", "127.0.0.4"});
  ASSERT_TRUE(WaitFor([&] { return pool_->size() == 2; }));
  std::thread fourth = Stream(40, s4, t4);
  fourth.join();
  EXPECT_TRUE(s4.ok()) << s4;
  EXPECT_EQ(a_->service->open_sessions(), on_a);
  for (std::thread* t : {&first, &second, &third}) t->join();
  for (const absl::Status* s : {&s1, &s2, &s3}) EXPECT_TRUE(s->ok()) << *s;
  // Greedy output does not depend on the replica.
  EXPECT_EQ(t1, t2);
  EXPECT_EQ(t1, t3);
  EXPECT_EQ(t4, t1.substr(0, t4.size()));
  EXPECT_GT(t4.size(), 0u);
}

// a_ holds 1 session (its limit) and b_ 2 of 3: by the servers' reports a_
// is the least loaded, so every new sequence tries it first and is refused.
class ReplicaSpillE2eTest : public DiscoveryE2eTest {
 protected:
  ReplicaSpillE2eTest() {
    a_max_sessions_ = 1;
    b_max_sessions_ = 3;
  }

  // Opens an idle session directly on `server` (as another orchestrator
  // would); it lives until the test ends.
  void Hold(TargetServer& server) {
    auto stub = v1::TargetService::NewStub(*services::MakeChannel(server.server->address()));
    grpc::ClientContext context;
    v1::OpenSessionRequest request;
    for (int64_t id : {5, 17, 42}) request.add_prompt_token_ids(id);
    request.mutable_config()->mutable_sampling()->set_temperature(0);
    v1::OpenSessionResponse response;
    const grpc::Status s = stub->OpenSession(&context, request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  absl::StatusOr<std::string> Generate(int max_new_tokens) {
    client::GenerateOptions o;
    o.prompts = {"In the beginning God created the heaven and the earth."};
    o.temperature = 0;
    o.max_new_tokens = max_new_tokens;
    client::TandemClient c(orchestrator_->address());
    auto response = c.Generate(*client::BuildRequest(o), absl::Seconds(60));
    if (!response.ok()) return response.status();
    return response->sequences(0).text();
  }

  static double Spills() {
    return services::metrics::Registry::Default()
        .GetCounter("tandem_orchestrator_replica_spills_total", "")
        .Value();
  }
};

TEST_F(ReplicaSpillE2eTest, FullLeastLoadedReplicaSpillsEverySessionToTheOther) {
  Hold(*a_);
  Hold(*b_);
  Hold(*b_);
  // Once polled, a_ (1 session) comes before b_ (2) in every snapshot (equal
  // loads would rotate).
  const std::string a = absl::StrCat("127.0.0.2:", port_);
  ASSERT_TRUE(WaitFor([&] {
    return pool_->Snapshot()[0].address == a && pool_->Snapshot()[0].address == a;
  }));
  const double before = Spills();
  constexpr int kRequests = 4;
  for (int i = 0; i < kRequests; ++i) {
    auto text = Generate(8);
    ASSERT_TRUE(text.ok()) << "request " << i << ": " << text.status();
    EXPECT_FALSE(text->empty());
  }
  EXPECT_EQ(Spills() - before, kRequests);
  EXPECT_EQ(a_->service->open_sessions(), 1);
  EXPECT_EQ(b_->service->open_sessions(), 2);  // The requests' sessions were closed.
}

TEST_F(ReplicaSpillE2eTest, EveryReplicaFullAnswersResourceExhaustedAtOnceNamingTheLimit) {
  Hold(*a_);
  for (int i = 0; i < 3; ++i) Hold(*b_);
  const absl::Time start = absl::Now();
  auto text = Generate(8);
  const absl::Duration took = absl::Now() - start;
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.status().code(), absl::StatusCode::kResourceExhausted) << text.status();
  EXPECT_THAT(std::string(text.status().message()), ::testing::HasSubstr("sessions are in use"));
  EXPECT_LT(took, absl::Milliseconds(500));
  EXPECT_EQ(a_->service->open_sessions(), 1);
  EXPECT_EQ(b_->service->open_sessions(), 3);
}

// --draft_shares_target_cpu=auto: a draft and a target replica on one host.
TEST(ReplicaSpecTest, ShareAHostComparesHostsWithLoopbackAsOne) {
  const auto spec = [](const char* v) { return *services::ParseReplicaSpec(v, "x"); };
  EXPECT_TRUE(services::ShareAHost(spec("127.0.0.1:5"), spec("127.0.0.1:6")));
  EXPECT_TRUE(services::ShareAHost(spec("localhost:5"), spec("[::1]:6")));
  EXPECT_TRUE(services::ShareAHost(spec("a:1,b:2"), spec("c:3,b:4")));
  EXPECT_TRUE(services::ShareAHost(spec("dns:///pair:1"), spec("pair:2")));
  EXPECT_FALSE(services::ShareAHost(spec("a:1,b:2"), spec("c:3")));
  EXPECT_FALSE(services::ShareAHost(spec("10.0.0.1:1"), spec("10.0.0.2:1")));
  EXPECT_FALSE(services::ShareAHost(spec("gpu-target:1"), spec("127.0.0.1:1")));
  // The flag's three settings, no draft replicas, and bad values.
  const services::ReplicaSpec local = spec("127.0.0.1:5"), remote = spec("gpu:6");
  EXPECT_EQ(*services::DraftSharesTargetCpu("auto", local, &local), true);
  EXPECT_EQ(*services::DraftSharesTargetCpu("auto", local, &remote), false);
  EXPECT_EQ(*services::DraftSharesTargetCpu("auto", local, nullptr), false);
  EXPECT_EQ(*services::DraftSharesTargetCpu("true", local, &remote), true);
  EXPECT_EQ(*services::DraftSharesTargetCpu("false", local, &local), false);
  for (const char* bad : {"", "yes", "AUTO", "1"}) {
    auto s = services::DraftSharesTargetCpu(bad, local, &local);
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(std::string(s.status().message()),
                ::testing::HasSubstr("--draft_shares_target_cpu must be auto, true or false"))
        << bad;
  }
}

TEST(ReplicaSpecTest, ParsesListsAndDnsNames) {
  auto list = services::ParseReplicaSpec("a:1,b:2", "target");
  ASSERT_TRUE(list.ok());
  EXPECT_FALSE(list->dns());
  EXPECT_THAT(list->addresses, ::testing::ElementsAre("a:1", "b:2"));
  auto dns = services::ParseReplicaSpec("dns:///target-headless:50051", "target");
  ASSERT_TRUE(dns.ok());
  EXPECT_EQ(dns->dns_host, "target-headless");
  EXPECT_EQ(dns->dns_port, 50051);
  for (const char* bad : {"dns:///nameonly", "dns:///name:0", "dns:///name:x", ""}) {
    auto s = services::ParseReplicaSpec(bad, "target");
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(std::string(s.status().message()), ::testing::HasSubstr("target")) << bad;
  }
  // The system resolver: localhost resolves; v6 answers get brackets.
  auto resolved = services::ResolveReplicas(*services::ParseReplicaSpec("dns:///localhost:9", "t"),
                                            services::SystemHostLookup());
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  ASSERT_FALSE(resolved->empty());
  for (const std::string& a : *resolved) {
    EXPECT_TRUE(a == "127.0.0.1:9" || a == "[::1]:9") << a;
  }
  EXPECT_FALSE(services::ResolveReplicas(
                   *services::ParseReplicaSpec("dns:///no-such-host.invalid:9", "t"),
                   services::SystemHostLookup())
                   .ok());
}

}  // namespace
}  // namespace tandem
