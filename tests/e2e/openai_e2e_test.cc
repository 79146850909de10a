// The OpenAI-compatible HTTP API over real target, draft and orchestrator
// servers, driven by independent clients: the official OpenAI Node client
// (npm `openai`) and curl. Greedy text equals the gRPC API's; streaming,
// n > 1, stop, usage, speculation stats, errors (400/401/404/429), bearer
// auth, and cancellation when the client disconnects.

#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "client/tandem_client.h"
#include "tests/e2e/e2e_cluster.h"
#include "tests/testing/oracles.h"
#include "tests/testing/subprocess.h"

namespace tandem {
namespace {

using Json = nlohmann::json;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kToken[] = "sk-tandem-test-0123456789";
constexpr int kMaxActive = 3;
// A template simple enough to render by hand; refuses a conversation whose
// last message is from the assistant (as many real templates refuse bad
// role orders).
constexpr char kChatTemplate[] =
    "{% if messages[-1].role == 'assistant' %}{{ raise_exception('the last message must not be "
    "from the assistant') }}{% endif %}"
    "{% for m in messages %}<{{ m.role }}>{{ m.content }}\n{% endfor %}"
    "{% if add_generation_prompt %}<assistant>{% endif %}";

std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs a shell command; its stdout.
std::string Sh(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buffer[4096];
  for (size_t n; (n = fread(buffer, 1, sizeof(buffer), pipe)) > 0;) out.append(buffer, n);
  pclose(pipe);
  return out;
}

class OpenAiE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    testing::E2eOptions options;
    options.http = true;
    options.http_bearer_token = kToken;
    options.limits.max_active_sequences = kMaxActive;
    options.chat_template = kChatTemplate;
    cluster_ = testing::E2eCluster::Start(options).release();
    ASSERT_NE(cluster_, nullptr) << "cluster failed to start";
    ASSERT_FALSE(cluster_->http_address().empty());
  }
  static void TearDownTestSuite() { delete cluster_; }

  static std::string Url(const std::string& path) {
    return absl::StrCat("http://", cluster_->http_address(), path);
  }

  // Runs the plan through the OpenAI Node client; one result per step.
  static Json RunClient(const Json& plan, const std::string& key = kToken) {
    absl::StatusOr<std::string> script = testing::RunfilePath("tests/e2e/openai_client.js");
    EXPECT_TRUE(script.ok()) << script.status();
    if (!script.ok()) return Json::array();
    absl::StatusOr<std::string> out = testing::RunNode(*script, {Url("/v1"), key, plan.dump()});
    EXPECT_TRUE(out.ok()) << out.status();
    if (!out.ok()) return Json::array();
    return Json::parse(*out);
  }

  // curl with the bearer token; returns body then "\n<http code>".
  static std::string Curl(const std::string& path, const std::string& body,
                          const std::string& extra = "") {
    return Sh(absl::StrCat("curl -sS -N --max-time 120 -H ", Quote(absl::StrCat("Authorization: Bearer ", kToken)),
                           " -H 'Content-Type: application/json' ", extra, " -w '\\n%{http_code}' ",
                           body.empty() ? "" : "-d " + Quote(body) + " ", Quote(Url(path))));
  }

  static std::string GrpcGreedy(const std::string& prompt, int max_tokens,
                                const std::string& mode) {
    client::GenerateOptions o;
    o.prompts = {prompt};
    o.temperature = 0;
    o.max_new_tokens = max_tokens;
    o.speculation = mode;
    client::TandemClient c(cluster_->address());
    auto response = c.Generate(*client::BuildRequest(o));
    EXPECT_TRUE(response.ok()) << response.status();
    return response.ok() ? response->sequences(0).text() : "";
  }

  static void ExpectSessionsReleasedWithin(absl::Duration limit) {
    const absl::Time give_up = absl::Now() + limit;
    while (cluster_->target_service().open_sessions() > 0 && absl::Now() < give_up) {
      absl::SleepFor(absl::Milliseconds(20));
    }
    EXPECT_EQ(cluster_->target_service().open_sessions(), 0);
  }

  static testing::E2eCluster* cluster_;
};

testing::E2eCluster* OpenAiE2eTest::cluster_ = nullptr;

constexpr char kPrompt[] = "And God said, Let there be light";

TEST_F(OpenAiE2eTest, OpenAiClientGetsTheGrpcApisText) {
  const std::string expected_draft = GrpcGreedy(kPrompt, 24, "draft");
  const std::string expected_off = GrpcGreedy(kPrompt, 24, "off");
  ASSERT_FALSE(expected_draft.empty());
  EXPECT_EQ(expected_draft, expected_off);  // Lossless greedy speculation.
  const Json base{{"model", "tandem-test"}, {"prompt", kPrompt}, {"max_tokens", 24},
                  {"temperature", 0}};
  Json draft = base, off = base, ngram = base, stream = base;
  draft["speculation_mode"] = "draft";
  draft["num_speculative_tokens"] = 3;
  off["speculation_mode"] = "off";
  ngram["speculation_mode"] = "ngram";
  ngram["adaptive_speculation"] = true;
  stream["stream"] = true;
  stream["stream_options"] = {{"include_usage", true}};
  const Json results = RunClient(Json::array({
      {{"name", "models"}, {"call", "models"}},
      {{"name", "draft"}, {"call", "completions"}, {"params", draft}},
      {{"name", "off"}, {"call", "completions"}, {"params", off}},
      {{"name", "ngram"}, {"call", "completions"}, {"params", ngram}},
      {{"name", "stream"}, {"call", "completions"}, {"params", stream}},
  }));
  ASSERT_EQ(results.size(), 5u) << results.dump();
  for (const Json& r : results) ASSERT_TRUE(r["ok"].get<bool>()) << r.dump();
  EXPECT_EQ(results[0]["models"], Json::array({"tandem-test"}));
  for (int i = 1; i <= 4; ++i) {
    EXPECT_EQ(results[i]["texts"]["0"], expected_draft) << results[i].dump();
    EXPECT_EQ(results[i]["finish"]["0"], "length") << results[i].dump();
    EXPECT_EQ(results[i]["usage"]["completion_tokens"], 24) << results[i].dump();
    EXPECT_EQ(results[i]["usage"]["total_tokens"],
              results[i]["usage"]["prompt_tokens"].get<int>() + 24);
  }
  EXPECT_EQ(results[1]["object"], "text_completion");
  EXPECT_THAT(results[1]["id"].get<std::string>(), StartsWith("cmpl-"));
  // The speculation field says what ran, with vLLM's names.
  const Json& spec = results[1]["speculation"]["0"];
  EXPECT_EQ(spec["mode"], "draft");
  EXPECT_GT(spec["num_draft_tokens"].get<int>(), 0);
  EXPECT_LE(spec["num_accepted_tokens"].get<int>(), spec["num_draft_tokens"].get<int>());
  EXPECT_EQ(spec["num_draft_tokens_per_pos"].size(), 3u);
  EXPECT_EQ(results[2]["speculation"]["0"]["num_draft_tokens"], 0);
  EXPECT_EQ(results[2]["speculation"]["0"]["mode"], "off");
  EXPECT_EQ(results[3]["speculation"]["0"]["mode"], "ngram");
  // The stream arrived in several chunks and ended with a usage chunk.
  EXPECT_GT(results[4]["chunks"].get<int>(), 3);
  EXPECT_EQ(results[4]["speculation"]["0"]["mode"], "draft");
}

TEST_F(OpenAiE2eTest, ChatCompletionsRenderTheTemplate) {
  // The prompt, rendered by hand: the model continues it exactly as a token
  // prompt over gRPC.
  tokenizer::EncodeOptions raw;
  raw.add_special_tokens = false;
  auto ids = cluster_->tokenizer().Encode(
      "<system>Be brief.\n<user>Who made the heaven?\n<assistant>", raw);
  ASSERT_TRUE(ids.ok());
  client::GenerateOptions o;
  o.prompt_token_ids = {std::vector<uint32_t>(ids->begin(), ids->end())};
  o.temperature = 0;
  o.max_new_tokens = 16;
  client::TandemClient grpc_client(cluster_->address());
  auto expected = grpc_client.Generate(*client::BuildRequest(o));
  ASSERT_TRUE(expected.ok()) << expected.status();
  const Json messages = Json::parse(
      R"([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Who made the heaven?"}])");
  const Json results = RunClient(Json::array({
      {{"name", "chat"},
       {"call", "chat"},
       {"params",
        {{"model", "tandem-test"}, {"messages", messages}, {"max_tokens", 16}, {"temperature", 0}}}},
      {{"name", "chat-stream"},
       {"call", "chat"},
       {"params",
        {{"model", "tandem-test"}, {"messages", messages}, {"max_tokens", 16}, {"temperature", 0},
         {"stream", true}}}},
      Json::parse(R"({"name": "refused", "call": "chat", "params": {"model": "tandem-test",
          "messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]}})"),
  }));
  ASSERT_EQ(results.size(), 3u);
  ASSERT_TRUE(results[0]["ok"].get<bool>()) << results[0].dump();
  ASSERT_TRUE(results[1]["ok"].get<bool>()) << results[1].dump();
  EXPECT_EQ(results[0]["texts"]["0"], expected->sequences(0).text());
  EXPECT_EQ(results[0]["object"], "chat.completion");
  EXPECT_EQ(results[0]["usage"]["prompt_tokens"], static_cast<int>(ids->size()));
  EXPECT_EQ(results[1]["texts"]["0"], expected->sequences(0).text());
  EXPECT_EQ(results[1]["role"], "assistant");
  EXPECT_EQ(results[2]["error"]["status"], 400);
  EXPECT_THAT(results[2]["error"]["message"].get<std::string>(),
              HasSubstr("the last message must not be from the assistant"));
}

TEST_F(OpenAiE2eTest, SampledChoicesStopStringsAndLogprobs) {
  const Json results = RunClient(Json::array({
      {{"name", "n"},
       {"call", "completions"},
       {"params",
        {{"model", "tandem-test"}, {"prompt", kPrompt}, {"max_tokens", 12}, {"n", 3},
         {"seed", 11}, {"temperature", 1.0}}}},
      {{"name", "n-again"},
       {"call", "completions"},
       {"params",
        {{"model", "tandem-test"}, {"prompt", kPrompt}, {"max_tokens", 12}, {"n", 3},
         {"seed", 11}, {"temperature", 1.0}, {"stream", true}}}},
      {{"name", "two-prompts"},
       {"call", "completions"},
       {"params",
        {{"model", "tandem-test"}, {"prompt", {kPrompt, "In the beginning"}}, {"max_tokens", 6},
         {"temperature", 0}}}},
      {{"name", "stop"},
       {"call", "completions"},
       {"params",
        {{"model", "tandem-test"}, {"prompt", kPrompt}, {"max_tokens", 40}, {"temperature", 0},
         {"stop", {"light"}}}}},
      {{"name", "logprobs"},
       {"call", "completions"},
       {"params",
        {{"model", "tandem-test"}, {"prompt", kPrompt}, {"max_tokens", 5}, {"temperature", 0},
         {"logprobs", 2}}}},
  }));
  ASSERT_EQ(results.size(), 5u);
  for (const Json& r : results) ASSERT_TRUE(r["ok"].get<bool>()) << r.dump();
  ASSERT_EQ(results[0]["texts"].size(), 3u);
  // A seed fixes every choice, streamed or not.
  EXPECT_EQ(results[0]["texts"], results[1]["texts"]);
  EXPECT_EQ(results[0]["usage"]["completion_tokens"], 36);
  // Two prompts: choices 0 and 1 in prompt order.
  EXPECT_EQ(results[2]["texts"]["0"], GrpcGreedy(kPrompt, 6, ""));
  EXPECT_EQ(results[2]["texts"]["1"], GrpcGreedy("In the beginning", 6, ""));
  // The stop string ends the text and is not part of it.
  const std::string full = GrpcGreedy(kPrompt, 40, "");
  const size_t at = full.find("light");
  if (at != std::string::npos) {
    EXPECT_EQ(results[3]["texts"]["0"], full.substr(0, at));
    EXPECT_EQ(results[3]["finish"]["0"], "stop");
  } else {
    EXPECT_EQ(results[3]["texts"]["0"], full);
  }
  // Completions logprobs: per token, with 2 alternatives each.
  const Json& lp = results[4]["logprobs"][0];
  ASSERT_EQ(lp["tokens"].size(), 5u) << lp.dump();
  EXPECT_EQ(lp["top_logprobs"][0].size(), 2u);
  std::string joined;
  for (const Json& t : lp["tokens"]) joined += t.get<std::string>();
  EXPECT_EQ(joined, results[4]["texts"]["0"]);
  EXPECT_LE(lp["token_logprobs"][0].get<double>(), 0.0);
}

TEST_F(OpenAiE2eTest, ErrorsAreOpenAiErrorObjects) {
  const Json results = RunClient(Json::array({
      {{"name", "temperature"},
       {"call", "completions"},
       {"params", {{"model", "tandem-test"}, {"prompt", "x"}, {"temperature", 500}}}},
      {{"name", "model"},
       {"call", "completions"},
       {"params", {{"model", "gpt-4o"}, {"prompt", "x"}}}},
      {{"name", "max_tokens"},
       {"call", "completions"},
       {"params", {{"model", "tandem-test"}, {"prompt", "x"}, {"max_tokens", 100000}}}},
      Json::parse(R"({"name": "tools", "call": "chat", "params": {"model": "tandem-test",
          "messages": [{"role": "user", "content": "hi"}],
          "tools": [{"type": "function", "function": {"name": "f"}}]}})"),
      {{"name", "n-greedy"},
       {"call", "completions"},
       {"params", {{"model", "tandem-test"}, {"prompt", "x"}, {"n", 2}, {"temperature", 0}}}},
  }));
  ASSERT_EQ(results.size(), 5u);
  for (const Json& r : results) ASSERT_FALSE(r["ok"].get<bool>()) << r.dump();
  EXPECT_EQ(results[0]["error"]["status"], 400);
  EXPECT_EQ(results[0]["error"]["param"], "temperature");
  EXPECT_EQ(results[0]["error"]["type"], "invalid_request_error");
  EXPECT_THAT(results[0]["error"]["message"].get<std::string>(), HasSubstr("[0, 100]"));
  EXPECT_EQ(results[1]["error"]["status"], 404);
  EXPECT_EQ(results[2]["error"]["status"], 400);
  EXPECT_EQ(results[2]["error"]["param"], "max_tokens");
  EXPECT_EQ(results[3]["error"]["status"], 400);
  EXPECT_EQ(results[3]["error"]["param"], "tools");
  EXPECT_EQ(results[4]["error"]["status"], 400);
  EXPECT_EQ(results[4]["error"]["param"], "n");
  // A wrong key: 401 before anything runs.
  const Json wrong = RunClient(Json::array({{{"name", "models"}, {"call", "models"}}}), "sk-wrong");
  ASSERT_EQ(wrong.size(), 1u);
  EXPECT_EQ(wrong[0]["error"]["status"], 401) << wrong.dump();
}

TEST_F(OpenAiE2eTest, CurlSeesServerSentEventsAndPlainErrors) {
  const std::string body =
      R"({"model": "tandem-test", "prompt": "In the beginning", "max_tokens": 6, "temperature": 0, "stream": true})";
  const std::string sse = Curl("/v1/completions", body);
  EXPECT_THAT(sse, StartsWith("data: {"));
  EXPECT_THAT(sse, HasSubstr("\n\ndata: [DONE]\n\n\n200"));
  std::string text;
  for (absl::string_view line : absl::StrSplit(sse, '\n')) {
    if (!absl::ConsumePrefix(&line, "data: ") || line == "[DONE]") continue;
    const Json chunk = Json::parse(line);
    EXPECT_EQ(chunk["object"], "text_completion");
    for (const Json& c : chunk["choices"]) text += c["text"].get<std::string>();
  }
  EXPECT_EQ(text, GrpcGreedy("In the beginning", 6, ""));
  // Errors: the status code and a JSON error object.
  const std::string bad = Curl("/v1/completions", "{not json");
  EXPECT_THAT(bad, HasSubstr("\"type\":\"invalid_request_error\""));
  EXPECT_THAT(bad, ::testing::EndsWith("\n400"));
  const std::string no_auth =
      Sh(absl::StrCat("curl -sS -w '\\n%{http_code}' ", Quote(Url("/v1/models"))));
  EXPECT_THAT(no_auth, ::testing::EndsWith("\n401"));
  // Health and metrics stay open on the API port.
  EXPECT_THAT(Sh(absl::StrCat("curl -sS ", Quote(Url("/healthz")))), StartsWith("ok"));
  EXPECT_THAT(Sh(absl::StrCat("curl -sS ", Quote(Url("/metrics")))),
              HasSubstr("tandem_orchestrator_"));
}

TEST_F(OpenAiE2eTest, ClientDisconnectCancelsTheGeneration) {
  // 900 tokens take many seconds on this model; the client leaves after 1 s.
  for (bool stream : {true, false}) {
    const std::string body = absl::StrCat(
        R"({"model": "tandem-test", "prompt": "In the beginning", "max_tokens": 900, "ignore_eos": true, "stream": )",
        stream ? "true" : "false", "}");
    const absl::Time start = absl::Now();
    Curl("/v1/completions", body, "--max-time 1");
    EXPECT_LT(absl::Now() - start, absl::Seconds(5));
    ExpectSessionsReleasedWithin(absl::Seconds(3));
  }
}

TEST_F(OpenAiE2eTest, FullAdmissionIs429) {
  // kMaxActive long sequences hold every admission slot...
  const std::string body = absl::StrCat(
      R"({"model": "tandem-test", "prompt": "In the beginning", "max_tokens": 900, "ignore_eos": true, "stream": true, "n": )",
      kMaxActive, R"(, "temperature": 1})");
  const std::string log = testing::MakeTempDir("openai429") + "/curl.log";
  auto holder = testing::Subprocess::Start(
      {"/bin/sh", "-c",
       absl::StrCat("exec curl -sS -N --max-time 20 -H ", Quote(absl::StrCat("Authorization: Bearer ", kToken)),
                    " -d ", Quote(body), " ", Quote(Url("/v1/completions")))},
      log);
  ASSERT_TRUE(holder.ok()) << holder.status();
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (cluster_->target_service().open_sessions() < kMaxActive && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_EQ(cluster_->target_service().open_sessions(), kMaxActive);
  // ...so one more is refused at once with 429, as OpenAI's rate limit.
  const Json results = RunClient(Json::array(
      {{{"name", "full"},
        {"call", "completions"},
        {"params", {{"model", "tandem-test"}, {"prompt", "x"}, {"max_tokens", 2}}}}}));
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0]["error"]["status"], 429) << results.dump();
  (*holder)->Signal(SIGKILL);
  ExpectSessionsReleasedWithin(absl::Seconds(3));
}

}  // namespace
}  // namespace tandem
