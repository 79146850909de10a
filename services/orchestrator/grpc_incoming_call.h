#ifndef TANDEM_SERVICES_ORCHESTRATOR_GRPC_INCOMING_CALL_H_
#define TANDEM_SERVICES_ORCHESTRATOR_GRPC_INCOMING_CALL_H_

#include <grpcpp/grpcpp.h>

#include "decoding/backends.h"

namespace tandem::services {

// The gRPC server call a request arrived on, as a decoding::IncomingCall:
// the remote backends (remote_backends.h) propagate its deadline and
// cancellation to their own calls. Thread-safe.
class GrpcIncomingCall : public decoding::IncomingCall {
 public:
  // `context` (a sync or callback server context) must outlive this object.
  explicit GrpcIncomingCall(const grpc::ServerContextBase& context) : context_(context) {}
  bool cancelled() const override { return context_.IsCancelled(); }
  const grpc::ServerContextBase& context() const { return context_; }

 private:
  const grpc::ServerContextBase& context_;
};

}  // namespace tandem::services

#endif  // TANDEM_SERVICES_ORCHESTRATOR_GRPC_INCOMING_CALL_H_
