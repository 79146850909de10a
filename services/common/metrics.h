#ifndef TANDEM_SERVICES_COMMON_METRICS_H_
#define TANDEM_SERVICES_COMMON_METRICS_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace tandem::services::metrics {

// Label (name, value) pairs of one time series. Order does not matter: a
// series is identified by its labels sorted by name.
using Labels = std::vector<std::pair<std::string, std::string>>;

// A monotonically increasing value. Thread-safe, lock-free.
class Counter {
 public:
  Counter() = default;
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  // Negative or NaN increments are ignored (a counter never goes down).
  void Increment(double by = 1.0);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// A value that goes up and down. Thread-safe, lock-free.
class Gauge {
 public:
  Gauge() = default;
  Gauge(const Gauge&) = delete;
  Gauge& operator=(const Gauge&) = delete;

  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double by);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Counts observations into buckets with fixed upper bounds (a value v falls
// into the first bucket with v <= bound; larger values only into +Inf).
// Thread-safe; a snapshot (buckets, sum, count) is always consistent.
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  void Observe(double v);
  uint64_t Count() const;
  double Sum() const;

  struct Snapshot {
    std::vector<uint64_t> cumulative;  // One per upper bound, then +Inf (== count).
    double sum = 0;
  };
  Snapshot Read() const;
  const std::vector<double>& upper_bounds() const { return upper_bounds_; }

 private:
  const std::vector<double> upper_bounds_;
  mutable std::mutex mu_;
  std::vector<uint64_t> counts_;  // Per bucket, the last one is +Inf.
  double sum_ = 0;
};

// A set of metric families rendered in the Prometheus text exposition format
// 0.0.4. Metric and label names are chosen by the code, never by users: an
// invalid name or label, or a name reused with another type or histogram
// bounds is a programming error, reported once on stderr; the caller then gets
// a working metric that is not exported (no crash).
//
// A name reused with another help text keeps the first. Thread-safe.
// Metrics are never removed; references stay valid for the registry's life.
class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // The process-wide registry (never destroyed) that /metrics serves.
  static Registry& Default();

  // Get-or-create: the same (name, labels) returns the same object.
  Counter& GetCounter(const std::string& name, const std::string& help,
                      const Labels& labels = {});
  Gauge& GetGauge(const std::string& name, const std::string& help, const Labels& labels = {});
  // `upper_bounds` must be finite and strictly increasing (+Inf is implied).
  Histogram& GetHistogram(const std::string& name, const std::string& help,
                          const std::vector<double>& upper_bounds, const Labels& labels = {});

  // Every family sorted by name, each with one HELP and TYPE line, then its
  // series sorted by labels; histograms as _bucket{le="..."} (cumulative),
  // _sum and _count.
  std::string RenderText() const;

 private:
  struct Family;
  Family* FamilyFor(const std::string& name, const std::string& help, int type,
                    const std::vector<double>& upper_bounds);
  void ReportMisuse(const std::string& what);

  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Family>> families_;
  // Metrics handed out for invalid requests: working, never rendered.
  std::deque<Counter> orphan_counters_;
  std::deque<Gauge> orphan_gauges_;
  std::deque<Histogram> orphan_histograms_;
  bool misuse_reported_ = false;
};

// Latency buckets in seconds from 0.5 ms to 60 s in ~x2 steps (1-2.5-5).
std::vector<double> LatencyBucketsSeconds();

// Valid Prometheus metric / label names (label names starting with "__" are
// reserved and rejected).
bool IsValidMetricName(const std::string& name);
bool IsValidLabelName(const std::string& name);

}  // namespace tandem::services::metrics

#endif  // TANDEM_SERVICES_COMMON_METRICS_H_
