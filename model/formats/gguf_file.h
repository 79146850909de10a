#ifndef TANDEM_MODEL_FORMATS_GGUF_FILE_H_
#define TANDEM_MODEL_FORMATS_GGUF_FILE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/formats/gguf_types.h"
#include "model/formats/mapped_file.h"

namespace tandem::model::formats {

// One metadata value. Integers are widened (signed ones to `i`, unsigned and
// bool to `u`), floats to `f`; arrays hold their elements (all of
// `array_type`), possibly nested.
struct GgufValue {
  GgufValueType type = GgufValueType::kUint8;
  uint64_t u = 0;
  int64_t i = 0;
  double f = 0;
  std::string s;
  GgufValueType array_type = GgufValueType::kUint8;
  std::vector<GgufValue> array;

  bool IsInteger() const;
  bool IsFloat() const;
};

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> ne;   // ggml order: ne[0] is the innermost (contiguous) dim.
  uint32_t type = 0;         // GgmlType value.
  uint64_t offset = 0;       // Relative to the data section.
  uint64_t nbytes = 0;       // 0 when the type's layout is unknown.
  bool known_type = false;   // FindGgmlType(type) != nullptr.

  // The same tensor as a row-major torch shape: ne reversed.
  std::vector<int64_t> TorchShape() const { return {ne.rbegin(), ne.rend()}; }
  int64_t NumElements() const;
};

// A GGUF file (v2 or v3): magic "GGUF", version, tensor count, KV count, the
// KVs, the tensor infos, then the data section at the next multiple of
// general.alignment (default 32). Open() validates every length, count, type
// and offset against the file size before allocating or reading, so a
// malformed file yields InvalidArgument / OutOfRange / Unimplemented naming
// the file, the key or tensor, and the expected vs found value; it never
// reads past the end. Immutable after Open; keeps the mapping alive.
class GgufFile {
 public:
  static absl::StatusOr<GgufFile> Open(const std::string& path);

  const std::string& path() const { return file_->path(); }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }
  const std::map<std::string, GgufValue>& metadata() const { return metadata_; }
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const std::shared_ptr<const MappedFile>& file() const { return file_; }

  const GgufValue* Find(const std::string& key) const;
  const GgufTensorInfo* FindTensor(const std::string& name) const;

  // Typed metadata access; NotFound when absent, InvalidArgument naming the
  // key and the found type when it has the wrong type or range.
  absl::StatusOr<int64_t> GetInt(const std::string& key) const;
  absl::StatusOr<double> GetFloat(const std::string& key) const;  // Accepts integers too.
  absl::StatusOr<std::string> GetString(const std::string& key) const;
  absl::StatusOr<size_t> GetArrayLength(const std::string& key) const;

  // The tensor's bytes (in the mapping); only for known types.
  const uint8_t* TensorData(const GgufTensorInfo& info) const {
    return file_->data() + data_offset_ + info.offset;
  }

 private:
  std::shared_ptr<const MappedFile> file_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::map<std::string, GgufValue> metadata_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

const char* GgufValueTypeName(GgufValueType type);

}  // namespace tandem::model::formats

#endif  // TANDEM_MODEL_FORMATS_GGUF_FILE_H_
