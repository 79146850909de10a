#include "model/cpu/linear.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>

#include <ATen/Parallel.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include "model/cpu/simd.h"

namespace tandem::model::cpu {
namespace {

// Output rows per packed block and rows of x per register tile: 6 x 4
// accumulators, 4 weight vectors and one activation vector fit in the 32
// vector registers (more rows per weight load: k-row verify is FMA-bound). Rows of x are walked in chunks so a chunk stays in L2
// while the weights stream past it once per chunk.
constexpr int64_t kBlockN = 4;
constexpr int64_t kLanes = 16;
constexpr int64_t kTileM = 6;
constexpr int64_t kChunkM = 36;
// How far ahead weights are prefetched: several DRAM latencies' worth of a
// multi-row tile's streaming (measured with bench/model:linear_bench).
constexpr int64_t kPrefetchBytes = 4096;

// Values of one row in a packed group: 16 (float32, float16), or 32 for
// bfloat16, stored as 16 32-bit words each holding the pair (k, k + 16): one
// 64-byte line per row, widened by a shift and a mask (no shuffles).
int64_t GroupLanes(WeightType t) { return t == WeightType::kBFloat16 ? 2 * kLanes : kLanes; }
int64_t Groups(const PackedWeight& w) {
  const int64_t g = GroupLanes(w.type);
  return (w.in + g - 1) / g;
}

struct TileArgs {
  const float* x;
  int64_t x_stride;
  int64_t k;
  const void* w;      // The block's packed values.
  int64_t valid;      // Output rows of the block that exist (<= kBlockN).
  const float* bias;  // Offset to the block, or null.
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
};
struct F16Load {
  using T = c10::Half;
  TANDEM_AVX512 static __m512 Load(const T* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
};

template <class L, int MT>
TANDEM_AVX512 void Tile(const TileArgs& a);
template <int MT>
TANDEM_AVX512 void TileBf16Pairs(const TileArgs& a);

// Kernel selectors: Run<MT> computes one MT-row tile of a block.
template <class L>
struct Chunked {
  using T = typename L::T;
  template <int MT>
  TANDEM_AVX512 static void Run(const TileArgs& a) { Tile<L, MT>(a); }
};
struct Bf16Pairs {
  using T = uint16_t;
  template <int MT>
  TANDEM_AVX512 static void Run(const TileArgs& a) { TileBf16Pairs<MT>(a); }
};

template <class L, int MT>
TANDEM_AVX512 void Tile(const TileArgs& a) {
  using T = typename L::T;
  const T* w = static_cast<const T*>(a.w);
  __m512 acc[MT][kBlockN];
  for (int m = 0; m < MT; ++m) {
    for (int j = 0; j < kBlockN; ++j) acc[m][j] = _mm512_setzero_ps();
  }
  const int64_t full = a.k / kLanes;
  for (int64_t c = 0; c < full; ++c, w += kBlockN * kLanes) {
    // Next chunks' cache lines (a chunk is 128 or 256 bytes), ahead of the
    // hardware prefetcher, so multi-row tiles overlap streaming with FMAs.
    const char* ahead = reinterpret_cast<const char*>(w) + kPrefetchBytes;
    for (size_t line = 0; line < kBlockN * kLanes * sizeof(T); line += 64) {
      _mm_prefetch(ahead + line, _MM_HINT_T0);
    }
    __m512 wv[kBlockN];
    for (int j = 0; j < kBlockN; ++j) wv[j] = L::Load(w + j * kLanes);
    for (int m = 0; m < MT; ++m) {
      const __m512 xv = _mm512_loadu_ps(a.x + m * a.x_stride + c * kLanes);
      for (int j = 0; j < kBlockN; ++j) acc[m][j] = _mm512_fmadd_ps(xv, wv[j], acc[m][j]);
    }
  }
  if (full * kLanes < a.k) {  // Zero-padded weights; x masked.
    const __mmask16 mask = FirstLanes(a.k - full * kLanes);
    __m512 wv[kBlockN];
    for (int j = 0; j < kBlockN; ++j) wv[j] = L::Load(w + j * kLanes);
    for (int m = 0; m < MT; ++m) {
      const __m512 xv = _mm512_maskz_loadu_ps(mask, a.x + m * a.x_stride + full * kLanes);
      for (int j = 0; j < kBlockN; ++j) acc[m][j] = _mm512_fmadd_ps(xv, wv[j], acc[m][j]);
    }
  }
  for (int m = 0; m < MT; ++m) {
    for (int j = 0; j < a.valid; ++j) Store(a, m, j, _mm512_reduce_add_ps(acc[m][j]));
  }
}

// Bf16 pair groups: word l of row j holds values k = 32g + l (low half) and
// 32g + 16 + l (high half). The low halves are FMA'd first, then the high
// halves, so every accumulator sees the same chunk order as float32.
constexpr int64_t kBf16Group = 2 * kLanes;

// One half (low: k..k+15, high: k+16..k+31) of a bf16 pair group into the
// MT x 4 accumulators.
template <int MT, bool kHigh, bool kMasked>
TANDEM_AVX512 __attribute__((always_inline)) inline void Bf16Half(
    __m512 (&acc)[MT][kBlockN], const TileArgs& a, const uint16_t* wg, int64_t k,
    __mmask16 mask) {
  const __m512i high_mask = _mm512_set1_epi32(static_cast<int>(0xFFFF0000u));
  __m512 wv[kBlockN];
  for (int j = 0; j < kBlockN; ++j) {
    const __m512i v = _mm512_loadu_si512(wg + j * kBf16Group);
    wv[j] = _mm512_castsi512_ps(kHigh ? _mm512_and_si512(v, high_mask) : _mm512_slli_epi32(v, 16));
  }
  for (int m = 0; m < MT; ++m) {
    const float* xp = a.x + m * a.x_stride + k;
    const __m512 xv = kMasked ? _mm512_maskz_loadu_ps(mask, xp) : _mm512_loadu_ps(xp);
    for (int j = 0; j < kBlockN; ++j) acc[m][j] = _mm512_fmadd_ps(xv, wv[j], acc[m][j]);
  }
}

// Bf16 pair groups: word l of row j holds values k = 32g + l (low half) and
// 32g + 16 + l (high half). The low halves are FMA'd first, then the high
// halves, so every accumulator sees the same chunk order as float32.
template <int MT>
TANDEM_AVX512 void TileBf16Pairs(const TileArgs& a) {
  const uint16_t* wg = static_cast<const uint16_t*>(a.w);
  __m512 acc[MT][kBlockN];
  for (int m = 0; m < MT; ++m) {
    for (int j = 0; j < kBlockN; ++j) acc[m][j] = _mm512_setzero_ps();
  }
  const int64_t full = a.k / kBf16Group;
  for (int64_t g = 0; g < full; ++g, wg += kBlockN * kBf16Group) {
    const char* ahead = reinterpret_cast<const char*>(wg) + kPrefetchBytes;
    for (size_t line = 0; line < kBlockN * kBf16Group * sizeof(uint16_t); line += 64) {
      _mm_prefetch(ahead + line, _MM_HINT_T0);
    }
    Bf16Half<MT, false, false>(acc, a, wg, g * kBf16Group, 0xFFFF);
    Bf16Half<MT, true, false>(acc, a, wg, g * kBf16Group + kLanes, 0xFFFF);
  }
  const int64_t rest = a.k - full * kBf16Group;  // 0..31; weights zero-padded.
  if (rest > 0) {
    Bf16Half<MT, false, true>(acc, a, wg, full * kBf16Group,
                              rest >= kLanes ? static_cast<__mmask16>(0xFFFF)
                                             : FirstLanes(rest));
  }
  if (rest > kLanes) {
    Bf16Half<MT, true, true>(acc, a, wg, full * kBf16Group + kLanes, FirstLanes(rest - kLanes));
  }
  for (int m = 0; m < MT; ++m) {
    for (int j = 0; j < a.valid; ++j) Store(a, m, j, _mm512_reduce_add_ps(acc[m][j]));
  }
}

template <class L>
TANDEM_AVX512 void BlocksAvx512(const LinearArgs& a, int64_t b0, int64_t b1) {
  using T = typename L::T;
  const PackedWeight& pw = *a.w;
  const T* w = static_cast<const T*>(pw.data.data_ptr());
  const int64_t block_size = kBlockN * Groups(pw) * GroupLanes(pw.type);
  for (int64_t m0 = 0; m0 < a.rows; m0 += kChunkM) {
    const int64_t m_end = std::min(a.rows, m0 + kChunkM);
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t n = b * kBlockN;
      for (int64_t m = m0; m < m_end; m += kTileM) {
        const TileArgs t{a.x + m * a.x_stride, a.x_stride, pw.in, w + b * block_size,
                         std::min(kBlockN, pw.out - n),
                         a.bias == nullptr ? nullptr : a.bias + n,
                         a.y + m * a.y_stride + n, a.y_stride, a.accumulate};
        switch (std::min(kTileM, m_end - m)) {
          case 6: L::template Run<6>(t); break;
          case 5: L::template Run<5>(t); break;
          case 4: L::template Run<4>(t); break;
          case 3: L::template Run<3>(t); break;
          case 2: L::template Run<2>(t); break;
          default: L::template Run<1>(t); break;
        }
      }
    }
  }
}
#endif  // TANDEM_HAVE_AVX512_KERNELS

// Index of weight (row j of block b, column k) in the packed layout.
inline int64_t PackedIndex(const PackedWeight& pw, int64_t b, int64_t j, int64_t k) {
  const int64_t lanes = GroupLanes(pw.type), g = k / lanes, r = k % lanes;
  const int64_t row_base = ((b * Groups(pw) + g) * kBlockN + j) * lanes;
  if (lanes == kLanes) return row_base + r;
  return row_base + (r % kLanes) * 2 + r / kLanes;  // bf16 pairs
}

template <typename T>
void BlocksPortable(const LinearArgs& a, int64_t b0, int64_t b1) {
  const PackedWeight& pw = *a.w;
  const T* w = static_cast<const T*>(pw.data.data_ptr());
  for (int64_t m = 0; m < a.rows; ++m) {
    const float* x = a.x + m * a.x_stride;
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t n = b * kBlockN;
      const TileArgs t{x, 0, pw.in, nullptr, 0, a.bias == nullptr ? nullptr : a.bias + n,
                       a.y + m * a.y_stride + n, 0, a.accumulate};
      for (int64_t j = 0; j < std::min(kBlockN, pw.out - n); ++j) {
        float sum = 0.f;
        for (int64_t k = 0; k < pw.in; ++k) {
          sum += x[k] * static_cast<float>(w[PackedIndex(pw, b, j, k)]);
        }
        Store(t, 0, j, sum);
      }
    }
  }
}

void Blocks(const LinearArgs& a, int64_t b0, int64_t b1) {
#if TANDEM_HAVE_AVX512_KERNELS
  if (HasAvx512()) {
    switch (a.w->type) {
      case WeightType::kFloat32: return BlocksAvx512<Chunked<F32Load>>(a, b0, b1);
      case WeightType::kBFloat16: return BlocksAvx512<Bf16Pairs>(a, b0, b1);
      case WeightType::kFloat16: return BlocksAvx512<Chunked<F16Load>>(a, b0, b1);
    }
  }
#endif
  switch (a.w->type) {
    case WeightType::kFloat32: return BlocksPortable<float>(a, b0, b1);
    case WeightType::kBFloat16: return BlocksPortable<c10::BFloat16>(a, b0, b1);
    case WeightType::kFloat16: return BlocksPortable<c10::Half>(a, b0, b1);
  }
}

}  // namespace

PackedWeight Pack(const at::Tensor& weight) {
  TORCH_CHECK(weight.device().is_cpu() && weight.dim() == 2,
              "cpu::Pack needs a 2-D CPU tensor, got ", weight.sizes());
  PackedWeight p;
  switch (weight.scalar_type()) {
    case at::kFloat: p.type = WeightType::kFloat32; break;
    case at::kBFloat16: p.type = WeightType::kBFloat16; break;
    case at::kHalf: p.type = WeightType::kFloat16; break;
    default: TORCH_CHECK(false, "cpu::Pack: unsupported dtype ", weight.scalar_type());
  }
  p.out = weight.size(0);
  p.in = weight.size(1);
  const int64_t blocks = (p.out + kBlockN - 1) / kBlockN, groups = Groups(p);
  const int64_t lanes = GroupLanes(p.type);
  at::Tensor padded = at::zeros({blocks * kBlockN, groups * lanes}, weight.options());
  padded.narrow(0, 0, p.out).narrow(1, 0, p.in).copy_(weight);
  if (lanes == kLanes) {
    // [blocks, 4, groups, 16] -> [blocks, groups, 4, 16]
    p.data = padded.view({blocks, kBlockN, groups, kLanes}).permute({0, 2, 1, 3});
  } else {
    // [blocks, 4, groups, 2, 16] -> [blocks, groups, 4, 16, 2]: (k, k + 16) pairs.
    p.data = padded.view({blocks, kBlockN, groups, 2, kLanes}).permute({0, 2, 1, 4, 3});
  }
  p.data = p.data.contiguous().view(-1);
  return p;
}

void MoveToHugePages(absl::Span<PackedWeight* const> weights) {
  constexpr size_t kHuge = size_t{2} << 20, kAlign = 64;
  size_t total = 0;
  for (const PackedWeight* w : weights) {
    total += (w->data.numel() * w->data.element_size() + kAlign - 1) / kAlign * kAlign;
  }
  void* base = nullptr;
  if (total == 0 || posix_memalign(&base, kHuge, total) != 0) return;
  madvise(base, (total + kHuge - 1) / kHuge * kHuge, MADV_HUGEPAGE);  // Advisory.
  std::shared_ptr<void> arena(base, [](void* p) { std::free(p); });
  size_t offset = 0;
  for (PackedWeight* w : weights) {
    const size_t bytes = w->data.numel() * w->data.element_size();
    char* at = static_cast<char*>(base) + offset;
    std::memcpy(at, w->data.data_ptr(), bytes);
    w->data = at::from_blob(at, {w->data.numel()}, [arena](void*) {}, w->data.options());
    offset += (bytes + kAlign - 1) / kAlign * kAlign;
  }
}

void Linear(const LinearArgs& a) {
  if (a.rows <= 0 || a.w->out <= 0) return;
  const int64_t blocks = (a.w->out + kBlockN - 1) / kBlockN;
  // At least ~64k multiply-adds per thread, so small products stay on one.
  const int64_t per_block = kBlockN * a.w->in * a.rows;
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 16) / std::max<int64_t>(1, per_block));
  at::parallel_for(0, blocks, grain, [&](int64_t b0, int64_t b1) { Blocks(a, b0, b1); });
}

}  // namespace tandem::model::cpu
