#ifndef TANDEM_MODEL_FORMATS_CHECKPOINT_LOADER_H_
#define TANDEM_MODEL_FORMATS_CHECKPOINT_LOADER_H_

#include <string>

#include "absl/status/statusor.h"
#include "model/checkpoint.h"
#include "model/formats/raw_checkpoint.h"

// The only place the format readers meet ATen: RawCheckpoint -> Checkpoint.
namespace tandem::model {

// A Hugging Face directory (config.json + safetensors, single or sharded).
absl::StatusOr<Checkpoint> LoadHfCheckpoint(const std::string& dir);

// A GGUF file (general.architecture llama or gpt2), converted to Hugging
// Face names and layouts (see formats::ReadGgufCheckpoint).
absl::StatusOr<Checkpoint> LoadGguf(const std::string& path);

// LoadGguf for a regular file, LoadHfCheckpoint for a directory.
absl::StatusOr<Checkpoint> LoadCheckpoint(const std::string& path);

// Allocates each tensor (CPU, contiguous, its dtype) and fills it.
absl::StatusOr<Checkpoint> MaterializeCheckpoint(const formats::RawCheckpoint& raw);

}  // namespace tandem::model

#endif  // TANDEM_MODEL_FORMATS_CHECKPOINT_LOADER_H_
