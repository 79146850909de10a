#include "tokenizer/load_tokenizer.h"

#include <sys/stat.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tokenizer/gguf_tokenizer.h"
#include "tokenizer/hf_tokenizer_json.h"
#include "tokenizer/sentencepiece_model_file.h"
#include "tokenizer/sentencepiece_proto.h"
#include "tokenizer/unigram_tokenizer.h"

namespace tandem::tokenizer {
namespace {

bool IsFile(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool IsDir(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

template <typename T>
absl::StatusOr<std::unique_ptr<Tokenizer>> Upcast(absl::StatusOr<std::unique_ptr<T>> t) {
  if (!t.ok()) return t.status();
  return std::unique_ptr<Tokenizer>(std::move(*t));
}

// SentencePiece models go through our own .model reader (see
// sentencepiece_model_file.h for why not libsentencepiece): unigram models
// to UnigramTokenizer, BPE models to the SentencePiece-BPE path of the GGUF
// vocabulary.
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadSentencePieceModel(const std::string& path) {
  absl::StatusOr<std::string> bytes = ReadFileBytes(path);
  if (!bytes.ok()) return bytes.status();
  absl::StatusOr<SpmModelProto> proto = ParseSpmModelProto(*bytes, path);
  if (!proto.ok()) return proto.status();
  if (proto->model_type == 1) return Upcast(UnigramTokenizer::FromProto(std::move(*proto), path));
  absl::StatusOr<GgufMetadata> meta = SentencePieceBpeToGguf(*proto, path);
  if (!meta.ok()) return meta.status();
  return Upcast(TokenizerFromGguf(*meta, path));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::string& path) {
  if (IsDir(path)) {
    if (IsFile(path + "/tokenizer.json")) return Upcast(LoadHfTokenizerJson(path + "/tokenizer.json"));
    if (IsFile(path + "/tokenizer.model")) {
      return LoadSentencePieceModel(path + "/tokenizer.model");
    }
    return absl::NotFoundError(
        absl::StrCat(path, ": directory has neither tokenizer.json nor tokenizer.model"));
  }
  if (!IsFile(path)) return absl::NotFoundError(absl::StrCat(path, ": no such file or directory"));
  if (absl::EndsWith(path, ".gguf")) return Upcast(LoadGgufTokenizer(path));
  if (absl::EndsWith(path, ".json")) return Upcast(LoadHfTokenizerJson(path));
  if (absl::EndsWith(path, ".model")) return LoadSentencePieceModel(path);
  return absl::NotFoundError(absl::StrCat(
      path, ": not a tokenizer (expected .gguf, tokenizer.json, .model or a directory)"));
}

}  // namespace tandem::tokenizer
