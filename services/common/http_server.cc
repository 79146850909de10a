#include "services/common/http_server.h"

#include <algorithm>
#include <fstream>

#include <sys/socket.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace tandem::services {
namespace {

struct HostPort {
  std::string host;  // Without brackets.
  int port = 0;
};

absl::StatusOr<HostPort> SplitHostPort(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon + 1 == listen.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("HTTP address \"", listen, "\" must be host:port"));
  }
  HostPort hp;
  hp.host = listen.substr(0, colon);
  if (hp.host.size() >= 2 && hp.host.front() == '[' && hp.host.back() == ']') {
    hp.host = hp.host.substr(1, hp.host.size() - 2);
  }
  if (hp.host.empty()) hp.host = "0.0.0.0";
  const std::string port = listen.substr(colon + 1);
  if (port.find_first_not_of("0123456789") != std::string::npos ||
      !absl::SimpleAtoi(port, &hp.port) || hp.port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("HTTP address \"", listen, "\" needs a port in [0, 65535]"));
  }
  return hp;
}

absl::Status CheckReadable(const std::string& path, const char* what) {
  if (!std::ifstream(path).good()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " \"", path, "\" cannot be read"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<httplib::Server>> MakeServer(const HttpServerOptions& options) {
  const bool has_cert = !options.tls_cert_file.empty();
  if (has_cert != !options.tls_key_file.empty()) {
    return absl::InvalidArgumentError("HTTPS needs both a certificate and a key file");
  }
  if (!has_cert) {
    if (!options.tls_client_ca_file.empty()) {
      return absl::InvalidArgumentError("a client CA for HTTPS needs a certificate and key");
    }
    return std::make_unique<httplib::Server>();
  }
  if (absl::Status s = CheckReadable(options.tls_cert_file, "TLS certificate"); !s.ok()) return s;
  if (absl::Status s = CheckReadable(options.tls_key_file, "TLS key"); !s.ok()) return s;
  if (!options.tls_client_ca_file.empty()) {
    if (absl::Status s = CheckReadable(options.tls_client_ca_file, "TLS client CA"); !s.ok()) {
      return s;
    }
  }
  auto server = std::make_unique<httplib::SSLServer>(
      options.tls_cert_file.c_str(), options.tls_key_file.c_str(),
      options.tls_client_ca_file.empty() ? nullptr : options.tls_client_ca_file.c_str());
  if (!server->is_valid()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "TLS certificate \"", options.tls_cert_file, "\" and key \"", options.tls_key_file,
        "\" do not load as a PEM pair", options.tls_client_ca_file.empty() ? "" : " (or the client CA)"));
  }
  return std::unique_ptr<httplib::Server>(std::move(server));
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options,
                                                              const metrics::Registry& registry,
                                                              const RouteRegistrar& add_routes) {
  absl::StatusOr<HostPort> hp = SplitHostPort(options.listen);
  if (!hp.ok()) return hp.status();
  if (options.threads < 1) return absl::InvalidArgumentError("HTTP threads must be >= 1");
  absl::StatusOr<std::unique_ptr<httplib::Server>> made = MakeServer(options);
  if (!made.ok()) return made.status();
  auto http = std::unique_ptr<HttpServer>(new HttpServer());
  http->server_ = *std::move(made);
  http->tls_ = !options.tls_cert_file.empty();
  httplib::Server& s = *http->server_;
  const int threads = options.threads;
  s.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  s.set_read_timeout(absl::ToChronoMicroseconds(options.read_timeout));
  s.set_write_timeout(absl::ToChronoMicroseconds(options.write_timeout));
  s.set_payload_max_length(options.max_body_bytes);
  // An idle keep-alive connection holds a worker: release it as soon as a
  // slow request would be.
  s.set_keep_alive_timeout(std::max<time_t>(1, absl::ToInt64Seconds(options.read_timeout)));
  s.set_tcp_nodelay(true);
  // The library's default also sets SO_REUSEPORT, which lets a second server
  // bind a port already in use and silently share its traffic.
  s.set_socket_options([](socket_t sock) {
    const int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  s.Get("/metrics", [&registry](const httplib::Request&, httplib::Response& res) {
    res.set_content(registry.RenderText(), "text/plain; version=0.0.4; charset=utf-8");
  });
  s.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain; charset=utf-8");
  });
  s.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        res.status = 500;
        res.set_content("internal error\n", "text/plain; charset=utf-8");
      });
  if (add_routes) add_routes(s);
  const bool bound = hp->port == 0 ? (http->port_ = s.bind_to_any_port(hp->host)) > 0
                                   : s.bind_to_port(hp->host, hp->port);
  if (!bound) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen, " (address in use or invalid)"));
  }
  if (hp->port != 0) http->port_ = hp->port;
  const std::string host = options.listen.substr(0, options.listen.rfind(':'));
  http->address_ = absl::StrCat(host, ":", http->port_);
  http->thread_ = std::thread([&s] { s.listen_after_bind(); });
  // stop() is a no-op until the loop runs: wait for it, so that Stop() works
  // from the moment Start returns.
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (!s.is_running() && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(1));
  if (!s.is_running()) {
    return absl::InternalError(absl::StrCat("the HTTP server on ", http->address_, " did not start"));
  }
  return http;
}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Stop() {
  if (server_ == nullptr) return;
  server_->stop();
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

}  // namespace tandem::services
