#include "services/common/status.h"

#include <string>

namespace tandem::services {
namespace {

constexpr size_t kMaxMessage = 1024;

std::string Truncate(absl::string_view message) {
  if (message.size() <= kMaxMessage) return std::string(message);
  return std::string(message.substr(0, kMaxMessage)) + "...";
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      Truncate(status.message()));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

void ToItemStatus(const absl::Status& status, v1::ItemStatus* out) {
  out->set_code(static_cast<int32_t>(status.code()));
  out->set_message(Truncate(status.message()));
}

absl::Status FromItemStatus(const v1::ItemStatus& status) {
  if (status.code() == 0) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.code()), status.message());
}

}  // namespace tandem::services
