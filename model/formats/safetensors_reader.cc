#include "model/formats/safetensors_reader.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "model/formats/json_util.h"
#include "nlohmann/json.hpp"

namespace tandem::model::formats {
namespace {

using nlohmann::json;

// Hugging Face's safetensors rejects headers above 100 MB as well.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

absl::StatusOr<DType> ParseDType(const std::string& s) {
  if (s == "F32") return DType::kF32;
  if (s == "F16") return DType::kF16;
  if (s == "BF16") return DType::kBF16;
  return absl::UnimplementedError(
      absl::StrCat("unsupported dtype \"", s, "\" (expected F32, F16 or BF16)"));
}

absl::StatusOr<SafetensorsTensorInfo> ParseEntry(const std::string& name, const json& entry,
                                                 uint64_t data_start, uint64_t data_size) {
  if (!entry.is_object()) return absl::InvalidArgumentError("entry is not a JSON object");
  const auto dtype_it = entry.find("dtype");
  const auto shape_it = entry.find("shape");
  const auto offsets_it = entry.find("data_offsets");
  if (dtype_it == entry.end() || !dtype_it->is_string()) {
    return absl::InvalidArgumentError("missing or non-string \"dtype\"");
  }
  if (shape_it == entry.end() || !shape_it->is_array()) {
    return absl::InvalidArgumentError("missing or non-array \"shape\"");
  }
  if (offsets_it == entry.end() || !offsets_it->is_array() || offsets_it->size() != 2) {
    return absl::InvalidArgumentError("\"data_offsets\" must be an array [begin, end]");
  }
  SafetensorsTensorInfo info;
  info.name = name;
  absl::StatusOr<DType> dtype = ParseDType(dtype_it->get<std::string>());
  if (!dtype.ok()) return dtype.status();
  info.dtype = *dtype;
  for (const json& dim : *shape_it) {
    absl::StatusOr<int64_t> d = JsonNonNegativeInt(dim);
    if (!d.ok()) return absl::InvalidArgumentError(absl::StrCat("shape: ", d.status().message()));
    info.shape.push_back(*d);
  }
  absl::StatusOr<int64_t> begin = JsonNonNegativeInt((*offsets_it)[0]);
  absl::StatusOr<int64_t> end = JsonNonNegativeInt((*offsets_it)[1]);
  if (!begin.ok() || !end.ok()) {
    return absl::InvalidArgumentError("data_offsets must be non-negative integers");
  }
  if (*end < *begin) {
    return absl::InvalidArgumentError(
        absl::StrCat("data_offsets [", *begin, ", ", *end, "]: end before begin"));
  }
  if (static_cast<uint64_t>(*end) > data_size) {
    return absl::OutOfRangeError(absl::StrCat("data_offsets [", *begin, ", ", *end,
                                              "] past the end of the data section (",
                                              data_size, " bytes)"));
  }
  const int64_t numel = CheckedNumElements(info.shape);
  const uint64_t length = static_cast<uint64_t>(*end - *begin);
  if (numel < 0 || static_cast<uint64_t>(numel) * DTypeSize(info.dtype) != length) {
    return absl::InvalidArgumentError(absl::StrCat(
        "shape ", ShapeToString(info.shape), " x ", DTypeName(info.dtype), " needs ",
        numel < 0 ? std::string("an overflowing number of")
                  : absl::StrCat(static_cast<uint64_t>(numel) * DTypeSize(info.dtype)),
        " bytes, data_offsets [", *begin, ", ", *end, "] hold ", length));
  }
  info.begin = data_start + static_cast<uint64_t>(*begin);
  info.end = data_start + static_cast<uint64_t>(*end);
  return info;
}

absl::Status CheckNoOverlap(std::vector<SafetensorsTensorInfo> sorted, const std::string& path) {
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < sorted.size(); ++i) {
    if (sorted[i].begin < sorted[i - 1].end) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": tensors \"", sorted[i - 1].name, "\" and \"", sorted[i].name,
          "\" overlap (byte ", sorted[i].begin, " < ", sorted[i - 1].end, ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SafetensorsFile> SafetensorsFile::Open(const std::string& path) {
  absl::StatusOr<std::shared_ptr<const MappedFile>> file = MappedFile::Open(path);
  if (!file.ok()) return file.status();
  SafetensorsFile result;
  result.file_ = *file;
  const MappedFile& f = **file;
  if (f.size() < 8) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", f.size(), " bytes, too short for the 8-byte header length"));
  }
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | f.data()[i];
  if (header_len > kMaxHeaderBytes || !f.Contains(8, header_len)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": header length ", header_len,
                                                   " past the end of the file (", f.size(),
                                                   " bytes) or above ", kMaxHeaderBytes));
  }
  const char* begin = reinterpret_cast<const char*>(f.data() + 8);
  json header = json::parse(begin, begin + header_len, nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": header is not a valid JSON object (", header_len, " bytes)"));
  }
  const uint64_t data_start = 8 + header_len;
  const uint64_t data_size = f.size() - data_start;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) {
        return absl::InvalidArgumentError(absl::StrCat(path, ": __metadata__ is not an object"));
      }
      for (const auto& [key, value] : entry.items()) {
        if (value.is_string()) result.metadata_[key] = value.get<std::string>();
      }
      continue;
    }
    absl::StatusOr<SafetensorsTensorInfo> info = ParseEntry(name, entry, data_start, data_size);
    if (!info.ok()) {
      return absl::Status(info.status().code(), absl::StrCat(path, ": tensor \"", name, "\": ",
                                                             info.status().message()));
    }
    result.tensors_.push_back(*std::move(info));
  }
  absl::Status overlap = CheckNoOverlap(result.tensors_, path);
  if (!overlap.ok()) return overlap;
  return result;
}

const SafetensorsTensorInfo* SafetensorsFile::Find(const std::string& name) const {
  for (const SafetensorsTensorInfo& info : tensors_) {
    if (info.name == name) return &info;
  }
  return nullptr;
}

RawTensor SafetensorsFile::ToRawTensor(const SafetensorsTensorInfo& info) const {
  RawTensor raw;
  raw.dtype = info.dtype;
  raw.shape = info.shape;
  std::shared_ptr<const MappedFile> file = file_;
  const uint64_t begin = info.begin;
  const uint64_t length = info.end - info.begin;
  raw.fill = [file, begin, length](uint8_t* dst) {
    // Open() proved the range is inside the file; the mapping is immutable.
    if (length > 0) std::memcpy(dst, file->data() + begin, length);
    return absl::OkStatus();
  };
  return raw;
}

}  // namespace tandem::model::formats
