#ifndef TANDEM_TESTS_TESTING_SUBPROCESS_H_
#define TANDEM_TESTS_TESTING_SUBPROCESS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace tandem::testing {

// A child process for tests that need real processes (to kill, stop or
// restart them). Output goes to `log_path`. The destructor kills (SIGKILL)
// and reaps it if it is still running.
class Subprocess {
 public:
  // Starts argv[0] with the given arguments.
  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(const std::vector<std::string>& argv,
                                                           const std::string& log_path);
  ~Subprocess();

  int pid() const { return pid_; }
  // Sends `signal` (SIGKILL, SIGSTOP, SIGCONT, SIGTERM...).
  void Signal(int signal);
  // Waits for the process to exit; its exit status (or 128 + signal), or
  // DeadlineExceeded.
  absl::StatusOr<int> Wait(absl::Duration timeout);
  bool running();

 private:
  explicit Subprocess(int pid) : pid_(pid) {}
  int pid_;
  bool reaped_ = false;
};

// Waits until `path` holds a port number written by a server started with
// --port_file; the port, or DeadlineExceeded naming the path.
absl::StatusOr<int> WaitForPortFile(const std::string& path, absl::Duration timeout);

}  // namespace tandem::testing

#endif  // TANDEM_TESTS_TESTING_SUBPROCESS_H_
