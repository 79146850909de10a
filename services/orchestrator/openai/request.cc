#include "services/orchestrator/openai/request.h"

#include <cmath>
#include <cstring>
#include <cstdint>
#include <limits>
#include <utility>

#include <nlohmann/json.hpp>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "decoding/speculation_options.h"
#include "services/orchestrator/validation.h"

namespace tandem::services::openai {
namespace {

using Json = nlohmann::json;

constexpr char kParamPayload[] = "type.tandem.dev/openai.param";

absl::Status Bad(absl::string_view param, absl::string_view message) {
  absl::Status status = absl::InvalidArgumentError(absl::StrCat("`", param, "` ", message));
  status.SetPayload(kParamPayload, absl::Cord(param));
  return status;
}

absl::Status Unsupported(absl::string_view param, absl::string_view what) {
  return Bad(param, absl::StrCat("is not supported: ", what));
}

// A present, non-null field (OpenAI clients send null for "unset").
const Json* Field(const Json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return nullptr;
  return &*it;
}

absl::StatusOr<std::optional<double>> Number(const Json& body, const char* name) {
  const Json* f = Field(body, name);
  if (f == nullptr) return std::optional<double>();
  if (!f->is_number()) return Bad(name, "must be a number");
  const double v = f->get<double>();
  if (!std::isfinite(v)) return Bad(name, "must be finite");
  return std::optional<double>(v);
}

// An integer in [lo, hi]; wider than every proto field it feeds, so the
// GenerationService still checks (and names) the real range.
absl::StatusOr<std::optional<int64_t>> Integer(const Json& body, const char* name,
                                               int64_t lo = 0,
                                               int64_t hi = std::numeric_limits<uint32_t>::max()) {
  const Json* f = Field(body, name);
  if (f == nullptr) return std::optional<int64_t>();
  if (f->is_number_float()) {
    const double d = f->get<double>();
    if (d != std::floor(d)) return Bad(name, "must be an integer");
  } else if (!f->is_number_integer()) {
    return Bad(name, "must be an integer");
  }
  if (f->is_number_unsigned() && f->get<uint64_t>() > static_cast<uint64_t>(hi)) {
    return Bad(name, absl::StrCat("must be in [", lo, ", ", hi, "]"));
  }
  const int64_t v = f->is_number_float() ? static_cast<int64_t>(f->get<double>()) : f->get<int64_t>();
  if (v < lo || v > hi) return Bad(name, absl::StrCat("must be in [", lo, ", ", hi, "]"));
  return std::optional<int64_t>(v);
}

absl::StatusOr<std::optional<bool>> Bool(const Json& body, const char* name) {
  const Json* f = Field(body, name);
  if (f == nullptr) return std::optional<bool>();
  if (!f->is_boolean()) return Bad(name, "must be true or false");
  return std::optional<bool>(f->get<bool>());
}

#define TANDEM_ASSIGN_OR_RETURN(lhs, expr) \
  auto lhs##_or = (expr);                  \
  if (!lhs##_or.ok()) return lhs##_or.status(); \
  auto lhs = *std::move(lhs##_or)

absl::Status ParseTokenList(const Json& list, const char* param, v1::TokenIds& out) {
  for (const Json& id : list) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 ||
        id.get<int64_t>() > std::numeric_limits<uint32_t>::max()) {
      return Bad(param, "token ids must be non-negative integers");
    }
    out.add_ids(static_cast<uint32_t>(id.get<int64_t>()));
  }
  return absl::OkStatus();
}

absl::Status ParsePrompt(const Json& body, OpenAiRequest& out) {
  const Json* prompt = Field(body, "prompt");
  if (prompt == nullptr) return Bad("prompt", "is required");
  auto add_text = [&](const std::string& text) {
    out.request.add_prompts()->set_text(text);
    out.prompt_texts.push_back(text);
  };
  if (prompt->is_string()) {
    add_text(prompt->get<std::string>());
    return absl::OkStatus();
  }
  if (!prompt->is_array() || prompt->empty()) {
    return Bad("prompt", "must be a string, a non-empty array of strings, or token ids");
  }
  if ((*prompt)[0].is_number()) {
    if (absl::Status s = ParseTokenList(*prompt, "prompt",
                                        *out.request.add_prompts()->mutable_token_ids());
        !s.ok()) {
      return s;
    }
    out.prompt_texts.emplace_back();
    return absl::OkStatus();
  }
  for (const Json& item : *prompt) {
    if (item.is_string()) {
      add_text(item.get<std::string>());
    } else if (item.is_array()) {
      if (absl::Status s =
              ParseTokenList(item, "prompt", *out.request.add_prompts()->mutable_token_ids());
          !s.ok()) {
        return s;
      }
      out.prompt_texts.emplace_back();
    } else {
      return Bad("prompt", "array entries must all be strings or all be token id arrays");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> MessageContent(const Json& message, size_t index) {
  const Json* content = Field(message, "content");
  const std::string param = absl::StrCat("messages[", index, "].content");
  if (content == nullptr) return std::string();
  if (content->is_string()) return content->get<std::string>();
  if (!content->is_array()) return Bad(param, "must be a string or an array of text parts");
  std::string text;
  for (const Json& part : *content) {
    if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") ||
        !part["text"].is_string()) {
      return Unsupported(param, "only parts of type \"text\" (with a string `text`)");
    }
    text += part["text"].get<std::string>();
  }
  return text;
}

absl::Status ParseMessages(const Json& body, OpenAiRequest& out) {
  const Json* messages = Field(body, "messages");
  if (messages == nullptr || !messages->is_array() || messages->empty()) {
    return Bad("messages", "must be a non-empty array of {role, content}");
  }
  v1::ChatPrompt* chat = out.request.add_prompts()->mutable_chat();
  for (size_t i = 0; i < messages->size(); ++i) {
    const Json& m = (*messages)[i];
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string()) {
      return Bad(absl::StrCat("messages[", i, "].role"), "must be a string");
    }
    for (const char* unsupported : {"tool_calls", "function_call"}) {
      if (Field(m, unsupported) != nullptr) {
        return Unsupported(absl::StrCat("messages[", i, "].", unsupported), "tool calls");
      }
    }
    absl::StatusOr<std::string> content = MessageContent(m, i);
    if (!content.ok()) return content.status();
    v1::ChatMessage* message = chat->add_messages();
    message->set_role(m["role"].get<std::string>());
    message->set_content(*std::move(content));
  }
  TANDEM_ASSIGN_OR_RETURN(add_generation_prompt, Bool(body, "add_generation_prompt"));
  if (add_generation_prompt) chat->set_add_generation_prompt(*add_generation_prompt);
  out.prompt_texts.emplace_back();
  return absl::OkStatus();
}

absl::Status ParseStop(const Json& body, v1::StoppingCriteria& stopping) {
  const Json* stop = Field(body, "stop");
  if (stop == nullptr) return absl::OkStatus();
  if (stop->is_string()) {
    stopping.add_stop_strings(stop->get<std::string>());
    return absl::OkStatus();
  }
  if (!stop->is_array()) return Bad("stop", "must be a string or an array of strings");
  for (const Json& s : *stop) {
    if (!s.is_string()) return Bad("stop", "must be a string or an array of strings");
    stopping.add_stop_strings(s.get<std::string>());
  }
  return absl::OkStatus();
}

absl::Status ParseLogitBias(const Json& body, v1::SamplingParams& sampling) {
  const Json* bias = Field(body, "logit_bias");
  if (bias == nullptr) return absl::OkStatus();
  if (!bias->is_object()) return Bad("logit_bias", "must be an object {\"token id\": bias}");
  for (const auto& [key, value] : bias->items()) {
    uint32_t id = 0;
    if (!absl::SimpleAtoi(key, &id)) {
      return Bad("logit_bias", absl::StrCat("keys must be token ids, got \"", key, "\""));
    }
    if (!value.is_number()) return Bad("logit_bias", "values must be numbers");
    v1::LogitBias* entry = sampling.add_logit_bias();
    entry->set_token_id(id);
    entry->set_bias(value.get<float>());
  }
  return absl::OkStatus();
}

absl::Status ParseSpeculation(const Json& body, v1::SpeculationConfig& speculation) {
  if (const Json* mode = Field(body, "speculation_mode"); mode != nullptr) {
    std::optional<decoding::SpeculationMode> parsed;
    if (mode->is_string()) parsed = decoding::ParseSpeculationMode(mode->get<std::string>());
    if (!parsed) return Bad("speculation_mode", "must be \"off\", \"draft\", \"self\" or \"ngram\"");
    speculation.set_mode(SpeculationModeToProto(*parsed));
  }
  TANDEM_ASSIGN_OR_RETURN(gamma, Integer(body, "num_speculative_tokens"));
  TANDEM_ASSIGN_OR_RETURN(adaptive, Bool(body, "adaptive_speculation"));
  if (adaptive.value_or(false)) {
    v1::AdaptiveDraftLength* a = speculation.mutable_adaptive();
    if (gamma) a->set_max_draft_length(static_cast<uint32_t>(*gamma));
  } else if (gamma) {
    speculation.set_fixed_draft_length(static_cast<uint32_t>(*gamma));
  }
  return absl::OkStatus();
}

absl::Status ParseSampling(const Json& body, v1::SamplingParams& s) {
  struct FloatField {
    const char* name;
    void (v1::SamplingParams::*set)(float);
  };
  for (const FloatField& f : {
           FloatField{"temperature", &v1::SamplingParams::set_temperature},
           FloatField{"top_p", &v1::SamplingParams::set_top_p},
           FloatField{"min_p", &v1::SamplingParams::set_min_p},
           FloatField{"typical_p", &v1::SamplingParams::set_typical_p},
           FloatField{"repetition_penalty", &v1::SamplingParams::set_repetition_penalty},
           FloatField{"presence_penalty", &v1::SamplingParams::set_presence_penalty},
           FloatField{"frequency_penalty", &v1::SamplingParams::set_frequency_penalty},
       }) {
    TANDEM_ASSIGN_OR_RETURN(v, Number(body, f.name));
    if (v) (s.*f.set)(static_cast<float>(*v));
  }
  TANDEM_ASSIGN_OR_RETURN(top_k, Integer(body, "top_k", -1));
  if (top_k) s.set_top_k(*top_k < 0 ? 0 : static_cast<uint32_t>(*top_k));
  TANDEM_ASSIGN_OR_RETURN(no_repeat, Integer(body, "no_repeat_ngram_size"));
  if (no_repeat) s.set_no_repeat_ngram_size(static_cast<uint32_t>(*no_repeat));
  TANDEM_ASSIGN_OR_RETURN(seed, Integer(body, "seed", 0, std::numeric_limits<int64_t>::max()));
  if (seed) s.set_seed(static_cast<uint64_t>(*seed));
  return ParseLogitBias(body, s);
}

absl::Status ParseLogprobs(Api api, const Json& body, OpenAiRequest& out) {
  v1::OutputOptions& output = *out.request.mutable_config()->mutable_output();
  if (api == Api::kCompletions) {
    // Completions: logprobs = how many alternatives (0 = only the chosen token's).
    TANDEM_ASSIGN_OR_RETURN(k, Integer(body, "logprobs"));
    if (k) {
      out.logprobs = true;
      output.set_logprobs(true);
      output.set_top_logprobs(static_cast<uint32_t>(*k));
    }
    return absl::OkStatus();
  }
  TANDEM_ASSIGN_OR_RETURN(logprobs, Bool(body, "logprobs"));
  TANDEM_ASSIGN_OR_RETURN(top, Integer(body, "top_logprobs"));
  if (top && *top > 0 && !logprobs.value_or(false)) {
    return Bad("top_logprobs", "needs `logprobs` to be true");
  }
  if (logprobs.value_or(false)) {
    out.logprobs = true;
    output.set_logprobs(true);
    if (top) output.set_top_logprobs(static_cast<uint32_t>(*top));
  }
  return absl::OkStatus();
}

absl::Status Parse(Api api, const Json& body, OpenAiRequest& out) {
  if (const Json* model = Field(body, "model"); model != nullptr) {
    if (!model->is_string()) return Bad("model", "must be a string");
    out.model = model->get<std::string>();
  }
  if (absl::Status s = api == Api::kCompletions ? ParsePrompt(body, out) : ParseMessages(body, out);
      !s.ok()) {
    return s;
  }
  for (const char* unsupported : {"tools", "functions"}) {
    if (const Json* f = Field(body, unsupported); f != nullptr && !(f->is_array() && f->empty())) {
      return Unsupported(unsupported, "tool calling");
    }
  }
  if (const Json* format = Field(body, "response_format");
      format != nullptr && !(format->is_object() && format->value("type", "") == "text")) {
    return Unsupported("response_format", "only {\"type\": \"text\"}");
  }
  if (const Json* suffix = Field(body, "suffix");
      suffix != nullptr && !(suffix->is_string() && suffix->get<std::string>().empty())) {
    return Unsupported("suffix", "insertion (fill-in-the-middle)");
  }
  v1::GenerationConfig& config = *out.request.mutable_config();
  TANDEM_ASSIGN_OR_RETURN(n, Integer(body, "n", 1));
  out.n = static_cast<int>(n.value_or(1));
  config.set_num_return_sequences(static_cast<uint32_t>(out.n));
  TANDEM_ASSIGN_OR_RETURN(best_of, Integer(body, "best_of", 1));
  if (best_of && *best_of != out.n) {
    return Unsupported("best_of", "only best_of = n (every candidate is returned)");
  }
  TANDEM_ASSIGN_OR_RETURN(stream, Bool(body, "stream"));
  out.stream = stream.value_or(false);
  if (const Json* options = Field(body, "stream_options"); options != nullptr) {
    if (!options->is_object()) return Bad("stream_options", "must be an object");
    TANDEM_ASSIGN_OR_RETURN(usage, Bool(*options, "include_usage"));
    out.include_usage = usage.value_or(false);
  }
  if (api == Api::kCompletions) {
    TANDEM_ASSIGN_OR_RETURN(echo, Bool(body, "echo"));
    out.echo = echo.value_or(false);
  }
  // Completions default to 16 tokens as OpenAI's do; chat leaves it to the
  // server's default.
  TANDEM_ASSIGN_OR_RETURN(max_tokens, Integer(body, "max_tokens"));
  TANDEM_ASSIGN_OR_RETURN(max_completion, Integer(body, "max_completion_tokens"));
  v1::StoppingCriteria& stopping = *config.mutable_stopping();
  if (max_completion) {
    stopping.set_max_new_tokens(static_cast<uint32_t>(*max_completion));
  } else if (max_tokens) {
    stopping.set_max_new_tokens(static_cast<uint32_t>(*max_tokens));
  } else if (api == Api::kCompletions) {
    stopping.set_max_new_tokens(16);
  }
  TANDEM_ASSIGN_OR_RETURN(min_tokens, Integer(body, "min_tokens"));
  if (min_tokens) stopping.set_min_new_tokens(static_cast<uint32_t>(*min_tokens));
  TANDEM_ASSIGN_OR_RETURN(ignore_eos, Bool(body, "ignore_eos"));
  stopping.set_ignore_eos(ignore_eos.value_or(false));
  if (absl::Status s = ParseStop(body, stopping); !s.ok()) return s;
  if (absl::Status s = ParseSampling(body, *config.mutable_sampling()); !s.ok()) return s;
  if (absl::Status s = ParseLogprobs(api, body, out); !s.ok()) return s;
  if (out.echo && out.logprobs) {
    return Unsupported("echo", "together with logprobs (prompt log-probabilities)");
  }
  if (absl::Status s = ParseSpeculation(body, *config.mutable_speculation()); !s.ok()) return s;
  config.mutable_output()->set_include_speculation_stats(true);
  return absl::OkStatus();
}

#undef TANDEM_ASSIGN_OR_RETURN

// tandem request fields (as the GenerationService's errors name them) and the
// OpenAI parameters that set them.
constexpr std::pair<const char*, const char*> kFieldToParam[] = {
    {"prompts", "prompt"},
    {"num_return_sequences", "n"},
    {"sampling.temperature", "temperature"},
    {"sampling.top_p", "top_p"},
    {"sampling.top_k", "top_k"},
    {"sampling.min_p", "min_p"},
    {"sampling.typical_p", "typical_p"},
    {"sampling.repetition_penalty", "repetition_penalty"},
    {"sampling.presence_penalty", "presence_penalty"},
    {"sampling.frequency_penalty", "frequency_penalty"},
    {"sampling.no_repeat_ngram_size", "no_repeat_ngram_size"},
    {"sampling.logit_bias", "logit_bias"},
    {"sampling.seed", "seed"},
    {"stopping.max_new_tokens", "max_tokens"},
    {"stopping.min_new_tokens", "min_tokens"},
    {"stopping.stop_strings", "stop"},
    {"output.top_logprobs", "top_logprobs"},
    {"speculation.fixed_draft_length", "num_speculative_tokens"},
    {"speculation.adaptive", "num_speculative_tokens"},
    {"speculation.mode", "speculation_mode"},
};

}  // namespace

absl::StatusOr<OpenAiRequest> ParseRequest(Api api, absl::string_view body) {
  const Json json = Json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    return absl::InvalidArgumentError("the request body is not valid JSON");
  }
  if (!json.is_object()) return absl::InvalidArgumentError("the request body must be a JSON object");
  OpenAiRequest out;
  out.api = api;
  if (absl::Status s = Parse(api, json, out); !s.ok()) return s;
  return out;
}

std::string ErrorParam(const absl::Status& status) {
  if (absl::optional<absl::Cord> param = status.GetPayload(kParamPayload)) {
    return std::string(*param);
  }
  // The GenerationService names fields as `config.sampling.top_p` or
  // `prompts[0]`: the longest known prefix wins.
  const absl::string_view message = status.message();
  const size_t open = message.find('`');
  if (open == absl::string_view::npos) return "";
  absl::string_view field = message.substr(open + 1);
  absl::ConsumePrefix(&field, "config.");
  std::string best;
  size_t best_length = 0;
  for (const auto& [prefix, param] : kFieldToParam) {
    const size_t length = strlen(prefix);
    if (field.substr(0, length) == prefix && length > best_length &&
        (field.size() == length || field[length] == '`' || field[length] == '[' ||
         field[length] == '.')) {
      best = param;
      best_length = length;
    }
  }
  return best;
}

}  // namespace tandem::services::openai
