#include "services/common/metrics_http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace tandem::services {
namespace {

struct HostPort {
  std::string host;  // Without brackets; "" = all interfaces.
  std::string port;
};

absl::StatusOr<HostPort> SplitHostPort(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon + 1 == listen.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics address \"", listen, "\" must be host:port"));
  }
  HostPort hp{listen.substr(0, colon), listen.substr(colon + 1)};
  if (hp.host.size() >= 2 && hp.host.front() == '[' && hp.host.back() == ']') {
    hp.host = hp.host.substr(1, hp.host.size() - 2);
  }
  for (char c : hp.port) {
    if (c < '0' || c > '9') {
      return absl::InvalidArgumentError(
          absl::StrCat("metrics address \"", listen, "\" has a non-numeric port"));
    }
  }
  return hp;
}

int LocalPort(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return 0;
  if (addr.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  if (addr.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  return 0;
}

// Milliseconds left until `deadline`, at least 0.
int RemainingMs(absl::Time deadline) {
  return static_cast<int>(std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now())));
}

bool SendAll(int fd, const std::string& data, absl::Time deadline) {
  size_t sent = 0;
  while (sent < data.size()) {
    pollfd p{fd, POLLOUT, 0};
    if (poll(&p, 1, RemainingMs(deadline)) <= 0) return false;
    const ssize_t n = send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

std::string Response(absl::string_view status, absl::string_view content_type,
                     const std::string& body, bool head, absl::string_view extra_header = "") {
  std::string out = absl::StrCat("HTTP/1.1 ", status, "\r\nContent-Type: ", content_type,
                                 "\r\nContent-Length: ", body.size(), "\r\n", extra_header,
                                 "Connection: close\r\n\r\n");
  if (!head) out += body;
  return out;
}

std::string PlainError(absl::string_view status) {
  return Response(status, "text/plain; charset=utf-8", absl::StrCat(status, "\n"), false);
}

}  // namespace

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    const MetricsHttpOptions& options, const metrics::Registry& registry) {
  absl::StatusOr<HostPort> hp = SplitHostPort(options.listen);
  if (!hp.ok()) return hp.status();
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(hp->host.empty() ? nullptr : hp->host.c_str(), hp->port.c_str(),
                           &hints, &found);
      rc != 0) {
    return absl::InvalidArgumentError(absl::StrCat("metrics address \"", options.listen,
                                                   "\": ", gai_strerror(rc)));
  }
  auto server = std::unique_ptr<MetricsHttpServer>(new MetricsHttpServer(options, registry));
  std::string last_error = "no address";
  for (addrinfo* a = found; a != nullptr && server->listen_fd_ < 0; a = a->ai_next) {
    const int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                          a->ai_protocol);
    if (fd < 0) continue;
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 64) == 0) {
      server->listen_fd_ = fd;
    } else {
      last_error = std::strerror(errno);
      close(fd);
    }
  }
  freeaddrinfo(found);
  if (server->listen_fd_ < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", options.listen, ": ", last_error));
  }
  if (pipe2(server->wake_fds_, O_CLOEXEC | O_NONBLOCK) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  server->port_ = LocalPort(server->listen_fd_);
  const std::string host = options.listen.substr(0, options.listen.rfind(':'));
  server->address_ = absl::StrCat(host, ":", server->port_);
  server->thread_ = std::thread([s = server.get()] { s->AcceptLoop(); });
  return server;
}

MetricsHttpServer::~MetricsHttpServer() {
  Stop();
  for (int fd : {wake_fds_[0], wake_fds_[1]}) {
    if (fd >= 0) close(fd);
  }
}

void MetricsHttpServer::Stop() {
  if (!stopping_.exchange(true)) {
    const char byte = 0;
    (void)!write(wake_fds_[1], &byte, 1);
  }
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) {
    close(listen_fd_);
    listen_fd_ = -1;
  }
}

void MetricsHttpServer::AcceptLoop() {
  while (!stopping_) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fds_[0], POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (stopping_ || (fds[1].revents & POLLIN)) return;
    if (!(fds[0].revents & POLLIN)) continue;
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) continue;  // EAGAIN, ECONNABORTED, EMFILE: try again on the next event.
    Serve(fd);
    close(fd);
  }
}

void MetricsHttpServer::Serve(int fd) {
  const absl::Time read_deadline = absl::Now() + options_.read_timeout;
  const absl::Time write_deadline = read_deadline + options_.write_timeout;
  std::string request;
  char buffer[2048];
  while (!absl::StrContains(request, "\r\n\r\n") && !absl::StrContains(request, "\n\n")) {
    if (request.size() > options_.max_request_bytes) {
      SendAll(fd, PlainError("431 Request Header Fields Too Large"), write_deadline);
      return;
    }
    pollfd p{fd, POLLIN, 0};
    const int ready = poll(&p, 1, RemainingMs(read_deadline));
    if (ready == 0) {
      SendAll(fd, PlainError("408 Request Timeout"), write_deadline);
      return;
    }
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return;
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) return;  // Closed before a whole request arrived.
    request.append(buffer, static_cast<size_t>(n));
  }
  const std::string first_line(request.substr(0, request.find_first_of("\r\n")));
  const std::vector<std::string> parts = absl::StrSplit(first_line, ' ');
  if (parts.size() != 3 || !absl::StartsWith(parts[2], "HTTP/1.") || parts[1].empty() ||
      parts[1][0] != '/') {
    SendAll(fd, PlainError("400 Bad Request"), write_deadline);
    return;
  }
  const std::string& method = parts[0];
  const bool head = method == "HEAD";
  if (method != "GET" && !head) {
    SendAll(fd,
            Response("405 Method Not Allowed", "text/plain; charset=utf-8",
                     "405 Method Not Allowed\n", false, "Allow: GET, HEAD\r\n"),
            write_deadline);
    return;
  }
  const std::string path = parts[1].substr(0, parts[1].find('?'));
  if (path == "/metrics") {
    SendAll(fd, Response("200 OK", "text/plain; version=0.0.4; charset=utf-8",
                         registry_.RenderText(), head),
            write_deadline);
  } else if (path == "/healthz") {
    SendAll(fd, Response("200 OK", "text/plain; charset=utf-8", "ok\n", head), write_deadline);
  } else {
    SendAll(fd, PlainError("404 Not Found"), write_deadline);
  }
}

}  // namespace tandem::services
