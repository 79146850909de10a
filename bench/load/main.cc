// load_test: a bounded load test of the orchestrator's GenerateStream: N
// concurrent client streams issue requests back to back from the held-out
// prompts until a request count or a time limit is reached; prints throughput,
// latency percentiles, errors by gRPC code and the servers' memory. See
// docs/benchmarks.md ("Load test") and bench/load/run_load.sh.
//
//   load_test --server=127.0.0.1:50050 --streams=8 --max_requests=64 --time_limit_s=60
//       --pids=target=123,draft=124,orchestrator=125 --json_out=/tmp/load.jsonl

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "bench/load/load_runner.h"

ABSL_FLAG(std::string, server, "127.0.0.1:50050", "Orchestrator address host:port");
ABSL_FLAG(std::string, prompts, "assets/bench_prompts.jsonl", "Prompts (JSON lines, field \"prompt\")");
ABSL_FLAG(int, prompt_offset, 0, "Skip this many prompt lines");
ABSL_FLAG(int, num_prompts, 0, "Prompts to cycle through; 0 = all");
ABSL_FLAG(int, streams, 1, "Concurrent client streams");
ABSL_FLAG(int64_t, max_requests, 64, "Requests started in all (the count bound)");
ABSL_FLAG(double, time_limit_s, 60, "No request starts after this many seconds (the time bound)");
ABSL_FLAG(double, ramp_s, 0,
          "Stream k starts at k * ramp_s / streams; TTFT is also reported for the requests "
          "started after the ramp (the steady state)");
ABSL_FLAG(int, max_new_tokens, 32, "Tokens per request");
ABSL_FLAG(bool, ignore_eos, true, "Fixed-length generations (EOS does not end a sequence)");
ABSL_FLAG(std::string, speculation, "draft", "draft | self | ngram | off");
ABSL_FLAG(int, draft_length, 0, "Fixed draft length; 0 = the server's default");
ABSL_FLAG(double, temperature, 0, "0 = greedy; > 0 samples with seed + request index");
ABSL_FLAG(uint64_t, seed, 1, "Base seed of sampled requests");
ABSL_FLAG(double, request_timeout_s, 120, "RPC deadline of each request");
ABSL_FLAG(double, retry_backoff_s, 0.05, "Pause of a stream after a failed request");
ABSL_FLAG(int, warmup_requests, 1, "Sequential warm-up requests before the clock starts");
ABSL_FLAG(std::string, pids, "", "Server processes to sample memory of: name=pid,name=pid");
ABSL_FLAG(std::string, label, "", "Free text stored with the result (e.g. max_sessions=64)");
ABSL_FLAG(std::string, json_out, "", "Append the result as one JSON line to this file");

namespace {

bool ParsePids(const std::string& s, std::vector<std::pair<std::string, int>>* out) {
  for (absl::string_view item : absl::StrSplit(s, ',', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(item, absl::MaxSplits('=', 1));
    int pid = 0;
    if (kv.first.empty() || !absl::SimpleAtoi(kv.second, &pid) || pid <= 0) return false;
    out->emplace_back(kv.first, pid);
  }
  return true;
}

// Under `bazel run` relative paths are taken from the workspace.
std::string FromWorkspace(const std::string& path) {
  const char* ws = std::getenv("BUILD_WORKSPACE_DIRECTORY");
  if (path.empty() || path[0] == '/' || ws == nullptr) return path;
  return std::string(ws) + "/" + path;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Bounded load test of GenerationService.GenerateStream.");
  absl::ParseCommandLine(argc, argv);
  namespace load = tandem::bench::load;
  load::LoadOptions o;
  o.server = absl::GetFlag(FLAGS_server);
  o.streams = absl::GetFlag(FLAGS_streams);
  o.max_requests = absl::GetFlag(FLAGS_max_requests);
  o.time_limit_s = absl::GetFlag(FLAGS_time_limit_s);
  o.ramp_s = absl::GetFlag(FLAGS_ramp_s);
  o.max_new_tokens = absl::GetFlag(FLAGS_max_new_tokens);
  o.ignore_eos = absl::GetFlag(FLAGS_ignore_eos);
  o.speculation = absl::GetFlag(FLAGS_speculation);
  o.draft_length = absl::GetFlag(FLAGS_draft_length);
  o.temperature = absl::GetFlag(FLAGS_temperature);
  o.seed = absl::GetFlag(FLAGS_seed);
  o.request_timeout_s = absl::GetFlag(FLAGS_request_timeout_s);
  o.retry_backoff_s = absl::GetFlag(FLAGS_retry_backoff_s);
  o.warmup_requests = absl::GetFlag(FLAGS_warmup_requests);
  o.label = absl::GetFlag(FLAGS_label);
  if (!ParsePids(absl::GetFlag(FLAGS_pids), &o.processes)) {
    std::cerr << "error: --pids takes name=pid,name=pid\n";
    return 2;
  }
  auto prompts = load::LoadPrompts(FromWorkspace(absl::GetFlag(FLAGS_prompts)),
                                   absl::GetFlag(FLAGS_prompt_offset),
                                   absl::GetFlag(FLAGS_num_prompts));
  if (!prompts.ok()) {
    std::cerr << "error: " << prompts.status() << "\n";
    return 2;
  }
  o.prompts = std::move(*prompts);
  absl::StatusOr<load::LoadReport> report = load::RunLoad(o);
  if (!report.ok()) {
    std::cerr << "error: " << report.status() << "\n";
    return 1;
  }
  std::cout << load::FormatTable(*report) << std::flush;
  const std::string json_out = FromWorkspace(absl::GetFlag(FLAGS_json_out));
  if (!json_out.empty()) {
    std::ofstream out(json_out, std::ios::app);
    out << load::FormatJsonLine(*report) << "\n";
    if (!out) {
      std::cerr << "error: cannot write " << json_out << "\n";
      return 1;
    }
  }
  return 0;
}
