#ifndef TANDEM_MODEL_MODEL_CONFIG_H_
#define TANDEM_MODEL_MODEL_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

namespace tandem::model {

enum class Architecture {
  kLlama,  // Llama 2/3, Mistral, Qwen2, Qwen3, SmolLM2, TinyLlama (see LlamaVariant).
  kGpt2,
};

// Which Llama-family checkpoint a kLlama config came from. It names the
// Hugging Face model_type and the GGUF general.architecture, and decides
// whether llama.cpp's GGUF stores q/k rows permuted (kLlama, kMistral: GGUF
// arch "llama") or in Hugging Face order (kQwen2, kQwen3: NeoX RoPE). The
// forward pass itself is driven by the feature fields below, not by this.
enum class LlamaVariant {
  kLlama,
  kMistral,
  kQwen2,
  kQwen3,
};

// Llama 3-style RoPE frequency scaling ("rope_scaling": {"rope_type": "llama3"}).
struct Llama3RopeScaling {
  bool enabled = false;
  double factor = 8.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

// Architecture hyper-parameters, as read from config.json or GGUF metadata.
// Field names follow Hugging Face's config.json.
struct ModelConfig {
  Architecture architecture = Architecture::kLlama;
  LlamaVariant variant = LlamaVariant::kLlama;  // kLlama architecture only.
  std::string name;                 // e.g. "tandem-target"; informational.
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;    // MLP width (GPT-2: n_inner or 4*hidden).
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;  // == num_attention_heads without GQA.
  int64_t head_dim = 0;             // hidden_size / num_attention_heads unless set.
  int64_t max_position_embeddings = 0;  // context length.
  double norm_eps = 1e-5;           // rms_norm_eps (Llama) / layer_norm_epsilon (GPT-2).
  double rope_theta = 10000.0;
  Llama3RopeScaling rope_scaling;
  // Per-frequency RoPE divisors (GGUF rope_freqs.weight, llama.cpp's form of
  // llama3 scaling): inv_freq[i] /= rope_freq_factors[i]; head_dim / 2
  // values, or empty for none.
  std::vector<float> rope_freq_factors;
  bool attention_bias = false;      // q/k/v biases (Qwen2).
  // Qwen3: RMSNorm over head_dim (weights q_norm / k_norm [head_dim], eps
  // norm_eps) applied to every head of q and k before RoPE.
  bool qk_norm = false;
  // Mistral: a row at position p attends to positions (p - sliding_window, p]
  // only (the last sliding_window positions, itself included). 0 = the whole
  // context.
  int64_t sliding_window = 0;
  bool tie_word_embeddings = false;
  std::vector<int64_t> bos_token_ids;
  std::vector<int64_t> eos_token_ids;
  // Default early-exit layer for self-speculation (0 = none configured).
  int64_t early_exit_layer = 0;
};

}  // namespace tandem::model

#endif  // TANDEM_MODEL_MODEL_CONFIG_H_
