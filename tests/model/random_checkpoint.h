#ifndef TANDEM_TESTS_MODEL_RANDOM_CHECKPOINT_H_
#define TANDEM_TESTS_MODEL_RANDOM_CHECKPOINT_H_

#include <cstdint>

#include "model/checkpoint.h"

namespace tandem::model::testing {

// A tiny Llama config (GQA, untied head unless asked).
ModelConfig TinyLlamaConfig();
// A tiny GPT-2 config.
ModelConfig TinyGpt2Config();

// Random weights (seeded) under Hugging Face names for `config`.
Checkpoint RandomCheckpoint(const ModelConfig& config, uint64_t seed);

// The same checkpoint cut to its first `layers` layers (for early-exit
// reference results).
Checkpoint FirstLayers(const Checkpoint& checkpoint, int64_t layers);

}  // namespace tandem::model::testing

#endif  // TANDEM_TESTS_MODEL_RANDOM_CHECKPOINT_H_
