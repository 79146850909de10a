#ifndef TANDEM_BENCH_SPEEDUP_BENCH_H_
#define TANDEM_BENCH_SPEEDUP_BENCH_H_

// The speedup benchmark: target-only vs speculative decoding (draft model,
// early-exit self-speculation, n-gram prompt lookup) over draft lengths,
// greedy and sampled, in-process and over loopback gRPC, at several
// concurrency levels; plus direct model-forward timings (c, verify cost).
// Writes results.json, results.csv, per_position.csv into out_dir.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace tandem::bench {

struct BenchOptions {
  std::string target_dir = "assets/target";
  std::string draft_dir = "assets/draft";
  std::string prompts_path = "assets/bench_prompts.jsonl";
  std::string out_dir = "/tmp/tandem_speedup";
  std::string dtype = "bfloat16";
  int num_prompts = 8;
  int prompt_offset = 0;       // First prompt line used.
  int max_new_tokens = 64;
  std::vector<int> gammas = {1, 2, 3, 4, 5, 6, 7, 8};
  bool adaptive = true;        // Also run adaptive γ (start 4, max = max gamma).
  std::vector<std::string> transports = {"local", "grpc"};
  std::vector<std::string> modes = {"draft", "self", "ngram"};  // Target-only always runs.
  std::vector<std::string> samplings = {"greedy", "sampled"};
  double temperature = 0.8;
  double top_p = 0.95;
  uint64_t seed = 1234;
  // Modes "tree" / "tree-seq" (draft model with token trees, pipelined or
  // not): alternatives per drafted position at the first tree_depth ones.
  int tree_alternatives = 1;
  int tree_depth = 2;
  bool tree_adaptive = false;  // Tree modes: only in rounds where it pays.
  std::vector<int> concurrency = {1, 4, 16};
  int concurrency_gamma = 0;   // 0: each mode's best greedy γ from the sweep.
  bool concurrency_adaptive = false;  // Also run adaptive γ at each concurrency.
  int micro_reps = 40;         // Repetitions per direct forward timing.
  // Engines run an idle call's items on the caller's thread (servers'
  // --inline_batches; decoding::BatcherOptions::run_inline_when_idle).
  bool inline_batches = true;
  int micro_context = 96;      // Cached tokens before the timed forwards.
  int threads = 0;             // LibTorch intra-op threads; 0 = default.
  bool progress = true;
};

absl::Status RunSpeedupBenchmark(const BenchOptions& options);

}  // namespace tandem::bench

#endif  // TANDEM_BENCH_SPEEDUP_BENCH_H_
