// libFuzzer target: a serialized tandem.v1.GenerateRequest through the
// orchestrator's ValidateGenerate against a fixed tiny model and tokenizer,
// under two limit sets (draft model available with speculation by default;
// no draft, n-gram default, a target with a default early-exit layer).
// Rejections are fine; an accepted request must satisfy everything the
// decoding loop relies on (see CheckAccepted), checked against the ranges
// the proto and validation.h document.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "proto/tandem/v1/generation_service.pb.h"
#include "services/orchestrator/validation.h"
#include "tests/fuzz/fuzz_util.h"
#include "tokenizer/hf_tokenizer_json.h"

namespace tandem::fuzz {
namespace {

using services::GenerationLimits;
using services::ValidatedGeneration;

// SentencePiece-style BPE with byte fallback: every UTF-8 text encodes.
// Ids: <unk> 0, <s> 1, </s> 2, <0x00>..<0xFF> 3..258, then a few pieces.
std::unique_ptr<tokenizer::Tokenizer> MakeTokenizer() {
  nlohmann::json vocab = {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    vocab[name] = 3 + b;
  }
  const char* const pieces[] = {"\xE2\x96\x81", "t", "h", "e", "\xE2\x96\x81t",
                                "\xE2\x96\x81th", "\xE2\x96\x81the"};
  int id = 259;
  for (const char* p : pieces) vocab[p] = id++;
  const nlohmann::json j = {
      {"added_tokens",
       {{{"id", 0}, {"content", "<unk>"}, {"special", true}},
        {{"id", 1}, {"content", "<s>"}, {"special", true}},
        {{"id", 2}, {"content", "</s>"}, {"special", true}}}},
      {"normalizer",
       {{"type", "Sequence"},
        {"normalizers",
         {{{"type", "Prepend"}, {"prepend", "\xE2\x96\x81"}},
          {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\xE2\x96\x81"}}}}}},
      {"pre_tokenizer", nullptr},
      {"decoder",
       {{"type", "Sequence"},
        {"decoders",
         {{{"type", "Replace"}, {"pattern", {{"String", "\xE2\x96\x81"}}}, {"content", " "}},
          {{"type", "ByteFallback"}},
          {{"type", "Fuse"}}}}}},
      {"model",
       {{"type", "BPE"},
        {"unk_token", "<unk>"},
        {"byte_fallback", true},
        {"vocab", vocab},
        {"merges", {"\xE2\x96\x81 t", "\xE2\x96\x81t h", "\xE2\x96\x81th e"}}}}};
  auto tok = tokenizer::ParseHfTokenizerJson(j.dump(), "validation_fuzz");
  FuzzCheck(tok.ok(), absl::StrCat("fixed tokenizer: ", tok.status().ToString()));
  return *std::move(tok);
}

struct Setup {
  model::ModelInfo target;
  std::vector<int64_t> eos;
  GenerationLimits limits;
};

bool InRange(double v, double lo, double hi) { return v >= lo && v <= hi; }

void CheckSampling(const sampling::SamplingParams& p, int64_t vocab) {
  FuzzCheck(InRange(p.temperature, 0, 100), "temperature outside [0, 100]");
  FuzzCheck(p.top_k >= 0, "negative top_k");
  FuzzCheck(p.top_p > 0 && p.top_p <= 1, "top_p outside (0, 1]");
  FuzzCheck(InRange(p.min_p, 0, 1), "min_p outside [0, 1]");
  FuzzCheck(p.typical_p > 0 && p.typical_p <= 1, "typical_p outside (0, 1]");
  FuzzCheck(p.repetition_penalty > 0 && p.repetition_penalty <= 10,
            "repetition_penalty outside (0, 10]");
  FuzzCheck(InRange(p.presence_penalty, -2, 2), "presence_penalty outside [-2, 2]");
  FuzzCheck(InRange(p.frequency_penalty, -2, 2), "frequency_penalty outside [-2, 2]");
  FuzzCheck(InRange(static_cast<double>(p.no_repeat_ngram_size), 0, 64),
            "no_repeat_ngram_size outside [0, 64]");
  FuzzCheck(p.min_new_tokens >= 0, "negative min_new_tokens");
  auto in_vocab = [vocab](int64_t id) { return id >= 0 && id < vocab; };
  FuzzCheck(std::all_of(p.eos_token_ids.begin(), p.eos_token_ids.end(), in_vocab),
            "eos id outside the vocabulary");
  FuzzCheck(std::all_of(p.banned_token_ids.begin(), p.banned_token_ids.end(), in_vocab),
            "banned id outside the vocabulary");
  std::set<int64_t> biased;
  for (const sampling::TokenBias& b : p.logit_bias) {
    FuzzCheck(in_vocab(b.token_id), "logit_bias id outside the vocabulary");
    FuzzCheck(InRange(b.bias, -100, 100), "logit_bias outside [-100, 100]");
    FuzzCheck(biased.insert(b.token_id).second, "two logit_bias entries for one token");
  }
}

void CheckSpeculation(const decoding::SpeculationOptions& s, const Setup& setup,
                      bool beam_search) {
  const GenerationLimits& l = setup.limits;
  FuzzCheck(l.draft_available || s.mode != decoding::SpeculationMode::kDraftModel,
            "draft-model speculation without a draft service");
  FuzzCheck(!beam_search || s.mode == decoding::SpeculationMode::kOff,
            "beam search with speculation");
  FuzzCheck(s.max_draft_length >= 1 && s.max_draft_length <= l.max_draft_length,
            "max_draft_length outside [1, limit]");
  FuzzCheck(s.adaptive || (s.draft_length >= 1 && s.draft_length <= s.max_draft_length),
            "fixed draft_length outside [1, max_draft_length]");
  FuzzCheck(s.min_draft_length >= 0 && s.min_draft_length <= s.max_draft_length,
            "min_draft_length outside [0, max_draft_length]");
  FuzzCheck(s.exit_layer >= 0 && s.exit_layer < setup.target.num_layers,
            "exit_layer outside [0, num_layers)");
  FuzzCheck(s.mode != decoding::SpeculationMode::kSelfSpeculative || s.exit_layer > 0 ||
                setup.target.default_early_exit_layer > 0,
            "self-speculation without an exit layer");
  FuzzCheck(s.ngram_min >= 1 && s.ngram_min <= s.ngram_max && s.ngram_max <= 16,
            "n-gram sizes outside 1 <= min <= max <= 16");
}

void CheckAccepted(const v1::GenerateRequest& request, const ValidatedGeneration& v,
                   const Setup& setup) {
  const model::ModelInfo& t = setup.target;
  const GenerationLimits& l = setup.limits;
  FuzzCheck(v.request_id.size() <= 128, "request_id longer than 128 bytes");
  FuzzCheck(!v.prompts.empty() && static_cast<int>(v.prompts.size()) <= l.max_prompts &&
                v.prompts.size() == static_cast<size_t>(request.prompts_size()),
            "prompt count outside [1, max_prompts]");
  for (const std::vector<int64_t>& p : v.prompts) {
    FuzzCheck(!p.empty() && static_cast<int64_t>(p.size()) < t.context_length,
              "prompt empty or not shorter than the context");
    for (int64_t id : p) FuzzCheck(id >= 0 && id < t.vocab_size, "prompt id outside the vocabulary");
  }
  FuzzCheck(v.num_return_sequences >= 1 && v.num_return_sequences <= l.max_return_sequences,
            absl::StrCat("num_return_sequences ", v.num_return_sequences, " outside [1, ",
                         l.max_return_sequences, "]"));
  const decoding::StopOptions& stop = v.base.stop;
  FuzzCheck(stop.max_new_tokens >= 1 && stop.max_new_tokens <= l.max_new_tokens,
            "max_new_tokens outside [1, limit]");
  FuzzCheck(stop.max_time > absl::ZeroDuration(), "non-positive max_time");
  if (v.max_length) {
    for (const std::vector<int64_t>& p : v.prompts) {
      FuzzCheck(*v.max_length > static_cast<int64_t>(p.size()) && *v.max_length <= t.context_length,
                "max_length outside [prompt + 1, context]");
    }
  }
  for (int64_t id : stop.eos_token_ids) {
    FuzzCheck(id >= 0 && id < t.vocab_size, "stop eos id outside the vocabulary");
  }
  FuzzCheck(v.stop_strings.size() <= 16, "more than 16 stop strings");
  for (const std::string& s : v.stop_strings) {
    FuzzCheck(!s.empty() && s.size() <= 256, "stop string not 1 to 256 bytes");
  }
  FuzzCheck(v.top_logprobs >= 0 && v.top_logprobs <= 20, "top_logprobs outside [0, 20]");
  FuzzCheck(v.base.session.params.min_new_tokens <= stop.max_new_tokens,
            "min_new_tokens above max_new_tokens");
  CheckSampling(v.base.session.params, t.vocab_size);
  // generation_service.proto: "> 1 needs sampling or num_beams >= this".
  FuzzCheck(v.num_return_sequences == 1 || v.beam_search || !v.base.session.params.greedy(),
            "several greedy sequences without beam search");
  CheckSpeculation(v.base.speculation, setup, v.beam_search);
  if (v.beam_search) {
    FuzzCheck(v.beam.num_beams >= 2 && v.beam.num_beams <= 16, "num_beams outside [2, 16]");
    FuzzCheck(v.num_return_sequences <= v.beam.num_beams, "more sequences than beams");
    FuzzCheck(InRange(v.beam.length_penalty, -10, 10), "length_penalty outside [-10, 10]");
  }
}

std::vector<Setup> MakeSetups(int64_t vocab_size) {
  Setup with_draft;
  with_draft.target.vocab_size = vocab_size;
  with_draft.target.context_length = 64;
  with_draft.target.num_layers = 4;
  with_draft.eos = {2};
  with_draft.target.eos_token_ids = with_draft.eos;
  with_draft.limits.max_prompts = 4;
  with_draft.limits.max_return_sequences = 4;
  with_draft.limits.max_new_tokens = 128;
  with_draft.limits.default_max_new_tokens = 16;
  with_draft.limits.max_draft_length = 8;
  Setup no_draft = with_draft;
  no_draft.target.default_early_exit_layer = 2;
  no_draft.limits.draft_available = false;
  no_draft.limits.default_mode = decoding::SpeculationMode::kNgram;
  no_draft.limits.default_adaptive = true;
  return {with_draft, no_draft};
}

}  // namespace

int FuzzValidation(const uint8_t* data, size_t size) {
  static const tokenizer::Tokenizer* const tok = MakeTokenizer().release();
  static const std::vector<Setup>* const setups = new std::vector<Setup>(MakeSetups(tok->vocab_size()));
  v1::GenerateRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  for (const Setup& setup : *setups) {
    absl::StatusOr<ValidatedGeneration> v =
        services::ValidateGenerate(request.request_id(), request.prompts(), request.config(),
                                   setup.target, setup.eos, *tok, setup.limits);
    if (v.ok()) {
      CheckAccepted(request, *v, setup);
    } else {
      FuzzCheck(!v.status().message().empty(), "error without a message");
    }
  }
  return 0;
}

}  // namespace tandem::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return tandem::fuzz::FuzzValidation(data, size);
}
