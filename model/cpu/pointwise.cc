#include "model/cpu/pointwise.h"

#include <cmath>

namespace tandem::model::cpu {

void RmsNorm(ConstRows x, int64_t width, const float* weight, float eps, Rows out) {
  for (int64_t r = 0; r < x.count; ++r) {
    const float* xp = x.data + r * x.stride;
    float* op = out.data + r * out.stride;
    float sum = 0.f;
    for (int64_t i = 0; i < width; ++i) sum += xp[i] * xp[i];
    const float inv = 1.0f / std::sqrt(sum / static_cast<float>(width) + eps);
    for (int64_t i = 0; i < width; ++i) op[i] = weight[i] * (xp[i] * inv);
  }
}

void LayerNorm(ConstRows x, int64_t width, const float* weight, const float* bias, float eps,
               Rows out) {
  for (int64_t r = 0; r < x.count; ++r) {
    const float* xp = x.data + r * x.stride;
    float* op = out.data + r * out.stride;
    float sum = 0.f;
    for (int64_t i = 0; i < width; ++i) sum += xp[i];
    const float mean = sum / static_cast<float>(width);
    float var = 0.f;
    for (int64_t i = 0; i < width; ++i) var += (xp[i] - mean) * (xp[i] - mean);
    const float inv = 1.0f / std::sqrt(var / static_cast<float>(width) + eps);
    for (int64_t i = 0; i < width; ++i) op[i] = (xp[i] - mean) * inv * weight[i] + bias[i];
  }
}

void Rope(float* x, int64_t heads, int64_t head_dim, const float* cos, const float* sin) {
  const int64_t half = head_dim / 2;
  for (int64_t h = 0; h < heads; ++h) {
    float* a = x + h * head_dim;
    float* b = a + half;
    for (int64_t i = 0; i < half; ++i) {
      const float lo = a[i], hi = b[i];
      a[i] = lo * cos[i] - hi * sin[i];
      b[i] = hi * cos[i] + lo * sin[i];
    }
  }
}

void SiluMul(ConstRows gate_up, int64_t inner, Rows out) {
  for (int64_t r = 0; r < gate_up.count; ++r) {
    const float* g = gate_up.data + r * gate_up.stride;
    const float* u = g + inner;
    float* o = out.data + r * out.stride;
    for (int64_t i = 0; i < inner; ++i) o[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
  }
}

namespace {

inline float Gelu(float v) {
  constexpr float kSqrt2OverPi = 0.7978845608028654f;
  return 0.5f * v * (1.0f + std::tanh(kSqrt2OverPi * (v + 0.044715f * v * v * v)));
}

}  // namespace

void GeluTanh(Rows x, int64_t width) {
  for (int64_t r = 0; r < x.count; ++r) {
    float* p = x.data + r * x.stride;
    for (int64_t i = 0; i < width; ++i) p[i] = Gelu(p[i]);
  }
}

void GeluTanhMul(ConstRows gate_up, int64_t inner, Rows out) {
  for (int64_t r = 0; r < gate_up.count; ++r) {
    const float* g = gate_up.data + r * gate_up.stride;
    const float* u = g + inner;
    float* o = out.data + r * out.stride;
    for (int64_t i = 0; i < inner; ++i) o[i] = Gelu(g[i]) * u[i];
  }
}

void AddRows(Rows x, ConstRows y, int64_t width) {
  for (int64_t r = 0; r < x.count; ++r) {
    float* xp = x.data + r * x.stride;
    const float* yp = y.data + r * y.stride;
    for (int64_t i = 0; i < width; ++i) xp[i] += yp[i];
  }
}

}  // namespace tandem::model::cpu
