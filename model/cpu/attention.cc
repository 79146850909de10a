#include "model/cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <ATen/Parallel.h>

#include "model/cpu/simd.h"

namespace tandem::model::cpu {
namespace {

struct HeadTask {
  const float* q;      // [head_dim]
  const float* keys;   // [visible, head_dim] of this KV head
  const float* values;
  int64_t visible;
  const int64_t* extra;  // Further positions after [0, visible).
  int64_t num_extra;
  int64_t d;
  float scale;
  float softcap;       // 0: none.
  float* out;          // [head_dim]
};

// The cache position of the task's j-th attended key.
inline int64_t Slot(const HeadTask& t, int64_t j) {
  return j < t.visible ? j : t.extra[j - t.visible];
}

void SoftCap(float cap, float* scores, int64_t n) {
  if (cap <= 0.f) return;
  const float inv = 1.0f / cap;
  for (int64_t j = 0; j < n; ++j) scores[j] = cap * std::tanh(scores[j] * inv);
}

#if TANDEM_HAVE_AVX512_KERNELS
TANDEM_AVX512 float Dot(const float* a, const float* b, int64_t d) {
  __m512 acc = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= d; i += 16) {
    acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc);
  }
  if (i < d) {
    const __mmask16 m = FirstLanes(d - i);
    acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), acc);
  }
  return _mm512_reduce_add_ps(acc);
}

TANDEM_AVX512 void HeadAvx512(const HeadTask& t, float* scores) {
  const int64_t n = t.visible + t.num_extra, d = t.d;
  for (int64_t j = 0; j < n; ++j) scores[j] = Dot(t.q, t.keys + Slot(t, j) * d, d) * t.scale;
  SoftCap(t.softcap, scores, n);
  __m512 mx = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) mx = _mm512_max_ps(mx, _mm512_loadu_ps(scores + j));
  if (j < n) mx = _mm512_mask_max_ps(mx, FirstLanes(n - j), mx, _mm512_loadu_ps(scores + j));
  const __m512 max = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
  __m512 sum = _mm512_setzero_ps();
  for (j = 0; j + 16 <= n; j += 16) {
    const __m512 e = Exp16(_mm512_sub_ps(_mm512_loadu_ps(scores + j), max));
    _mm512_storeu_ps(scores + j, e);
    sum = _mm512_add_ps(sum, e);
  }
  if (j < n) {
    const __mmask16 m = FirstLanes(n - j);
    const __m512 e = Exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, scores + j), max));
    _mm512_mask_storeu_ps(scores + j, m, e);
    sum = _mm512_mask_add_ps(sum, m, sum, e);
  }
  const __m512 total = _mm512_set1_ps(_mm512_reduce_add_ps(sum));
  for (int64_t c = 0; c < d; c += 16) {
    const __mmask16 m = c + 16 <= d ? static_cast<__mmask16>(0xFFFF) : FirstLanes(d - c);
    __m512 acc = _mm512_setzero_ps();
    for (int64_t p = 0; p < n; ++p) {
      acc = _mm512_fmadd_ps(_mm512_set1_ps(scores[p]),
                            _mm512_maskz_loadu_ps(m, t.values + Slot(t, p) * d + c), acc);
    }
    _mm512_mask_storeu_ps(t.out + c, m, _mm512_div_ps(acc, total));
  }
}
#endif

void HeadPortable(const HeadTask& t, float* scores) {
  const int64_t n = t.visible + t.num_extra, d = t.d;
  float max = -std::numeric_limits<float>::infinity();
  for (int64_t j = 0; j < n; ++j) {
    const float* k = t.keys + Slot(t, j) * d;
    float dot = 0.f;
    for (int64_t i = 0; i < d; ++i) dot += t.q[i] * k[i];
    scores[j] = dot * t.scale;
  }
  SoftCap(t.softcap, scores, n);
  for (int64_t j = 0; j < n; ++j) max = std::max(max, scores[j]);
  float total = 0.f;
  for (int64_t j = 0; j < n; ++j) {
    scores[j] = std::exp(scores[j] - max);
    total += scores[j];
  }
  std::fill(t.out, t.out + d, 0.f);
  for (int64_t j = 0; j < n; ++j) {
    const float* v = t.values + Slot(t, j) * d;
    for (int64_t i = 0; i < d; ++i) t.out[i] += scores[j] * v[i];
  }
  for (int64_t i = 0; i < d; ++i) t.out[i] /= total;
}

}  // namespace

void Attention(const AttentionShape& s, const float* q, int64_t q_stride,
               absl::Span<const AttentionRow> rows, float* out, int64_t out_stride) {
  const int64_t tasks = static_cast<int64_t>(rows.size()) * s.heads;
  if (tasks == 0) return;
  const int64_t group = s.heads / s.kv_heads;
  int64_t visible_total = 0;
  for (const AttentionRow& r : rows) {
    visible_total += r.visible + static_cast<int64_t>(r.extra.size());
  }
  const int64_t per_task = std::max<int64_t>(
      1, 2 * s.head_dim * visible_total / static_cast<int64_t>(rows.size()));
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 16) / per_task);
  const bool avx512 = HasAvx512();
  at::parallel_for(0, tasks, grain, [&](int64_t begin, int64_t end) {
    thread_local std::vector<float> scores;
    for (int64_t i = begin; i < end; ++i) {
      const AttentionRow& r = rows[i / s.heads];
      const int64_t h = i % s.heads, kv = h / group;
      const HeadTask t{q + (i / s.heads) * q_stride + h * s.head_dim,
                       r.keys + kv * r.kv_head_stride,
                       r.values + kv * r.kv_head_stride,
                       r.visible,
                       r.extra.data(),
                       static_cast<int64_t>(r.extra.size()),
                       s.head_dim,
                       s.scale,
                       s.softcap,
                       out + (i / s.heads) * out_stride + h * s.head_dim};
      const int64_t attended = r.visible + static_cast<int64_t>(r.extra.size());
      if (static_cast<int64_t>(scores.size()) < attended) scores.resize(attended);
#if TANDEM_HAVE_AVX512_KERNELS
      if (avx512) {
        HeadAvx512(t, scores.data());
        continue;
      }
#endif
      (void)avx512;
      HeadPortable(t, scores.data());
    }
  });
}

}  // namespace tandem::model::cpu
