#ifndef TANDEM_SERVICES_COMMON_STATUS_H_
#define TANDEM_SERVICES_COMMON_STATUS_H_

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "proto/tandem/v1/session.pb.h"

namespace tandem::services {

// The one place absl::Status becomes grpc::Status (and back, for clients of
// the internal services). Messages longer than 1 KiB are truncated.
grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

// Per-item status of the batched internal RPCs.
void ToItemStatus(const absl::Status& status, v1::ItemStatus* out);
absl::Status FromItemStatus(const v1::ItemStatus& status);

}  // namespace tandem::services

#endif  // TANDEM_SERVICES_COMMON_STATUS_H_
