// Writes a random-weight tiny Llama-family model (Llama, Mistral, Qwen2/3,
// Gemma 1/2/3) or GPT-2 as a GGUF file and as a Hugging
// Face directory with the same weights:
//   make_tiny_model --out_dir=/tmp/tiny --arch=llama --gguf_type=q8_0
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "tools/make_tiny_model/tiny_model.h"

ABSL_FLAG(std::string, out_dir, "", "Output directory (model.gguf and hf/ are written in it).");
ABSL_FLAG(std::string, arch, "llama",
          "llama, mistral, qwen2, qwen3, gemma, gemma2, gemma3 or gpt2.");
ABSL_FLAG(int64_t, head_dim, 0, "Attention head width (0: hidden / heads; Llama family only).");
ABSL_FLAG(int64_t, sliding_window, 0,
          "Sliding attention window (mistral: every layer; gemma2 / gemma3: the variant's "
          "sliding layers; 0 = none).");
ABSL_FLAG(double, attn_logit_softcapping, 0, "gemma2: attention score soft-cap (0 = none).");
ABSL_FLAG(double, final_logit_softcapping, 0, "gemma2 / gemma3: logit soft-cap (0 = none).");
ABSL_FLAG(double, rope_local_theta, 0,
          "gemma3: RoPE base of the sliding layers (0 = the global rope base).");
ABSL_FLAG(bool, llama3_rope, false,
          "Llama 3 RoPE scaling (HF rope_scaling, GGUF rope_freqs.weight) with its defaults.");
ABSL_FLAG(int64_t, vocab_size, 512, "Synthetic vocabulary size.");
ABSL_FLAG(int64_t, hidden, 64, "Hidden size.");
ABSL_FLAG(int64_t, intermediate, 0, "MLP width (0: 2*hidden for llama, 4*hidden for gpt2).");
ABSL_FLAG(int64_t, layers, 2, "Number of layers.");
ABSL_FLAG(int64_t, heads, 4, "Attention heads.");
ABSL_FLAG(int64_t, kv_heads, 2, "Key/value heads (llama).");
ABSL_FLAG(int64_t, context, 256, "Context length.");
ABSL_FLAG(bool, attention_bias, false, "q/k/v biases (llama).");
ABSL_FLAG(bool, tie, false, "Tie the LM head to the embedding.");
ABSL_FLAG(uint64_t, seed, 1, "Random seed.");
ABSL_FLAG(std::string, gguf_type, "f32", "GGUF storage of 2-D weights: f32 f16 bf16 q8_0 q4_0 q4_1.");
ABSL_FLAG(std::string, hf_dtype, "f32", "Safetensors dtype: f32 f16 bf16.");
ABSL_FLAG(int, hf_shards, 1, "Number of safetensors shards (> 1 writes an index).");

namespace {

using tandem::model::formats::DType;
using tandem::model::formats::GgmlType;

bool ParseGgmlType(const std::string& s, GgmlType* out) {
  const std::pair<const char*, GgmlType> kTypes[] = {
      {"f32", GgmlType::kF32},   {"f16", GgmlType::kF16},   {"bf16", GgmlType::kBF16},
      {"q8_0", GgmlType::kQ8_0}, {"q4_0", GgmlType::kQ4_0}, {"q4_1", GgmlType::kQ4_1}};
  for (const auto& [name, type] : kTypes) {
    if (s == name) {
      *out = type;
      return true;
    }
  }
  return false;
}

bool ParseDType(const std::string& s, DType* out) {
  if (s == "f32") *out = DType::kF32;
  else if (s == "f16") *out = DType::kF16;
  else if (s == "bf16") *out = DType::kBF16;
  else return false;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  tandem::tools::TinyModelOptions o;
  const std::string arch = absl::GetFlag(FLAGS_arch);
  using tandem::model::LlamaVariant;
  if (!tandem::model::ParseFamilyName(arch, &o.architecture, &o.variant)) {
    std::cerr << "--arch must be llama, mistral, qwen2, qwen3, gemma, gemma2, gemma3 or gpt2\n";
    return 2;
  }
  const bool windowed = o.variant == LlamaVariant::kMistral ||
                        o.variant == LlamaVariant::kGemma2 || o.variant == LlamaVariant::kGemma3;
  if (absl::GetFlag(FLAGS_sliding_window) != 0 &&
      (o.architecture != tandem::model::Architecture::kLlama || !windowed)) {
    std::cerr << "--sliding_window needs --arch=mistral, gemma2 or gemma3\n";
    return 2;
  }
  if ((absl::GetFlag(FLAGS_attn_logit_softcapping) != 0 && o.variant != LlamaVariant::kGemma2) ||
      (absl::GetFlag(FLAGS_final_logit_softcapping) != 0 && o.variant != LlamaVariant::kGemma2 &&
       o.variant != LlamaVariant::kGemma3) ||
      (absl::GetFlag(FLAGS_rope_local_theta) != 0 && o.variant != LlamaVariant::kGemma3)) {
    std::cerr << "--attn_logit_softcapping needs --arch=gemma2, --final_logit_softcapping "
                 "gemma2 or gemma3, --rope_local_theta gemma3\n";
    return 2;
  }
  o.attn_logit_softcapping = absl::GetFlag(FLAGS_attn_logit_softcapping);
  o.final_logit_softcapping = absl::GetFlag(FLAGS_final_logit_softcapping);
  o.rope_local_theta = absl::GetFlag(FLAGS_rope_local_theta);
  o.head_dim = absl::GetFlag(FLAGS_head_dim);
  o.sliding_window = absl::GetFlag(FLAGS_sliding_window);
  o.rope_scaling.enabled = absl::GetFlag(FLAGS_llama3_rope);
  o.vocab_size = absl::GetFlag(FLAGS_vocab_size);
  o.hidden_size = absl::GetFlag(FLAGS_hidden);
  o.intermediate_size = absl::GetFlag(FLAGS_intermediate);
  o.num_layers = absl::GetFlag(FLAGS_layers);
  o.num_heads = absl::GetFlag(FLAGS_heads);
  o.num_kv_heads = absl::GetFlag(FLAGS_kv_heads);
  o.context_length = absl::GetFlag(FLAGS_context);
  o.attention_bias = absl::GetFlag(FLAGS_attention_bias);
  o.tie_word_embeddings = absl::GetFlag(FLAGS_tie);
  o.seed = absl::GetFlag(FLAGS_seed);
  o.hf_shards = absl::GetFlag(FLAGS_hf_shards);
  if (!ParseGgmlType(absl::GetFlag(FLAGS_gguf_type), &o.gguf_type) ||
      !ParseDType(absl::GetFlag(FLAGS_hf_dtype), &o.hf_dtype)) {
    std::cerr << "bad --gguf_type or --hf_dtype\n";
    return 2;
  }
  const std::string out_dir = absl::GetFlag(FLAGS_out_dir);
  if (out_dir.empty()) {
    std::cerr << "--out_dir is required\n";
    return 2;
  }
  absl::StatusOr<tandem::tools::TinyModelPaths> paths = tandem::tools::WriteTinyModel(o, out_dir);
  if (!paths.ok()) {
    std::cerr << paths.status() << "\n";
    return 1;
  }
  std::cout << paths->gguf_path << "\n" << paths->hf_dir << "\n";
  return 0;
}
