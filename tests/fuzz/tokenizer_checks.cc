#include "tests/fuzz/tokenizer_checks.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/fuzz/fuzz_util.h"
#include "tokenizer/utf8.h"

namespace tandem::fuzz {
namespace {

// Ids whose TokenBytes/IsSpecial are checked per input: bounds the time of
// one execution on large vocabularies.
constexpr int32_t kMaxCheckedIds = 4096;

void CheckRoundTrip(const tokenizer::Tokenizer& t, absl::string_view text,
                    const tokenizer::EncodeOptions& options) {
  absl::StatusOr<std::vector<int32_t>> ids = t.Encode(text, options);
  if (!tokenizer::IsValidUtf8(text)) {
    FuzzCheck(!ids.ok(), "Encode accepted invalid UTF-8");
    return;
  }
  FuzzCheck(ids.ok(), absl::StrCat("Encode failed on valid UTF-8: ", ids.status().ToString()));
  for (int32_t id : *ids) {
    FuzzCheck(id >= 0 && id < t.vocab_size(),
              absl::StrCat("Encode returned id ", id, " outside [0, ", t.vocab_size(), ")"));
  }
  for (bool skip : {false, true}) {
    tokenizer::DecodeOptions d;
    d.skip_special_tokens = skip;
    absl::StatusOr<std::string> decoded = t.Decode(*ids, d);
    FuzzCheck(decoded.ok(), "Decode failed on ids Encode returned");
    FuzzCheck(tokenizer::IsValidUtf8(*decoded), "Decode returned invalid UTF-8");
  }
}

}  // namespace

void ExerciseTokenizer(const tokenizer::Tokenizer& t, absl::string_view extra_text) {
  const int32_t n = t.vocab_size();
  FuzzCheck(n >= 0, "negative vocab_size");
  const std::string fixed[] = {"Hello world", " tandem  12345 ünïcödé\n\t", "🦙 <s></s><|endoftext|>",
                               ""};
  for (bool specials : {false, true}) {
    tokenizer::EncodeOptions o;
    o.add_special_tokens = specials;
    o.parse_special = specials;
    for (const std::string& text : fixed) CheckRoundTrip(t, text, o);
    CheckRoundTrip(t, extra_text, o);
  }
  std::vector<int32_t> ids;
  for (int32_t id = 0; id < std::min(n, kMaxCheckedIds); ++id) {
    FuzzCheck(t.TokenBytes(id).ok(), absl::StrCat("TokenBytes(", id, ") failed"));
    ids.push_back(id);
  }
  FuzzCheck(t.Decode(ids).ok(), "Decode of in-range ids failed");
  for (int32_t bad : {-1, n}) {
    FuzzCheck(!t.TokenBytes(bad).ok() && !t.Decode({bad}).ok() && !t.IsSpecial(bad),
              absl::StrCat("out-of-range id ", bad, " accepted"));
  }
  const std::vector<int32_t> special = t.special_ids();
  FuzzCheck(std::is_sorted(special.begin(), special.end()), "special_ids() not ascending");
  for (int32_t id : special) FuzzCheck(t.IsSpecial(id), "special_ids() and IsSpecial disagree");
  for (std::optional<int32_t> id : {t.bos_id(), t.eos_id()}) {
    FuzzCheck(!id || (*id >= 0 && *id < n), "BOS/EOS id outside the vocabulary");
  }
  FuzzCheck(!t.identity().empty(), "empty identity()");
}

}  // namespace tandem::fuzz
