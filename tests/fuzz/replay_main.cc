// Replays inputs through a libFuzzer entry point without libFuzzer: each
// argument is a file or a directory (walked recursively, files in sorted
// order). Used by the *_fuzz_test cc_tests (the seed corpus and the crash
// reproducers under tests/fuzz/corpus/) and by the fuzz binaries when they are
// not built with --config=fuzz. Arguments starting with '-' (libFuzzer flags)
// are ignored. Exits 1 when no input was found, so a missing corpus fails the
// test; a crashing input crashes this process, naming the file first.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::vector<std::string> InputFiles(const std::string& arg) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  std::error_code ec;
  if (fs::is_directory(arg, ec)) {
    for (const auto& entry : fs::recursive_directory_iterator(arg, ec)) {
      if (entry.is_regular_file(ec)) files.push_back(entry.path().string());
    }
    std::sort(files.begin(), files.end());
  } else if (fs::is_regular_file(arg, ec)) {
    files.push_back(arg);
  }
  return files;
}

}  // namespace

int main(int argc, char** argv) {
  size_t replayed = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.empty() || arg[0] == '-') continue;
    const std::vector<std::string> files = InputFiles(arg);
    if (files.empty()) std::fprintf(stderr, "replay: no input files under %s\n", arg.c_str());
    for (const std::string& file : files) {
      std::ifstream in(file, std::ios::binary);
      const std::string bytes{std::istreambuf_iterator<char>(in), {}};
      std::fprintf(stderr, "replay: %s (%zu bytes)\n", file.c_str(), bytes.size());
      LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
      ++replayed;
    }
  }
  std::fprintf(stderr, "replay: %zu inputs ran without a crash\n", replayed);
  return replayed > 0 ? 0 : 1;
}
