#include "model/formats/gguf_checkpoint.h"

#include <cmath>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "model/formats/gguf_dequant.h"
#include "model/formats/gguf_names.h"
#include "model/formats/hf_config.h"
#include "model/formats/tensor_layout.h"

namespace tandem::model::formats {
namespace {

// Reads optional integer keys: absent -> fallback; wrong type -> error kept.
class Meta {
 public:
  Meta(const GgufFile& g, std::string prefix) : g_(g), prefix_(std::move(prefix)) {}

  int64_t Int(const std::string& key, int64_t fallback, bool required) {
    absl::StatusOr<int64_t> v = g_.GetInt(prefix_ + key);
    if (v.ok()) return *v;
    if (v.status().code() != absl::StatusCode::kNotFound || required) Keep(v.status());
    return fallback;
  }
  double Float(const std::string& key, double fallback, bool required) {
    absl::StatusOr<double> v = g_.GetFloat(prefix_ + key);
    if (v.ok()) return *v;
    if (v.status().code() != absl::StatusCode::kNotFound || required) Keep(v.status());
    return fallback;
  }
  void Keep(const absl::Status& s) {
    if (status_.ok()) status_ = s;
  }
  const absl::Status& status() const { return status_; }

 private:
  const GgufFile& g_;
  std::string prefix_;
  absl::Status status_;
};

DType StoredDType(uint32_t type) {
  if (type == static_cast<uint32_t>(GgmlType::kF16)) return DType::kF16;
  if (type == static_cast<uint32_t>(GgmlType::kBF16)) return DType::kBF16;
  return DType::kF32;  // F32, and every quantized type once dequantized.
}

// <arch>.rope.scaling.type: none, or linear with <arch>.rope.scaling.factor.
absl::Status ReadRopeScaling(const GgufFile& g, const std::string& arch, ModelConfig* c) {
  absl::StatusOr<std::string> type = g.GetString(arch + ".rope.scaling.type");
  if (!type.ok() || *type == "none") return absl::OkStatus();
  if (*type != "linear") {
    return absl::UnimplementedError(absl::StrCat(g.path(), ": ", arch, ".rope.scaling.type \"",
                                                 *type, "\" is not supported (none or linear)"));
  }
  absl::StatusOr<double> factor = g.GetFloat(arch + ".rope.scaling.factor");
  if (!factor.ok()) return factor.status();
  if (!(*factor > 0) || !std::isfinite(*factor)) {
    return absl::InvalidArgumentError(absl::StrCat(g.path(), ": ", arch,
                                                   ".rope.scaling.factor must be > 0, found ",
                                                   *factor));
  }
  c->rope_linear_factor = *factor;
  return absl::OkStatus();
}

// Gemma 2/3 hyper-parameters as llama.cpp reads them (src/models/gemma2.cpp,
// gemma3.cpp): soft-capping (Gemma 2 defaults 50 / 30), the sliding window
// (Gemma 2 default 4096; Gemma 3 none unless the key is set), its layer
// pattern (<arch>.attention.sliding_window_pattern: an integer n, layer i
// sliding iff i % n < n - 1, or one bool per layer; defaults 2 / 6), the
// local RoPE base (Gemma 3: rope.freq_base_swa, default 10000, unscaled), and
// the query scale: 1/sqrt(hidden / heads) for the 27B shapes (46 / 62
// layers), else 1/sqrt(head_dim).
absl::Status ReadGemmaParameters(const GgufFile& g, const std::string& arch, ModelConfig* c) {
  const bool gemma2 = c->variant == LlamaVariant::kGemma2;
  Meta m(g, arch + ".");
  c->attn_logit_softcapping = gemma2 ? m.Float("attn_logit_softcapping", 50.0, false) : 0.0;
  c->final_logit_softcapping = m.Float("final_logit_softcapping", gemma2 ? 30.0 : 0.0, false);
  c->sliding_window = m.Int("attention.sliding_window", gemma2 ? 4096 : 0, false);
  if (c->sliding_window > 0) {
    c->sliding_layers.assign(static_cast<size_t>(c->num_hidden_layers), false);
    const std::string key = arch + ".attention.sliding_window_pattern";
    const GgufValue* v = g.Find(key);
    if (v != nullptr && v->type == GgufValueType::kArray) {
      if (v->array.size() != c->sliding_layers.size()) {
        return absl::InvalidArgumentError(absl::StrCat(g.path(), ": ", key, " has ",
                                                       v->array.size(), " entries, expected ",
                                                       c->num_hidden_layers));
      }
      for (size_t i = 0; i < v->array.size(); ++i) c->sliding_layers[i] = v->array[i].u != 0;
    } else {
      c->sliding_layers = SlidingLayerPattern(
          m.Int("attention.sliding_window_pattern", DefaultSlidingPattern(c->variant), false),
          c->num_hidden_layers);
    }
    if (!gemma2) c->rope_local_theta = m.Float("rope.freq_base_swa", 10000.0, false);
    else if (g.Find(arch + ".rope.freq_base_swa") != nullptr) {
      c->rope_local_theta = m.Float("rope.freq_base_swa", c->rope_theta, false);
    }
  }
  const int64_t big = gemma2 ? 46 : 62;
  if (c->num_hidden_layers == big && c->num_attention_heads > 0) {
    c->query_pre_attn_scalar =
        static_cast<double>(c->hidden_size / c->num_attention_heads);
  }
  return m.status();
}

// rope_freqs.weight: llama3-style RoPE scaling as per-frequency divisors
// (llama.cpp applies it to arch "llama" only).
absl::Status ReadRopeFreqs(const GgufFile& g, const std::string& arch, ModelConfig* c) {
  const GgufTensorInfo* info = g.FindTensor("rope_freqs.weight");
  if (info == nullptr) return absl::OkStatus();
  const std::string label = absl::StrCat(g.path(), ": tensor rope_freqs.weight");
  if (arch != "llama") {
    return absl::UnimplementedError(
        absl::StrCat(label, " in a \"", arch, "\" file (llama.cpp reads it for llama only)"));
  }
  if (info->type != static_cast<uint32_t>(GgmlType::kF32) ||
      info->TorchShape() != std::vector<int64_t>{c->head_dim / 2}) {
    return absl::InvalidArgumentError(absl::StrCat(
        label, ": expected F32 of shape [", c->head_dim / 2, "], found ",
        GgmlTypeName(info->type), " ", ShapeToString(info->TorchShape())));
  }
  const auto* data = reinterpret_cast<const float*>(g.TensorData(*info));
  c->rope_freq_factors.assign(data, data + c->head_dim / 2);
  for (float f : c->rope_freq_factors) {
    if (!(f > 0) || !std::isfinite(f)) {
      return absl::InvalidArgumentError(absl::StrCat(label, ": factor ", f, " is not > 0"));
    }
  }
  return absl::OkStatus();
}

// general.architecture -> architecture and variant (features follow).
absl::Status SetArchitecture(const GgufFile& g, const std::string& arch, ModelConfig* c) {
  LlamaVariant variant = LlamaVariant::kLlama;
  if (!ParseFamilyName(arch, &c->architecture, &variant) || arch == "mistral") {
    return absl::UnimplementedError(absl::StrCat(
        g.path(), ": general.architecture \"", arch,
        "\" is not supported (expected llama, qwen2, qwen3, gemma, gemma2, gemma3 or gpt2)"));
  }
  if (c->architecture == Architecture::kLlama) SetVariantFeatures(variant, c);
  c->attention_bias = false;  // Decided by the tensors present.
  return absl::OkStatus();
}

// Copies (or dequantizes) a GGUF tensor to `dst` in its stored dtype, then
// applies `transform` to reach the HF layout described by `hf_shape`.
absl::Status FillTensor(const GgufFile& g, const GgufTensorInfo& info, DType dtype,
                        GgufTransform transform, int64_t n_heads,
                        const std::vector<int64_t>& hf_shape, uint8_t* dst) {
  const uint8_t* src = g.TensorData(info);
  const int64_t n = info.NumElements();
  const size_t elem = DTypeSize(dtype);
  const size_t bytes = static_cast<size_t>(n) * elem;
  std::vector<uint8_t> staging;
  uint8_t* out = dst;
  if (transform != GgufTransform::kNone) {
    staging.resize(bytes);
    out = staging.data();
  }
  if (FindGgmlType(info.type)->block_size == 1 && StoredDType(info.type) == dtype) {
    if (bytes > 0) std::memcpy(out, src, bytes);
  } else {
    absl::Status s = DequantizeToFloat(info.type, src, info.nbytes, n, reinterpret_cast<float*>(out));
    if (!s.ok()) {
      return absl::Status(s.code(), absl::StrCat(g.path(), ": tensor \"", info.name, "\": ",
                                                 s.message()));
    }
  }
  if (transform == GgufTransform::kTranspose) {
    // GGUF view [out, in] -> HF Conv1D [in, out] == hf_shape.
    Transpose2D(out, dst, hf_shape[1], hf_shape[0], elem);
  } else if (transform != GgufTransform::kNone) {
    const int64_t rows = hf_shape[0];
    PermuteRowsFromGguf(out, dst, rows, bytes / static_cast<size_t>(rows), n_heads);
  }
  return absl::OkStatus();
}

absl::StatusOr<RawTensor> MapTensor(const std::shared_ptr<const GgufFile>& g,
                                    const ModelConfig& config, const ExpectedTensor& expected) {
  absl::StatusOr<GgufTensorMapping> mapping = MapHfNameToGguf(config, expected.name);
  if (!mapping.ok()) return mapping.status();
  const GgufTensorInfo* info = g->FindTensor(mapping->gguf_name);
  std::vector<int64_t> want = expected.shape;
  if (mapping->transform == GgufTransform::kTranspose) want = {want[1], want[0]};
  const std::string label = absl::StrCat(g->path(), ": tensor \"", mapping->gguf_name,
                                         "\" (Hugging Face \"", expected.name, "\")");
  if (info == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(label, " is missing (expected shape ",
                                                   ShapeToString(want), ")"));
  }
  if (info->TorchShape() != want) {
    return absl::InvalidArgumentError(absl::StrCat(label, ": expected shape ", ShapeToString(want),
                                                   " (ggml ne reversed), found ",
                                                   ShapeToString(info->TorchShape())));
  }
  const GgmlTypeTraits* traits = FindGgmlType(info->type);
  if (traits == nullptr || !traits->dequantizable) {
    return absl::UnimplementedError(absl::StrCat(
        label, ": ggml type ", GgmlTypeName(info->type),
        " is not supported (expected F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, "
        "Q3_K, Q4_K, Q5_K or Q6_K)"));
  }
  const int64_t n_heads = mapping->transform == GgufTransform::kPermuteQ
                              ? config.num_attention_heads : config.num_key_value_heads;
  RawTensor raw;
  raw.dtype = StoredDType(info->type);
  raw.shape = expected.shape;
  const GgufTensorInfo info_copy = *info;
  raw.fill = [g, info_copy, dtype = raw.dtype, transform = mapping->transform, n_heads,
              shape = expected.shape](uint8_t* dst) {
    return FillTensor(*g, info_copy, dtype, transform, n_heads, shape, dst);
  };
  return raw;
}

}  // namespace

absl::StatusOr<ModelConfig> GgufModelConfig(const GgufFile& g) {
  absl::StatusOr<std::string> arch = g.GetString("general.architecture");
  if (!arch.ok()) return arch.status();
  ModelConfig c;
  if (absl::Status s = SetArchitecture(g, *arch, &c); !s.ok()) return s;
  absl::Status rope = ReadRopeScaling(g, *arch, &c);
  if (!rope.ok()) return rope;
  Meta m(g, *arch + ".");
  c.hidden_size = m.Int("embedding_length", 0, true);
  c.num_hidden_layers = m.Int("block_count", 0, true);
  c.intermediate_size = m.Int("feed_forward_length", 0, true);
  c.num_attention_heads = m.Int("attention.head_count", 0, true);
  c.num_key_value_heads = m.Int("attention.head_count_kv", c.num_attention_heads, false);
  c.head_dim = m.Int("attention.key_length",
                     c.num_attention_heads > 0 ? c.hidden_size / c.num_attention_heads : 0, false);
  c.max_position_embeddings = m.Int("context_length", 0, true);
  const bool llama = c.architecture == Architecture::kLlama;
  c.norm_eps = m.Float(llama ? "attention.layer_norm_rms_epsilon" : "attention.layer_norm_epsilon",
                       1e-5, true);
  c.rope_theta = m.Float("rope.freq_base", 10000.0, false);
  const int64_t rope_dims = m.Int("rope.dimension_count", c.head_dim, false);
  // llama.cpp's key for a sliding window (it ignores it for llama / qwen2;
  // Gemma's is read below).
  if (llama && !HasOffsetNormWeights(c.variant)) {
    c.sliding_window = m.Int("attention.sliding_window", 0, false);
  }
  c.vocab_size = m.Int("vocab_size", 0, false);
  Meta root(g, "");
  if (c.vocab_size == 0) {
    absl::StatusOr<size_t> n = g.GetArrayLength("tokenizer.ggml.tokens");
    if (n.ok()) c.vocab_size = static_cast<int64_t>(*n);
    else if (const GgufTensorInfo* e = g.FindTensor("token_embd.weight"); e && e->ne.size() == 2) {
      c.vocab_size = e->ne[1];
    }
  }
  if (int64_t bos = root.Int("tokenizer.ggml.bos_token_id", -1, false); bos >= 0) {
    c.bos_token_ids = {bos};
  }
  if (int64_t eos = root.Int("tokenizer.ggml.eos_token_id", -1, false); eos >= 0) {
    c.eos_token_ids = {eos};
  }
  c.early_exit_layer = root.Int("tandem.early_exit_layer", 0, false);
  absl::StatusOr<std::string> name = g.GetString("general.name");
  if (name.ok()) c.name = *name;
  if (!m.status().ok()) return m.status();
  if (!root.status().ok()) return root.status();
  if (llama && rope_dims != c.head_dim) {
    return absl::UnimplementedError(absl::StrCat(g.path(), ": partial rotary embedding (",
                                                 *arch, ".rope.dimension_count ", rope_dims,
                                                 " != head_dim ", c.head_dim, ")"));
  }
  if (llama) {
    if (absl::Status s = ReadRopeFreqs(g, *arch, &c); !s.ok()) return s;
  }
  if (c.variant == LlamaVariant::kGemma2 || c.variant == LlamaVariant::kGemma3) {
    if (absl::Status s = ReadGemmaParameters(g, *arch, &c); !s.ok()) return s;
  }
  c.attention_bias = llama && g.FindTensor("blk.0.attn_q.bias") != nullptr;
  c.tie_word_embeddings = g.FindTensor("output.weight") == nullptr;
  absl::Status valid = ValidateModelConfig(c, g.path());
  if (!valid.ok()) return valid;
  return c;
}

absl::StatusOr<RawCheckpoint> ReadGgufCheckpoint(const std::string& path) {
  absl::StatusOr<GgufFile> opened = GgufFile::Open(path);
  if (!opened.ok()) return opened.status();
  auto g = std::make_shared<const GgufFile>(*std::move(opened));
  absl::StatusOr<ModelConfig> config = GgufModelConfig(*g);
  if (!config.ok()) return config.status();
  RawCheckpoint out;
  out.config = *config;
  for (const ExpectedTensor& expected : ExpectedTensors(out.config)) {
    absl::StatusOr<RawTensor> raw = MapTensor(g, out.config, expected);
    if (!raw.ok()) return raw.status();
    out.tensors[expected.name] = *std::move(raw);
  }
  return out;
}

}  // namespace tandem::model::formats
