#ifndef TANDEM_TOKENIZER_BPE_MODEL_H_
#define TANDEM_TOKENIZER_BPE_MODEL_H_

// The BPE word model: turns one pre-tokenized word into token ids.
//
// Two merge orders:
//  - ranked merges (Hugging Face / GPT-2 / GGUF "gpt2"): repeatedly merge the
//    adjacent pair with the lowest merge rank, leftmost first;
//  - scores (SentencePiece BPE / GGUF "llama"): repeatedly merge the adjacent
//    pair whose concatenation is a token with the highest score, leftmost
//    first.
// Symbols start as the word's UTF-8 characters. A final symbol that is not a
// token becomes its bytes' <0xXX> tokens (byte_fallback), else the unknown
// token (consecutive unknowns fused into one when fuse_unk), else is dropped.

#include <cstdint>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"

namespace tandem::tokenizer {

struct BpeModelConfig {
  std::vector<std::string> tokens;  // index = id; "" marks an unused id
  // In rank order; both parts and their concatenation must be tokens.
  std::vector<std::pair<std::string, std::string>> merges;
  std::vector<float> scores;  // non-empty (size == tokens.size()): score mode
  std::optional<int32_t> unk_id;
  bool byte_fallback = false;
  bool fuse_unk = false;
  // A word that is itself a token is emitted whole (Llama 3).
  bool ignore_merges = false;
};

// Immutable after Create; thread-safe.
class BpeModel {
 public:
  // `source` names the file in error messages. InvalidArgument on duplicate
  // tokens, merges naming unknown tokens, or ids out of range.
  static absl::StatusOr<BpeModel> Create(BpeModelConfig config,
                                         absl::string_view source);

  // Appends the ids of `word` to `out`.
  void Encode(absl::string_view word, std::vector<int32_t>& out) const;

  int32_t size() const { return static_cast<int32_t>(tokens_.size()); }
  const std::string& token(int32_t id) const { return tokens_[id]; }
  std::optional<int32_t> Find(absl::string_view text) const;
  // Id of the <0xXX> token for `byte`, if the vocabulary has one.
  std::optional<int32_t> ByteToken(unsigned char byte) const;
  // The byte a <0xXX> token stands for.
  std::optional<unsigned char> TokenByte(int32_t id) const;
  bool byte_fallback() const { return byte_fallback_; }

 private:
  struct Symbol {
    uint32_t start = 0;
    uint32_t len = 0;
    int32_t id = -1;  // -1: not a token
    int32_t prev = -1;
    int32_t next = -1;
  };
  struct Candidate;

  BpeModel() = default;
  std::optional<Candidate> Pair(absl::string_view word,
                                const std::vector<Symbol>& symbols, int32_t left) const;
  void EmitSymbol(absl::string_view text, int32_t id, std::vector<int32_t>& out,
                  bool& last_was_unk) const;

  std::vector<std::string> tokens_;
  absl::flat_hash_map<std::string, int32_t> ids_;
  absl::flat_hash_map<uint64_t, std::pair<int32_t, int32_t>> merges_;  // rank, id
  std::vector<float> scores_;
  std::optional<int32_t> unk_id_;
  bool byte_fallback_ = false;
  bool fuse_unk_ = false;
  bool ignore_merges_ = false;
  int32_t byte_ids_[256];
};

}  // namespace tandem::tokenizer

#endif  // TANDEM_TOKENIZER_BPE_MODEL_H_
