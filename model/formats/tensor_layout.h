#ifndef TANDEM_MODEL_FORMATS_TENSOR_LAYOUT_H_
#define TANDEM_MODEL_FORMATS_TENSOR_LAYOUT_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "model/formats/raw_checkpoint.h"
#include "model/model_config.h"

namespace tandem::model::formats {

struct ExpectedTensor {
  std::string name;             // Hugging Face name, see model/checkpoint.h.
  std::vector<int64_t> shape;   // Hugging Face (torch) shape.
};

// Every tensor the architecture of `config` needs, in a stable order
// (embeddings, layers 0..N-1, final norm, lm_head unless tied).
std::vector<ExpectedTensor> ExpectedTensors(const ModelConfig& config);

// Checks that `tensors` holds every ExpectedTensors(config) entry with the
// expected shape, then drops everything else (rotary inv_freq buffers, GPT-2's
// attn.bias masks, a duplicated lm_head of a tied model). GPT-2 names stored
// without the "transformer." prefix (as in openai-community/gpt2) are renamed
// first. Errors: InvalidArgument "<source>: missing tensor \"...\" (expected
// shape [..])" or "<source>: tensor \"...\": expected shape [..], found [..]".
absl::Status ValidateAndSelectTensors(const ModelConfig& config, const std::string& source,
                                      std::map<std::string, RawTensor>* tensors);

}  // namespace tandem::model::formats

#endif  // TANDEM_MODEL_FORMATS_TENSOR_LAYOUT_H_
