#include "bench/load/load_report.h"

#include <nlohmann/json.hpp>

#include "gtest/gtest.h"

namespace tandem::bench::load {
namespace {

LoadReport Example() {
  LoadReport r;
  r.label = "max_sessions=16";
  r.streams = 32;
  r.max_requests = 96;
  r.time_limit_s = 60;
  r.max_new_tokens = 32;
  r.speculation = "draft";
  r.stopped_by = "count";
  r.wall_s = 12.5;
  LoadSummary& s = r.summary;
  s.requests = 96;
  s.ok = 90;
  s.failed = 6;
  s.errors_by_code["RESOURCE_EXHAUSTED"] = 6;
  s.first_error_message["RESOURCE_EXHAUSTED"] = "all 16 sessions are in use; retry later";
  s.tokens = 2880;
  s.tokens_per_s = 230.4;
  s.requests_per_s = 7.2;
  s.latency_s = {90, 1.5, 1.25, 2.0, 2.5, 3.0};
  s.ttft_s = {90, 0.2, 0.15, 0.3, 0.4, 0.5};
  s.error_latency_s = {6, 0.002, 0.0015, 0.003, 0.004, 0.005};
  s.mean_itl_s = 0.0412;
  s.acceptance_rate = 0.75;
  s.plain_round_share = 0.4;
  s.fallbacks = 2;
  ProcessMemory target{"target", 4242};
  target.before = {100 * 1024, 110 * 1024};
  target.after = {150 * 1024, 160 * 1024};
  target.peak_rss_kb = 160 * 1024;
  ProcessMemory draft{"draft", 4243};
  draft.before = {50 * 1024, 50 * 1024};
  draft.exited = true;
  r.memory = {target, draft};
  return r;
}

TEST(FormatJsonLineTest, OneLineWithMillisecondsAndKilobytes) {
  const std::string line = FormatJsonLine(Example());
  EXPECT_EQ(line.find('\n'), std::string::npos);
  nlohmann::json j = nlohmann::json::parse(line);
  EXPECT_EQ(j["label"], "max_sessions=16");
  EXPECT_EQ(j["streams"], 32);
  EXPECT_EQ(j["stopped_by"], "count");
  EXPECT_EQ(j["ok"], 90);
  EXPECT_EQ(j["failed"], 6);
  EXPECT_EQ(j["errors"]["RESOURCE_EXHAUSTED"]["count"], 6);
  EXPECT_EQ(j["errors"]["RESOURCE_EXHAUSTED"]["first_message"],
            "all 16 sessions are in use; retry later");
  EXPECT_EQ(j["generated_tokens"], 2880);
  EXPECT_DOUBLE_EQ(j["tokens_per_s"].get<double>(), 230.4);
  EXPECT_DOUBLE_EQ(j["latency_ms"]["p50"].get<double>(), 1250);
  EXPECT_DOUBLE_EQ(j["latency_ms"]["p99"].get<double>(), 2500);
  EXPECT_DOUBLE_EQ(j["ttft_ms"]["p90"].get<double>(), 300);
  EXPECT_DOUBLE_EQ(j["error_latency_ms"]["max"].get<double>(), 5);
  EXPECT_NEAR(j["mean_itl_ms"].get<double>(), 41.2, 1e-9);
  EXPECT_DOUBLE_EQ(j["acceptance_rate"].get<double>(), 0.75);
  EXPECT_DOUBLE_EQ(j["plain_round_share"].get<double>(), 0.4);
  EXPECT_EQ(j["fallbacks"], 2);
  ASSERT_EQ(j["memory"].size(), 2u);
  EXPECT_EQ(j["memory"][0]["name"], "target");
  EXPECT_EQ(j["memory"][0]["before"]["rss_kb"], 100 * 1024);
  EXPECT_EQ(j["memory"][0]["after"]["hwm_kb"], 160 * 1024);
  EXPECT_EQ(j["memory"][1]["exited"], true);
  EXPECT_EQ(j["memory"][1]["after"]["rss_kb"], -1);
}

TEST(FormatTableTest, ShowsCountsErrorsLatenciesAndMemory) {
  const std::string t = FormatTable(Example());
  EXPECT_NE(t.find("[max_sessions=16]: 32 streams, speculation draft, max_new_tokens 32"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("stopped by count (cap 96 requests / 60 s), wall 12.50 s"), std::string::npos)
      << t;
  EXPECT_NE(t.find("requests 96: ok 90, failed 6  [RESOURCE_EXHAUSTED x6: all 16 sessions"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("generated tokens 2880: 230.4 tokens/s, 7.20 requests/s, mean inter-token "
                   "latency 41.20 ms"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("acceptance rate 0.750, plain (γ = 0) rounds 0.400, fell back to target-only 2"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("request latency        90    1500.0    1250.0    2000.0    2500.0    3000.0"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("error latency           6       2.0       1.5       3.0       4.0       5.0"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("target             4242        100.0        160.0        150.0        110.0"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("EXITED"), std::string::npos) << t;
}

TEST(FormatTableTest, NoErrorRowWithoutErrors) {
  LoadReport r = Example();
  r.summary.failed = 0;
  r.summary.errors_by_code.clear();
  EXPECT_EQ(FormatTable(r).find("error latency"), std::string::npos);
}

}  // namespace
}  // namespace tandem::bench::load
