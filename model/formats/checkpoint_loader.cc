#include "model/formats/checkpoint_loader.h"

#include <sys/stat.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "model/formats/gguf_checkpoint.h"
#include "model/formats/hf_checkpoint.h"

namespace tandem::model {
namespace {

at::ScalarType ToScalarType(formats::DType dtype) {
  switch (dtype) {
    case formats::DType::kF16: return at::kHalf;
    case formats::DType::kBF16: return at::kBFloat16;
    case formats::DType::kF32: break;
  }
  return at::kFloat;
}

}  // namespace

absl::StatusOr<Checkpoint> MaterializeCheckpoint(const formats::RawCheckpoint& raw) {
  Checkpoint out;
  out.config = raw.config;
  for (const auto& [name, tensor] : raw.tensors) {
    at::Tensor t = at::empty(tensor.shape, at::TensorOptions().dtype(ToScalarType(tensor.dtype)));
    absl::Status s = tensor.fill(static_cast<uint8_t*>(t.data_ptr()));
    if (!s.ok()) return s;
    out.tensors.emplace(name, std::move(t));
  }
  return out;
}

absl::StatusOr<Checkpoint> LoadHfCheckpoint(const std::string& dir) {
  absl::StatusOr<formats::RawCheckpoint> raw = formats::ReadHfCheckpoint(dir);
  if (!raw.ok()) return raw.status();
  return MaterializeCheckpoint(*raw);
}

absl::StatusOr<Checkpoint> LoadGguf(const std::string& path) {
  absl::StatusOr<formats::RawCheckpoint> raw = formats::ReadGgufCheckpoint(path);
  if (!raw.ok()) return raw.status();
  return MaterializeCheckpoint(*raw);
}

absl::StatusOr<Checkpoint> LoadCheckpoint(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat("no such file or directory: ", path));
  }
  return S_ISDIR(st.st_mode) ? LoadHfCheckpoint(path) : LoadGguf(path);
}

}  // namespace tandem::model
