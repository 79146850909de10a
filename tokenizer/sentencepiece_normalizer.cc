#include "tokenizer/sentencepiece_normalizer.h"

#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "tokenizer/utf8.h"

namespace tandem::tokenizer {
namespace {

constexpr absl::string_view kSpaceSymbol = "\xE2\x96\x81";
constexpr absl::string_view kReplacementChar = "\xEF\xBF\xBD";
// SentencePiece looks at no more than this many charsmap matches per position.
constexpr int kMaxTrieResults = 32;

// darts-clone DoubleArrayUnit accessors.
bool HasLeaf(uint32_t unit) { return ((unit >> 8) & 1) == 1; }
uint32_t Value(uint32_t unit) { return unit & ((1U << 31) - 1); }
uint32_t Label(uint32_t unit) { return unit & ((1U << 31) | 0xFF); }
uint32_t Offset(uint32_t unit) { return (unit >> 10) << ((unit & (1U << 9)) >> 6); }

}  // namespace

absl::StatusOr<SentencePieceNormalizer> SentencePieceNormalizer::Create(
    const SpmNormalizerSpec& spec, bool treat_whitespace_as_suffix,
    std::vector<std::string> user_defined_symbols, absl::string_view source) {
  if (treat_whitespace_as_suffix) {
    return absl::UnimplementedError(absl::StrCat(
        source, ": SentencePiece treat_whitespace_as_suffix is not supported"));
  }
  const std::string& blob = spec.precompiled_charsmap;
  if (blob.empty() && spec.present && spec.name != "identity") {
    return absl::UnimplementedError(absl::StrCat(
        source, ": SentencePiece normalizer \"", spec.name,
        "\" has no precompiled charsmap; only \"identity\" or charsmap normalizers are supported"));
  }
  SentencePieceNormalizer n;
  n.spec_ = spec;
  if (!blob.empty()) {
    uint32_t trie_size = 0;
    if (blob.size() <= 4) return absl::InvalidArgumentError(absl::StrCat(source, ": charsmap too short"));
    std::memcpy(&trie_size, blob.data(), 4);
    if (trie_size >= blob.size() - 4 || trie_size % 4 != 0 || trie_size == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": precompiled charsmap trie size ", trie_size, " is invalid"));
    }
    n.trie_.resize(trie_size / 4);
    std::memcpy(n.trie_.data(), blob.data() + 4, trie_size);
    n.replacements_ = blob.substr(4 + trie_size);
  }
  for (std::string& s : user_defined_symbols) {
    n.max_user_defined_ = std::max(n.max_user_defined_, s.size());
    n.user_defined_.insert(std::move(s));
  }
  return n;
}

std::pair<size_t, uint32_t> SentencePieceNormalizer::LongestCharsmapMatch(
    absl::string_view input) const {
  std::pair<size_t, uint32_t> best{0, 0};
  if (trie_.empty()) return best;
  int found = 0;
  size_t pos = Offset(trie_[0]);
  for (size_t i = 0; i < input.size(); ++i) {
    const uint8_t c = static_cast<uint8_t>(input[i]);
    pos ^= c;
    if (pos >= trie_.size() || Label(trie_[pos]) != c) break;
    const uint32_t unit = trie_[pos];
    pos ^= Offset(unit);
    if (HasLeaf(unit)) {
      if (pos >= trie_.size()) break;
      if (found++ < kMaxTrieResults) best = {i + 1, Value(trie_[pos])};
    }
  }
  return best;
}

std::pair<absl::string_view, size_t> SentencePieceNormalizer::NormalizePrefix(
    absl::string_view input) const {
  for (size_t len = std::min(max_user_defined_, input.size()); len > 0; --len) {
    if (user_defined_.count(input.substr(0, len)) > 0) return {input.substr(0, len), len};
  }
  const auto [length, value] = LongestCharsmapMatch(input);
  if (length > 0 && value < replacements_.size()) {
    const char* begin = replacements_.data() + value;
    const size_t n = strnlen(begin, replacements_.size() - value);
    return {absl::string_view(begin, n), length};
  }
  const size_t valid = ValidSequenceLength(input, 0);
  if (valid == 0) return {kReplacementChar, 1};
  return {input.substr(0, valid), valid};
}

std::string SentencePieceNormalizer::Normalize(absl::string_view input) const {
  std::string out;
  if (spec_.remove_extra_whitespaces) {
    while (!input.empty()) {
      const auto p = NormalizePrefix(input);
      if (p.first != " ") break;
      input.remove_prefix(p.second);
    }
  }
  if (input.empty()) return out;
  const absl::string_view space = spec_.escape_whitespaces ? kSpaceSymbol : " ";
  if (spec_.add_dummy_prefix) out.append(space.data(), space.size());
  bool is_prev_space = spec_.remove_extra_whitespaces;
  while (!input.empty()) {
    const auto p = NormalizePrefix(input);
    absl::string_view sp = p.first;
    while (is_prev_space && absl::ConsumePrefix(&sp, " ")) {
    }
    if (!sp.empty()) {
      for (char c : sp) {
        if (c == ' ') {
          out.append(space.data(), space.size());
        } else {
          out.push_back(c);
        }
      }
      is_prev_space = absl::EndsWith(sp, " ");
    }
    input.remove_prefix(p.second);
    if (!spec_.remove_extra_whitespaces) is_prev_space = false;
  }
  if (spec_.remove_extra_whitespaces) {
    while (absl::EndsWith(out, space)) out.resize(out.size() - space.size());
  }
  return out;
}

}  // namespace tandem::tokenizer
