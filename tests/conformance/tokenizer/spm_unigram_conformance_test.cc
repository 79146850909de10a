// SentencePiece unigram .model files read by our own reader
// (UnigramTokenizer) must encode and decode exactly as Debian's
// `spm_encode` / `spm_decode` (libsentencepiece 0.1.97, an independent
// implementation). The models are trained in the test with `spm_train` on
// the shared Unicode corpus, over a grid of normalizers (identity, nmt_nfkc,
// nfkc_cf), byte_fallback, user-defined and control symbols and whitespace
// options; they are then run on a held-out corpus (another seed), so
// characters outside the vocabulary exercise <unk> and byte fallback.

#include <algorithm>
#include <cstdio>
#include <optional>
#include <fstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "tests/conformance/tokenizer/corpus.h"
#include "tests/testing/oracles.h"
#include "tokenizer/load_tokenizer.h"

namespace tandem::tokenizer {
namespace {

std::string RunCommand(const std::string& cmd) {
  std::string text;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) return text;
  char buffer[65536];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) text.append(buffer, n);
  pclose(pipe);
  return text;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

std::string WriteLines(const std::string& path, const std::vector<std::string>& lines) {
  std::ofstream out(path);
  for (const std::string& l : lines) out << l << "\n";
  return path;
}

std::vector<std::string> CorpusLines(int count, uint32_t seed) {
  std::vector<std::string> lines;
  for (std::string s : tandem::testing::TokenizerCorpus(count, seed, /*with_special_text=*/false)) {
    // spm_encode reads lines.
    lines.push_back(absl::StrReplaceAll(s, {{"\n", " "}, {"\r", " "}}));
  }
  return lines;
}

struct TrainConfig {
  std::string name;
  std::string flags;  // extra spm_train flags
};

class SpmUnigramConformanceTest : public ::testing::TestWithParam<TrainConfig> {};

TEST_P(SpmUnigramConformanceTest, EncodesAndDecodesAsLibSentencePiece) {
  ASSERT_EQ(system("command -v spm_train >/dev/null 2>&1"), 0)
      << "spm_train (Debian package sentencepiece) is required; run scripts/setup.sh";
  const std::string dir = tandem::testing::MakeTempDir("unigram");
  const std::string train = WriteLines(dir + "/train.txt", CorpusLines(3000, 7));
  const std::string prefix = dir + "/m";
  RunCommand(absl::StrCat("spm_train --input=", train, " --model_prefix=", prefix,
                          " --model_type=unigram --vocab_size=1600 --hard_vocab_limit=false",
                          " --num_threads=1 --character_coverage=0.98 ",
                          GetParam().flags, " >", dir, "/train.log 2>&1"));
  const std::string model = prefix + ".model";
  auto tokenizer = LoadTokenizer(model);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status() << "\n"
                              << RunCommand("tail -5 " + dir + "/train.log");
  EXPECT_THAT((*tokenizer)->identity(), ::testing::StartsWith("sentencepiece-unigram"));

  std::vector<std::string> lines = CorpusLines(2500, 11);
  for (std::string s : CorpusLines(500, 7)) lines.push_back(s);
  const std::string input = WriteLines(dir + "/input.txt", lines);
  const std::vector<std::string> expected = Lines(RunCommand(absl::StrCat(
      "spm_encode --model=", model, " --output_format=id --input=", input, " 2>/dev/null")));
  ASSERT_EQ(expected.size(), lines.size());

  std::vector<std::string> ours_ids, ours_text;
  int identical_ids = 0, unk_or_bytes = 0;
  std::string report;
  for (size_t i = 0; i < lines.size(); ++i) {
    auto ids = (*tokenizer)->Encode(lines[i], EncodeOptions{/*add_special_tokens=*/false,
                                                            /*parse_special=*/false});
    ASSERT_TRUE(ids.ok()) << ids.status();
    const std::string joined = absl::StrJoin(*ids, " ");
    if (joined == expected[i]) {
      ++identical_ids;
    } else if (report.size() < 3000) {
      absl::StrAppend(&report, "\n  \"", lines[i].substr(0, 80), "\"\n    ours ", joined,
                      "\n    spm  ", expected[i]);
    }
    for (int32_t id : *ids) {
      auto bytes = (*tokenizer)->TokenBytes(id);
      if (bytes.ok() && (bytes->size() == 1 && (*bytes)[0] & 0x80 || *bytes == " \xE2\x81\x87 ")) {
        ++unk_or_bytes;
        break;
      }
    }
    ours_ids.push_back(joined);
    auto text = (*tokenizer)->Decode(*ids, DecodeOptions{/*skip_special_tokens=*/true});
    ASSERT_TRUE(text.ok()) << text.status();
    ours_text.push_back(*text);
  }
  EXPECT_EQ(identical_ids, static_cast<int>(lines.size())) << "differences:" << report;
  // The held-out corpus must reach the fallback paths for the test to mean anything.
  EXPECT_GT(unk_or_bytes, 10);

  const std::string ids_file = WriteLines(dir + "/ids.txt", ours_ids);
  const std::vector<std::string> decoded = Lines(RunCommand(absl::StrCat(
      "spm_decode --model=", model, " --input_format=id --input=", ids_file, " 2>/dev/null")));
  ASSERT_EQ(decoded.size(), lines.size());
  int identical_text = 0;
  report.clear();
  for (size_t i = 0; i < lines.size(); ++i) {
    if (decoded[i] == ours_text[i]) {
      ++identical_text;
    } else if (report.size() < 2000) {
      absl::StrAppend(&report, "\n  ours \"", ours_text[i].substr(0, 80), "\"\n  spm  \"",
                      decoded[i].substr(0, 80), "\"");
    }
  }
  EXPECT_EQ(identical_text, static_cast<int>(lines.size())) << "decode differences:" << report;
  std::cout << GetParam().name << ": ids " << identical_ids << "/" << lines.size()
            << ", decodes " << identical_text << "/" << lines.size() << " identical to spm; "
            << unk_or_bytes << " lines use <unk> or byte pieces\n";
}

// The tandem-side options SentencePiece has no equivalent for: BOS with
// add_special_tokens, control pieces parsed from the text, kept on decode.
TEST(UnigramTokenizerTest, ControlPiecesAndBos) {
  const std::string dir = tandem::testing::MakeTempDir("unigram_special");
  const std::string train = WriteLines(dir + "/train.txt", CorpusLines(1000, 3));
  RunCommand(absl::StrCat("spm_train --input=", train, " --model_prefix=", dir,
                          "/m --model_type=unigram --vocab_size=1200 --hard_vocab_limit=false",
                          " --character_coverage=0.98 --control_symbols='<cls>' >/dev/null 2>&1"));
  auto tokenizer = LoadTokenizer(dir + "/m.model");
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  const Tokenizer& t = **tokenizer;
  ASSERT_EQ(t.bos_id(), std::optional<int32_t>(1));
  ASSERT_EQ(t.eos_id(), std::optional<int32_t>(2));
  const int32_t cls = 3;  // control symbols follow <unk> <s> </s>
  EXPECT_TRUE(t.IsSpecial(cls));
  auto ids = t.Encode("hello<cls> world");
  ASSERT_TRUE(ids.ok());
  ASSERT_GE(ids->size(), 3u);
  EXPECT_EQ(ids->front(), 1);
  EXPECT_EQ(std::count(ids->begin(), ids->end(), cls), 1);
  auto kept = t.Decode(*ids, DecodeOptions{/*skip_special_tokens=*/false});
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(*kept, "<s>hello<cls> world");
  auto skipped = t.Decode(*ids);
  ASSERT_TRUE(skipped.ok());
  EXPECT_EQ(*skipped, "hello world");
  auto plain = t.Encode("hello<cls>", EncodeOptions{/*add_special_tokens=*/false,
                                                    /*parse_special=*/false});
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(std::count(plain->begin(), plain->end(), cls), 0);
  EXPECT_EQ(t.Decode({-1}).status().code(), absl::StatusCode::kOutOfRange);
}

INSTANTIATE_TEST_SUITE_P(
    Grid, SpmUnigramConformanceTest,
    ::testing::Values(
        TrainConfig{"identity", "--normalization_rule_name=identity"},
        TrainConfig{"nmt_nfkc", "--normalization_rule_name=nmt_nfkc"},
        TrainConfig{"nmt_nfkc_byte_fallback",
                    "--normalization_rule_name=nmt_nfkc --byte_fallback=true"},
        TrainConfig{"identity_byte_fallback_symbols",
                    "--normalization_rule_name=identity --byte_fallback=true "
                    "--user_defined_symbols='<sep>,ab,http' --control_symbols='<cls>,<mask>'"},
        TrainConfig{"nfkc_cf_keep_whitespace",
                    "--normalization_rule_name=nfkc_cf --remove_extra_whitespaces=false "
                    "--add_dummy_prefix=false"},
        TrainConfig{"nmt_nfkc_no_dummy_prefix",
                    "--normalization_rule_name=nmt_nfkc --add_dummy_prefix=false "
                    "--byte_fallback=true --user_defined_symbols=2024,the"}),
    [](const ::testing::TestParamInfo<TrainConfig>& info) { return info.param.name; });

}  // namespace
}  // namespace tandem::tokenizer
