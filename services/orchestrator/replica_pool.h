#ifndef TANDEM_SERVICES_ORCHESTRATOR_REPLICA_POOL_H_
#define TANDEM_SERVICES_ORCHESTRATOR_REPLICA_POOL_H_

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace tandem::services {

// The live replicas of one tier (targets or drafts), keyed by address, with
// the load each last reported. Discovery (replica_discovery.h) calls Update
// with the addresses a name resolves to; requests take a Snapshot.
//
// Thread-safe. A replica dropped by Update stays alive while a sequence that
// started on it holds its shared_ptr (sessions are never moved by
// discovery; a replica that really died is handled by failover).
template <typename Backend>
class ReplicaPool {
 public:
  // A connected replica and how to ask it for its load (open sessions).
  struct Member {
    std::shared_ptr<Backend> backend;
    std::function<absl::StatusOr<int64_t>(absl::Duration timeout)> poll_open_sessions;
  };
  // Creates and connects the backend of a new address (an error leaves it out
  // until the next Update).
  using Factory = std::function<absl::StatusOr<Member>(const std::string& address)>;

  struct Replica {
    std::string address;
    std::shared_ptr<Backend> backend;
  };

  explicit ReplicaPool(Factory factory) : factory_(std::move(factory)) {}

  // Makes `addresses` the pool: connects the new ones, drops those not
  // listed. Returns one error per address that failed to connect (naming it).
  std::vector<absl::Status> Update(const std::vector<std::string>& addresses) {
    std::vector<std::string> fresh;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const std::string& a : addresses) {
        if (entries_.count(a) == 0) fresh.push_back(a);
      }
    }
    std::map<std::string, std::shared_ptr<Entry>> connected;
    std::vector<absl::Status> errors;
    for (const std::string& a : fresh) {  // Outside the lock: connecting is slow.
      absl::StatusOr<Member> member = factory_(a);
      if (!member.ok()) {
        errors.push_back(absl::Status(member.status().code(),
                                      absl::StrCat(a, ": ", member.status().message())));
        continue;
      }
      auto entry = std::make_shared<Entry>();
      entry->address = a;
      entry->backend = std::move(member->backend);
      entry->poll = std::move(member->poll_open_sessions);
      connected[a] = std::move(entry);
    }
    std::lock_guard<std::mutex> lock(mu_);
    std::map<std::string, std::shared_ptr<Entry>> next;
    for (const std::string& a : addresses) {
      if (auto it = entries_.find(a); it != entries_.end()) {
        next[a] = it->second;
      } else if (auto c = connected.find(a); c != connected.end()) {
        next[a] = c->second;
      }
    }
    entries_ = std::move(next);
    return errors;
  }

  // Asks every replica for its load (bounded by `timeout` each). A replica
  // that does not answer keeps its last report.
  void PollLoads(absl::Duration timeout) {
    for (const std::shared_ptr<Entry>& e : Entries()) {
      const int64_t local = e->local.load();
      if (!e->poll) continue;
      absl::StatusOr<int64_t> open = e->poll(timeout);
      if (!open.ok()) continue;
      std::lock_guard<std::mutex> lock(e->mu);
      e->reported = *open;
      e->local_at_report = local;
    }
  }

  // The replicas, least loaded first. Load = the sessions a replica last
  // reported + the sequences this orchestrator started on it since (minus
  // those that ended); ties rotate so equal replicas share new work.
  std::vector<Replica> Snapshot() {
    std::vector<std::shared_ptr<Entry>> entries = Entries();
    std::vector<std::pair<int64_t, size_t>> order;
    const size_t n = entries.size();
    const size_t rotation = n == 0 ? 0 : rotation_++ % n;
    for (size_t i = 0; i < n; ++i) order.push_back({Load(*entries[i]), (i + n - rotation) % n});
    std::vector<size_t> index(n);
    for (size_t i = 0; i < n; ++i) index[i] = i;
    std::sort(index.begin(), index.end(), [&](size_t a, size_t b) { return order[a] < order[b]; });
    std::vector<Replica> out;
    for (size_t i : index) out.push_back({entries[i]->address, entries[i]->backend});
    return out;
  }

  // Counts a sequence starting (+1) or ending (-1) on `backend`, so that
  // replicas chosen between two polls are not all the same one.
  void CountSequence(const Backend* backend, int delta) {
    for (const std::shared_ptr<Entry>& e : Entries()) {
      if (e->backend.get() == backend) e->local += delta;
    }
  }

  std::vector<std::string> addresses() {
    std::vector<std::string> out;
    for (const std::shared_ptr<Entry>& e : Entries()) out.push_back(e->address);
    return out;
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu_);
    return entries_.size();
  }

 private:
  struct Entry {
    std::string address;
    std::shared_ptr<Backend> backend;
    std::function<absl::StatusOr<int64_t>(absl::Duration)> poll;
    std::atomic<int64_t> local{0};  // Sequences running on it, started here.
    std::mutex mu;
    int64_t reported = 0;        // Open sessions at the last poll.
    int64_t local_at_report = 0;  // `local` when that poll started.
  };

  std::vector<std::shared_ptr<Entry>> Entries() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::shared_ptr<Entry>> out;
    for (const auto& [address, entry] : entries_) out.push_back(entry);
    return out;
  }

  static int64_t Load(Entry& e) {
    std::lock_guard<std::mutex> lock(e.mu);
    return std::max<int64_t>(0, e.reported + e.local.load() - e.local_at_report);
  }

  const Factory factory_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Entry>> entries_;
  std::atomic<uint64_t> rotation_{0};
};

}  // namespace tandem::services

#endif  // TANDEM_SERVICES_ORCHESTRATOR_REPLICA_POOL_H_
