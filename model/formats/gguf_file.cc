#include "model/formats/gguf_file.h"

#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "model/formats/raw_checkpoint.h"

namespace tandem::model::formats {
namespace {

constexpr int kMaxArrayDepth = 4;
constexpr uint32_t kMaxDims = 4;
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 4 + 8;
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;

// Sequential little-endian reads that never pass the end of the buffer.
class Cursor {
 public:
  Cursor(const uint8_t* data, uint64_t size) : data_(data), size_(size) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return size_ - pos_; }
  const uint8_t* data() const { return data_ + pos_; }

  template <typename T>
  bool Read(T* out) {
    if (remaining() < sizeof(T)) return false;
    std::memcpy(out, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }

  bool ReadString(std::string* out) {
    uint64_t len = 0;
    if (!Read(&len) || len > remaining()) return false;
    out->assign(reinterpret_cast<const char*>(data_ + pos_), len);
    pos_ += len;
    return true;
  }

 private:
  const uint8_t* data_;
  uint64_t size_;
  uint64_t pos_ = 0;
};

// Smallest encoding of one value of `type`, to bound array counts before
// allocating.
uint64_t MinEncodedSize(GgufValueType type) {
  switch (type) {
    case GgufValueType::kUint8: case GgufValueType::kInt8: case GgufValueType::kBool: return 1;
    case GgufValueType::kUint16: case GgufValueType::kInt16: return 2;
    case GgufValueType::kUint32: case GgufValueType::kInt32: case GgufValueType::kFloat32: return 4;
    case GgufValueType::kString: return 8;
    case GgufValueType::kArray: return 12;
    default: return 8;
  }
}

bool ValidType(uint32_t t) { return t <= static_cast<uint32_t>(GgufValueType::kFloat64); }

class KvParser {
 public:
  KvParser(Cursor* c, std::string path) : c_(c), path_(std::move(path)) {}

  absl::Status Value(const std::string& key, GgufValueType type, int depth, GgufValue* out) {
    out->type = type;
    bool ok = true;
    switch (type) {
      case GgufValueType::kUint8: { uint8_t v = 0; ok = c_->Read(&v); out->u = v; break; }
      case GgufValueType::kInt8: { int8_t v = 0; ok = c_->Read(&v); out->i = v; break; }
      case GgufValueType::kUint16: { uint16_t v = 0; ok = c_->Read(&v); out->u = v; break; }
      case GgufValueType::kInt16: { int16_t v = 0; ok = c_->Read(&v); out->i = v; break; }
      case GgufValueType::kUint32: { uint32_t v = 0; ok = c_->Read(&v); out->u = v; break; }
      case GgufValueType::kInt32: { int32_t v = 0; ok = c_->Read(&v); out->i = v; break; }
      case GgufValueType::kUint64: { ok = c_->Read(&out->u); break; }
      case GgufValueType::kInt64: { ok = c_->Read(&out->i); break; }
      case GgufValueType::kFloat32: { float v = 0; ok = c_->Read(&v); out->f = v; break; }
      case GgufValueType::kFloat64: { ok = c_->Read(&out->f); break; }
      case GgufValueType::kBool: {
        uint8_t v = 0;
        ok = c_->Read(&v);
        if (ok && v > 1) return Error(key, absl::StrCat("bool value ", int{v}, " is not 0 or 1"));
        out->u = v;
        break;
      }
      case GgufValueType::kString: ok = c_->ReadString(&out->s); break;
      case GgufValueType::kArray: return Array(key, depth, out);
    }
    if (!ok) return Truncated(key);
    return absl::OkStatus();
  }

 private:
  absl::Status Array(const std::string& key, int depth, GgufValue* out) {
    if (depth >= kMaxArrayDepth) return Error(key, "arrays nested too deeply");
    uint32_t elem_type = 0;
    uint64_t n = 0;
    if (!c_->Read(&elem_type) || !c_->Read(&n)) return Truncated(key);
    if (!ValidType(elem_type)) {
      return Error(key, absl::StrCat("unknown array element type ", elem_type));
    }
    out->array_type = static_cast<GgufValueType>(elem_type);
    const uint64_t min_size = MinEncodedSize(out->array_type);
    if (n > c_->remaining() / min_size) {
      return absl::OutOfRangeError(absl::StrCat(
          path_, ": key \"", key, "\": array of ", n, " ", GgufValueTypeName(out->array_type),
          " needs at least ", n, " x ", min_size, " bytes, ", c_->remaining(), " left in the file"));
    }
    out->array.resize(n);
    for (uint64_t k = 0; k < n; ++k) {
      absl::Status s = Value(key, out->array_type, depth + 1, &out->array[k]);
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }

  absl::Status Truncated(const std::string& key) {
    return absl::OutOfRangeError(
        absl::StrCat(path_, ": truncated value of key \"", key, "\" at byte ", c_->pos()));
  }
  absl::Status Error(const std::string& key, const std::string& message) {
    return absl::InvalidArgumentError(absl::StrCat(path_, ": key \"", key, "\": ", message));
  }

  Cursor* c_;
  std::string path_;
};


absl::Status Truncated(const std::string& path, const std::string& what, uint64_t pos) {
  return absl::OutOfRangeError(absl::StrCat(path, ": file ends inside ", what, " (byte ", pos, ")"));
}

std::string Printable(const uint8_t* p, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += (p[i] >= 32 && p[i] < 127) ? std::string(1, static_cast<char>(p[i]))
                                      : absl::StrFormat("\\x%02x", p[i]);
  }
  return out;
}

}  // namespace

bool GgufValue::IsInteger() const {
  switch (type) {
    case GgufValueType::kUint8: case GgufValueType::kInt8: case GgufValueType::kUint16:
    case GgufValueType::kInt16: case GgufValueType::kUint32: case GgufValueType::kInt32:
    case GgufValueType::kUint64: case GgufValueType::kInt64: return true;
    default: return false;
  }
}

bool GgufValue::IsFloat() const {
  return type == GgufValueType::kFloat32 || type == GgufValueType::kFloat64;
}

int64_t GgufTensorInfo::NumElements() const {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;  // Open() proved this cannot overflow.
  return n;
}

const char* GgufValueTypeName(GgufValueType type) {
  static const char* const kNames[] = {"uint8", "int8", "uint16", "int16", "uint32",
                                       "int32", "float32", "bool", "string", "array",
                                       "uint64", "int64", "float64"};
  const auto i = static_cast<uint32_t>(type);
  return i < 13 ? kNames[i] : "unknown";
}

namespace {

absl::Status ReadHeader(Cursor* c, const std::string& path, uint32_t* version,
                        uint64_t* n_tensors, uint64_t* n_kv) {
  if (c->remaining() < 4 || std::memcmp(c->data(), "GGUF", 4) != 0) {
    const uint64_t n = c->remaining() < 4 ? c->remaining() : 4;
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": bad magic: expected \"GGUF\", found \"", Printable(c->data(), n), "\""));
  }
  uint32_t magic;
  c->Read(&magic);
  if (!c->Read(version)) return Truncated(path, "the version", c->pos());
  if (*version != 2 && *version != 3) {
    return absl::UnimplementedError(absl::StrCat(
        path, ": GGUF version ", *version, " not supported (expected 2 or 3",
        (*version & 0xffffu) == 0 ? "; big-endian file?" : "", ")"));
  }
  if (!c->Read(n_tensors) || !c->Read(n_kv)) return Truncated(path, "the header", c->pos());
  if (*n_tensors > c->remaining() / kMinTensorInfoBytes || *n_kv > c->remaining() / kMinKvBytes) {
    return absl::OutOfRangeError(absl::StrCat(path, ": ", *n_tensors, " tensors and ", *n_kv,
                                              " metadata keys cannot fit in the ", c->remaining(),
                                              " bytes left in the file"));
  }
  return absl::OkStatus();
}

absl::Status ReadTensorInfo(Cursor* c, const std::string& path, uint64_t index,
                            GgufTensorInfo* info) {
  uint32_t n_dims = 0;
  if (!c->ReadString(&info->name)) return Truncated(path, absl::StrCat("tensor info #", index), c->pos());
  const std::string where = absl::StrCat(path, ": tensor \"", info->name, "\"");
  if (!c->Read(&n_dims)) return Truncated(path, "tensor \"" + info->name + "\"", c->pos());
  if (n_dims == 0 || n_dims > kMaxDims) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": expected 1 to ", kMaxDims, " dims, found ", n_dims));
  }
  info->ne.resize(n_dims);
  for (int64_t& d : info->ne) {
    if (!c->Read(&d)) return Truncated(path, "tensor \"" + info->name + "\"", c->pos());
    if (d < 0) return absl::InvalidArgumentError(absl::StrCat(where, ": negative dim ", d));
  }
  if (!c->Read(&info->type) || !c->Read(&info->offset)) {
    return Truncated(path, "tensor \"" + info->name + "\"", c->pos());
  }
  const int64_t numel = CheckedNumElements(info->ne);
  if (numel < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": element count of ne ", ShapeToString(info->ne), " overflows"));
  }
  const GgmlTypeTraits* traits = FindGgmlType(info->type);
  info->known_type = traits != nullptr;
  if (traits == nullptr) return absl::OkStatus();  // Rejected when loaded.
  if (info->ne[0] % traits->block_size != 0) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": type ", traits->name, " needs ne[0] (",
                                                   info->ne[0], ") to be a multiple of ",
                                                   traits->block_size));
  }
  const uint64_t blocks = static_cast<uint64_t>(numel / traits->block_size);
  if (blocks > UINT64_MAX / static_cast<uint64_t>(traits->type_size)) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": byte size overflows"));
  }
  info->nbytes = blocks * static_cast<uint64_t>(traits->type_size);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<GgufFile> GgufFile::Open(const std::string& path) {
  absl::StatusOr<std::shared_ptr<const MappedFile>> mapped = MappedFile::Open(path);
  if (!mapped.ok()) return mapped.status();
  GgufFile g;
  g.file_ = *mapped;
  const MappedFile& f = *g.file_;
  Cursor c(f.data(), f.size());
  uint64_t n_tensors = 0, n_kv = 0;
  absl::Status s = ReadHeader(&c, path, &g.version_, &n_tensors, &n_kv);
  if (!s.ok()) return s;
  KvParser kv(&c, path);
  for (uint64_t k = 0; k < n_kv; ++k) {
    std::string key;
    uint32_t type = 0;
    if (!c.ReadString(&key)) return Truncated(path, absl::StrCat("metadata key #", k), c.pos());
    if (!c.Read(&type)) return Truncated(path, "the type of key \"" + key + "\"", c.pos());
    if (!ValidType(type)) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": key \"", key, "\": unknown value type ", type));
    }
    if (g.metadata_.count(key) > 0) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": duplicate metadata key \"", key, "\""));
    }
    GgufValue value;
    s = kv.Value(key, static_cast<GgufValueType>(type), 0, &value);
    if (!s.ok()) return s;
    g.metadata_.emplace(key, std::move(value));
  }
  if (const GgufValue* a = g.Find("general.alignment"); a != nullptr) {
    if (a->type != GgufValueType::kUint32 || a->u == 0 || (a->u & (a->u - 1)) != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": general.alignment must be a power-of-two uint32, found ",
          GgufValueTypeName(a->type), " ", a->u));
    }
    g.alignment_ = a->u;
  }
  g.tensors_.resize(n_tensors);
  for (uint64_t t = 0; t < n_tensors; ++t) {
    s = ReadTensorInfo(&c, path, t, &g.tensors_[t]);
    if (!s.ok()) return s;
    if (!g.tensor_index_.emplace(g.tensors_[t].name, t).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": duplicate tensor \"", g.tensors_[t].name, "\""));
    }
  }
  g.data_offset_ = (c.pos() + g.alignment_ - 1) / g.alignment_ * g.alignment_;
  for (const GgufTensorInfo& info : g.tensors_) {
    if (info.offset % g.alignment_ != 0) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": tensor \"", info.name, "\": offset ",
                                                     info.offset, " is not a multiple of the alignment ",
                                                     g.alignment_));
    }
    if (info.known_type && (info.offset > UINT64_MAX - g.data_offset_ ||
                            !f.Contains(g.data_offset_ + info.offset, info.nbytes))) {
      return absl::OutOfRangeError(absl::StrCat(
          path, ": tensor \"", info.name, "\": data [", g.data_offset_, " + ", info.offset, ", +",
          info.nbytes, " bytes) past the end of the file (", f.size(), " bytes)"));
    }
  }
  return g;
}

const GgufValue* GgufFile::Find(const std::string& key) const {
  auto it = metadata_.find(key);
  return it == metadata_.end() ? nullptr : &it->second;
}

const GgufTensorInfo* GgufFile::FindTensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

absl::StatusOr<int64_t> GgufFile::GetInt(const std::string& key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return absl::NotFoundError(absl::StrCat(path(), ": missing key \"", key, "\""));
  if (!v->IsInteger()) {
    return absl::InvalidArgumentError(absl::StrCat(path(), ": key \"", key,
                                                   "\": expected an integer, found ",
                                                   GgufValueTypeName(v->type)));
  }
  const bool is_signed = v->type == GgufValueType::kInt8 || v->type == GgufValueType::kInt16 ||
                         v->type == GgufValueType::kInt32 || v->type == GgufValueType::kInt64;
  if (!is_signed && v->u > static_cast<uint64_t>(INT64_MAX)) {
    return absl::InvalidArgumentError(absl::StrCat(path(), ": key \"", key, "\": ", v->u, " too large"));
  }
  return is_signed ? v->i : static_cast<int64_t>(v->u);
}

absl::StatusOr<double> GgufFile::GetFloat(const std::string& key) const {
  const GgufValue* v = Find(key);
  if (v != nullptr && v->IsFloat()) return v->f;
  absl::StatusOr<int64_t> i = GetInt(key);
  if (!i.ok()) return i.status();
  return static_cast<double>(*i);
}

absl::StatusOr<std::string> GgufFile::GetString(const std::string& key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return absl::NotFoundError(absl::StrCat(path(), ": missing key \"", key, "\""));
  if (v->type != GgufValueType::kString) {
    return absl::InvalidArgumentError(absl::StrCat(path(), ": key \"", key,
                                                   "\": expected a string, found ",
                                                   GgufValueTypeName(v->type)));
  }
  return v->s;
}

absl::StatusOr<size_t> GgufFile::GetArrayLength(const std::string& key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return absl::NotFoundError(absl::StrCat(path(), ": missing key \"", key, "\""));
  if (v->type != GgufValueType::kArray) {
    return absl::InvalidArgumentError(absl::StrCat(path(), ": key \"", key,
                                                   "\": expected an array, found ",
                                                   GgufValueTypeName(v->type)));
  }
  return v->array.size();
}

}  // namespace tandem::model::formats
