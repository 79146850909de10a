#include "model/kv_cache.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace tandem::model {

int64_t KvCacheShape::BytesPerToken() const {
  return 2 * num_layers * num_kv_heads * head_dim *
         static_cast<int64_t>(c10::elementSize(dtype));
}

absl::StatusOr<std::unique_ptr<SequenceKvCache>> SequenceKvCache::Create(
    const KvCacheShape& shape) {
  try {
    auto options = at::TensorOptions().dtype(shape.dtype).device(shape.device);
    const std::vector<int64_t> dims = {shape.num_layers, shape.num_kv_heads,
                                       shape.capacity, shape.head_dim};
    at::Tensor keys = at::empty(dims, options);
    at::Tensor values = at::empty(dims, options);
    return std::unique_ptr<SequenceKvCache>(
        new SequenceKvCache(shape, std::move(keys), std::move(values)));
  } catch (const c10::Error& e) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "cannot allocate a KV cache of ", shape.BytesPerToken() * shape.capacity,
        " bytes: ", e.what_without_backtrace()));
  }
}

SequenceKvCache::SequenceKvCache(const KvCacheShape& shape, at::Tensor keys,
                                 at::Tensor values)
    : shape_(shape),
      keys_(std::move(keys)),
      values_(std::move(values)),
      lengths_(shape.num_layers, 0) {}

void SequenceKvCache::Write(int64_t layer, int64_t start, const at::Tensor& k,
                            const at::Tensor& v) {
  const int64_t count = k.size(1);
  if (keys_.device().is_cpu() && k.device().is_cpu() && k.stride(2) == 1 && v.stride(2) == 1 &&
      k.scalar_type() == keys_.scalar_type() && v.scalar_type() == keys_.scalar_type()) {
    // One strided row copy per (head, position): no per-call dispatch.
    const int64_t d = shape_.head_dim, cap = shape_.capacity;
    const size_t bytes = d * keys_.element_size();
    char* kd = static_cast<char*>(keys_.data_ptr());
    char* vd = static_cast<char*>(values_.data_ptr());
    const char* ks = static_cast<const char*>(k.data_ptr());
    const char* vs = static_cast<const char*>(v.data_ptr());
    const int64_t elem = keys_.element_size();
    for (int64_t h = 0; h < shape_.num_kv_heads; ++h) {
      for (int64_t r = 0; r < count; ++r) {
        const int64_t dst = ((layer * shape_.num_kv_heads + h) * cap + start + r) * d * elem;
        std::memcpy(kd + dst, ks + (h * k.stride(0) + r * k.stride(1)) * elem, bytes);
        std::memcpy(vd + dst, vs + (h * v.stride(0) + r * v.stride(1)) * elem, bytes);
      }
    }
    lengths_[layer] = start + count;
    return;
  }
  keys_[layer].narrow(1, start, count).copy_(k);
  values_[layer].narrow(1, start, count).copy_(v);
  lengths_[layer] = start + count;
}

float* SequenceKvCache::key_data(int64_t layer) {
  return keys_.data_ptr<float>() + layer * shape_.num_kv_heads * shape_.capacity * shape_.head_dim;
}

float* SequenceKvCache::value_data(int64_t layer) {
  return values_.data_ptr<float>() +
         layer * shape_.num_kv_heads * shape_.capacity * shape_.head_dim;
}

at::Tensor SequenceKvCache::Keys(int64_t layer, int64_t length) const {
  return keys_[layer].narrow(1, 0, length);
}

at::Tensor SequenceKvCache::Values(int64_t layer, int64_t length) const {
  return values_[layer].narrow(1, 0, length);
}

void SequenceKvCache::Truncate(int64_t first, int64_t last, int64_t length) {
  for (int64_t l = first; l < last; ++l) {
    lengths_[l] = std::min(lengths_[l], length);
  }
}

absl::Status SequenceKvCache::Reserve(int64_t positions) {
  if (positions <= shape_.capacity) return absl::OkStatus();
  KvCacheShape grown = shape_;
  grown.capacity = positions;
  absl::StatusOr<std::unique_ptr<SequenceKvCache>> bigger = Create(grown);
  if (!bigger.ok()) return bigger.status();
  const int64_t used = *std::max_element(lengths_.begin(), lengths_.end());
  if (used > 0) {
    (*bigger)->keys_.narrow(2, 0, used).copy_(keys_.narrow(2, 0, used));
    (*bigger)->values_.narrow(2, 0, used).copy_(values_.narrow(2, 0, used));
  }
  keys_ = std::move((*bigger)->keys_);
  values_ = std::move((*bigger)->values_);
  shape_ = grown;
  return absl::OkStatus();
}

void SequenceKvCache::KeepSlots(int64_t from, const std::vector<int64_t>& slots) {
  const int64_t n = static_cast<int64_t>(slots.size());
  for (int64_t i = 0; i < n; ++i) {
    if (slots[i] == from + i) continue;
    keys_.narrow(2, from + i, 1).copy_(keys_.narrow(2, slots[i], 1));
    values_.narrow(2, from + i, 1).copy_(values_.narrow(2, slots[i], 1));
  }
  std::fill(lengths_.begin(), lengths_.end(), from + n);
}

void SequenceKvCache::CopyPrefixFrom(const SequenceKvCache& other,
                                     int64_t length) {
  keys_.narrow(2, 0, length).copy_(other.keys_.narrow(2, 0, length));
  values_.narrow(2, 0, length).copy_(other.values_.narrow(2, 0, length));
  std::fill(lengths_.begin(), lengths_.end(), length);
}

int64_t SequenceKvCache::bytes() const {
  return shape_.BytesPerToken() * shape_.capacity;
}

}  // namespace tandem::model
