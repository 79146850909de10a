#include "services/common/bearer_auth.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace tandem::services {
namespace {

constexpr absl::string_view kHealthPrefix = "/grpc.health.v1.Health/";
constexpr absl::string_view kBearer = "Bearer ";

}  // namespace

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot read auth token file \"", path, "\""));
  }
  std::stringstream content;
  content << in.rdbuf();
  const std::string token(absl::StripAsciiWhitespace(content.str()));
  if (token.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("auth token file \"", path, "\" is empty"));
  }
  for (char c : token) {
    if (c < 0x21 || c > 0x7E) {
      return absl::InvalidArgumentError(absl::StrCat(
          "auth token file \"", path,
          "\" must hold one token of printable ASCII characters without spaces"));
    }
  }
  return token;
}

bool ConstantTimeEquals(absl::string_view secret, absl::string_view presented) {
  // Walks all of `presented` whatever happens and folds the length difference
  // in, so the mismatch position does not show in the timing.
  unsigned char diff = secret.size() == presented.size() ? 0 : 1;
  for (size_t i = 0; i < presented.size(); ++i) {
    const unsigned char s =
        secret.empty() ? 0 : static_cast<unsigned char>(secret[i % secret.size()]);
    diff |= s ^ static_cast<unsigned char>(presented[i]);
  }
  return diff == 0;
}

grpc::Status BearerTokenAuthProcessor::Process(const InputMetadata& auth_metadata,
                                               grpc::AuthContext*,
                                               OutputMetadata* consumed_auth_metadata,
                                               OutputMetadata*) {
  const auto path = auth_metadata.find(":path");
  if (path != auth_metadata.end() &&
      absl::StartsWith(absl::string_view(path->second.data(), path->second.size()),
                       kHealthPrefix)) {
    return grpc::Status::OK;
  }
  const auto range = auth_metadata.equal_range("authorization");
  if (range.first == range.second) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "missing \"authorization: Bearer <token>\" metadata");
  }
  bool ok = false;
  for (auto it = range.first; it != range.second; ++it) {
    const absl::string_view value(it->second.data(), it->second.size());
    if (absl::StartsWith(value, kBearer) &&
        ConstantTimeEquals(token_, value.substr(kBearer.size()))) {
      ok = true;
    }
    consumed_auth_metadata->emplace(std::string(it->first.data(), it->first.size()),
                                    std::string(value));
  }
  if (!ok) return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "invalid bearer token");
  return grpc::Status::OK;
}

}  // namespace tandem::services
