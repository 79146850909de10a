#include "services/orchestrator/validation.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "services/common/convert.h"

namespace tandem::services {
namespace {

absl::Status Invalid(absl::string_view field, absl::string_view range, int64_t got) {
  return absl::InvalidArgumentError(absl::StrCat("`", field, "` must be ", range, ", got ", got));
}

// The prompt a chat template makes of a conversation, tokenized as HF's
// apply_chat_template(tokenize=True) does: the template writes the special
// tokens, so none are added, and their text is recognised.
absl::StatusOr<std::vector<int32_t>> EncodeChat(const v1::ChatPrompt& chat,
                                                const std::string& field,
                                                const tokenizer::LoadedChatTemplate* chat_template,
                                                const tokenizer::Tokenizer& tokenizer) {
  if (chat_template == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "`", field, "`: this orchestrator has no chat template (the tokenizer has none; start it "
        "with --chat_template)"));
  }
  if (chat.messages().empty() || chat.messages_size() > 1024) {
    return Invalid(field + ".messages", "1 to 1024 messages", chat.messages_size());
  }
  std::vector<tokenizer::ChatMessage> messages;
  for (int m = 0; m < chat.messages_size(); ++m) {
    if (chat.messages(m).role().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("`", field, ".messages[", m, "].role` must not be empty"));
    }
    messages.push_back({chat.messages(m).role(), chat.messages(m).content()});
  }
  tokenizer::ChatTemplateOptions options = chat_template->DefaultOptions();
  options.add_generation_prompt = !chat.has_add_generation_prompt() || chat.add_generation_prompt();
  absl::StatusOr<std::string> text = chat_template->chat_template.Render(messages, options);
  if (!text.ok()) {
    return absl::Status(text.status().code() == absl::StatusCode::kResourceExhausted
                            ? absl::StatusCode::kInvalidArgument
                            : text.status().code(),
                        absl::StrCat("`", field, "`: the chat template says: ",
                                     text.status().message()));
  }
  tokenizer::EncodeOptions encode;
  encode.add_special_tokens = false;
  encode.parse_special = true;
  absl::StatusOr<std::vector<int32_t>> ids = tokenizer.Encode(*text, encode);
  if (!ids.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("`", field, "`: ", ids.status().message()));
  }
  return ids;
}

absl::Status ValidateSpeculation(const v1::SpeculationConfig& s, const model::ModelInfo& target,
                                 const GenerationLimits& limits,
                                 decoding::SpeculationOptions& out) {
  switch (s.mode()) {
    case v1::SPECULATION_MODE_UNSPECIFIED: out.mode = limits.default_mode; break;
    case v1::SPECULATION_MODE_OFF: out.mode = decoding::SpeculationMode::kOff; break;
    case v1::SPECULATION_MODE_DRAFT_MODEL: out.mode = decoding::SpeculationMode::kDraftModel; break;
    case v1::SPECULATION_MODE_SELF_SPECULATIVE:
      out.mode = decoding::SpeculationMode::kSelfSpeculative;
      break;
    case v1::SPECULATION_MODE_NGRAM: out.mode = decoding::SpeculationMode::kNgram; break;
    default: return Invalid("speculation.mode", "a SpeculationMode value", s.mode());
  }
  if (out.mode == decoding::SpeculationMode::kDraftModel && !limits.draft_available) {
    if (s.mode() == v1::SPECULATION_MODE_UNSPECIFIED) {
      out.mode = decoding::SpeculationMode::kOff;
    } else {
      return absl::FailedPreconditionError(
          "speculation mode DRAFT_MODEL needs a draft service; this orchestrator has none");
    }
  }
  out.draft_length = limits.default_draft_length;
  out.adaptive = limits.default_adaptive;
  out.max_draft_length = limits.max_draft_length;
  if (s.has_fixed_draft_length()) {
    if (s.fixed_draft_length() < 1 ||
        s.fixed_draft_length() > static_cast<uint32_t>(limits.max_draft_length)) {
      return Invalid("speculation.fixed_draft_length",
                     absl::StrCat("in [1, ", limits.max_draft_length, "]"), s.fixed_draft_length());
    }
    out.draft_length = s.fixed_draft_length();
    out.adaptive = false;
  } else if (s.has_adaptive()) {
    const auto& a = s.adaptive();
    if (a.max_draft_length() > static_cast<uint32_t>(limits.max_draft_length)) {
      return Invalid("speculation.adaptive.max_draft_length",
                     absl::StrCat("in [1, ", limits.max_draft_length, "]"), a.max_draft_length());
    }
    const int max = a.max_draft_length() ? a.max_draft_length() : limits.max_draft_length;
    if (a.initial_draft_length() > static_cast<uint32_t>(max)) {
      return Invalid("speculation.adaptive.initial_draft_length",
                     absl::StrCat("in [0, max_draft_length=", max, "]"), a.initial_draft_length());
    }
    out.adaptive = true;
    out.max_draft_length = max;
    if (a.initial_draft_length() > 0) out.draft_length = a.initial_draft_length();
  }
  if (s.self_speculative().has_exit_layer()) {
    const int64_t e = s.self_speculative().exit_layer();
    if (e < 1 || e >= target.num_layers) {
      return Invalid("speculation.self_speculative.exit_layer",
                     absl::StrCat("in [1, ", target.num_layers, ")"), e);
    }
    out.exit_layer = e;
  }
  if (out.mode == decoding::SpeculationMode::kSelfSpeculative && out.exit_layer == 0 &&
      target.default_early_exit_layer == 0) {
    return absl::InvalidArgumentError(
        "`speculation.self_speculative.exit_layer` is required: the target model has no "
        "default early-exit layer");
  }
  out.pipelined = !s.disable_pipelining();
  if (s.has_ngram()) {
    const uint32_t mn = s.ngram().min_ngram_size() ? s.ngram().min_ngram_size() : 1;
    const uint32_t mx = s.ngram().max_ngram_size() ? s.ngram().max_ngram_size() : 3;
    if (mx > 16 || mn > mx) {
      return absl::InvalidArgumentError(absl::StrCat(
          "`speculation.ngram` sizes must satisfy 1 <= min_ngram_size <= max_ngram_size <= 16, got ",
          mn, " and ", mx));
    }
    out.ngram_min = mn;
    out.ngram_max = mx;
  }
  return absl::OkStatus();
}

}  // namespace

int64_t AdmissionLimit(int64_t requested, const std::vector<int64_t>& target_max_sessions) {
  int64_t total = 0;
  for (int64_t n : target_max_sessions) {
    if (n <= 0) return requested;
    total += n;
  }
  return total > 0 ? std::min(requested, total) : requested;
}

v1::SpeculationMode SpeculationModeToProto(decoding::SpeculationMode mode) {
  switch (mode) {
    case decoding::SpeculationMode::kOff: return v1::SPECULATION_MODE_OFF;
    case decoding::SpeculationMode::kDraftModel: return v1::SPECULATION_MODE_DRAFT_MODEL;
    case decoding::SpeculationMode::kSelfSpeculative: return v1::SPECULATION_MODE_SELF_SPECULATIVE;
    case decoding::SpeculationMode::kNgram: return v1::SPECULATION_MODE_NGRAM;
  }
  return v1::SPECULATION_MODE_UNSPECIFIED;
}

absl::StatusOr<ValidatedGeneration> ValidateGenerate(
    const std::string& request_id, const google::protobuf::RepeatedPtrField<v1::Prompt>& prompts,
    const v1::GenerationConfig& config, const model::ModelInfo& target,
    const std::vector<int64_t>& model_eos, const tokenizer::Tokenizer& tokenizer,
    const GenerationLimits& limits, const tokenizer::LoadedChatTemplate* chat_template) {
  ValidatedGeneration v;
  if (request_id.size() > 128) {
    return absl::InvalidArgumentError("`request_id` must be at most 128 bytes");
  }
  // It travels as gRPC metadata (x-request-id) and into log lines.
  for (char c : request_id) {
    if (c < 0x21 || c > 0x7e) {
      return absl::InvalidArgumentError(
          "`request_id` must be printable ASCII without spaces (0x21-0x7E)");
    }
  }
  v.request_id = request_id;
  if (prompts.empty() || prompts.size() > limits.max_prompts) {
    return Invalid("prompts", absl::StrCat("1 to ", limits.max_prompts, " entries"), prompts.size());
  }
  for (int i = 0; i < prompts.size(); ++i) {
    const v1::Prompt& p = prompts[i];
    std::vector<int64_t> ids;
    if (p.has_token_ids()) {
      for (uint32_t id : p.token_ids().ids()) {
        if (id >= target.vocab_size) {
          return absl::InvalidArgumentError(absl::StrCat(
              "`prompts[", i, "].token_ids` contains ", id, "; ids must be in [0, ",
              target.vocab_size, ")"));
        }
        ids.push_back(id);
      }
    } else if (p.has_chat()) {
      absl::StatusOr<std::vector<int32_t>> encoded =
          EncodeChat(p.chat(), absl::StrCat("prompts[", i, "].chat"), chat_template, tokenizer);
      if (!encoded.ok()) return encoded.status();
      ids.assign(encoded->begin(), encoded->end());
    } else if (p.has_text() && !p.text().empty()) {
      absl::StatusOr<std::vector<int32_t>> encoded = tokenizer.Encode(p.text());
      if (!encoded.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("`prompts[", i, "].text`: ", encoded.status().message()));
      }
      ids.assign(encoded->begin(), encoded->end());
    }
    if (ids.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("`prompts[", i, "]` is empty"));
    }
    if (static_cast<int64_t>(ids.size()) >= target.context_length) {
      return absl::InvalidArgumentError(absl::StrCat(
          "`prompts[", i, "]` has ", ids.size(), " tokens; it must be shorter than the context (",
          target.context_length, " tokens)"));
    }
    v.prompts.push_back(std::move(ids));
  }
  // Compared as uint32: values above INT_MAX must not wrap to negative counts.
  const uint32_t requested = config.num_return_sequences() == 0 ? 1 : config.num_return_sequences();
  if (requested > static_cast<uint32_t>(limits.max_return_sequences)) {
    return Invalid("config.num_return_sequences",
                   absl::StrCat("in [1, ", limits.max_return_sequences, "]"), requested);
  }
  const int n = static_cast<int>(requested);
  v.num_return_sequences = n;
  const v1::BeamSearchParams& beam = config.beam_search();
  if (beam.num_beams() > 1) {
    if (beam.num_beams() > 16) {
      return Invalid("config.beam_search.num_beams", "in [1, 16]", beam.num_beams());
    }
    if (n > static_cast<int>(beam.num_beams())) {
      return Invalid("config.num_return_sequences",
                     absl::StrCat("in [1, num_beams=", beam.num_beams(), "] with beam search"), n);
    }
    const auto mode = config.speculation().mode();
    if (mode != v1::SPECULATION_MODE_UNSPECIFIED && mode != v1::SPECULATION_MODE_OFF) {
      return absl::InvalidArgumentError(
          "`config.speculation.mode` must be OFF or unset with beam search (num_beams > 1)");
    }
    v.beam_search = true;
    v.beam.num_beams = beam.num_beams();
    v.beam.num_return_sequences = n;
    v.beam.length_penalty = beam.has_length_penalty() ? beam.length_penalty() : 1.0;
    if (!(v.beam.length_penalty >= -10 && v.beam.length_penalty <= 10)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "`config.beam_search.length_penalty` must be in [-10, 10], got ", v.beam.length_penalty));
    }
    v.beam.early_stopping = beam.early_stopping() == v1::EARLY_STOPPING_TRUE
                                ? sampling::EarlyStopping::kTrue
                            : beam.early_stopping() == v1::EARLY_STOPPING_NEVER
                                ? sampling::EarlyStopping::kNever
                                : sampling::EarlyStopping::kHeuristic;
  }
  absl::StatusOr<sampling::SamplingParams> params = FromProto(config.sampling());
  if (!params.ok()) return params.status();
  absl::flat_hash_set<int64_t> biased;
  for (const sampling::TokenBias& b : params->logit_bias) {
    // The proto promises distinct ids; duplicates would add up past [-100, 100].
    if (!biased.insert(b.token_id).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "`config.sampling.logit_bias` has two entries for token id ", b.token_id));
    }
  }
  if (n > 1 && !v.beam_search && params->greedy()) {
    // Greedy decoding would return n identical sequences.
    return Invalid("config.num_return_sequences",
                   "1 with greedy decoding (temperature 0) unless num_beams >= it", n);
  }
  const v1::StoppingCriteria& stop = config.stopping();
  const int64_t max_new = stop.has_max_new_tokens() ? stop.max_new_tokens()
                                                    : limits.default_max_new_tokens;
  if (max_new < 1 || max_new > limits.max_new_tokens) {
    return Invalid("config.stopping.max_new_tokens",
                   absl::StrCat("in [1, ", limits.max_new_tokens, "]"), max_new);
  }
  v.base.stop.max_new_tokens = max_new;
  if (stop.has_max_length()) {
    for (size_t i = 0; i < v.prompts.size(); ++i) {
      if (stop.max_length() <= v.prompts[i].size() || stop.max_length() > target.context_length) {
        return absl::InvalidArgumentError(absl::StrCat(
            "`config.stopping.max_length` must be in [prompt length + 1 = ",
            v.prompts[i].size() + 1, ", context length = ", target.context_length, "], got ",
            stop.max_length()));
      }
    }
    v.max_length = stop.max_length();
  }
  if (stop.min_new_tokens() > max_new) {
    return Invalid("config.stopping.min_new_tokens",
                   absl::StrCat("in [0, max_new_tokens=", max_new, "]"), stop.min_new_tokens());
  }
  if (stop.ignore_eos() && stop.eos_token_ids_size() > 0) {
    return absl::InvalidArgumentError(
        "`config.stopping.eos_token_ids` must be empty when `ignore_eos` is set");
  }
  std::vector<int64_t> eos(stop.eos_token_ids().begin(), stop.eos_token_ids().end());
  if (eos.empty() && !stop.ignore_eos()) eos = model_eos;
  params->min_new_tokens = stop.min_new_tokens();
  params->eos_token_ids = eos;
  if (absl::Status s = sampling::ValidateSamplingParams(*params, target.vocab_size); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("`config.sampling`: ", s.message()));
  }
  v.base.stop.eos_token_ids = eos;
  if (stop.stop_strings_size() > 16) {
    return Invalid("config.stopping.stop_strings", "at most 16 entries", stop.stop_strings_size());
  }
  for (const std::string& s : stop.stop_strings()) {
    if (s.empty() || s.size() > 256) {
      return Invalid("config.stopping.stop_strings[]", "1 to 256 bytes long", s.size());
    }
    v.stop_strings.push_back(s);
  }
  if (stop.has_max_time()) {
    const absl::Duration t = FromProto(stop.max_time());
    if (t <= absl::ZeroDuration() || t > absl::Hours(1)) {
      return absl::InvalidArgumentError("`config.stopping.max_time` must be in (0, 1h]");
    }
    v.base.stop.max_time = t;
  }
  v.seed = params->seed;
  v.base.session.params = *params;
  const v1::OutputOptions& out = config.output();
  if (out.top_logprobs() > 20) {
    return Invalid("config.output.top_logprobs", "in [0, 20]", out.top_logprobs());
  }
  v.logprobs = out.logprobs() || out.top_logprobs() > 0;
  v.top_logprobs = out.top_logprobs();
  v.base.session.top_logprobs = out.top_logprobs();
  v.include_speculation_stats = out.include_speculation_stats();
  if (absl::Status s = ValidateSpeculation(config.speculation(), target, limits, v.base.speculation);
      !s.ok()) {
    return s;
  }
  if (v.beam_search) {
    v.base.speculation.mode = decoding::SpeculationMode::kOff;
    v.beam.eos_token_ids = eos;
    v.beam.max_new_tokens = max_new;
    if (absl::Status s = sampling::ValidateBeamSearchOptions(v.beam); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("`config.beam_search`: ", s.message()));
    }
  }
  return v;
}

}  // namespace tandem::services
