#include "tools/generate/generate_lib.h"

#include <algorithm>
#include <cmath>
#include <ostream>
#include <utility>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "decoding/beam_search_decoder.h"
#include "model/formats/checkpoint_loader.h"
#include "model/model.h"
#include "model/transformer_model.h"
#include "sampling/rng.h"
#include "sampling/sampling_params.h"
#include "sampling/selector.h"
#include "tokenizer/load_tokenizer.h"
#include "tokenizer/stream_decoder.h"

namespace tandem::tools {
namespace {

constexpr int64_t kDefaultContextCap = 4096;
constexpr int kMaxSamples = 10000;
constexpr int kMaxBeams = 64;

absl::Status Annotate(const absl::Status& status, absl::string_view prefix) {
  return absl::Status(status.code(), absl::StrCat(prefix, ": ", status.message()));
}

// "`top_p` must be ..." (ValidateSamplingParams' field style) -> "--top_p must be ...".
absl::Status AsFlagError(const absl::Status& status) {
  absl::string_view message = status.message();
  const size_t close = message.find('`', 1);
  if (!absl::ConsumePrefix(&message, "`") || close == absl::string_view::npos) return status;
  return absl::Status(status.code(), absl::StrCat("--", message.substr(0, close - 1),
                                                  message.substr(close)));
}

absl::StatusOr<sampling::SamplingParams> BuildSamplingParams(const SamplingFlags& flags) {
  sampling::SamplingParams p;
  if (!flags.preset.empty()) {
    absl::StatusOr<sampling::Preset> preset = sampling::ParsePreset(flags.preset);
    if (!preset.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--preset=", flags.preset,
          " is unknown; allowed: creative, precise, balanced, deterministic"));
    }
    p = sampling::PresetParams(*preset);
  }
  if (flags.temperature) p.temperature = *flags.temperature;
  if (flags.top_k) p.top_k = *flags.top_k;
  if (flags.top_p) p.top_p = *flags.top_p;
  if (flags.min_p) p.min_p = *flags.min_p;
  if (flags.repetition_penalty) p.repetition_penalty = *flags.repetition_penalty;
  if (absl::Status s = sampling::ValidateSamplingParams(p, 0); !s.ok()) {
    return AsFlagError(s);
  }
  return p;
}

absl::StatusOr<at::ScalarType> ParseDtype(const std::string& name) {
  if (name == "float32") return at::kFloat;
  if (name == "bfloat16") return at::kBFloat16;
  if (name == "float16") return at::kHalf;
  return absl::InvalidArgumentError(
      absl::StrCat("--dtype=", name, " is unknown; allowed: float32, bfloat16, float16"));
}

absl::StatusOr<at::Device> ParseDevice(const std::string& name) {
  if (name == "cpu") return at::Device(at::kCPU);
  if (name == "cuda") {
    if (!at::hasCUDA()) {
      return absl::FailedPreconditionError(
          "--device=cuda, but this LibTorch build has no CUDA device available");
    }
    return at::Device(at::kCUDA);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--device=", name, " is unknown; allowed: cpu, cuda"));
}

// Releases a model sequence on scope exit.
class ScopedSequence {
 public:
  ScopedSequence(model::Model& model, model::SequenceId id) : model_(model), id_(id) {}
  ~ScopedSequence() { model_.Release(id_); }
  model::SequenceId id() const { return id_; }

 private:
  model::Model& model_;
  model::SequenceId id_;
};

bool Contains(const std::vector<int64_t>& ids, int64_t id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

}  // namespace

absl::Status ValidateGenerateOptions(const GenerateOptions& o) {
  if (o.prompt.empty() == o.prompt_tokens.empty()) {
    return absl::InvalidArgumentError("exactly one of --prompt and --prompt_tokens must be set");
  }
  if (o.max_new_tokens < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--max_new_tokens must be >= 1, got ", o.max_new_tokens));
  }
  if (o.num_samples < 1 || o.num_samples > kMaxSamples) {
    return absl::InvalidArgumentError(absl::StrCat("--num_samples must be in [1, ", kMaxSamples,
                                                   "], got ", o.num_samples));
  }
  if (o.num_beams < 1 || o.num_beams > kMaxBeams) {
    return absl::InvalidArgumentError(
        absl::StrCat("--num_beams must be in [1, ", kMaxBeams, "], got ", o.num_beams));
  }
  if (o.num_return_sequences < 1 || o.num_return_sequences > o.num_beams) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--num_return_sequences must be in [1, --num_beams=", o.num_beams, "], got ",
        o.num_return_sequences));
  }
  if (o.num_beams > 1 && o.num_samples > 1) {
    return absl::InvalidArgumentError("--num_samples must be 1 with --num_beams > 1");
  }
  if (!std::isfinite(o.length_penalty)) {
    return absl::InvalidArgumentError("--length_penalty must be finite");
  }
  return BuildSamplingParams(o.sampling).status();
}

uint64_t RandomSeed() { return sampling::Rng::SeedFromOs(); }

absl::StatusOr<std::vector<int64_t>> ParseTokenList(const std::string& text) {
  std::vector<int64_t> ids;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    part = absl::StripAsciiWhitespace(part);
    int64_t id = 0;
    if (!absl::SimpleAtoi(part, &id) || id < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--prompt_tokens must be comma-separated non-negative integers; bad entry \"", part,
          "\""));
    }
    ids.push_back(id);
  }
  return ids;
}

TextGenerator::TextGenerator(std::unique_ptr<model::Model> model,
                             std::unique_ptr<tokenizer::Tokenizer> tokenizer)
    : model_(std::move(model)), tokenizer_(std::move(tokenizer)) {
  eos_ids_ = model_->info().eos_token_ids;
  if (std::optional<int32_t> eos = tokenizer_->eos_id(); eos && !Contains(eos_ids_, *eos)) {
    eos_ids_.push_back(*eos);
  }
}

TextGenerator::~TextGenerator() = default;

int64_t TextGenerator::num_open_sequences() const { return model_->num_sequences(); }

absl::StatusOr<std::unique_ptr<TextGenerator>> TextGenerator::Load(
    const ModelLoadOptions& options) {
  absl::StatusOr<at::Device> device = ParseDevice(options.device);
  if (!device.ok()) return device.status();
  absl::StatusOr<at::ScalarType> dtype = ParseDtype(options.dtype);
  if (!dtype.ok()) return dtype.status();
  if (options.threads < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--threads must be >= 0 (0: default), got ", options.threads));
  }
  if (options.max_context < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--max_context must be >= 0 (0: default), got ", options.max_context));
  }
  if (options.model_path.empty()) return absl::InvalidArgumentError("--model must be set");
  if (options.threads > 0) at::set_num_threads(options.threads);

  absl::StatusOr<model::Checkpoint> checkpoint = model::LoadCheckpoint(options.model_path);
  if (!checkpoint.ok()) return Annotate(checkpoint.status(), "--model=" + options.model_path);
  const int64_t context = checkpoint->config.max_position_embeddings;
  if (options.max_context > context) {
    return absl::InvalidArgumentError(absl::StrCat("--max_context must be in [0, ", context,
                                                   "] for this model, got ",
                                                   options.max_context));
  }
  const std::string tokenizer_path =
      options.tokenizer_path.empty() ? options.model_path : options.tokenizer_path;
  absl::StatusOr<std::unique_ptr<tokenizer::Tokenizer>> tokenizer =
      tokenizer::LoadTokenizer(tokenizer_path);
  if (!tokenizer.ok()) return Annotate(tokenizer.status(), "--tokenizer=" + tokenizer_path);

  model::TransformerOptions model_options;
  model_options.dtype = *dtype;
  model_options.device = *device;
  model_options.max_context =
      options.max_context > 0 ? options.max_context : std::min(context, kDefaultContextCap);
  absl::StatusOr<std::unique_ptr<model::TransformerModel>> model =
      model::TransformerModel::Create(*checkpoint, model_options);
  if (!model.ok()) return Annotate(model.status(), "--model=" + options.model_path);
  return std::unique_ptr<TextGenerator>(
      new TextGenerator(*std::move(model), *std::move(tokenizer)));
}

absl::StatusOr<std::vector<int64_t>> TextGenerator::PromptIds(
    const GenerateOptions& options) const {
  const int64_t vocab = model_->info().vocab_size;
  std::vector<int64_t> ids = options.prompt_tokens;
  if (ids.empty()) {
    absl::StatusOr<std::vector<int32_t>> encoded = tokenizer_->Encode(options.prompt);
    if (!encoded.ok()) return Annotate(encoded.status(), "--prompt");
    ids.assign(encoded->begin(), encoded->end());
  }
  if (ids.empty()) return absl::InvalidArgumentError("--prompt encodes to no tokens");
  for (int64_t id : ids) {
    if (id >= vocab || id >= tokenizer_->vocab_size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--prompt_tokens: id ", id, " is outside [0, ",
          std::min<int64_t>(vocab, tokenizer_->vocab_size()), ")"));
    }
  }
  const int64_t context = model_->info().context_length;
  if (static_cast<int64_t>(ids.size()) >= context) {
    return absl::InvalidArgumentError(absl::StrCat("the prompt has ", ids.size(),
                                                   " tokens; the context holds ", context,
                                                   " (see --max_context)"));
  }
  return ids;
}

absl::StatusOr<sampling::SamplingParams> TextGenerator::ModelSamplingParams(
    const GenerateOptions& options) const {
  absl::StatusOr<sampling::SamplingParams> params = BuildSamplingParams(options.sampling);
  if (!params.ok()) return params.status();
  params->eos_token_ids = eos_ids_;
  // Ids the model has but the tokenizer cannot decode (padded vocabularies).
  for (int64_t id = tokenizer_->vocab_size(); id < model_->info().vocab_size; ++id) {
    params->banned_token_ids.push_back(id);
  }
  if (absl::Status s = sampling::ValidateSamplingParams(*params, model_->info().vocab_size);
      !s.ok()) {
    return s;
  }
  return params;
}

absl::StatusOr<GenerateResult> TextGenerator::Run(const GenerateOptions& options,
                                                  std::ostream* text_out,
                                                  std::ostream* stats_out) {
  if (absl::Status s = ValidateGenerateOptions(options); !s.ok()) return s;
  absl::StatusOr<sampling::SamplingParams> params = ModelSamplingParams(options);
  if (!params.ok()) return params.status();
  GenerateResult result;
  absl::StatusOr<std::vector<int64_t>> prompt = PromptIds(options);
  if (!prompt.ok()) return prompt.status();
  result.prompt_tokens = *prompt;
  // The last generated token needs no forward pass, hence + 1.
  const int64_t budget = std::min<int64_t>(
      options.max_new_tokens, model_->info().context_length - prompt->size() + 1);
  const bool beams = options.num_beams > 1;
  const size_t count = beams ? options.num_return_sequences : options.num_samples;
  auto print_stats = [&](size_t i, const GeneratedSequence& s) {
    if (!stats_out) return;
    *stats_out << absl::StrFormat(
        "[generate] %s %d/%d%s: prompt %d tokens, %d new tokens in %.3f s (%.1f tokens/s), "
        "finish=%s\n",
        beams ? "beam" : "sample", i + 1, count,
        beams || params->greedy() ? "" : absl::StrCat(" seed=", s.seed), prompt->size(),
        s.tokens.size(), s.seconds, s.seconds > 0 ? s.tokens.size() / s.seconds : 0.0,
        s.finished_on_eos ? "eos" : "length");
  };

  if (beams) {
    absl::StatusOr<std::vector<GeneratedSequence>> found =
        BeamSearch(options, *params, *prompt, budget);
    if (!found.ok()) return found.status();
    result.sequences = *std::move(found);
    for (size_t i = 0; i < result.sequences.size(); ++i) {
      const GeneratedSequence& s = result.sequences[i];
      if (text_out) {
        absl::StatusOr<std::pair<std::string, std::string>> text =
            DecodeAfterPrompt(*prompt, s.tokens);
        if (!text.ok()) return text.status();
        *text_out << absl::StrFormat("--- beam %d (score %.4f) ---\n", i + 1, s.score)
                  << text->first << text->second << "\n" << std::flush;
      }
      print_stats(i, s);
    }
    return result;
  }
  for (int i = 0; i < options.num_samples; ++i) {
    const uint64_t seed = options.seed + static_cast<uint64_t>(i);
    if (text_out && options.num_samples > 1) {
      *text_out << "--- sample " << i + 1 << " (seed " << seed << ") ---\n";
    }
    absl::StatusOr<GeneratedSequence> sample = Sample(*params, *prompt, budget, seed, text_out);
    if (!sample.ok()) return sample.status();
    print_stats(i, *sample);
    result.sequences.push_back(*std::move(sample));
  }
  return result;
}

absl::StatusOr<GeneratedSequence> TextGenerator::Sample(const sampling::SamplingParams& params,
                                                        const std::vector<int64_t>& prompt,
                                                        int64_t max_new_tokens, uint64_t seed,
                                                        std::ostream* text_out) {
  absl::StatusOr<std::unique_ptr<sampling::TokenSelector>> selector =
      sampling::TokenSelector::Create(params);
  if (!selector.ok()) return selector.status();
  sampling::Rng rng(seed);
  sampling::Rng* rngs[] = {&rng};
  tokenizer::StreamDecoder decoder(*tokenizer_);
  for (int64_t id : prompt) {
    absl::StatusOr<std::string> piece = decoder.Push(static_cast<int32_t>(id));
    if (!piece.ok()) return piece.status();
    if (text_out) *text_out << *piece << std::flush;
  }

  GeneratedSequence out;
  out.seed = seed;
  const absl::Time start = absl::Now();
  ScopedSequence sequence(*model_, next_sequence_++);
  absl::StatusOr<at::Tensor> logits =
      model_->ForwardOne(sequence.id(), prompt, 0, /*all_logits=*/false);
  std::vector<int64_t> history = prompt;
  while (true) {
    if (!logits.ok()) return logits.status();
    const sampling::TokenHistory h{history, static_cast<int64_t>(prompt.size())};
    absl::StatusOr<std::vector<sampling::StepResult>> step =
        (*selector)->Select({h}, *logits, rngs, /*top_n=*/0);
    if (!step.ok()) return step.status();
    const int64_t token = (*step)[0].token;
    history.push_back(token);
    out.tokens.push_back(token);
    absl::StatusOr<std::string> piece = decoder.Push(static_cast<int32_t>(token));
    if (!piece.ok()) return piece.status();
    out.text += *piece;
    if (text_out) *text_out << *piece << std::flush;
    if (Contains(eos_ids_, token)) {
      out.finished_on_eos = true;
      break;
    }
    if (static_cast<int64_t>(out.tokens.size()) >= max_new_tokens) break;
    const int64_t next[] = {token};
    logits = model_->ForwardOne(sequence.id(), next, 0, /*all_logits=*/false);
  }
  const std::string tail = decoder.Flush();
  out.text += tail;
  if (text_out) *text_out << tail << "\n" << std::flush;
  out.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  return out;
}

absl::StatusOr<std::vector<GeneratedSequence>> TextGenerator::BeamSearch(
    const GenerateOptions& options, const sampling::SamplingParams& params,
    const std::vector<int64_t>& prompt, int64_t max_new_tokens) {
  decoding::BeamSearchRequest request;
  request.prompt = prompt;
  request.params = params;
  request.options.num_beams = options.num_beams;
  request.options.length_penalty = options.length_penalty;
  request.options.num_return_sequences = options.num_return_sequences;
  request.options.eos_token_ids = eos_ids_;
  request.options.max_new_tokens = max_new_tokens;
  const absl::Time start = absl::Now();
  absl::StatusOr<std::vector<sampling::Hypothesis>> hypotheses =
      decoding::RunBeamSearch(*model_, request, [this] { return next_sequence_++; });
  if (!hypotheses.ok()) return hypotheses.status();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  std::vector<GeneratedSequence> out;
  for (const sampling::Hypothesis& h : *hypotheses) {
    GeneratedSequence s;
    s.tokens = h.tokens;
    s.score = h.score;
    s.seconds = seconds;
    s.finished_on_eos = !h.tokens.empty() && Contains(eos_ids_, h.tokens.back());
    absl::StatusOr<std::pair<std::string, std::string>> text = DecodeAfterPrompt(prompt, h.tokens);
    if (!text.ok()) return text.status();
    s.text = text->second;
    out.push_back(std::move(s));
  }
  return out;
}

absl::StatusOr<std::pair<std::string, std::string>> TextGenerator::DecodeAfterPrompt(
    const std::vector<int64_t>& prompt, const std::vector<int64_t>& tokens) const {
  tokenizer::StreamDecoder decoder(*tokenizer_);
  std::pair<std::string, std::string> text;
  for (size_t i = 0; i < prompt.size() + tokens.size(); ++i) {
    const int64_t id = i < prompt.size() ? prompt[i] : tokens[i - prompt.size()];
    absl::StatusOr<std::string> piece = decoder.Push(static_cast<int32_t>(id));
    if (!piece.ok()) return piece.status();
    (i < prompt.size() ? text.first : text.second) += *piece;
  }
  text.second += decoder.Flush();
  return text;
}

}  // namespace tandem::tools
