#ifndef TANDEM_MODEL_CPU_SIMD_H_
#define TANDEM_MODEL_CPU_SIMD_H_

// Internal to model/cpu: AVX-512 helpers and the runtime switch between the
// AVX-512 and the portable kernels. Functions marked TANDEM_AVX512 may only
// run when HasAvx512() is true; the rest of the binary is compiled for the
// baseline ISA, so one build runs on every x86-64 (and non-x86) machine.

#include <cstdint>

#if defined(__x86_64__) && defined(__GNUC__)
#define TANDEM_HAVE_AVX512_KERNELS 1
#include <immintrin.h>
#define TANDEM_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma,f16c")))
#else
#define TANDEM_HAVE_AVX512_KERNELS 0
#define TANDEM_AVX512
#endif

namespace tandem::model::cpu {

// True when this CPU runs AVX-512 (F, BW, DQ, VL) and the kernels were built
// with it. Decided once per process; TANDEM_CPU_KERNELS=portable forces the
// portable kernels (tests compare the two).
bool HasAvx512();

#if TANDEM_HAVE_AVX512_KERNELS
// Mask of the first n (< 16) lanes.
TANDEM_AVX512 inline __mmask16 FirstLanes(int64_t n) {
  return static_cast<__mmask16>((1u << n) - 1u);
}

// exp(x) for 16 lanes, |relative error| < 2e-7 on [-87, 88]; exp(-inf) = 0.
// Cody-Waite range reduction to r in [-ln2/2, ln2/2], a degree-6 polynomial,
// and scalef for 2^n.
TANDEM_AVX512 inline __m512 Exp16(__m512 x) {
  const __m512 clamped = _mm512_max_ps(x, _mm512_set1_ps(-104.0f));
  const __m512 n = _mm512_roundscale_ps(
      _mm512_mul_ps(clamped, _mm512_set1_ps(1.44269504088896341f)),
      _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), clamped);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_scalef_ps(p, n);
}
#endif

}  // namespace tandem::model::cpu

#endif  // TANDEM_MODEL_CPU_SIMD_H_
