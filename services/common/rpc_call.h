#ifndef TANDEM_SERVICES_COMMON_RPC_CALL_H_
#define TANDEM_SERVICES_COMMON_RPC_CALL_H_

#include <grpcpp/grpcpp.h>

#include <string>

namespace tandem::services {

// One RPC being served by a model server: its method name and the client
// request it belongs to (the "x-request-id" metadata the orchestrator
// forwards; else the request's own request_id field; else ""), for metrics
// and logs. Borrowed by the handlers for the duration of the call.
struct RpcCall {
  std::string method;
  std::string request_id;
  const grpc::ServerContext* context = nullptr;  // For cancellation checks; may be null.
};

}  // namespace tandem::services

#endif  // TANDEM_SERVICES_COMMON_RPC_CALL_H_
