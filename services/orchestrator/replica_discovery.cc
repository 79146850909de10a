#include "services/orchestrator/replica_discovery.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace tandem::services {

namespace {

// The hosts a spec names, loopback folded into "localhost".
std::vector<std::string> HostsOf(const ReplicaSpec& spec) {
  std::vector<std::string> hosts;
  auto add = [&](std::string host) {
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    }
    if (host == "::1" || absl::StartsWith(host, "127.")) host = "localhost";
    hosts.push_back(std::move(host));
  };
  if (spec.dns()) add(spec.dns_host);
  for (const std::string& address : spec.addresses) {
    const size_t colon = address.rfind(':');
    add(colon == std::string::npos ? address : address.substr(0, colon));
  }
  return hosts;
}

}  // namespace

bool ShareAHost(const ReplicaSpec& a, const ReplicaSpec& b) {
  const std::vector<std::string> ha = HostsOf(a), hb = HostsOf(b);
  for (const std::string& h : ha) {
    if (std::find(hb.begin(), hb.end(), h) != hb.end()) return true;
  }
  return false;
}

absl::StatusOr<bool> DraftSharesTargetCpu(const std::string& setting, const ReplicaSpec& target,
                                          const ReplicaSpec* draft) {
  if (setting == "auto") return draft != nullptr && ShareAHost(target, *draft);
  if (setting == "true") return true;
  if (setting == "false") return false;
  return absl::InvalidArgumentError(absl::StrCat(
      "--draft_shares_target_cpu must be auto, true or false, not \"", setting, "\""));
}

absl::StatusOr<ReplicaSpec> ParseReplicaSpec(const std::string& value, const std::string& flag) {
  ReplicaSpec spec;
  absl::string_view v = value;
  if (absl::ConsumePrefix(&v, "dns:///") || absl::ConsumePrefix(&v, "dns:")) {
    const size_t colon = v.rfind(':');
    int port = 0;
    if (colon == absl::string_view::npos || colon == 0 ||
        !absl::SimpleAtoi(v.substr(colon + 1), &port) || port < 1 || port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--", flag, "=", value, ": a dns: target needs a name and a port in [1, 65535], e.g. "
          "dns:///target-headless:50051"));
    }
    spec.dns_host = std::string(v.substr(0, colon));
    spec.dns_port = port;
    return spec;
  }
  spec.addresses = absl::StrSplit(value, ',', absl::SkipEmpty());
  if (spec.addresses.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, " needs at least one address"));
  }
  return spec;
}

HostLookup SystemHostLookup() {
  return [](const std::string& host) -> absl::StatusOr<std::vector<std::string>> {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &found); rc != 0) {
      return absl::UnavailableError(
          absl::StrCat("cannot resolve \"", host, "\": ", gai_strerror(rc)));
    }
    std::vector<std::string> out;
    for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
      char text[INET6_ADDRSTRLEN] = {};
      const void* raw =
          a->ai_family == AF_INET
              ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr)
              : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr);
      if (inet_ntop(a->ai_family, raw, text, sizeof(text)) != nullptr) out.push_back(text);
    }
    freeaddrinfo(found);
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  };
}

absl::StatusOr<std::vector<std::string>> ResolveReplicas(const ReplicaSpec& spec,
                                                         const HostLookup& lookup) {
  if (!spec.dns()) return spec.addresses;
  absl::StatusOr<std::vector<std::string>> ips = lookup(spec.dns_host);
  if (!ips.ok()) return ips.status();
  std::vector<std::string> out;
  for (const std::string& ip : *ips) {
    out.push_back(absl::StrContains(ip, ':') ? absl::StrCat("[", ip, "]:", spec.dns_port)
                                             : absl::StrCat(ip, ":", spec.dns_port));
  }
  return out;
}

PeriodicTask::PeriodicTask(absl::Duration interval, std::function<void()> refresh) {
  thread_ = std::thread([this, interval, refresh = std::move(refresh)] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!wake_.wait_for(lock, absl::ToChronoNanoseconds(interval), [this] { return stop_; })) {
      lock.unlock();
      refresh();
      lock.lock();
    }
  });
}

PeriodicTask::~PeriodicTask() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

}  // namespace tandem::services
