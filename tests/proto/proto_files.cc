#include "tests/proto/proto_files.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace tandem::proto_testing {
namespace {

constexpr char kContractDir[] = "proto/tandem/v1";

std::filesystem::path RunfilesRoot() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  if (srcdir == nullptr) return std::filesystem::current_path();
  return std::filesystem::path(srcdir) / (workspace != nullptr ? workspace : "tandem");
}

}  // namespace

std::vector<std::string> ContractProtoFiles() {
  std::vector<std::string> files;
  std::error_code error;
  for (const auto& entry :
       std::filesystem::directory_iterator(RunfilesRoot() / kContractDir, error)) {
    if (entry.path().extension() == ".proto") {
      files.push_back(std::string(kContractDir) + "/" + entry.path().filename().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string ReadRunfile(const std::string& path) {
  std::ifstream in(RunfilesRoot() / path);
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

}  // namespace tandem::proto_testing
