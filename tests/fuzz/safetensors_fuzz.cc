// libFuzzer target: a .safetensors file (SafetensorsFile::Open, every
// tensor materialized, ReadSafetensorsDir over the same file). Invalid files
// must give an error naming the file; valid ones must keep the reader's
// documented invariants.
#include <cstddef>
#include <cstdint>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "model/formats/raw_checkpoint.h"
#include "model/formats/safetensors_reader.h"
#include "tests/fuzz/fuzz_util.h"

namespace tandem::fuzz {
namespace {

using model::formats::DTypeSize;
using model::formats::RawTensor;
using model::formats::SafetensorsFile;
using model::formats::SafetensorsTensorInfo;

void CheckTensor(const SafetensorsFile& file, const SafetensorsTensorInfo& info, size_t size,
                 uint64_t& budget) {
  FuzzCheck(info.begin <= info.end && info.end <= size, "tensor range outside the file");
  FuzzCheck(file.Find(info.name) != nullptr, "Find misses a listed tensor");
  const RawTensor raw = file.ToRawTensor(info);
  const int64_t numel = model::formats::CheckedNumElements(raw.shape);
  FuzzCheck(numel >= 0 && static_cast<uint64_t>(numel) * DTypeSize(raw.dtype) ==
                              info.end - info.begin,
            "tensor byte length differs from shape x dtype");
  if (info.end - info.begin > budget) return;
  budget -= info.end - info.begin;
  absl::StatusOr<std::vector<float>> values = model::formats::MaterializeAsFloat(raw);
  FuzzCheck(values.ok() && values->size() == static_cast<size_t>(numel),
            "a tensor Open() accepted cannot be materialized");
}

}  // namespace

int FuzzSafetensors(const uint8_t* data, size_t size) {
  static ScratchFile scratch_file("model.safetensors");
  ScratchFile* const scratch = &scratch_file;
  scratch->Write(data, size);
  absl::StatusOr<SafetensorsFile> file = SafetensorsFile::Open(scratch->path());
  if (!file.ok()) {
    FuzzCheck(absl::StrContains(file.status().message(), scratch->path()),
              absl::StrCat("error does not name the file: ", file.status().ToString()));
  } else {
    uint64_t budget = kMaterializeBudget;
    for (const SafetensorsTensorInfo& info : file->tensors()) {
      CheckTensor(*file, info, size, budget);
    }
  }
  auto dir = model::formats::ReadSafetensorsDir(scratch->dir());
  FuzzCheck(dir.ok() == file.ok(), "ReadSafetensorsDir and SafetensorsFile::Open disagree");
  return 0;
}

}  // namespace tandem::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return tandem::fuzz::FuzzSafetensors(data, size);
}
