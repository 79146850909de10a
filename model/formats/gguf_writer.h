#ifndef TANDEM_MODEL_FORMATS_GGUF_WRITER_H_
#define TANDEM_MODEL_FORMATS_GGUF_WRITER_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "model/formats/gguf_types.h"

namespace tandem::model::formats {

// Builds a GGUF v3 file in memory: metadata in insertion order, tensors laid
// out in insertion order, each at a multiple of the alignment (general.
// alignment when set with SetUint32, else 32), as llama.cpp's gguf writer
// does. Setting a key twice replaces its value. Not thread-safe.
class GgufWriter {
 public:
  void SetUint32(const std::string& key, uint32_t v);
  void SetInt32(const std::string& key, int32_t v);
  void SetUint64(const std::string& key, uint64_t v);
  void SetFloat32(const std::string& key, float v);
  void SetBool(const std::string& key, bool v);
  void SetString(const std::string& key, const std::string& v);
  void SetStringArray(const std::string& key, const std::vector<std::string>& v);
  void SetInt32Array(const std::string& key, const std::vector<int32_t>& v);
  void SetFloat32Array(const std::string& key, const std::vector<float>& v);
  // Any pre-encoded value (type tag + payload), for tests of odd files.
  void SetRaw(const std::string& key, GgufValueType type, std::vector<uint8_t> payload);

  // A tensor given as row-major float data of torch shape `shape` (ggml ne =
  // shape reversed), stored as `type` (F32, F16, BF16, Q8_0, Q4_0, Q4_1).
  absl::Status AddTensor(const std::string& name, const std::vector<int64_t>& shape,
                         GgmlType type, const std::vector<float>& data);
  // A tensor given as already-encoded bytes with ggml dims `ne` (tests).
  void AddRawTensor(const std::string& name, std::vector<int64_t> ne, uint32_t type,
                    std::vector<uint8_t> bytes);

  std::string Serialize() const;
  absl::Status WriteFile(const std::string& path) const;

 private:
  struct Tensor {
    std::string name;
    std::vector<int64_t> ne;
    uint32_t type;
    std::vector<uint8_t> bytes;
  };
  void Set(const std::string& key, GgufValueType type, std::string payload);
  uint64_t Alignment() const;

  std::vector<std::pair<std::string, std::string>> kv_;  // key -> type tag + payload
  std::vector<Tensor> tensors_;
};

}  // namespace tandem::model::formats

#endif  // TANDEM_MODEL_FORMATS_GGUF_WRITER_H_
