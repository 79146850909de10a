#ifndef TANDEM_SERVICES_COMMON_CHANNEL_H_
#define TANDEM_SERVICES_COMMON_CHANNEL_H_

#include <cstdint>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "services/common/security.h"

namespace tandem::services {

// A channel to `address` with tandem's message-size limits and the given
// transport security (plaintext by default). Connects lazily. Errors are those
// of MakeChannelCredentials (unreadable or inconsistent security files).
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(
    const std::string& address, const ChannelSecurity& security = {},
    int64_t max_message_bytes = 64 << 20);

}  // namespace tandem::services

#endif  // TANDEM_SERVICES_COMMON_CHANNEL_H_
