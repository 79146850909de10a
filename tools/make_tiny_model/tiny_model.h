#ifndef TANDEM_TOOLS_MAKE_TINY_MODEL_TINY_MODEL_H_
#define TANDEM_TOOLS_MAKE_TINY_MODEL_TINY_MODEL_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/formats/dtype.h"
#include "model/formats/gguf_types.h"
#include "model/model_config.h"
#include "tools/make_tiny_model/tiny_vocab.h"

namespace tandem::tools {

struct TinyModelOptions {
  model::Architecture architecture = model::Architecture::kLlama;
  // Llama family only: which checkpoint to imitate (GGUF general.architecture,
  // HF model_type) with its structural features (SetVariantFeatures): kQwen2
  // attention_bias, kQwen3 q/k norms, Gemma scaled embeddings, GELU MLP and
  // offset norm weights (HF stores w, GGUF 1 + w); Gemma 2/3 sandwich norms
  // and the variant's sliding-layer pattern; Gemma always ties embeddings.
  model::LlamaVariant variant = model::LlamaVariant::kLlama;
  int64_t vocab_size = 512;        // Ignored when `vocab` is set.
  int64_t hidden_size = 64;
  int64_t intermediate_size = 0;   // 0: 2 * hidden (Llama), 4 * hidden (GPT-2).
  int64_t num_layers = 2;
  int64_t num_heads = 4;
  int64_t num_kv_heads = 2;        // GPT-2 always uses num_heads.
  int64_t head_dim = 0;            // 0: hidden / num_heads (Llama family may differ).
  int64_t context_length = 256;
  double rope_theta = 10000.0;
  double norm_eps = 1e-5;          // Stored as float32 in both formats.
  bool attention_bias = false;     // Llama q/k/v biases (Qwen2-style).
  // llama3 RoPE scaling: HF rope_scaling, GGUF rope_freqs.weight (as
  // convert_hf_to_gguf.py computes it).
  model::Llama3RopeScaling rope_scaling;
  // > 0: sliding window (kMistral: HF sliding_window; GGUF
  // <arch>.attention.sliding_window, which llama.cpp ignores for llama;
  // Gemma 2/3: on the variant's sliding layers, which llama.cpp honours).
  int64_t sliding_window = 0;
  // Gemma 2/3 (ModelConfig fields of the same names; 0 = none).
  double attn_logit_softcapping = 0.0;   // Gemma 2 only.
  double final_logit_softcapping = 0.0;
  double rope_local_theta = 0.0;         // Gemma 3 only (GGUF rope.freq_base_swa).
  double rope_linear_factor = 1.0;
  bool tie_word_embeddings = false;
  uint64_t seed = 1;
  // Storage of 2-D weights in the GGUF file (1-D tensors are always F32):
  // F32, F16, BF16, Q8_0, Q4_0 or Q4_1.
  model::formats::GgmlType gguf_type = model::formats::GgmlType::kF32;
  model::formats::DType hf_dtype = model::formats::DType::kF32;
  int hf_shards = 1;               // > 1: sharded safetensors with an index.
  std::optional<TinyVocab> vocab;  // Default: MakeSyntheticVocab(architecture, vocab_size).
};

// The random weights, in Hugging Face names, shapes and layouts.
struct TinyWeight {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> values;
};

struct TinyModel {
  model::ModelConfig config;
  TinyVocab vocab;
  std::vector<TinyWeight> weights;  // In ExpectedTensors(config) order.
};

struct TinyModelPaths {
  std::string gguf_path;  // out_dir/model.gguf
  std::string hf_dir;     // out_dir/hf (config.json + safetensors)
};

// Deterministic for a given `options` (seeded mt19937_64, own Box-Muller).
// Scales give logits with a spread of a few units, so that greedy decoding
// has clear margins. InvalidArgument on inconsistent sizes.
absl::StatusOr<TinyModel> MakeTinyModel(const TinyModelOptions& options);

// The same weights as a GGUF llama.cpp can load (HF -> GGUF conversion as
// convert_hf_to_gguf.py does it: renamed, Q/K rows permuted, Conv1D
// transposed) and as a Hugging Face directory.
absl::Status WriteTinyGguf(const TinyModel& model, model::formats::GgmlType type, const std::string& path);

// Returns the stored bytes of one 2-D weight (GGUF name, ggml ne) for
// WriteTinyGgufRaw; the model's values are not passed (tests store e.g.
// random blocks of a type tandem cannot encode).
using GgufTensorBytes =
    std::function<std::vector<uint8_t>(const std::string& name, const std::vector<int64_t>& ne)>;

// WriteTinyGguf with every 2-D weight stored as ggml type `type` holding
// `bytes(name, ne)`; 1-D tensors stay the model's F32 values.
absl::Status WriteTinyGgufRaw(const TinyModel& model, uint32_t type, const GgufTensorBytes& bytes,
                              const std::string& path);
absl::Status WriteTinyHfDir(const TinyModel& model, model::formats::DType dtype, int shards,
                            const std::string& dir);

// MakeTinyModel + both writers; creates out_dir (and out_dir/hf) if needed.
absl::StatusOr<TinyModelPaths> WriteTinyModel(const TinyModelOptions& options,
                                              const std::string& out_dir);

}  // namespace tandem::tools

#endif  // TANDEM_TOOLS_MAKE_TINY_MODEL_TINY_MODEL_H_
