#include "tests/conformance/tokenizer/corpus.h"

#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "tests/testing/oracles.h"
#include "tokenizer/utf8.h"

namespace tandem::testing {
namespace {

const char* const kFragments[] = {
    "Hello world", "hello", " Hello", "HELLO WORLD!", "The quick brown fox jumps over the lazy dog.",
    "don't", "I'm", "they're", "we've", "she'll", "he'd", "it's", "IT'S", "You'RE", "o'clock", "'tis",
    "1", "12", "123", "1234", "12345", "1234567890", "3.14159", "1,000,000", "2024-01-31", "0x1F",
    "v1.2.3", "10%", "$99.99", "-42", "1e-9",
    " ", "  ", "   ", "    ", "\t", "\t\t", "\n", "\n\n", "\n\n\n", " \n ", "\r\n", "\t \n", "  \t  ",
    "!", "?", "...", "!?!", "\xE2\x80\x94", "\xC2\xAB\xC2\xBB", "\"quoted\"", "(parens)", "[x]", "{y}",
    "@#$%^&*", "a.b,c;d:e", "--", "==", "->", "=>", "::", "/* */", "#include <stdio.h>",
    "def f(x):\n    return x ** 2\n", "for (int i = 0; i < n; ++i) {\n  sum += a[i];\n}",
    "std::vector<int> v;", "if x != y:", "<html><body></body></html>", "SELECT * FROM t WHERE id=1;",
    "\xE4\xBD\xA0\xE5\xA5\xBD\xE4\xB8\x96\xE7\x95\x8C",  // 你好世界
    "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xAE\xE3\x83\x86\xE3\x82\xAD\xE3\x82\xB9\xE3\x83\x88",
    "\xED\x95\x9C\xEA\xB5\xAD\xEC\x96\xB4 \xEB\xAC\xB8\xEC\x9E\xA5",  // 한국어 문장
    "\xD9\x85\xD8\xB1\xD8\xAD\xD8\xA8\xD8\xA7 \xD8\xA8\xD8\xA7\xD9\x84\xD8\xB9\xD8\xA7\xD9\x84\xD9\x85",
    "\xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D",  // שלום
    "\xE0\xA4\xA8\xE0\xA4\xAE\xE0\xA4\xB8\xE0\xA5\x8D\xE0\xA4\xA4\xE0\xA5\x87",  // नमस्ते
    "\xE0\xB8\xAA\xE0\xB8\xA7\xE0\xB8\xB1\xE0\xB8\xAA\xE0\xB8\x94\xE0\xB8\xB5",  // สวัสดี
    "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82 \xD0\xBC\xD0\xB8\xD1\x80",  // Привет мир
    "\xCE\x93\xCE\xB5\xCE\xB9\xCE\xAC \xCF\x83\xCE\xBF\xCF\x85",                  // Γειά σου
    "\xC3\x84pfel", "A\xCC\x88pfel", "e\xCC\x81", "n\xCC\x83o", "Cafe\xCC\x81", "\xC3\xA9t\xC3\xA9",
    "Z\xCD\x91\xCD\x8C\xCD\xA7" "a\xCC\x80l\xCC\x81g\xCC\x88o",  // zalgo-ish
    "\xF0\x9F\x98\x80", "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD", "\xF0\x9F\xA6\x99", "\xE2\x9D\xA4\xEF\xB8\x8F",
    "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7\xE2\x80\x8D\xF0\x9F\x91\xA6",
    "\xF0\x9F\x8F\xB3\xEF\xB8\x8F\xE2\x80\x8D\xF0\x9F\x8C\x88", "\xF0\x9F\x87\xBA\xF0\x9F\x87\xB8",
    "\xC2\xA0", "a\xC2\xA0" "b", "\xE3\x80\x80", "\xE2\x80\x8B", "\xE2\x80\xA8",
    "\xE2\x88\x80x \xE2\x88\x88 \xE2\x84\x9D", "\xE2\x94\x80\xE2\x94\x82", "\xC2\xBD", "\xE2\x85\xA3",
    "\xF0\x9D\x94\x98\xF0\x9D\x94\xAB", "\xEF\xBC\xA1\xEF\xBC\xA2\xEF\xBC\xA3", "\xEF\xAC\x81",
};

const char* const kSpecialFragments[] = {
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|begin_of_text|>", "<s>", "</s>", "<unk>",
};

// Codepoint ranges with assigned characters in every Unicode version since 10.
const char32_t kRanges[][2] = {
    {0x21, 0x7E},     {0xA1, 0x17F},    {0x370, 0x3CE},   {0x410, 0x44F},
    {0x5D0, 0x5EA},   {0x621, 0x64A},   {0x905, 0x939},   {0x3041, 0x3093},
    {0x4E00, 0x9FA5}, {0xAC00, 0xD7A3}, {0x1F600, 0x1F64F}, {0x2200, 0x22FF},
    {0x300, 0x36F},   {0x2500, 0x257F},
};


}  // namespace

std::vector<std::string> TokenizerCorpus(int count, uint32_t seed,
                                         bool with_special_text) {
  std::vector<std::string> fragments(std::begin(kFragments), std::end(kFragments));
  if (with_special_text) {
    fragments.insert(fragments.end(), std::begin(kSpecialFragments), std::end(kSpecialFragments));
  }
  const char* const separators[] = {"", " ", " ", "  ", "\n", "\t", ", "};
  std::mt19937 rng(seed);
  auto pick = [&rng](size_t n) { return static_cast<size_t>(rng() % n); };
  std::vector<std::string> out;
  for (const std::string& f : fragments) {
    if (static_cast<int>(out.size()) < count) out.push_back(f);
  }
  while (static_cast<int>(out.size()) < count) {
    std::string s;
    if (pick(4) == 0) {  // random characters from assigned ranges
      const size_t n = 1 + pick(12);
      for (size_t i = 0; i < n; ++i) {
        const auto& r = kRanges[pick(std::size(kRanges))];
        ::tandem::tokenizer::AppendCodepoint(r[0] + static_cast<char32_t>(pick(r[1] - r[0] + 1)), s);
        if (pick(5) == 0) s += separators[pick(std::size(separators))];
      }
    } else {  // a mixture of fragments
      const size_t n = 1 + pick(6);
      for (size_t i = 0; i < n; ++i) {
        if (i > 0) s += separators[pick(std::size(separators))];
        s += fragments[pick(fragments.size())];
      }
    }
    out.push_back(std::move(s));
  }
  return out;
}

int CountIdentical(const std::vector<std::string>& texts,
                   const std::vector<std::vector<int32_t>>& ours,
                   const std::vector<std::vector<int32_t>>& expected,
                   int max_reported, std::string* report) {
  int identical = 0;
  int reported = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const bool same = i < ours.size() && i < expected.size() && ours[i] == expected[i];
    if (same) {
      ++identical;
    } else if (reported++ < max_reported) {
      *report += "text " + nlohmann::json(texts[i]).dump() + "\n  ours:   " +
                 (i < ours.size() ? nlohmann::json(ours[i]).dump() : "-") +
                 "\n  oracle: " + (i < expected.size() ? nlohmann::json(expected[i]).dump() : "-") +
                 "\n";
    }
  }
  return identical;
}

std::vector<std::vector<int32_t>> ParseIdArrays(const std::string& json_text) {
  std::vector<std::vector<int32_t>> out;
  const nlohmann::json j = nlohmann::json::parse(json_text, nullptr, false);
  if (!j.is_array()) return out;
  for (const auto& row : j) {
    std::vector<int32_t> ids;
    if (row.is_array()) {
      for (const auto& id : row) ids.push_back(id.is_number_integer() ? id.get<int32_t>() : -1);
    }
    out.push_back(std::move(ids));
  }
  return out;
}

std::string WriteJsonStrings(const std::vector<std::string>& texts) {
  const std::string path = MakeTempDir("corpus") + "/texts.json";
  std::ofstream(path) << nlohmann::json(texts).dump();
  return path;
}

}  // namespace tandem::testing
