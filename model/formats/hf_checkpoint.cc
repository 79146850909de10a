#include "model/formats/hf_checkpoint.h"

#include <utility>

#include "model/formats/hf_config.h"
#include "model/formats/safetensors_reader.h"
#include "model/formats/tensor_layout.h"

namespace tandem::model::formats {

absl::StatusOr<RawCheckpoint> ReadHfCheckpoint(const std::string& dir) {
  absl::StatusOr<ModelConfig> config = ReadHfConfig(dir + "/config.json");
  if (!config.ok()) return config.status();
  absl::StatusOr<std::map<std::string, RawTensor>> tensors = ReadSafetensorsDir(dir);
  if (!tensors.ok()) return tensors.status();
  RawCheckpoint out;
  out.config = *std::move(config);
  out.tensors = *std::move(tensors);
  absl::Status valid = ValidateAndSelectTensors(out.config, dir, &out.tensors);
  if (!valid.ok()) return valid;
  return out;
}

}  // namespace tandem::model::formats
