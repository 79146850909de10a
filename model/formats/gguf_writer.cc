#include "model/formats/gguf_writer.h"

#include <cstring>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "model/formats/gguf_quantize.h"

namespace tandem::model::formats {
namespace {

template <typename T>
void Append(std::string* out, T v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof(T));
}

void AppendString(std::string* out, const std::string& s) {
  Append<uint64_t>(out, s.size());
  out->append(s);
}

template <typename T>
std::string Pod(T v) {
  std::string s;
  Append(&s, v);
  return s;
}

template <typename T>
std::string PodArray(GgufValueType elem, const std::vector<T>& v) {
  std::string s;
  Append<uint32_t>(&s, static_cast<uint32_t>(elem));
  Append<uint64_t>(&s, v.size());
  for (const T& x : v) Append(&s, x);
  return s;
}

}  // namespace

void GgufWriter::Set(const std::string& key, GgufValueType type, std::string payload) {
  std::string encoded = Pod<uint32_t>(static_cast<uint32_t>(type)) + payload;
  for (auto& [k, v] : kv_) {
    if (k == key) {
      v = std::move(encoded);
      return;
    }
  }
  kv_.emplace_back(key, std::move(encoded));
}

void GgufWriter::SetUint32(const std::string& k, uint32_t v) { Set(k, GgufValueType::kUint32, Pod(v)); }
void GgufWriter::SetInt32(const std::string& k, int32_t v) { Set(k, GgufValueType::kInt32, Pod(v)); }
void GgufWriter::SetUint64(const std::string& k, uint64_t v) { Set(k, GgufValueType::kUint64, Pod(v)); }
void GgufWriter::SetFloat32(const std::string& k, float v) { Set(k, GgufValueType::kFloat32, Pod(v)); }
void GgufWriter::SetBool(const std::string& k, bool v) {
  Set(k, GgufValueType::kBool, Pod<uint8_t>(v ? 1 : 0));
}
void GgufWriter::SetString(const std::string& k, const std::string& v) {
  std::string s;
  AppendString(&s, v);
  Set(k, GgufValueType::kString, s);
}
void GgufWriter::SetStringArray(const std::string& k, const std::vector<std::string>& v) {
  std::string s;
  Append<uint32_t>(&s, static_cast<uint32_t>(GgufValueType::kString));
  Append<uint64_t>(&s, v.size());
  for (const std::string& x : v) AppendString(&s, x);
  Set(k, GgufValueType::kArray, s);
}
void GgufWriter::SetInt32Array(const std::string& k, const std::vector<int32_t>& v) {
  Set(k, GgufValueType::kArray, PodArray(GgufValueType::kInt32, v));
}
void GgufWriter::SetFloat32Array(const std::string& k, const std::vector<float>& v) {
  Set(k, GgufValueType::kArray, PodArray(GgufValueType::kFloat32, v));
}
void GgufWriter::SetRaw(const std::string& k, GgufValueType type, std::vector<uint8_t> payload) {
  Set(k, type, std::string(payload.begin(), payload.end()));
}

absl::Status GgufWriter::AddTensor(const std::string& name, const std::vector<int64_t>& shape,
                                   GgmlType type, const std::vector<float>& data) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  if (n != static_cast<int64_t>(data.size())) {
    return absl::InvalidArgumentError(absl::StrCat("tensor \"", name, "\": ", data.size(),
                                                   " values for ", n, " elements"));
  }
  absl::StatusOr<std::vector<uint8_t>> bytes = EncodeGgml(type, data.data(), n);
  if (!bytes.ok()) {
    return absl::Status(bytes.status().code(),
                        absl::StrCat("tensor \"", name, "\": ", bytes.status().message()));
  }
  if (!shape.empty() && shape.back() % FindGgmlType(static_cast<uint32_t>(type))->block_size != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor \"", name, "\": rows are not whole blocks"));
  }
  AddRawTensor(name, {shape.rbegin(), shape.rend()}, static_cast<uint32_t>(type), *std::move(bytes));
  return absl::OkStatus();
}

void GgufWriter::AddRawTensor(const std::string& name, std::vector<int64_t> ne, uint32_t type,
                              std::vector<uint8_t> bytes) {
  tensors_.push_back({name, std::move(ne), type, std::move(bytes)});
}

uint64_t GgufWriter::Alignment() const {
  for (const auto& [k, v] : kv_) {
    if (k == "general.alignment" && v.size() == 8) {
      uint32_t type, a;
      std::memcpy(&type, v.data(), 4);
      std::memcpy(&a, v.data() + 4, 4);
      if (type == static_cast<uint32_t>(GgufValueType::kUint32) && a != 0) return a;
    }
  }
  return 32;
}

std::string GgufWriter::Serialize() const {
  const uint64_t align = Alignment();
  std::string out = "GGUF";
  Append<uint32_t>(&out, 3);
  Append<uint64_t>(&out, tensors_.size());
  Append<uint64_t>(&out, kv_.size());
  for (const auto& [k, v] : kv_) {
    AppendString(&out, k);
    out += v;
  }
  uint64_t offset = 0;
  for (const Tensor& t : tensors_) {
    AppendString(&out, t.name);
    Append<uint32_t>(&out, static_cast<uint32_t>(t.ne.size()));
    for (int64_t d : t.ne) Append<int64_t>(&out, d);
    Append<uint32_t>(&out, t.type);
    Append<uint64_t>(&out, offset);
    offset += (t.bytes.size() + align - 1) / align * align;
  }
  out.resize((out.size() + align - 1) / align * align, '\0');
  for (const Tensor& t : tensors_) {
    out.append(t.bytes.begin(), t.bytes.end());
    out.resize((out.size() + align - 1) / align * align, '\0');
  }
  return out;
}

absl::Status GgufWriter::WriteFile(const std::string& path) const {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return absl::PermissionDeniedError(absl::StrCat("cannot create ", path));
  const std::string bytes = Serialize();
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  f.close();
  if (!f) return absl::DataLossError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

}  // namespace tandem::model::formats
