// TLS, mutual TLS and bearer authentication between a real TargetService on
// 127.0.0.1:0 and real gRPC clients, with the certificates checked in under
// tests/testdata/tls (tools/tls/make_test_certs.sh).

#include "services/common/security.h"

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "proto/tandem/v1/target_service.grpc.pb.h"
#include "services/common/channel.h"
#include "tests/services/common/test_server.h"

namespace tandem::services {
namespace {

using ::testing::HasSubstr;
using testing::TlsFile;
using testing::WriteTempFile;

ServerSecurity Tls() {
  ServerSecurity s;
  s.cert_file = TlsFile("server.crt");
  s.key_file = TlsFile("server.key");
  return s;
}

ChannelSecurity TrustingTestCa() {
  ChannelSecurity c;
  c.ca_file = TlsFile("ca.crt");
  return c;
}

std::unique_ptr<testing::TestTargetServer> StartServer(const ServerSecurity& security) {
  auto credentials = MakeServerCredentials(security);
  EXPECT_TRUE(credentials.ok()) << credentials.status();
  if (!credentials.ok()) return nullptr;
  auto server = testing::TestTargetServer::Start(*credentials);
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? *std::move(server) : nullptr;
}

// GetModelInfo with a short deadline; the status says whether the channel
// (handshake, token) was accepted.
grpc::Status CallModelInfo(const std::string& address, const ChannelSecurity& security) {
  auto channel = MakeChannel(address, security);
  if (!channel.ok()) return grpc::Status(grpc::StatusCode::INTERNAL, "bad channel config");
  auto stub = v1::TargetService::NewStub(*channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::GetModelInfoResponse response;
  grpc::Status status = stub->GetModelInfo(&context, v1::GetModelInfoRequest(), &response);
  if (status.ok() && response.model().vocab_size() != 16) {
    return grpc::Status(grpc::StatusCode::INTERNAL, "unexpected model info");
  }
  return status;
}

TEST(TlsTest, TlsClientTrustingTheCaIsServed) {
  auto server = StartServer(Tls());
  ASSERT_NE(server, nullptr);
  grpc::Status s = CallModelInfo(server->address(), TrustingTestCa());
  EXPECT_TRUE(s.ok()) << s.error_message();
  ChannelSecurity by_name = TrustingTestCa();
  s = CallModelInfo("localhost:" + server->address().substr(server->address().rfind(':') + 1),
                    by_name);
  EXPECT_TRUE(s.ok()) << "localhost SAN: " << s.error_message();
}

TEST(TlsTest, PlaintextClientToTlsServerFails) {
  auto server = StartServer(Tls());
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(CallModelInfo(server->address(), {}).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST(TlsTest, ClientTrustingAnotherCaRejectsTheServer) {
  auto server = StartServer(Tls());
  ASSERT_NE(server, nullptr);
  ChannelSecurity wrong;
  wrong.ca_file = TlsFile("wrong_ca.crt");
  EXPECT_EQ(CallModelInfo(server->address(), wrong).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST(TlsTest, TlsClientToPlaintextServerFails) {
  auto server = testing::TestTargetServer::Start();
  ASSERT_TRUE(server.ok());
  EXPECT_EQ(CallModelInfo((*server)->address(), TrustingTestCa()).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(CallModelInfo((*server)->address(), {}).ok());
}

class MutualTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerSecurity s = Tls();
    s.client_ca_file = TlsFile("ca.crt");
    server_ = StartServer(s);
    ASSERT_NE(server_, nullptr);
  }
  std::unique_ptr<testing::TestTargetServer> server_;
};

TEST_F(MutualTlsTest, ClientWithoutCertificateIsRejected) {
  EXPECT_EQ(CallModelInfo(server_->address(), TrustingTestCa()).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(MutualTlsTest, ClientCertificateFromAnotherCaIsRejected) {
  ChannelSecurity c = TrustingTestCa();
  c.cert_file = TlsFile("wrong_client.crt");
  c.key_file = TlsFile("wrong_client.key");
  EXPECT_EQ(CallModelInfo(server_->address(), c).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(MutualTlsTest, ClientCertificateFromTheCaIsAccepted) {
  ChannelSecurity c = TrustingTestCa();
  c.cert_file = TlsFile("client.crt");
  c.key_file = TlsFile("client.key");
  grpc::Status s = CallModelInfo(server_->address(), c);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

class BearerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerSecurity s = Tls();
    s.bearer_token_file = WriteTempFile("server_token", "s3cret-token\n");
    server_ = StartServer(s);
    ASSERT_NE(server_, nullptr);
  }
  ChannelSecurity WithToken(const std::string& token) {
    ChannelSecurity c = TrustingTestCa();
    c.bearer_token_file = WriteTempFile("client_token", token);
    return c;
  }
  std::unique_ptr<testing::TestTargetServer> server_;
};

TEST_F(BearerTest, MissingTokenIsUnauthenticated) {
  grpc::Status s = CallModelInfo(server_->address(), TrustingTestCa());
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
}

TEST_F(BearerTest, WrongTokenIsUnauthenticated) {
  for (const char* token : {"s3cret-tokeX", "s3cret-token2", "s3cret", "x"}) {
    grpc::Status s = CallModelInfo(server_->address(), WithToken(token));
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << token;
  }
}

TEST_F(BearerTest, RightTokenIsServed) {
  grpc::Status s = CallModelInfo(server_->address(), WithToken("  s3cret-token \n"));
  EXPECT_TRUE(s.ok()) << s.error_message();
}

TEST_F(BearerTest, HealthCheckNeedsNoToken) {
  auto channel = MakeChannel(server_->address(), TrustingTestCa());
  ASSERT_TRUE(channel.ok());
  grpc::GenericStub stub(*channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  // An empty HealthCheckRequest (service "") is zero bytes on the wire.
  grpc::ByteBuffer request, response;
  grpc::Slice empty("", 0);
  request = grpc::ByteBuffer(&empty, 1);
  std::mutex mu;
  std::condition_variable done_cv;
  bool done = false;
  grpc::Status status;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request,
                 &response, [&](grpc::Status s) {
                   std::lock_guard<std::mutex> lock(mu);
                   status = s;
                   done = true;
                   done_cv.notify_all();
                 });
  std::unique_lock<std::mutex> lock(mu);
  done_cv.wait(lock, [&] { return done; });
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST(SecurityConfigTest, PlaintextByDefault) {
  EXPECT_TRUE(MakeServerCredentials({}).ok());
  EXPECT_TRUE(MakeChannelCredentials({}).ok());
}

TEST(SecurityConfigTest, MissingFilesAreNamed) {
  ServerSecurity s = Tls();
  s.cert_file = "/nonexistent/server.crt";
  auto server = MakeServerCredentials(s);
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(std::string(server.status().message()), HasSubstr("/nonexistent/server.crt"));

  s = Tls();
  s.client_ca_file = "/nonexistent/ca.crt";
  EXPECT_THAT(std::string(MakeServerCredentials(s).status().message()),
              HasSubstr("/nonexistent/ca.crt"));

  s = Tls();
  s.bearer_token_file = "/nonexistent/token";
  EXPECT_THAT(std::string(MakeServerCredentials(s).status().message()),
              HasSubstr("/nonexistent/token"));

  ChannelSecurity c;
  c.ca_file = "/nonexistent/client-ca.crt";
  auto channel = MakeChannel("127.0.0.1:1", c);
  ASSERT_FALSE(channel.ok());
  EXPECT_THAT(std::string(channel.status().message()), HasSubstr("/nonexistent/client-ca.crt"));
}

TEST(SecurityConfigTest, NonPemFilesAreNamed) {
  ServerSecurity s = Tls();
  s.key_file = TlsFile("server.crt");  // A certificate where the key belongs.
  auto r = MakeServerCredentials(s);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("server.crt"));
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("private key"));
}

TEST(SecurityConfigTest, InconsistentCombinationsAreRejected) {
  ServerSecurity half;
  half.cert_file = TlsFile("server.crt");
  EXPECT_EQ(MakeServerCredentials(half).status().code(), absl::StatusCode::kInvalidArgument);
  ServerSecurity mtls_without_tls;
  mtls_without_tls.client_ca_file = TlsFile("ca.crt");
  EXPECT_EQ(MakeServerCredentials(mtls_without_tls).status().code(),
            absl::StatusCode::kInvalidArgument);
  ServerSecurity token_without_tls;
  token_without_tls.bearer_token_file = WriteTempFile("t1", "abc");
  EXPECT_EQ(MakeServerCredentials(token_without_tls).status().code(),
            absl::StatusCode::kInvalidArgument);
  ChannelSecurity channel_token_without_tls;
  channel_token_without_tls.bearer_token_file = WriteTempFile("t2", "abc");
  EXPECT_EQ(MakeChannelCredentials(channel_token_without_tls).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tandem::services
