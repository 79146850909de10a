#ifndef TANDEM_SERVICES_ORCHESTRATOR_OPENAI_REQUEST_H_
#define TANDEM_SERVICES_ORCHESTRATOR_OPENAI_REQUEST_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/tandem/v1/generation_service.pb.h"

namespace tandem::services::openai {

enum class Api {
  kCompletions,      // POST /v1/completions
  kChatCompletions,  // POST /v1/chat/completions
};

// An OpenAI request body turned into tandem's own request. Only the shape is
// checked here (types, which fields exist, what they map to); ranges are
// checked once, by the GenerationService's validation, whose errors name the
// tandem field (ParamForField maps them back).
struct OpenAiRequest {
  Api api = Api::kCompletions;
  std::string model;                 // "" when the body has none.
  v1::GenerateStreamRequest request;  // prompts + config; request_id left empty.
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  // Completions `echo`: each choice's text starts with its prompt's text.
  bool echo = false;
  std::vector<std::string> prompt_texts;  // Per prompt, for echo ("" for token prompts).
  int n = 1;                              // Choices per prompt.
  bool logprobs = false;
};

// Parses a JSON body of `api`. InvalidArgument for malformed JSON, a field of
// the wrong type, or an OpenAI feature tandem does not have (tools, suffix,
// best_of > n, echo with logprobs, non-text message parts); the OpenAI field
// name travels as the status payload read by ErrorParam().
//
// Fields (OpenAI's, then the extras vLLM also accepts):
//   prompt (completions: string | [string] | [int] | [[int]]),
//   messages (chat: [{role, content: string | [{type: "text", text}]}]),
//   max_tokens (completions default 16), max_completion_tokens (chat),
//   temperature, top_p, n, stop (string | [string]), seed, logprobs
//   (completions: int = alternatives; chat: bool), top_logprobs (chat),
//   presence_penalty, frequency_penalty, logit_bias ({"token id": bias}),
//   stream, stream_options.include_usage, echo, user (ignored);
//   top_k (-1 = off), min_p, typical_p, repetition_penalty,
//   no_repeat_ngram_size, min_tokens, ignore_eos, add_generation_prompt
//   (chat, default true), speculation_mode ("off" | "draft" | "self" |
//   "ngram"), num_speculative_tokens (γ; the maximum γ with
//   adaptive_speculation), adaptive_speculation (bool).
absl::StatusOr<OpenAiRequest> ParseRequest(Api api, absl::string_view body);

// The OpenAI parameter an error from ParseRequest or from the
// GenerationService's validation is about, or "" when none is known.
std::string ErrorParam(const absl::Status& status);

}  // namespace tandem::services::openai

#endif  // TANDEM_SERVICES_ORCHESTRATOR_OPENAI_REQUEST_H_
