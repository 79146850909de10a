#ifndef TANDEM_SERVICES_COMMON_SERVER_RUNNER_H_
#define TANDEM_SERVICES_COMMON_SERVER_RUNNER_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/common/http_server.h"

namespace tandem::services {

struct ServerRunOptions {
  std::string listen = "127.0.0.1:0";
  std::string port_file;       // If set, the bound port is written here.
  std::string name = "server";  // For the "listening on" line.
  int64_t max_message_bytes = 64 << 20;
  int max_threads = 1024;  // gRPC handler threads (ResourceQuota).
  absl::Duration shutdown_grace = absl::Seconds(5);
  // Called once during Shutdown when calls are still in flight after
  // kEndInFlightAt of shutdown_grace: the services end them gracefully
  // (the orchestrator finishes its sequences with FINISH_REASON_CANCELLED)
  // before gRPC cancels whatever remains at the deadline. Null = none.
  std::function<void()> end_in_flight;
  // Transport security (see security.h MakeServerCredentials); nullptr =
  // plaintext.
  std::shared_ptr<grpc::ServerCredentials> credentials;
  // host:port of the Prometheus /metrics and /healthz endpoint
  // (http_server.h); "" = none.
  std::string metrics_listen;
  // Full service names (e.g. "tandem.v1.GenerationService") that
  // grpc.health.v1 reports besides "" (the whole server); probes that name
  // the service get SERVING, then NOT_SERVING while shutting down.
  std::vector<std::string> health_service_names;
  // An HTTP API beside gRPC (the orchestrator's OpenAI endpoints): served on
  // http.listen when that is non-empty, with /metrics and /healthz too, and
  // the routes `http_routes` adds. They reach the gRPC services through
  // `in_process`, a channel into this server (no network, no TLS: the HTTP
  // side authenticates its own callers).
  HttpServerOptions http;
  std::function<void(httplib::Server& server, std::shared_ptr<grpc::Channel> in_process)>
      http_routes;
};

// A started gRPC server with health checking and reflection enabled.
class RunningServer {
 public:
  // Builds and starts a server for `services` (not owned; they must outlive
  // it), and the metrics endpoint if configured. Prints "<name> listening on
  // HOST:PORT" on stdout once bound (scripts parse it) and logs a
  // "server_started" event (log.h). Unavailable if either cannot bind.
  static absl::StatusOr<std::unique_ptr<RunningServer>> Start(
      const ServerRunOptions& options, const std::vector<grpc::Service*>& services);

  int port() const { return port_; }
  std::string address() const { return address_; }
  // The bound metrics endpoint, or "" when there is none.
  std::string metrics_address() const {
    return metrics_ == nullptr ? "" : metrics_->address();
  }
  // The bound HTTP API address, or "" when there is none.
  std::string http_address() const { return http_ == nullptr ? "" : http_->address(); }

  // Blocks until SIGINT or SIGTERM, then Shutdown().
  void WaitForSignalThenShutdown();
  // Refuses new calls (UNAVAILABLE; health NOT_SERVING), lets in-flight
  // calls finish for up to shutdown_grace (calling end_in_flight, if set,
  // at kEndInFlightAt of it), cancels what remains and stops.
  void Shutdown();

  static constexpr double kEndInFlightAt = 0.8;

 private:
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<HttpServer> metrics_;
  std::unique_ptr<HttpServer> http_;
  ServerRunOptions options_;
  int port_ = 0;
  std::string address_;
};

}  // namespace tandem::services

#endif  // TANDEM_SERVICES_COMMON_SERVER_RUNNER_H_
