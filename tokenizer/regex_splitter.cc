#include "tokenizer/regex_splitter.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <utility>

#include "absl/strings/str_cat.h"

namespace tandem::tokenizer {

struct RegexSplitter::Impl {
  pcre2_code* code = nullptr;
  ~Impl() { pcre2_code_free(code); }
};

namespace {

struct Span {
  size_t begin;
  size_t end;
  bool is_match;
};

// Matches and gaps covering [0, text.size()), in order, non-empty only.
std::vector<Span> Segments(pcre2_code* code, absl::string_view text) {
  std::vector<Span> spans;
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(code, nullptr);
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t pos = 0;
  size_t gap_begin = 0;
  while (pos <= text.size()) {
    const int rc = pcre2_match(code, subject, text.size(), pos,
                               PCRE2_NO_UTF_CHECK, md, nullptr);
    if (rc < 0) break;
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    const size_t b = ov[0], e = ov[1];
    if (e == b) {  // empty match: step over one character
      if (b >= text.size()) break;
      pos = b + 1;
      while (pos < text.size() && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) ++pos;
      continue;
    }
    if (b > gap_begin) spans.push_back({gap_begin, b, false});
    spans.push_back({b, e, true});
    gap_begin = pos = e;
  }
  if (gap_begin < text.size()) spans.push_back({gap_begin, text.size(), false});
  pcre2_match_data_free(md);
  return spans;
}

}  // namespace

RegexSplitter::RegexSplitter(std::unique_ptr<Impl> impl, SplitBehavior behavior,
                             bool invert)
    : impl_(std::move(impl)), behavior_(behavior), invert_(invert) {}

RegexSplitter::~RegexSplitter() = default;

absl::StatusOr<std::unique_ptr<RegexSplitter>> RegexSplitter::Create(
    absl::string_view pattern, bool literal, SplitBehavior behavior, bool invert) {
  // PCRE2 refuses UCP together with LITERAL ("invalid option bits with
  // PCRE2_LITERAL"), and UCP means nothing for a literal: UTF alone.
  const uint32_t options = literal ? PCRE2_UTF | PCRE2_LITERAL : PCRE2_UTF | PCRE2_UCP;
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                    options, &error, &offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof(message));
    return absl::InvalidArgumentError(
        absl::StrCat("regex `", pattern, "` does not compile at offset ", offset,
                     ": ", reinterpret_cast<const char*>(message)));
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // best effort
  auto impl = std::make_unique<Impl>();
  impl->code = code;
  return std::unique_ptr<RegexSplitter>(
      new RegexSplitter(std::move(impl), behavior, invert));
}

std::vector<absl::string_view> RegexSplitter::Split(absl::string_view text) const {
  std::vector<Span> spans = Segments(impl_->code, text);
  if (invert_) {
    for (Span& s : spans) s.is_match = !s.is_match;
  }
  std::vector<absl::string_view> out;
  auto piece = [&](size_t b, size_t e) { return text.substr(b, e - b); };
  switch (behavior_) {
    case SplitBehavior::kIsolated:
      for (const Span& s : spans) out.push_back(piece(s.begin, s.end));
      break;
    case SplitBehavior::kRemoved:
      for (const Span& s : spans) {
        if (!s.is_match) out.push_back(piece(s.begin, s.end));
      }
      break;
    case SplitBehavior::kMergedWithPrevious:
    case SplitBehavior::kMergedWithNext:
    case SplitBehavior::kContiguous: {
      // Group boundaries: before a gap that follows a match (previous), before
      // each match (next), or where matchness changes (contiguous).
      size_t begin = 0;
      for (size_t i = 1; i < spans.size(); ++i) {
        bool cut = false;
        if (behavior_ == SplitBehavior::kMergedWithPrevious) {
          cut = !spans[i].is_match;
        } else if (behavior_ == SplitBehavior::kMergedWithNext) {
          cut = spans[i].is_match;
        } else {
          cut = spans[i].is_match != spans[i - 1].is_match;
        }
        if (cut) {
          out.push_back(piece(spans[begin].begin, spans[i].begin));
          begin = i;
        }
      }
      if (!spans.empty()) out.push_back(piece(spans[begin].begin, text.size()));
      break;
    }
  }
  return out;
}

}  // namespace tandem::tokenizer
