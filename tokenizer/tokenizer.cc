#include "tokenizer/tokenizer.h"

#include <cstdint>

#include "absl/strings/str_format.h"

namespace tandem::tokenizer {
namespace {

constexpr uint64_t kFnvOffset = 1469598103934665603ull;
constexpr uint64_t kFnvPrime = 1099511628211ull;

void Mix(uint64_t& h, absl::string_view bytes) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= kFnvPrime;
  }
}

}  // namespace

std::string ComputeIdentity(absl::string_view format, const Tokenizer& tokenizer) {
  uint64_t h = kFnvOffset;
  const int32_t n = tokenizer.vocab_size();
  for (int32_t id = 0; id < n; ++id) {
    auto bytes = tokenizer.TokenBytes(id);
    const std::string& text = bytes.ok() ? *bytes : std::string();
    const std::string header = absl::StrFormat(
        "%d:%d:%d:", id, tokenizer.IsSpecial(id) ? 1 : 0, text.size());
    Mix(h, header);
    Mix(h, text);
  }
  return absl::StrFormat("%s vocab=%d fp=%016x", format, n, h);
}

absl::string_view IdentityFingerprint(absl::string_view identity) {
  const size_t pos = identity.rfind("fp=");
  return pos == absl::string_view::npos ? identity : identity.substr(pos);
}

}  // namespace tandem::tokenizer
