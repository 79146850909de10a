#ifndef TANDEM_TESTS_MODEL_RANDOM_CHECKPOINT_H_
#define TANDEM_TESTS_MODEL_RANDOM_CHECKPOINT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "model/checkpoint.h"

namespace tandem::model::testing {

// A tiny Llama config (GQA, untied head unless asked).
ModelConfig TinyLlamaConfig();
// A tiny GPT-2 config.
ModelConfig TinyGpt2Config();
// Family variants of TinyLlamaConfig, each bending its family's features:
// Qwen2 (q/k/v biases, tied head); Qwen3 (q/k norms, head_dim 16 != 32 / 4);
// Mistral (window 3); Gemma 2 (sandwich norms, GELU, scaled embeddings, small
// attention and final soft-caps, query scalar 12, even layers slide over 3);
// Gemma 3 (q/k norms, layers 0-2 slide over 4 with a local RoPE, layer 3
// global with linearly scaled RoPE).
ModelConfig TinyQwen2Config();
ModelConfig TinyQwen3Config();
ModelConfig TinyMistralConfig();
ModelConfig TinyGemma2Config();
ModelConfig TinyGemma3Config();

// A config with a test-name-safe label.
struct NamedConfig {
  std::string name;
  ModelConfig config;
};

// One tiny config per family TransformerModel supports: llama_gqa,
// qwen2_bias_tied, qwen3_qk_norm, mistral_window3, gemma2_softcaps_window3,
// gemma3_local_rope, gpt2.
std::vector<NamedConfig> TinyFamilyConfigs();

// n deterministic tokens spread over [0, vocab).
std::vector<int64_t> SpreadTokens(int64_t n, int64_t vocab);

// Random weights (seeded) under Hugging Face names for `config`.
Checkpoint RandomCheckpoint(const ModelConfig& config, uint64_t seed);

// The same checkpoint cut to its first `layers` layers (for early-exit
// reference results).
Checkpoint FirstLayers(const Checkpoint& checkpoint, int64_t layers);

}  // namespace tandem::model::testing

#endif  // TANDEM_TESTS_MODEL_RANDOM_CHECKPOINT_H_
