#ifndef TANDEM_TESTS_FUZZ_TOKENIZER_CHECKS_H_
#define TANDEM_TESTS_FUZZ_TOKENIZER_CHECKS_H_

#include "absl/strings/string_view.h"
#include "tokenizer/tokenizer.h"

namespace tandem::fuzz {

// Runs a loaded tokenizer through the Tokenizer contract and aborts (see
// FuzzCheck) on a violation: Encode of a few fixed strings and of
// `extra_text` (any bytes; invalid UTF-8 must be an error) gives ids in
// [0, vocab_size()); Decode of those ids and TokenBytes/IsSpecial of the
// first ids succeed and Decode's text is valid UTF-8; special_ids() is
// ascending and agrees with IsSpecial; out-of-range ids are errors.
void ExerciseTokenizer(const tokenizer::Tokenizer& tokenizer, absl::string_view extra_text);

}  // namespace tandem::fuzz

#endif  // TANDEM_TESTS_FUZZ_TOKENIZER_CHECKS_H_
