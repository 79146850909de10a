#ifndef TANDEM_MODEL_TESTING_FAKE_MODEL_H_
#define TANDEM_MODEL_TESTING_FAKE_MODEL_H_

#include <cstdint>
#include <functional>
#include <map>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "model/model.h"

namespace tandem::model::testing {

// A table-driven Model for tests of everything above the model layer: the
// logits after a prefix come from a function of that prefix (and the exit
// layer), so expected outputs can be computed by hand. Implements the full
// Model contract (lengths, draft lengths, truncate, release, errors) and
// counts calls. Not thread-safe, like Model.
class FakeModel : public Model {
 public:
  // Logits [V] for the token after `prefix`; exit_layer 0 means all layers.
  using LogitsFn = std::function<std::vector<float>(
      const std::vector<int64_t>& prefix, int64_t exit_layer)>;

  FakeModel(int64_t vocab_size, int64_t num_layers, int64_t context_length,
            LogitsFn logits);

  // A fake whose next-token logits are looked up in `table` by the full
  // prefix; prefixes not in the table get `fallback`. Early exit returns the
  // same logits as the full model.
  static std::unique_ptr<FakeModel> FromTable(
      int64_t vocab_size, std::map<std::vector<int64_t>, std::vector<float>> table,
      std::vector<float> fallback, int64_t context_length = 1024);

  const ModelInfo& info() const override { return info_; }
  absl::StatusOr<std::vector<at::Tensor>> Forward(
      absl::Span<const ForwardRequest> batch) override;
  int64_t Length(SequenceId sequence) const override;
  int64_t DraftLength(SequenceId sequence) const override;
  absl::Status Truncate(SequenceId sequence, int64_t length) override;
  absl::Status KeepSlots(SequenceId sequence, int64_t from,
                         absl::Span<const int64_t> slots) override;
  absl::Status Fork(SequenceId source, SequenceId destination,
                    int64_t length) override;
  void Release(SequenceId sequence) override;
  int64_t num_sequences() const override { return sequences_.size(); }
  int64_t kv_cache_bytes() const override;

  // Calls to Forward and the number of requests they carried.
  int64_t forward_calls() const { return forward_calls_; }
  int64_t forward_requests() const { return forward_requests_; }
  // Tokens cached by the full model for `sequence` (for assertions).
  std::vector<int64_t> Tokens(SequenceId sequence) const;

 private:
  struct Sequence {
    std::vector<int64_t> tokens;  // Draft-length positions.
    int64_t full_length = 0;
  };
  ModelInfo info_;
  LogitsFn logits_;
  absl::flat_hash_map<SequenceId, Sequence> sequences_;
  int64_t forward_calls_ = 0;
  int64_t forward_requests_ = 0;
};

}  // namespace tandem::model::testing

#endif  // TANDEM_MODEL_TESTING_FAKE_MODEL_H_
