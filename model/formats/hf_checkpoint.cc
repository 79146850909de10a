#include "model/formats/hf_checkpoint.h"

#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/match.h"

#include "model/formats/hf_config.h"
#include "model/formats/safetensors_reader.h"
#include "model/formats/tensor_layout.h"

namespace tandem::model::formats {
namespace {

// Gemma: norm weight w -> float32 1 + w (Hugging Face's (1.0 + w.float())).
void FoldNormOffsets(std::map<std::string, RawTensor>* tensors) {
  for (auto& [name, tensor] : *tensors) {
    if (!absl::EndsWith(name, "norm.weight")) continue;
    RawTensor offset = tensor;
    tensor.dtype = DType::kF32;
    tensor.fill = [offset](uint8_t* dst) -> absl::Status {
      absl::StatusOr<std::vector<float>> w = MaterializeAsFloat(offset);
      if (!w.ok()) return w.status();
      for (float& v : *w) v += 1.0f;
      if (!w->empty()) std::memcpy(dst, w->data(), w->size() * sizeof(float));
      return absl::OkStatus();
    };
  }
}

}  // namespace

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
  if (out.config.architecture == Architecture::kLlama &&
      HasOffsetNormWeights(out.config.variant)) {
    FoldNormOffsets(&out.tensors);
  }
  return out;
}

}  // namespace tandem::model::formats
