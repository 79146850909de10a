#ifndef TANDEM_SERVICES_ORCHESTRATOR_OPENAI_RESPONSE_H_
#define TANDEM_SERVICES_ORCHESTRATOR_OPENAI_RESPONSE_H_

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "proto/tandem/v1/generation_service.pb.h"
#include "services/orchestrator/openai/request.h"

namespace tandem::services::openai {

// Builds OpenAI responses from one GenerationService stream: the whole
// response object (stream: false) or server-sent events (stream: true).
//
// Choices are numbered prompt_index * n + sequence_index, as OpenAI numbers
// them for several prompts. Each choice (and the response, summed) carries
// the speculation statistics under "speculation", with vLLM's names:
//   {"mode", "num_drafts", "num_draft_tokens", "num_accepted_tokens",
//    "acceptance_rate", "mean_acceptance_length",
//    "num_draft_tokens_per_pos", "num_accepted_tokens_per_pos"}
// (per-position arrays start at draft position 1). Not thread-safe.
class Responder {
 public:
  // `id` is the response id ("cmpl-..." / "chatcmpl-..."); `created` Unix
  // seconds.
  Responder(const OpenAiRequest& request, std::string id, std::string model, int64_t created);

  // Server-sent events to send before the first message (chat: each choice's
  // assistant role; completions with echo: each prompt's text).
  std::string StartEvents();
  // Takes one stream message; returns the events it produces when streaming
  // (possibly ""), "" otherwise.
  std::string Add(const v1::GenerateStreamResponse& message);
  // After the last message: the usage event (if asked) and "data: [DONE]".
  std::string EndEvents() const;
  // After the last message, not streaming: the whole response.
  nlohmann::json Response() const;

  const std::string& request_id() const { return request_id_; }

 private:
  struct Choice {
    std::string text;
    std::vector<v1::GeneratedToken> tokens;
    int64_t text_offset = 0;  // Completions logprobs: bytes of text before the next token.
    std::string finish_reason;
    bool ended = false;
    v1::GenerationStats stats;
  };
  nlohmann::json ChoiceJson(int index, const Choice& choice) const;
  nlohmann::json Chunk(nlohmann::json choices) const;
  nlohmann::json LogprobsJson(const std::vector<v1::GeneratedToken>& tokens,
                              int64_t& text_offset) const;
  nlohmann::json Usage() const;
  int Index(uint32_t prompt_index, uint32_t sequence_index) const;

  const OpenAiRequest& request_;
  const std::string id_;
  const std::string model_;
  const int64_t created_;
  std::string request_id_;
  std::vector<Choice> choices_;
};

// One server-sent event carrying `value` ("data: <json>\n\n"). Invalid UTF-8
// (a token piece cut mid-character) is replaced by U+FFFD.
std::string Event(const nlohmann::json& value);
// JSON text with invalid UTF-8 replaced by U+FFFD.
std::string Dump(const nlohmann::json& value);

// OpenAI's error object {"error": {"message", "type", "param", "code"}} and
// the HTTP status for a gRPC/absl status: 400 invalid argument / out of range
// / failed precondition, 401 unauthenticated, 403 permission denied, 404 not
// found, 429 resource exhausted, 499 cancelled, 503 unavailable, 504 deadline
// exceeded, 501 unimplemented, 500 otherwise.
int HttpStatus(absl::StatusCode code);
nlohmann::json ErrorJson(const absl::Status& status);

// The speculation statistics object described above.
nlohmann::json SpeculationJson(const v1::SpeculationStats& stats);

}  // namespace tandem::services::openai

#endif  // TANDEM_SERVICES_ORCHESTRATOR_OPENAI_RESPONSE_H_
