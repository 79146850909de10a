#include "model/formats/raw_checkpoint.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "model/formats/half.h"

namespace tandem::model::formats {

int64_t RawTensor::num_elements() const { return CheckedNumElements(shape); }

std::string ShapeToString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

int64_t CheckedNumElements(const std::vector<int64_t>& shape, int64_t limit) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return -1;
    if (d != 0 && n > limit / d) return -1;
    n *= d;
  }
  return n;
}

absl::StatusOr<std::vector<uint8_t>> Materialize(const RawTensor& tensor) {
  if (tensor.num_elements() < 0) {
    return absl::InvalidArgumentError(absl::StrCat("invalid shape ", ShapeToString(tensor.shape)));
  }
  std::vector<uint8_t> bytes(tensor.nbytes());
  if (!tensor.fill) return absl::InternalError("tensor has no fill function");
  absl::Status status = tensor.fill(bytes.data());
  if (!status.ok()) return status;
  return bytes;
}

absl::StatusOr<std::vector<float>> MaterializeAsFloat(const RawTensor& tensor) {
  absl::StatusOr<std::vector<uint8_t>> bytes = Materialize(tensor);
  if (!bytes.ok()) return bytes.status();
  const size_t n = static_cast<size_t>(tensor.num_elements());
  std::vector<float> out(n);
  if (tensor.dtype == DType::kF32) {
    // memcpy from/to the null data() of empty vectors is undefined, even for 0 bytes.
    if (n > 0) std::memcpy(out.data(), bytes->data(), n * 4);
    return out;
  }
  for (size_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, bytes->data() + 2 * i, 2);
    out[i] = tensor.dtype == DType::kF16 ? HalfToFloat(h) : Bf16ToFloat(h);
  }
  return out;
}

}  // namespace tandem::model::formats
