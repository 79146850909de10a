#include "services/common/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace tandem::services::metrics {
namespace {

enum Type { kCounter = 0, kGauge = 1, kHistogram = 2 };
constexpr const char* kTypeNames[] = {"counter", "gauge", "histogram"};

void AtomicAdd(std::atomic<double>& target, double by) {
  double current = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(current, current + by, std::memory_order_relaxed)) {
  }
}

// Go's strconv.FormatFloat(v, 'g', -1, 64) spelling, as Prometheus clients
// write samples: shortest round-trip digits, +Inf / -Inf / NaN.
std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), v);
  return std::string(buffer, end);
}

std::string EscapeLabelValue(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string EscapeHelp(const std::string& help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

// {a="1",b="2"} with an optional extra trailing label (le for buckets); ""
// when there are no labels at all.
std::string RenderLabels(const Labels& labels, const std::string& extra_name = "",
                         const std::string& extra_value = "") {
  if (labels.empty() && extra_name.empty()) return "";
  std::string out = "{";
  bool first = true;
  auto add = [&](const std::string& name, const std::string& value) {
    if (!first) out += ",";
    first = false;
    out += name + "=\"" + EscapeLabelValue(value) + "\"";
  };
  for (const auto& [name, value] : labels) add(name, value);
  if (!extra_name.empty()) add(extra_name, extra_value);
  return out + "}";
}

bool ValidBounds(const std::vector<double>& bounds) {
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i])) return false;
    if (i > 0 && !(bounds[i] > bounds[i - 1])) return false;
  }
  return true;
}

// Sorted by name; nullopt-like empty result with ok=false for duplicate or
// invalid label names (and "le" on histograms, which the format reserves).
bool NormalizeLabels(const Labels& labels, bool histogram, Labels* out) {
  *out = labels;
  std::sort(out->begin(), out->end());
  for (size_t i = 0; i < out->size(); ++i) {
    const std::string& name = (*out)[i].first;
    if (!IsValidLabelName(name) || (histogram && name == "le")) return false;
    if (i > 0 && name == (*out)[i - 1].first) return false;
  }
  return true;
}

}  // namespace

void Counter::Increment(double by) {
  if (!(by >= 0)) return;
  AtomicAdd(value_, by);
}

void Gauge::Add(double by) { AtomicAdd(value_, by); }

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)), counts_(upper_bounds_.size() + 1, 0) {}

void Histogram::Observe(double v) {
  const size_t bucket =
      std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), v) - upper_bounds_.begin();
  std::lock_guard<std::mutex> lock(mu_);
  ++counts_[std::isnan(v) ? upper_bounds_.size() : bucket];
  sum_ += v;
}

uint64_t Histogram::Count() const {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t total = 0;
  for (uint64_t c : counts_) total += c;
  return total;
}

double Histogram::Sum() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sum_;
}

Histogram::Snapshot Histogram::Read() const {
  std::lock_guard<std::mutex> lock(mu_);
  Snapshot s;
  s.sum = sum_;
  uint64_t running = 0;
  for (uint64_t c : counts_) s.cumulative.push_back(running += c);
  return s;
}

struct Registry::Family {
  int type = kCounter;
  std::string help;
  std::vector<double> upper_bounds;
  std::map<Labels, std::unique_ptr<Counter>> counters;
  std::map<Labels, std::unique_ptr<Gauge>> gauges;
  std::map<Labels, std::unique_ptr<Histogram>> histograms;
};

Registry::Registry() = default;
Registry::~Registry() = default;

Registry& Registry::Default() {
  static Registry* registry = new Registry();
  return *registry;
}

void Registry::ReportMisuse(const std::string& what) {
  if (misuse_reported_) return;
  misuse_reported_ = true;
  std::fprintf(stderr, "metrics: programming error (metric not exported): %s\n", what.c_str());
}

Registry::Family* Registry::FamilyFor(const std::string& name, const std::string& help,
                                      int type, const std::vector<double>& upper_bounds) {
  if (!IsValidMetricName(name)) {
    ReportMisuse("invalid metric name \"" + name + "\"");
    return nullptr;
  }
  auto it = families_.find(name);
  if (it == families_.end()) {
    auto family = std::make_unique<Family>();
    family->type = type;
    family->help = help;
    family->upper_bounds = upper_bounds;
    it = families_.emplace(name, std::move(family)).first;
  }
  Family* family = it->second.get();
  // A different help text is tolerated (the first one is kept).
  if (family->type != type || family->upper_bounds != upper_bounds) {
    ReportMisuse("metric \"" + name + "\" registered again with another type or buckets");
    return nullptr;
  }
  return family;
}

Counter& Registry::GetCounter(const std::string& name, const std::string& help,
                              const Labels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Labels sorted;
  Family* family = FamilyFor(name, help, kCounter, {});
  if (family == nullptr || !NormalizeLabels(labels, false, &sorted)) {
    if (family != nullptr) ReportMisuse("invalid labels on \"" + name + "\"");
    return orphan_counters_.emplace_back();
  }
  std::unique_ptr<Counter>& slot = family->counters[sorted];
  if (slot == nullptr) slot = std::make_unique<Counter>();
  return *slot;
}

Gauge& Registry::GetGauge(const std::string& name, const std::string& help,
                          const Labels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Labels sorted;
  Family* family = FamilyFor(name, help, kGauge, {});
  if (family == nullptr || !NormalizeLabels(labels, false, &sorted)) {
    if (family != nullptr) ReportMisuse("invalid labels on \"" + name + "\"");
    return orphan_gauges_.emplace_back();
  }
  std::unique_ptr<Gauge>& slot = family->gauges[sorted];
  if (slot == nullptr) slot = std::make_unique<Gauge>();
  return *slot;
}

Histogram& Registry::GetHistogram(const std::string& name, const std::string& help,
                                  const std::vector<double>& upper_bounds,
                                  const Labels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Labels sorted;
  if (!ValidBounds(upper_bounds)) {
    ReportMisuse("histogram \"" + name + "\" bounds must be finite and strictly increasing");
    return orphan_histograms_.emplace_back(upper_bounds);
  }
  Family* family = FamilyFor(name, help, kHistogram, upper_bounds);
  if (family == nullptr || !NormalizeLabels(labels, true, &sorted)) {
    if (family != nullptr) ReportMisuse("invalid labels on \"" + name + "\"");
    return orphan_histograms_.emplace_back(upper_bounds);
  }
  std::unique_ptr<Histogram>& slot = family->histograms[sorted];
  if (slot == nullptr) slot = std::make_unique<Histogram>(upper_bounds);
  return *slot;
}

std::string Registry::RenderText() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const auto& [name, family] : families_) {
    out += "# HELP " + name + " " + EscapeHelp(family->help) + "\n";
    out += "# TYPE " + name + " " + kTypeNames[family->type] + "\n";
    for (const auto& [labels, counter] : family->counters) {
      out += name + RenderLabels(labels) + " " + FormatValue(counter->Value()) + "\n";
    }
    for (const auto& [labels, gauge] : family->gauges) {
      out += name + RenderLabels(labels) + " " + FormatValue(gauge->Value()) + "\n";
    }
    for (const auto& [labels, histogram] : family->histograms) {
      const Histogram::Snapshot s = histogram->Read();
      for (size_t i = 0; i < s.cumulative.size(); ++i) {
        const std::string le = i < family->upper_bounds.size()
                                   ? FormatValue(family->upper_bounds[i])
                                   : "+Inf";
        out += name + "_bucket" + RenderLabels(labels, "le", le) + " " +
               std::to_string(s.cumulative[i]) + "\n";
      }
      out += name + "_sum" + RenderLabels(labels) + " " + FormatValue(s.sum) + "\n";
      out += name + "_count" + RenderLabels(labels) + " " +
             std::to_string(s.cumulative.back()) + "\n";
    }
  }
  return out;
}

std::vector<double> LatencyBucketsSeconds() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
          0.25,   0.5,   1,      2.5,   5,    10,    30,    60};
}

bool IsValidMetricName(const std::string& name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

bool IsValidLabelName(const std::string& name) {
  if (name.empty() || name.rfind("__", 0) == 0) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

}  // namespace tandem::services::metrics
