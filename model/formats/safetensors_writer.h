#ifndef TANDEM_MODEL_FORMATS_SAFETENSORS_WRITER_H_
#define TANDEM_MODEL_FORMATS_SAFETENSORS_WRITER_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "model/formats/dtype.h"

namespace tandem::model::formats {

struct SafetensorsEntry {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;  // Row-major, little-endian, elements * DTypeSize(dtype) bytes.
};

// Encodes float32 values as `dtype` (round to nearest even for F16/BF16).
std::vector<uint8_t> EncodeFloats(const std::vector<float>& values, DType dtype);

// One .safetensors file; tensors in the given order, header padded with
// spaces to a multiple of 8 bytes as Hugging Face's writer does.
// InvalidArgument when a tensor's byte count does not match its shape.
absl::Status WriteSafetensors(const std::string& path, const std::vector<SafetensorsEntry>& tensors,
                              const std::map<std::string, std::string>& metadata = {});

// `num_shards` files dir/model-0000i-of-0000N.safetensors (tensors split in
// order, balanced by bytes) and dir/model.safetensors.index.json.
absl::Status WriteShardedSafetensors(const std::string& dir,
                                     const std::vector<SafetensorsEntry>& tensors, int num_shards);

}  // namespace tandem::model::formats

#endif  // TANDEM_MODEL_FORMATS_SAFETENSORS_WRITER_H_
