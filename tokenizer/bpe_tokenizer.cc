#include "tokenizer/bpe_tokenizer.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/utf8.h"

namespace tandem::tokenizer {

BpeTokenizer::BpeTokenizer(BpeModel model, BpeTokenizerConfig config)
    : model_(std::move(model)),
      config_(std::move(config)),
      added_(config_.added_tokens) {}

absl::StatusOr<std::unique_ptr<BpeTokenizer>> BpeTokenizer::Create(
    BpeModel model, BpeTokenizerConfig config) {
  int32_t size = model.size();
  for (const AddedToken& t : config.added_tokens) {
    // INT32_MAX is excluded so that `t.id + 1` below cannot overflow.
    if (t.id < 0 || t.id == std::numeric_limits<int32_t>::max() || t.content.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          config.source, ": added token \"", t.content, "\" has id ", t.id,
          t.content.empty() ? " and empty content" : ""));
    }
    size = std::max(size, t.id + 1);
  }
  auto check = [&](std::optional<int32_t> id, absl::string_view what) {
    return !id || (*id >= 0 && *id < size)
               ? absl::OkStatus()
               : absl::InvalidArgumentError(absl::StrCat(
                     config.source, ": ", what, " id ", *id,
                     " is outside the vocabulary of ", size, " tokens"));
  };
  for (int32_t id : config.prefix_ids) {
    if (auto s = check(id, "post-processor"); !s.ok()) return s;
  }
  for (int32_t id : config.suffix_ids) {
    if (auto s = check(id, "post-processor"); !s.ok()) return s;
  }
  if (auto s = check(config.bos_id, "BOS"); !s.ok()) return s;
  if (auto s = check(config.eos_id, "EOS"); !s.ok()) return s;

  auto tok = std::unique_ptr<BpeTokenizer>(
      new BpeTokenizer(std::move(model), std::move(config)));
  const BpeDecoderConfig& dec = tok->config_.decoder;
  tok->token_bytes_.resize(size);
  tok->special_.assign(size, false);
  for (int32_t id = 0; id < tok->model_.size(); ++id) {
    const std::string& t = tok->model_.token(id);
    std::string bytes;
    if (dec.byte_fallback && tok->model_.TokenByte(id)) {
      bytes.assign(1, static_cast<char>(*tok->model_.TokenByte(id)));
    } else if (dec.byte_level) {
      bytes = ByteLevelToBytes(t);
    } else {
      bytes = dec.replace_from.empty() ? t : ReplaceAll(t, dec.replace_from, dec.replace_to);
    }
    tok->token_bytes_[id] = std::move(bytes);
  }
  // Added tokens go through the decoder too, as in HF tokenizers: Gemma's
  // "▁▁" added token decodes to two spaces. A byte-level decoder maps a token
  // only when every character is in its byte map, else keeps its UTF-8 (as HF
  // does, so "<|im_end|>" or a CJK added token stays itself).
  for (const AddedToken& t : tok->config_.added_tokens) {
    std::string bytes = t.content;
    if (dec.byte_level) {
      std::string mapped = ByteLevelToBytes(t.content);
      if (BytesToByteLevel(mapped) == t.content) bytes = std::move(mapped);
    } else if (!dec.replace_from.empty()) {
      bytes = ReplaceAll(t.content, dec.replace_from, dec.replace_to);
    }
    tok->token_bytes_[t.id] = std::move(bytes);
    tok->special_[t.id] = t.special;
  }
  tok->identity_ = ComputeIdentity(tok->config_.format, *tok);
  return tok;
}

void BpeTokenizer::EncodeText(absl::string_view text, bool first_segment,
                              const EncodeOptions& options,
                              std::vector<int32_t>& out) const {
  const std::string normalized = config_.normalizer.Apply(text);
  for (const Segment& seg :
       added_.Split(normalized, options.parse_special, /*normalized=*/true)) {
    if (seg.id >= 0) {
      out.push_back(seg.id);
      first_segment = false;
      continue;
    }
    for (const std::string& word : config_.pre_tokenizer.Apply(seg.text, first_segment)) {
      model_.Encode(word, out);
    }
    first_segment = false;
  }
}

absl::StatusOr<std::vector<int32_t>> BpeTokenizer::Encode(
    absl::string_view text, const EncodeOptions& options) const {
  if (!IsValidUtf8(text)) {
    return absl::InvalidArgumentError("Encode: input is not valid UTF-8");
  }
  std::vector<int32_t> out;
  if (options.add_special_tokens) {
    out.insert(out.end(), config_.prefix_ids.begin(), config_.prefix_ids.end());
  }
  bool first = true;
  for (const Segment& seg :
       added_.Split(text, options.parse_special, /*normalized=*/false)) {
    if (seg.id >= 0) {
      out.push_back(seg.id);
    } else {
      EncodeText(seg.text, first, options, out);
    }
    first = false;
  }
  if (options.add_special_tokens) {
    out.insert(out.end(), config_.suffix_ids.begin(), config_.suffix_ids.end());
  }
  return out;
}

absl::StatusOr<std::string> BpeTokenizer::Decode(
    absl::Span<const int32_t> ids, const DecodeOptions& options) const {
  std::string bytes;
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab_size()) {
      return absl::OutOfRangeError(
          absl::StrCat("Decode: token id ", id, " is outside [0, ", vocab_size(), ")"));
    }
    if (options.skip_special_tokens && special_[id]) continue;
    bytes += token_bytes_[id];
  }
  if (config_.decoder.strip_leading_space && !bytes.empty() && bytes[0] == ' ') {
    bytes.erase(0, 1);
  }
  return ToValidUtf8(bytes);
}

absl::StatusOr<std::string> BpeTokenizer::TokenBytes(int32_t id) const {
  if (id < 0 || id >= vocab_size()) {
    return absl::OutOfRangeError(
        absl::StrCat("TokenBytes: token id ", id, " is outside [0, ", vocab_size(), ")"));
  }
  return token_bytes_[id];
}

bool BpeTokenizer::IsSpecial(int32_t id) const {
  return id >= 0 && id < vocab_size() && special_[id];
}

std::vector<int32_t> BpeTokenizer::special_ids() const {
  std::vector<int32_t> ids;
  for (int32_t id = 0; id < vocab_size(); ++id) {
    if (special_[id]) ids.push_back(id);
  }
  return ids;
}

}  // namespace tandem::tokenizer
