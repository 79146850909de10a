#include "tools/convert/hf_to_gguf.h"

#include <sys/stat.h>

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "model/formats/gguf_export.h"
#include "model/formats/gguf_names.h"
#include "model/formats/gguf_writer.h"
#include "model/formats/hf_checkpoint.h"
#include "tokenizer/gguf_vocab.h"
#include "tokenizer/sentencepiece_model_file.h"
#include "tools/convert/tokenizer_json_vocab.h"

namespace tandem::tools {
namespace {

using model::formats::GgmlType;
using tokenizer::GgufMetadata;
using tokenizer::GgufType;
using tokenizer::GgufValue;

bool IsFile(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

constexpr int32_t kTokenUnused = 5;

int64_t FirstOr(const std::vector<int64_t>& ids) { return ids.empty() ? -1 : ids[0]; }

// The tokenizer of `dir` as tokenizer.ggml.* metadata.
absl::StatusOr<GgufMetadata> ReadTokenizerMetadata(const std::string& dir,
                                                   const model::ModelConfig& config) {
  const std::string spm = dir + "/tokenizer.model";
  if (IsFile(spm)) return tokenizer::ReadSentencePieceModel(spm);
  if (IsFile(dir + "/tokenizer.json")) {
    return ReadTokenizerJsonAsGguf(dir + "/tokenizer.json", FirstOr(config.bos_token_ids),
                                   FirstOr(config.eos_token_ids));
  }
  return absl::NotFoundError(
      absl::StrCat(dir, ": no tokenizer.model or tokenizer.json to embed"));
}

// Pads tokens/scores/token_type with "[PAD<i>]" unused tokens up to `n`.
absl::Status PadVocab(GgufMetadata& meta, int64_t n, const std::string& dir) {
  GgufValue& tokens = meta.values["tokenizer.ggml.tokens"];
  const int64_t have = static_cast<int64_t>(tokens.strings.size());
  if (have > n) {
    return absl::InvalidArgumentError(absl::StrCat(
        dir, ": the tokenizer has ", have, " tokens but config.json vocab_size is ", n));
  }
  for (int64_t i = have; i < n; ++i) {
    tokens.strings.push_back(absl::StrCat("[PAD", i, "]"));
    for (const char* key : {"tokenizer.ggml.scores", "tokenizer.ggml.token_type"}) {
      auto it = meta.values.find(key);
      if (it == meta.values.end()) continue;
      it->second.numbers.push_back(absl::EndsWith(key, "type") ? kTokenUnused : -1000.0);
    }
  }
  return absl::OkStatus();
}

void WriteMetadata(const GgufMetadata& meta, model::formats::GgufWriter& w) {
  for (const auto& [key, v] : meta.values) {
    if (v.type == GgufType::kString) {
      w.SetString(key, v.text);
    } else if (v.type == GgufType::kBool) {
      w.SetBool(key, v.number != 0);
    } else if (v.type == GgufType::kArray && v.array_type == GgufType::kString) {
      w.SetStringArray(key, v.strings);
    } else if (v.type == GgufType::kArray && v.array_type == GgufType::kFloat32) {
      w.SetFloat32Array(key, std::vector<float>(v.numbers.begin(), v.numbers.end()));
    } else if (v.type == GgufType::kArray) {
      w.SetInt32Array(key, std::vector<int32_t>(v.numbers.begin(), v.numbers.end()));
    } else if (absl::EndsWith(key, "_token_id")) {
      w.SetUint32(key, static_cast<uint32_t>(v.number));  // llama.cpp requires uint32
    } else {
      w.SetInt32(key, static_cast<int32_t>(v.number));
    }
  }
}

GgmlType StoredType(GgmlType requested, const std::vector<int64_t>& shape) {
  if (shape.size() < 2) return GgmlType::kF32;
  if (requested == GgmlType::kQ8_0 && shape.back() % 32 != 0) return GgmlType::kF16;
  return requested;
}

}  // namespace

absl::Status ConvertHfToGguf(const ConvertOptions& options) {
  const std::string& dir = options.input_dir;
  if (options.type != GgmlType::kF32 && options.type != GgmlType::kF16 &&
      options.type != GgmlType::kBF16 && options.type != GgmlType::kQ8_0) {
    return absl::InvalidArgumentError("output type must be f32, f16, bf16 or q8_0");
  }
  absl::StatusOr<model::formats::RawCheckpoint> raw = model::formats::ReadHfCheckpoint(dir);
  if (!raw.ok()) return raw.status();
  const model::ModelConfig& config = raw->config;
  if (config.rope_scaling.enabled) {
    return absl::UnimplementedError(absl::StrCat(
        dir, ": llama3-style rope_scaling is not converted yet (llama.cpp stores it as a "
             "rope_freqs.weight tensor)"));
  }
  model::formats::GgufWriter w;
  if (absl::Status s = model::formats::SetGgufHyperParameters(config, w); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat(dir, ": ", s.message()));
  }
  absl::StatusOr<GgufMetadata> vocab = ReadTokenizerMetadata(dir, config);
  if (!vocab.ok()) return vocab.status();
  if (absl::Status s = PadVocab(*vocab, config.vocab_size, dir); !s.ok()) return s;
  WriteMetadata(*vocab, w);
  for (const auto& [name, tensor] : raw->tensors) {
    absl::StatusOr<model::formats::GgufTensorMapping> mapping =
        model::formats::MapHfNameToGguf(config, name);
    if (!mapping.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(dir, ": tensor ", name, " has no GGUF name: ", mapping.status().message()));
    }
    absl::StatusOr<std::vector<float>> values = model::formats::MaterializeAsFloat(tensor);
    if (!values.ok()) {
      return absl::Status(values.status().code(),
                          absl::StrCat(dir, ": tensor ", name, ": ", values.status().message()));
    }
    std::vector<int64_t> shape = tensor.shape;
    std::vector<float> gguf =
        model::formats::ToGgufLayout(config, std::move(*values), mapping->transform, shape);
    absl::Status s =
        w.AddTensor(mapping->gguf_name, shape, StoredType(options.type, shape), gguf);
    if (!s.ok()) {
      return absl::Status(s.code(), absl::StrCat(dir, ": tensor ", name, ": ", s.message()));
    }
  }
  return w.WriteFile(options.output_path);
}

}  // namespace tandem::tools
