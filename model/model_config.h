#ifndef TANDEM_MODEL_MODEL_CONFIG_H_
#define TANDEM_MODEL_MODEL_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

namespace tandem::model {

enum class Architecture {
  kLlama,  // Llama 2/3, Mistral, Qwen2, Qwen3, Gemma 1/2/3, SmolLM2, TinyLlama (LlamaVariant).
  kGpt2,
};

// Which Llama-family checkpoint a kLlama config came from. It names the
// Hugging Face model_type and the GGUF general.architecture, and decides
// whether llama.cpp's GGUF stores q/k rows permuted (kLlama, kMistral: GGUF
// arch "llama") or in Hugging Face order (the others: NeoX RoPE), and which
// tensor names a checkpoint has (Gemma 2/3: four norms a layer). The
// forward pass itself is driven by the feature fields below, not by this.
enum class LlamaVariant {
  kLlama,
  kMistral,
  kQwen2,
  kQwen3,
  kGemma,
  kGemma2,
  kGemma3,
};

// The gated MLP's activation: down(act(gate(x)) * up(x)).
enum class HiddenActivation {
  kSilu,      // Llama, Mistral, Qwen.
  kGeluTanh,  // Gemma ("gelu_pytorch_tanh").
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
  // The layers the sliding window applies to (Gemma 2: even layers; Gemma 3:
  // five of every six); empty = every layer. Size num_hidden_layers when set.
  std::vector<bool> sliding_layers;
  // Gemma 3: sliding-window layers use RoPE base rope_local_theta without
  // any scaling; 0 = they use the same RoPE as the other layers.
  double rope_local_theta = 0.0;
  // Linear RoPE scaling (rope_scaling {"rope_type": "linear"}): positions
  // divided by this factor; 1 = none.
  double rope_linear_factor = 1.0;
  // Gemma: the embedding rows are multiplied by sqrt(hidden_size).
  bool scale_embeddings = false;
  HiddenActivation hidden_activation = HiddenActivation::kSilu;
  // Gemma 2/3: the attention output and the MLP output are RMS-normed
  // (post_attention_layernorm / post_feedforward_layernorm) before each is
  // added to the residual stream.
  bool sandwich_norms = false;
  // Attention scores are q.k / sqrt(query_pre_attn_scalar); 0 = head_dim.
  double query_pre_attn_scalar = 0.0;
  // > 0: x <- cap * tanh(x / cap) on attention scores (Gemma 2) and on the
  // final logits (Gemma 2, optional in Gemma 3).
  double attn_logit_softcapping = 0.0;
  double final_logit_softcapping = 0.0;
  bool tie_word_embeddings = false;
  std::vector<int64_t> bos_token_ids;
  std::vector<int64_t> eos_token_ids;
  // Default early-exit layer for self-speculation (0 = none configured).
  int64_t early_exit_layer = 0;
};

// The family name of a config: "gpt2", or the variant's "llama", "mistral",
// "qwen2", "qwen3", "gemma", "gemma2", "gemma3" (GGUF general.architecture
// names, except that llama.cpp files Mistral under "llama").
const char* FamilyName(Architecture architecture, LlamaVariant variant);

// Inverse of FamilyName; false for an unknown name.
bool ParseFamilyName(const std::string& name, Architecture* architecture, LlamaVariant* variant);

// Sets the structural features every checkpoint of `variant` has (Qwen3 /
// Gemma 3 q/k norms; Gemma's scaled embeddings, GELU MLP, sandwich norms);
// numeric hyper-parameters come from the checkpoint.
void SetVariantFeatures(LlamaVariant variant, ModelConfig* config);

// Gemma checkpoints in Hugging Face form store RMSNorm weights as offsets
// from 1 (the norm multiplies by 1 + w); llama.cpp's GGUF stores 1 + w.
bool HasOffsetNormWeights(LlamaVariant variant);

// Which of `num_layers` layers slide under llama.cpp's integer pattern n
// (<arch>.attention.sliding_window_pattern; Hugging Face's
// sliding_window_pattern means the same): layer i slides iff i % n < n - 1;
// n = 0: every layer.
std::vector<bool> SlidingLayerPattern(int64_t n, int64_t num_layers);

// A variant's default pattern: Gemma 2 every other layer (n = 2), Gemma 3
// five of six (n = 6); every layer for the others.
int64_t DefaultSlidingPattern(LlamaVariant variant);

// The sliding window of `layer`: config.sliding_window if the window applies
// to that layer, else 0 (the whole context).
int64_t SlidingWindowOf(const ModelConfig& config, int64_t layer);

// Whether `layer` uses the local RoPE (rope_local_theta, unscaled).
bool UsesLocalRope(const ModelConfig& config, int64_t layer);

// The multiplier of q.k in attention: 1 / sqrt(query_pre_attn_scalar or head_dim).
double AttentionScale(const ModelConfig& config);

}  // namespace tandem::model

#endif  // TANDEM_MODEL_MODEL_CONFIG_H_
