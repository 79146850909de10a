#include "services/common/security.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/common/bearer_auth.h"

namespace tandem::services {
namespace {

// The file's content if it is readable and holds a PEM block of `kind`
// ("CERTIFICATE" or "PRIVATE KEY", which also matches "EC/RSA PRIVATE KEY").
absl::StatusOr<std::string> ReadPem(const std::string& path, absl::string_view what,
                                    absl::string_view kind) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", what, " \"", path, "\""));
  std::stringstream content;
  content << in.rdbuf();
  const std::string pem = content.str();
  if (!absl::StrContains(pem, "-----BEGIN ") ||
      !absl::StrContains(pem, absl::StrCat(kind, "-----"))) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " \"", path, "\" is not a PEM ", absl::AsciiStrToLower(kind)));
  }
  return pem;
}

absl::Status CheckPair(const std::string& cert_file, const std::string& key_file,
                       absl::string_view side) {
  if (cert_file.empty() != key_file.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        side, " TLS needs both a certificate and a private key file, got only the ",
        cert_file.empty() ? "key" : "certificate"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerSecurity& security) {
  if (absl::Status s = CheckPair(security.cert_file, security.key_file, "server"); !s.ok()) {
    return s;
  }
  const bool tls = !security.cert_file.empty();
  if (!tls && !security.client_ca_file.empty()) {
    return absl::InvalidArgumentError(
        "client certificate verification (a client CA file) needs server TLS: set a "
        "certificate and key");
  }
  if (!tls && !security.bearer_token_file.empty()) {
    return absl::InvalidArgumentError(
        "bearer authentication needs server TLS (a token never travels in plaintext): set a "
        "certificate and key");
  }
  if (!tls) return grpc::InsecureServerCredentials();
  absl::StatusOr<std::string> cert =
      ReadPem(security.cert_file, "TLS certificate file", "CERTIFICATE");
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadPem(security.key_file, "TLS key file", "PRIVATE KEY");
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions options(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  options.pem_key_cert_pairs.push_back({*key, *cert});
  if (!security.client_ca_file.empty()) {
    absl::StatusOr<std::string> ca =
        ReadPem(security.client_ca_file, "client CA file", "CERTIFICATE");
    if (!ca.ok()) return ca.status();
    options.pem_root_certs = *ca;
    options.client_certificate_request =
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::SslServerCredentials(options);
  if (!security.bearer_token_file.empty()) {
    absl::StatusOr<std::string> token = ReadTokenFile(security.bearer_token_file);
    if (!token.ok()) return token.status();
    credentials->SetAuthMetadataProcessor(
        std::make_shared<BearerTokenAuthProcessor>(*std::move(token)));
  }
  return credentials;
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const ChannelSecurity& security) {
  if (absl::Status s = CheckPair(security.cert_file, security.key_file, "client"); !s.ok()) {
    return s;
  }
  const bool tls = !security.ca_file.empty() || !security.cert_file.empty();
  if (!tls && !security.bearer_token_file.empty()) {
    return absl::InvalidArgumentError(
        "a bearer token needs TLS (it never travels in plaintext): set a CA file");
  }
  if (!tls) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions options;
  if (!security.ca_file.empty()) {
    absl::StatusOr<std::string> ca = ReadPem(security.ca_file, "TLS CA file", "CERTIFICATE");
    if (!ca.ok()) return ca.status();
    options.pem_root_certs = *ca;
  }
  if (!security.cert_file.empty()) {
    absl::StatusOr<std::string> cert =
        ReadPem(security.cert_file, "TLS certificate file", "CERTIFICATE");
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadPem(security.key_file, "TLS key file", "PRIVATE KEY");
    if (!key.ok()) return key.status();
    options.pem_cert_chain = *cert;
    options.pem_private_key = *key;
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::SslCredentials(options);
  if (security.bearer_token_file.empty()) return credentials;
  absl::StatusOr<std::string> token = ReadTokenFile(security.bearer_token_file);
  if (!token.ok()) return token.status();
  return grpc::CompositeChannelCredentials(credentials, grpc::AccessTokenCredentials(*token));
}

}  // namespace tandem::services
