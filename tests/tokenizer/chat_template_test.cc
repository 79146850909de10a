#include "tokenizer/chat_template.h"

#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/formats/gguf_writer.h"
#include "tests/testing/oracles.h"
#include "tokenizer/chat_template_loader.h"

namespace tandem::tokenizer {
namespace {

using ::testing::HasSubstr;

constexpr char kChatMl[] =
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

std::string Message(const absl::Status& s) { return std::string(s.message()); }

TEST(ChatTemplateTest, RendersMessagesAndGenerationPrompt) {
  auto tmpl = ChatTemplate::Parse(kChatMl);
  ASSERT_TRUE(tmpl.ok()) << tmpl.status();
  const std::vector<ChatMessage> messages = {{"system", "Be brief."}, {"user", "Hi"}};
  ChatTemplateOptions options;
  EXPECT_EQ(*tmpl->Render(messages, options),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n");
  options.add_generation_prompt = true;
  EXPECT_THAT(*tmpl->Render(messages, options), ::testing::EndsWith("<|im_start|>assistant\n"));
  EXPECT_EQ(tmpl->source(), kChatMl);
}

TEST(ChatTemplateTest, SpecialTokensAndVariables) {
  auto tmpl = ChatTemplate::Parse("[{{ bos_token }}][{{ eos_token }}][{{ lang }}][{{ think }}]");
  ASSERT_TRUE(tmpl.ok());
  ChatTemplateOptions options;
  EXPECT_EQ(*tmpl->Render({}, options), "[][][][]");  // absent = undefined = ""
  options.bos_token = "<s>";
  options.eos_token = "</s>";
  options.string_variables["lang"] = "fr";
  options.bool_variables["think"] = false;
  EXPECT_EQ(*tmpl->Render({}, options), "[<s>][</s>][fr][False]");
  options.string_variables["messages"] = "clash";
  EXPECT_THAT(Message(tmpl->Render({}, options).status()), HasSubstr("'messages' is reserved"));
}

TEST(ChatTemplateTest, InvalidUtf8InputIsRejected) {
  auto tmpl = ChatTemplate::Parse(kChatMl);
  ASSERT_TRUE(tmpl.ok());
  auto out = tmpl->Render({{"user", "bad \xC3"}}, ChatTemplateOptions());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(out.status()), HasSubstr("messages[0].content"));
  EXPECT_FALSE(ChatTemplate::Parse("bad \xFF").ok());
}

TEST(ChatTemplateTest, RaiseExceptionGivesTheTemplatesMessage) {
  auto tmpl = ChatTemplate::Parse(
      "{% for m in messages %}{% if (m.role == 'user') != (loop.index0 % 2 == 0) %}"
      "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
      "{% endif %}{{ m.content }}{% endfor %}");
  ASSERT_TRUE(tmpl.ok()) << tmpl.status();
  EXPECT_EQ(*tmpl->Render({{"user", "a"}, {"assistant", "b"}}, ChatTemplateOptions()), "ab");
  auto bad = tmpl->Render({{"user", "a"}, {"user", "b"}}, ChatTemplateOptions());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Message(bad.status()), "Conversation roles must alternate user/assistant/user/assistant/...");
  EXPECT_TRUE(IsTemplateRaisedError(bad.status()));
}

TEST(ChatTemplateTest, RuntimeErrorsNameTheLine) {
  auto tmpl = ChatTemplate::Parse("ok\n{{ messages[0].content + 1 }}");
  ASSERT_TRUE(tmpl.ok());
  auto out = tmpl->Render({{"user", "x"}}, ChatTemplateOptions());
  ASSERT_FALSE(out.ok());
  EXPECT_FALSE(IsTemplateRaisedError(out.status()));
  EXPECT_THAT(Message(out.status()), HasSubstr("chat template line 2:"));
  EXPECT_THAT(Message(out.status()), HasSubstr("'str' and 'int'"));
  auto undefined = ChatTemplate::Parse("{{ nope.attr }}");
  EXPECT_THAT(Message(undefined->Render({}, ChatTemplateOptions()).status()),
              HasSubstr("'nope' is undefined"));
}

TEST(ChatTemplateTest, OutputIsBounded) {
  auto tmpl = ChatTemplate::Parse("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}");
  ASSERT_TRUE(tmpl.ok());
  EXPECT_EQ(tmpl->Render({}, ChatTemplateOptions()).status().code(),
            absl::StatusCode::kResourceExhausted);
}

// ---- unsupported constructs fail at load, naming the construct and line ----

struct Unsupported {
  const char* source;
  const char* message;
};

class UnsupportedTest : public ::testing::TestWithParam<Unsupported> {};

TEST_P(UnsupportedTest, FailsAtParseNamingIt) {
  auto tmpl = ChatTemplate::Parse(GetParam().source);
  ASSERT_FALSE(tmpl.ok()) << GetParam().source;
  EXPECT_EQ(tmpl.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(tmpl.status()), HasSubstr(GetParam().message));
}

INSTANTIATE_TEST_SUITE_P(
    Constructs, UnsupportedTest,
    ::testing::Values(
        Unsupported{"a\n{% include 'other.jinja' %}", "line 2: unsupported construct '{% include %}'"},
        Unsupported{"{% extends 'base' %}", "unsupported construct '{% extends %}'"},
        Unsupported{"{% import 'm' as m %}", "unsupported construct '{% import %}'"},
        Unsupported{"{% macro f(x) %}{{ x }}{% endmacro %}{{ f(1) }}", "'{% macro %}'"},
        Unsupported{"{% block b %}{% endblock %}", "'{% block %}'"},
        Unsupported{"{% filter upper %}x{% endfilter %}", "'{% filter %}'"},
        Unsupported{"{% with a = 1 %}{% endwith %}", "'{% with %}'"},
        Unsupported{"{% call f() %}{% endcall %}", "'{% call %}'"},
        Unsupported{"\n\n{{ messages | wordcount }}", "line 3: unsupported filter 'wordcount'"},
        Unsupported{"{{ x is callable }}", "unsupported test 'callable'"},
        Unsupported{"{{ x.format(1) }}", "unsupported method 'format'"},
        Unsupported{"{{ cycler(1, 2) }}", "unsupported function 'cycler'"},
        Unsupported{"{{ lipsum }}{{ x.append(1) }}", "unsupported method 'append'"},
        Unsupported{"{% for x in y recursive %}{% endfor %}", "recursive for loops"},
        Unsupported{"{% set x = y | safe %}", "filter 'safe'"},
        Unsupported{"{{ messages | map('wordcount') | list }}", "unsupported filter 'wordcount' in 'map'"},
        Unsupported{"{{ messages | selectattr('role', 'callable') | list }}", "unsupported test 'callable'"},
        Unsupported{"{{ f(*args) }}", "unsupported function 'f'"},
        Unsupported{"{{ range }}", "'range' without calling it"},
        Unsupported{"{% break %}", "'break' outside of a for loop"},
        Unsupported{"{% set x | upper %}a{% endset %}", "filtered block set"},
        Unsupported{"{{ '\\N{BULLET}' }}", "unsupported escape"},
        Unsupported{"{{ 0x1F }}", "unsupported number literal"},
        // Syntax errors.
        Unsupported{"{% if x %}", "expected 'endif'"},
        Unsupported{"{% for x in y %}", "expected 'endfor'"},
        Unsupported{"{{ x ", "expected '}}'"},
        Unsupported{"{# never closed", "missing end of comment"},
        Unsupported{"{{ 'open }}", "unterminated string"},
        Unsupported{"{{ (1 }}", "unexpected"},
        Unsupported{"{% endif %}", "unexpected '{% endif %}'"},
        Unsupported{"{{ a is string is string }}", "cannot chain multiple tests"}));

// ---- loaders ----

std::string WriteFile(const std::string& name, const std::string& text) {
  const std::string path = tandem::testing::MakeTempDir("chat_template") + "/" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

TEST(ChatTemplateLoaderTest, TokenizerConfigForms) {
  auto plain = ParseTokenizerConfigChatTemplate(
      R"({"chat_template": "{{ bos_token }}x", "bos_token": "<s>",
          "eos_token": {"__type": "AddedToken", "content": "</s>", "lstrip": false}})", "cfg");
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->bos_token, "<s>");
  EXPECT_EQ(plain->eos_token, "</s>");
  EXPECT_EQ(*plain->chat_template.Render({}, plain->DefaultOptions()), "<s>x");

  auto named = ParseTokenizerConfigChatTemplate(
      R"({"chat_template": [{"name": "tool_use", "template": "T"},
                            {"name": "default", "template": "D"}], "bos_token": null})", "cfg");
  ASSERT_TRUE(named.ok()) << named.status();
  EXPECT_EQ(*named->chat_template.Render({}, ChatTemplateOptions()), "D");
  EXPECT_EQ(named->bos_token, std::nullopt);
}

TEST(ChatTemplateLoaderTest, ErrorsNameTheFileAndField) {
  auto no_default = ParseTokenizerConfigChatTemplate(
      R"({"chat_template": [{"name": "tool_use", "template": "T"}]})", "/m/tokenizer_config.json");
  EXPECT_THAT(Message(no_default.status()),
              HasSubstr("/m/tokenizer_config.json: chat_template: the list has no template named"));
  auto missing = ParseTokenizerConfigChatTemplate(R"({"bos_token": "<s>"})", "/m/cfg.json");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Message(missing.status()), HasSubstr("/m/cfg.json: no chat_template"));
  auto unsupported = ParseTokenizerConfigChatTemplate(R"({"chat_template": "{% macro m() %}{% endmacro %}"})",
                                                      "/m/cfg.json");
  EXPECT_THAT(Message(unsupported.status()),
              HasSubstr("/m/cfg.json: chat_template: chat template line 1: unsupported construct"));
  EXPECT_EQ(ParseTokenizerConfigChatTemplate("{not json", "x").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseTokenizerConfigChatTemplate(R"({"chat_template": 3})", "x").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LoadTokenizerConfigChatTemplate("/nonexistent/tokenizer_config.json").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(ChatTemplateLoaderTest, LoadsFromADirectory) {
  const std::string path = WriteFile("tokenizer_config.json", R"({"chat_template": "hi"})");
  auto loaded = LoadChatTemplate(path.substr(0, path.rfind('/')));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(*loaded->chat_template.Render({}, ChatTemplateOptions()), "hi");
}

TEST(ChatTemplateLoaderTest, GgufMetadata) {
  model::formats::GgufWriter w;
  w.SetString("general.architecture", "llama");
  w.SetStringArray("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "a"});
  w.SetUint32("tokenizer.ggml.bos_token_id", 1);
  w.SetUint32("tokenizer.ggml.eos_token_id", 2);
  w.SetString("tokenizer.chat_template",
              "{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}{{ eos_token }}{% endfor %}");
  const std::string path = WriteFile("model.gguf", w.Serialize());
  auto loaded = LoadChatTemplate(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->bos_token, "<s>");
  EXPECT_EQ(loaded->eos_token, "</s>");
  EXPECT_EQ(*loaded->chat_template.Render({{"user", "q"}}, loaded->DefaultOptions()), "<s>[user]q</s>");

  model::formats::GgufWriter bare;
  bare.SetString("general.architecture", "llama");
  const std::string bare_path = WriteFile("bare.gguf", bare.Serialize());
  auto none = LoadGgufChatTemplate(bare_path);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Message(none.status()), HasSubstr(bare_path + ": no tokenizer.chat_template"));

  model::formats::GgufWriter bad;
  bad.SetString("tokenizer.chat_template", "{% include 'x' %}");
  auto rejected = LoadGgufChatTemplate(WriteFile("bad.gguf", bad.Serialize()));
  EXPECT_THAT(Message(rejected.status()), HasSubstr("tokenizer.chat_template: chat template line 1"));
}

// ---- robustness: malformed templates return errors, never crash ----

TEST(ChatTemplateRobustnessTest, MutatedTemplatesNeverCrash) {
  const std::vector<std::string> seeds = {
      kChatMl,
      "{%- set ns = namespace(a=[], i=0) -%}{%- for m in messages[::-1] if m.role != 'x' -%}"
      "{{- loop.index ~ (m.content | trim | tojson(indent=2)) -}}{%- set ns.i = ns.i + 1 -%}"
      "{%- else %}{{ raise_exception('e') }}{%- endfor %}{{ ns.i is number and 'a'.split('b') }}"
      "{# c #}{% raw %}{{{% endraw %}{{ {'k': [1, 2.5, none]} | items | list }}",
  };
  const std::string alphabet = "{}%#-+|.,:()[]'\"\\ \nabcxyz0123456789=!<>~*/ifsetforendinnotis";
  std::mt19937 rng(1234);
  const std::vector<ChatMessage> messages = {{"system", "s"}, {"user", "u {{"}, {"assistant", "a"}};
  int parsed = 0;
  for (int iter = 0; iter < 4000; ++iter) {
    std::string s = seeds[iter % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !s.empty(); ++e) {
      const size_t pos = rng() % s.size();
      switch (rng() % 4) {
        case 0: s.erase(pos, 1 + rng() % 3); break;
        case 1: s.insert(pos, 1, alphabet[rng() % alphabet.size()]); break;
        case 2: s[pos] = alphabet[rng() % alphabet.size()]; break;
        default: s = s.substr(0, pos); break;
      }
    }
    auto tmpl = ChatTemplate::Parse(s);
    if (!tmpl.ok()) {
      EXPECT_EQ(tmpl.status().code(), absl::StatusCode::kInvalidArgument) << s;
      continue;
    }
    ++parsed;
    ChatTemplateOptions options;
    options.add_generation_prompt = iter % 2 == 0;
    (void)tmpl->Render(messages, options);  // any status; no crash, no hang
  }
  EXPECT_GT(parsed, 100);
}

TEST(ChatTemplateRobustnessTest, DeepNestingIsAnError) {
  EXPECT_THAT(Message(ChatTemplate::Parse("{{ " + std::string(5000, '(') + "1" +
                                          std::string(5000, ')') + " }}").status()),
              HasSubstr("nested too deeply"));
  std::string ifs;
  for (int i = 0; i < 2000; ++i) ifs += "{% if 1 %}";
  EXPECT_FALSE(ChatTemplate::Parse(ifs).ok());
  EXPECT_FALSE(ChatTemplate::Parse("{{ " + std::string(5000, '[') + " }}").ok());
  EXPECT_FALSE(ChatTemplate::Parse("{{ " + std::string(3000, '-') + "1 }}").ok());
  std::string nots;
  for (int i = 0; i < 3000; ++i) nots += "not ";
  EXPECT_FALSE(ChatTemplate::Parse("{{ " + nots + "1 }}").ok());
}

}  // namespace
}  // namespace tandem::tokenizer
