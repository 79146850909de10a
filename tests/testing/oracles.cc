#include "tests/testing/oracles.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace tandem::testing {
namespace {

std::string Quote(absl::string_view s) {
  return absl::StrCat("'", absl::StrReplaceAll(s, {{"'", "'\\''"}}), "'");
}

std::string Dirname(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

absl::StatusOr<std::string> Run(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return absl::InternalError(absl::StrCat("cannot run: ", command));
  std::string out;
  char buffer[65536];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) out.append(buffer, n);
  const int status = pclose(pipe);
  if (status != 0) {
    return absl::InternalError(absl::StrCat(
        "command failed (status ", WIFEXITED(status) ? WEXITSTATUS(status) : status,
        "): ", command, "\n", out.substr(0, 2000)));
  }
  return out;
}

}  // namespace

absl::StatusOr<std::string> RunfilePath(absl::string_view workspace_relative) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  if (srcdir == nullptr) return absl::NotFoundError("TEST_SRCDIR is not set (not a Bazel test?)");
  const std::string path = absl::StrCat(srcdir, "/", workspace ? workspace : "tandem", "/",
                                        workspace_relative);
  char resolved[PATH_MAX];
  if (realpath(path.c_str(), resolved) == nullptr) {
    return absl::NotFoundError(absl::StrCat(path, " is not a runfile (missing from data?)"));
  }
  return std::string(resolved);
}

absl::StatusOr<std::string> OraclesDir() {
  auto package = RunfilePath("tests/oracles/package.json");
  if (!package.ok()) return package.status();
  const std::string dir = Dirname(*package) + "/node_modules";
  struct stat st;
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::NotFoundError(absl::StrCat(dir, " does not exist: run scripts/setup.sh"));
  }
  return dir;
}

absl::StatusOr<std::string> RunNode(const std::string& script,
                                    const std::vector<std::string>& args) {
  auto dir = OraclesDir();
  if (!dir.ok()) return dir.status();
  std::string command = absl::StrCat("NODE_PATH=", Quote(*dir), " node ", Quote(script));
  for (const std::string& a : args) absl::StrAppend(&command, " ", Quote(a));
  return Run(command);
}

absl::StatusOr<std::string> RunPython(const std::string& script,
                                      const std::vector<std::string>& args) {
  std::string command = absl::StrCat("/usr/bin/python3 ", Quote(script));
  for (const std::string& a : args) absl::StrAppend(&command, " ", Quote(a));
  return Run(command);
}

absl::Status ExtractFromLlamaCppBundle(const std::vector<std::string>& paths,
                                       const std::string& dest_dir) {
  auto dir = OraclesDir();
  if (!dir.ok()) return dir.status();
  const std::string bundle = *dir + "/node-llama-cpp/llama/gitRelease.bundle";
  const std::string git_dir = MakeTempDir("llama_cpp_git");
  std::string command = absl::StrCat(
      "set -e; git init -q ", Quote(git_dir), "; git -C ", Quote(git_dir),
      " fetch -q ", Quote(bundle), " HEAD; mkdir -p ", Quote(dest_dir), "; git -C ",
      Quote(git_dir), " archive FETCH_HEAD");
  for (const std::string& p : paths) absl::StrAppend(&command, " ", Quote(p));
  absl::StrAppend(&command, " | tar x -C ", Quote(dest_dir), " 2>&1");
  auto out = Run(command);
  return out.ok() ? absl::OkStatus() : out.status();
}

std::string MakeTempDir(absl::string_view prefix) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string templ = absl::StrCat(tmp ? tmp : "/tmp", "/", prefix, "_XXXXXX");
  if (mkdtemp(templ.data()) == nullptr) return std::string(tmp ? tmp : "/tmp");
  return templ;
}

}  // namespace tandem::testing
