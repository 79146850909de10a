#ifndef TANDEM_SERVICES_COMMON_SESSION_LEASES_H_
#define TANDEM_SERVICES_COMMON_SESSION_LEASES_H_

#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace tandem::services {

// Idle-time leases of a server's sessions: every use renews a session's
// lease; sessions idle longer than their TTL are reported for closing, so
// abandoned sessions (a crashed orchestrator) never hold KV cache forever.
// Thread-safe.
class SessionLeases {
 public:
  void Renew(uint64_t session, absl::Duration ttl, absl::Time now = absl::Now());
  // Renews only a session that holds a lease (unknown ids never get one).
  void RenewIfPresent(uint64_t session, absl::Duration ttl, absl::Time now = absl::Now());
  void Remove(uint64_t session);
  // Removes and returns the sessions whose lease ran out by `now`.
  std::vector<uint64_t> TakeExpired(absl::Time now = absl::Now());
  size_t size() const;

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<uint64_t, absl::Time> expiry_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tandem::services

#endif  // TANDEM_SERVICES_COMMON_SESSION_LEASES_H_
