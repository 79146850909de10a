#include "bench/load/load_report.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tandem::bench::load {
namespace {

using json = nlohmann::json;

json DistributionMs(const Distribution& d) {
  return {{"count", d.count}, {"mean", d.mean * 1e3}, {"p50", d.p50 * 1e3},
          {"p90", d.p90 * 1e3}, {"p99", d.p99 * 1e3}, {"max", d.max * 1e3}};
}

json MemoryKb(const ProcMemory& m) { return {{"rss_kb", m.rss_kb}, {"hwm_kb", m.hwm_kb}}; }

std::string LatencyRow(const char* name, const Distribution& d) {
  return absl::StrFormat("  %-18s %6d %9.1f %9.1f %9.1f %9.1f %9.1f\n", name, d.count,
                         d.mean * 1e3, d.p50 * 1e3, d.p90 * 1e3, d.p99 * 1e3, d.max * 1e3);
}

std::string Mib(int64_t kb) { return kb < 0 ? "-" : absl::StrFormat("%.1f", kb / 1024.0); }

}  // namespace

std::string FormatTable(const LoadReport& r) {
  const LoadSummary& s = r.summary;
  std::string out = absl::StrFormat(
      "load test %s: %d streams, speculation %s, max_new_tokens %d, temperature %g\n"
      "  stopped by %s (cap %d requests / %.0f s), wall %.2f s\n"
      "  requests %d: ok %d, failed %d",
      r.label.empty() ? "" : absl::StrCat("[", r.label, "]"), r.streams, r.speculation,
      r.max_new_tokens, r.temperature, r.stopped_by, r.max_requests, r.time_limit_s, r.wall_s,
      s.requests, s.ok, s.failed);
  for (const auto& [code, n] : s.errors_by_code) {
    absl::StrAppend(&out, absl::StrFormat("  [%s x%d: %s]", code, n,
                                          s.first_error_message.at(code)));
  }
  absl::StrAppendFormat(&out,
                        "\n  generated tokens %d: %.1f tokens/s, %.2f requests/s, "
                        "mean inter-token latency %.2f ms\n"
                        "  acceptance rate %.3f, plain (γ = 0) rounds %.3f, "
                        "fell back to target-only %d\n",
                        s.tokens, s.tokens_per_s, s.requests_per_s, s.mean_itl_s * 1e3,
                        s.acceptance_rate, s.plain_round_share, s.fallbacks);
  absl::StrAppendFormat(&out, "  %-18s %6s %9s %9s %9s %9s %9s\n", "ms", "n", "mean", "p50",
                        "p90", "p99", "max");
  out += LatencyRow("request latency", s.latency_s);
  out += LatencyRow("time to 1st token", s.ttft_s);
  if (r.ramp_s > 0) out += LatencyRow("  after the ramp", s.ttft_steady_s);
  if (s.failed > 0) out += LatencyRow("error latency", s.error_latency_s);
  if (!r.memory.empty()) {
    absl::StrAppendFormat(&out, "  %-14s %8s %12s %12s %12s %12s %12s\n", "MiB", "pid",
                          "RSS before", "RSS peak", "RSS after", "HWM before", "HWM after");
    for (const ProcessMemory& m : r.memory) {
      absl::StrAppendFormat(&out, "  %-14s %8d %12s %12s %12s %12s %12s%s\n", m.name, m.pid,
                            Mib(m.before.rss_kb), Mib(m.peak_rss_kb), Mib(m.after.rss_kb),
                            Mib(m.before.hwm_kb), Mib(m.after.hwm_kb),
                            m.exited ? "  EXITED" : "");
    }
  }
  return out;
}

std::string FormatJsonLine(const LoadReport& r) {
  const LoadSummary& s = r.summary;
  json memory = json::array();
  for (const ProcessMemory& m : r.memory) {
    memory.push_back({{"name", m.name},
                      {"pid", m.pid},
                      {"before", MemoryKb(m.before)},
                      {"after", MemoryKb(m.after)},
                      {"peak_rss_kb", m.peak_rss_kb},
                      {"exited", m.exited}});
  }
  json errors = json::object();
  for (const auto& [code, n] : s.errors_by_code) {
    errors[code] = {{"count", n}, {"first_message", s.first_error_message.at(code)}};
  }
  json j = {{"label", r.label},
            {"streams", r.streams},
            {"max_requests", r.max_requests},
            {"time_limit_s", r.time_limit_s},
            {"max_new_tokens", r.max_new_tokens},
            {"speculation", r.speculation},
            {"temperature", r.temperature},
            {"stopped_by", r.stopped_by},
            {"wall_s", r.wall_s},
            {"requests", s.requests},
            {"ok", s.ok},
            {"failed", s.failed},
            {"errors", errors},
            {"generated_tokens", s.tokens},
            {"tokens_per_s", s.tokens_per_s},
            {"requests_per_s", s.requests_per_s},
            {"latency_ms", DistributionMs(s.latency_s)},
            {"ttft_ms", DistributionMs(s.ttft_s)},
            {"ramp_s", r.ramp_s},
            {"ttft_steady_ms", DistributionMs(s.ttft_steady_s)},
            {"error_latency_ms", DistributionMs(s.error_latency_s)},
            {"mean_itl_ms", s.mean_itl_s * 1e3},
            {"acceptance_rate", s.acceptance_rate},
            {"plain_round_share", s.plain_round_share},
            {"fallbacks", s.fallbacks},
            {"memory", memory}};
  return j.dump();
}

}  // namespace tandem::bench::load
