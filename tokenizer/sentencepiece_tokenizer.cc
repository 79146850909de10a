#include "tokenizer/sentencepiece_tokenizer.h"

#include "absl/strings/str_cat.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/utf8.h"

namespace tandem::tokenizer {
namespace {

absl::Status FromSp(const std::string& error, absl::string_view context) {
  if (error.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(context, ": ", error));
}

}  // namespace

SentencePieceTokenizer::SentencePieceTokenizer(
    std::unique_ptr<SentencePieceShim> sp)
    : sp_(std::move(sp)) {
  for (int id = 0; id < sp_->size(); ++id) {
    if (sp_->IsControl(id)) control_ids_.push_back(id);
  }
  identity_ = ComputeIdentity("sentencepiece", *this);
}

SentencePieceTokenizer::~SentencePieceTokenizer() = default;

absl::StatusOr<std::unique_ptr<SentencePieceTokenizer>> SentencePieceTokenizer::Load(
    const std::string& path) {
  auto sp = std::make_unique<SentencePieceShim>();
  bool not_found = false;
  const std::string error = sp->Load(path, not_found);
  if (not_found) return absl::NotFoundError(absl::StrCat(path, ": ", error));
  if (auto s = FromSp(error, path); !s.ok()) return s;
  return std::unique_ptr<SentencePieceTokenizer>(new SentencePieceTokenizer(std::move(sp)));
}

absl::StatusOr<std::unique_ptr<SentencePieceTokenizer>> SentencePieceTokenizer::FromSerialized(
    const std::string& bytes, const std::string& source) {
  auto sp = std::make_unique<SentencePieceShim>();
  if (auto s = FromSp(sp->LoadFromSerialized(bytes), source); !s.ok()) return s;
  return std::unique_ptr<SentencePieceTokenizer>(new SentencePieceTokenizer(std::move(sp)));
}

absl::Status SentencePieceTokenizer::EncodePlain(absl::string_view text,
                                                 std::vector<int32_t>& out) const {
  std::vector<int> ids;
  if (auto s = FromSp(sp_->Encode(std::string(text), ids), "SentencePiece Encode"); !s.ok()) {
    return s;
  }
  out.insert(out.end(), ids.begin(), ids.end());
  return absl::OkStatus();
}

absl::StatusOr<std::vector<int32_t>> SentencePieceTokenizer::Encode(
    absl::string_view text, const EncodeOptions& options) const {
  if (!IsValidUtf8(text)) return absl::InvalidArgumentError("Encode: input is not valid UTF-8");
  std::vector<int32_t> out;
  if (options.add_special_tokens && sp_->bos_id() >= 0) out.push_back(sp_->bos_id());
  size_t begin = 0;
  size_t pos = 0;
  while (options.parse_special && pos < text.size()) {
    int32_t hit = -1;
    size_t hit_len = 0;
    for (int32_t id : control_ids_) {
      const std::string& piece = sp_->IdToPiece(id);
      if (!piece.empty() && piece.size() > hit_len && text.substr(pos, piece.size()) == piece) {
        hit = id;
        hit_len = piece.size();
      }
    }
    if (hit < 0) {
      ++pos;
      continue;
    }
    if (pos > begin) {
      if (auto s = EncodePlain(text.substr(begin, pos - begin), out); !s.ok()) return s;
    }
    out.push_back(hit);
    begin = pos = pos + hit_len;
  }
  if (begin < text.size()) {
    if (auto s = EncodePlain(text.substr(begin), out); !s.ok()) return s;
  }
  return out;
}

absl::StatusOr<std::string> SentencePieceTokenizer::Decode(absl::Span<const int32_t> ids,
                                                           const DecodeOptions& options) const {
  std::vector<int> plain;
  std::string text;
  auto flush = [&]() -> absl::Status {
    if (plain.empty()) return absl::OkStatus();
    std::string piece;
    if (auto s = FromSp(sp_->Decode(plain, piece), "SentencePiece Decode"); !s.ok()) return s;
    absl::StrAppend(&text, piece);
    plain.clear();
    return absl::OkStatus();
  };
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab_size()) {
      return absl::OutOfRangeError(
          absl::StrCat("Decode: token id ", id, " is outside [0, ", vocab_size(), ")"));
    }
    if (sp_->IsControl(id)) {
      if (auto s = flush(); !s.ok()) return s;
      if (!options.skip_special_tokens) absl::StrAppend(&text, sp_->IdToPiece(id));
      continue;
    }
    plain.push_back(id);
  }
  if (auto s = flush(); !s.ok()) return s;
  return ToValidUtf8(text);
}

absl::StatusOr<std::string> SentencePieceTokenizer::TokenBytes(int32_t id) const {
  if (id < 0 || id >= vocab_size()) {
    return absl::OutOfRangeError(
        absl::StrCat("TokenBytes: token id ", id, " is outside [0, ", vocab_size(), ")"));
  }
  const std::string& piece = sp_->IdToPiece(id);
  if (sp_->IsByte(id) && piece.size() == 6) {
    return std::string(1, static_cast<char>(std::stoi(piece.substr(3, 2), nullptr, 16)));
  }
  if (sp_->IsControl(id)) return piece;
  if (sp_->IsUnknown(id)) return std::string(" \xE2\x81\x87 ");
  return ReplaceAll(piece, "\xE2\x96\x81", " ");
}

int32_t SentencePieceTokenizer::vocab_size() const { return sp_->size(); }

std::optional<int32_t> SentencePieceTokenizer::bos_id() const {
  return sp_->bos_id() >= 0 ? std::optional<int32_t>(sp_->bos_id()) : std::nullopt;
}

std::optional<int32_t> SentencePieceTokenizer::eos_id() const {
  return sp_->eos_id() >= 0 ? std::optional<int32_t>(sp_->eos_id()) : std::nullopt;
}

bool SentencePieceTokenizer::IsSpecial(int32_t id) const {
  return id >= 0 && id < vocab_size() && sp_->IsControl(id);
}

std::vector<int32_t> SentencePieceTokenizer::special_ids() const { return control_ids_; }

}  // namespace tandem::tokenizer
