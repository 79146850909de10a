#ifndef TANDEM_MODEL_FORMATS_SAFETENSORS_READER_H_
#define TANDEM_MODEL_FORMATS_SAFETENSORS_READER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/formats/dtype.h"
#include "model/formats/mapped_file.h"
#include "model/formats/raw_checkpoint.h"

namespace tandem::model::formats {

struct SafetensorsTensorInfo {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // Absolute byte offsets in the file, begin <= end.
  uint64_t end = 0;
};

// One .safetensors file: an 8-byte little-endian header length N, N bytes of
// JSON ({name: {dtype, shape, data_offsets}, "__metadata__": {str: str}}),
// then the data. Open() validates everything up front: header length and JSON,
// dtype (F32/F16/BF16 only), shape, offsets inside the data section, byte
// length == elements * dtype size, no two tensors overlapping. Errors are
// InvalidArgument (malformed) or Unimplemented (other dtypes) and name the
// file, the tensor and what was expected vs found. Immutable after Open.
class SafetensorsFile {
 public:
  static absl::StatusOr<SafetensorsFile> Open(const std::string& path);

  const std::string& path() const { return file_->path(); }
  const std::vector<SafetensorsTensorInfo>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const SafetensorsTensorInfo* Find(const std::string& name) const;

  // A RawTensor whose fill copies the bytes; it keeps the mapping alive.
  RawTensor ToRawTensor(const SafetensorsTensorInfo& info) const;

 private:
  std::shared_ptr<const MappedFile> file_;
  std::vector<SafetensorsTensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

// Every tensor of a Hugging Face checkpoint directory: model.safetensors, or
// the shards named by model.safetensors.index.json ("weight_map"), each
// checked against the index (tensor present in the shard it is mapped to, no
// tensor in two shards, shard names without directories).
absl::StatusOr<std::map<std::string, RawTensor>> ReadSafetensorsDir(const std::string& dir);

}  // namespace tandem::model::formats

#endif  // TANDEM_MODEL_FORMATS_SAFETENSORS_READER_H_
