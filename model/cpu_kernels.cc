#include "model/cpu_kernels.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

namespace tandem::model::cpu {
namespace {

// Rounds a float to T and back (what storing into a T tensor does).
template <typename T>
inline float Round(float x) {
  return static_cast<float>(static_cast<T>(x));
}

template <typename T>
at::Tensor RmsNormImpl(const at::Tensor& x, const at::Tensor& weight, double eps) {
  const int64_t rows = x.size(0), h = x.size(1);
  at::Tensor out = at::empty({rows, h}, x.options());
  at::Tensor w = weight.contiguous();
  const T* wp = w.data_ptr<T>();
  for (int64_t r = 0; r < rows; ++r) {
    const T* xp = x.data_ptr<T>() + r * x.stride(0);
    T* op = out.data_ptr<T>() + r * h;
    float sum = 0.f;
    for (int64_t i = 0; i < h; ++i) {
      const float v = static_cast<float>(xp[i]);
      sum += v * v;
    }
    const float inv = 1.0f / std::sqrt(sum / static_cast<float>(h) + static_cast<float>(eps));
    for (int64_t i = 0; i < h; ++i) {
      const float normed = Round<T>(static_cast<float>(xp[i]) * inv);
      op[i] = static_cast<T>(static_cast<float>(wp[i]) * normed);
    }
  }
  return out;
}

template <typename T>
at::Tensor RopeImpl(const at::Tensor& x, const at::Tensor& x_rot, const at::Tensor& cos,
                    const at::Tensor& sin) {
  const int64_t rows = x.size(0), heads = x.size(1), d = x.size(2);
  at::Tensor out = at::empty({rows, heads, d}, x.options());
  for (int64_t r = 0; r < rows; ++r) {
    const T* c = cos.data_ptr<T>() + r * d;
    const T* s = sin.data_ptr<T>() + r * d;
    for (int64_t hh = 0; hh < heads; ++hh) {
      const T* a = x.data_ptr<T>() + r * x.stride(0) + hh * x.stride(1);
      const T* b = x_rot.data_ptr<T>() + r * x_rot.stride(0) + hh * x_rot.stride(1);
      T* o = out.data_ptr<T>() + (r * heads + hh) * d;
      for (int64_t i = 0; i < d; ++i) {
        const float t1 = Round<T>(static_cast<float>(a[i]) * static_cast<float>(c[i]));
        const float t2 = Round<T>(static_cast<float>(b[i]) * static_cast<float>(s[i]));
        o[i] = static_cast<T>(t1 + t2);
      }
    }
  }
  return out;
}

template <typename T>
at::Tensor SiluMulImpl(const at::Tensor& gate_up) {
  const int64_t rows = gate_up.size(0), inner = gate_up.size(1) / 2;
  at::Tensor out = at::empty({rows, inner}, gate_up.options());
  for (int64_t r = 0; r < rows; ++r) {
    const T* g = gate_up.data_ptr<T>() + r * 2 * inner;
    const T* u = g + inner;
    T* o = out.data_ptr<T>() + r * inner;
    for (int64_t i = 0; i < inner; ++i) {
      const float x = static_cast<float>(g[i]);
      const float silu = Round<T>(x / (1.0f + std::exp(-x)));
      o[i] = static_cast<T>(silu * static_cast<float>(u[i]));
    }
  }
  return out;
}

template <typename T>
at::Tensor AttentionImpl(const at::Tensor& q, const at::Tensor& keys, const at::Tensor& values,
                         int64_t start, double scale) {
  const int64_t rows = q.size(0), heads = q.size(1), d = q.size(2);
  const int64_t kv_heads = keys.size(0), group = heads / kv_heads;
  at::Tensor out = at::empty({rows, heads * d}, q.options());
  std::vector<float> scores(start + rows), acc(d);
  const float fscale = static_cast<float>(scale);
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t visible = start + r + 1;
    for (int64_t h = 0; h < heads; ++h) {
      const int64_t kh = h / group;
      const T* qp = q.data_ptr<T>() + r * q.stride(0) + h * q.stride(1);
      const T* kp = keys.data_ptr<T>() + kh * keys.stride(0);
      const T* vp = values.data_ptr<T>() + kh * values.stride(0);
      float max_score = -INFINITY;
      for (int64_t j = 0; j < visible; ++j) {
        const T* kj = kp + j * keys.stride(1);
        float dot = 0.f;
        for (int64_t i = 0; i < d; ++i) dot += static_cast<float>(qp[i]) * static_cast<float>(kj[i]);
        scores[j] = Round<T>(dot) * fscale;
        max_score = std::max(max_score, scores[j]);
      }
      float total = 0.f;
      for (int64_t j = 0; j < visible; ++j) {
        scores[j] = std::exp(scores[j] - max_score);
        total += scores[j];
      }
      std::fill(acc.begin(), acc.end(), 0.f);
      for (int64_t j = 0; j < visible; ++j) {
        const float p = Round<T>(scores[j] / total);
        const T* vj = vp + j * values.stride(1);
        for (int64_t i = 0; i < d; ++i) acc[i] += p * static_cast<float>(vj[i]);
      }
      T* o = out.data_ptr<T>() + r * heads * d + h * d;
      for (int64_t i = 0; i < d; ++i) o[i] = static_cast<T>(acc[i]);
    }
  }
  return out;
}

template <template <typename> class F, typename... Args>
at::Tensor Dispatch(at::ScalarType type, Args&&... args) {
  switch (type) {
    case at::kFloat: return F<float>::Run(std::forward<Args>(args)...);
    case at::kBFloat16: return F<c10::BFloat16>::Run(std::forward<Args>(args)...);
    default: return F<c10::Half>::Run(std::forward<Args>(args)...);
  }
}

template <typename T> struct RmsNormOp {
  static at::Tensor Run(const at::Tensor& x, const at::Tensor& w, double eps) {
    return RmsNormImpl<T>(x, w, eps);
  }
};
template <typename T> struct RopeOp {
  static at::Tensor Run(const at::Tensor& x, const at::Tensor& xr, const at::Tensor& c,
                        const at::Tensor& s) {
    return RopeImpl<T>(x, xr, c, s);
  }
};
template <typename T> struct SiluMulOp {
  static at::Tensor Run(const at::Tensor& gu) { return SiluMulImpl<T>(gu); }
};
template <typename T> struct AttentionOp {
  static at::Tensor Run(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                        int64_t start, double scale) {
    return AttentionImpl<T>(q, k, v, start, scale);
  }
};

}  // namespace

bool Supported(const at::Tensor& t) {
  return t.device().is_cpu() && (t.scalar_type() == at::kFloat ||
                                 t.scalar_type() == at::kBFloat16 ||
                                 t.scalar_type() == at::kHalf);
}

at::Tensor RmsNorm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  at::Tensor xc = x.stride(1) == 1 ? x : x.contiguous();
  return Dispatch<RmsNormOp>(x.scalar_type(), xc, weight, eps);
}

at::Tensor Rope(const at::Tensor& x, const at::Tensor& x_rot, const at::Tensor& cos,
                const at::Tensor& sin) {
  return Dispatch<RopeOp>(x.scalar_type(), x, x_rot, cos.contiguous(), sin.contiguous());
}

at::Tensor SiluMul(const at::Tensor& gate_up) {
  return Dispatch<SiluMulOp>(gate_up.scalar_type(), gate_up.contiguous());
}

at::Tensor Attention(const at::Tensor& q, const at::Tensor& keys, const at::Tensor& values,
                     int64_t start, double scale) {
  return Dispatch<AttentionOp>(q.scalar_type(), q, keys, values, start, scale);
}

}  // namespace tandem::model::cpu
