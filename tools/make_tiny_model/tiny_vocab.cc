#include "tools/make_tiny_model/tiny_vocab.h"

#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tandem::tools {
namespace {

std::string Utf8(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xc0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    s += static_cast<char>(0xe0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    s += static_cast<char>(0x80 | (cp & 0x3f));
  }
  return s;
}

// GPT-2's bytes_to_unicode(), in its list order (which is also the order of
// the first 256 ids of GPT-2's encoder.json).
std::vector<std::string> ByteLevelAlphabet() {
  std::vector<int> bs;
  for (int b = '!'; b <= '~'; ++b) bs.push_back(b);
  for (int b = 0xa1; b <= 0xac; ++b) bs.push_back(b);
  for (int b = 0xae; b <= 0xff; ++b) bs.push_back(b);
  std::vector<uint32_t> cs(bs.begin(), bs.end());
  std::set<int> present(bs.begin(), bs.end());
  int n = 0;
  for (int b = 0; b < 256; ++b) {
    if (present.count(b) == 0) {
      bs.push_back(b);
      cs.push_back(256 + n++);
    }
  }
  std::vector<std::string> out;
  for (uint32_t c : cs) out.push_back(Utf8(c));
  return out;
}

TinyVocab LlamaVocab(int64_t vocab_size) {
  TinyVocab v;
  v.model = "llama";
  v.unk_id = 0;
  v.bos_id = 1;
  v.eos_id = 2;
  auto add = [&v](std::string token, float score, int32_t type) {
    v.tokens.push_back(std::move(token));
    v.scores.push_back(score);
    v.token_types.push_back(type);
  };
  add("<unk>", 0, kTokenUnknown);
  add("<s>", 0, kTokenControl);
  add("</s>", 0, kTokenControl);
  for (int b = 0; b < 256; ++b) add(absl::StrFormat("<0x%02X>", b), 0, kTokenByte);
  const std::string space = "\xe2\x96\x81";  // U+2581, SentencePiece's word boundary.
  std::vector<std::string> pieces;
  for (char c = 'a'; c <= 'z'; ++c) pieces.push_back(space + c);
  for (char c = 'a'; c <= 'z'; ++c) pieces.push_back(std::string(1, c));
  for (char a = 'a'; a <= 'z'; ++a) {
    for (char b = 'a'; b <= 'z'; ++b) pieces.push_back(std::string{a, b});
  }
  for (size_t i = 0; static_cast<int64_t>(v.tokens.size()) < vocab_size; ++i) {
    if (i < pieces.size()) {
      add(pieces[i], -static_cast<float>(i + 1), kTokenNormal);
    } else {
      add(absl::StrCat("<unused_", i - pieces.size(), ">"), -1e4f, kTokenUnused);
    }
  }
  return v;
}

TinyVocab Gpt2Vocab(int64_t vocab_size) {
  TinyVocab v;
  v.model = "gpt2";
  v.pre = "gpt-2";
  v.tokens = ByteLevelAlphabet();
  v.token_types.assign(v.tokens.size(), kTokenNormal);
  const std::string space = "\xc4\xa0";  // "Ġ", GPT-2's symbol for ' '.
  std::vector<std::string> firsts = {space};
  for (char c = 'a'; c <= 'z'; ++c) firsts.push_back(std::string(1, c));
  for (size_t f = 0; f < firsts.size(); ++f) {
    for (char c = 'a'; c <= 'z'; ++c) {
      if (static_cast<int64_t>(v.tokens.size()) >= vocab_size - 1) break;
      v.merges.push_back(firsts[f] + " " + std::string(1, c));
      v.tokens.push_back(firsts[f] + std::string(1, c));
      v.token_types.push_back(kTokenNormal);
    }
  }
  for (int i = 0; static_cast<int64_t>(v.tokens.size()) < vocab_size - 1; ++i) {
    v.tokens.push_back(absl::StrCat("<|unused_", i, "|>"));
    v.token_types.push_back(kTokenUnused);
  }
  v.tokens.push_back("<|endoftext|>");
  v.token_types.push_back(kTokenControl);
  v.bos_id = v.eos_id = vocab_size - 1;
  return v;
}

}  // namespace

absl::StatusOr<TinyVocab> MakeSyntheticVocab(model::Architecture arch, int64_t vocab_size) {
  const int64_t min = arch == model::Architecture::kGpt2 ? 257 : 259;
  if (vocab_size < min) {
    return absl::InvalidArgumentError(
        absl::StrCat("vocab_size must be >= ", min, " for this architecture, found ", vocab_size));
  }
  return arch == model::Architecture::kGpt2 ? Gpt2Vocab(vocab_size) : LlamaVocab(vocab_size);
}

}  // namespace tandem::tools
