// libFuzzer target: a Hugging Face tokenizer.json (ParseHfTokenizerJson),
// then the loaded tokenizer through ExerciseTokenizer with the input's last
// 32 bytes as extra text to encode. Errors are fine; crashes, UB and broken
// Tokenizer invariants are not.
#include <cstddef>
#include <cstdint>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "tests/fuzz/fuzz_util.h"
#include "tests/fuzz/tokenizer_checks.h"
#include "tokenizer/hf_tokenizer_json.h"

namespace tandem::fuzz {

int FuzzTokenizerJson(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  // A fixed tokenizer_config.json exercises the BOS/EOS lookup as well.
  auto tok = tokenizer::ParseHfTokenizerJson(
      text, "fuzz/tokenizer.json", R"({"bos_token": "<s>", "eos_token": {"content": "</s>"}})");
  if (!tok.ok()) {
    FuzzCheck(absl::StrContains(tok.status().message(), "fuzz/tokenizer.json"),
              absl::StrCat("error does not name the file: ", tok.status().ToString()));
    return 0;
  }
  ExerciseTokenizer(**tok, text.substr(size > 32 ? size - 32 : 0));
  return 0;
}

}  // namespace tandem::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return tandem::fuzz::FuzzTokenizerJson(data, size);
}
