#include "services/orchestrator/openai/response.h"

#include <algorithm>
#include <utility>

#include "decoding/speculation_options.h"
#include "services/orchestrator/openai/request.h"
#include "services/orchestrator/validation.h"

namespace tandem::services::openai {
namespace {

using Json = nlohmann::json;

const char* FinishReasonName(v1::FinishReason reason) {
  switch (reason) {
    case v1::FINISH_REASON_EOS:
    case v1::FINISH_REASON_STOP_STRING: return "stop";
    case v1::FINISH_REASON_LENGTH:
    case v1::FINISH_REASON_MAX_TIME: return "length";
    case v1::FINISH_REASON_CANCELLED: return "abort";
    default: return "stop";
  }
}

Json Bytes(const std::string& piece) {
  Json bytes = Json::array();
  for (unsigned char c : piece) bytes.push_back(static_cast<int>(c));
  return bytes;
}

void AddSpeculation(const v1::SpeculationStats& from, v1::SpeculationStats& into) {
  into.set_mode(from.mode());
  into.set_drafted_tokens(into.drafted_tokens() + from.drafted_tokens());
  into.set_accepted_tokens(into.accepted_tokens() + from.accepted_tokens());
  into.set_target_passes(into.target_passes() + from.target_passes());
  for (const v1::PositionAcceptance& p : from.per_position_acceptance()) {
    while (into.per_position_acceptance_size() < static_cast<int>(p.position())) {
      into.add_per_position_acceptance()->set_position(into.per_position_acceptance_size());
    }
    v1::PositionAcceptance& q = *into.mutable_per_position_acceptance(p.position() - 1);
    q.set_drafted(q.drafted() + p.drafted());
    q.set_accepted(q.accepted() + p.accepted());
  }
}

}  // namespace

std::string Dump(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string Event(const Json& value) { return "data: " + Dump(value) + "\n\n"; }

Json SpeculationJson(const v1::SpeculationStats& stats) {
  std::string mode = "off";
  for (decoding::SpeculationMode m : decoding::kAllSpeculationModes) {
    if (SpeculationModeToProto(m) == stats.mode()) mode = decoding::SpeculationModeName(m);
  }
  Json drafted = Json::array(), accepted = Json::array();
  for (const v1::PositionAcceptance& p : stats.per_position_acceptance()) {
    drafted.push_back(p.drafted());
    accepted.push_back(p.accepted());
  }
  const double passes = static_cast<double>(stats.target_passes());
  return Json{
      {"mode", mode},
      {"num_drafts", stats.target_passes()},
      {"num_draft_tokens", stats.drafted_tokens()},
      {"num_accepted_tokens", stats.accepted_tokens()},
      {"acceptance_rate", stats.drafted_tokens() == 0
                              ? 0.0
                              : static_cast<double>(stats.accepted_tokens()) /
                                    static_cast<double>(stats.drafted_tokens())},
      {"mean_acceptance_length",
       passes == 0 ? 0.0 : 1.0 + static_cast<double>(stats.accepted_tokens()) / passes},
      {"num_draft_tokens_per_pos", drafted},
      {"num_accepted_tokens_per_pos", accepted},
  };
}

int HttpStatus(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kFailedPrecondition: return 400;
    case absl::StatusCode::kUnauthenticated: return 401;
    case absl::StatusCode::kPermissionDenied: return 403;
    case absl::StatusCode::kNotFound: return 404;
    case absl::StatusCode::kResourceExhausted: return 429;
    case absl::StatusCode::kCancelled: return 499;
    case absl::StatusCode::kUnimplemented: return 501;
    case absl::StatusCode::kUnavailable: return 503;
    case absl::StatusCode::kDeadlineExceeded: return 504;
    default: return 500;
  }
}

Json ErrorJson(const absl::Status& status) {
  const int http = HttpStatus(status.code());
  const char* type = http == 400   ? "invalid_request_error"
                     : http == 401 ? "authentication_error"
                     : http == 403 ? "permission_error"
                     : http == 404 ? "not_found_error"
                     : http == 429 ? "rate_limit_error"
                                   : "server_error";
  const std::string param = ErrorParam(status);
  Json error{{"message", std::string(status.message())},
             {"type", type},
             {"param", param.empty() ? Json(nullptr) : Json(param)},
             {"code", absl::StatusCodeToString(status.code())}};
  return Json{{"error", std::move(error)}};
}

Responder::Responder(const OpenAiRequest& request, std::string id, std::string model,
                     int64_t created)
    : request_(request), id_(std::move(id)), model_(std::move(model)), created_(created) {
  choices_.resize(static_cast<size_t>(request.request.prompts_size()) * request.n);
  if (request.echo) {
    for (size_t i = 0; i < choices_.size(); ++i) {
      choices_[i].text = request.prompt_texts[i / request.n];
    }
  }
}

int Responder::Index(uint32_t prompt_index, uint32_t sequence_index) const {
  return static_cast<int>(prompt_index) * request_.n + static_cast<int>(sequence_index);
}

Json Responder::Chunk(Json choices) const {
  const bool chat = request_.api == Api::kChatCompletions;
  return Json{{"id", id_},
              {"object", chat ? "chat.completion.chunk" : "text_completion"},
              {"created", created_},
              {"model", model_},
              {"choices", std::move(choices)}};
}

Json Responder::LogprobsJson(const std::vector<v1::GeneratedToken>& tokens,
                             int64_t& text_offset) const {
  if (request_.api == Api::kChatCompletions) {
    Json content = Json::array();
    for (const v1::GeneratedToken& t : tokens) {
      Json top = Json::array();
      for (const v1::TokenLogprob& alt : t.top_logprobs()) {
        top.push_back({{"token", alt.piece()}, {"logprob", alt.logprob()}, {"bytes", Bytes(alt.piece())}});
      }
      content.push_back({{"token", t.piece()},
                         {"logprob", t.logprob()},
                         {"bytes", Bytes(t.piece())},
                         {"top_logprobs", std::move(top)}});
    }
    return Json{{"content", std::move(content)}};
  }
  Json pieces = Json::array(), logprobs = Json::array(), top = Json::array(),
       offsets = Json::array();
  for (const v1::GeneratedToken& t : tokens) {
    pieces.push_back(t.piece());
    logprobs.push_back(t.logprob());
    Json alternatives = Json::object();
    for (const v1::TokenLogprob& alt : t.top_logprobs()) {
      alternatives[alt.piece()] = alt.logprob();  // Dump() repairs invalid UTF-8 in keys too.
    }
    top.push_back(std::move(alternatives));
    offsets.push_back(text_offset);
    text_offset += static_cast<int64_t>(t.piece().size());
  }
  return Json{{"tokens", std::move(pieces)},
              {"token_logprobs", std::move(logprobs)},
              {"top_logprobs", std::move(top)},
              {"text_offset", std::move(offsets)}};
}

std::string Responder::StartEvents() {
  if (!request_.stream) return "";
  std::string events;
  for (size_t i = 0; i < choices_.size(); ++i) {
    if (request_.api == Api::kChatCompletions) {
      events += Event(Chunk(Json::array({{{"index", i},
                                          {"delta", {{"role", "assistant"}, {"content", ""}}},
                                          {"logprobs", nullptr},
                                          {"finish_reason", nullptr}}})));
    } else if (request_.echo && !choices_[i].text.empty()) {
      events += Event(Chunk(Json::array(
          {{{"index", i}, {"text", choices_[i].text}, {"logprobs", nullptr}, {"finish_reason", nullptr}}})));
    }
  }
  return events;
}

std::string Responder::Add(const v1::GenerateStreamResponse& message) {
  if (!message.request_id().empty()) request_id_ = message.request_id();
  const bool chat = request_.api == Api::kChatCompletions;
  if (message.has_chunk()) {
    const v1::StreamChunk& c = message.chunk();
    const int index = Index(c.prompt_index(), c.sequence_index());
    if (index < 0 || index >= static_cast<int>(choices_.size())) return "";
    Choice& choice = choices_[index];
    choice.text += c.text_delta();
    choice.tokens.insert(choice.tokens.end(), c.tokens().begin(), c.tokens().end());
    if (!request_.stream || (c.text_delta().empty() && !(request_.logprobs && c.tokens_size() > 0))) {
      return "";
    }
    Json delta = chat ? Json{{"index", index}, {"delta", {{"content", c.text_delta()}}}}
                      : Json{{"index", index}, {"text", c.text_delta()}};
    delta["logprobs"] = nullptr;
    if (request_.logprobs) {
      delta["logprobs"] = LogprobsJson({c.tokens().begin(), c.tokens().end()}, choice.text_offset);
    }
    delta["finish_reason"] = nullptr;
    return Event(Chunk(Json::array({std::move(delta)})));
  }
  if (!message.has_sequence_end()) return "";
  const v1::SequenceEnd& end = message.sequence_end();
  const int index = Index(end.prompt_index(), end.sequence_index());
  if (index < 0 || index >= static_cast<int>(choices_.size())) return "";
  Choice& choice = choices_[index];
  choice.ended = true;
  choice.finish_reason = FinishReasonName(end.finish_reason());
  choice.stats = end.stats();
  if (!request_.stream) return "";
  Json last = chat ? Json{{"index", index}, {"delta", Json::object()}}
                   : Json{{"index", index}, {"text", ""}};
  last["logprobs"] = nullptr;
  last["finish_reason"] = choice.finish_reason;
  last["speculation"] = SpeculationJson(choice.stats.speculation());
  return Event(Chunk(Json::array({std::move(last)})));
}

Json Responder::Usage() const {
  int64_t prompt = 0, completion = 0;
  for (size_t i = 0; i < choices_.size(); ++i) {
    // The prompt counts once per prompt, however many choices it has.
    if (i % request_.n == 0) prompt += choices_[i].stats.prompt_tokens();
    completion += choices_[i].stats.generated_tokens();
  }
  return Json{{"prompt_tokens", prompt},
              {"completion_tokens", completion},
              {"total_tokens", prompt + completion}};
}

std::string Responder::EndEvents() const {
  std::string events;
  if (request_.include_usage) {
    Json usage = Chunk(Json::array());
    usage["usage"] = Usage();
    events += Event(usage);
  }
  return events + "data: [DONE]\n\n";
}

Json Responder::ChoiceJson(int index, const Choice& choice) const {
  Json out{{"index", index}};
  if (request_.api == Api::kChatCompletions) {
    out["message"] = {{"role", "assistant"}, {"content", choice.text}};
  } else {
    out["text"] = choice.text;
  }
  out["logprobs"] = nullptr;
  if (request_.logprobs) {
    int64_t offset = request_.echo ? static_cast<int64_t>(request_.prompt_texts[index / request_.n].size()) : 0;
    out["logprobs"] = LogprobsJson(choice.tokens, offset);
  }
  out["finish_reason"] = choice.ended ? Json(choice.finish_reason) : Json(nullptr);
  out["speculation"] = SpeculationJson(choice.stats.speculation());
  return out;
}

Json Responder::Response() const {
  const bool chat = request_.api == Api::kChatCompletions;
  Json choices = Json::array();
  v1::SpeculationStats total;
  for (size_t i = 0; i < choices_.size(); ++i) {
    choices.push_back(ChoiceJson(static_cast<int>(i), choices_[i]));
    AddSpeculation(choices_[i].stats.speculation(), total);
  }
  return Json{{"id", id_},
              {"object", chat ? "chat.completion" : "text_completion"},
              {"created", created_},
              {"model", model_},
              {"choices", std::move(choices)},
              {"usage", Usage()},
              {"speculation", SpeculationJson(total)}};
}

}  // namespace tandem::services::openai
