// The generate CLI's library on a tiny random-weight model and on the shipped
// demo model (assets/target).
#include "tools/generate/generate_lib.h"

#include <cctype>
#include <iostream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/oracles.h"
#include "tools/make_tiny_model/tiny_model.h"

namespace tandem::tools {
namespace {

using ::testing::HasSubstr;

class GenerateTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    TinyModelOptions options;
    options.vocab_size = 320;
    options.seed = 3;
    absl::StatusOr<TinyModelPaths> written =
        WriteTinyModel(options, testing::MakeTempDir("generate_tiny"));
    ASSERT_TRUE(written.ok()) << written.status();
    paths_ = new TinyModelPaths(*written);
  }
  static void TearDownTestSuite() { delete paths_; }

  void SetUp() override { generator_ = Load({paths_->gguf_path}); }

  static std::unique_ptr<TextGenerator> Load(const ModelLoadOptions& options) {
    absl::StatusOr<std::unique_ptr<TextGenerator>> g = TextGenerator::Load(options);
    EXPECT_TRUE(g.ok()) << g.status();
    return g.ok() ? *std::move(g) : nullptr;
  }

  static GenerateOptions Options(double temperature, uint64_t seed = 0) {
    GenerateOptions o;
    o.prompt_tokens = {1, 100, 37, 250, 5};
    o.max_new_tokens = 24;
    o.sampling.temperature = temperature;
    o.seed = seed;
    return o;
  }

  GenerateResult Run(const GenerateOptions& options, std::ostream* text = nullptr) {
    absl::StatusOr<GenerateResult> r = generator_->Run(options, text, nullptr);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : GenerateResult{};
  }

  static TinyModelPaths* paths_;
  std::unique_ptr<TextGenerator> generator_;
};

TinyModelPaths* GenerateTest::paths_ = nullptr;

TEST_F(GenerateTest, GreedyIsDeterministicAndEqualsTopKOneSampling) {
  const GenerateResult a = Run(Options(0.0));
  const GenerateResult b = Run(Options(0.0));
  ASSERT_EQ(a.sequences.size(), 1u);
  EXPECT_FALSE(a.sequences[0].tokens.empty());
  EXPECT_EQ(a.sequences[0].tokens, b.sequences[0].tokens);
  // top_k = 1 sampling goes through the stochastic path but must pick argmax.
  GenerateOptions top1 = Options(1.0, 99);
  top1.sampling.top_k = 1;
  EXPECT_EQ(Run(top1).sequences[0].tokens, a.sequences[0].tokens);
}

TEST_F(GenerateTest, SameSeedGivesSameSample) {
  const GenerateResult a = Run(Options(1.0, 5));
  const GenerateResult b = Run(Options(1.0, 5));
  EXPECT_EQ(a.sequences[0].tokens, b.sequences[0].tokens);
  EXPECT_EQ(a.sequences[0].text, b.sequences[0].text);
}

TEST_F(GenerateTest, NumSamplesAreSeededSeedPlusIndexAndDiffer) {
  GenerateOptions options = Options(1.0, 5);
  options.num_samples = 4;
  const GenerateResult r = Run(options);
  ASSERT_EQ(r.sequences.size(), 4u);
  std::set<std::vector<int64_t>> distinct;
  for (const GeneratedSequence& s : r.sequences) distinct.insert(s.tokens);
  EXPECT_GT(distinct.size(), 1u);
  EXPECT_EQ(r.sequences[0].tokens, Run(Options(1.0, 5)).sequences[0].tokens);
  EXPECT_EQ(r.sequences[2].tokens, Run(Options(1.0, 7)).sequences[0].tokens);
}

TEST_F(GenerateTest, BeamSearchReturnsNumReturnSequencesBestFirst) {
  GenerateOptions options = Options(0.0);
  options.num_beams = 4;
  options.num_return_sequences = 3;
  const GenerateResult r = Run(options);
  ASSERT_EQ(r.sequences.size(), 3u);
  std::set<std::vector<int64_t>> distinct;
  for (size_t i = 0; i < r.sequences.size(); ++i) {
    distinct.insert(r.sequences[i].tokens);
    if (i > 0) EXPECT_GE(r.sequences[i - 1].score, r.sequences[i].score);
  }
  EXPECT_EQ(distinct.size(), 3u);
}

TEST_F(GenerateTest, StreamedTextIsPromptThenEachSample) {
  GenerateOptions options = Options(0.0);
  options.prompt_tokens.clear();
  options.prompt = "ab cd";
  std::ostringstream text;
  const GenerateResult r = Run(options, &text);
  ASSERT_EQ(r.sequences.size(), 1u);
  std::vector<int32_t> all(r.prompt_tokens.begin(), r.prompt_tokens.end());
  all.insert(all.end(), r.sequences[0].tokens.begin(), r.sequences[0].tokens.end());
  absl::StatusOr<std::string> decoded = generator_->tokenizer().Decode(all);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(absl::StartsWith(*decoded, "ab cd")) << *decoded;
  EXPECT_EQ(text.str(), *decoded + "\n");
  EXPECT_TRUE(absl::EndsWith(*decoded, r.sequences[0].text));
}

TEST_F(GenerateTest, HfDirectoryWithGgufTokenizerMatchesGguf) {
  ModelLoadOptions load;
  load.model_path = paths_->hf_dir;
  load.tokenizer_path = paths_->gguf_path;
  std::unique_ptr<TextGenerator> hf = Load(load);
  ASSERT_NE(hf, nullptr);
  absl::StatusOr<GenerateResult> r = hf->Run(Options(0.0), nullptr, nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->sequences[0].tokens, Run(Options(0.0)).sequences[0].tokens);
}

TEST_F(GenerateTest, BadOptionsNameTheFlag) {
  struct BadCase {
    std::string flag;
    GenerateOptions options;
  };
  std::vector<BadCase> cases;
  auto add = [&](std::string flag, auto mutate) {
    GenerateOptions o = Options(1.0);
    mutate(o);
    cases.push_back({std::move(flag), o});
  };
  add("--temperature", [](GenerateOptions& o) { o.sampling.temperature = -1; });
  add("--top_p", [](GenerateOptions& o) { o.sampling.top_p = 1.5; });
  add("--min_p", [](GenerateOptions& o) { o.sampling.min_p = 2; });
  add("--repetition_penalty", [](GenerateOptions& o) { o.sampling.repetition_penalty = 0; });
  add("--preset", [](GenerateOptions& o) { o.sampling.preset = "wild"; });
  add("--max_new_tokens", [](GenerateOptions& o) { o.max_new_tokens = 0; });
  add("--num_samples", [](GenerateOptions& o) { o.num_samples = 0; });
  add("--num_return_sequences", [](GenerateOptions& o) {
    o.num_beams = 2;
    o.num_return_sequences = 3;
  });
  add("--prompt", [](GenerateOptions& o) { o.prompt = "both set"; });
  add("--prompt_tokens", [](GenerateOptions& o) { o.prompt_tokens = {1, 320}; });
  for (const BadCase& c : cases) {
    absl::StatusOr<GenerateResult> r = generator_->Run(c.options, nullptr, nullptr);
    ASSERT_FALSE(r.ok()) << c.flag;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << c.flag;
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(c.flag));
  }
  EXPECT_EQ(generator_->num_open_sequences(), 0);
}

TEST(GenerateLoadTest, BadLoadOptionsAreErrors) {
  ModelLoadOptions dtype{"/nonexistent"};
  dtype.dtype = "int8";
  EXPECT_THAT(std::string(TextGenerator::Load(dtype).status().message()), HasSubstr("--dtype"));
  ModelLoadOptions device{"/nonexistent"};
  device.device = "tpu";
  EXPECT_THAT(std::string(TextGenerator::Load(device).status().message()),
              HasSubstr("--device"));
  const absl::Status missing = TextGenerator::Load({"/nonexistent/model"}).status();
  EXPECT_FALSE(missing.ok());
  EXPECT_THAT(std::string(missing.message()), HasSubstr("/nonexistent/model"));
}

TEST(ParseTokenListTest, ParsesIdsAndRejectsGarbage) {
  absl::StatusOr<std::vector<int64_t>> ids = ParseTokenList("1, 2,3");
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (std::vector<int64_t>{1, 2, 3}));
  for (const char* bad : {"1,x", "1,,2", "-4", ""}) {
    EXPECT_THAT(std::string(ParseTokenList(bad).status().message()),
                HasSubstr("--prompt_tokens"))
        << bad;
  }
}

TEST(GenerateDemoModelTest, GreedyTextFromAssetsTargetIsWords) {
  absl::StatusOr<std::string> config = testing::RunfilePath("assets/target/config.json");
  ASSERT_TRUE(config.ok()) << config.status();
  ModelLoadOptions load;
  load.model_path = config->substr(0, config->rfind('/'));
  absl::StatusOr<std::unique_ptr<TextGenerator>> g = TextGenerator::Load(load);
  ASSERT_TRUE(g.ok()) << g.status();
  GenerateOptions options;
  options.prompt = "In the beginning";
  options.max_new_tokens = 40;
  options.sampling.temperature = 0.0;
  std::ostringstream text;
  absl::StatusOr<GenerateResult> r = (*g)->Run(options, &text, nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  const GeneratedSequence& s = r->sequences[0];
  EXPECT_TRUE(s.finished_on_eos || s.tokens.size() == 40u);
  EXPECT_TRUE(absl::StartsWith(text.str(), "In the beginning")) << text.str();
  // A trained model continues with words: mostly letters and spaces, several
  // distinct words.
  int letters_or_spaces = 0;
  for (char ch : s.text) letters_or_spaces += std::isalpha(static_cast<unsigned char>(ch)) || ch == ' ';
  EXPECT_GT(letters_or_spaces, 0.8 * s.text.size()) << s.text;
  std::vector<std::string> words = absl::StrSplit(s.text, ' ', absl::SkipEmpty());
  EXPECT_GE(std::set<std::string>(words.begin(), words.end()).size(), 5u) << s.text;
  std::cout << "[demo] " << text.str();
}

}  // namespace
}  // namespace tandem::tools
