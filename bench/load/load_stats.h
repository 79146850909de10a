#ifndef TANDEM_BENCH_LOAD_LOAD_STATS_H_
#define TANDEM_BENCH_LOAD_LOAD_STATS_H_

// Pure arithmetic of the load test: per-request records in, throughput,
// latency distributions and error counts out; parsing of /proc/<pid>/status.
// No gRPC or model deps.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace tandem::bench::load {

// One GenerateStream call as the client saw it. Times are seconds since the
// start of the run.
struct RequestRecord {
  absl::StatusCode code = absl::StatusCode::kOk;
  std::string error;          // The status message when code != kOk.
  double start_s = 0;
  double end_s = 0;           // When the stream's final status arrived.
  double first_token_s = -1;  // Arrival of the first chunk with tokens; -1 if none.
  double last_token_s = -1;   // Arrival of the last chunk with tokens; -1 if none.
  int64_t tokens = 0;         // Generated tokens received in chunks.
  // From the SequenceEnd's speculation stats: drafted / accepted tokens, and
  // whether speculation was asked for but the request ran target-only (the
  // orchestrator falls back silently when no draft session can be opened).
  int64_t drafted = 0;
  int64_t accepted = 0;
  // Target passes, and those that verified no draft (γ = 0: the adaptive
  // policy's back-off, or nothing proposed).
  int64_t rounds = 0;
  int64_t plain_rounds = 0;
  bool fell_back = false;
};

// count / mean / percentiles / max of a sample, in the sample's unit.
struct Distribution {
  int64_t count = 0;
  double mean = 0;
  double p50 = 0;
  double p90 = 0;
  double p99 = 0;
  double max = 0;
};

// Linear interpolation between closest ranks (p in [0, 100]; rank
// p/100 * (n-1) of the sorted values); 0 for an empty sample.
Distribution Summarize(std::vector<double> values);

struct LoadSummary {
  int64_t requests = 0;  // Finished requests (ok + failed).
  int64_t ok = 0;
  int64_t failed = 0;
  // By absl/gRPC code name ("RESOURCE_EXHAUSTED", ...), with the first
  // message seen for that code.
  std::map<std::string, int64_t> errors_by_code;
  std::map<std::string, std::string> first_error_message;
  int64_t tokens = 0;            // Generated tokens of successful requests.
  int64_t fallbacks = 0;         // Successful requests that fell back to target-only.
  double acceptance_rate = 0;    // Sum accepted / sum drafted, successful requests.
  // Sum plain rounds / sum rounds, successful requests: how often speculation
  // chose not to draft.
  double plain_round_share = 0;
  double tokens_per_s = 0;       // tokens / wall_s.
  double requests_per_s = 0;     // ok / wall_s.
  Distribution latency_s;        // Whole request, successful requests.
  Distribution ttft_s;           // Time to first token, successful requests with a token.
  // As ttft_s, of the requests that started at or after steady_from_s (after
  // the streams' staggered start: the steady state of a closed loop).
  Distribution ttft_steady_s;
  Distribution error_latency_s;  // Time until a failed request's status came back.
  // Mean gap between consecutive token arrivals within a request
  // (sum of (last - first token) / sum of (tokens - 1), successful requests;
  // tokens that arrive in one chunk count as a zero gap).
  double mean_itl_s = 0;
};

// wall_s: the run's duration (first start to last end); <= 0 leaves the rates 0.
// steady_from_s: see LoadSummary::ttft_steady_s.
LoadSummary SummarizeRequests(const std::vector<RequestRecord>& records, double wall_s,
                              double steady_from_s = 0);

// Resident set of a process, from /proc/<pid>/status; -1 when absent.
struct ProcMemory {
  int64_t rss_kb = -1;  // VmRSS
  int64_t hwm_kb = -1;  // VmHWM (peak RSS since the process started)
};

// Parses the "VmRSS:" and "VmHWM:" lines (values in kB).
ProcMemory ParseProcStatus(const std::string& text);

// Reads /proc/<pid>/status; NotFound if the process does not exist.
absl::Status ReadProcMemory(int pid, ProcMemory* out);

}  // namespace tandem::bench::load

#endif  // TANDEM_BENCH_LOAD_LOAD_STATS_H_
