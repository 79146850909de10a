// ReadSafetensorsDir (declared in safetensors_reader.h): single file or shards.
#include <sys/stat.h>

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "model/formats/json_util.h"
#include "model/formats/safetensors_reader.h"

namespace tandem::model::formats {
namespace {

bool IsFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

absl::Status AddFile(const SafetensorsFile& file, std::map<std::string, RawTensor>* out) {
  for (const SafetensorsTensorInfo& info : file.tensors()) {
    if (out->count(info.name) > 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(file.path(), ": tensor \"", info.name, "\" also present in another shard"));
    }
    (*out)[info.name] = file.ToRawTensor(info);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::map<std::string, RawTensor>> ReadSharded(const std::string& dir,
                                                            const std::string& index_path) {
  absl::StatusOr<std::string> text = ReadSmallFile(index_path);
  if (!text.ok()) return text.status();
  absl::StatusOr<nlohmann::json> index = ParseJsonObject(*text, index_path);
  if (!index.ok()) return index.status();
  const auto map_it = index->find("weight_map");
  if (map_it == index->end() || !map_it->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(index_path, ": missing \"weight_map\" object"));
  }
  std::map<std::string, std::string> weight_map;  // tensor -> shard file name
  for (const auto& [name, shard] : map_it->items()) {
    if (!shard.is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat(index_path, ": weight_map[\"", name, "\"] is not a string"));
    }
    const std::string file = shard.get<std::string>();
    if (file.empty() || file.find('/') != std::string::npos || file == "." || file == "..") {
      return absl::InvalidArgumentError(absl::StrCat(
          index_path, ": weight_map[\"", name, "\"] = \"", file, "\" is not a plain file name"));
    }
    weight_map[name] = file;
  }
  std::map<std::string, SafetensorsFile> shards;
  for (const auto& [name, file] : weight_map) {
    if (shards.count(file) > 0) continue;
    absl::StatusOr<SafetensorsFile> shard = SafetensorsFile::Open(dir + "/" + file);
    if (!shard.ok()) return shard.status();
    shards.emplace(file, *std::move(shard));
  }
  std::map<std::string, RawTensor> out;
  for (const auto& [file, shard] : shards) {
    absl::Status status = AddFile(shard, &out);
    if (!status.ok()) return status;
  }
  for (const auto& [name, file] : weight_map) {
    if (shards.at(file).Find(name) == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(index_path, ": tensor \"", name,
                                                     "\" mapped to ", file, " but not found there"));
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<std::map<std::string, RawTensor>> ReadSafetensorsDir(const std::string& dir) {
  const std::string index_path = dir + "/model.safetensors.index.json";
  if (IsFile(index_path)) return ReadSharded(dir, index_path);
  const std::string single = dir + "/model.safetensors";
  if (!IsFile(single)) {
    return absl::NotFoundError(absl::StrCat(dir, ": neither model.safetensors nor "
                                                 "model.safetensors.index.json found"));
  }
  absl::StatusOr<SafetensorsFile> file = SafetensorsFile::Open(single);
  if (!file.ok()) return file.status();
  std::map<std::string, RawTensor> out;
  absl::Status status = AddFile(*file, &out);
  if (!status.ok()) return status;
  return out;
}

}  // namespace tandem::model::formats
