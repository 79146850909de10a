#ifndef TANDEM_SERVICES_COMMON_LOG_H_
#define TANDEM_SERVICES_COMMON_LOG_H_

#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace tandem::services {

// Structured logs: one JSON object per line on stderr,
//
//   {"ts":"2025-01-02T03:04:05.678Z","level":"info","component":"target",
//    "event":"session_opened","request_id":"r-1","session_id":7,...}
//
// ts is RFC 3339 UTC with milliseconds; request_id is omitted when empty;
// extra fields follow in the given order (a field named like one of the
// fixed keys is written as "field_<name>"). Thread-safe: lines never
// interleave.

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// "debug" | "info" | "warn" | "error" (InvalidArgument otherwise).
absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view name);
absl::string_view LogLevelName(LogLevel level);

// Events below the minimum level are dropped (default: info).
void SetMinLogLevel(LogLevel level);
LogLevel MinLogLevel();

// A string, integer, floating-point or boolean field value, stored as its JSON
// text (non-finite doubles become null).
class LogValue {
 public:
  LogValue(absl::string_view s);  // NOLINT: implicit by design.
  LogValue(const char* s) : LogValue(absl::string_view(s)) {}  // NOLINT
  LogValue(const std::string& s) : LogValue(absl::string_view(s)) {}  // NOLINT
  LogValue(bool b) : json_(b ? "true" : "false") {}  // NOLINT
  LogValue(double d);  // NOLINT
  template <typename T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>,
                                         int> = 0>
  LogValue(T v) : json_(std::to_string(v)) {}  // NOLINT

  const std::string& json() const { return json_; }

 private:
  std::string json_;
};

using LogFields = std::vector<std::pair<std::string, LogValue>>;

// Writes one event if `level` passes the filter.
void LogEvent(LogLevel level, absl::string_view component, absl::string_view event,
              absl::string_view request_id, const LogFields& fields = {});

// The line LogEvent writes (without the trailing newline).
std::string FormatLogLine(absl::Time time, LogLevel level, absl::string_view component,
                          absl::string_view event, absl::string_view request_id,
                          const LogFields& fields);

// `s` as a JSON string literal, quotes included; invalid UTF-8 bytes become
// U+FFFD so the line stays valid JSON.
std::string JsonQuote(absl::string_view s);

// Replaces stderr as the destination of whole lines (tests); nullptr restores
// stderr.
void SetLogSink(std::function<void(absl::string_view line)> sink);

}  // namespace tandem::services

#endif  // TANDEM_SERVICES_COMMON_LOG_H_
