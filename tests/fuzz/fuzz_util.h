#ifndef TANDEM_TESTS_FUZZ_FUZZ_UTIL_H_
#define TANDEM_TESTS_FUZZ_FUZZ_UTIL_H_

// Helpers shared by the libFuzzer entry points in tests/fuzz/.

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace tandem::fuzz {

// A private directory (under $TEST_TMPDIR, else $TMPDIR, else /tmp) holding
// one file `name` that every Write() replaces: for readers that only open
// paths. Removed by the destructor. Aborts when the file cannot be written
// (an environment problem, not a finding). Not thread-safe; one per target.
class ScratchFile {
 public:
  explicit ScratchFile(const std::string& name);
  ~ScratchFile();
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;

  const std::string& dir() const { return dir_; }
  const std::string& path() const { return path_; }
  void Write(const uint8_t* data, size_t size);

 private:
  std::string dir_;
  std::string path_;
};

// An invariant of the code under test: when `ok` is false, prints `what` and
// aborts, so libFuzzer (and the replay test) reports the input as a crash.
void FuzzCheck(bool ok, absl::string_view what);

// Bytes of tensor data a target may materialize per input: bounds the time
// and memory of one execution, not what the readers accept.
inline constexpr uint64_t kMaterializeBudget = 16 << 20;

}  // namespace tandem::fuzz

#endif  // TANDEM_TESTS_FUZZ_FUZZ_UTIL_H_
