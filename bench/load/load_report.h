#ifndef TANDEM_BENCH_LOAD_LOAD_REPORT_H_
#define TANDEM_BENCH_LOAD_LOAD_REPORT_H_

// The load test's result for one concurrency level, printed as a human table
// and as one JSON line.

#include <cstdint>
#include <string>
#include <vector>

#include "bench/load/load_stats.h"

namespace tandem::bench::load {

// A server process whose memory was sampled around the run.
struct ProcessMemory {
  std::string name;
  int pid = 0;
  ProcMemory before;
  ProcMemory after;
  int64_t peak_rss_kb = -1;  // Largest VmRSS sampled during the run.
  bool exited = false;       // Gone when the run ended (after stays -1).
};

struct LoadReport {
  std::string label;  // Free text from the caller (e.g. "max_sessions=64").
  int streams = 0;
  int64_t max_requests = 0;
  double time_limit_s = 0;
  double ramp_s = 0;  // Staggered stream starts (LoadOptions::ramp_s).
  int max_new_tokens = 0;
  std::string speculation;
  double temperature = 0;
  std::string stopped_by;  // "count" or "time".
  double wall_s = 0;
  LoadSummary summary;
  std::vector<ProcessMemory> memory;
};

// A few aligned lines: configuration, counts, throughput, the latency table
// (ms) and the memory table (MiB).
std::string FormatTable(const LoadReport& report);

// One JSON object on one line (no trailing newline); times in ms, memory in kB.
std::string FormatJsonLine(const LoadReport& report);

}  // namespace tandem::bench::load

#endif  // TANDEM_BENCH_LOAD_LOAD_REPORT_H_
