#ifndef TANDEM_MODEL_FORMATS_HF_CHECKPOINT_H_
#define TANDEM_MODEL_FORMATS_HF_CHECKPOINT_H_

#include <string>

#include "absl/status/statusor.h"
#include "model/formats/raw_checkpoint.h"

namespace tandem::model::formats {

// A Hugging Face checkpoint directory: config.json (see ParseHfConfig) and
// model.safetensors or sharded model-*-of-*.safetensors with
// model.safetensors.index.json (see ReadSafetensorsDir). Every tensor the
// architecture needs must be present with the expected shape (see
// ValidateAndSelectTensors); other tensors are dropped. No data is read yet.
// Gemma's RMSNorm offsets are handed out as float32 1 + w (model/checkpoint.h).
absl::StatusOr<RawCheckpoint> ReadHfCheckpoint(const std::string& dir);

}  // namespace tandem::model::formats

#endif  // TANDEM_MODEL_FORMATS_HF_CHECKPOINT_H_
