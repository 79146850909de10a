#include "services/common/session_leases.h"

namespace tandem::services {

void SessionLeases::Renew(uint64_t session, absl::Duration ttl, absl::Time now) {
  absl::MutexLock lock(&mu_);
  expiry_[session] = now + ttl;
}

void SessionLeases::RenewIfPresent(uint64_t session, absl::Duration ttl, absl::Time now) {
  absl::MutexLock lock(&mu_);
  auto it = expiry_.find(session);
  if (it != expiry_.end()) it->second = now + ttl;
}

void SessionLeases::Remove(uint64_t session) {
  absl::MutexLock lock(&mu_);
  expiry_.erase(session);
}

std::vector<uint64_t> SessionLeases::TakeExpired(absl::Time now) {
  absl::MutexLock lock(&mu_);
  std::vector<uint64_t> expired;
  for (const auto& [id, when] : expiry_) {
    if (when <= now) expired.push_back(id);
  }
  for (uint64_t id : expired) expiry_.erase(id);
  return expired;
}

size_t SessionLeases::size() const {
  absl::MutexLock lock(&mu_);
  return expiry_.size();
}

}  // namespace tandem::services
