// Responder: GenerationService stream messages → OpenAI responses and
// server-sent events; choice numbering, usage, logprobs shapes, speculation
// statistics, error objects and invalid UTF-8.

#include "services/orchestrator/openai/response.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tandem::services::openai {
namespace {

using Json = nlohmann::json;
using ::testing::HasSubstr;
using ::testing::StartsWith;

v1::GenerateStreamResponse Chunk(uint32_t prompt, uint32_t seq, const std::string& text,
                                 std::vector<std::pair<uint32_t, std::string>> tokens = {}) {
  v1::GenerateStreamResponse m;
  v1::StreamChunk* c = m.mutable_chunk();
  c->set_prompt_index(prompt);
  c->set_sequence_index(seq);
  c->set_text_delta(text);
  for (const auto& [id, piece] : tokens) {
    v1::GeneratedToken* t = c->add_tokens();
    t->set_token_id(id);
    t->set_piece(piece);
    t->set_logprob(-0.5f);
    v1::TokenLogprob* alt = t->add_top_logprobs();
    alt->set_token_id(id);
    alt->set_piece(piece);
    alt->set_logprob(-0.5f);
  }
  return m;
}

v1::GenerateStreamResponse End(uint32_t prompt, uint32_t seq, v1::FinishReason reason,
                               uint32_t prompt_tokens, uint32_t generated) {
  v1::GenerateStreamResponse m;
  v1::SequenceEnd* e = m.mutable_sequence_end();
  e->set_prompt_index(prompt);
  e->set_sequence_index(seq);
  e->set_finish_reason(reason);
  e->mutable_stats()->set_prompt_tokens(prompt_tokens);
  e->mutable_stats()->set_generated_tokens(generated);
  v1::SpeculationStats* s = e->mutable_stats()->mutable_speculation();
  s->set_mode(v1::SPECULATION_MODE_DRAFT_MODEL);
  s->set_drafted_tokens(8);
  s->set_accepted_tokens(6);
  s->set_target_passes(2);
  for (uint32_t p = 1; p <= 4; ++p) {
    v1::PositionAcceptance* a = s->add_per_position_acceptance();
    a->set_position(p);
    a->set_drafted(2);
    a->set_accepted(p <= 3 ? 2 : 0);
  }
  return m;
}

OpenAiRequest Request(Api api, int prompts, int n, bool stream, bool logprobs = false) {
  OpenAiRequest r;
  r.api = api;
  for (int i = 0; i < prompts; ++i) r.request.add_prompts()->set_text("p" + std::to_string(i));
  r.prompt_texts.assign(prompts, "");
  r.n = n;
  r.stream = stream;
  r.logprobs = logprobs;
  r.include_usage = true;
  return r;
}

TEST(ResponderTest, CompletionsNumberChoicesPromptMajor) {
  const OpenAiRequest r = Request(Api::kCompletions, 2, 2, /*stream=*/false);
  Responder responder(r, "cmpl-1", "m", 123);
  responder.Add(Chunk(1, 0, "c"));
  responder.Add(Chunk(0, 1, "b"));
  responder.Add(Chunk(0, 0, "a"));
  responder.Add(Chunk(1, 1, "d"));
  responder.Add(End(0, 0, v1::FINISH_REASON_EOS, 5, 1));
  responder.Add(End(0, 1, v1::FINISH_REASON_LENGTH, 5, 1));
  responder.Add(End(1, 0, v1::FINISH_REASON_STOP_STRING, 7, 1));
  responder.Add(End(1, 1, v1::FINISH_REASON_CANCELLED, 7, 1));
  const Json j = responder.Response();
  EXPECT_EQ(j["object"], "text_completion");
  EXPECT_EQ(j["id"], "cmpl-1");
  EXPECT_EQ(j["created"], 123);
  ASSERT_EQ(j["choices"].size(), 4u);
  const std::vector<std::string> texts = {"a", "b", "c", "d"};
  const std::vector<std::string> reasons = {"stop", "length", "stop", "abort"};
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(j["choices"][i]["index"], i);
    EXPECT_EQ(j["choices"][i]["text"], texts[i]);
    EXPECT_EQ(j["choices"][i]["finish_reason"], reasons[i]);
  }
  // Each prompt counts once, however many choices it has.
  EXPECT_EQ(j["usage"]["prompt_tokens"], 12);
  EXPECT_EQ(j["usage"]["completion_tokens"], 4);
  EXPECT_EQ(j["usage"]["total_tokens"], 16);
  // Summed speculation statistics, vLLM's names.
  EXPECT_EQ(j["speculation"]["num_draft_tokens"], 32);
  EXPECT_EQ(j["speculation"]["num_accepted_tokens"], 24);
  EXPECT_EQ(j["speculation"]["num_drafts"], 8);
  EXPECT_DOUBLE_EQ(j["speculation"]["mean_acceptance_length"].get<double>(), 4.0);
  EXPECT_DOUBLE_EQ(j["speculation"]["acceptance_rate"].get<double>(), 0.75);
  EXPECT_EQ(j["speculation"]["num_accepted_tokens_per_pos"], Json::array({8, 8, 8, 0}));
  EXPECT_EQ(j["speculation"]["mode"], "draft");
}

TEST(ResponderTest, ChatStreamEvents) {
  const OpenAiRequest r = Request(Api::kChatCompletions, 1, 1, /*stream=*/true);
  Responder responder(r, "chatcmpl-1", "m", 1);
  const std::string start = responder.StartEvents();
  EXPECT_THAT(start, StartsWith("data: {"));
  EXPECT_THAT(start, HasSubstr(R"("delta":{"content":"","role":"assistant"})"));
  EXPECT_THAT(start, HasSubstr(R"("object":"chat.completion.chunk")"));
  const std::string delta = responder.Add(Chunk(0, 0, "Hi"));
  EXPECT_THAT(delta, HasSubstr(R"("delta":{"content":"Hi"})"));
  EXPECT_EQ(delta.substr(delta.size() - 2), "\n\n");
  EXPECT_EQ(responder.Add(Chunk(0, 0, "")), "");  // Held-back text: nothing to send.
  const std::string end = responder.Add(End(0, 0, v1::FINISH_REASON_EOS, 3, 2));
  EXPECT_THAT(end, HasSubstr(R"("finish_reason":"stop")"));
  EXPECT_THAT(end, HasSubstr(R"("speculation":{)"));
  const std::string tail = responder.EndEvents();
  EXPECT_THAT(tail, HasSubstr(R"("choices":[])"));
  EXPECT_THAT(tail, HasSubstr(R"("usage":{"completion_tokens":2,"prompt_tokens":3,"total_tokens":5})"));
  EXPECT_THAT(tail, ::testing::EndsWith("data: [DONE]\n\n"));
}

TEST(ResponderTest, LogprobsShapes) {
  OpenAiRequest completions = Request(Api::kCompletions, 1, 1, false, /*logprobs=*/true);
  Responder c(completions, "cmpl-1", "m", 1);
  c.Add(Chunk(0, 0, "ab", {{1, "a"}, {2, "b"}}));
  c.Add(End(0, 0, v1::FINISH_REASON_LENGTH, 1, 2));
  const Json lp = c.Response()["choices"][0]["logprobs"];
  EXPECT_EQ(lp["tokens"], Json::array({"a", "b"}));
  EXPECT_EQ(lp["text_offset"], Json::array({0, 1}));
  EXPECT_EQ(lp["top_logprobs"][1]["b"], -0.5);
  OpenAiRequest chat = Request(Api::kChatCompletions, 1, 1, false, /*logprobs=*/true);
  Responder h(chat, "chatcmpl-1", "m", 1);
  h.Add(Chunk(0, 0, "a", {{1, "a"}}));
  h.Add(End(0, 0, v1::FINISH_REASON_LENGTH, 1, 1));
  const Json content = h.Response()["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(content.size(), 1u);
  EXPECT_EQ(content[0]["token"], "a");
  EXPECT_EQ(content[0]["bytes"], Json::array({97}));
  EXPECT_EQ(content[0]["top_logprobs"][0]["logprob"], -0.5);
}

TEST(ResponderTest, InvalidUtf8PiecesAreReplacedNotFatal) {
  OpenAiRequest r = Request(Api::kCompletions, 1, 1, /*stream=*/true, /*logprobs=*/true);
  Responder responder(r, "cmpl-1", "m", 1);
  const std::string event = responder.Add(Chunk(0, 0, "x", {{9, std::string("\xE2\x82", 2)}}));
  EXPECT_THAT(event, HasSubstr("\"tokens\":[\"\xEF\xBF\xBD\"]"));  // U+FFFD.
}

TEST(ResponderTest, ErrorObjectsAndStatusCodes) {
  EXPECT_EQ(HttpStatus(absl::StatusCode::kInvalidArgument), 400);
  EXPECT_EQ(HttpStatus(absl::StatusCode::kFailedPrecondition), 400);
  EXPECT_EQ(HttpStatus(absl::StatusCode::kUnauthenticated), 401);
  EXPECT_EQ(HttpStatus(absl::StatusCode::kNotFound), 404);
  EXPECT_EQ(HttpStatus(absl::StatusCode::kResourceExhausted), 429);
  EXPECT_EQ(HttpStatus(absl::StatusCode::kUnavailable), 503);
  EXPECT_EQ(HttpStatus(absl::StatusCode::kInternal), 500);
  const Json e = ErrorJson(absl::InvalidArgumentError("`sampling.top_p` must be in (0, 1], got 2"));
  EXPECT_EQ(e["error"]["type"], "invalid_request_error");
  EXPECT_EQ(e["error"]["param"], "top_p");
  EXPECT_EQ(e["error"]["code"], "INVALID_ARGUMENT");
  EXPECT_EQ(ErrorJson(absl::ResourceExhaustedError("full"))["error"]["type"], "rate_limit_error");
  EXPECT_TRUE(ErrorJson(absl::InternalError("x"))["error"]["param"].is_null());
}

}  // namespace
}  // namespace tandem::services::openai
