#include "services/orchestrator/validation.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "decoding/backend_beam_search.h"
#include "decoding/engine_session.h"
#include "services/common/convert.h"

namespace tandem::services {
namespace {

// Every field is named by its path from the GenerateRequest root
// ("config.stopping.eos_token_ids"), as a client would spell it.
absl::Status Invalid(absl::string_view field, absl::string_view range, int64_t got) {
  return absl::InvalidArgumentError(absl::StrCat("`", field, "` must be ", range, ", got ", got));
}

// A library message ("`top_p` must be ...") with its field put under
// `prefix` ("config.sampling.").
absl::Status Qualified(const absl::Status& s, absl::string_view prefix) {
  std::string message(s.message());
  if (absl::StartsWith(message, "`")) {
    message.insert(1, std::string(prefix));
  } else {
    message = absl::StrCat("`", prefix.substr(0, prefix.size() - 1), "`: ", message);
  }
  return absl::Status(s.code(), message);
}

absl::Status CheckTokenIds(absl::string_view field, absl::Span<const uint32_t> ids,
                           int64_t vocab_size) {
  for (uint32_t id : ids) {
    if (id >= vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat("`", field, "` contains ", id,
                                                     "; ids must be in [0, ", vocab_size, ")"));
    }
  }
  return absl::OkStatus();
}

// The prompt a chat template makes of a conversation, tokenized as HF's
// apply_chat_template(tokenize=True) does: the template writes the special
// tokens, so none are added, and their text is recognised. The request's
// shape is checked first (INVALID_ARGUMENT), then whether it can be served.
absl::StatusOr<std::vector<int32_t>> EncodeChat(const v1::ChatPrompt& chat,
                                                const std::string& field, int64_t max_bytes,
                                                const tokenizer::LoadedChatTemplate* chat_template,
                                                const tokenizer::Tokenizer& tokenizer) {
  if (chat.messages().empty() || chat.messages_size() > 1024) {
    return Invalid(field + ".messages", "1 to 1024 messages", chat.messages_size());
  }
  int64_t bytes = 0;
  for (int m = 0; m < chat.messages_size(); ++m) {
    if (chat.messages(m).role().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("`", field, ".messages[", m, "].role` must not be empty"));
    }
    bytes += chat.messages(m).role().size() + chat.messages(m).content().size();
  }
  if (bytes > max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("`", field, ".messages` have ", bytes, " bytes; they must be at most ",
                     max_bytes, " bytes (", kMaxPromptBytesPerToken, " per token of context)"));
  }
  if (chat_template == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "`", field, "`: this orchestrator has no chat template (the tokenizer has none; start it "
        "with --chat_template)"));
  }
  std::vector<tokenizer::ChatMessage> messages;
  for (const v1::ChatMessage& m : chat.messages()) messages.push_back({m.role(), m.content()});
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

absl::StatusOr<decoding::SpeculationMode> ResolveMode(v1::SpeculationMode mode,
                                                      const GenerationLimits& limits) {
  switch (mode) {
    case v1::SPECULATION_MODE_UNSPECIFIED:
      if (limits.default_mode == decoding::SpeculationMode::kDraftModel &&
          !limits.draft_available) {
        return decoding::SpeculationMode::kOff;
      }
      return limits.default_mode;
    case v1::SPECULATION_MODE_OFF: return decoding::SpeculationMode::kOff;
    case v1::SPECULATION_MODE_DRAFT_MODEL:
      if (!limits.draft_available) {
        return absl::FailedPreconditionError(
            "speculation mode DRAFT_MODEL needs a draft service; this orchestrator has none");
      }
      return decoding::SpeculationMode::kDraftModel;
    case v1::SPECULATION_MODE_SELF_SPECULATIVE: return decoding::SpeculationMode::kSelfSpeculative;
    case v1::SPECULATION_MODE_NGRAM: return decoding::SpeculationMode::kNgram;
    default: return Invalid("config.speculation.mode", "a SpeculationMode value", mode);
  }
}

absl::Status ValidateDraftLength(const v1::SpeculationConfig& s, const GenerationLimits& limits,
                                 decoding::SpeculationOptions& out) {
  out.draft_length = limits.default_draft_length;
  out.adaptive = limits.default_adaptive;
  out.max_draft_length = limits.max_draft_length;
  if (s.has_fixed_draft_length()) {
    if (s.fixed_draft_length() < 1 ||
        s.fixed_draft_length() > static_cast<uint32_t>(limits.max_draft_length)) {
      return Invalid("config.speculation.fixed_draft_length",
                     absl::StrCat("in [1, ", limits.max_draft_length, "]"), s.fixed_draft_length());
    }
    out.draft_length = s.fixed_draft_length();
    out.adaptive = false;
  } else if (s.has_adaptive()) {
    const v1::AdaptiveDraftLength& a = s.adaptive();
    if (a.max_draft_length() > static_cast<uint32_t>(limits.max_draft_length)) {
      return Invalid("config.speculation.adaptive.max_draft_length",
                     absl::StrCat("in [1, ", limits.max_draft_length, "]"), a.max_draft_length());
    }
    const int max = a.max_draft_length() ? a.max_draft_length() : limits.max_draft_length;
    if (a.min_draft_length() > static_cast<uint32_t>(max)) {
      return Invalid("config.speculation.adaptive.min_draft_length",
                     absl::StrCat("in [0, max_draft_length=", max, "]"), a.min_draft_length());
    }
    const int min = a.min_draft_length();
    if (a.initial_draft_length() != 0 && (a.initial_draft_length() < static_cast<uint32_t>(min) ||
                                          a.initial_draft_length() > static_cast<uint32_t>(max))) {
      return Invalid("config.speculation.adaptive.initial_draft_length",
                     absl::StrCat("0 or in [min_draft_length=", min, ", max_draft_length=", max,
                                  "]"),
                     a.initial_draft_length());
    }
    out.adaptive = true;
    out.max_draft_length = max;
    out.min_draft_length = min;
    if (a.initial_draft_length() > 0) out.draft_length = a.initial_draft_length();
  }
  return absl::OkStatus();
}

// SelfSpeculativeOptions and NgramOptions: only with their own mode.
absl::Status ValidateModeOptions(const v1::SpeculationConfig& s, const model::ModelInfo& target,
                                 decoding::SpeculationOptions& out) {
  const auto only_with = [&](absl::string_view field, absl::string_view mode) {
    return absl::InvalidArgumentError(
        absl::StrCat("`", field, "` is only valid with speculation mode ", mode,
                     "; this request runs ",
                     v1::SpeculationMode_Name(SpeculationModeToProto(out.mode))));
  };
  if (s.self_speculative().has_exit_layer()) {
    if (out.mode != decoding::SpeculationMode::kSelfSpeculative) {
      return only_with("config.speculation.self_speculative.exit_layer", "SELF_SPECULATIVE");
    }
    const int64_t e = s.self_speculative().exit_layer();
    if (e < 1 || e >= target.num_layers) {
      return Invalid("config.speculation.self_speculative.exit_layer",
                     absl::StrCat("in [1, ", target.num_layers - 1, "]"), e);
    }
    out.exit_layer = e;
  }
  if (out.mode == decoding::SpeculationMode::kSelfSpeculative && out.exit_layer == 0 &&
      target.default_early_exit_layer == 0) {
    return absl::InvalidArgumentError(
        "`config.speculation.self_speculative.exit_layer` is required: the target model has no "
        "default early-exit layer");
  }
  const v1::NgramOptions& ngram = s.ngram();
  if (ngram.min_ngram_size() != 0 || ngram.max_ngram_size() != 0) {
    if (out.mode != decoding::SpeculationMode::kNgram) {
      return only_with("config.speculation.ngram", "NGRAM");
    }
    const uint32_t mn = ngram.min_ngram_size() ? ngram.min_ngram_size() : 1;
    const uint32_t mx = ngram.max_ngram_size() ? ngram.max_ngram_size() : 3;
    if (mx > 16 || mn > mx) {
      return absl::InvalidArgumentError(
          absl::StrCat("`config.speculation.ngram` sizes must satisfy 1 <= min_ngram_size <= "
                       "max_ngram_size <= 16, got ",
                       mn, " and ", mx));
    }
    out.ngram_min = mn;
    out.ngram_max = mx;
  }
  if (s.has_tree()) {
    if (out.mode != decoding::SpeculationMode::kDraftModel) {
      return only_with("config.speculation.tree", "DRAFT_MODEL");
    }
    if (s.tree().alternatives() > static_cast<uint32_t>(decoding::kMaxTreeAlternatives)) {
      return Invalid("config.speculation.tree.alternatives",
                     absl::StrCat("in [0, ", decoding::kMaxTreeAlternatives, "]"),
                     s.tree().alternatives());
    }
    if (s.tree().depth() > static_cast<uint32_t>(kMaxTreeDepth)) {
      return Invalid("config.speculation.tree.depth", absl::StrCat("in [0, ", kMaxTreeDepth, "]"),
                     s.tree().depth());
    }
    out.tree_alternatives = static_cast<int>(s.tree().alternatives());
    out.tree_depth = static_cast<int>(s.tree().depth());
    out.adaptive_tree = false;
  }
  return absl::OkStatus();
}

// Beam search speculates only with a draft model (ValidateBeam checked the
// rest); draft_length is then the draft's beam steps per target pass.
absl::Status ValidateSpeculation(const v1::SpeculationConfig& s, const model::ModelInfo& target,
                                 const GenerationLimits& limits, bool beam_search,
                                 decoding::SpeculationOptions& out) {
  absl::StatusOr<decoding::SpeculationMode> mode = ResolveMode(s.mode(), limits);
  if (!mode.ok()) return mode.status();
  out.mode = *mode;
  if (absl::Status st = ValidateDraftLength(s, limits, out); !st.ok()) return st;
  if (beam_search) {
    // Only when asked for: on a compute-bound target (this project's CPUs)
    // the trees' rows cost about what they save (docs/benchmarks.md), so
    // an unset mode keeps beam search plain.
    if (s.mode() != v1::SPECULATION_MODE_DRAFT_MODEL) out.mode = decoding::SpeculationMode::kOff;
    // Adaptive (the server's default) unless fixed_draft_length: the
    // depth of each pass's trees, at most draft_length, from what the search
    // measures (decoding/beam_draft_policy.h).
    out.draft_length = std::min(out.draft_length, decoding::kMaxBeamDraftSteps);
    return absl::OkStatus();
  }
  if (out.mode == decoding::SpeculationMode::kDraftModel && out.adaptive) {
    // Unset SpeculationConfig.tree with adaptive γ: the default tree, drafted
    // where it pays. Like adaptive γ it follows measured costs, so a seeded
    // request with a fixed γ keeps chains and stays reproducible.
    out.tree_alternatives = limits.default_tree_alternatives;
    out.tree_depth = limits.default_tree_depth;
    out.adaptive_tree = true;
  }
  if (absl::Status st = ValidateModeOptions(s, target, out); !st.ok()) return st;
  out.pipelined = !s.disable_pipelining();
  out.draft_shares_target_cpu = limits.draft_shares_target_cpu;
  return absl::OkStatus();
}

absl::Status ValidateRequestId(const std::string& request_id) {
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
  return absl::OkStatus();
}

absl::StatusOr<std::vector<int64_t>> PromptIds(int i, const v1::Prompt& p,
                                               const model::ModelInfo& target,
                                               const tokenizer::Tokenizer& tokenizer,
                                               const tokenizer::LoadedChatTemplate* chat_template) {
  const std::string field = absl::StrCat("prompts[", i, "]");
  std::vector<int64_t> ids;
  if (p.has_token_ids()) {
    if (static_cast<int64_t>(p.token_ids().ids_size()) >= target.context_length) {
      return absl::InvalidArgumentError(
          absl::StrCat("`", field, ".token_ids` has ", p.token_ids().ids_size(),
                       " tokens; it must be shorter than the context (", target.context_length,
                       " tokens)"));
    }
    if (absl::Status s = CheckTokenIds(field + ".token_ids", p.token_ids().ids(),
                                       target.vocab_size);
        !s.ok()) {
      return s;
    }
    ids.assign(p.token_ids().ids().begin(), p.token_ids().ids().end());
  } else if (p.has_chat()) {
    absl::StatusOr<std::vector<int32_t>> encoded =
        EncodeChat(p.chat(), field + ".chat", MaxPromptBytes(target.context_length),
                   chat_template, tokenizer);
    if (!encoded.ok()) return encoded.status();
    ids.assign(encoded->begin(), encoded->end());
  } else if (p.has_text() && !p.text().empty()) {
    // Checked before tokenizing: tokenization time grows with the text,
    // and text this long cannot fit the context anyway.
    const int64_t max_bytes = MaxPromptBytes(target.context_length);
    if (static_cast<int64_t>(p.text().size()) > max_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "`", field, ".text` is ", p.text().size(), " bytes; it must be at most ", max_bytes,
          " bytes (", kMaxPromptBytesPerToken, " per token of the ", target.context_length,
          "-token context)"));
    }
    absl::StatusOr<std::vector<int32_t>> encoded = tokenizer.Encode(p.text());
    if (!encoded.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("`", field, ".text`: ", encoded.status().message()));
    }
    ids.assign(encoded->begin(), encoded->end());
  }
  if (ids.empty()) return absl::InvalidArgumentError(absl::StrCat("`", field, "` is empty"));
  if (static_cast<int64_t>(ids.size()) >= target.context_length) {
    return absl::InvalidArgumentError(
        absl::StrCat("`", field, "` has ", ids.size(),
                     " tokens; it must be shorter than the context (", target.context_length,
                     " tokens)"));
  }
  return ids;
}

// Checked whether or not num_beams > 1 (a value out of range is invalid
// even where it would be ignored); fills v.beam for num_beams > 1.
absl::Status ValidateBeam(const v1::GenerationConfig& config, int n, ValidatedGeneration& v) {
  const v1::BeamSearchParams& beam = config.beam_search();
  if (beam.num_beams() > 16) {
    return Invalid("config.beam_search.num_beams", "in [0, 16]", beam.num_beams());
  }
  const double length_penalty = beam.has_length_penalty() ? beam.length_penalty() : 1.0;
  if (!(length_penalty >= -10 && length_penalty <= 10)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "`config.beam_search.length_penalty` must be in [-10, 10], got ", length_penalty));
  }
  sampling::EarlyStopping early_stopping;
  switch (beam.early_stopping()) {
    case v1::EARLY_STOPPING_UNSPECIFIED:
    case v1::EARLY_STOPPING_FALSE: early_stopping = sampling::EarlyStopping::kHeuristic; break;
    case v1::EARLY_STOPPING_TRUE: early_stopping = sampling::EarlyStopping::kTrue; break;
    case v1::EARLY_STOPPING_NEVER: early_stopping = sampling::EarlyStopping::kNever; break;
    default:
      return Invalid("config.beam_search.early_stopping", "an EarlyStopping value",
                     beam.early_stopping());
  }
  if (beam.num_beams() <= 1) return absl::OkStatus();
  if (n > static_cast<int>(beam.num_beams())) {
    return Invalid("config.num_return_sequences",
                   absl::StrCat("in [1, num_beams=", beam.num_beams(), "] with beam search"), n);
  }
  const v1::SpeculationConfig& speculation = config.speculation();
  const auto mode = speculation.mode();
  if (mode != v1::SPECULATION_MODE_UNSPECIFIED && mode != v1::SPECULATION_MODE_OFF &&
      mode != v1::SPECULATION_MODE_DRAFT_MODEL) {
    return absl::InvalidArgumentError(
        "`config.speculation.mode` must be DRAFT_MODEL, OFF or unset with beam search "
        "(num_beams > 1)");
  }
  // Speculative beam search drafts fixed-depth beam trees: no adaptive
  // length, no chain trees.
  if (speculation.has_adaptive()) {
    return absl::InvalidArgumentError(
        "`config.speculation.adaptive` is not available with beam search (num_beams > 1); "
        "set `config.speculation.fixed_draft_length` (the draft's beam steps per target pass)");
  }
  if (speculation.has_tree()) {
    return absl::InvalidArgumentError(
        "`config.speculation.tree` is not available with beam search (num_beams > 1): the draft's "
        "own beam search shapes the trees");
  }
  if (speculation.has_fixed_draft_length() &&
      (speculation.fixed_draft_length() < 1 ||
       speculation.fixed_draft_length() > static_cast<uint32_t>(decoding::kMaxBeamDraftSteps))) {
    return Invalid("config.speculation.fixed_draft_length",
                   absl::StrCat("in [1, ", decoding::kMaxBeamDraftSteps, "] with beam search"),
                   speculation.fixed_draft_length());
  }
  v.beam_search = true;
  v.beam.num_beams = beam.num_beams();
  v.beam.num_return_sequences = n;
  v.beam.length_penalty = length_penalty;
  v.beam.early_stopping = early_stopping;
  return absl::OkStatus();
}

// A google.protobuf.Duration as its spec defines it: nanos in
// (-1e9, 1e9) with the sign of seconds.
absl::StatusOr<absl::Duration> ValidDuration(absl::string_view field,
                                             const google::protobuf::Duration& d) {
  const bool nanos_in_range = d.nanos() > -1000000000 && d.nanos() < 1000000000;
  const bool same_sign = !(d.seconds() > 0 && d.nanos() < 0) && !(d.seconds() < 0 && d.nanos() > 0);
  if (!nanos_in_range || !same_sign) {
    return absl::InvalidArgumentError(
        absl::StrCat("`", field, "` is not a valid Duration: nanos must be in (-1e9, 1e9) with ",
                     "the sign of seconds, got seconds=", d.seconds(), " nanos=", d.nanos()));
  }
  return FromProto(d);
}

// StoppingCriteria, and the stopping-owned fields of the sampling params
// (min_new_tokens, EOS ids).
absl::Status ValidateStopping(const v1::StoppingCriteria& stop, const model::ModelInfo& target,
                              const std::vector<int64_t>& model_eos,
                              const GenerationLimits& limits, ValidatedGeneration& v,
                              sampling::SamplingParams& params) {
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
        "`config.stopping.eos_token_ids` must be empty when `config.stopping.ignore_eos` is set");
  }
  if (absl::Status s =
          CheckTokenIds("config.stopping.eos_token_ids", stop.eos_token_ids(), target.vocab_size);
      !s.ok()) {
    return s;
  }
  std::vector<int64_t> eos(stop.eos_token_ids().begin(), stop.eos_token_ids().end());
  if (eos.empty() && !stop.ignore_eos()) eos = model_eos;
  params.min_new_tokens = stop.min_new_tokens();
  params.eos_token_ids = eos;
  v.base.stop.eos_token_ids = eos;
  if (stop.stop_strings_size() > 16) {
    return Invalid("config.stopping.stop_strings", "at most 16 entries", stop.stop_strings_size());
  }
  for (int i = 0; i < stop.stop_strings_size(); ++i) {
    const std::string& s = stop.stop_strings(i);
    if (s.empty() || s.size() > 256) {
      return Invalid(absl::StrCat("config.stopping.stop_strings[", i, "]"), "1 to 256 bytes long",
                     s.size());
    }
    v.stop_strings.push_back(s);
  }
  if (stop.has_max_time()) {
    absl::StatusOr<absl::Duration> t = ValidDuration("config.stopping.max_time", stop.max_time());
    if (!t.ok()) return t.status();
    if (*t <= absl::ZeroDuration() || *t > absl::Hours(1)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "`config.stopping.max_time` must be in (0, 1h], got ", absl::FormatDuration(*t)));
    }
    v.base.stop.max_time = *t;
  }
  return absl::OkStatus();
}

absl::Status ValidateSampling(const model::ModelInfo& target, sampling::SamplingParams& params) {
  absl::flat_hash_set<int64_t> biased;
  for (const sampling::TokenBias& b : params.logit_bias) {
    // The proto promises distinct ids; duplicates would add up past [-100, 100].
    if (!biased.insert(b.token_id).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "`config.sampling.logit_bias` has two entries for token id ", b.token_id));
    }
  }
  if (absl::Status s = sampling::ValidateSamplingParams(params, target.vocab_size); !s.ok()) {
    return Qualified(s, "config.sampling.");
  }
  return absl::OkStatus();
}

// OutputOptions.relevance and the response-size bounds it promises.
absl::Status ValidateRelevance(const v1::RelevanceOptions& relevance, ValidatedGeneration& v) {
  if (!relevance.enabled()) return absl::OkStatus();
  absl::StatusOr<ValidatedRelevance> r = FromProto(relevance, "config.output.relevance.");
  if (!r.ok()) return r.status();
  if (v.beam_search) {
    return absl::InvalidArgumentError(
        "`config.output.relevance` is not available with beam search (num_beams > 1)");
  }
  const int64_t new_tokens = v.base.stop.max_new_tokens;
  const int64_t sequences = static_cast<int64_t>(v.prompts.size()) * v.num_return_sequences;
  int64_t dense = 0;
  for (const std::vector<int64_t>& prompt : v.prompts) {
    const int64_t length = static_cast<int64_t>(prompt.size()) + new_tokens;
    if (length > kMaxRelevanceSequence) {
      return absl::InvalidArgumentError(absl::StrCat(
          "`config.output.relevance`: prompt + `config.stopping.max_new_tokens` must be <= ",
          kMaxRelevanceSequence, " tokens, got ", prompt.size(), " + ", new_tokens));
    }
    dense += length * length / 2 * v.num_return_sequences;
  }
  const int64_t top = r->options.top_n * new_tokens * sequences;
  if (top > kMaxRelevanceTopEntries) {
    return absl::InvalidArgumentError(absl::StrCat(
        "`config.output.relevance.top_n` × `config.stopping.max_new_tokens` × returned sequences "
        "must be <= ", kMaxRelevanceTopEntries, ", got ", r->options.top_n, " × ", new_tokens,
        " × ", sequences, " = ", top));
  }
  if (r->dense && dense > kMaxRelevanceDenseScores) {
    return absl::InvalidArgumentError(absl::StrCat(
        "`config.output.relevance.dense`: the sum over returned sequences of (prompt + "
        "`config.stopping.max_new_tokens`)^2 / 2 must be <= ", kMaxRelevanceDenseScores, ", got ",
        dense));
  }
  v.relevance = *std::move(r);
  return absl::OkStatus();
}

absl::Status ValidateOutput(const v1::OutputOptions& out, ValidatedGeneration& v) {
  if (out.top_logprobs() > 20) {
    return Invalid("config.output.top_logprobs", "in [0, 20]", out.top_logprobs());
  }
  if (out.top_logprobs() > 0 && !out.logprobs()) {
    return absl::InvalidArgumentError(
        "`config.output.top_logprobs` needs `config.output.logprobs` to be set");
  }
  v.logprobs = out.logprobs();
  v.top_logprobs = out.top_logprobs();
  v.base.session.top_logprobs = out.top_logprobs();
  v.include_speculation_stats = out.include_speculation_stats();
  const uint32_t dist = out.distribution_top_n();
  if (dist > static_cast<uint32_t>(decoding::kMaxDistributionTopN)) {
    return Invalid("config.output.distribution_top_n",
                   absl::StrCat("in [0, ", decoding::kMaxDistributionTopN, "]"), dist);
  }
  if (dist > 0 && v.beam_search) {
    return absl::InvalidArgumentError(
        "`config.output.distribution_top_n` is not available with beam search (num_beams > 1)");
  }
  const int64_t sequences = static_cast<int64_t>(v.prompts.size()) * v.num_return_sequences;
  const int64_t entries = static_cast<int64_t>(dist) * v.base.stop.max_new_tokens * sequences;
  if (entries > kMaxDistributionEntries) {
    return absl::InvalidArgumentError(absl::StrCat(
        "`config.output.distribution_top_n` × `config.stopping.max_new_tokens` × returned "
        "sequences must be <= ", kMaxDistributionEntries, ", got ", dist, " × ",
        v.base.stop.max_new_tokens, " × ", sequences, " = ", entries));
  }
  v.base.session.distribution_top_n = static_cast<int>(dist);
  return ValidateRelevance(out.relevance(), v);
}

}  // namespace

int64_t MaxPromptBytes(int64_t context_length) {
  return kMaxPromptBytesPerToken * context_length;
}

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
  if (absl::Status s = ValidateRequestId(request_id); !s.ok()) return s;
  v.request_id = request_id;
  if (prompts.empty() || prompts.size() > limits.max_prompts) {
    return Invalid("prompts", absl::StrCat("1 to ", limits.max_prompts, " entries"), prompts.size());
  }
  for (int i = 0; i < prompts.size(); ++i) {
    absl::StatusOr<std::vector<int64_t>> ids =
        PromptIds(i, prompts[i], target, tokenizer, chat_template);
    if (!ids.ok()) return ids.status();
    v.prompts.push_back(*std::move(ids));
  }
  // Compared as uint32: values above INT_MAX must not wrap to negative counts.
  const uint32_t requested = config.num_return_sequences() == 0 ? 1 : config.num_return_sequences();
  if (requested > static_cast<uint32_t>(limits.max_return_sequences)) {
    return Invalid("config.num_return_sequences",
                   absl::StrCat("in [0, ", limits.max_return_sequences, "]"), requested);
  }
  const int n = static_cast<int>(requested);
  v.num_return_sequences = n;
  if (absl::Status s = ValidateBeam(config, n, v); !s.ok()) return s;
  absl::StatusOr<sampling::SamplingParams> params = FromProto(config.sampling());
  if (!params.ok()) return params.status();
  if (n > 1 && !v.beam_search && params->greedy()) {
    // Greedy decoding would return n identical sequences.
    return Invalid("config.num_return_sequences",
                   "1 with greedy decoding (temperature 0) unless num_beams >= it", n);
  }
  if (absl::Status s = ValidateStopping(config.stopping(), target, model_eos, limits, v, *params);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateSampling(target, *params); !s.ok()) return s;
  v.seed = params->seed;
  v.base.session.params = *params;
  if (absl::Status s = ValidateOutput(config.output(), v); !s.ok()) return s;
  if (absl::Status s = ValidateSpeculation(config.speculation(), target, limits, v.beam_search,
                                           v.base.speculation);
      !s.ok()) {
    return s;
  }
  if (v.beam_search) {
    v.beam.eos_token_ids = v.base.stop.eos_token_ids;
    v.beam.max_new_tokens = v.base.stop.max_new_tokens;
    if (absl::Status s = sampling::ValidateBeamSearchOptions(v.beam); !s.ok()) {
      return Qualified(s, "config.beam_search.");
    }
  }
  return v;
}

}  // namespace tandem::services
