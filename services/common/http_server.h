#ifndef TANDEM_SERVICES_COMMON_HTTP_SERVER_H_
#define TANDEM_SERVICES_COMMON_HTTP_SERVER_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include <httplib.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/common/metrics.h"

namespace tandem::services {

struct HttpServerOptions {
  // host:port, [v6]:port or :port (all interfaces); port 0 = any free port.
  // Required.
  std::string listen;
  // A connection must deliver each read (request line, headers, body chunk)
  // within read_timeout; a slow or silent client loses its connection.
  absl::Duration read_timeout = absl::Seconds(5);
  absl::Duration write_timeout = absl::Seconds(10);
  // Connections served at once (worker threads). Connections beyond wait in
  // the library's queue until a worker is free.
  int threads = 64;
  // Larger request bodies get 413.
  size_t max_body_bytes = 16 << 20;
  // TLS: both set = HTTPS; tls_client_ca_file also = clients must present a
  // certificate signed by it. All PEM files.
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_client_ca_file;
};

// An HTTP/1.1 server on cpp-httplib (Debian libcpp-httplib-dev), the one
// HTTP endpoint of every tandem server:
//
//   GET /metrics  → 200, registry.RenderText(), text/plain; version=0.0.4
//   GET /healthz  → 200, "ok"
//   routes added by `add_routes` (the orchestrator's OpenAI API)
//   other paths   → 404, bad requests → 400 (the library's answers)
//
// HEAD works on every GET route. Thread-safe; handlers run on the worker
// threads, so they must be too.
class HttpServer {
 public:
  // Called once before serving starts, to register more routes.
  using RouteRegistrar = std::function<void(httplib::Server& server)>;

  // Binds and starts serving `registry` (not owned; must outlive the
  // server). Unavailable naming the address if it cannot bind;
  // InvalidArgument for a malformed `listen` or unreadable TLS files (naming
  // the file).
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      const HttpServerOptions& options,
      const metrics::Registry& registry = metrics::Registry::Default(),
      const RouteRegistrar& add_routes = nullptr);
  ~HttpServer();

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const { return port_; }
  // The listen host with the bound port, e.g. "127.0.0.1:9100".
  const std::string& address() const { return address_; }
  bool tls() const { return tls_; }

  // Closes the listening socket (new connections are refused), waits for the
  // requests in progress to finish, and joins the threads. Handlers that
  // stream must end on their own (the orchestrator cancels its generations
  // first). Idempotent (not to be called from two threads at once); also done
  // by the destructor.
  void Stop();

 private:
  HttpServer() = default;

  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  std::string address_;
  bool tls_ = false;
};

}  // namespace tandem::services

#endif  // TANDEM_SERVICES_COMMON_HTTP_SERVER_H_
