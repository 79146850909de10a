#include "tokenizer/sentencepiece_proto.h"

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
    if (data_.size() - pos_ < 4) return false;
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

// One field: its number, wire type and value (varint, fixed32 or bytes).
struct Field {
  uint32_t number = 0, wire = 0;
  uint64_t varint = 0;
  uint32_t fixed32 = 0;
  absl::string_view bytes;
};

absl::Status Malformed(absl::string_view source, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat(source, ": not a valid SentencePiece model (", what, ")"));
}

// Calls `on_field` for every field of the message in `bytes`.
template <typename F>
absl::Status ForEachField(absl::string_view bytes, absl::string_view what,
                          absl::string_view source, F on_field) {
  WireReader r(bytes);
  while (!r.done()) {
    uint64_t key;
    if (!r.Varint(key)) return Malformed(source, absl::StrCat("bad ", what, " field key"));
    Field f;
    f.number = static_cast<uint32_t>(key >> 3);
    f.wire = key & 7;
    bool ok = true;
    if (f.wire == 0) {
      ok = r.Varint(f.varint);
    } else if (f.wire == 2) {
      ok = r.Bytes(f.bytes);
    } else if (f.wire == 5) {
      ok = r.Fixed32(f.fixed32);
    } else {
      ok = r.Skip(f.wire);
    }
    if (!ok) return Malformed(source, absl::StrCat("truncated ", what, " field"));
    on_field(f);
  }
  return absl::OkStatus();
}

// int32 fields are sign-extended varints.
int64_t Int(const Field& f) { return static_cast<int64_t>(f.varint); }

void OnPieceField(const Field& f, SpmPiece& piece) {
  if (f.number == 1 && f.wire == 2) piece.text = std::string(f.bytes);
  if (f.number == 2 && f.wire == 5) std::memcpy(&piece.score, &f.fixed32, 4);
  if (f.number == 3 && f.wire == 0) piece.type = static_cast<SpmPieceType>(f.varint);
}

void OnTrainerField(const Field& f, SpmModelProto& m) {
  if (f.wire == 2 && f.number == 44) m.unk_surface = std::string(f.bytes);
  if (f.wire != 0) return;
  switch (f.number) {
    case 3: m.model_type = static_cast<int>(f.varint); break;
    case 24: m.treat_whitespace_as_suffix = f.varint != 0; break;
    case 35: m.byte_fallback = f.varint != 0; break;
    case 40: m.unk_id = Int(f); break;
    case 41: m.bos_id = Int(f); break;
    case 42: m.eos_id = Int(f); break;
    case 43: m.pad_id = Int(f); break;
    default: break;
  }
}

void OnNormalizerField(const Field& f, SpmNormalizerSpec& n) {
  if (f.wire == 2) {
    if (f.number == 1) n.name = std::string(f.bytes);
    if (f.number == 2) n.precompiled_charsmap = std::string(f.bytes);
    if (f.number == 6) n.normalization_rule_tsv = std::string(f.bytes);
  } else if (f.wire == 0) {
    if (f.number == 3) n.add_dummy_prefix = f.varint != 0;
    if (f.number == 4) n.remove_extra_whitespaces = f.varint != 0;
    if (f.number == 5) n.escape_whitespaces = f.varint != 0;
  }
}

}  // namespace

absl::StatusOr<SpmModelProto> ParseSpmModelProto(absl::string_view bytes,
                                                 absl::string_view source) {
  SpmModelProto m;
  absl::Status inner = absl::OkStatus();
  absl::Status s = ForEachField(bytes, "model", source, [&](const Field& f) {
    if (f.wire != 2 || !inner.ok()) return;
    if (f.number == 1) {
      SpmPiece piece;
      inner = ForEachField(f.bytes, "piece", source,
                           [&](const Field& pf) { OnPieceField(pf, piece); });
      m.pieces.push_back(std::move(piece));
    } else if (f.number == 2) {
      inner = ForEachField(f.bytes, "trainer_spec", source,
                           [&](const Field& tf) { OnTrainerField(tf, m); });
    } else if (f.number == 3 || f.number == 5) {
      SpmNormalizerSpec& n = f.number == 3 ? m.normalizer : m.denormalizer;
      n.present = true;
      inner = ForEachField(f.bytes, "normalizer_spec", source,
                           [&](const Field& nf) { OnNormalizerField(nf, n); });
    }
  });
  if (!s.ok()) return s;
  if (!inner.ok()) return inner;
  if (m.pieces.empty()) return Malformed(source, "no pieces");
  return m;
}

absl::StatusOr<std::string> ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace tandem::tokenizer
