#include "model/cpu/simd.h"

#include <cstdlib>
#include <cstring>

namespace tandem::model::cpu {

bool HasAvx512() {
  static const bool has = [] {
    const char* force = std::getenv("TANDEM_CPU_KERNELS");
    if (force != nullptr && std::strcmp(force, "portable") == 0) return false;
#if TANDEM_HAVE_AVX512_KERNELS
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#else
    return false;
#endif
  }();
  return has;
}

}  // namespace tandem::model::cpu
