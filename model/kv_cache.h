#ifndef TANDEM_MODEL_KV_CACHE_H_
#define TANDEM_MODEL_KV_CACHE_H_

#include <cstdint>
#include <memory>
#include <vector>

#include <ATen/ATen.h>

#include "absl/status/statusor.h"

namespace tandem::model {

struct KvCacheShape {
  int64_t num_layers = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t capacity = 0;  // Positions allocated (SequenceKvCache::Reserve grows it).
  at::ScalarType dtype = at::kFloat;
  at::Device device = at::kCPU;

  // 2 x layers x kv_heads x head_dim x sizeof(dtype).
  int64_t BytesPerToken() const;
};

// The keys and values of one sequence, allocated for `capacity` positions in
// every layer and grown by Reserve. Each layer has its own length (early-exit
// passes extend only the first layers), non-increasing with the layer index.
// Append and truncate are O(1) in the cached length; only Reserve moves data.
class SequenceKvCache {
 public:
  // ResourceExhausted if the allocation fails.
  static absl::StatusOr<std::unique_ptr<SequenceKvCache>> Create(
      const KvCacheShape& shape);

  const KvCacheShape& shape() const { return shape_; }
  int64_t length(int64_t layer) const { return lengths_[layer]; }

  // Stores k, v ([kv_heads, T, head_dim]) at positions [start, start + T) of
  // `layer` and sets its length to start + T. Requires start <= length(layer)
  // and start + T <= capacity (checked by the caller).
  void Write(int64_t layer, int64_t start, const at::Tensor& k,
             const at::Tensor& v);

  // Float32 CPU caches only: `layer`'s keys / values, [kv_heads, capacity,
  // head_dim], for kernels that write rows in place; SetLength then records
  // the new length (same preconditions as Write).
  float* key_data(int64_t layer);
  float* value_data(int64_t layer);
  void SetLength(int64_t layer, int64_t length) { lengths_[layer] = length; }

  // Views [kv_heads, length, head_dim] of the first `length` positions.
  at::Tensor Keys(int64_t layer, int64_t length) const;
  at::Tensor Values(int64_t layer, int64_t length) const;

  // Layers [first, last) keep at most `length` positions.
  void Truncate(int64_t first, int64_t last, int64_t length);
  void TruncateAll(int64_t length) { Truncate(0, shape_.num_layers, length); }

  // Every layer: moves slots[i] to position from + i (slots strictly
  // increasing, each >= from and < the layer's length) and sets the length
  // to from + slots.size(). Commits a tree's accepted path.
  void KeepSlots(int64_t from, const std::vector<int64_t>& slots);

  // Copies the first `length` positions of every layer of `other` (same
  // shape) into this cache and sets every layer's length to `length`.
  void CopyPrefixFrom(const SequenceKvCache& other, int64_t length);

  // Allocated bytes (the whole capacity).
  int64_t bytes() const;

  // Grows the capacity to at least `positions` (keeping every cached
  // position); no-op if it is already there. Pointers from key_data /
  // value_data are invalidated when it grows. ResourceExhausted if the
  // allocation fails (the cache is then unchanged).
  absl::Status Reserve(int64_t positions);

 private:
  SequenceKvCache(const KvCacheShape& shape, at::Tensor keys,
                  at::Tensor values);

  KvCacheShape shape_;
  at::Tensor keys_;    // [layers, kv_heads, capacity, head_dim]
  at::Tensor values_;  // [layers, kv_heads, capacity, head_dim]
  std::vector<int64_t> lengths_;
};

}  // namespace tandem::model

#endif  // TANDEM_MODEL_KV_CACHE_H_
