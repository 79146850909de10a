#ifndef TANDEM_SERVICES_ORCHESTRATOR_REPLICA_DISCOVERY_H_
#define TANDEM_SERVICES_ORCHESTRATOR_REPLICA_DISCOVERY_H_

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "services/common/log.h"

namespace tandem::services {

// Where the replicas of a tier are: a fixed list ("a:1,b:2") or a DNS name
// that resolves to every replica ("dns:///target-headless:50051", as a
// Kubernetes headless Service does: one A/AAAA record per ready pod).
struct ReplicaSpec {
  std::vector<std::string> addresses;  // Fixed list; empty for DNS.
  std::string dns_host;                // DNS: the name, resolved again and again.
  int dns_port = 0;
  bool dns() const { return !dns_host.empty(); }
};

// Whether some replica of `a` and some replica of `b` name the same host
// (the host part of host:port, or the dns: name; "localhost", 127.0.0.0/8
// and ::1 count as one host, the local machine). Names are compared as
// written, not resolved.
bool ShareAHost(const ReplicaSpec& a, const ReplicaSpec& b);

// The --draft_shares_target_cpu setting: "true", "false", or "auto" (a
// draft replica shares a host with a target replica; false without draft
// replicas). InvalidArgument naming the flag and its values otherwise.
absl::StatusOr<bool> DraftSharesTargetCpu(const std::string& setting, const ReplicaSpec& target,
                                          const ReplicaSpec* draft);

// Parses a --target / --draft value. InvalidArgument naming `flag` for an
// empty list, a dns: name without a port, or a malformed port.
absl::StatusOr<ReplicaSpec> ParseReplicaSpec(const std::string& value, const std::string& flag);

// host -> its addresses (IPv4 dotted or IPv6 without brackets), in a stable
// order. NotFound / Unavailable when the name does not resolve.
using HostLookup = std::function<absl::StatusOr<std::vector<std::string>>(const std::string& host)>;
// getaddrinfo().
HostLookup SystemHostLookup();

// The replica addresses ("ip:port", "[v6]:port") `spec` means now.
absl::StatusOr<std::vector<std::string>> ResolveReplicas(const ReplicaSpec& spec,
                                                         const HostLookup& lookup);

// One discovery round for a tier: re-resolves a dns: spec and makes the
// pool match it (logging replicas that cannot be reached and changes of
// membership), then polls every replica's load. `Pool` is a ReplicaPool.
template <typename Pool>
void RefreshReplicas(Pool& pool, const ReplicaSpec& spec, const HostLookup& lookup,
                     const char* tier) {
  if (spec.dns()) {
    absl::StatusOr<std::vector<std::string>> addresses = ResolveReplicas(spec, lookup);
    if (!addresses.ok()) {
      LogEvent(LogLevel::kWarn, "orchestrator", "discovery_failed", "",
               {{"tier", tier}, {"error", std::string(addresses.status().message())}});
    } else {
      const std::vector<std::string> before = pool.addresses();
      for (const absl::Status& e : pool.Update(*addresses)) {
        LogEvent(LogLevel::kWarn, "orchestrator", "replica_unreachable", "",
                 {{"tier", tier}, {"error", std::string(e.message())}});
      }
      if (const std::vector<std::string> after = pool.addresses(); after != before) {
        LogEvent(LogLevel::kInfo, "orchestrator", "replicas_changed", "",
                 {{"tier", tier}, {"replicas", absl::StrJoin(after, ",")}});
      }
    }
  }
  pool.PollLoads(absl::Milliseconds(500));
}

// Runs `refresh` every `interval` on a thread of its own until destroyed
// (the orchestrator re-resolves DNS names and polls replica loads with it).
// The first run happens `interval` after construction. Thread-safe.
class PeriodicTask {
 public:
  PeriodicTask(absl::Duration interval, std::function<void()> refresh);
  ~PeriodicTask();
  PeriodicTask(const PeriodicTask&) = delete;
  PeriodicTask& operator=(const PeriodicTask&) = delete;

 private:
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace tandem::services

#endif  // TANDEM_SERVICES_ORCHESTRATOR_REPLICA_DISCOVERY_H_
