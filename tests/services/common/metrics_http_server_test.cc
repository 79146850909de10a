// MetricsHttpServer over a real loopback socket: /metrics, /healthz, 404,
// 405, oversized and slow requests, Stop.

#include "services/common/metrics_http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tandem::services {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::StartsWith;

int Connect(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Sends `request` raw and reads until the server closes the connection.
std::string Exchange(int port, const std::string& request) {
  const int fd = Connect(port);
  if (fd < 0) return "connect failed";
  if (!request.empty()) send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string response;
  char buffer[4096];
  for (ssize_t n; (n = recv(fd, buffer, sizeof(buffer), 0)) > 0;) response.append(buffer, n);
  close(fd);
  return response;
}

class MetricsHttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    registry_.GetCounter("tandem_test_total", "A test counter.", {{"k", "v"}}).Increment(7);
    MetricsHttpOptions options;
    options.read_timeout = absl::Milliseconds(300);
    options.max_request_bytes = 1024;
    auto server = MetricsHttpServer::Start(options, registry_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    ASSERT_GT(server_->port(), 0);
  }

  metrics::Registry registry_;
  std::unique_ptr<MetricsHttpServer> server_;
};

TEST_F(MetricsHttpServerTest, ServesTheRegistryAsPrometheusText) {
  const std::string r =
      Exchange(server_->port(), "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n");
  EXPECT_THAT(r, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(r, HasSubstr("Content-Type: text/plain; version=0.0.4"));
  const std::string body = registry_.RenderText();
  EXPECT_THAT(r, HasSubstr("Content-Length: " + std::to_string(body.size()) + "\r\n"));
  EXPECT_THAT(r, EndsWith("\r\n\r\n" + body));
  EXPECT_THAT(body, HasSubstr("tandem_test_total{k=\"v\"} 7\n"));
}

TEST_F(MetricsHttpServerTest, ReflectsUpdatesBetweenScrapes) {
  registry_.GetGauge("tandem_test_gauge", "g").Set(42);
  EXPECT_THAT(Exchange(server_->port(), "GET /metrics?x=1 HTTP/1.0\r\n\r\n"),
              HasSubstr("tandem_test_gauge 42\n"));
}

TEST_F(MetricsHttpServerTest, HealthzSaysOk) {
  const std::string r = Exchange(server_->port(), "GET /healthz HTTP/1.1\r\n\r\n");
  EXPECT_THAT(r, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(r, EndsWith("\r\n\r\nok\n"));
}

TEST_F(MetricsHttpServerTest, HeadHasHeadersOnly) {
  const std::string r = Exchange(server_->port(), "HEAD /metrics HTTP/1.1\r\n\r\n");
  EXPECT_THAT(r, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(r, EndsWith("\r\n\r\n"));
}

TEST_F(MetricsHttpServerTest, UnknownPathIs404AndOtherMethods405) {
  EXPECT_THAT(Exchange(server_->port(), "GET /nope HTTP/1.1\r\n\r\n"),
              StartsWith("HTTP/1.1 404 Not Found\r\n"));
  const std::string post = Exchange(server_->port(), "POST /metrics HTTP/1.1\r\n\r\n");
  EXPECT_THAT(post, StartsWith("HTTP/1.1 405 Method Not Allowed\r\n"));
  EXPECT_THAT(post, HasSubstr("Allow: GET, HEAD\r\n"));
}

TEST_F(MetricsHttpServerTest, MalformedRequestIs400) {
  EXPECT_THAT(Exchange(server_->port(), "hello\r\n\r\n"), StartsWith("HTTP/1.1 400"));
  EXPECT_THAT(Exchange(server_->port(), "GET metrics HTTP/1.1\r\n\r\n"),
              StartsWith("HTTP/1.1 400"));
}

TEST_F(MetricsHttpServerTest, OversizedRequestIs431) {
  const std::string big = "GET /metrics HTTP/1.1\r\nX: " + std::string(4000, 'a') + "\r\n\r\n";
  EXPECT_THAT(Exchange(server_->port(), big), StartsWith("HTTP/1.1 431"));
}

TEST_F(MetricsHttpServerTest, SilentClientTimesOutAndDoesNotBlockOthers) {
  const int idle = Connect(server_->port());  // Never sends anything.
  ASSERT_GE(idle, 0);
  const absl::Time start = absl::Now();
  EXPECT_THAT(Exchange(server_->port(), "GET /healthz HTTP/1.1\r\n\r\n"),
              StartsWith("HTTP/1.1 200"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  std::string response;
  char buffer[512];
  for (ssize_t n; (n = recv(idle, buffer, sizeof(buffer), 0)) > 0;) response.append(buffer, n);
  close(idle);
  EXPECT_THAT(response, StartsWith("HTTP/1.1 408"));
}

TEST_F(MetricsHttpServerTest, StopClosesTheListeningSocket) {
  const int port = server_->port();
  server_->Stop();
  server_->Stop();  // Idempotent.
  const int fd = Connect(port);
  EXPECT_EQ(fd, -1);
  if (fd >= 0) close(fd);
}

TEST(MetricsHttpServerStartTest, RejectsMalformedAndBusyAddresses) {
  metrics::Registry registry;
  EXPECT_EQ(MetricsHttpServer::Start({"no-port"}, registry).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MetricsHttpServer::Start({"127.0.0.1:http"}, registry).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto first = MetricsHttpServer::Start({"127.0.0.1:0"}, registry);
  ASSERT_TRUE(first.ok());
  auto second =
      MetricsHttpServer::Start({"127.0.0.1:" + std::to_string((*first)->port())}, registry);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(second.status().message()), HasSubstr("127.0.0.1:"));
  EXPECT_EQ((*first)->address(), "127.0.0.1:" + std::to_string((*first)->port()));
}

}  // namespace
}  // namespace tandem::services
