#include "model/cpu/linear.h"

#include <algorithm>

#include <ATen/Parallel.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include "model/cpu/simd.h"

namespace tandem::model::cpu {
namespace {

// Output columns per register block and rows per register tile: 4 x 4
// accumulators, 4 weight vectors and one activation vector fit in the 32
// vector registers. Rows are walked in chunks so a chunk of activations stays
// in L2 while the weights stream past it once per chunk.
constexpr int64_t kBlockN = 4;
constexpr int64_t kTileM = 4;
constexpr int64_t kChunkM = 32;

struct TileArgs {
  const float* x;
  int64_t x_stride;
  const void* w;  // First of the block's rows.
  int64_t k;
  const float* bias;  // Already offset to the block, or null.
  float* y;
  int64_t y_stride;
  bool accumulate;
};

inline void Store(const TileArgs& a, int64_t m, int64_t j, float v) {
  if (a.bias != nullptr) v += a.bias[j];
  float& out = a.y[m * a.y_stride + j];
  out = a.accumulate ? out + v : v;
}

#if TANDEM_HAVE_AVX512_KERNELS
struct F32Load {
  using T = float;
  TANDEM_AVX512 static __m512 Load(const float* p) { return _mm512_loadu_ps(p); }
  TANDEM_AVX512 static __m512 Load(const float* p, __mmask16 m) {
    return _mm512_maskz_loadu_ps(m, p);
  }
};
struct Bf16Load {
  using T = c10::BFloat16;
  TANDEM_AVX512 static __m512 Widen(__m256i v) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(v), 16));
  }
  TANDEM_AVX512 static __m512 Load(const T* p) {
    return Widen(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  TANDEM_AVX512 static __m512 Load(const T* p, __mmask16 m) {
    return Widen(_mm256_maskz_loadu_epi16(m, p));
  }
};
struct F16Load {
  using T = c10::Half;
  TANDEM_AVX512 static __m512 Load(const T* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  TANDEM_AVX512 static __m512 Load(const T* p, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
  }
};

template <class L, int MT, int NB>
TANDEM_AVX512 void Tile(const TileArgs& a) {
  using T = typename L::T;
  const T* w = static_cast<const T*>(a.w);
  __m512 acc[MT][NB];
  for (int m = 0; m < MT; ++m) {
    for (int j = 0; j < NB; ++j) acc[m][j] = _mm512_setzero_ps();
  }
  int64_t k = 0;
  for (; k + 16 <= a.k; k += 16) {
    __m512 wv[NB];
    for (int j = 0; j < NB; ++j) wv[j] = L::Load(w + j * a.k + k);
    for (int m = 0; m < MT; ++m) {
      const __m512 xv = _mm512_loadu_ps(a.x + m * a.x_stride + k);
      for (int j = 0; j < NB; ++j) acc[m][j] = _mm512_fmadd_ps(xv, wv[j], acc[m][j]);
    }
  }
  if (k < a.k) {
    const __mmask16 mask = FirstLanes(a.k - k);
    __m512 wv[NB];
    for (int j = 0; j < NB; ++j) wv[j] = L::Load(w + j * a.k + k, mask);
    for (int m = 0; m < MT; ++m) {
      const __m512 xv = _mm512_maskz_loadu_ps(mask, a.x + m * a.x_stride + k);
      for (int j = 0; j < NB; ++j) acc[m][j] = _mm512_fmadd_ps(xv, wv[j], acc[m][j]);
    }
  }
  for (int m = 0; m < MT; ++m) {
    for (int j = 0; j < NB; ++j) Store(a, m, j, _mm512_reduce_add_ps(acc[m][j]));
  }
}

template <class L, int MT>
TANDEM_AVX512 void TileN(int64_t nb, const TileArgs& a) {
  switch (nb) {
    case 4: return Tile<L, MT, 4>(a);
    case 3: return Tile<L, MT, 3>(a);
    case 2: return Tile<L, MT, 2>(a);
    default: return Tile<L, MT, 1>(a);
  }
}

template <class L>
TANDEM_AVX512 void BlockAvx512(const LinearArgs& a, int64_t n0, int64_t n1) {
  using T = typename L::T;
  const T* w = static_cast<const T*>(a.w.data);
  for (int64_t m0 = 0; m0 < a.rows; m0 += kChunkM) {
    const int64_t m_end = std::min(a.rows, m0 + kChunkM);
    for (int64_t n = n0; n < n1; n += kBlockN) {
      const int64_t nb = std::min(kBlockN, n1 - n);
      for (int64_t m = m0; m < m_end; m += kTileM) {
        const TileArgs t{a.x + m * a.x_stride, a.x_stride, w + n * a.w.in, a.w.in,
                         a.bias == nullptr ? nullptr : a.bias + n,
                         a.y + m * a.y_stride + n, a.y_stride, a.accumulate};
        switch (std::min(kTileM, m_end - m)) {
          case 4: TileN<L, 4>(nb, t); break;
          case 3: TileN<L, 3>(nb, t); break;
          case 2: TileN<L, 2>(nb, t); break;
          default: TileN<L, 1>(nb, t); break;
        }
      }
    }
  }
}
#endif  // TANDEM_HAVE_AVX512_KERNELS

template <typename T>
void BlockPortable(const LinearArgs& a, int64_t n0, int64_t n1) {
  const T* w = static_cast<const T*>(a.w.data);
  for (int64_t m = 0; m < a.rows; ++m) {
    const float* x = a.x + m * a.x_stride;
    const TileArgs t{x, a.x_stride, nullptr, a.w.in, a.bias, a.y + m * a.y_stride, 0,
                     a.accumulate};
    for (int64_t n = n0; n < n1; ++n) {
      const T* wr = w + n * a.w.in;
      float sum = 0.f;
      for (int64_t k = 0; k < a.w.in; ++k) sum += x[k] * static_cast<float>(wr[k]);
      Store(t, 0, n, sum);
    }
  }
}

void Block(const LinearArgs& a, int64_t n0, int64_t n1) {
#if TANDEM_HAVE_AVX512_KERNELS
  if (HasAvx512()) {
    switch (a.w.type) {
      case WeightType::kFloat32: return BlockAvx512<F32Load>(a, n0, n1);
      case WeightType::kBFloat16: return BlockAvx512<Bf16Load>(a, n0, n1);
      case WeightType::kFloat16: return BlockAvx512<F16Load>(a, n0, n1);
    }
  }
#endif
  switch (a.w.type) {
    case WeightType::kFloat32: return BlockPortable<float>(a, n0, n1);
    case WeightType::kBFloat16: return BlockPortable<c10::BFloat16>(a, n0, n1);
    case WeightType::kFloat16: return BlockPortable<c10::Half>(a, n0, n1);
  }
}

}  // namespace

WeightView ViewOf(const at::Tensor& weight) {
  TORCH_CHECK(weight.device().is_cpu() && weight.dim() == 2 && weight.is_contiguous(),
              "cpu::ViewOf needs a contiguous 2-D CPU tensor");
  WeightView v;
  v.data = weight.data_ptr();
  v.out = weight.size(0);
  v.in = weight.size(1);
  switch (weight.scalar_type()) {
    case at::kFloat: v.type = WeightType::kFloat32; break;
    case at::kBFloat16: v.type = WeightType::kBFloat16; break;
    case at::kHalf: v.type = WeightType::kFloat16; break;
    default: TORCH_CHECK(false, "cpu::ViewOf: unsupported dtype ", weight.scalar_type());
  }
  return v;
}

void Linear(const LinearArgs& a) {
  if (a.rows <= 0 || a.w.out <= 0) return;
  const int64_t blocks = (a.w.out + kBlockN - 1) / kBlockN;
  // At least ~64k multiply-adds per thread, so small products stay on one.
  const int64_t per_block = kBlockN * a.w.in * a.rows;
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 16) / std::max<int64_t>(1, per_block));
  at::parallel_for(0, blocks, grain, [&](int64_t b0, int64_t b1) {
    Block(a, b0 * kBlockN, std::min(a.w.out, b1 * kBlockN));
  });
}

}  // namespace tandem::model::cpu
