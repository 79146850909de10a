// libFuzzer target: a GGUF file through every reader tandem has for it —
// model/formats (GgufFile::Open, typed metadata access, dequantization of
// each tensor, GgufModelConfig, ReadGgufCheckpoint with every tensor
// filled) and tokenizer/ (ParseGgufMetadata, TokenizerFromGguf, then encode
// and decode). Errors are fine; crashes, UB and broken invariants are not.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "model/formats/gguf_checkpoint.h"
#include "model/formats/gguf_dequant.h"
#include "model/formats/gguf_file.h"
#include "model/formats/raw_checkpoint.h"
#include "tests/fuzz/fuzz_util.h"
#include "tests/fuzz/tokenizer_checks.h"
#include "tokenizer/gguf_tokenizer.h"
#include "tokenizer/gguf_vocab.h"

namespace tandem::fuzz {
namespace {

using model::formats::GgufFile;
using model::formats::GgufTensorInfo;

void CheckTensors(const GgufFile& g, size_t file_size, uint64_t& budget) {
  for (const GgufTensorInfo& info : g.tensors()) {
    FuzzCheck(g.FindTensor(info.name) == &info, "FindTensor misses a listed tensor");
    const int64_t numel = info.NumElements();
    FuzzCheck(numel >= 0, "negative element count");
    if (!info.known_type) continue;
    FuzzCheck(g.data_offset() + info.offset + info.nbytes <= file_size,
              absl::StrCat("tensor \"", info.name, "\" data past the end of the file"));
    if (info.nbytes > budget || static_cast<uint64_t>(numel) * 4 > budget) continue;
    budget -= info.nbytes;
    std::vector<float> out(static_cast<size_t>(numel));
    // Unimplemented for types tandem cannot dequantize; never a crash.
    (void)model::formats::DequantizeToFloat(info.type, g.TensorData(info), info.nbytes, numel,
                                            out.data());
  }
}

void CheckMetadata(const GgufFile& g) {
  for (const auto& [key, value] : g.metadata()) {
    FuzzCheck(g.Find(key) == &value, "Find misses a listed key");
    (void)g.GetInt(key);
    (void)g.GetFloat(key);
    (void)g.GetString(key);
    (void)g.GetArrayLength(key);
  }
}

void CheckCheckpoint(const std::string& path, uint64_t& budget) {
  absl::StatusOr<model::formats::RawCheckpoint> raw = model::formats::ReadGgufCheckpoint(path);
  if (!raw.ok()) {
    FuzzCheck(absl::StrContains(raw.status().message(), path),
              absl::StrCat("error does not name the file: ", raw.status().ToString()));
    return;
  }
  for (const auto& [name, tensor] : raw->tensors) {
    const int64_t numel = model::formats::CheckedNumElements(tensor.shape);
    FuzzCheck(numel >= 0, absl::StrCat("tensor \"", name, "\" has an invalid shape"));
    if (tensor.nbytes() > budget) continue;
    budget -= tensor.nbytes();
    absl::StatusOr<std::vector<uint8_t>> bytes = model::formats::Materialize(tensor);
    FuzzCheck(bytes.ok() || bytes.status().code() == absl::StatusCode::kUnimplemented,
              absl::StrCat("tensor \"", name, "\" accepted but cannot be filled: ",
                           bytes.status().ToString()));
  }
}

void CheckTokenizer(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<tokenizer::GgufMetadata> meta = tokenizer::ParseGgufMetadata(bytes, "fuzz.gguf");
  if (!meta.ok()) return;
  auto tok = tokenizer::TokenizerFromGguf(*meta, "fuzz.gguf");
  if (!tok.ok()) return;
  ExerciseTokenizer(**tok, bytes.substr(size > 32 ? size - 32 : 0));
}

}  // namespace

int FuzzGguf(const uint8_t* data, size_t size) {
  static ScratchFile scratch_file("model.gguf");
  ScratchFile* const scratch = &scratch_file;
  scratch->Write(data, size);
  uint64_t budget = kMaterializeBudget;
  absl::StatusOr<GgufFile> g = GgufFile::Open(scratch->path());
  if (!g.ok()) {
    FuzzCheck(absl::StrContains(g.status().message(), scratch->path()),
              absl::StrCat("error does not name the file: ", g.status().ToString()));
  } else {
    CheckMetadata(*g);
    CheckTensors(*g, size, budget);
    (void)model::formats::GgufModelConfig(*g);
    CheckCheckpoint(scratch->path(), budget);
  }
  CheckTokenizer(data, size);
  return 0;
}

}  // namespace tandem::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return tandem::fuzz::FuzzGguf(data, size);
}
