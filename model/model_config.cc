#include "model/model_config.h"

#include <cmath>
#include <utility>

namespace tandem::model {
namespace {

constexpr std::pair<const char*, LlamaVariant> kVariantNames[] = {
    {"llama", LlamaVariant::kLlama},   {"mistral", LlamaVariant::kMistral},
    {"qwen2", LlamaVariant::kQwen2},   {"qwen3", LlamaVariant::kQwen3},
    {"gemma", LlamaVariant::kGemma},   {"gemma2", LlamaVariant::kGemma2},
    {"gemma3", LlamaVariant::kGemma3},
};

}  // namespace

const char* FamilyName(Architecture architecture, LlamaVariant variant) {
  if (architecture == Architecture::kGpt2) return "gpt2";
  for (const auto& [name, v] : kVariantNames) {
    if (v == variant) return name;
  }
  return "llama";
}

bool ParseFamilyName(const std::string& name, Architecture* architecture,
                     LlamaVariant* variant) {
  if (name == "gpt2") {
    *architecture = Architecture::kGpt2;
    *variant = LlamaVariant::kLlama;
    return true;
  }
  for (const auto& [n, v] : kVariantNames) {
    if (name == n) {
      *architecture = Architecture::kLlama;
      *variant = v;
      return true;
    }
  }
  return false;
}

void SetVariantFeatures(LlamaVariant variant, ModelConfig* c) {
  c->variant = variant;
  const bool gemma = HasOffsetNormWeights(variant);
  c->qk_norm = variant == LlamaVariant::kQwen3 || variant == LlamaVariant::kGemma3;
  c->scale_embeddings = gemma;
  c->hidden_activation = gemma ? HiddenActivation::kGeluTanh : HiddenActivation::kSilu;
  c->sandwich_norms = variant == LlamaVariant::kGemma2 || variant == LlamaVariant::kGemma3;
  if (variant == LlamaVariant::kQwen2) c->attention_bias = true;
}

bool HasOffsetNormWeights(LlamaVariant variant) {
  return variant == LlamaVariant::kGemma || variant == LlamaVariant::kGemma2 ||
         variant == LlamaVariant::kGemma3;
}

std::vector<bool> SlidingLayerPattern(int64_t n, int64_t num_layers) {
  std::vector<bool> layers(static_cast<size_t>(num_layers > 0 ? num_layers : 0));
  for (int64_t i = 0; i < num_layers; ++i) layers[i] = n == 0 || i % n < n - 1;
  return layers;
}

int64_t DefaultSlidingPattern(LlamaVariant variant) {
  if (variant == LlamaVariant::kGemma2) return 2;
  if (variant == LlamaVariant::kGemma3) return 6;
  return 0;
}

int64_t SlidingWindowOf(const ModelConfig& c, int64_t layer) {
  if (c.sliding_window <= 0) return 0;
  if (c.sliding_layers.empty()) return c.sliding_window;
  return layer < static_cast<int64_t>(c.sliding_layers.size()) && c.sliding_layers[layer]
             ? c.sliding_window
             : 0;
}

bool UsesLocalRope(const ModelConfig& c, int64_t layer) {
  return c.rope_local_theta > 0 && SlidingWindowOf(c, layer) > 0;
}

double AttentionScale(const ModelConfig& c) {
  const double scalar =
      c.query_pre_attn_scalar > 0 ? c.query_pre_attn_scalar : static_cast<double>(c.head_dim);
  return 1.0 / std::sqrt(scalar);
}

}  // namespace tandem::model
