#include "tokenizer/normalizer.h"

#include <unicode/normalizer2.h>
#include <unicode/unistr.h>

#include "absl/strings/str_cat.h"

namespace tandem::tokenizer {
namespace {

std::string Unicode(NormalizerStep::Kind kind, absl::string_view text) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* n = nullptr;
  switch (kind) {
    case NormalizerStep::Kind::kNfc: n = icu::Normalizer2::getNFCInstance(status); break;
    case NormalizerStep::Kind::kNfd: n = icu::Normalizer2::getNFDInstance(status); break;
    case NormalizerStep::Kind::kNfkc: n = icu::Normalizer2::getNFKCInstance(status); break;
    default: n = icu::Normalizer2::getNFKDInstance(status); break;
  }
  if (U_FAILURE(status) || n == nullptr) return std::string(text);
  const icu::UnicodeString in = icu::UnicodeString::fromUTF8(
      icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
  // Fast path: most text is already normalized.
  if (n->isNormalized(in, status) && U_SUCCESS(status)) return std::string(text);
  status = U_ZERO_ERROR;
  const icu::UnicodeString out = n->normalize(in, status);
  if (U_FAILURE(status)) return std::string(text);
  std::string result;
  out.toUTF8String(result);
  return result;
}

std::string Lowercase(absl::string_view text) {
  icu::UnicodeString s = icu::UnicodeString::fromUTF8(
      icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
  s.toLower();
  std::string result;
  s.toUTF8String(result);
  return result;
}

}  // namespace

std::string ReplaceAll(absl::string_view text, absl::string_view from,
                       absl::string_view to) {
  std::string out;
  if (from.empty()) return std::string(text);
  size_t pos = 0;
  while (true) {
    const size_t next = text.find(from, pos);
    if (next == absl::string_view::npos) break;
    absl::StrAppend(&out, text.substr(pos, next - pos));
    absl::StrAppend(&out, to);
    pos = next + from.size();
  }
  absl::StrAppend(&out, text.substr(pos));
  return out;
}

std::string Normalizer::Apply(absl::string_view text) const {
  std::string s(text);
  for (const NormalizerStep& step : steps_) {
    switch (step.kind) {
      case NormalizerStep::Kind::kPrepend:
        if (!s.empty()) s = step.text + s;
        break;
      case NormalizerStep::Kind::kReplace:
        s = ReplaceAll(s, step.text, step.replacement);
        break;
      case NormalizerStep::Kind::kLowercase:
        s = Lowercase(s);
        break;
      default:
        s = Unicode(step.kind, s);
        break;
    }
  }
  return s;
}

}  // namespace tandem::tokenizer
