// Registry semantics and the Prometheus text rendering (golden), plus a
// concurrency smoke test.

#include "services/common/metrics.h"

#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tandem::services::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(RegistryTest, SameNameAndLabelsReturnTheSameObjectInAnyLabelOrder) {
  Registry r;
  Counter& a = r.GetCounter("x_total", "help", {{"a", "1"}, {"b", "2"}});
  Counter& b = r.GetCounter("x_total", "help", {{"b", "2"}, {"a", "1"}});
  Counter& c = r.GetCounter("x_total", "help", {{"a", "1"}, {"b", "3"}});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &c);
  EXPECT_EQ(&r.GetGauge("g", "h"), &r.GetGauge("g", "h"));
}

TEST(RegistryTest, RendersCountersAndGaugesGolden) {
  Registry r;
  r.GetCounter("tandem_requests_total", "Requests.", {{"method", "Verify"}, {"code", "OK"}})
      .Increment(3);
  r.GetCounter("tandem_requests_total", "Requests.", {{"method", "Open"}, {"code", "OK"}})
      .Increment();
  r.GetGauge("tandem_sessions", "Open sessions.").Set(2);
  r.GetGauge("tandem_bytes", "Bytes\nwith \\ newline.").Set(0.25);
  EXPECT_EQ(r.RenderText(),
            "# HELP tandem_bytes Bytes\\nwith \\\\ newline.\n"
            "# TYPE tandem_bytes gauge\n"
            "tandem_bytes 0.25\n"
            "# HELP tandem_requests_total Requests.\n"
            "# TYPE tandem_requests_total counter\n"
            "tandem_requests_total{code=\"OK\",method=\"Open\"} 1\n"
            "tandem_requests_total{code=\"OK\",method=\"Verify\"} 3\n"
            "# HELP tandem_sessions Open sessions.\n"
            "# TYPE tandem_sessions gauge\n"
            "tandem_sessions 2\n");
}

TEST(RegistryTest, RendersHistogramsGolden) {
  Registry r;
  Histogram& h = r.GetHistogram("lat_seconds", "Latency.", {0.125, 1, 2.5}, {{"method", "V"}});
  h.Observe(0.0625);
  h.Observe(0.125);  // On the bound: counts in that bucket.
  h.Observe(2);
  h.Observe(100);
  EXPECT_EQ(h.Count(), 4u);
  EXPECT_DOUBLE_EQ(h.Sum(), 102.1875);
  EXPECT_EQ(r.RenderText(),
            "# HELP lat_seconds Latency.\n"
            "# TYPE lat_seconds histogram\n"
            "lat_seconds_bucket{method=\"V\",le=\"0.125\"} 2\n"
            "lat_seconds_bucket{method=\"V\",le=\"1\"} 2\n"
            "lat_seconds_bucket{method=\"V\",le=\"2.5\"} 3\n"
            "lat_seconds_bucket{method=\"V\",le=\"+Inf\"} 4\n"
            "lat_seconds_sum{method=\"V\"} 102.1875\n"
            "lat_seconds_count{method=\"V\"} 4\n");
}

TEST(RegistryTest, EscapesLabelValues) {
  Registry r;
  r.GetCounter("c_total", "c", {{"v", "a\"b\\c\nd"}}).Increment();
  EXPECT_THAT(r.RenderText(), HasSubstr("c_total{v=\"a\\\"b\\\\c\\nd\"} 1\n"));
}

TEST(RegistryTest, HistogramWithoutLabelsRendersBareSumAndCount) {
  Registry r;
  r.GetHistogram("h", "h", {1}).Observe(0.5);
  EXPECT_THAT(r.RenderText(), HasSubstr("h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\n"
                                        "h_sum 0.5\nh_count 1\n"));
}

TEST(RegistryTest, MisuseYieldsWorkingUnexportedMetrics) {
  Registry r;
  Counter& bad_name = r.GetCounter("1bad-name", "x");
  bad_name.Increment();
  EXPECT_EQ(bad_name.Value(), 1);
  r.GetCounter("dup", "x").Increment();
  Gauge& wrong_type = r.GetGauge("dup", "x");
  wrong_type.Set(5);
  r.GetCounter("labels_total", "x", {{"__reserved", "v"}}).Increment();
  r.GetCounter("labels_total", "x", {{"a", "1"}, {"a", "2"}}).Increment();
  r.GetHistogram("h", "x", {2, 1}).Observe(1);
  r.GetHistogram("h2", "x", {1}, {{"le", "x"}}).Observe(1);
  const std::string text = r.RenderText();
  EXPECT_THAT(text, Not(HasSubstr("bad")));
  EXPECT_THAT(text, HasSubstr("# TYPE dup counter\ndup 1\n"));
  EXPECT_THAT(text, Not(HasSubstr("dup 5")));
  EXPECT_THAT(text, Not(HasSubstr("labels_total{")));
  EXPECT_THAT(text, Not(HasSubstr("h_bucket")));
  EXPECT_THAT(text, Not(HasSubstr("h2_bucket")));
}

TEST(RegistryTest, ReusedNameWithOtherBucketsIsNotExported) {
  Registry r;
  r.GetHistogram("h", "x", {1, 2}).Observe(1);
  Histogram& other = r.GetHistogram("h", "x", {1, 3});
  other.Observe(1);
  EXPECT_THAT(r.RenderText(), HasSubstr("h_count 1\n"));
}

TEST(CounterTest, IgnoresNegativeAndNanIncrements) {
  Counter c;
  c.Increment(2);
  c.Increment(-1);
  c.Increment(std::nan(""));
  EXPECT_EQ(c.Value(), 2);
}

TEST(GaugeTest, SetAndAdd) {
  Gauge g;
  g.Set(4);
  g.Add(-1.5);
  EXPECT_EQ(g.Value(), 2.5);
}

TEST(NameTest, ValidatesPrometheusNames) {
  EXPECT_TRUE(IsValidMetricName("tandem_target_rpc_total"));
  EXPECT_TRUE(IsValidMetricName("a:b_c9"));
  EXPECT_FALSE(IsValidMetricName(""));
  EXPECT_FALSE(IsValidMetricName("9a"));
  EXPECT_FALSE(IsValidMetricName("a-b"));
  EXPECT_TRUE(IsValidLabelName("method"));
  EXPECT_FALSE(IsValidLabelName("a:b"));
  EXPECT_FALSE(IsValidLabelName("__name__"));
}

TEST(LatencyBucketsTest, IncreaseFromHalfAMillisecondToAMinute) {
  const std::vector<double> b = LatencyBucketsSeconds();
  ASSERT_GE(b.size(), 10u);
  EXPECT_DOUBLE_EQ(b.front(), 0.0005);
  EXPECT_DOUBLE_EQ(b.back(), 60);
  for (size_t i = 1; i < b.size(); ++i) {
    EXPECT_GT(b[i], b[i - 1]);
    EXPECT_LE(b[i] / b[i - 1], 3.0);
  }
}

TEST(RegistryTest, ConcurrentUpdatesAndRendersLoseNothing) {
  Registry r;
  constexpr int kThreads = 8;
  constexpr int kIterations = 5000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&r, t] {
      for (int i = 0; i < kIterations; ++i) {
        r.GetCounter("c_total", "c", {{"thread", std::to_string(t % 2)}}).Increment();
        r.GetGauge("g", "g").Add(1);
        r.GetHistogram("h", "h", {0.5}).Observe(i % 2);
        if (i % 500 == 0) r.RenderText();
      }
    });
  }
  for (auto& th : threads) th.join();
  const double total = r.GetCounter("c_total", "c", {{"thread", "0"}}).Value() +
                       r.GetCounter("c_total", "c", {{"thread", "1"}}).Value();
  EXPECT_EQ(total, kThreads * kIterations);
  EXPECT_EQ(r.GetGauge("g", "g").Value(), kThreads * kIterations);
  Histogram& h = r.GetHistogram("h", "h", {0.5});
  EXPECT_EQ(h.Count(), static_cast<uint64_t>(kThreads * kIterations));
  EXPECT_EQ(h.Sum(), kThreads * kIterations / 2);
  EXPECT_THAT(r.RenderText(), HasSubstr("h_bucket{le=\"0.5\"} 20000\n"));
}

}  // namespace
}  // namespace tandem::services::metrics
