// OpenAI request bodies → tandem requests: every mapped field, the shapes of
// `prompt` and `messages`, the features refused, and the error parameters.

#include "services/orchestrator/openai/request.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tandem::services::openai {
namespace {

using ::testing::HasSubstr;

OpenAiRequest Parse(Api api, const std::string& body) {
  absl::StatusOr<OpenAiRequest> r = ParseRequest(api, body);
  EXPECT_TRUE(r.ok()) << r.status() << " for " << body;
  return r.ok() ? *r : OpenAiRequest();
}

// The parameter an invalid body is refused for.
std::string Refused(Api api, const std::string& body) {
  absl::StatusOr<OpenAiRequest> r = ParseRequest(api, body);
  EXPECT_FALSE(r.ok()) << body;
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  return ErrorParam(r.status());
}

TEST(OpenAiRequestTest, MapsEveryCompletionsField) {
  const OpenAiRequest r = Parse(Api::kCompletions, R"({
      "model": "m", "prompt": "hello", "max_tokens": 7, "temperature": 0.5, "top_p": 0.9,
      "n": 2, "stop": ["a", "b"], "seed": 42, "logprobs": 3, "presence_penalty": 0.1,
      "frequency_penalty": 0.2, "logit_bias": {"17": -100, "3": 2.5}, "stream": true,
      "stream_options": {"include_usage": true}, "user": "ignored",
      "top_k": 40, "min_p": 0.05, "typical_p": 0.8, "repetition_penalty": 1.1,
      "no_repeat_ngram_size": 3, "min_tokens": 2, "ignore_eos": true,
      "speculation_mode": "ngram", "num_speculative_tokens": 5})");
  EXPECT_EQ(r.model, "m");
  ASSERT_EQ(r.request.prompts_size(), 1);
  EXPECT_EQ(r.request.prompts(0).text(), "hello");
  const v1::GenerationConfig& c = r.request.config();
  EXPECT_EQ(c.stopping().max_new_tokens(), 7u);
  EXPECT_EQ(c.stopping().min_new_tokens(), 2u);
  EXPECT_TRUE(c.stopping().ignore_eos());
  EXPECT_THAT(c.stopping().stop_strings(), ::testing::ElementsAre("a", "b"));
  EXPECT_FLOAT_EQ(c.sampling().temperature(), 0.5f);
  EXPECT_FLOAT_EQ(c.sampling().top_p(), 0.9f);
  EXPECT_EQ(c.sampling().top_k(), 40u);
  EXPECT_FLOAT_EQ(c.sampling().min_p(), 0.05f);
  EXPECT_FLOAT_EQ(c.sampling().typical_p(), 0.8f);
  EXPECT_FLOAT_EQ(c.sampling().repetition_penalty(), 1.1f);
  EXPECT_FLOAT_EQ(c.sampling().presence_penalty(), 0.1f);
  EXPECT_FLOAT_EQ(c.sampling().frequency_penalty(), 0.2f);
  EXPECT_EQ(c.sampling().no_repeat_ngram_size(), 3u);
  EXPECT_EQ(c.sampling().seed(), 42u);
  ASSERT_EQ(c.sampling().logit_bias_size(), 2);
  EXPECT_EQ(c.num_return_sequences(), 2u);
  EXPECT_EQ(r.n, 2);
  EXPECT_TRUE(c.output().logprobs());
  EXPECT_EQ(c.output().top_logprobs(), 3u);
  EXPECT_TRUE(c.output().include_speculation_stats());
  EXPECT_EQ(c.speculation().mode(), v1::SPECULATION_MODE_NGRAM);
  EXPECT_EQ(c.speculation().fixed_draft_length(), 5u);
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
}

TEST(OpenAiRequestTest, DefaultsFollowOpenAi) {
  const OpenAiRequest completions = Parse(Api::kCompletions, R"({"prompt": "x"})");
  EXPECT_EQ(completions.request.config().stopping().max_new_tokens(), 16u);  // OpenAI's default.
  EXPECT_FALSE(completions.request.config().sampling().has_temperature());   // Server's default.
  EXPECT_FALSE(completions.stream);
  EXPECT_EQ(completions.n, 1);
  const OpenAiRequest chat =
      Parse(Api::kChatCompletions, R"({"messages": [{"role": "user", "content": "x"}]})");
  EXPECT_FALSE(chat.request.config().stopping().has_max_new_tokens());
  // Nulls are "unset", as OpenAI clients send them.
  const OpenAiRequest nulls =
      Parse(Api::kCompletions, R"({"prompt": "x", "temperature": null, "stop": null, "n": null})");
  EXPECT_FALSE(nulls.request.config().sampling().has_temperature());
}

TEST(OpenAiRequestTest, PromptShapes) {
  EXPECT_EQ(Parse(Api::kCompletions, R"({"prompt": ["a", "b"]})").request.prompts_size(), 2);
  const OpenAiRequest ids = Parse(Api::kCompletions, R"({"prompt": [1, 2, 3]})");
  ASSERT_EQ(ids.request.prompts_size(), 1);
  EXPECT_THAT(ids.request.prompts(0).token_ids().ids(), ::testing::ElementsAre(1, 2, 3));
  EXPECT_EQ(Parse(Api::kCompletions, R"({"prompt": [[1], [2, 3]]})").request.prompts_size(), 2);
  EXPECT_EQ(Refused(Api::kCompletions, R"({"prompt": 5})"), "prompt");
  EXPECT_EQ(Refused(Api::kCompletions, R"({"prompt": [1, -2]})"), "prompt");
  EXPECT_EQ(Refused(Api::kCompletions, R"({"prompt": ["a", 1]})"), "prompt");
  EXPECT_EQ(Refused(Api::kCompletions, R"({})"), "prompt");
}

TEST(OpenAiRequestTest, ChatMessages) {
  const OpenAiRequest r = Parse(Api::kChatCompletions, R"({"messages": [
      {"role": "system", "content": "be brief"},
      {"role": "user", "content": [{"type": "text", "text": "hel"}, {"type": "text", "text": "lo"}]},
      {"role": "assistant", "content": null}], "add_generation_prompt": false,
      "max_completion_tokens": 9, "logprobs": true, "top_logprobs": 4})");
  ASSERT_EQ(r.request.prompts_size(), 1);
  const v1::ChatPrompt& chat = r.request.prompts(0).chat();
  ASSERT_EQ(chat.messages_size(), 3);
  EXPECT_EQ(chat.messages(0).role(), "system");
  EXPECT_EQ(chat.messages(1).content(), "hello");
  EXPECT_EQ(chat.messages(2).content(), "");
  EXPECT_FALSE(chat.add_generation_prompt());
  EXPECT_TRUE(chat.has_add_generation_prompt());
  EXPECT_EQ(r.request.config().stopping().max_new_tokens(), 9u);
  EXPECT_EQ(r.request.config().output().top_logprobs(), 4u);
  EXPECT_EQ(Refused(Api::kChatCompletions, R"({"messages": []})"), "messages");
  EXPECT_EQ(Refused(Api::kChatCompletions, R"({"messages": [{"content": "x"}]})"),
            "messages[0].role");
  EXPECT_EQ(Refused(Api::kChatCompletions,
                    R"({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]})"),
            "messages[0].content");
  EXPECT_EQ(Refused(Api::kChatCompletions,
                    R"({"messages": [{"role": "user", "content": "x"}], "top_logprobs": 2})"),
            "top_logprobs");
}

TEST(OpenAiRequestTest, RefusesWhatTandemDoesNotDo) {
  EXPECT_EQ(Refused(Api::kCompletions, R"({"prompt": "x", "suffix": "y"})"), "suffix");
  EXPECT_EQ(Refused(Api::kCompletions, R"({"prompt": "x", "best_of": 3})"), "best_of");
  EXPECT_EQ(Refused(Api::kCompletions, R"({"prompt": "x", "echo": true, "logprobs": 1})"), "echo");
  EXPECT_EQ(Refused(Api::kChatCompletions,
                    R"({"messages": [{"role": "user", "content": "x"}], "tools": [{}]})"),
            "tools");
  EXPECT_EQ(Refused(Api::kChatCompletions,
                    R"({"messages": [{"role": "user", "content": "x"}],
                        "response_format": {"type": "json_object"}})"),
            "response_format");
  // Accepted no-ops.
  Parse(Api::kCompletions, R"({"prompt": "x", "suffix": "", "best_of": 1, "tools": []})");
}

TEST(OpenAiRequestTest, TypeErrorsNameTheParameter) {
  EXPECT_EQ(Refused(Api::kCompletions, R"({"prompt": "x", "temperature": "hot"})"), "temperature");
  EXPECT_EQ(Refused(Api::kCompletions, R"({"prompt": "x", "max_tokens": 1.5})"), "max_tokens");
  EXPECT_EQ(Refused(Api::kCompletions, R"({"prompt": "x", "n": 0})"), "n");
  EXPECT_EQ(Refused(Api::kCompletions, R"({"prompt": "x", "seed": -1})"), "seed");
  EXPECT_EQ(Refused(Api::kCompletions, R"({"prompt": "x", "stop": 3})"), "stop");
  EXPECT_EQ(Refused(Api::kCompletions, R"({"prompt": "x", "logit_bias": {"abc": 1}})"),
            "logit_bias");
  EXPECT_EQ(Refused(Api::kCompletions, R"({"prompt": "x", "stream": "yes"})"), "stream");
  EXPECT_EQ(Refused(Api::kCompletions, R"({"prompt": "x", "speculation_mode": "fast"})"),
            "speculation_mode");
  absl::StatusOr<OpenAiRequest> not_json = ParseRequest(Api::kCompletions, "{oops");
  EXPECT_EQ(not_json.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorParam(not_json.status()), "");
  EXPECT_FALSE(ParseRequest(Api::kCompletions, "[1]").ok());
}

TEST(OpenAiRequestTest, ValidationErrorsMapBackToOpenAiNames) {
  auto param = [](const std::string& message) {
    return ErrorParam(absl::InvalidArgumentError(message));
  };
  EXPECT_EQ(param("`config.stopping.max_new_tokens` must be in [1, 1024], got 0"), "max_tokens");
  EXPECT_EQ(param("`sampling.temperature` must be in [0, 100], got 500"), "temperature");
  EXPECT_EQ(param("`config.num_return_sequences` must be 1 with greedy decoding"), "n");
  EXPECT_EQ(param("`prompts[0]` is empty"), "prompt");
  EXPECT_EQ(param("`speculation.fixed_draft_length` must be in [1, 16]"),
            "num_speculative_tokens");
  EXPECT_EQ(param("`config.sampling.top_pp` is odd"), "");  // No partial-name matches.
  EXPECT_EQ(param("no field here"), "");
}

TEST(OpenAiRequestTest, AdaptiveSpeculation) {
  const OpenAiRequest r = Parse(
      Api::kCompletions, R"({"prompt": "x", "adaptive_speculation": true, "num_speculative_tokens": 6})");
  ASSERT_TRUE(r.request.config().speculation().has_adaptive());
  EXPECT_EQ(r.request.config().speculation().adaptive().max_draft_length(), 6u);
  const OpenAiRequest top_k_off = Parse(Api::kCompletions, R"({"prompt": "x", "top_k": -1})");
  EXPECT_EQ(top_k_off.request.config().sampling().top_k(), 0u);
}

}  // namespace
}  // namespace tandem::services::openai
