#include "tokenizer/sentencepiece_model_file.h"

#include "absl/strings/str_cat.h"

namespace tandem::tokenizer {
namespace {

GgufValue Number(double x) {
  GgufValue v;
  v.type = GgufType::kInt32;
  v.number = x;
  return v;
}

}  // namespace

absl::StatusOr<GgufMetadata> ParseSentencePieceModel(absl::string_view bytes,
                                                     absl::string_view source) {
  absl::StatusOr<SpmModelProto> proto = ParseSpmModelProto(bytes, source);
  if (!proto.ok()) return proto.status();
  return SentencePieceBpeToGguf(*proto, source);
}

absl::StatusOr<GgufMetadata> SentencePieceBpeToGguf(const SpmModelProto& spec,
                                                    absl::string_view source) {
  const std::vector<SpmPiece>& pieces = spec.pieces;
  if (spec.model_type != 2) {
    return absl::UnimplementedError(absl::StrCat(
        source, ": SentencePiece model_type ", spec.model_type,
        " is not supported (only BPE, model_type 2)"));
  }
  if (spec.normalizer.name != "identity") {
    return absl::UnimplementedError(absl::StrCat(
        source, ": SentencePiece normalizer \"", spec.normalizer.name,
        "\" is not supported (only \"identity\")"));
  }
  if (spec.normalizer.remove_extra_whitespaces) {
    return absl::UnimplementedError(
        absl::StrCat(source, ": SentencePiece remove_extra_whitespaces is not supported"));
  }
  GgufMetadata meta;
  GgufValue model;
  model.type = GgufType::kString;
  model.text = "llama";
  meta.values["tokenizer.ggml.model"] = model;
  GgufValue tokens, scores, types;
  tokens.type = scores.type = types.type = GgufType::kArray;
  tokens.array_type = GgufType::kString;
  scores.array_type = GgufType::kFloat32;
  types.array_type = GgufType::kInt32;
  for (const SpmPiece& p : pieces) {
    tokens.strings.push_back(p.text);
    scores.numbers.push_back(p.score);
    types.numbers.push_back(static_cast<int>(p.type));
  }
  meta.values["tokenizer.ggml.tokens"] = std::move(tokens);
  meta.values["tokenizer.ggml.scores"] = std::move(scores);
  meta.values["tokenizer.ggml.token_type"] = std::move(types);
  const int64_t n = static_cast<int64_t>(pieces.size());
  if (spec.bos_id >= 0 && spec.bos_id < n) meta.values["tokenizer.ggml.bos_token_id"] = Number(spec.bos_id);
  if (spec.eos_id >= 0 && spec.eos_id < n) meta.values["tokenizer.ggml.eos_token_id"] = Number(spec.eos_id);
  if (spec.unk_id >= 0 && spec.unk_id < n) meta.values["tokenizer.ggml.unknown_token_id"] = Number(spec.unk_id);
  GgufValue prefix;
  prefix.type = GgufType::kBool;
  prefix.number = spec.normalizer.add_dummy_prefix ? 1 : 0;
  meta.values["tokenizer.ggml.add_space_prefix"] = prefix;
  return meta;
}

absl::StatusOr<GgufMetadata> ReadSentencePieceModel(const std::string& path) {
  absl::StatusOr<std::string> bytes = ReadFileBytes(path);
  if (!bytes.ok()) return bytes.status();
  return ParseSentencePieceModel(*bytes, path);
}

}  // namespace tandem::tokenizer
