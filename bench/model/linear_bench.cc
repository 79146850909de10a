// Micro-benchmark of the CPU decoder's matrix product (model/cpu/linear.h):
// ms per call and effective GB/s / GFMA/s for a weight of --out x --in in
// each dtype, at 1..--max_rows rows, on the current thread count. The weight
// set cycles through --copies distinct matrices (default: enough to exceed
// the last-level cache) so every call streams from memory, as in decoding.
//
//   bazel run -c opt //bench/model:linear_bench -- --out=1536 --in=512 --max_rows=12
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "model/cpu/linear.h"

ABSL_FLAG(int64_t, out, 2048, "Output features (weight rows).");
ABSL_FLAG(int64_t, in, 512, "Input features.");
ABSL_FLAG(int, max_rows, 12, "Rows 1..max_rows are timed.");
ABSL_FLAG(int, copies, 0, "Distinct weight copies cycled through (0: > 64 MiB in all).");
ABSL_FLAG(int, reps, 20, "Calls per row count (over the copies); the median is reported.");
ABSL_FLAG(int, threads, 1, "ATen intra-op threads.");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  at::set_num_threads(absl::GetFlag(FLAGS_threads));
  const int64_t out = absl::GetFlag(FLAGS_out), in = absl::GetFlag(FLAGS_in);
  for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
    const int64_t bytes = out * in * at::elementSize(dtype);
    int copies = absl::GetFlag(FLAGS_copies);
    if (copies <= 0) copies = static_cast<int>(std::max<int64_t>(2, (int64_t{64} << 20) / bytes + 1));
    std::vector<tandem::model::cpu::PackedWeight> weights;
    for (int c = 0; c < copies; ++c) weights.push_back(tandem::model::cpu::Pack(at::randn({out, in}).to(dtype)));
    std::vector<tandem::model::cpu::PackedWeight*> all;
    for (auto& w : weights) all.push_back(&w);
    tandem::model::cpu::MoveToHugePages(all);
    std::printf("%s %lldx%lld, %d copies\n  rows   ms/call   GB/s   GFMA/s  t(rows)/t(1)\n",
                c10::toString(dtype), static_cast<long long>(out), static_cast<long long>(in),
                copies);
    double t1 = 0;
    for (int rows = 1; rows <= absl::GetFlag(FLAGS_max_rows); ++rows) {
      at::Tensor x = at::randn({rows, in});
      at::Tensor y = at::empty({rows, out});
      std::vector<double> times;
      for (int r = 0; r < absl::GetFlag(FLAGS_reps); ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        tandem::model::cpu::Linear({x.data_ptr<float>(), rows, in, &weights[r % copies], nullptr,
                                    y.data_ptr<float>(), out, false});
        times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
      std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
      const double t = times[times.size() / 2];
      if (rows == 1) t1 = t;
      std::printf("  %4d  %8.4f  %6.1f  %7.1f  %5.2f\n", rows, t * 1e3, bytes / t / 1e9,
                  static_cast<double>(rows) * out * in / 16 / t / 1e9, t / t1);
    }
  }
  return 0;
}
