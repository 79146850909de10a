#include "model/formats/gguf_quantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "model/formats/half.h"

namespace tandem::model::formats {
namespace {

constexpr int kQK = 32;

void PutHalf(float v, uint8_t* p) {
  const uint16_t h = FloatToHalf(v);
  std::memcpy(p, &h, 2);
}

// d = max|x| / 127, q = round(x / d).
void QuantQ8_0(const float* x, uint8_t* b) {
  float amax = 0;
  for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / 127.0f;
  const float id = d != 0 ? 1.0f / d : 0.0f;
  PutHalf(d, b);
  for (int j = 0; j < kQK; ++j) b[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(std::lround(x[j] * id)));
}

// d = (value of largest magnitude) / -8, q = min(15, trunc(x / d + 8.5)).
void QuantQ4_0(const float* x, uint8_t* b) {
  float amax = 0, max = 0;
  for (int j = 0; j < kQK; ++j) {
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  const float d = max / -8.0f;
  const float id = d != 0 ? 1.0f / d : 0.0f;
  PutHalf(d, b);
  for (int j = 0; j < kQK / 2; ++j) {
    const int q0 = std::min(15, static_cast<int>(x[j] * id + 8.5f));
    const int q1 = std::min(15, static_cast<int>(x[j + kQK / 2] * id + 8.5f));
    b[2 + j] = static_cast<uint8_t>(q0 | (q1 << 4));
  }
}

// d = (max - min) / 15, m = min, q = min(15, trunc((x - min) / d + 0.5)).
void QuantQ4_1(const float* x, uint8_t* b) {
  float mn = x[0], mx = x[0];
  for (int j = 1; j < kQK; ++j) {
    mn = std::min(mn, x[j]);
    mx = std::max(mx, x[j]);
  }
  const float d = (mx - mn) / 15.0f;
  const float id = d != 0 ? 1.0f / d : 0.0f;
  PutHalf(d, b);
  PutHalf(mn, b + 2);
  for (int j = 0; j < kQK / 2; ++j) {
    const int q0 = std::min(15, static_cast<int>((x[j] - mn) * id + 0.5f));
    const int q1 = std::min(15, static_cast<int>((x[j + kQK / 2] - mn) * id + 0.5f));
    b[4 + j] = static_cast<uint8_t>(q0 | (q1 << 4));
  }
}

}  // namespace

absl::StatusOr<std::vector<uint8_t>> EncodeGgml(GgmlType type, const float* x, int64_t n) {
  const GgmlTypeTraits* traits = FindGgmlType(static_cast<uint32_t>(type));
  void (*block_fn)(const float*, uint8_t*) = nullptr;
  switch (type) {
    case GgmlType::kQ8_0: block_fn = QuantQ8_0; break;
    case GgmlType::kQ4_0: block_fn = QuantQ4_0; break;
    case GgmlType::kQ4_1: block_fn = QuantQ4_1; break;
    case GgmlType::kF32: case GgmlType::kF16: case GgmlType::kBF16: break;
    default:
      return absl::UnimplementedError(
          absl::StrCat("cannot encode ggml type ", GgmlTypeName(static_cast<uint32_t>(type))));
  }
  if (n < 0 || n % traits->block_size != 0) {
    return absl::InvalidArgumentError(absl::StrCat(n, " elements is not a multiple of the ",
                                                   traits->name, " block size ",
                                                   traits->block_size));
  }
  std::vector<uint8_t> out(static_cast<size_t>(n / traits->block_size * traits->type_size));
  if (type == GgmlType::kF32) {
    if (n > 0) std::memcpy(out.data(), x, out.size());
  } else if (type == GgmlType::kF16 || type == GgmlType::kBF16) {
    for (int64_t i = 0; i < n; ++i) {
      const uint16_t h = type == GgmlType::kF16 ? FloatToHalf(x[i]) : FloatToBf16(x[i]);
      std::memcpy(out.data() + 2 * i, &h, 2);
    }
  } else {
    for (int64_t i = 0; i < n / traits->block_size; ++i) {
      block_fn(x + i * traits->block_size, out.data() + i * traits->type_size);
    }
  }
  return out;
}

}  // namespace tandem::model::formats
