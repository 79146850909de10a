// The shipped demo tokenizer (assets/target/tokenizer.model, a SentencePiece
// BPE model) read by our own .model reader must encode exactly as Debian's
// `spm_encode` (libsentencepiece, an independent implementation) over the
// shared Unicode corpus and the held-out benchmark prompts.

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "tests/conformance/tokenizer/corpus.h"
#include "tests/testing/oracles.h"
#include "tokenizer/load_tokenizer.h"
#include "tokenizer/sentencepiece_model_file.h"

namespace tandem::tokenizer {
namespace {

std::vector<std::vector<int32_t>> SpmEncode(const std::string& model,
                                            const std::vector<std::string>& lines) {
  const std::string dir = tandem::testing::MakeTempDir("spm");
  const std::string input = dir + "/input.txt";
  {
    std::ofstream out(input);
    for (const std::string& l : lines) out << l << "\n";
  }
  const std::string cmd = absl::StrCat("spm_encode --model=", model,
                                       " --output_format=id --input=", input, " 2>/dev/null");
  FILE* pipe = popen(cmd.c_str(), "r");
  std::vector<std::vector<int32_t>> out;
  if (pipe == nullptr) return out;
  std::string text;
  char buffer[65536];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) text.append(buffer, n);
  pclose(pipe);
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    std::vector<int32_t> ids;
    for (absl::string_view id : absl::StrSplit(line, ' ', absl::SkipEmpty())) {
      ids.push_back(std::stoi(std::string(id)));
    }
    out.push_back(std::move(ids));
  }
  if (!out.empty() && out.back().empty() && out.size() > lines.size()) out.pop_back();
  return out;
}

TEST(SentencePieceModelConformanceTest, MatchesSpmEncodeOnTheShippedTokenizer) {
  if (system("command -v spm_encode >/dev/null 2>&1") != 0) {
    GTEST_FAIL() << "spm_encode (Debian package sentencepiece) is required; run scripts/setup.sh";
  }
  auto model = tandem::testing::RunfilePath("assets/target/tokenizer.model");
  ASSERT_TRUE(model.ok()) << model.status();
  auto tokenizer = LoadTokenizer(*model);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  std::vector<std::string> lines;
  for (std::string s : tandem::testing::TokenizerCorpus(3000, 7, /*with_special_text=*/false)) {
    // spm_encode reads lines; the model keeps leading/trailing spaces as is.
    s = absl::StrReplaceAll(s, {{"\n", " "}, {"\r", " "}});
    lines.push_back(s);
  }
  auto prompts = tandem::testing::RunfilePath("assets/bench_prompts.jsonl");
  ASSERT_TRUE(prompts.ok());
  std::ifstream in(*prompts);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  const std::vector<std::vector<int32_t>> expected = SpmEncode(*model, lines);
  ASSERT_EQ(expected.size(), lines.size());
  int identical = 0;
  std::string report;
  for (size_t i = 0; i < lines.size(); ++i) {
    auto ours = (*tokenizer)->Encode(lines[i], EncodeOptions{/*add_special_tokens=*/false});
    ASSERT_TRUE(ours.ok()) << ours.status();
    if (*ours == expected[i]) {
      ++identical;
    } else if (report.size() < 2000) {
      absl::StrAppend(&report, "\n  \"", lines[i].substr(0, 60), "\"");
    }
  }
  EXPECT_EQ(identical, static_cast<int>(lines.size())) << "differences:" << report;
  std::cout << identical << "/" << lines.size() << " identical to spm_encode\n";
}

TEST(SentencePieceModelFileTest, RejectsMalformedAndUnsupportedModels) {
  EXPECT_EQ(ParseSentencePieceModel("", "x.model").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseSentencePieceModel("\x0a\xff\xff", "x.model").status().code(),
            absl::StatusCode::kInvalidArgument);
  // One piece "a", then trainer_spec with model_type 1 (unigram).
  const std::string unigram("\x0a\x03\x0a\x01\x61\x12\x02\x18\x01", 9);
  auto s = ParseSentencePieceModel(unigram, "u.model");
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(s.status().message(), ::testing::HasSubstr("model_type 1"));
  auto model = tandem::testing::RunfilePath("assets/target/tokenizer.model");
  ASSERT_TRUE(model.ok());
  const std::string dir = tandem::testing::MakeTempDir("spm_bad");
  auto load = [&](const std::string& bytes) {
    std::ofstream(dir + "/m.model", std::ios::binary) << bytes;
    return LoadTokenizer(dir + "/m.model").status();
  };
  // A unigram model without an <unk> piece.
  EXPECT_THAT(load(unigram).message(), ::testing::HasSubstr("no <unk> piece"));
  // With <unk>, but a normalizer we cannot reproduce (no precompiled charsmap).
  const std::string unk("\x0a\x09\x0a\x05<unk>\x18\x02", 11);
  const std::string nfkc("\x1a\x06\x0a\x04nfkc", 8);
  const absl::Status no_charsmap = load(unigram + unk + nfkc);
  EXPECT_EQ(no_charsmap.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(no_charsmap.message(), ::testing::HasSubstr("\"nfkc\" has no precompiled charsmap"));
  EXPECT_TRUE(load(unigram + unk).ok());
  std::ifstream file(*model, std::ios::binary);
  std::stringstream bytes;
  bytes << file.rdbuf();
  const std::string full = bytes.str();
  for (size_t cut = 1; cut < full.size(); cut += full.size() / 64 + 1) {
    auto truncated = ParseSentencePieceModel(full.substr(0, cut), "t.model");
    if (truncated.ok()) continue;  // a cut at a field boundary is a valid prefix
    EXPECT_THAT(truncated.status().message(), ::testing::HasSubstr("t.model"));
  }
}

}  // namespace
}  // namespace tandem::tokenizer
