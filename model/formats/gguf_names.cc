#include "model/formats/gguf_names.h"

#include <algorithm>
#include <cstring>
#include <map>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace tandem::model::formats {
namespace {

using Table = std::map<std::string, GgufTensorMapping>;

const Table& LlamaGlobal() {
  static const Table* t = new Table{
      {"model.embed_tokens.weight", {"token_embd.weight", GgufTransform::kNone}},
      {"model.norm.weight", {"output_norm.weight", GgufTransform::kNone}},
      {"lm_head.weight", {"output.weight", GgufTransform::kNone}},
  };
  return *t;
}

const Table& LlamaLayer() {
  static const Table* t = new Table{
      {"input_layernorm.weight", {"attn_norm.weight", GgufTransform::kNone}},
      {"self_attn.q_proj.weight", {"attn_q.weight", GgufTransform::kPermuteQ}},
      {"self_attn.q_proj.bias", {"attn_q.bias", GgufTransform::kPermuteQ}},
      {"self_attn.k_proj.weight", {"attn_k.weight", GgufTransform::kPermuteK}},
      {"self_attn.k_proj.bias", {"attn_k.bias", GgufTransform::kPermuteK}},
      {"self_attn.v_proj.weight", {"attn_v.weight", GgufTransform::kNone}},
      {"self_attn.v_proj.bias", {"attn_v.bias", GgufTransform::kNone}},
      {"self_attn.q_norm.weight", {"attn_q_norm.weight", GgufTransform::kNone}},
      {"self_attn.k_norm.weight", {"attn_k_norm.weight", GgufTransform::kNone}},
      {"self_attn.o_proj.weight", {"attn_output.weight", GgufTransform::kNone}},
      {"post_attention_layernorm.weight", {"ffn_norm.weight", GgufTransform::kNone}},
      {"mlp.gate_proj.weight", {"ffn_gate.weight", GgufTransform::kNone}},
      {"mlp.up_proj.weight", {"ffn_up.weight", GgufTransform::kNone}},
      {"mlp.down_proj.weight", {"ffn_down.weight", GgufTransform::kNone}},
  };
  return *t;
}

const Table& Gpt2Global() {
  static const Table* t = new Table{
      {"transformer.wte.weight", {"token_embd.weight", GgufTransform::kNone}},
      {"transformer.wpe.weight", {"position_embd.weight", GgufTransform::kNone}},
      {"transformer.ln_f.weight", {"output_norm.weight", GgufTransform::kNone}},
      {"transformer.ln_f.bias", {"output_norm.bias", GgufTransform::kNone}},
      {"lm_head.weight", {"output.weight", GgufTransform::kNone}},
  };
  return *t;
}

const Table& Gpt2Layer() {
  static const Table* t = new Table{
      {"ln_1.weight", {"attn_norm.weight", GgufTransform::kNone}},
      {"ln_1.bias", {"attn_norm.bias", GgufTransform::kNone}},
      {"attn.c_attn.weight", {"attn_qkv.weight", GgufTransform::kTranspose}},
      {"attn.c_attn.bias", {"attn_qkv.bias", GgufTransform::kNone}},
      {"attn.c_proj.weight", {"attn_output.weight", GgufTransform::kTranspose}},
      {"attn.c_proj.bias", {"attn_output.bias", GgufTransform::kNone}},
      {"ln_2.weight", {"ffn_norm.weight", GgufTransform::kNone}},
      {"ln_2.bias", {"ffn_norm.bias", GgufTransform::kNone}},
      {"mlp.c_fc.weight", {"ffn_up.weight", GgufTransform::kTranspose}},
      {"mlp.c_fc.bias", {"ffn_up.bias", GgufTransform::kNone}},
      {"mlp.c_proj.weight", {"ffn_down.weight", GgufTransform::kTranspose}},
      {"mlp.c_proj.bias", {"ffn_down.bias", GgufTransform::kNone}},
  };
  return *t;
}

// Gemma 2/3 layers: four norms, two of them under other GGUF names.
const Table& SandwichNormLayer() {
  static const Table* t = new Table{
      {"post_attention_layernorm.weight", {"post_attention_norm.weight", GgufTransform::kNone}},
      {"pre_feedforward_layernorm.weight", {"ffn_norm.weight", GgufTransform::kNone}},
      {"post_feedforward_layernorm.weight", {"post_ffw_norm.weight", GgufTransform::kNone}},
  };
  return *t;
}

}  // namespace

std::string GgufArchitectureName(const ModelConfig& config) {
  if (config.architecture == Architecture::kLlama && config.variant == LlamaVariant::kMistral) {
    return "llama";
  }
  return FamilyName(config.architecture, config.variant);
}

namespace {

const GgufTensorMapping* FindLayerMapping(const ModelConfig& config, const std::string& name) {
  if (config.architecture == Architecture::kGpt2) {
    auto it = Gpt2Layer().find(name);
    return it == Gpt2Layer().end() ? nullptr : &it->second;
  }
  if (config.sandwich_norms) {
    if (auto it = SandwichNormLayer().find(name); it != SandwichNormLayer().end()) {
      return &it->second;
    }
  }
  auto it = LlamaLayer().find(name);
  return it == LlamaLayer().end() ? nullptr : &it->second;
}

}  // namespace

absl::StatusOr<GgufTensorMapping> MapHfNameToGguf(const ModelConfig& config,
                                                  const std::string& hf_name) {
  const bool gpt2 = config.architecture == Architecture::kGpt2;
  // Only GGUF arch "llama" stores q/k rows in llama.cpp's interleaved order.
  const bool permuted = GgufArchitectureName(config) == "llama";
  const Table& global = gpt2 ? Gpt2Global() : LlamaGlobal();
  if (auto it = global.find(hf_name); it != global.end()) return it->second;
  absl::string_view rest = hf_name;
  if (absl::ConsumePrefix(&rest, gpt2 ? "transformer.h." : "model.layers.")) {
    const size_t dot = rest.find('.');
    int64_t layer = 0;
    if (dot != absl::string_view::npos && absl::SimpleAtoi(rest.substr(0, dot), &layer)) {
      if (const GgufTensorMapping* m = FindLayerMapping(config, std::string(rest.substr(dot + 1)))) {
        GgufTransform transform = m->transform;
        if (!permuted && (transform == GgufTransform::kPermuteQ ||
                          transform == GgufTransform::kPermuteK)) {
          transform = GgufTransform::kNone;
        }
        return GgufTensorMapping{absl::StrCat("blk.", layer, ".", m->gguf_name), transform};
      }
    }
  }
  return absl::NotFoundError(absl::StrCat("no GGUF name for tensor \"", hf_name, "\""));
}

// HF row h*hd + j*(hd/2) + i  <->  GGUF row h*hd + 2*i + j  (j in {0,1}).
void PermuteRowsToGguf(const uint8_t* src, uint8_t* dst, int64_t rows, size_t row_bytes,
                       int64_t n_heads) {
  const int64_t hd = rows / n_heads;
  for (int64_t h = 0; h < n_heads; ++h) {
    for (int64_t j = 0; j < 2; ++j) {
      for (int64_t i = 0; i < hd / 2; ++i) {
        const int64_t hf = h * hd + j * (hd / 2) + i;
        const int64_t gg = h * hd + 2 * i + j;
        std::memcpy(dst + gg * row_bytes, src + hf * row_bytes, row_bytes);
      }
    }
  }
}

void PermuteRowsFromGguf(const uint8_t* src, uint8_t* dst, int64_t rows, size_t row_bytes,
                         int64_t n_heads) {
  const int64_t hd = rows / n_heads;
  for (int64_t h = 0; h < n_heads; ++h) {
    for (int64_t j = 0; j < 2; ++j) {
      for (int64_t i = 0; i < hd / 2; ++i) {
        const int64_t hf = h * hd + j * (hd / 2) + i;
        const int64_t gg = h * hd + 2 * i + j;
        std::memcpy(dst + hf * row_bytes, src + gg * row_bytes, row_bytes);
      }
    }
  }
}

namespace {

template <typename T>
void TransposeTiled(const T* src, T* dst, int64_t rows, int64_t cols) {
  constexpr int64_t kTile = 32;
  for (int64_t r0 = 0; r0 < rows; r0 += kTile) {
    for (int64_t c0 = 0; c0 < cols; c0 += kTile) {
      const int64_t r1 = std::min(rows, r0 + kTile), c1 = std::min(cols, c0 + kTile);
      for (int64_t r = r0; r < r1; ++r) {
        for (int64_t c = c0; c < c1; ++c) dst[c * rows + r] = src[r * cols + c];
      }
    }
  }
}

}  // namespace

void Transpose2D(const uint8_t* src, uint8_t* dst, int64_t rows, int64_t cols, size_t elem_bytes) {
  if (elem_bytes == 4) {
    return TransposeTiled(reinterpret_cast<const uint32_t*>(src), reinterpret_cast<uint32_t*>(dst),
                          rows, cols);
  }
  if (elem_bytes == 2) {
    return TransposeTiled(reinterpret_cast<const uint16_t*>(src), reinterpret_cast<uint16_t*>(dst),
                          rows, cols);
  }
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      std::memcpy(dst + (c * rows + r) * elem_bytes, src + (r * cols + c) * elem_bytes, elem_bytes);
    }
  }
}

}  // namespace tandem::model::formats
