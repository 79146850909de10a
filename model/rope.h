#ifndef TANDEM_MODEL_ROPE_H_
#define TANDEM_MODEL_ROPE_H_

#include <vector>

#include "model/model_config.h"

namespace tandem::model {

// RoPE inverse frequencies of a Llama-family config, head_dim / 2 values in
// float64: theta^(-2i / head_dim), then llama3 scaling (Hugging Face's
// _compute_llama3_parameters) when config.rope_scaling.enabled, then divided
// by config.rope_freq_factors when set (llama.cpp's ggml_rope_ext
// freq_factors) and by config.rope_linear_factor.
// local = true: the RoPE of sliding-window layers when
// config.rope_local_theta > 0 (Gemma 3): rope_local_theta^(-2i / head_dim),
// unscaled.
std::vector<double> RopeInverseFrequencies(const ModelConfig& config, bool local = false);

// The llama3 scaling of config.rope_scaling as the per-frequency divisors
// llama.cpp's convert_hf_to_gguf.py stores in rope_freqs.weight (1 for high
// frequencies, `factor` for low ones, 1 / ((1 - s) / factor + s) between).
std::vector<float> Llama3RopeFreqFactors(const ModelConfig& config);

}  // namespace tandem::model

#endif  // TANDEM_MODEL_ROPE_H_
