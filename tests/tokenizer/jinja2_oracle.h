#ifndef TANDEM_TESTS_TOKENIZER_JINJA2_ORACLE_H_
#define TANDEM_TESTS_TOKENIZER_JINJA2_ORACLE_H_

// Comparing ChatTemplate against Python's jinja2 set up as Hugging Face
// transformers sets it up (hf_chat_template_oracle.py, run with Debian's
// python3 and python3-jinja2). A test using this declares
// data = ["hf_chat_template_oracle.py"].

#include <ctime>
#include <map>
#include <string>
#include <vector>

#include "tokenizer/chat_template.h"

namespace tandem::tokenizer::oracle {

inline constexpr std::time_t kOracleNow = 1721952000;  // 2024-07-26, for strftime_now

struct RenderCase {
  std::vector<ChatMessage> messages;
  bool add_generation_prompt = false;
  std::map<std::string, bool> flags;
  std::map<std::string, std::string> strings;
};

// Renders every case with `tmpl` (options: `base` plus the case's) and with
// jinja2 (template `source`), adding a gtest failure for each difference:
// different text, one side failing, or (for raise_exception) a different
// message. Returns how many cases both rendered.
int ExpectSameAsJinja2(const std::string& name, const std::string& source,
                       const ChatTemplate& tmpl, const ChatTemplateOptions& base,
                       const std::vector<RenderCase>& cases);

}  // namespace tandem::tokenizer::oracle

#endif  // TANDEM_TESTS_TOKENIZER_JINJA2_ORACLE_H_
