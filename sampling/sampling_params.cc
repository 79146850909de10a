#include "sampling/sampling_params.h"

#include <cmath>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "sampling/penalties.h"
#include "sampling/warpers.h"

namespace tandem::sampling {
namespace {

absl::Status RangeError(absl::string_view field, absl::string_view range,
                        double value) {
  return absl::InvalidArgumentError(
      absl::StrCat("`", field, "` must be ", range, ", got ", value));
}

absl::Status CheckIds(absl::string_view field, absl::Span<const int64_t> ids,
                      int64_t vocab_size) {
  for (int64_t id : ids) {
    if (id < 0 || (vocab_size > 0 && id >= vocab_size)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "`", field, "` contains token id ", id, "; ids must be in [0, ",
          vocab_size > 0 ? absl::StrCat(vocab_size) : std::string("vocab"),
          ")"));
    }
  }
  return absl::OkStatus();
}

template <typename T>
absl::Status AddIfOk(absl::StatusOr<std::unique_ptr<T>> processor,
                     LogitsProcessorChain& chain) {
  if (!processor.ok()) return processor.status();
  chain.Add(*std::move(processor));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Preset> ParsePreset(absl::string_view name) {
  const std::string lower = absl::AsciiStrToLower(name);
  if (lower == "creative") return Preset::kCreative;
  if (lower == "precise") return Preset::kPrecise;
  if (lower == "balanced") return Preset::kBalanced;
  if (lower == "deterministic") return Preset::kDeterministic;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown preset \"", name,
      "\"; expected one of creative, precise, balanced, deterministic"));
}

absl::string_view PresetName(Preset preset) {
  switch (preset) {
    case Preset::kCreative: return "creative";
    case Preset::kPrecise: return "precise";
    case Preset::kBalanced: return "balanced";
    case Preset::kDeterministic: return "deterministic";
  }
  return "unknown";
}

SamplingParams PresetParams(Preset preset) {
  SamplingParams p;
  switch (preset) {
    case Preset::kCreative:
      p.temperature = 1.2;
      p.top_p = 0.95;
      p.top_k = 100;
      p.repetition_penalty = 1.1;
      break;
    case Preset::kPrecise:
      p.temperature = 0.3;
      p.top_p = 0.9;
      p.top_k = 20;
      p.repetition_penalty = 1.05;
      break;
    case Preset::kBalanced:
      p.temperature = 0.7;
      p.top_p = 0.9;
      p.top_k = 50;
      break;
    case Preset::kDeterministic:
      p.temperature = 0.0;
      break;
  }
  return p;
}

absl::Status ValidateSamplingParams(const SamplingParams& p,
                                    int64_t vocab_size) {
  if (!std::isfinite(p.temperature) || p.temperature < 0.0) {
    return RangeError("temperature", ">= 0 and finite (0 = greedy)",
                      p.temperature);
  }
  if (p.top_k < 0) return RangeError("top_k", ">= 0 (0 = disabled)", p.top_k);
  if (!(p.top_p > 0.0 && p.top_p <= 1.0)) {
    return RangeError("top_p", "in (0, 1]", p.top_p);
  }
  if (!(p.min_p >= 0.0 && p.min_p <= 1.0)) {
    return RangeError("min_p", "in [0, 1]", p.min_p);
  }
  if (!(p.typical_p > 0.0 && p.typical_p <= 1.0)) {
    return RangeError("typical_p", "in (0, 1]", p.typical_p);
  }
  if (!std::isfinite(p.repetition_penalty) || p.repetition_penalty <= 0.0) {
    return RangeError("repetition_penalty", "> 0 and finite (1 = disabled)",
                      p.repetition_penalty);
  }
  if (!(p.presence_penalty >= -2.0 && p.presence_penalty <= 2.0)) {
    return RangeError("presence_penalty", "in [-2, 2]", p.presence_penalty);
  }
  if (!(p.frequency_penalty >= -2.0 && p.frequency_penalty <= 2.0)) {
    return RangeError("frequency_penalty", "in [-2, 2]", p.frequency_penalty);
  }
  if (p.no_repeat_ngram_size < 0) {
    return RangeError("no_repeat_ngram_size", ">= 0 (0 = disabled)",
                      p.no_repeat_ngram_size);
  }
  if (p.min_new_tokens < 0) {
    return RangeError("min_new_tokens", ">= 0", p.min_new_tokens);
  }
  if (absl::Status s = CheckIds("eos_token_ids", p.eos_token_ids, vocab_size);
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          CheckIds("banned_token_ids", p.banned_token_ids, vocab_size);
      !s.ok()) {
    return s;
  }
  for (const TokenBias& b : p.logit_bias) {
    if (absl::Status s = CheckIds("logit_bias.token_id", {b.token_id},
                                  vocab_size);
        !s.ok()) {
      return s;
    }
    if (!(b.bias >= -100.0 && b.bias <= 100.0)) {
      return RangeError("logit_bias.bias", "in [-100, 100]", b.bias);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<LogitsProcessorChain>> BuildProcessorChain(
    const SamplingParams& p) {
  if (absl::Status s = ValidateSamplingParams(p, /*vocab_size=*/0); !s.ok()) {
    return s;
  }
  auto chain = std::make_unique<LogitsProcessorChain>();
  absl::Status s;
  if (!p.logit_bias.empty()) {
    s.Update(AddIfOk(LogitBiasProcessor::Create(p.logit_bias), *chain));
  }
  if (!p.banned_token_ids.empty()) {
    s.Update(
        AddIfOk(BannedTokensProcessor::Create(p.banned_token_ids), *chain));
  }
  if (p.min_new_tokens > 0 && !p.eos_token_ids.empty()) {
    s.Update(AddIfOk(
        MinNewTokensProcessor::Create(p.min_new_tokens, p.eos_token_ids),
        *chain));
  }
  if (p.no_repeat_ngram_size > 0) {
    s.Update(AddIfOk(NoRepeatNGramProcessor::Create(p.no_repeat_ngram_size),
                     *chain));
  }
  if (p.repetition_penalty != 1.0) {
    s.Update(AddIfOk(RepetitionPenaltyProcessor::Create(p.repetition_penalty),
                     *chain));
  }
  if (p.presence_penalty != 0.0 || p.frequency_penalty != 0.0) {
    s.Update(AddIfOk(PresenceFrequencyPenaltyProcessor::Create(
                         p.presence_penalty, p.frequency_penalty),
                     *chain));
  }
  if (!p.greedy()) {
    if (p.temperature != 1.0) {
      s.Update(AddIfOk(TemperatureProcessor::Create(p.temperature), *chain));
    }
    if (p.top_k > 0) s.Update(AddIfOk(TopKProcessor::Create(p.top_k), *chain));
    if (p.top_p < 1.0) {
      s.Update(AddIfOk(TopPProcessor::Create(p.top_p), *chain));
    }
    if (p.min_p > 0.0) {
      s.Update(AddIfOk(MinPProcessor::Create(p.min_p), *chain));
    }
    if (p.typical_p < 1.0) {
      s.Update(AddIfOk(TypicalPProcessor::Create(p.typical_p), *chain));
    }
  }
  if (!s.ok()) return s;
  return chain;
}

}  // namespace tandem::sampling
