#include "tokenizer/added_tokens.h"

#include <algorithm>
#include <cctype>

namespace tandem::tokenizer {
namespace {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

bool IsWordByte(char c) {
  const unsigned char u = static_cast<unsigned char>(c);
  return u >= 0x80 || std::isalnum(u) || c == '_';
}

}  // namespace

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedToken> tokens)
    : tokens_(std::move(tokens)) {
  for (size_t i = 0; i < tokens_.size(); ++i) {
    if (tokens_[i].content.empty()) continue;
    by_first_byte_[static_cast<unsigned char>(tokens_[i].content[0])].push_back(i);
  }
  for (auto& [byte, list] : by_first_byte_) {
    std::stable_sort(list.begin(), list.end(), [&](size_t a, size_t b) {
      return tokens_[a].content.size() > tokens_[b].content.size();
    });
  }
}

std::vector<Segment> AddedTokenMatcher::Split(absl::string_view text,
                                              bool include_special,
                                              bool normalized) const {
  std::vector<Segment> out;
  size_t text_begin = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    const AddedToken* hit = nullptr;
    auto it = by_first_byte_.find(static_cast<unsigned char>(text[pos]));
    if (it != by_first_byte_.end()) {
      for (size_t i : it->second) {
        const AddedToken& t = tokens_[i];
        if (t.special && !include_special) continue;
        if (t.normalized != normalized) continue;
        if (text.compare(pos, t.content.size(), t.content) != 0) continue;
        if (t.single_word) {
          const size_t end = pos + t.content.size();
          if ((pos > 0 && IsWordByte(text[pos - 1])) ||
              (end < text.size() && IsWordByte(text[end]))) {
            continue;
          }
        }
        hit = &t;
        break;
      }
    }
    if (hit == nullptr) {
      ++pos;
      continue;
    }
    size_t begin = pos;
    size_t end = pos + hit->content.size();
    if (hit->lstrip) {
      while (begin > text_begin && IsSpace(text[begin - 1])) --begin;
    }
    if (hit->rstrip) {
      while (end < text.size() && IsSpace(text[end])) ++end;
    }
    if (begin > text_begin) out.push_back({text.substr(text_begin, begin - text_begin), -1});
    out.push_back({text.substr(begin, end - begin), hit->id});
    text_begin = pos = end;
  }
  if (text_begin < text.size()) out.push_back({text.substr(text_begin), -1});
  return out;
}

}  // namespace tandem::tokenizer
