#include "tests/e2e/tiny_pair.h"

#include <sys/stat.h>

#include <cerrno>
#include <random>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tools/make_tiny_model/tiny_model.h"

namespace tandem::testing {
namespace {

tools::TinyVocab EightTokenVocab() {
  tools::TinyVocab v;
  v.model = "llama";
  v.unk_id = 0;
  v.bos_id = 1;
  v.eos_id = kTinyPairEos;
  auto add = [&v](std::string token, float score, int32_t type) {
    v.tokens.push_back(std::move(token));
    v.scores.push_back(score);
    v.token_types.push_back(type);
  };
  add("<unk>", 0, tools::kTokenUnknown);
  add("<s>", 0, tools::kTokenControl);
  add("</s>", 0, tools::kTokenControl);
  for (char c = 'a'; c <= 'e'; ++c) {
    add(std::string("\xe2\x96\x81") + c, -static_cast<float>(c - 'a' + 1), tools::kTokenNormal);
  }
  return v;
}

tools::TinyModelOptions TargetOptions() {
  tools::TinyModelOptions o;
  o.vocab = EightTokenVocab();
  o.hidden_size = 32;
  o.num_layers = 2;
  o.num_heads = 4;
  o.num_kv_heads = 2;
  o.context_length = 64;
  o.seed = 11;
  return o;
}

// The target's first layer, final norm and LM head with every weight scaled
// by (1 + 0.3 N(0, 1)): an early-exit-like draft that still differs from the
// target's own early exit.
tools::TinyModel DraftFrom(const tools::TinyModel& target) {
  tools::TinyModel draft = target;
  draft.config.num_hidden_layers = 1;
  draft.weights.clear();
  std::mt19937_64 rng(12);
  std::normal_distribution<float> noise(0.0f, 0.3f);
  for (const tools::TinyWeight& w : target.weights) {
    if (absl::StrContains(w.name, "layers.1.")) continue;
    tools::TinyWeight copy = w;
    for (float& v : copy.values) v *= 1.0f + noise(rng);
    draft.weights.push_back(std::move(copy));
  }
  return draft;
}

absl::Status MakeDir(const std::string& dir) {
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return absl::InternalError(absl::StrCat("mkdir ", dir, " failed"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TinyPairPaths> WriteTinyPair(const std::string& dir) {
  absl::StatusOr<tools::TinyModelPaths> target =
      tools::WriteTinyModel(TargetOptions(), dir + "/target");
  if (!target.ok()) return target.status();
  absl::StatusOr<tools::TinyModel> model = tools::MakeTinyModel(TargetOptions());
  if (!model.ok()) return model.status();
  if (absl::Status s = MakeDir(dir + "/draft"); !s.ok()) return s;
  const std::string draft = dir + "/draft/model.gguf";
  absl::Status s = tools::WriteTinyGguf(DraftFrom(*model), model::formats::GgmlType::kF32, draft);
  if (!s.ok()) return s;
  return TinyPairPaths{target->gguf_path, draft};
}

}  // namespace tandem::testing
