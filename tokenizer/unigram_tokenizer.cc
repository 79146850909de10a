#include "tokenizer/unigram_tokenizer.h"

#include <algorithm>
#include <cfloat>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/utf8.h"

namespace tandem::tokenizer {
namespace {

constexpr absl::string_view kSpaceSymbol = "\xE2\x96\x81";
constexpr float kUnkPenalty = 10.0f;

// SentencePiece's PieceToByte: "<0xXX>" → XX, else -1.
int PieceToByte(const std::string& piece) {
  if (piece.size() != 6 || !absl::StartsWith(piece, "<0x") || piece[5] != '>') return -1;
  int value = 0;
  for (int i = 3; i < 5; ++i) {
    const char c = piece[i];
    int digit = -1;
    if (c >= '0' && c <= '9') digit = c - '0';
    if (c >= 'A' && c <= 'F') digit = c - 'A' + 10;
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}

// string_util::OneCharLen: the UTF-8 length announced by the lead byte.
int OneCharLen(char c) {
  return "\1\1\1\1\1\1\1\1\1\1\1\1\2\2\3\4"[(static_cast<uint8_t>(c)) >> 4];
}

absl::Status Invalid(absl::string_view source, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat(source, ": not a valid SentencePiece unigram model (", what, ")"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<UnigramTokenizer>> UnigramTokenizer::FromProto(
    SpmModelProto proto, absl::string_view source) {
  if (proto.denormalizer.present && !proto.denormalizer.precompiled_charsmap.empty()) {
    return absl::UnimplementedError(
        absl::StrCat(source, ": SentencePiece denormalizer_spec is not supported"));
  }
  std::vector<std::string> user_defined;
  for (const SpmPiece& p : proto.pieces) {
    if (p.type == SpmPieceType::kUserDefined) user_defined.push_back(p.text);
  }
  absl::StatusOr<SentencePieceNormalizer> normalizer = SentencePieceNormalizer::Create(
      proto.normalizer, proto.treat_whitespace_as_suffix, std::move(user_defined), source);
  if (!normalizer.ok()) return normalizer.status();
  std::unique_ptr<UnigramTokenizer> t(
      new UnigramTokenizer(std::move(proto), std::move(*normalizer)));
  if (absl::Status s = t->IndexPieces(source); !s.ok()) return s;
  t->identity_ = ComputeIdentity("sentencepiece-unigram", *t);
  return t;
}

UnigramTokenizer::UnigramTokenizer(SpmModelProto proto, SentencePieceNormalizer normalizer)
    : proto_(std::move(proto)), normalizer_(std::move(normalizer)) {
  byte_ids_.fill(-1);
}

// The checks of SentencePiece's ModelInterface::InitializePieces.
absl::Status UnigramTokenizer::IndexPieces(absl::string_view source) {
  absl::flat_hash_map<std::string, int32_t> reserved;
  min_score_ = FLT_MAX;
  max_score_ = FLT_MIN;
  for (int32_t id = 0; id < vocab_size(); ++id) {
    const SpmPiece& p = proto_.pieces[id];
    if (p.text.empty()) return Invalid(source, absl::StrCat("piece ", id, " is empty"));
    const bool matchable = p.type == SpmPieceType::kNormal ||
                           p.type == SpmPieceType::kUserDefined ||
                           p.type == SpmPieceType::kUnused;
    if (!(matchable ? matchable_ : reserved).emplace(p.text, id).second) {
      return Invalid(source, absl::StrCat("piece \"", p.text, "\" is defined twice"));
    }
    if (matchable) max_piece_bytes_ = std::max(max_piece_bytes_, p.text.size());
    if (p.type == SpmPieceType::kNormal) {
      min_score_ = std::min(min_score_, p.score);
      max_score_ = std::max(max_score_, p.score);
    }
    if (p.type == SpmPieceType::kControl) control_ids_.push_back(id);
    if (p.type == SpmPieceType::kUnknown) {
      if (unk_id_ >= 0) return Invalid(source, "two <unk> pieces");
      unk_id_ = id;
    }
    if (p.type == SpmPieceType::kByte) {
      const int b = PieceToByte(p.text);
      if (!proto_.byte_fallback || b < 0) {
        return Invalid(source, absl::StrCat("byte piece \"", p.text,
                                            "\" without byte_fallback or malformed"));
      }
      byte_ids_[b] = id;
    }
  }
  if (unk_id_ < 0) return Invalid(source, "no <unk> piece");
  if (proto_.byte_fallback &&
      std::find(byte_ids_.begin(), byte_ids_.end(), -1) != byte_ids_.end()) {
    return Invalid(source, "byte_fallback without all 256 byte pieces");
  }
  return absl::OkStatus();
}

// Model::EncodeOptimized of SentencePiece, with the same arithmetic types
// (scores promote to double, path scores are stored as float) so that ties
// and near-ties resolve identically.
std::vector<std::pair<absl::string_view, int32_t>> UnigramTokenizer::BestPath(
    absl::string_view normalized) const {
  struct BestPathNode {
    int32_t id = -1;
    float best_path_score = 0;
    int starts_at = -1;
  };
  const int size = static_cast<int>(normalized.size());
  const float unk_score = min_score_ - kUnkPenalty;
  std::vector<BestPathNode> best(size + 1);
  for (int starts_at = 0; starts_at < size;) {
    const float till_here = best[starts_at].best_path_score;
    bool has_single_node = false;
    const int mblen = std::min(OneCharLen(normalized[starts_at]), size - starts_at);
    const size_t max_len = std::min<size_t>(max_piece_bytes_, size - starts_at);
    for (size_t length = 1; length <= max_len; ++length) {
      auto it = matchable_.find(normalized.substr(starts_at, length));
      if (it == matchable_.end() || Is(it->second, SpmPieceType::kUnused)) continue;
      const int32_t id = it->second;
      BestPathNode& target = best[starts_at + length];
      const double score = Is(id, SpmPieceType::kUserDefined)
                               ? (length * max_score_ - 0.1)
                               : proto_.pieces[id].score;
      const double candidate = score + till_here;
      if (target.starts_at == -1 || candidate > target.best_path_score) {
        target.best_path_score = static_cast<float>(candidate);
        target.starts_at = starts_at;
        target.id = id;
      }
      if (static_cast<int>(length) == mblen) has_single_node = true;
    }
    if (!has_single_node) {
      BestPathNode& target = best[starts_at + mblen];
      const float candidate = unk_score + till_here;
      if (target.starts_at == -1 || candidate > target.best_path_score) {
        target.best_path_score = candidate;
        target.starts_at = starts_at;
        target.id = unk_id_;
      }
    }
    starts_at += mblen;
  }
  std::vector<std::pair<absl::string_view, int32_t>> path;
  for (int ends_at = size; ends_at > 0; ends_at = best[ends_at].starts_at) {
    const BestPathNode& node = best[ends_at];
    path.emplace_back(normalized.substr(node.starts_at, ends_at - node.starts_at), node.id);
  }
  std::reverse(path.begin(), path.end());
  return path;
}

// SentencePieceProcessor::PopulateSentencePieceText's id rules.
void UnigramTokenizer::EncodePlain(absl::string_view text, std::vector<int32_t>& out) const {
  const std::string normalized = normalizer_.Normalize(text);
  bool prev_unk = false;
  for (const auto& [piece, id] : BestPath(normalized)) {
    const bool unk = id == unk_id_;
    if (unk && proto_.byte_fallback) {
      for (char c : piece) out.push_back(byte_ids_[static_cast<uint8_t>(c)]);
    } else if (!(unk && prev_unk)) {
      out.push_back(id);
    }
    prev_unk = unk;
  }
}

absl::StatusOr<std::vector<int32_t>> UnigramTokenizer::Encode(
    absl::string_view text, const EncodeOptions& options) const {
  if (!IsValidUtf8(text)) return absl::InvalidArgumentError("Encode: input is not valid UTF-8");
  std::vector<int32_t> out;
  if (options.add_special_tokens && bos_id().has_value()) out.push_back(*bos_id());
  size_t begin = 0;
  for (size_t pos = 0; options.parse_special && pos < text.size();) {
    int32_t hit = -1;
    size_t hit_len = 0;
    for (int32_t id : control_ids_) {
      const std::string& piece = proto_.pieces[id].text;
      if (piece.size() > hit_len && text.substr(pos, piece.size()) == piece) {
        hit = id;
        hit_len = piece.size();
      }
    }
    if (hit < 0) {
      ++pos;
      continue;
    }
    if (pos > begin) EncodePlain(text.substr(begin, pos - begin), out);
    out.push_back(hit);
    begin = pos = pos + hit_len;
  }
  if (begin < text.size()) EncodePlain(text.substr(begin), out);
  return out;
}

// SentencePieceProcessor::Decode: byte runs are joined first, then each
// other piece is decoded with the "first visible ▁" rule.
absl::StatusOr<std::string> UnigramTokenizer::Decode(absl::Span<const int32_t> ids,
                                                     const DecodeOptions& options) const {
  std::string text;     // SentencePiece's own text (what the ▁ rule looks at)
  std::string output;   // the same plus control pieces when they are kept
  std::string bytes;
  auto flush_bytes = [&]() {
    // Each byte of an invalid sequence is its own U+FFFD (SentencePiece's
    // ProcessBytePieces), unlike ToValidUtf8's maximal subparts.
    std::string valid;
    for (size_t pos = 0; pos < bytes.size();) {
      const size_t n = ValidSequenceLength(bytes, pos);
      absl::StrAppend(&valid, n == 0 ? absl::string_view("\xEF\xBF\xBD") : absl::string_view(bytes).substr(pos, n));
      pos += n == 0 ? 1 : n;
    }
    text += valid;
    output += valid;
    bytes.clear();
  };
  const bool strip_first = proto_.normalizer.add_dummy_prefix ||
                           proto_.normalizer.remove_extra_whitespaces;
  bool is_bos_ws = true, bos_ws_seen = false;
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab_size()) {
      return absl::OutOfRangeError(
          absl::StrCat("Decode: token id ", id, " is outside [0, ", vocab_size(), ")"));
    }
    if (Is(id, SpmPieceType::kByte)) {
      bytes.push_back(static_cast<char>(PieceToByte(proto_.pieces[id].text)));
      continue;
    }
    flush_bytes();
    if (bos_ws_seen || !text.empty()) is_bos_ws = false;
    bos_ws_seen = false;
    absl::string_view piece = proto_.pieces[id].text;
    if (Is(id, SpmPieceType::kControl)) {
      if (!options.skip_special_tokens) absl::StrAppend(&output, piece);
      continue;
    }
    std::string decoded;
    if (Is(id, SpmPieceType::kUnknown)) {
      decoded = proto_.unk_surface;
    } else {
      if (is_bos_ws && strip_first) {
        bos_ws_seen = absl::ConsumePrefix(&piece, kSpaceSymbol) &&
                      !proto_.normalizer.remove_extra_whitespaces;
      }
      decoded = ReplaceAll(piece, kSpaceSymbol, " ");
    }
    text += decoded;
    output += decoded;
  }
  flush_bytes();
  return output;
}

absl::StatusOr<std::string> UnigramTokenizer::TokenBytes(int32_t id) const {
  if (id < 0 || id >= vocab_size()) {
    return absl::OutOfRangeError(
        absl::StrCat("TokenBytes: token id ", id, " is outside [0, ", vocab_size(), ")"));
  }
  const std::string& piece = proto_.pieces[id].text;
  if (Is(id, SpmPieceType::kByte)) return std::string(1, static_cast<char>(PieceToByte(piece)));
  if (Is(id, SpmPieceType::kControl)) return piece;
  if (Is(id, SpmPieceType::kUnknown)) return proto_.unk_surface;
  return ReplaceAll(piece, kSpaceSymbol, " ");
}

bool UnigramTokenizer::strips_leading_space() const {
  return proto_.normalizer.add_dummy_prefix || proto_.normalizer.remove_extra_whitespaces;
}

std::optional<int32_t> UnigramTokenizer::bos_id() const {
  const int64_t id = proto_.bos_id;
  if (id < 0 || id >= vocab_size() || !Is(id, SpmPieceType::kControl)) return std::nullopt;
  return static_cast<int32_t>(id);
}

std::optional<int32_t> UnigramTokenizer::eos_id() const {
  const int64_t id = proto_.eos_id;
  if (id < 0 || id >= vocab_size() || !Is(id, SpmPieceType::kControl)) return std::nullopt;
  return static_cast<int32_t>(id);
}

bool UnigramTokenizer::IsSpecial(int32_t id) const {
  return id >= 0 && id < vocab_size() && Is(id, SpmPieceType::kControl);
}

}  // namespace tandem::tokenizer
