#include "tokenizer/sentencepiece_model_file.h"

#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace tandem::tokenizer {
namespace {

// Protobuf wire-format reader over a byte range; every read is checked.
class WireReader {
 public:
  explicit WireReader(absl::string_view bytes) : data_(bytes) {}
  bool done() const { return pos_ >= data_.size(); }

  bool Varint(uint64_t& out) {
    out = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= data_.size()) return false;
      const uint8_t b = static_cast<uint8_t>(data_[pos_++]);
      out |= static_cast<uint64_t>(b & 0x7F) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  }
  bool Fixed32(uint32_t& out) {
    if (data_.size() - pos_ < 4 || pos_ > data_.size()) return false;
    std::memcpy(&out, data_.data() + pos_, 4);
    pos_ += 4;
    return true;
  }
  bool Bytes(absl::string_view& out) {
    uint64_t len;
    if (!Varint(len) || len > data_.size() - pos_) return false;
    out = data_.substr(pos_, len);
    pos_ += len;
    return true;
  }
  // Skips a field of the given wire type.
  bool Skip(uint32_t wire_type) {
    uint64_t v;
    uint32_t f;
    absl::string_view s;
    switch (wire_type) {
      case 0: return Varint(v);
      case 1:
        if (data_.size() - pos_ < 8) return false;
        pos_ += 8;
        return true;
      case 2: return Bytes(s);
      case 5: return Fixed32(f);
      default: return false;
    }
  }

 private:
  absl::string_view data_;
  size_t pos_ = 0;
};

struct Piece {
  std::string text;
  float score = 0;
  int type = 1;  // NORMAL
};

struct Spec {
  int model_type = 1;  // UNIGRAM (proto default)
  bool byte_fallback = false;
  int64_t unk_id = 0, bos_id = 1, eos_id = 2;
  std::string normalizer = "nmt_nfkc";
  bool add_dummy_prefix = true;
  bool remove_extra_whitespaces = true;
};

absl::Status Malformed(absl::string_view source, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat(source, ": not a valid SentencePiece model (", what, ")"));
}

absl::Status ParsePiece(absl::string_view bytes, Piece& piece, absl::string_view source) {
  WireReader r(bytes);
  while (!r.done()) {
    uint64_t key;
    if (!r.Varint(key)) return Malformed(source, "bad piece field key");
    const uint32_t field = key >> 3, wire = key & 7;
    if (field == 1 && wire == 2) {
      absl::string_view s;
      if (!r.Bytes(s)) return Malformed(source, "truncated piece text");
      piece.text = std::string(s);
    } else if (field == 2 && wire == 5) {
      uint32_t bits;
      if (!r.Fixed32(bits)) return Malformed(source, "truncated piece score");
      std::memcpy(&piece.score, &bits, 4);
    } else if (field == 3 && wire == 0) {
      uint64_t t;
      if (!r.Varint(t)) return Malformed(source, "truncated piece type");
      piece.type = static_cast<int>(t);
    } else if (!r.Skip(wire)) {
      return Malformed(source, "truncated piece field");
    }
  }
  return absl::OkStatus();
}

absl::Status ParseSpec(absl::string_view bytes, bool trainer, Spec& spec,
                       absl::string_view source) {
  WireReader r(bytes);
  while (!r.done()) {
    uint64_t key;
    if (!r.Varint(key)) return Malformed(source, "bad spec field key");
    const uint32_t field = key >> 3, wire = key & 7;
    uint64_t v = 0;
    absl::string_view s;
    if (wire == 0) {
      if (!r.Varint(v)) return Malformed(source, "truncated spec varint");
    } else if (wire == 2) {
      if (!r.Bytes(s)) return Malformed(source, "truncated spec bytes");
    } else if (!r.Skip(wire)) {
      return Malformed(source, "truncated spec field");
    }
    const int64_t signed_v = static_cast<int64_t>(v);  // int32 fields sign-extend
    if (trainer) {
      if (field == 3 && wire == 0) spec.model_type = static_cast<int>(v);
      if (field == 35 && wire == 0) spec.byte_fallback = v != 0;
      if (field == 40 && wire == 0) spec.unk_id = signed_v;
      if (field == 41 && wire == 0) spec.bos_id = signed_v;
      if (field == 42 && wire == 0) spec.eos_id = signed_v;
    } else {
      if (field == 1 && wire == 2) spec.normalizer = std::string(s);
      if (field == 3 && wire == 0) spec.add_dummy_prefix = v != 0;
      if (field == 4 && wire == 0) spec.remove_extra_whitespaces = v != 0;
    }
  }
  return absl::OkStatus();
}

GgufValue Number(double x) {
  GgufValue v;
  v.type = GgufType::kInt32;
  v.number = x;
  return v;
}

}  // namespace

absl::StatusOr<GgufMetadata> ParseSentencePieceModel(absl::string_view bytes,
                                                     absl::string_view source) {
  std::vector<Piece> pieces;
  Spec spec;
  WireReader r(bytes);
  while (!r.done()) {
    uint64_t key;
    if (!r.Varint(key)) return Malformed(source, "bad field key");
    const uint32_t field = key >> 3, wire = key & 7;
    if (wire == 2 && (field == 1 || field == 2 || field == 3)) {
      absl::string_view sub;
      if (!r.Bytes(sub)) return Malformed(source, "truncated message");
      if (field == 1) {
        Piece p;
        if (absl::Status s = ParsePiece(sub, p, source); !s.ok()) return s;
        pieces.push_back(std::move(p));
      } else if (absl::Status s = ParseSpec(sub, field == 2, spec, source); !s.ok()) {
        return s;
      }
    } else if (!r.Skip(wire)) {
      return Malformed(source, "truncated field");
    }
  }
  if (pieces.empty()) return Malformed(source, "no pieces");
  if (spec.model_type != 2) {
    return absl::UnimplementedError(absl::StrCat(
        source, ": SentencePiece model_type ", spec.model_type,
        " is not supported (only BPE, model_type 2)"));
  }
  if (spec.normalizer != "identity") {
    return absl::UnimplementedError(absl::StrCat(
        source, ": SentencePiece normalizer \"", spec.normalizer,
        "\" is not supported (only \"identity\")"));
  }
  if (spec.remove_extra_whitespaces) {
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
  for (const Piece& p : pieces) {
    tokens.strings.push_back(p.text);
    scores.numbers.push_back(p.score);
    types.numbers.push_back(p.type);
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
  prefix.number = spec.add_dummy_prefix ? 1 : 0;
  meta.values["tokenizer.ggml.add_space_prefix"] = prefix;
  return meta;
}

absl::StatusOr<GgufMetadata> ReadSentencePieceModel(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return ParseSentencePieceModel(buffer.str(), path);
}

}  // namespace tandem::tokenizer
