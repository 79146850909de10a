#ifndef TANDEM_BENCH_LOAD_LOAD_RUNNER_H_
#define TANDEM_BENCH_LOAD_LOAD_RUNNER_H_

// Drives GenerateStream on an orchestrator with N concurrent client streams.
// Each stream issues requests back to back (prompt i = prompts[i % n]) until
// the run's request count is used up or its time limit has passed; requests in
// flight at the time limit finish (bounded by their own RPC deadline).

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/load/load_report.h"

namespace tandem::bench::load {

struct LoadOptions {
  std::string server;                 // Orchestrator host:port.
  std::vector<std::string> prompts;   // Non-empty.
  int streams = 1;                    // Concurrent client streams, >= 1.
  int64_t max_requests = 64;          // Requests started in all, >= 1.
  double time_limit_s = 60;           // No request starts after this, > 0.
  // Stream k sends its first request at k * ramp_s / streams (>= 0): a closed
  // loop whose streams do not all start at once. TTFT is also summarized
  // over the requests started after the ramp (LoadSummary::ttft_steady_s).
  double ramp_s = 0;
  int max_new_tokens = 32;
  bool ignore_eos = true;             // Fixed-length generations.
  std::string speculation = "draft";  // draft | self | ngram | off | "" (server default)
  int draft_length = 0;               // 0 = the server's default.
  double temperature = 0;             // 0 = greedy; > 0: request i uses seed + i.
  uint64_t seed = 1;
  double request_timeout_s = 120;     // RPC deadline of each request.
  double retry_backoff_s = 0.05;      // Pause of a stream after a failed request.
  int warmup_requests = 1;            // Sequential, before the clock starts; not counted.
  // Server processes whose VmRSS/VmHWM are read before, during and after.
  std::vector<std::pair<std::string, int>> processes;
  double memory_sample_interval_s = 0.2;
  std::string label;
};

// Reads the "prompt" field of JSON lines [offset, offset + count) (count 0 =
// all to the end).
absl::StatusOr<std::vector<std::string>> LoadPrompts(const std::string& path, int offset,
                                                     int count);

// Runs the load. Fails only on bad options, an unreadable process or a failed
// warm-up request; errors under load are counted in the report.
absl::StatusOr<LoadReport> RunLoad(const LoadOptions& options);

}  // namespace tandem::bench::load

#endif  // TANDEM_BENCH_LOAD_LOAD_RUNNER_H_
