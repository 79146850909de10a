#ifndef TANDEM_SERVICES_COMMON_BEARER_AUTH_H_
#define TANDEM_SERVICES_COMMON_BEARER_AUTH_H_

#include <string>

#include <grpcpp/security/auth_metadata_processor.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tandem::services {

// Reads a bearer token: the file's content without surrounding whitespace. It
// must be non-empty printable ASCII without spaces (a valid header value).
// Errors name the path, never the content.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

// secret == presented, in time that depends only on presented.size(): not on
// where the strings differ, nor on the secret's length.
bool ConstantTimeEquals(absl::string_view secret, absl::string_view presented);

// Server-side bearer authentication (installed on TLS server credentials):
// a call must carry the metadata "authorization: Bearer <token>", compared in
// constant time, else it fails with UNAUTHENTICATED before reaching a handler.
// Calls to grpc.health.v1.Health stay open so load balancers and orchestrator
// readiness probes need no secret. The authorization entry is consumed:
// handlers never see the token. Thread-safe.
class BearerTokenAuthProcessor : public grpc::AuthMetadataProcessor {
 public:
  explicit BearerTokenAuthProcessor(std::string token) : token_(std::move(token)) {}

  bool IsBlocking() const override { return false; }
  grpc::Status Process(const InputMetadata& auth_metadata, grpc::AuthContext* context,
                       OutputMetadata* consumed_auth_metadata,
                       OutputMetadata* response_metadata) override;

 private:
  const std::string token_;
};

}  // namespace tandem::services

#endif  // TANDEM_SERVICES_COMMON_BEARER_AUTH_H_
