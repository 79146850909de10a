#ifndef TANDEM_TOOLS_MAKE_TINY_MODEL_TINY_VOCAB_H_
#define TANDEM_TOOLS_MAKE_TINY_MODEL_TINY_VOCAB_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/model_config.h"

namespace tandem::tools {

// llama.cpp token types (tokenizer.ggml.token_type).
enum TokenType : int32_t {
  kTokenNormal = 1,
  kTokenUnknown = 2,
  kTokenControl = 3,
  kTokenUnused = 5,
  kTokenByte = 6,
};

// A vocabulary as GGUF stores it (tokenizer.ggml.*).
struct TinyVocab {
  std::string model;            // "llama" (SentencePiece) or "gpt2" (byte-level BPE).
  std::string pre;              // tokenizer.ggml.pre ("gpt-2"), empty for llama.
  std::vector<std::string> tokens;
  std::vector<float> scores;    // Empty for gpt2.
  std::vector<int32_t> token_types;
  std::vector<std::string> merges;  // gpt2 only: "a b" per merge, rank order.
  int64_t bos_id = 0;
  int64_t eos_id = 0;
  int64_t unk_id = -1;          // -1: none.
};

// A synthetic vocabulary of exactly `vocab_size` unique tokens that llama.cpp
// accepts. Llama: <unk>, <s>, </s>, the 256 byte tokens <0x00>..<0xFF>, then
// "▁a".."▁z" and letter pairs (scores decreasing), padded with <unused_N>;
// needs vocab_size >= 259. GPT-2: the 256 byte-level symbols in GPT-2's
// bytes_to_unicode order, then merges of "Ġ"/letter + letter, padded with
// <|unused_N|>, and <|endoftext|> last (bos = eos); needs vocab_size >= 257.
absl::StatusOr<TinyVocab> MakeSyntheticVocab(model::Architecture arch, int64_t vocab_size);

}  // namespace tandem::tools

#endif  // TANDEM_TOOLS_MAKE_TINY_MODEL_TINY_VOCAB_H_
