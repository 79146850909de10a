#include "bench/load/load_stats.h"

#include <algorithm>
#include <fstream>
#include <numeric>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "bench/speedup/metrics.h"

namespace tandem::bench::load {

Distribution Summarize(std::vector<double> values) {
  Distribution d;
  if (values.empty()) return d;
  std::sort(values.begin(), values.end());
  d.count = static_cast<int64_t>(values.size());
  d.mean = std::accumulate(values.begin(), values.end(), 0.0) / values.size();
  d.p50 = Percentile(values, 50);
  d.p90 = Percentile(values, 90);
  d.p99 = Percentile(values, 99);
  d.max = values.back();
  return d;
}

LoadSummary SummarizeRequests(const std::vector<RequestRecord>& records, double wall_s,
                              double steady_from_s) {
  LoadSummary s;
  std::vector<double> latency, ttft, ttft_steady, error_latency;
  double itl_span_s = 0;
  int64_t itl_gaps = 0, drafted = 0, accepted = 0, rounds = 0, plain_rounds = 0;
  for (const RequestRecord& r : records) {
    ++s.requests;
    if (r.code != absl::StatusCode::kOk) {
      ++s.failed;
      const std::string name = absl::StatusCodeToString(r.code);
      if (s.errors_by_code[name]++ == 0) s.first_error_message[name] = r.error;
      error_latency.push_back(r.end_s - r.start_s);
      continue;
    }
    ++s.ok;
    s.tokens += r.tokens;
    s.fallbacks += r.fell_back ? 1 : 0;
    drafted += r.drafted;
    accepted += r.accepted;
    rounds += r.rounds;
    plain_rounds += r.plain_rounds;
    latency.push_back(r.end_s - r.start_s);
    if (r.first_token_s >= 0) {
      ttft.push_back(r.first_token_s - r.start_s);
      if (r.start_s >= steady_from_s) ttft_steady.push_back(r.first_token_s - r.start_s);
    }
    if (r.tokens > 1 && r.first_token_s >= 0) {
      itl_span_s += r.last_token_s - r.first_token_s;
      itl_gaps += r.tokens - 1;
    }
  }
  if (wall_s > 0) {
    s.tokens_per_s = s.tokens / wall_s;
    s.requests_per_s = s.ok / wall_s;
  }
  s.latency_s = Summarize(std::move(latency));
  s.ttft_s = Summarize(std::move(ttft));
  s.ttft_steady_s = Summarize(std::move(ttft_steady));
  s.error_latency_s = Summarize(std::move(error_latency));
  if (itl_gaps > 0) s.mean_itl_s = itl_span_s / itl_gaps;
  if (drafted > 0) s.acceptance_rate = static_cast<double>(accepted) / drafted;
  if (rounds > 0) s.plain_round_share = static_cast<double>(plain_rounds) / rounds;
  return s;
}

ProcMemory ParseProcStatus(const std::string& text) {
  ProcMemory m;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    int64_t* field = nullptr;
    if (absl::ConsumePrefix(&line, "VmRSS:")) {
      field = &m.rss_kb;
    } else if (absl::ConsumePrefix(&line, "VmHWM:")) {
      field = &m.hwm_kb;
    } else {
      continue;
    }
    line = absl::StripAsciiWhitespace(line);
    absl::ConsumeSuffix(&line, "kB");
    line = absl::StripAsciiWhitespace(line);
    int64_t kb = 0;
    if (absl::SimpleAtoi(line, &kb)) *field = kb;
  }
  return m;
}

absl::Status ReadProcMemory(int pid, ProcMemory* out) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  if (!in) return absl::NotFoundError(absl::StrCat("no process ", pid));
  std::stringstream text;
  text << in.rdbuf();
  *out = ParseProcStatus(text.str());
  return absl::OkStatus();
}

}  // namespace tandem::bench::load
