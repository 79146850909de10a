#include "model/transformer_model.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "model/rope.h"

namespace tandem::model {

// One request's progress through the layers.
struct TransformerModel::Work {
  const ForwardRequest* request = nullptr;
  Sequence* sequence = nullptr;
  int64_t exit = 0;          // Run layers [0, exit).
  int64_t start = 0;         // Position of h's first row at the current layer.
  at::Tensor h;              // [rows, H]
  // Rows reused from an earlier early-exit pass: prepended to h at
  // inject_layer, covering positions [reused_start, start).
  int64_t inject_layer = -1;
  int64_t reused_start = 0;
  at::Tensor reused;
  at::Tensor positions;      // int64 [rows] on the device, for h.
  at::Tensor cos, sin;       // RoPE tables of `positions`, [rows, 1, head_dim].
  at::Tensor local_cos, local_sin;  // The same for UsesLocalRope layers.
  // Token trees (ForwardRequest::tree_parents): rows from tree_row on are
  // tree nodes; node i has slot start + tree_row + i and position
  // start + tree_row + depth(i). -1: no tree.
  int64_t tree_row = -1;
  // Per node: the nodes on its path from the tree's root, itself last (so
  // path.size() - 1 is its depth).
  std::vector<std::vector<int64_t>> tree_paths;
};

namespace {

// The hidden rows of a request whose logits are wanted (ForwardRequest::
// all_logits, logits_rows).
at::Tensor LogitRows(const ForwardRequest& request, const at::Tensor& h) {
  const int64_t n = h.size(0);
  if (!request.all_logits) return h.narrow(0, n - 1, 1);
  if (request.logits_rows > 0 && request.logits_rows < n) {
    return h.narrow(0, n - request.logits_rows, request.logits_rows);
  }
  return h;
}

// Rows of rotate_half(W x) = R W x for each head of a [heads * d, H] matrix
// (or [heads * d] bias): the second half of each head negated, then the
// first half. Folding R into the projection turns RoPE into two multiplies
// and an add, with no per-layer slicing or concatenation.
at::Tensor RotateHalfRows(const at::Tensor& w, int64_t heads, int64_t d) {
  std::vector<int64_t> shape = {heads, 2, d / 2};
  if (w.dim() == 2) shape.push_back(w.size(1));
  at::Tensor v = w.reshape(shape);
  at::Tensor out = at::cat({-v.select(1, 1).unsqueeze(1), v.select(1, 0).unsqueeze(1)}, 1);
  return w.dim() == 2 ? out.reshape({heads * d, w.size(1)}) : out.reshape({heads * d});
}

// Rows of every part stacked into one contiguous matrix (no copy for one
// contiguous part).
at::Tensor StackRows(const std::vector<at::Tensor>& parts) {
  return parts.size() == 1 ? parts[0].contiguous() : at::cat(parts, 0);
}

// x [..., d] -> rotate_half(x) = [-x[d/2:], x[:d/2]] (Hugging Face RoPE).
at::Tensor RotateHalf(const at::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

// RMSNorm over the last dimension (Qwen3's per-head q/k norm), float32.
at::Tensor HeadRmsNorm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  return weight.to(x.scalar_type()) * (x * at::rsqrt(x.pow(2).mean(-1, true) + eps));
}

}  // namespace

absl::StatusOr<std::unique_ptr<TransformerModel>> TransformerModel::Create(
    const Checkpoint& checkpoint, const TransformerOptions& options) {
  ModelConfig config = checkpoint.config;
  if (absl::Status s = NormalizeConfig(config); !s.ok()) return s;
  if (options.dtype != at::kFloat && options.dtype != at::kBFloat16 &&
      options.dtype != at::kHalf) {
    return absl::InvalidArgumentError(
        absl::StrCat("dtype must be float32, bfloat16 or float16, got ",
                     c10::toString(options.dtype)));
  }
  if (options.max_context < 0) {
    return absl::InvalidArgumentError("max_context must be >= 0");
  }
  Checkpoint normalized{config, checkpoint.tensors};
  absl::StatusOr<TransformerWeights> weights =
      ArrangeWeights(normalized, options.dtype, options.device);
  if (!weights.ok()) return weights.status();
  try {
    return std::unique_ptr<TransformerModel>(
        new TransformerModel(config, *std::move(weights), options));
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("building the model: ", e.what_without_backtrace()));
  }
}

TransformerModel::TransformerModel(ModelConfig config,
                                   TransformerWeights weights,
                                   const TransformerOptions& options)
    : config_(std::move(config)),
      weights_(std::move(weights)),
      options_(options) {
  const int64_t context =
      options.max_context > 0
          ? std::min(options.max_context, config_.max_position_embeddings)
          : config_.max_position_embeddings;
  // Activations are float32 on every path; the CPU decoder keeps its KV
  // cache in float32 too, the LibTorch path in the model dtype.
  const bool cpu_decoder = options.device.is_cpu() && !options.torch_ops;
  activation_options_ = at::TensorOptions().dtype(at::kFloat).device(options.device);
  cache_shape_ = KvCacheShape{config_.num_hidden_layers,
                              config_.num_key_value_heads, config_.head_dim,
                              context, cpu_decoder ? at::kFloat : options.dtype, options.device};
  info_.name = config_.name;
  info_.architecture = config_.architecture;
  info_.variant = config_.variant;
  info_.vocab_size = config_.vocab_size;
  info_.context_length = context;
  info_.num_layers = config_.num_hidden_layers;
  info_.hidden_size = config_.hidden_size;
  info_.default_early_exit_layer = config_.early_exit_layer;
  info_.dtype = options.dtype;
  info_.device = options.device;
  info_.kv_bytes_per_token = cache_shape_.BytesPerToken();
  info_.parameter_count = weights_.parameter_count;
  info_.eos_token_ids = config_.eos_token_ids;
  // [context, head_dim / 2] rotary angles (Llama), global and local RoPE.
  at::Tensor freqs, local_freqs;
  if (config_.architecture == Architecture::kLlama) {
    auto angles = [&](bool local) {
      const std::vector<double> inv_freq = RopeInverseFrequencies(config_, local);
      return at::outer(at::arange(context, at::kDouble),
                       at::tensor(at::ArrayRef<double>(inv_freq), at::kDouble));
    };
    freqs = angles(false);
    if (config_.rope_local_theta > 0) local_freqs = angles(true);
  }
  auto cos = [](const at::Tensor& f) { return f.defined() ? f.cos() : at::Tensor(); };
  auto sin = [](const at::Tensor& f) { return f.defined() ? f.sin() : at::Tensor(); };
  if (cpu_decoder) {
    cpu_ = std::make_unique<cpu::Decoder>(config_, weights_, cos(freqs), sin(freqs),
                                          cos(local_freqs), sin(local_freqs));
    // The decoder holds packed copies; drop the originals (the embedding
    // table stays for lookups).
    for (LayerWeights& l : weights_.layers) {
      l.qkv_weight = l.out_weight = l.up_weight = l.down_weight = at::Tensor();
    }
    weights_.lm_head = at::Tensor();
    return;
  }
  if (config_.architecture == Architecture::kLlama) {
    at::Tensor emb = at::cat({freqs, freqs}, -1);
    rope_cos_ = emb.cos().to(options.device, at::kFloat);
    rope_sin_ = emb.sin().to(options.device, at::kFloat);
    if (local_freqs.defined()) {
      at::Tensor local = at::cat({local_freqs, local_freqs}, -1);
      local_cos_ = local.cos().to(options.device, at::kFloat);
      local_sin_ = local.sin().to(options.device, at::kFloat);
    }
    // With a q/k norm between projection and RoPE, R·W cannot be folded in.
    if (config_.qk_norm) return;
    // Append R·W_q and R·W_k to the fused projection (see RotateHalfRows).
    const int64_t d = config_.head_dim, h = config_.num_attention_heads;
    const int64_t kv = config_.num_key_value_heads;
    for (LayerWeights& l : weights_.layers) {
      at::Tensor q = l.qkv_weight.narrow(0, 0, h * d);
      at::Tensor k = l.qkv_weight.narrow(0, h * d, kv * d);
      l.qkv_weight = at::cat({l.qkv_weight, RotateHalfRows(q, h, d), RotateHalfRows(k, kv, d)}, 0)
                         .contiguous();
      if (l.qkv_bias.defined()) {
        at::Tensor qb = l.qkv_bias.narrow(0, 0, h * d);
        at::Tensor kb = l.qkv_bias.narrow(0, h * d, kv * d);
        l.qkv_bias = at::cat({l.qkv_bias, RotateHalfRows(qb, h, d), RotateHalfRows(kb, kv, d)}, 0);
      }
    }
  }
}

int64_t TransformerModel::Length(SequenceId id) const {
  auto it = sequences_.find(id);
  if (it == sequences_.end()) return 0;
  return it->second.cache->length(config_.num_hidden_layers - 1);
}

int64_t TransformerModel::DraftLength(SequenceId id) const {
  auto it = sequences_.find(id);
  return it == sequences_.end() ? 0 : it->second.cache->length(0);
}

absl::Status TransformerModel::Truncate(SequenceId id, int64_t length) {
  auto it = sequences_.find(id);
  if (it == sequences_.end()) {
    return absl::NotFoundError(absl::StrCat("unknown sequence ", id));
  }
  Sequence& s = it->second;
  if (length < 0 || length > s.cache->length(0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("truncate length ", length, " is outside [0, ",
                     s.cache->length(0), "]"));
  }
  s.cache->TruncateAll(length);
  s.tokens.resize(length);
  return absl::OkStatus();
}

absl::Status TransformerModel::KeepSlots(SequenceId id, int64_t from,
                                         absl::Span<const int64_t> slots) {
  auto it = sequences_.find(id);
  if (it == sequences_.end()) {
    return absl::NotFoundError(absl::StrCat("unknown sequence ", id));
  }
  Sequence& s = it->second;
  const int64_t length = s.cache->length(config_.num_hidden_layers - 1);
  if (from < 0 || from > length) {
    return absl::InvalidArgumentError(
        absl::StrCat("keep-slots start ", from, " is outside [0, ", length, "]"));
  }
  for (size_t i = 0; i < slots.size(); ++i) {
    const int64_t lowest = i == 0 ? from : slots[i - 1] + 1;
    if (slots[i] < lowest || slots[i] >= length) {
      return absl::InvalidArgumentError(absl::StrCat(
          "kept slot ", i, " is ", slots[i], "; it must be in [", lowest, ", ", length, ")"));
    }
  }
  std::vector<int64_t> kept(slots.begin(), slots.end());
  try {
    s.cache->KeepSlots(from, kept);
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("keeping tree slots failed: ", e.what_without_backtrace()));
  }
  for (size_t i = 0; i < kept.size(); ++i) s.tokens[from + i] = s.tokens[kept[i]];
  s.tokens.resize(from + kept.size());
  return absl::OkStatus();
}

absl::Status TransformerModel::Fork(SequenceId source, SequenceId destination,
                                    int64_t length) {
  auto it = sequences_.find(source);
  if (it == sequences_.end()) {
    return absl::NotFoundError(absl::StrCat("unknown sequence ", source));
  }
  const int64_t full = it->second.cache->length(config_.num_hidden_layers - 1);
  if (length < 0 || length > full) {
    return absl::InvalidArgumentError(absl::StrCat(
        "fork length ", length, " is outside [0, ", full, "]"));
  }
  if (source == destination) return Truncate(source, length);
  if (options_.max_sequences > 0 && !sequences_.contains(destination) &&
      static_cast<int64_t>(sequences_.size()) >= options_.max_sequences) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "at most ", options_.max_sequences, " sequences may be cached"));
  }
  // The copy keeps the source's reservation (it grows the same way).
  const int64_t positions = std::max(length, it->second.cache->shape().capacity);
  const auto old = sequences_.find(destination);
  absl::StatusOr<std::unique_ptr<SequenceKvCache>> cache =
      old != sequences_.end() && old->second.cache->shape().capacity >= positions
          ? absl::StatusOr<std::unique_ptr<SequenceKvCache>>(std::move(old->second.cache))
          : NewCache(positions);
  if (!cache.ok()) return cache.status();
  try {
    (*cache)->CopyPrefixFrom(*it->second.cache, length);
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("fork failed: ", e.what_without_backtrace()));
  }
  Sequence copy;
  copy.cache = *std::move(cache);
  copy.tokens.assign(it->second.tokens.begin(),
                     it->second.tokens.begin() + length);
  sequences_[destination] = std::move(copy);
  return absl::OkStatus();
}

void TransformerModel::Release(SequenceId id) { sequences_.erase(id); }

int64_t TransformerModel::BytesPerPosition(const Sequence* s) const {
  const int64_t hidden =
      s != nullptr && s->exit_hidden.defined() ? config_.hidden_size * int64_t{4} : 0;
  return cache_shape_.BytesPerToken() + hidden;
}

absl::Status TransformerModel::CheckBudget(int64_t extra) const {
  if (options_.kv_budget_bytes <= 0 || extra <= 0) return absl::OkStatus();
  const int64_t held = kv_cache_bytes();
  if (held + extra <= options_.kv_budget_bytes) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat(
      "KV cache budget of ", options_.kv_budget_bytes, " bytes (--kv_budget) exhausted: ",
      sequences_.size(), " sequences hold ", held, " bytes and ", extra, " more are needed"));
}

absl::StatusOr<std::unique_ptr<SequenceKvCache>> TransformerModel::NewCache(
    int64_t positions) const {
  KvCacheShape shape = cache_shape_;
  const int64_t blocks = (std::max<int64_t>(positions, 1) + kKvBlockPositions - 1) /
                         kKvBlockPositions;
  shape.capacity = std::min(cache_shape_.capacity, blocks * kKvBlockPositions);
  if (absl::Status s = CheckBudget(shape.capacity * BytesPerPosition(nullptr)); !s.ok()) {
    return s;
  }
  return SequenceKvCache::Create(shape);
}

absl::Status TransformerModel::Grow(Sequence& s, int64_t positions, bool exact) {
  const int64_t capacity = s.cache->shape().capacity;
  if (positions <= capacity) return absl::OkStatus();
  if (positions > cache_shape_.capacity) {
    return absl::OutOfRangeError(absl::StrCat("a sequence of ", positions,
                                              " positions exceeds the context length ",
                                              cache_shape_.capacity));
  }
  auto round_up = [&](int64_t n) {
    return std::min(cache_shape_.capacity,
                    (n + kKvBlockPositions - 1) / kKvBlockPositions * kKvBlockPositions);
  };
  const int64_t per_position = BytesPerPosition(&s);
  int64_t target = round_up(exact ? positions : std::max(positions, 2 * capacity));
  if (!CheckBudget((target - capacity) * per_position).ok()) target = round_up(positions);
  if (absl::Status b = CheckBudget((target - capacity) * per_position); !b.ok()) return b;
  if (absl::Status r = s.cache->Reserve(target); !r.ok()) return r;
  if (s.exit_hidden.defined()) {
    try {
      at::Tensor bigger = at::empty({target, config_.hidden_size}, activation_options_);
      bigger.narrow(0, 0, s.exit_hidden.size(0)).copy_(s.exit_hidden);
      s.exit_hidden = std::move(bigger);
    } catch (const c10::Error& e) {
      return absl::ResourceExhaustedError(
          absl::StrCat("cannot grow early-exit states: ", e.what_without_backtrace()));
    }
  }
  return absl::OkStatus();
}

absl::Status TransformerModel::Reserve(SequenceId sequence, int64_t positions) {
  if (positions < 0 || positions > cache_shape_.capacity) {
    return absl::OutOfRangeError(absl::StrCat("cannot reserve ", positions,
                                              " positions: the context length is ",
                                              cache_shape_.capacity));
  }
  auto it = sequences_.find(sequence);
  if (it == sequences_.end()) {
    if (options_.max_sequences > 0 &&
        static_cast<int64_t>(sequences_.size()) >= options_.max_sequences) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "at most ", options_.max_sequences, " sequences may be cached"));
    }
    absl::StatusOr<std::unique_ptr<SequenceKvCache>> cache = NewCache(positions);
    if (!cache.ok()) return cache.status();
    sequences_.emplace(sequence, Sequence{*std::move(cache)});
    return absl::OkStatus();
  }
  // An exact reservation: no doubling past what was asked for.
  return Grow(it->second, positions, /*exact=*/true);
}

int64_t TransformerModel::kv_cache_bytes() const {
  int64_t total = 0;
  for (const auto& [id, s] : sequences_) {
    total += s.cache->bytes();
    if (s.exit_hidden.defined()) {
      total += s.exit_hidden.numel() * s.exit_hidden.element_size();
    }
  }
  return total;
}

absl::Status TransformerModel::Validate(
    absl::Span<const ForwardRequest> batch) const {
  if (batch.empty()) return absl::InvalidArgumentError("empty batch");
  absl::flat_hash_set<SequenceId> seen;
  int64_t new_sequences = 0;
  for (const ForwardRequest& r : batch) {
    if (!seen.insert(r.sequence).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("sequence ", r.sequence, " appears twice in a batch"));
    }
    if (r.tokens.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("sequence ", r.sequence, ": no tokens to run"));
    }
    for (int64_t t : r.tokens) {
      if (t < 0 || t >= config_.vocab_size) {
        return absl::InvalidArgumentError(
            absl::StrCat("token id ", t, " is outside the vocabulary [0, ",
                         config_.vocab_size, ")"));
      }
    }
    if (r.exit_layer < 0 || r.exit_layer >= config_.num_hidden_layers) {
      return absl::InvalidArgumentError(absl::StrCat(
          "exit_layer must be in [0, ", config_.num_hidden_layers,
          ") (0 = all layers), got ", r.exit_layer));
    }
    if (!r.tree_parents.empty()) {
      if (r.exit_layer != 0) {
        return absl::InvalidArgumentError("token trees need a full pass (exit_layer 0)");
      }
      if (r.tree_parents.size() > r.tokens.size()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "sequence ", r.sequence, ": ", r.tree_parents.size(), " tree parents for ",
            r.tokens.size(), " tokens"));
      }
      for (size_t i = 0; i < r.tree_parents.size(); ++i) {
        if (r.tree_parents[i] < -1 || r.tree_parents[i] >= static_cast<int32_t>(i)) {
          return absl::InvalidArgumentError(absl::StrCat(
              "tree parent of node ", i, " is ", r.tree_parents[i], "; it must be in [-1, ", i,
              ")"));
        }
      }
    }
    const bool exists = sequences_.contains(r.sequence);
    new_sequences += !exists;
    const int64_t start = r.exit_layer > 0 ? DraftLength(r.sequence)
                                           : Length(r.sequence);
    const int64_t end = start + static_cast<int64_t>(r.tokens.size());
    if (end > cache_shape_.capacity) {
      return absl::OutOfRangeError(absl::StrCat(
          "sequence ", r.sequence, " would reach ", end,
          " tokens; the context length is ", cache_shape_.capacity));
    }
  }
  if (options_.max_sequences > 0 &&
      static_cast<int64_t>(sequences_.size()) + new_sequences >
          options_.max_sequences) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "at most ", options_.max_sequences, " sequences may be cached"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<TransformerModel::Work>> TransformerModel::Plan(
    absl::Span<const ForwardRequest> batch) {
  const int64_t num_layers = config_.num_hidden_layers;
  std::vector<Work> works;
  works.reserve(batch.size());
  for (const ForwardRequest& r : batch) {
    auto it = sequences_.find(r.sequence);
    if (it == sequences_.end()) {
      absl::StatusOr<std::unique_ptr<SequenceKvCache>> cache =
          NewCache(static_cast<int64_t>(r.tokens.size()));
      if (!cache.ok()) return cache.status();
      it = sequences_.emplace(r.sequence, Sequence{*std::move(cache)}).first;
    }
    Sequence& s = it->second;
    {
      // The furthest position this request writes (truncation only lowers it).
      const int64_t from = r.exit_layer > 0 ? s.cache->length(0)
                                            : s.cache->length(num_layers - 1);
      if (absl::Status grown = Grow(s, from + static_cast<int64_t>(r.tokens.size()));
          !grown.ok()) {
        return grown;
      }
      if (r.exit_layer > 0 && !s.exit_hidden.defined()) {
        // Early exit keeps hidden states for every position: count them too.
        const int64_t capacity = s.cache->shape().capacity;
        if (absl::Status b = CheckBudget(capacity * config_.hidden_size * int64_t{4}); !b.ok()) {
          return b;
        }
        s.exit_hidden = at::empty({capacity, config_.hidden_size}, activation_options_);
      }
    }
    Work w;
    w.request = &r;
    w.sequence = &s;
    const int64_t count = static_cast<int64_t>(r.tokens.size());
    const int64_t full_length = s.cache->length(num_layers - 1);
    const int64_t draft_length = s.cache->length(0);
    std::vector<int64_t> run(r.tokens.begin(), r.tokens.end());
    if (r.exit_layer > 0) {
      // Early exit: the early layers must agree on one length; drafts made
      // with another exit layer are dropped.
      if (s.exit_layer != r.exit_layer && draft_length > full_length) {
        s.cache->Truncate(0, num_layers, full_length);
        s.tokens.resize(full_length);
      }
      w.exit = r.exit_layer;
      w.start = s.cache->length(0);
      s.exit_layer = r.exit_layer;
    } else {
      w.exit = num_layers;
      w.start = full_length;
      // Reuse the early layers' positions that hold the same tokens.
      int64_t reuse = 0;
      const bool tree = !r.tree_parents.empty();
      if (s.exit_layer > 0 && draft_length > full_length && !tree) {
        const int64_t limit = std::min(draft_length - full_length, count);
        while (reuse < limit && s.tokens[full_length + reuse] == run[reuse]) {
          ++reuse;
        }
        if (full_length + reuse < draft_length && reuse < count) {
          s.cache->Truncate(0, s.exit_layer, full_length + reuse);
          s.tokens.resize(full_length + reuse);
        }
      } else if (draft_length > full_length) {
        s.cache->Truncate(0, num_layers, full_length);
        s.tokens.resize(full_length);
      }
      if (reuse > 0) {
        w.inject_layer = s.exit_layer;
        w.reused_start = full_length;
        w.reused = s.exit_hidden.narrow(0, full_length, reuse);
        w.start = full_length + reuse;
        run.erase(run.begin(), run.begin() + reuse);
      }
    }
    // Record the tokens of positions the early layers newly cache.
    const int64_t new_end = w.start + static_cast<int64_t>(run.size());
    if (static_cast<int64_t>(s.tokens.size()) < new_end) s.tokens.resize(new_end);
    std::copy(run.begin(), run.end(), s.tokens.begin() + w.start);
    at::Tensor ids = at::empty({static_cast<int64_t>(run.size())}, at::kLong);
    std::copy(run.begin(), run.end(), ids.data_ptr<int64_t>());
    w.positions = at::arange(w.start, new_end, at::kLong);
    if (!r.tree_parents.empty()) {
      const int64_t k = static_cast<int64_t>(r.tree_parents.size());
      w.tree_row = static_cast<int64_t>(run.size()) - k;
      int64_t* pos = w.positions.data_ptr<int64_t>() + w.tree_row;
      const int64_t base = w.start + w.tree_row;
      for (int64_t i = 0; i < k; ++i) {
        const int32_t parent = r.tree_parents[i];
        std::vector<int64_t> path =
            parent < 0 ? std::vector<int64_t>{} : w.tree_paths[parent];
        path.push_back(i);
        pos[i] = base + static_cast<int64_t>(path.size()) - 1;
        w.tree_paths.push_back(std::move(path));
      }
    }
    w.positions = w.positions.to(options_.device);
    ids = ids.to(options_.device);
    w.h = run.empty() ? at::empty({0, config_.hidden_size}, activation_options_)
                      : weights_.token_embedding.index_select(0, ids).to(activation_options_);
    if (config_.scale_embeddings) {
      w.h.mul_(static_cast<float>(std::sqrt(static_cast<double>(config_.hidden_size))));
    }
    if (config_.architecture == Architecture::kGpt2 && !run.empty()) {
      w.h = w.h + weights_.position_embedding.index_select(0, w.positions)
                      .to(activation_options_);
    }
    if (!cpu_) PrepareRope(w);
    works.push_back(std::move(w));
  }
  return works;
}

at::Tensor TransformerModel::Norm(const at::Tensor& x, const at::Tensor& weight,
                                  const at::Tensor& bias) const {
  if (config_.architecture == Architecture::kGpt2) {
    return at::layer_norm(x, {config_.hidden_size}, weight.to(x.scalar_type()),
                          bias.to(x.scalar_type()), config_.norm_eps);
  }
  at::Tensor normed =
      x * at::rsqrt(x.pow(2).mean(-1, /*keepdim=*/true) + config_.norm_eps);
  return weight.to(x.scalar_type()) * normed;
}

namespace {

// x (float32) W^T + b with W in the model dtype: the product runs in that
// dtype (float32 accumulation in cuBLAS / oneDNN), the result is float32.
at::Tensor MixedLinear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b = {}) {
  return at::linear(x.to(w.scalar_type()), w, b).to(at::kFloat);
}

}  // namespace

void TransformerModel::PrepareRope(Work& w) const {
  if (config_.architecture != Architecture::kLlama) return;
  w.cos = rope_cos_.index_select(0, w.positions).unsqueeze(1);
  w.sin = rope_sin_.index_select(0, w.positions).unsqueeze(1);
  if (local_cos_.defined()) {
    w.local_cos = local_cos_.index_select(0, w.positions).unsqueeze(1);
    w.local_sin = local_sin_.index_select(0, w.positions).unsqueeze(1);
  }
}

void TransformerModel::SoftCapLogits(std::vector<at::Tensor>& logits) const {
  const double cap = config_.final_logit_softcapping;
  if (cap <= 0) return;
  for (at::Tensor& l : logits) l = at::tanh(l / cap) * cap;
}

at::Tensor TransformerModel::TreeMask(const Work& w, int64_t total, int64_t window) const {
  // Key slot -> position: the prefix and chain rows are their own
  // positions; tree node i is at base + depth(i).
  const int64_t rows = total - w.start;
  const int64_t base = w.start + w.tree_row;
  std::vector<int64_t> key_pos(total);
  for (int64_t j = 0; j < total; ++j) {
    key_pos[j] = j < base ? j : base + static_cast<int64_t>(w.tree_paths[j - base].size()) - 1;
  }
  at::Tensor masked = at::zeros({rows, total}, at::kBool);
  bool* m = masked.data_ptr<bool>();
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t slot = w.start + r;
    const int64_t pos = key_pos[slot];
    std::vector<bool> ancestor(total, false);
    if (slot >= base) {
      for (int64_t a : w.tree_paths[slot - base]) ancestor[base + a] = true;
    }
    for (int64_t j = 0; j < total; ++j) {
      const bool visible = j < base ? key_pos[j] <= pos : ancestor[j];
      const bool in_window = window <= 0 || key_pos[j] > pos - window;
      m[r * total + j] = !(visible && in_window);
    }
  }
  return masked;
}

at::Tensor TransformerModel::Attention(int64_t layer, Work& w,
                                       const at::Tensor& qkv) {
  const int64_t rows = qkv.size(0);
  const int64_t heads = config_.num_attention_heads;
  const int64_t kv_heads = config_.num_key_value_heads;
  const int64_t d = config_.head_dim;
  const int64_t group = heads / kv_heads;
  at::Tensor q = qkv.narrow(1, 0, heads * d).view({rows, heads, d});
  at::Tensor k = qkv.narrow(1, heads * d, kv_heads * d).view({rows, kv_heads, d});
  at::Tensor v =
      qkv.narrow(1, (heads + kv_heads) * d, kv_heads * d).view({rows, kv_heads, d});
  if (config_.architecture == Architecture::kLlama) {
    // RoPE (Hugging Face rotate-half): x * cos + rotate_half(x) * sin, with
    // rotate_half(x) computed by the fused projection unless q/k are normed.
    at::Tensor q_rot, k_rot;
    if (config_.qk_norm) {
      const LayerWeights& lw = weights_.layers[layer];
      q = HeadRmsNorm(q, lw.q_norm_weight, config_.norm_eps);
      k = HeadRmsNorm(k, lw.k_norm_weight, config_.norm_eps);
      q_rot = RotateHalf(q);
      k_rot = RotateHalf(k);
    } else {
      const int64_t rotated = (heads + 2 * kv_heads) * d;
      q_rot = qkv.narrow(1, rotated, heads * d).view({rows, heads, d});
      k_rot = qkv.narrow(1, rotated + heads * d, kv_heads * d).view({rows, kv_heads, d});
    }
    const bool local = UsesLocalRope(config_, layer);
    const at::Tensor& cos = local ? w.local_cos : w.cos;
    const at::Tensor& sin = local ? w.local_sin : w.sin;
    q = q * cos + q_rot * sin;
    k = k * cos + k_rot * sin;
  }
  SequenceKvCache& cache = *w.sequence->cache;
  cache.Write(layer, w.start, k.transpose(0, 1), v.transpose(0, 1));
  const int64_t total = w.start + rows;
  at::Tensor keys = cache.Keys(layer, total);     // [kv, S, d]
  at::Tensor values = cache.Values(layer, total);  // [kv, S, d]
  // Heads sharing a KV head are stacked: [kv, group * rows, d].
  at::Tensor qg = q.view({rows, kv_heads, group, d})
                      .permute({1, 2, 0, 3})
                      .reshape({kv_heads, group * rows, d})
                      .to(keys.scalar_type());
  at::Tensor scores = at::matmul(qg, keys.transpose(1, 2))
                          .to(at::kFloat)
                          .mul_(AttentionScale(config_));
  if (const double cap = config_.attn_logit_softcapping; cap > 0) {
    scores = at::tanh(scores / cap) * cap;
  }
  const int64_t window = SlidingWindowOf(config_, layer);
  if (w.tree_row >= 0) {
    scores.masked_fill_(TreeMask(w, total, window).to(scores.device()).repeat({group, 1}).unsqueeze(0),
                        -std::numeric_limits<float>::infinity());
  } else if (rows > 1 || (window > 0 && total > window)) {
    // Row t (position start + t) sees keys at positions <= start + t, and
    // with a sliding window only those > start + t - window.
    at::Tensor key_pos = at::arange(total, at::TensorOptions().dtype(at::kLong).device(scores.device()));
    at::Tensor query_pos = at::arange(w.start, total, key_pos.options());
    at::Tensor masked = key_pos.unsqueeze(0) > query_pos.unsqueeze(1);  // [rows, S]
    if (window > 0) masked |= key_pos.unsqueeze(0) <= query_pos.unsqueeze(1) - window;
    scores.masked_fill_(masked.repeat({group, 1}).unsqueeze(0),
                        -std::numeric_limits<float>::infinity());
  }
  at::Tensor probs = scores.softmax(-1).to(values.scalar_type());
  at::Tensor out = at::matmul(probs, values).to(at::kFloat);  // [kv, group * rows, d]
  return out.view({kv_heads, group, rows, d})
      .permute({2, 0, 1, 3})
      .reshape({rows, heads * d});
}

void TransformerModel::RunLayer(int64_t layer, std::vector<Work*>& active) {
  const LayerWeights& lw = weights_.layers[layer];
  for (Work* w : active) {
    if (w->inject_layer == layer) {
      w->h = at::cat({w->reused, w->h}, 0);
      w->positions = at::cat(
          {at::arange(w->reused_start, w->start,
                      at::TensorOptions().dtype(at::kLong).device(options_.device)),
           w->positions});
      w->start = w->reused_start;
      w->reused = at::Tensor();
      if (!cpu_) PrepareRope(*w);
    }
  }
  if (cpu_) return RunLayerCpu(layer, active);
  std::vector<at::Tensor> parts;
  for (Work* w : active) parts.push_back(w->h);
  at::Tensor x = StackRows(parts);
  at::Tensor qkv =
      MixedLinear(Norm(x, lw.norm1_weight, lw.norm1_bias), lw.qkv_weight,
                 lw.qkv_bias);
  std::vector<at::Tensor> attn;
  int64_t row = 0;
  for (Work* w : active) {
    const int64_t rows = w->h.size(0);
    attn.push_back(Attention(layer, *w, qkv.narrow(0, row, rows)));
    row += rows;
  }
  at::Tensor a = MixedLinear(StackRows(attn), lw.out_weight, lw.out_bias);
  if (lw.post_attention_norm_weight.defined()) a = Norm(a, lw.post_attention_norm_weight, {});
  x = x + a;
  at::Tensor h = Norm(x, lw.norm2_weight, lw.norm2_bias);
  at::Tensor mlp;
  if (config_.architecture == Architecture::kLlama) {
    at::Tensor gate_up = MixedLinear(h, lw.up_weight);
    const int64_t inner = config_.intermediate_size;
    at::Tensor gate = gate_up.narrow(1, 0, inner);
    gate = config_.hidden_activation == HiddenActivation::kGeluTanh ? at::gelu(gate, "tanh")
                                                                    : at::silu(gate);
    mlp = MixedLinear(gate * gate_up.narrow(1, inner, inner), lw.down_weight);
    if (lw.post_mlp_norm_weight.defined()) mlp = Norm(mlp, lw.post_mlp_norm_weight, {});
  } else {
    mlp = MixedLinear(at::gelu(MixedLinear(h, lw.up_weight, lw.up_bias), "tanh"),
                      lw.down_weight, lw.down_bias);
  }
  x = x + mlp;
  row = 0;
  for (Work* w : active) {
    const int64_t rows = w->h.size(0);
    w->h = x.narrow(0, row, rows);
    row += rows;
  }
}

absl::StatusOr<std::vector<at::Tensor>> TransformerModel::Forward(
    absl::Span<const ForwardRequest> batch) {
  if (absl::Status s = Validate(batch); !s.ok()) return s;
  // Snapshot for rollback: on failure no sequence is modified.
  struct Snapshot {
    SequenceId id;
    bool existed;
    std::vector<int64_t> lengths;
    std::vector<int64_t> tokens;
    int64_t exit_layer;
  };
  std::vector<Snapshot> snapshots;
  for (const ForwardRequest& r : batch) {
    Snapshot snap{r.sequence, false, {}, {}, 0};
    auto it = sequences_.find(r.sequence);
    if (it != sequences_.end()) {
      snap.existed = true;
      for (int64_t l = 0; l < config_.num_hidden_layers; ++l) {
        snap.lengths.push_back(it->second.cache->length(l));
      }
      snap.tokens = it->second.tokens;
      snap.exit_layer = it->second.exit_layer;
    }
    snapshots.push_back(std::move(snap));
  }
  auto rollback = [&]() {
    for (const Snapshot& snap : snapshots) {
      if (!snap.existed) {
        sequences_.erase(snap.id);
        continue;
      }
      Sequence& s = sequences_.at(snap.id);
      for (int64_t l = 0; l < config_.num_hidden_layers; ++l) {
        s.cache->Truncate(l, l + 1, snap.lengths[l]);
      }
      s.tokens = snap.tokens;
      s.exit_layer = snap.exit_layer;
    }
  };
  try {
    absl::StatusOr<std::vector<Work>> works = Plan(batch);
    if (!works.ok()) {
      rollback();
      return works.status();
    }
    const int64_t max_exit =
        std::max_element(works->begin(), works->end(),
                         [](const Work& a, const Work& b) { return a.exit < b.exit; })
            ->exit;
    for (int64_t layer = 0; layer < max_exit; ++layer) {
      std::vector<Work*> active;
      for (Work& w : *works) {
        // A full pass whose new tokens were all cached by an early-exit pass
        // has no rows in the early layers; it joins at its injection layer.
        const bool has_rows = w.h.size(0) > 0 || w.inject_layer == layer;
        if (layer < w.exit && has_rows) active.push_back(&w);
      }
      if (active.empty()) continue;
      RunLayer(layer, active);
      for (Work* w : active) {
        if (layer + 1 != w->exit || w->exit == config_.num_hidden_layers) continue;
        // Early exit: keep the input of layer `exit` for the full pass.
        Sequence& s = *w->sequence;
        if (!s.exit_hidden.defined()) {
          s.exit_hidden = at::empty({s.cache->shape().capacity, config_.hidden_size},
                                    activation_options_);
        }
        s.exit_hidden.narrow(0, w->start, w->h.size(0)).copy_(w->h);
      }
    }
    std::vector<at::Tensor> logits;
    if (cpu_) {
      logits = LogitsCpu(*works);
    } else {
      for (Work& w : *works) {
        at::Tensor h = LogitRows(*w.request, w.h);
        h = Norm(h, weights_.final_norm_weight, weights_.final_norm_bias);
        logits.push_back(MixedLinear(h, weights_.lm_head));
      }
    }
    SoftCapLogits(logits);
    return logits;
  } catch (const c10::Error& e) {
    rollback();
    return absl::InternalError(
        absl::StrCat("forward failed: ", e.what_without_backtrace()));
  }
}

void TransformerModel::RunLayerCpu(int64_t layer, std::vector<Work*>& active) {
  std::vector<at::Tensor> parts;
  std::vector<cpu::DecoderRow> rows;
  std::deque<std::vector<int64_t>> tree_extras;
  for (Work* w : active) {
    parts.push_back(w->h);
    SequenceKvCache& cache = *w->sequence->cache;
    const cpu::DecoderRow base{cache.key_data(layer), cache.value_data(layer),
                               cache.shape().capacity * cache_shape_.head_dim, 0};
    for (int64_t i = 0; i < w->h.size(0); ++i) {
      rows.push_back(base);
      rows.back().position = w->start + i;
      if (w->tree_row < 0 || i < w->tree_row) continue;
      // A tree node: position by depth, slot by index, and it sees the
      // prefix plus its own path, within the layer's window.
      const int64_t tree_base = w->start + w->tree_row;
      const std::vector<int64_t>& path = w->tree_paths[i - w->tree_row];
      cpu::DecoderRow& row = rows.back();
      row.position = tree_base + static_cast<int64_t>(path.size()) - 1;
      row.slot = w->start + i;
      const int64_t window = SlidingWindowOf(config_, layer);
      const int64_t lowest = window > 0 ? std::max<int64_t>(0, row.position + 1 - window) : 0;
      row.first_visible = std::min(lowest, tree_base);
      row.prefix_end = tree_base;
      std::vector<int64_t>& extra = tree_extras.emplace_back();
      for (size_t depth = 0; depth < path.size(); ++depth) {
        if (tree_base + static_cast<int64_t>(depth) >= lowest) extra.push_back(tree_base + path[depth]);
      }
    }
  }
  // Point the tree rows at their extra slots (tree_extras no longer grows).
  size_t next = 0;
  for (cpu::DecoderRow& row : rows) {
    if (row.slot >= 0) row.extra_slots = tree_extras[next++];
  }
  at::Tensor x = StackRows(parts);
  cpu_->RunLayer(layer, x.data_ptr<float>(), rows);
  int64_t row = 0;
  for (Work* w : active) {
    const int64_t count = w->h.size(0);
    w->sequence->cache->SetLength(layer, w->start + count);
    w->h = x.narrow(0, row, count);
    row += count;
  }
}

std::vector<at::Tensor> TransformerModel::LogitsCpu(std::vector<Work>& works) {
  // One LM-head product for the logit rows of every sequence.
  std::vector<at::Tensor> parts;
  for (Work& w : works) {
    parts.push_back(LogitRows(*w.request, w.h));
  }
  at::Tensor x = StackRows(parts);
  at::Tensor all = at::empty({x.size(0), config_.vocab_size}, at::kFloat);
  cpu_->Logits(x.data_ptr<float>(), x.size(0), all.data_ptr<float>());
  std::vector<at::Tensor> logits;
  int64_t row = 0;
  for (const at::Tensor& p : parts) {
    logits.push_back(all.narrow(0, row, p.size(0)));
    row += p.size(0);
  }
  return logits;
}

}  // namespace tandem::model
