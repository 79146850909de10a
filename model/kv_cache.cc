#include "model/kv_cache.h"

#include <algorithm>
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
  keys_[layer].narrow(1, start, count).copy_(k);
  values_[layer].narrow(1, start, count).copy_(v);
  lengths_[layer] = start + count;
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
