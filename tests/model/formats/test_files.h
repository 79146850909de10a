#ifndef TANDEM_TESTS_MODEL_FORMATS_TEST_FILES_H_
#define TANDEM_TESTS_MODEL_FORMATS_TEST_FILES_H_

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include <unistd.h>

namespace tandem::model::formats {

// A fresh directory under $TEST_TMPDIR.
inline std::string TestDir(const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string templ = std::string(tmp ? tmp : "/tmp") + "/" + name + "_XXXXXX";
  return mkdtemp(templ.data()) ? templ : std::string(tmp ? tmp : "/tmp");
}

inline void WriteString(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), bytes.size());
}

inline std::string ReadString(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace tandem::model::formats

#endif  // TANDEM_TESTS_MODEL_FORMATS_TEST_FILES_H_
