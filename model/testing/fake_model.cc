#include "model/testing/fake_model.h"

#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"

namespace tandem::model::testing {

FakeModel::FakeModel(int64_t vocab_size, int64_t num_layers,
                     int64_t context_length, LogitsFn logits)
    : logits_(std::move(logits)) {
  info_.name = "fake";
  info_.vocab_size = vocab_size;
  info_.num_layers = num_layers;
  info_.context_length = context_length;
  info_.hidden_size = 1;
  info_.kv_bytes_per_token = 8;
}

std::unique_ptr<FakeModel> FakeModel::FromTable(
    int64_t vocab_size, std::map<std::vector<int64_t>, std::vector<float>> table,
    std::vector<float> fallback, int64_t context_length) {
  return std::make_unique<FakeModel>(
      vocab_size, /*num_layers=*/4, context_length,
      [table = std::move(table), fallback = std::move(fallback)](
          const std::vector<int64_t>& prefix, int64_t) {
        auto it = table.find(prefix);
        return it == table.end() ? fallback : it->second;
      });
}

absl::StatusOr<std::vector<at::Tensor>> FakeModel::Forward(
    absl::Span<const ForwardRequest> batch) {
  if (batch.empty()) return absl::InvalidArgumentError("empty batch");
  absl::flat_hash_set<SequenceId> seen;
  for (const ForwardRequest& r : batch) {
    if (!seen.insert(r.sequence).second) {
      return absl::InvalidArgumentError("sequence appears twice in a batch");
    }
    if (r.tokens.empty()) return absl::InvalidArgumentError("no tokens to run");
    for (int64_t t : r.tokens) {
      if (t < 0 || t >= info_.vocab_size) {
        return absl::InvalidArgumentError(absl::StrCat(
            "token id ", t, " is outside the vocabulary [0, ", info_.vocab_size, ")"));
      }
    }
    if (r.exit_layer < 0 || r.exit_layer >= info_.num_layers) {
      return absl::InvalidArgumentError("exit_layer out of range");
    }
    if (!r.tree_parents.empty()) {
      if (r.exit_layer != 0 || r.tree_parents.size() > r.tokens.size()) {
        return absl::InvalidArgumentError("bad token tree");
      }
      for (size_t i = 0; i < r.tree_parents.size(); ++i) {
        if (r.tree_parents[i] < -1 || r.tree_parents[i] >= static_cast<int32_t>(i)) {
          return absl::InvalidArgumentError("bad tree parent");
        }
      }
    }
    const int64_t start =
        r.exit_layer > 0 ? DraftLength(r.sequence) : Length(r.sequence);
    if (start + static_cast<int64_t>(r.tokens.size()) > info_.context_length) {
      return absl::OutOfRangeError("context length exceeded");
    }
  }
  ++forward_calls_;
  forward_requests_ += batch.size();
  std::vector<at::Tensor> out;
  for (const ForwardRequest& r : batch) {
    Sequence& s = sequences_[r.sequence];
    const int64_t start = r.exit_layer > 0 ? s.tokens.size() : s.full_length;
    s.tokens.resize(start);
    std::vector<int64_t> prefix = s.tokens;
    const int64_t rows = r.all_logits ? r.tokens.size() : 1;
    at::Tensor logits = at::empty({rows, info_.vocab_size}, at::kFloat);
    // Token trees: a node's logits follow its own path; the cache holds
    // slots (the tokens in feed order) until KeepSlots.
    const size_t tree_row = r.tokens.size() - r.tree_parents.size();
    std::vector<std::vector<int64_t>> paths;
    for (size_t t = 0; t < r.tokens.size(); ++t) {
      prefix.push_back(r.tokens[t]);
      if (!r.all_logits && t + 1 != r.tokens.size()) continue;
      std::vector<int64_t> history = prefix;
      if (!r.tree_parents.empty() && t >= tree_row) {
        const int32_t parent = r.tree_parents[t - tree_row];
        std::vector<int64_t> path = parent < 0 ? std::vector<int64_t>{} : paths[parent];
        path.push_back(r.tokens[t]);
        paths.push_back(path);
        history.assign(prefix.begin(), prefix.begin() + start + tree_row);
        history.insert(history.end(), path.begin(), path.end());
      }
      std::vector<float> row = logits_(history, r.exit_layer);
      const int64_t out_row = r.all_logits ? t : 0;
      for (int64_t v = 0; v < info_.vocab_size; ++v) {
        logits[out_row][v] = v < static_cast<int64_t>(row.size()) ? row[v] : -1e9f;
      }
    }
    s.tokens = prefix;
    if (r.exit_layer == 0) s.full_length = prefix.size();
    out.push_back(logits);
  }
  return out;
}

int64_t FakeModel::Length(SequenceId id) const {
  auto it = sequences_.find(id);
  return it == sequences_.end() ? 0 : it->second.full_length;
}

int64_t FakeModel::DraftLength(SequenceId id) const {
  auto it = sequences_.find(id);
  return it == sequences_.end() ? 0 : it->second.tokens.size();
}

absl::Status FakeModel::Truncate(SequenceId id, int64_t length) {
  auto it = sequences_.find(id);
  if (it == sequences_.end()) {
    return absl::NotFoundError(absl::StrCat("unknown sequence ", id));
  }
  if (length < 0 || length > static_cast<int64_t>(it->second.tokens.size())) {
    return absl::InvalidArgumentError("truncate length out of range");
  }
  it->second.tokens.resize(length);
  it->second.full_length = std::min(it->second.full_length, length);
  return absl::OkStatus();
}

absl::Status FakeModel::KeepSlots(SequenceId id, int64_t from,
                                  absl::Span<const int64_t> slots) {
  auto it = sequences_.find(id);
  if (it == sequences_.end()) {
    return absl::NotFoundError(absl::StrCat("unknown sequence ", id));
  }
  std::vector<int64_t>& tokens = it->second.tokens;
  if (from < 0 || from > it->second.full_length) {
    return absl::InvalidArgumentError("keep-slots start out of range");
  }
  for (size_t i = 0; i < slots.size(); ++i) {
    const int64_t lowest = i == 0 ? from : slots[i - 1] + 1;
    if (slots[i] < lowest || slots[i] >= it->second.full_length) {
      return absl::InvalidArgumentError("kept slot out of range");
    }
    tokens[from + i] = tokens[slots[i]];
  }
  tokens.resize(from + slots.size());
  it->second.full_length = static_cast<int64_t>(tokens.size());
  return absl::OkStatus();
}

absl::Status FakeModel::Fork(SequenceId source, SequenceId destination,
                             int64_t length) {
  auto it = sequences_.find(source);
  if (it == sequences_.end()) {
    return absl::NotFoundError(absl::StrCat("unknown sequence ", source));
  }
  if (length < 0 || length > it->second.full_length) {
    return absl::InvalidArgumentError("fork length out of range");
  }
  Sequence copy;
  copy.tokens.assign(it->second.tokens.begin(), it->second.tokens.begin() + length);
  copy.full_length = length;
  sequences_[destination] = std::move(copy);
  return absl::OkStatus();
}

void FakeModel::Release(SequenceId id) { sequences_.erase(id); }

int64_t FakeModel::kv_cache_bytes() const {
  int64_t total = 0;
  for (const auto& [id, s] : sequences_) total += s.tokens.size() * 8;
  return total;
}

std::vector<int64_t> FakeModel::Tokens(SequenceId id) const {
  auto it = sequences_.find(id);
  if (it == sequences_.end()) return {};
  return std::vector<int64_t>(it->second.tokens.begin(),
                              it->second.tokens.begin() + it->second.full_length);
}

}  // namespace tandem::model::testing
