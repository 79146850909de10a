#ifndef TANDEM_MODEL_FORMATS_RAW_CHECKPOINT_H_
#define TANDEM_MODEL_FORMATS_RAW_CHECKPOINT_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/formats/dtype.h"
#include "model/model_config.h"

namespace tandem::model::formats {

// A tensor described by the file it comes from, not yet copied: `fill` writes
// its num_elements() * DTypeSize(dtype) bytes (row-major, Hugging Face layout)
// to `dst`, dequantizing or permuting on the way. `fill` keeps the file
// mapping alive and may be called from any thread, any number of times.
struct RawTensor {
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  std::function<absl::Status(uint8_t* dst)> fill;

  int64_t num_elements() const;
  size_t nbytes() const { return static_cast<size_t>(num_elements()) * DTypeSize(dtype); }
};

// The torch-free form of model::Checkpoint (same names, shapes and layouts).
struct RawCheckpoint {
  ModelConfig config;
  std::map<std::string, RawTensor> tensors;
};

// "[4, 64]".
std::string ShapeToString(const std::vector<int64_t>& shape);

// Product of dims, or -1 when a dim is negative or the product overflows
// int64 / exceeds `limit`.
int64_t CheckedNumElements(const std::vector<int64_t>& shape, int64_t limit = INT64_MAX);

// Runs `fill` into a new buffer (tests, tools).
absl::StatusOr<std::vector<uint8_t>> Materialize(const RawTensor& tensor);

// Materializes and converts to float32 whatever the dtype.
absl::StatusOr<std::vector<float>> MaterializeAsFloat(const RawTensor& tensor);

}  // namespace tandem::model::formats

#endif  // TANDEM_MODEL_FORMATS_RAW_CHECKPOINT_H_
