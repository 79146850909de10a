// Our GGUF vocabulary loader against the expected-token fixtures that ship
// with llama.cpp (models/ggml-vocab-*.gguf + .inp/.out, extracted at test
// time from the llama.cpp source bundled in npm node-llama-cpp). The fixtures
// were produced with Hugging Face's tokenizers for the original models and
// are what llama.cpp's test-tokenizer-0 checks (add_special=false,
// parse_special=false).

#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/conformance/tokenizer/corpus.h"
#include "tests/testing/oracles.h"
#include "tokenizer/gguf_tokenizer.h"

namespace tandem::tokenizer {
namespace {

const char* const kVocabs[] = {"gpt-2", "llama-spm", "llama-bpe", "qwen2", "phi-3",
                               "starcoder", "refact", "mpt", "falcon", "command-r"};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// llama.cpp's test-tokenizer-0 format: inputs separated by
// "\n__ggml_vocab_test__\n", one line of space-separated ids per input.
void ParseFixtures(const std::string& inp, const std::string& out,
                   std::vector<std::string>& texts, std::vector<std::vector<int32_t>>& ids) {
  const std::string sep = "\n__ggml_vocab_test__\n";
  size_t pos = 0;
  while (pos < inp.size()) {
    const size_t next = inp.find(sep, pos);
    if (next == std::string::npos) {
      texts.push_back(inp.substr(pos));
      break;
    }
    texts.push_back(inp.substr(pos, next - pos));
    pos = next + sep.size();
  }
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::vector<int32_t> row;
    for (int32_t id; fields >> id;) row.push_back(id);
    ids.push_back(std::move(row));
  }
}

class GgufFixturesTest : public ::testing::TestWithParam<const char*> {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(tandem::testing::MakeTempDir("llama_cpp_vocab"));
    std::vector<std::string> paths;
    for (const char* v : kVocabs) {
      const std::string base = std::string("models/ggml-vocab-") + v + ".gguf";
      paths.insert(paths.end(), {base, base + ".inp", base + ".out"});
    }
    status_ = new absl::Status(tandem::testing::ExtractFromLlamaCppBundle(paths, *dir_));
  }
  static std::string* dir_;
  static absl::Status* status_;
};
std::string* GgufFixturesTest::dir_ = nullptr;
absl::Status* GgufFixturesTest::status_ = nullptr;

TEST_P(GgufFixturesTest, IdsIdenticalToLlamaCppFixtures) {
  ASSERT_TRUE(status_->ok()) << *status_;
  const std::string base = *dir_ + "/models/ggml-vocab-" + GetParam() + ".gguf";
  auto tok = LoadGgufTokenizer(base);
  ASSERT_TRUE(tok.ok()) << tok.status();
  std::vector<std::string> texts;
  std::vector<std::vector<int32_t>> expected;
  ParseFixtures(ReadFile(base + ".inp"), ReadFile(base + ".out"), texts, expected);
  ASSERT_EQ(texts.size(), expected.size());
  ASSERT_GT(texts.size(), 20u);
  std::vector<std::vector<int32_t>> ours;
  for (const std::string& t : texts) {
    EncodeOptions options;
    options.add_special_tokens = false;
    options.parse_special = false;
    auto ids = (*tok)->Encode(t, options);
    ASSERT_TRUE(ids.ok()) << ids.status();
    ours.push_back(*ids);
  }
  std::string report;
  const int identical = tandem::testing::CountIdentical(texts, ours, expected, 10, &report);
  std::cout << GetParam() << ": " << identical << "/" << texts.size()
            << " identical to llama.cpp fixtures (" << (*tok)->identity() << ")\n";
  EXPECT_EQ(identical, static_cast<int>(texts.size())) << report;
}

INSTANTIATE_TEST_SUITE_P(LlamaCppVocabs, GgufFixturesTest, ::testing::ValuesIn(kVocabs),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace tandem::tokenizer
