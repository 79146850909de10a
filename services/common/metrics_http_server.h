#ifndef TANDEM_SERVICES_COMMON_METRICS_HTTP_SERVER_H_
#define TANDEM_SERVICES_COMMON_METRICS_HTTP_SERVER_H_

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/common/metrics.h"

namespace tandem::services {

struct MetricsHttpOptions {
  // host:port, [v6]:port or :port (all interfaces); port 0 = any free port.
  std::string listen = "127.0.0.1:0";
  // A connection must deliver its whole request header within this time.
  absl::Duration read_timeout = absl::Seconds(2);
  absl::Duration write_timeout = absl::Seconds(5);
  // Larger request headers get 431 and the connection is closed.
  size_t max_request_bytes = 8192;
};

// A minimal HTTP/1.1 server for scraping, on POSIX sockets:
//
//   GET /metrics  → 200, registry.RenderText(), text/plain; version=0.0.4
//   GET /healthz  → 200, "ok"
//   other paths   → 404; methods other than GET/HEAD → 405; bad requests → 400
//
// One accept thread serves connections one at a time (Connection: close), so
// a slow client delays others by at most read_timeout + write_timeout. It
// never reads a request body and exposes nothing but the registry.
class MetricsHttpServer {
 public:
  // Binds and starts serving `registry` (not owned; must outlive the server).
  // Unavailable naming the address if it cannot bind; InvalidArgument for a
  // malformed `listen`.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(
      const MetricsHttpOptions& options,
      const metrics::Registry& registry = metrics::Registry::Default());
  ~MetricsHttpServer();

  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  int port() const { return port_; }
  // The listen host with the bound port, e.g. "127.0.0.1:9100".
  const std::string& address() const { return address_; }

  // Finishes the connection in progress, joins the thread and closes the
  // listening socket (new connections are refused).
  // Idempotent (not to be called from two threads at once); also done by the
  // destructor.
  void Stop();

 private:
  MetricsHttpServer(const MetricsHttpOptions& options, const metrics::Registry& registry)
      : options_(options), registry_(registry) {}
  void AcceptLoop();
  void Serve(int fd);

  const MetricsHttpOptions options_;
  const metrics::Registry& registry_;
  int listen_fd_ = -1;
  int wake_fds_[2] = {-1, -1};  // A pipe: Stop() writes, the loop wakes up.
  int port_ = 0;
  std::string address_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace tandem::services

#endif  // TANDEM_SERVICES_COMMON_METRICS_HTTP_SERVER_H_
