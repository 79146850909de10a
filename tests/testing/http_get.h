#ifndef TANDEM_TESTS_TESTING_HTTP_GET_H_
#define TANDEM_TESTS_TESTING_HTTP_GET_H_

#include <string>

#include "absl/status/statusor.h"

namespace tandem::testing {

// GET http://127.0.0.1:<port><path> (HTTP/1.0); the body of a 200 answer, or
// an error naming the status line.
absl::StatusOr<std::string> HttpGet(int port, const std::string& path);

// A TCP port on 127.0.0.1 that was free a moment ago.
absl::StatusOr<int> FreePort();

// The value of the first sample of `metric` (exact name incl. labels, e.g.
// `tandem_x_total{code="OK"}`) in Prometheus text, or NotFound.
absl::StatusOr<double> MetricValue(const std::string& text, const std::string& metric);

}  // namespace tandem::testing

#endif  // TANDEM_TESTS_TESTING_HTTP_GET_H_
