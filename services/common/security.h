#ifndef TANDEM_SERVICES_COMMON_SECURITY_H_
#define TANDEM_SERVICES_COMMON_SECURITY_H_

#include <memory>
#include <string>

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include "absl/status/statusor.h"

namespace tandem::services {

// How a server authenticates itself and its callers. All empty = plaintext,
// no authentication (only for loopback or a trusted network).
struct ServerSecurity {
  std::string cert_file;  // PEM certificate chain; set with key_file → TLS.
  std::string key_file;   // PEM private key.
  // PEM CA bundle; set → mutual TLS: clients must present a certificate
  // signed by one of these CAs (the handshake fails otherwise).
  std::string client_ca_file;
  // Set → every call except grpc.health.v1.Health must carry
  // "authorization: Bearer <token>" (UNAUTHENTICATED otherwise). Needs TLS:
  // a bearer token never travels in plaintext.
  std::string bearer_token_file;
};

// Insecure credentials when no certificate is configured, else TLS (+ client
// verification, + bearer authentication as configured). Files are read once,
// here. InvalidArgument for an inconsistent combination, NotFound /
// InvalidArgument naming the file for one that cannot be read or is not PEM.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerSecurity& security);

// How a client reaches a server. All empty = plaintext.
struct ChannelSecurity {
  // PEM CA bundle that signs the server's certificate; set → TLS. (With only
  // cert_file/key_file set, TLS against the system's default roots.)
  std::string ca_file;
  std::string cert_file;  // Client certificate for mutual TLS (with key_file).
  std::string key_file;
  // Sent as "authorization: Bearer <token>" on every call. Needs TLS.
  std::string bearer_token_file;
};

// Channel credentials for `security`, same errors as MakeServerCredentials.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const ChannelSecurity& security);

}  // namespace tandem::services

#endif  // TANDEM_SERVICES_COMMON_SECURITY_H_
