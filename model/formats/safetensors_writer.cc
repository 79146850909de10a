#include "model/formats/safetensors_writer.h"

#include <cstring>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "model/formats/half.h"
#include "model/formats/raw_checkpoint.h"
#include "nlohmann/json.hpp"

namespace tandem::model::formats {
namespace {

absl::Status WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return absl::PermissionDeniedError(absl::StrCat("cannot create ", path));
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  f.close();
  if (!f) return absl::DataLossError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

}  // namespace

std::vector<uint8_t> EncodeFloats(const std::vector<float>& values, DType dtype) {
  std::vector<uint8_t> out(values.size() * DTypeSize(dtype));
  if (dtype == DType::kF32) {
    if (!values.empty()) std::memcpy(out.data(), values.data(), out.size());
    return out;
  }
  for (size_t i = 0; i < values.size(); ++i) {
    const uint16_t h = dtype == DType::kF16 ? FloatToHalf(values[i]) : FloatToBf16(values[i]);
    std::memcpy(out.data() + 2 * i, &h, 2);
  }
  return out;
}

absl::Status WriteSafetensors(const std::string& path, const std::vector<SafetensorsEntry>& tensors,
                              const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const SafetensorsEntry& t : tensors) {
    const int64_t n = CheckedNumElements(t.shape);
    if (n < 0 || static_cast<uint64_t>(n) * DTypeSize(t.dtype) != t.data.size()) {
      return absl::InvalidArgumentError(absl::StrCat("tensor \"", t.name, "\": shape ",
                                                     ShapeToString(t.shape), " does not match ",
                                                     t.data.size(), " bytes"));
    }
    header[t.name] = {{"dtype", DTypeName(t.dtype)},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.data.size()}}};
    offset += t.data.size();
  }
  std::string json = header.dump();
  json.resize((json.size() + 7) / 8 * 8, ' ');
  std::string bytes;
  const uint64_t len = json.size();
  for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
  bytes += json;
  for (const SafetensorsEntry& t : tensors) bytes.append(t.data.begin(), t.data.end());
  return WriteBytes(path, bytes);
}

absl::Status WriteShardedSafetensors(const std::string& dir,
                                     const std::vector<SafetensorsEntry>& tensors, int num_shards) {
  if (num_shards < 1 || static_cast<size_t>(num_shards) > tensors.size()) {
    return absl::InvalidArgumentError(absl::StrCat("cannot split ", tensors.size(),
                                                   " tensors into ", num_shards, " shards"));
  }
  uint64_t total = 0;
  for (const SafetensorsEntry& t : tensors) total += t.data.size();
  nlohmann::ordered_json weight_map = nlohmann::ordered_json::object();
  size_t next = 0;
  uint64_t written = 0;
  for (int s = 0; s < num_shards; ++s) {
    const std::string file = absl::StrFormat("model-%05d-of-%05d.safetensors", s + 1, num_shards);
    std::vector<SafetensorsEntry> shard;
    const uint64_t target = total * static_cast<uint64_t>(s + 1) / static_cast<uint64_t>(num_shards);
    const size_t shards_left = static_cast<size_t>(num_shards - s - 1);
    // At least one tensor per shard, and leave one for each later shard.
    while (next < tensors.size() - shards_left &&
           (shard.empty() || written < target || s == num_shards - 1)) {
      written += tensors[next].data.size();
      weight_map[tensors[next].name] = file;
      shard.push_back(tensors[next++]);
    }
    absl::Status status = WriteSafetensors(dir + "/" + file, shard);
    if (!status.ok()) return status;
  }
  nlohmann::ordered_json index = {{"metadata", {{"total_size", total}}},
                                  {"weight_map", weight_map}};
  return WriteBytes(dir + "/model.safetensors.index.json", index.dump(2));
}

}  // namespace tandem::model::formats
