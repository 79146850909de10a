#include "bench/load/load_stats.h"

#include <unistd.h>

#include <algorithm>
#include <random>

#include "gtest/gtest.h"

namespace tandem::bench::load {
namespace {

TEST(SummarizeTest, EmptySampleIsAllZero) {
  Distribution d = Summarize({});
  EXPECT_EQ(d.count, 0);
  EXPECT_EQ(d.p50, 0);
  EXPECT_EQ(d.max, 0);
}

TEST(SummarizeTest, InterpolatesBetweenClosestRanksOfUnsortedInput) {
  std::vector<double> v;
  for (int i = 1; i <= 100; ++i) v.push_back(i);
  std::shuffle(v.begin(), v.end(), std::mt19937(7));
  Distribution d = Summarize(v);
  EXPECT_EQ(d.count, 100);
  EXPECT_NEAR(d.mean, 50.5, 1e-9);
  EXPECT_NEAR(d.p50, 50.5, 1e-9);   // rank 49.5
  EXPECT_NEAR(d.p90, 90.1, 1e-9);   // rank 89.1
  EXPECT_NEAR(d.p99, 99.01, 1e-9);  // rank 98.01
  EXPECT_EQ(d.max, 100);
}

TEST(SummarizeTest, TwoValuesAndOneValue) {
  Distribution two = Summarize({10, 0});
  EXPECT_NEAR(two.p50, 5, 1e-9);
  EXPECT_NEAR(two.p90, 9, 1e-9);
  EXPECT_NEAR(two.p99, 9.9, 1e-9);
  EXPECT_EQ(two.max, 10);
  Distribution one = Summarize({3});
  EXPECT_EQ(one.p50, 3);
  EXPECT_EQ(one.p99, 3);
  EXPECT_EQ(one.max, 3);
}

RequestRecord Ok(double start, double first, double last, double end, int64_t tokens) {
  RequestRecord r;
  r.start_s = start;
  r.first_token_s = first;
  r.last_token_s = last;
  r.end_s = end;
  r.tokens = tokens;
  return r;
}

RequestRecord Failed(absl::StatusCode code, const std::string& message, double start, double end) {
  RequestRecord r;
  r.code = code;
  r.error = message;
  r.start_s = start;
  r.end_s = end;
  return r;
}

TEST(SummarizeRequestsTest, SeparatesSuccessesFromErrorsByCode) {
  std::vector<RequestRecord> records = {
      Ok(0.0, 0.1, 0.9, 1.0, 5),  // ITL span 0.8 over 4 gaps
      Ok(1.0, 1.3, 1.5, 2.0, 3),  // ITL span 0.2 over 2 gaps
      Ok(0.5, 0.7, 0.7, 0.8, 1),  // one token: no gap
      Failed(absl::StatusCode::kResourceExhausted, "all 16 sessions are in use", 0.2, 0.21),
      Failed(absl::StatusCode::kResourceExhausted, "later message", 0.3, 0.33),
      Failed(absl::StatusCode::kUnavailable, "down", 0.4, 0.5),
  };
  records[3].tokens = 7;  // Tokens of a failed request are not counted.
  records[0].drafted = 8;
  records[0].accepted = 6;
  records[1].drafted = 2;
  records[1].accepted = 0;
  records[2].fell_back = true;
  records[4].drafted = 100;  // Failed: not counted.
  records[0].rounds = 10;
  records[0].plain_rounds = 4;
  records[1].rounds = 6;
  records[1].plain_rounds = 0;
  records[4].rounds = 50;  // Failed: not counted.
  records[4].plain_rounds = 50;
  LoadSummary s = SummarizeRequests(records, 2.0);
  EXPECT_EQ(s.requests, 6);
  EXPECT_EQ(s.ok, 3);
  EXPECT_EQ(s.failed, 3);
  ASSERT_EQ(s.errors_by_code.size(), 2u);
  EXPECT_EQ(s.errors_by_code["RESOURCE_EXHAUSTED"], 2);
  EXPECT_EQ(s.errors_by_code["UNAVAILABLE"], 1);
  EXPECT_EQ(s.first_error_message["RESOURCE_EXHAUSTED"], "all 16 sessions are in use");
  EXPECT_EQ(s.tokens, 9);
  EXPECT_EQ(s.fallbacks, 1);
  EXPECT_NEAR(s.acceptance_rate, 0.6, 1e-9);
  EXPECT_NEAR(s.plain_round_share, 0.25, 1e-9);
  EXPECT_NEAR(s.tokens_per_s, 4.5, 1e-9);
  EXPECT_NEAR(s.requests_per_s, 1.5, 1e-9);
  EXPECT_EQ(s.latency_s.count, 3);
  EXPECT_NEAR(s.latency_s.max, 1.0, 1e-9);
  EXPECT_NEAR(s.latency_s.p50, 1.0, 1e-9);  // {0.3, 1.0, 1.0}
  EXPECT_NEAR(s.ttft_s.p50, 0.2, 1e-9);     // {0.1, 0.2, 0.3}
  EXPECT_NEAR(s.ttft_s.mean, 0.2, 1e-9);
  EXPECT_NEAR(s.mean_itl_s, 1.0 / 6, 1e-9);
  EXPECT_EQ(s.error_latency_s.count, 3);
  EXPECT_NEAR(s.error_latency_s.max, 0.1, 1e-9);
  EXPECT_NEAR(s.error_latency_s.p50, 0.03, 1e-9);
}

TEST(SummarizeRequestsTest, NoRequestsAndNoWallTimeGiveZeroRates) {
  LoadSummary s = SummarizeRequests({Ok(0, 0.1, 0.2, 0.3, 2)}, 0);
  EXPECT_EQ(s.ok, 1);
  EXPECT_EQ(s.tokens_per_s, 0);
  EXPECT_EQ(s.requests_per_s, 0);
  EXPECT_EQ(SummarizeRequests({}, 1.0).requests, 0);
}

TEST(SummarizeRequestsTest, SteadyTtftCountsOnlyRequestsStartedAfterTheRamp) {
  // Two burst requests (started at 0, TTFT 5 s) and two after the ramp.
  const std::vector<RequestRecord> records = {Ok(0, 5, 6, 6, 2), Ok(0, 5, 6, 6, 2),
                                              Ok(10, 10.2, 11, 11, 2), Ok(12, 12.4, 13, 13, 2)};
  LoadSummary s = SummarizeRequests(records, 13, /*steady_from_s=*/10);
  EXPECT_EQ(s.ttft_s.count, 4);
  EXPECT_NEAR(s.ttft_s.max, 5, 1e-9);
  EXPECT_EQ(s.ttft_steady_s.count, 2);
  EXPECT_NEAR(s.ttft_steady_s.max, 0.4, 1e-9);
  EXPECT_NEAR(s.ttft_steady_s.p50, 0.3, 1e-9);
  // Without a ramp, steady = all.
  EXPECT_EQ(SummarizeRequests(records, 13).ttft_steady_s.count, 4);
}

TEST(ParseProcStatusTest, ReadsRssAndHighWaterMark) {
  const std::string text =
      "Name:\ttarget\nVmPeak:\t  999999 kB\nVmHWM:\t  123456 kB\nVmRSS:\t   98765 kB\n"
      "RssAnon:\t   1 kB\n";
  ProcMemory m = ParseProcStatus(text);
  EXPECT_EQ(m.rss_kb, 98765);
  EXPECT_EQ(m.hwm_kb, 123456);
}

TEST(ParseProcStatusTest, MissingFieldsStayUnknown) {
  ProcMemory m = ParseProcStatus("Name:\tkthreadd\nState:\tS (sleeping)\n");
  EXPECT_EQ(m.rss_kb, -1);
  EXPECT_EQ(m.hwm_kb, -1);
}

TEST(ReadProcMemoryTest, ReadsThisProcessAndRejectsAMissingOne) {
  ProcMemory m;
  ASSERT_TRUE(ReadProcMemory(getpid(), &m).ok());
  EXPECT_GT(m.rss_kb, 0);
  EXPECT_GE(m.hwm_kb, m.rss_kb);
  EXPECT_EQ(ReadProcMemory(0x7ffffff0, &m).code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace tandem::bench::load
