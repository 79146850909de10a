#ifndef TANDEM_TESTS_CONFORMANCE_TOKENIZER_CORPUS_H_
#define TANDEM_TESTS_CONFORMANCE_TOKENIZER_CORPUS_H_

// A deterministic corpus of strings that exercise tokenizers: scripts
// (Latin, CJK, Arabic, Devanagari, Cyrillic, ...), combining marks, emoji
// incl. ZWJ sequences and flags, whitespace runs (tabs, newlines, CR, NBSP),
// code, numbers, punctuation and English contractions.

#include <cstdint>
#include <string>
#include <vector>

namespace tandem::testing {

// `count` valid UTF-8 strings (the first ones are the hand-written fragments
// themselves, then random mixtures), the same for the same seed.
// `with_special_text` adds fragments such as "<|endoftext|>" and "<s>".
std::vector<std::string> TokenizerCorpus(int count, uint32_t seed,
                                         bool with_special_text);

// Number of i where ours[i] == expected[i] (expected: parsed JSON array of
// id arrays); the first `max_reported` differences are appended to *report.
int CountIdentical(const std::vector<std::string>& texts,
                   const std::vector<std::vector<int32_t>>& ours,
                   const std::vector<std::vector<int32_t>>& expected,
                   int max_reported, std::string* report);

// Parses the oracle's stdout: a JSON array of integer arrays.
std::vector<std::vector<int32_t>> ParseIdArrays(const std::string& json_text);

// `texts` as a JSON array written to a fresh file under $TEST_TMPDIR.
std::string WriteJsonStrings(const std::vector<std::string>& texts);

}  // namespace tandem::testing

#endif  // TANDEM_TESTS_CONFORMANCE_TOKENIZER_CORPUS_H_
