#include "tokenizer/bpe_model.h"

#include <queue>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tokenizer/utf8.h"

namespace tandem::tokenizer {

struct BpeModel::Candidate {
  double priority;  // lower merges first: rank, or -score
  int32_t left;
  int32_t right;
  uint32_t left_len;
  uint32_t right_len;
  int32_t new_id;
};

namespace {

uint64_t PairKey(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) |
         static_cast<uint32_t>(b);
}

std::optional<unsigned char> ParseByteToken(absl::string_view t) {
  if (t.size() != 6 || t.substr(0, 3) != "<0x" || t[5] != '>') return std::nullopt;
  int v = 0;
  for (char c : t.substr(3, 2)) {
    v *= 16;
    if (c >= '0' && c <= '9') v += c - '0';
    else if (c >= 'A' && c <= 'F') v += c - 'A' + 10;
    else if (c >= 'a' && c <= 'f') v += c - 'a' + 10;
    else return std::nullopt;
  }
  return static_cast<unsigned char>(v);
}

}  // namespace

absl::StatusOr<BpeModel> BpeModel::Create(BpeModelConfig config,
                                          absl::string_view source) {
  BpeModel m;
  m.tokens_ = std::move(config.tokens);
  m.unk_id_ = config.unk_id;
  m.byte_fallback_ = config.byte_fallback;
  m.fuse_unk_ = config.fuse_unk;
  m.ignore_merges_ = config.ignore_merges;
  for (int& b : m.byte_ids_) b = -1;
  m.ids_.reserve(m.tokens_.size());
  for (int32_t id = 0; id < m.size(); ++id) {
    const std::string& t = m.tokens_[id];
    if (t.empty()) continue;
    // Later duplicates (e.g. padding tokens of GGUF vocabularies) keep the
    // first id, as llama.cpp's token-to-id map does.
    m.ids_.emplace(t, id);
    if (auto b = ParseByteToken(t); b && m.byte_ids_[*b] < 0) m.byte_ids_[*b] = id;
  }
  if (m.unk_id_ && (*m.unk_id_ < 0 || *m.unk_id_ >= m.size())) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": unknown-token id ", *m.unk_id_, " is outside the vocabulary"));
  }
  if (!config.scores.empty()) {
    if (config.scores.size() != m.tokens_.size()) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: %d scores for %d tokens", source, config.scores.size(), m.size()));
    }
    m.scores_ = std::move(config.scores);
  }
  m.merges_.reserve(config.merges.size());
  for (size_t rank = 0; rank < config.merges.size(); ++rank) {
    const auto& [a, b] = config.merges[rank];
    auto ia = m.Find(a), ib = m.Find(b), iab = m.Find(a + b);
    if (!ia || !ib || !iab) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: merge #%d (\"%s\" \"%s\") names a token that is not in the vocabulary",
          source, rank, a, b));
    }
    m.merges_.emplace(PairKey(*ia, *ib), std::make_pair(static_cast<int32_t>(rank), *iab));
  }
  return m;
}

std::optional<int32_t> BpeModel::Find(absl::string_view text) const {
  auto it = ids_.find(text);
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

std::optional<int32_t> BpeModel::ByteToken(unsigned char byte) const {
  if (byte_ids_[byte] < 0) return std::nullopt;
  return byte_ids_[byte];
}

std::optional<unsigned char> BpeModel::TokenByte(int32_t id) const {
  if (id < 0 || id >= size()) return std::nullopt;
  return ParseByteToken(tokens_[id]);
}

std::optional<BpeModel::Candidate> BpeModel::Pair(
    absl::string_view word, const std::vector<Symbol>& symbols, int32_t left) const {
  const Symbol& l = symbols[left];
  if (l.next < 0) return std::nullopt;
  const Symbol& r = symbols[l.next];
  Candidate c{0.0, left, l.next, l.len, r.len, -1};
  if (scores_.empty()) {
    if (l.id < 0 || r.id < 0) return std::nullopt;
    auto it = merges_.find(PairKey(l.id, r.id));
    if (it == merges_.end()) return std::nullopt;
    c.priority = it->second.first;
    c.new_id = it->second.second;
  } else {
    auto id = Find(word.substr(l.start, l.len + r.len));
    if (!id) return std::nullopt;
    c.priority = -static_cast<double>(scores_[*id]);
    c.new_id = *id;
  }
  return c;
}

void BpeModel::EmitSymbol(absl::string_view text, int32_t id,
                          std::vector<int32_t>& out, bool& last_was_unk) const {
  if (id >= 0) {
    out.push_back(id);
    last_was_unk = false;
    return;
  }
  if (byte_fallback_) {
    bool all = true;
    for (unsigned char b : text) all = all && byte_ids_[b] >= 0;
    if (all) {
      for (unsigned char b : text) out.push_back(byte_ids_[b]);
      last_was_unk = false;
      return;
    }
  }
  if (!unk_id_) return;
  if (!(fuse_unk_ && last_was_unk)) out.push_back(*unk_id_);
  last_was_unk = true;
}

void BpeModel::Encode(absl::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    if (auto id = Find(word)) {
      out.push_back(*id);
      return;
    }
  }
  std::vector<Symbol> symbols;
  for (size_t pos = 0; pos < word.size();) {
    size_t n = ValidSequenceLength(word, pos);
    if (n == 0) n = 1;
    Symbol s;
    s.start = static_cast<uint32_t>(pos);
    s.len = static_cast<uint32_t>(n);
    auto id = Find(word.substr(pos, n));
    s.id = id ? *id : -1;
    s.prev = static_cast<int32_t>(symbols.size()) - 1;
    s.next = pos + n < word.size() ? static_cast<int32_t>(symbols.size()) + 1 : -1;
    symbols.push_back(s);
    pos += n;
  }
  auto later = [](const Candidate& a, const Candidate& b) {
    return a.priority != b.priority ? a.priority > b.priority : a.left > b.left;
  };
  std::priority_queue<Candidate, std::vector<Candidate>, decltype(later)> queue(later);
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(symbols.size()); ++i) {
    if (auto c = Pair(word, symbols, i)) queue.push(*c);
  }
  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    Symbol& l = symbols[c.left];
    if (l.len != c.left_len || l.next != c.right) continue;
    Symbol& r = symbols[c.right];
    if (r.len != c.right_len) continue;
    l.len += r.len;
    l.id = c.new_id;
    l.next = r.next;
    if (r.next >= 0) symbols[r.next].prev = c.left;
    r.len = 0;
    r.next = r.prev = -1;
    if (l.prev >= 0) {
      if (auto p = Pair(word, symbols, l.prev)) queue.push(*p);
    }
    if (auto p = Pair(word, symbols, c.left)) queue.push(*p);
  }
  bool last_was_unk = false;
  for (int32_t i = 0; i >= 0; i = symbols[i].next) {
    EmitSymbol(word.substr(symbols[i].start, symbols[i].len), symbols[i].id, out,
               last_was_unk);
  }
}

}  // namespace tandem::tokenizer
