#include "tokenizer/gguf_vocab.h"

#include <cstring>
#include <fstream>
#include <iterator>

#include "absl/strings/str_cat.h"

namespace tandem::tokenizer {
namespace {

constexpr uint64_t kMaxArrayDepth = 2;

class Reader {
 public:
  Reader(absl::string_view bytes, absl::string_view source)
      : bytes_(bytes), source_(source) {}

  size_t offset() const { return pos_; }
  size_t remaining() const { return bytes_.size() - pos_; }

  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat(source_, ": ", what, " (at byte offset ", pos_, ")"));
  }

  template <typename T>
  absl::StatusOr<T> Read(absl::string_view what) {
    if (remaining() < sizeof(T)) {
      return Error(absl::StrCat("file ends inside ", what));
    }
    T value;
    std::memcpy(&value, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return value;
  }

  absl::StatusOr<std::string> ReadString(absl::string_view what) {
    auto len = Read<uint64_t>(what);
    if (!len.ok()) return len.status();
    if (*len > remaining()) {
      return Error(absl::StrCat(what, ": string length ", *len, " exceeds the ",
                                remaining(), " bytes left"));
    }
    std::string s(bytes_.data() + pos_, *len);
    pos_ += *len;
    return s;
  }

 private:
  absl::string_view bytes_;
  absl::string_view source_;
  size_t pos_ = 0;
};

size_t ScalarSize(GgufType t) {
  switch (t) {
    case GgufType::kUint8: case GgufType::kInt8: case GgufType::kBool: return 1;
    case GgufType::kUint16: case GgufType::kInt16: return 2;
    case GgufType::kUint32: case GgufType::kInt32: case GgufType::kFloat32: return 4;
    case GgufType::kUint64: case GgufType::kInt64: case GgufType::kFloat64: return 8;
    default: return 0;
  }
}

absl::StatusOr<double> ReadNumber(Reader& r, GgufType t, absl::string_view what) {
  auto as = [&](auto tag) -> absl::StatusOr<double> {
    auto v = r.Read<decltype(tag)>(what);
    if (!v.ok()) return v.status();
    return static_cast<double>(*v);
  };
  switch (t) {
    case GgufType::kUint8: return as(uint8_t{});
    case GgufType::kInt8: return as(int8_t{});
    case GgufType::kBool: return as(uint8_t{});
    case GgufType::kUint16: return as(uint16_t{});
    case GgufType::kInt16: return as(int16_t{});
    case GgufType::kUint32: return as(uint32_t{});
    case GgufType::kInt32: return as(int32_t{});
    case GgufType::kFloat32: return as(float{});
    case GgufType::kUint64: return as(uint64_t{});
    case GgufType::kInt64: return as(int64_t{});
    case GgufType::kFloat64: return as(double{});
    default: return r.Error(absl::StrCat(what, ": not a numeric type"));
  }
}

absl::Status ReadValue(Reader& r, GgufType type, const std::string& key,
                       int depth, GgufValue& out);

absl::Status ReadArray(Reader& r, const std::string& key, int depth, GgufValue& out) {
  auto elem = r.Read<uint32_t>(key + " array type");
  if (!elem.ok()) return elem.status();
  if (*elem > static_cast<uint32_t>(GgufType::kFloat64)) {
    return r.Error(absl::StrCat(key, ": unknown array element type ", *elem));
  }
  auto count = r.Read<uint64_t>(key + " array length");
  if (!count.ok()) return count.status();
  const GgufType et = static_cast<GgufType>(*elem);
  // Every element takes at least one byte (strings: 8), so a count larger
  // than the bytes left is malformed; checked before reserving memory.
  const size_t min_size = et == GgufType::kString ? 8 : (ScalarSize(et) ? ScalarSize(et) : 12);
  if (*count > r.remaining() / min_size) {
    return r.Error(absl::StrCat(key, ": array of ", *count, " elements exceeds the ",
                                r.remaining(), " bytes left"));
  }
  out.array_type = et;
  if (et == GgufType::kString) {
    out.strings.reserve(*count);
    for (uint64_t i = 0; i < *count; ++i) {
      auto s = r.ReadString(absl::StrCat(key, "[", i, "]"));
      if (!s.ok()) return s.status();
      out.strings.push_back(std::move(*s));
    }
  } else if (et == GgufType::kArray) {
    if (depth >= static_cast<int>(kMaxArrayDepth)) return r.Error(key + ": arrays nested too deep");
    for (uint64_t i = 0; i < *count; ++i) {
      GgufValue skipped;
      if (auto s = ReadValue(r, et, key, depth + 1, skipped); !s.ok()) return s;
    }
  } else {
    out.numbers.reserve(*count);
    for (uint64_t i = 0; i < *count; ++i) {
      auto v = ReadNumber(r, et, key);
      if (!v.ok()) return v.status();
      out.numbers.push_back(*v);
    }
  }
  return absl::OkStatus();
}

absl::Status ReadValue(Reader& r, GgufType type, const std::string& key, int depth,
                       GgufValue& out) {
  out.type = type;
  if (type == GgufType::kString) {
    auto s = r.ReadString(key);
    if (!s.ok()) return s.status();
    out.text = std::move(*s);
    return absl::OkStatus();
  }
  if (type == GgufType::kArray) return ReadArray(r, key, depth, out);
  auto v = ReadNumber(r, type, key);
  if (!v.ok()) return v.status();
  out.number = *v;
  return absl::OkStatus();
}

}  // namespace

const GgufValue* GgufMetadata::Find(absl::string_view key) const {
  auto it = values.find(std::string(key));
  return it == values.end() ? nullptr : &it->second;
}

absl::StatusOr<GgufMetadata> ParseGgufMetadata(absl::string_view bytes,
                                               absl::string_view source) {
  Reader r(bytes, source);
  if (bytes.size() < 4 || bytes.substr(0, 4) != "GGUF") {
    return r.Error("not a GGUF file (magic is not \"GGUF\")");
  }
  auto magic = r.Read<uint32_t>("magic");
  if (!magic.ok()) return magic.status();
  GgufMetadata meta;
  auto version = r.Read<uint32_t>("version");
  if (!version.ok()) return version.status();
  if (*version != 2 && *version != 3) {
    return r.Error(absl::StrCat("unsupported GGUF version ", *version, " (expected 2 or 3)"));
  }
  meta.version = *version;
  auto tensors = r.Read<uint64_t>("tensor count");
  auto kvs = r.Read<uint64_t>("metadata count");
  if (!tensors.ok()) return tensors.status();
  if (!kvs.ok()) return kvs.status();
  meta.tensor_count = *tensors;
  if (*kvs > r.remaining() / 12) {
    return r.Error(absl::StrCat("metadata count ", *kvs, " exceeds the file size"));
  }
  for (uint64_t i = 0; i < *kvs; ++i) {
    auto key = r.ReadString(absl::StrCat("key of metadata entry #", i));
    if (!key.ok()) return key.status();
    auto type = r.Read<uint32_t>(*key + " value type");
    if (!type.ok()) return type.status();
    if (*type > static_cast<uint32_t>(GgufType::kFloat64)) {
      return r.Error(absl::StrCat(*key, ": unknown value type ", *type));
    }
    GgufValue value;
    if (auto s = ReadValue(r, static_cast<GgufType>(*type), *key, 0, value); !s.ok()) return s;
    meta.values[*key] = std::move(value);
  }
  return meta;
}

absl::StatusOr<GgufMetadata> ReadGgufMetadata(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot be read"));
  // The metadata precedes the tensor data; read in growing chunks until it
  // parses, so multi-gigabyte model files are not read whole.
  std::string bytes;
  size_t want = size_t{1} << 20;
  while (true) {
    const size_t old = bytes.size();
    bytes.resize(want);
    in.read(bytes.data() + old, static_cast<std::streamsize>(want - old));
    bytes.resize(old + static_cast<size_t>(in.gcount()));
    auto meta = ParseGgufMetadata(bytes, path);
    if (meta.ok() || !in) return meta;
    want *= 4;
  }
}

}  // namespace tandem::tokenizer
