#include "tokenizer/sentencepiece_shim.h"

#include <sentencepiece_processor.h>

namespace tandem::tokenizer {

struct SentencePieceShim::Impl {
  sentencepiece::SentencePieceProcessor sp;
};

SentencePieceShim::SentencePieceShim() : impl_(std::make_unique<Impl>()) {}
SentencePieceShim::~SentencePieceShim() = default;

std::string SentencePieceShim::Load(const std::string& path, bool& not_found) {
  const auto s = impl_->sp.Load(path);
  not_found = s.code() == sentencepiece::util::StatusCode::kNotFound;
  return s.ok() ? "" : s.ToString();
}

std::string SentencePieceShim::LoadFromSerialized(const std::string& bytes) {
  const auto s = impl_->sp.LoadFromSerializedProto(bytes);
  return s.ok() ? "" : s.ToString();
}

std::string SentencePieceShim::Encode(const std::string& text, std::vector<int>& ids) const {
  const auto s = impl_->sp.Encode(text, &ids);
  return s.ok() ? "" : s.ToString();
}

std::string SentencePieceShim::Decode(const std::vector<int>& ids, std::string& text) const {
  const auto s = impl_->sp.Decode(ids, &text);
  return s.ok() ? "" : s.ToString();
}

int SentencePieceShim::size() const { return impl_->sp.GetPieceSize(); }
const std::string& SentencePieceShim::IdToPiece(int id) const { return impl_->sp.IdToPiece(id); }
bool SentencePieceShim::IsControl(int id) const { return impl_->sp.IsControl(id); }
bool SentencePieceShim::IsUnknown(int id) const { return impl_->sp.IsUnknown(id); }
bool SentencePieceShim::IsByte(int id) const { return impl_->sp.IsByte(id); }
int SentencePieceShim::bos_id() const { return impl_->sp.bos_id(); }
int SentencePieceShim::eos_id() const { return impl_->sp.eos_id(); }

}  // namespace tandem::tokenizer
