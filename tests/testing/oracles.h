#ifndef TANDEM_TESTS_TESTING_ORACLES_H_
#define TANDEM_TESTS_TESTING_ORACLES_H_

// Finding and running the npm oracles (tests/oracles/node_modules, installed
// by scripts/setup.sh) from a Bazel test. A test using these declares
// data = ["//tests/oracles:package.json", <its scripts>] and tags it needs.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tandem::testing {

// Absolute path of a runfile given relative to the workspace root
// (e.g. "tests/conformance/tokenizer/hf_encode.js"), symlinks resolved.
// NotFound outside a Bazel test or if the file is missing.
absl::StatusOr<std::string> RunfilePath(absl::string_view workspace_relative);

// The oracles' node_modules directory in the source tree. NotFound if
// package.json is not a runfile or node_modules is not installed.
absl::StatusOr<std::string> OraclesDir();

// Runs `node <script> <args...>` (arguments shell-quoted), returning its
// stdout. Internal if node cannot be started or exits non-zero (the message
// carries the exit status). NODE_PATH is set to OraclesDir().
absl::StatusOr<std::string> RunNode(const std::string& script,
                                    const std::vector<std::string>& args);

// Runs Debian's `/usr/bin/python3 <script> <args...>` (python3-jinja2 is
// installed for it by scripts/setup.sh), returning its stdout; errors as
// RunNode.
absl::StatusOr<std::string> RunPython(const std::string& script,
                                      const std::vector<std::string>& args);

// Extracts `paths` (e.g. "models/ggml-vocab-gpt-2.gguf") from the llama.cpp
// source bundled with node-llama-cpp (llama/gitRelease.bundle) into
// `dest_dir` (created), keeping their relative paths. Needs git and tar.
absl::Status ExtractFromLlamaCppBundle(const std::vector<std::string>& paths,
                                       const std::string& dest_dir);

// A fresh directory under $TEST_TMPDIR (or /tmp).
std::string MakeTempDir(absl::string_view prefix);

}  // namespace tandem::testing

#endif  // TANDEM_TESTS_TESTING_ORACLES_H_
