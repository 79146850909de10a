#include "tests/fuzz/fuzz_util.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace tandem::fuzz {

ScratchFile::ScratchFile(const std::string& name) {
  const char* base = std::getenv("TEST_TMPDIR");
  if (base == nullptr) base = std::getenv("TMPDIR");
  std::string templ = std::string(base != nullptr ? base : "/tmp") + "/tandem_fuzz_XXXXXX";
  FuzzCheck(mkdtemp(templ.data()) != nullptr, "cannot create a scratch directory");
  dir_ = templ;
  path_ = dir_ + "/" + name;
}

ScratchFile::~ScratchFile() {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void ScratchFile::Write(const uint8_t* data, size_t size) {
  std::ofstream out(path_, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  FuzzCheck(static_cast<bool>(out), "cannot write the scratch file");
}

void FuzzCheck(bool ok, absl::string_view what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz invariant violated: %.*s\n", static_cast<int>(what.size()),
               what.data());
  std::abort();
}

}  // namespace tandem::fuzz
