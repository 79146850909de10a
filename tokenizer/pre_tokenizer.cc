#include "tokenizer/pre_tokenizer.h"

#include "tokenizer/byte_level.h"
#include "tokenizer/normalizer.h"

namespace tandem::tokenizer {
namespace {

using Words = std::vector<std::string>;

Words SplitAll(const Words& words, const RegexSplitter& splitter) {
  Words out;
  for (const std::string& w : words) {
    for (absl::string_view piece : splitter.Split(w)) out.emplace_back(piece);
  }
  return out;
}

Words Metaspace(const Words& words, const PreTokenizerStep& step, bool first) {
  Words out;
  for (size_t i = 0; i < words.size(); ++i) {
    std::string w = ReplaceAll(words[i], " ", step.replacement);
    const bool prepend =
        step.prepend == PreTokenizerStep::Prepend::kAlways ||
        (step.prepend == PreTokenizerStep::Prepend::kFirst && first && i == 0);
    if (prepend && w.rfind(step.replacement, 0) != 0) w = step.replacement + w;
    if (!step.split) {
      out.push_back(std::move(w));
      continue;
    }
    // Split before every replacement character (MergedWithNext).
    size_t begin = 0;
    size_t pos = w.find(step.replacement, 1);
    while (pos != std::string::npos) {
      out.push_back(w.substr(begin, pos - begin));
      begin = pos;
      pos = w.find(step.replacement, pos + step.replacement.size());
    }
    if (begin < w.size()) out.push_back(w.substr(begin));
  }
  return out;
}

Words Digits(const Words& words, bool individual) {
  Words out;
  for (const std::string& w : words) {
    size_t begin = 0;
    for (size_t i = 1; i <= w.size(); ++i) {
      const bool prev_digit = w[i - 1] >= '0' && w[i - 1] <= '9';
      const bool cut = i == w.size() ||
                       (prev_digit != (w[i] >= '0' && w[i] <= '9')) ||
                       (prev_digit && individual);
      if (cut) {
        out.push_back(w.substr(begin, i - begin));
        begin = i;
      }
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<PreTokenizer> PreTokenizer::ByteLevelWithPatterns(
    const std::vector<std::string>& patterns) {
  std::vector<PreTokenizerStep> steps;
  for (const std::string& p : patterns) {
    auto splitter = RegexSplitter::Create(p, /*literal=*/false,
                                          SplitBehavior::kIsolated, false);
    if (!splitter.ok()) return splitter.status();
    PreTokenizerStep step;
    step.kind = PreTokenizerStep::Kind::kSplit;
    step.splitter = std::move(*splitter);
    steps.push_back(std::move(step));
  }
  PreTokenizerStep byte_level;
  byte_level.kind = PreTokenizerStep::Kind::kByteLevel;
  steps.push_back(std::move(byte_level));
  return PreTokenizer(std::move(steps));
}

std::vector<std::string> PreTokenizer::Apply(absl::string_view text,
                                             bool first_segment) const {
  Words words = {std::string(text)};
  for (const PreTokenizerStep& step : steps_) {
    switch (step.kind) {
      case PreTokenizerStep::Kind::kSplit:
        words = SplitAll(words, *step.splitter);
        break;
      case PreTokenizerStep::Kind::kByteLevel: {
        if (step.add_prefix_space && !words.empty() && !words[0].empty() &&
            words[0][0] != ' ') {
          words[0] = " " + words[0];
        }
        if (step.splitter != nullptr) words = SplitAll(words, *step.splitter);
        for (std::string& w : words) w = BytesToByteLevel(w);
        break;
      }
      case PreTokenizerStep::Kind::kMetaspace:
        words = Metaspace(words, step, first_segment);
        break;
      case PreTokenizerStep::Kind::kDigits:
        words = Digits(words, step.individual_digits);
        break;
    }
  }
  Words out;
  for (std::string& w : words) {
    if (!w.empty()) out.push_back(std::move(w));
  }
  return out;
}

bool PreTokenizer::byte_level() const {
  for (const PreTokenizerStep& step : steps_) {
    if (step.kind == PreTokenizerStep::Kind::kByteLevel) return true;
  }
  return false;
}

}  // namespace tandem::tokenizer
