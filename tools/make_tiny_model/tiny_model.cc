#include "tools/make_tiny_model/tiny_model.h"

#include <cmath>
#include <random>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "model/formats/hf_config.h"
#include "model/formats/tensor_layout.h"

namespace tandem::tools {
namespace {

// Portable N(0, 1): std::normal_distribution's algorithm is unspecified.
class Gaussian {
 public:
  explicit Gaussian(uint64_t seed) : rng_(seed) {}
  float Next() {
    const double u1 = (static_cast<double>(rng_() >> 11) + 0.5) * 0x1.0p-53;
    const double u2 = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
    return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(2 * M_PI * u2));
  }

 private:
  std::mt19937_64 rng_;
};

model::ModelConfig ConfigFor(const TinyModelOptions& o, const TinyVocab& vocab) {
  model::ModelConfig c;
  const bool gpt2 = o.architecture == model::Architecture::kGpt2;
  c.architecture = o.architecture;
  c.variant = gpt2 ? model::LlamaVariant::kLlama : o.variant;
  c.name = gpt2 ? "tandem-tiny-gpt2" : "tandem-tiny-llama";
  c.vocab_size = static_cast<int64_t>(vocab.tokens.size());
  c.hidden_size = o.hidden_size;
  c.intermediate_size =
      o.intermediate_size > 0 ? o.intermediate_size : (gpt2 ? 4 : 2) * o.hidden_size;
  c.num_hidden_layers = o.num_layers;
  c.num_attention_heads = o.num_heads;
  c.num_key_value_heads = gpt2 ? o.num_heads : o.num_kv_heads;
  c.head_dim = o.head_dim > 0 ? o.head_dim : o.num_heads > 0 ? o.hidden_size / o.num_heads : 0;
  c.max_position_embeddings = o.context_length;
  c.norm_eps = static_cast<float>(o.norm_eps);
  c.rope_theta = static_cast<float>(o.rope_theta);
  c.attention_bias = !gpt2 && o.attention_bias;
  if (!gpt2) model::SetVariantFeatures(o.variant, &c);
  if (!gpt2) c.rope_scaling = o.rope_scaling;
  c.sliding_window = gpt2 ? 0 : o.sliding_window;
  c.tie_word_embeddings = o.tie_word_embeddings;
  const bool gemma = !gpt2 && model::HasOffsetNormWeights(o.variant);
  if (gemma) {
    c.name = "tandem-tiny-" + std::string(model::FamilyName(c.architecture, c.variant));
    c.tie_word_embeddings = true;
    c.attn_logit_softcapping = o.attn_logit_softcapping;
    c.final_logit_softcapping = o.final_logit_softcapping;
    c.rope_local_theta = o.rope_local_theta;
    c.rope_linear_factor = o.rope_linear_factor;
    if (c.sliding_window > 0) {
      c.sliding_layers = model::SlidingLayerPattern(model::DefaultSlidingPattern(o.variant),
                                                    c.num_hidden_layers);
    }
  }
  c.bos_token_ids = {vocab.bos_id};
  c.eos_token_ids = {vocab.eos_id};
  return c;
}

// Standard deviation per tensor: unit-variance activations, logits of a few
// units, norms near 1, small biases.
float Scale(const std::string& name, const std::vector<int64_t>& shape) {
  if (absl::EndsWith(name, "norm.weight") || absl::StrContains(name, "ln_")) {
    return absl::EndsWith(name, ".bias") ? 0.1f : 0.2f;
  }
  if (shape.size() == 1) return 0.1f;
  if (absl::StrContains(name, "embed_tokens") || absl::StrContains(name, "wte")) return 1.0f;
  if (absl::StrContains(name, "wpe")) return 0.5f;
  if (absl::StrContains(name, "lm_head")) return 3.0f / std::sqrt(static_cast<float>(shape[1]));
  // nn.Linear [out, in]; GPT-2 Conv1D [in, out].
  const bool conv1d = absl::StartsWith(name, "transformer.");
  const int64_t fan_in = conv1d ? shape[0] : shape[1];
  return 1.0f / std::sqrt(static_cast<float>(fan_in));
}

}  // namespace

absl::StatusOr<TinyModel> MakeTinyModel(const TinyModelOptions& o) {
  TinyModel m;
  if (o.vocab.has_value()) {
    m.vocab = *o.vocab;
  } else {
    absl::StatusOr<TinyVocab> vocab = MakeSyntheticVocab(o.architecture, o.vocab_size);
    if (!vocab.ok()) return vocab.status();
    m.vocab = *std::move(vocab);
  }
  m.config = ConfigFor(o, m.vocab);
  if (o.num_heads <= 0 || (o.head_dim == 0 && o.hidden_size % o.num_heads != 0)) {
    return absl::InvalidArgumentError(absl::StrCat("num_heads (", o.num_heads,
                                                   ") must divide hidden_size (", o.hidden_size, ")"));
  }
  absl::Status valid = model::formats::ValidateModelConfig(m.config, "tiny model options");
  if (!valid.ok()) return valid;
  Gaussian gauss(o.seed);
  for (const model::formats::ExpectedTensor& t : model::formats::ExpectedTensors(m.config)) {
    TinyWeight w{t.name, t.shape, {}};
    int64_t n = 1;
    for (int64_t d : t.shape) n *= d;
    const float scale = Scale(t.name, t.shape);
    const bool norm_weight = absl::EndsWith(t.name, "norm.weight") ||
                             (absl::StrContains(t.name, "ln_") && absl::EndsWith(t.name, ".weight"));
    // Gemma stores norm weights as offsets from 1 (HasOffsetNormWeights).
    const bool offset = m.config.architecture == model::Architecture::kLlama &&
                        model::HasOffsetNormWeights(m.config.variant);
    const float center = norm_weight && !offset ? 1.0f : 0.0f;
    w.values.resize(static_cast<size_t>(n));
    for (float& v : w.values) v = center + scale * gauss.Next();
    m.weights.push_back(std::move(w));
  }
  return m;
}

}  // namespace tandem::tools
