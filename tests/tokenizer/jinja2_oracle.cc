#include "tests/tokenizer/jinja2_oracle.h"

#include <fstream>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/testing/oracles.h"

namespace tandem::tokenizer::oracle {
namespace {

// Ordered, so that messages reach jinja2 as {"role", "content"}, as HF callers write them.
using json = nlohmann::ordered_json;

constexpr char kOracle[] = "tests/tokenizer/hf_chat_template_oracle.py";

json Request(const std::string& source, const std::vector<RenderCase>& cases,
             const ChatTemplateOptions& base) {
  json request = {{"template", source}, {"cases", json::array()}};
  for (const RenderCase& c : cases) {
    json messages = json::array();
    for (const ChatMessage& m : c.messages) messages.push_back({{"role", m.role}, {"content", m.content}});
    json variables = json::object();
    if (base.bos_token) variables["bos_token"] = *base.bos_token;
    if (base.eos_token) variables["eos_token"] = *base.eos_token;
    for (const auto& [k, v] : c.flags) variables[k] = v;
    for (const auto& [k, v] : c.strings) variables[k] = v;
    request["cases"].push_back({{"messages", messages},
                                {"add_generation_prompt", c.add_generation_prompt},
                                {"variables", variables},
                                {"now", kOracleNow}});
  }
  return request;
}

absl::StatusOr<json> RunOracle(const json& request) {
  auto script = tandem::testing::RunfilePath(kOracle);
  if (!script.ok()) return script.status();
  const std::string path = tandem::testing::MakeTempDir("chat_template") + "/request.json";
  std::ofstream(path) << request.dump();
  auto out = tandem::testing::RunPython(*script, {path});
  if (!out.ok()) return out.status();
  return json::parse(*out);
}

}  // namespace

int ExpectSameAsJinja2(const std::string& name, const std::string& source,
                       const ChatTemplate& tmpl, const ChatTemplateOptions& base,
                       const std::vector<RenderCase>& cases) {
  auto oracle = RunOracle(Request(source, cases, base));
  EXPECT_TRUE(oracle.ok()) << oracle.status();
  if (!oracle.ok()) return 0;
  EXPECT_FALSE(oracle->contains("compile_error")) << name << ": " << oracle->dump();
  if (oracle->contains("compile_error")) return 0;
  int rendered = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(absl::StrCat(name, " case ", i, " add_generation_prompt=",
                              cases[i].add_generation_prompt));
    ChatTemplateOptions options = base;
    options.add_generation_prompt = cases[i].add_generation_prompt;
    options.bool_variables = cases[i].flags;
    options.now = kOracleNow;
    options.string_variables = cases[i].strings;
    auto ours = tmpl.Render(cases[i].messages, options);
    const json& expected = (*oracle)["results"][i];
    if (expected.contains("text")) {
      EXPECT_TRUE(ours.ok()) << ours.status() << "\njinja2 rendered:\n"
                             << expected["text"].get<std::string>();
      if (!ours.ok()) continue;
      EXPECT_EQ(*ours, expected["text"].get<std::string>());
      ++rendered;
    } else {
      EXPECT_FALSE(ours.ok()) << "jinja2 failed with " << expected["error"] << " but tandem rendered:\n"
                              << *ours;
      if (expected["raised"].get<bool>() && !ours.ok()) {
        EXPECT_TRUE(IsTemplateRaisedError(ours.status())) << ours.status();
        EXPECT_EQ(ours.status().message(), expected["error"].get<std::string>());
      }
    }
  }
  return rendered;
}

}  // namespace tandem::tokenizer::oracle
