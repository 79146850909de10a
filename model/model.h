#ifndef TANDEM_MODEL_MODEL_H_
#define TANDEM_MODEL_MODEL_H_

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "model/model_config.h"

namespace tandem::model {

// Caller-chosen handle of one token sequence and its KV cache.
using SequenceId = uint64_t;

struct ModelInfo {
  std::string name;
  Architecture architecture = Architecture::kLlama;
  LlamaVariant variant = LlamaVariant::kLlama;  // kLlama architecture only.
  int64_t vocab_size = 0;
  int64_t context_length = 0;     // Maximum positions per sequence.
  int64_t num_layers = 0;
  int64_t hidden_size = 0;
  int64_t default_early_exit_layer = 0;  // 0: none configured.
  at::ScalarType dtype = at::kFloat;     // Weights and KV cache.
  at::Device device = at::kCPU;
  // 2 x layers x kv_heads x head_dim x sizeof(dtype).
  int64_t kv_bytes_per_token = 0;
  int64_t parameter_count = 0;
  std::vector<int64_t> eos_token_ids;  // The model's default EOS ids.
};

// New tokens for one sequence in a batched forward.
struct ForwardRequest {
  SequenceId sequence = 0;
  // Appended at the sequence's current length (a new id starts a sequence).
  absl::Span<const int64_t> tokens;
  // 0: all layers. E in [1, num_layers): early exit — run layers [0, E),
  // then the final norm and LM head. The early layers' KV cache is shared
  // with full passes, which reuse it (see Length/DraftLength).
  int64_t exit_layer = 0;
  // false: logits of the last new position only.
  bool all_logits = true;
  // Token trees (speculative verification of several candidate branches in
  // one pass). Empty: `tokens` is a chain, as usual. Otherwise the LAST
  // K = tree_parents.size() tokens (K <= tokens.size()) form a tree and the
  // first T - K tokens a chain in front of it. Tree node i is token
  // tokens[T - K + i]; tree_parents[i] is -1 (a child of the token just
  // before the tree: the last chain token, or the last cached position) or a
  // node index < i. Node i sits at position base + depth(i), base = the
  // sequence length + T - K (depth 0 for a child of -1); it attends to every
  // position before `base` and to its own ancestors and itself, never to
  // other branches; its keys/values go to SLOT base + i. After a tree pass
  // the sequence holds T cached slots that are not positions: the caller
  // must call KeepSlots (or Truncate to <= base) before the sequence's next
  // Forward or Fork. Full passes only (exit_layer 0).
  absl::Span<const int32_t> tree_parents;

  // With all_logits, > 0: only the last `logits_rows` positions' logits are
  // needed (a verify whose feed starts with catch-up rows). A hint: a model
  // may return more rows, ending with those (the CPU transformer returns
  // exactly these).
  int64_t logits_rows = 0;
};

// A causal language model with per-sequence KV caches.
//
// Positions: Length(seq) is the number of tokens the FULL model has cached.
// An early-exit pass (exit_layer E) appends after DraftLength(seq) instead —
// the length of layers [0, E) — so self-speculative drafting extends only the
// early layers. A following full pass appends at Length(seq); where the early
// layers already hold the same tokens at those positions, their cached K/V and
// hidden states are reused rather than recomputed; differing positions are
// dropped and recomputed.
//
// Thread-compatible: calls must be serialized by the caller (servers funnel
// work through one batcher thread). Errors: InvalidArgument (token outside
// the vocabulary, empty token list, bad exit layer, duplicate sequence in a
// batch), OutOfRange (the sequence would exceed the context length),
// ResourceExhausted (no memory for a new sequence's cache), Internal (a
// LibTorch failure). On error no sequence is modified.
class Model {
 public:
  virtual ~Model() = default;

  virtual const ModelInfo& info() const = 0;

  // Runs every request in one batched pass. Returns, per request, float32
  // logits [T, V] on the model's device (T = tokens.size(), or 1 when
  // !all_logits): row t is the distribution of the token after position
  // start + t.
  virtual absl::StatusOr<std::vector<at::Tensor>> Forward(
      absl::Span<const ForwardRequest> batch) = 0;

  // Tokens cached by the full model (0 for an unknown sequence).
  virtual int64_t Length(SequenceId sequence) const = 0;
  // Tokens cached by the early layers (>= Length).
  virtual int64_t DraftLength(SequenceId sequence) const = 0;

  // Drops cached positions >= length in every layer (rollback after rejected
  // drafts). O(1). NotFound for an unknown sequence; length > DraftLength is
  // InvalidArgument.
  virtual absl::Status Truncate(SequenceId sequence, int64_t length) = 0;

  // After a tree pass (ForwardRequest::tree_parents): keeps, of the cached
  // slots at and after `from`, only `slots` (strictly increasing, each in
  // [from, Length)), moved to positions from, from + 1, ...; Length becomes
  // from + slots.size(). Used to commit the accepted path of a verified tree.
  // NotFound for an unknown sequence; InvalidArgument for slots out of range
  // or out of order. Models without tree support return Unimplemented.
  virtual absl::Status KeepSlots(SequenceId sequence, int64_t from,
                                 absl::Span<const int64_t> slots) {
    (void)sequence;
    (void)from;
    (void)slots;
    return absl::UnimplementedError("this model does not support token trees");
  }

  // Makes `destination` a copy of `source`'s first `length` full-model
  // positions (beam search, n returned sequences), replacing any sequence
  // with that id. NotFound for an unknown source; InvalidArgument if length
  // exceeds Length(source); ResourceExhausted as for a new sequence.
  virtual absl::Status Fork(SequenceId source, SequenceId destination,
                            int64_t length) = 0;

  // Frees the sequence's cache. Unknown ids are ignored.
  virtual void Release(SequenceId sequence) = 0;

  virtual int64_t num_sequences() const = 0;
  // Bytes of KV cache currently allocated.
  virtual int64_t kv_cache_bytes() const = 0;

  // Makes sure `sequence` (created empty if new) can reach `positions`
  // without allocating again, so that a session admitted within the KV
  // budget never fails for memory later. ResourceExhausted naming the budget
  // if it would be passed; OutOfRange past the context length. Models
  // without a budget may ignore it.
  virtual absl::Status Reserve(SequenceId sequence, int64_t positions) {
    (void)sequence;
    (void)positions;
    return absl::OkStatus();
  }
  // The KV budget in bytes; 0 = unlimited.
  virtual int64_t kv_budget_bytes() const { return 0; }

  // Convenience: one sequence, all layers.
  absl::StatusOr<at::Tensor> ForwardOne(SequenceId sequence,
                                        absl::Span<const int64_t> tokens,
                                        int64_t exit_layer = 0,
                                        bool all_logits = true) {
    ForwardRequest request{sequence, tokens, exit_layer, all_logits};
    absl::StatusOr<std::vector<at::Tensor>> out = Forward({request});
    if (!out.ok()) return out.status();
    return std::move((*out)[0]);
  }
};

}  // namespace tandem::model

#endif  // TANDEM_MODEL_MODEL_H_
