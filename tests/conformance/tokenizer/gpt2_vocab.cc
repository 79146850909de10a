#include "tests/conformance/tokenizer/gpt2_vocab.h"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/testing/oracles.h"

namespace tandem::testing {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// encoder.json + vocab.bpe ("#version" line, then "a b" merges) as JSON.
std::string ToTokenizerJson(const std::string& encoder, const std::string& vocab_bpe) {
  nlohmann::json merges = nlohmann::json::array();
  std::istringstream lines(vocab_bpe);
  bool first = true;
  for (std::string line; std::getline(lines, line); first = false) {
    // Only the first line is a comment: "#version: 0.2"; "# $" is a merge.
    if (line.empty() || (first && line.rfind("#version", 0) == 0)) continue;
    merges.push_back(line);
  }
  nlohmann::json j;
  j["model"] = {{"type", "BPE"}, {"vocab", nlohmann::json::parse(encoder)}, {"merges", merges}};
  j["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
  j["decoder"] = {{"type", "ByteLevel"}};
  j["added_tokens"] = {{{"id", 50256}, {"content", "<|endoftext|>"}, {"special", true}}};
  return j.dump();
}

}  // namespace

absl::StatusOr<std::string> Gpt2TokenizerJson() {
  absl::StatusOr<std::string> script = RunfilePath("tests/conformance/tokenizer/gpt2_encode.js");
  if (!script.ok()) return script.status();
  absl::StatusOr<std::string> files = RunNode(*script, {"--files"});
  if (!files.ok()) return files.status();
  const auto paths = nlohmann::json::parse(*files);
  return ToTokenizerJson(ReadFile(paths["encoder"]), ReadFile(paths["vocab"]));
}

}  // namespace tandem::testing
