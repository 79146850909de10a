#include "decoding/backends.h"

#include <future>

namespace tandem::decoding {
namespace {

// Runs call(item) for every item concurrently; results in item order.
template <typename Result, typename Item, typename Call>
std::vector<absl::StatusOr<Result>> Concurrently(const std::vector<Item>& items, Call call) {
  std::vector<std::future<absl::StatusOr<Result>>> futures;
  futures.reserve(items.size());
  for (const Item& item : items) {
    futures.push_back(std::async(std::launch::async, [&call, &item] { return call(item); }));
  }
  std::vector<absl::StatusOr<Result>> out;
  out.reserve(items.size());
  for (auto& f : futures) out.push_back(f.get());
  return out;
}

}  // namespace

std::vector<absl::StatusOr<Scores>> TargetBackend::ScoreAll(const std::vector<ScoreItem>& items) {
  if (items.size() == 1) return {Score(items[0])};
  return Concurrently<Scores>(items, [this](const ScoreItem& item) { return Score(item); });
}

std::vector<absl::StatusOr<TimedDraft>> DraftBackend::ProposeAll(
    const std::vector<ProposeItem>& items) {
  if (items.size() == 1) return {Propose(items[0])};
  return Concurrently<TimedDraft>(items, [this](const ProposeItem& item) { return Propose(item); });
}

}  // namespace tandem::decoding
