#ifndef TANDEM_SERVICES_COMMON_MODEL_SERVER_MAIN_H_
#define TANDEM_SERVICES_COMMON_MODEL_SERVER_MAIN_H_

#include <functional>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/service_type.h>

#include "model/model.h"
#include "services/common/model_server_options.h"

namespace tandem::services {

// The body shared by the draft and target binaries once their flags are
// parsed: checks the security files (options.security), sets LibTorch's
// thread count (threads > 0), loads the model and its tokenizer identity,
// builds the service with `make_service`, serves (and options.metrics_listen)
// until SIGINT/SIGTERM. `service_full_name` (e.g. "tandem.v1.TargetService")
// answers grpc.health.v1 besides "". Returns the process exit code (errors go
// to stderr).
int ServeModel(ModelServerOptions options, const std::string& port_file, const std::string& name,
               const std::string& service_full_name, int threads,
               const std::function<std::unique_ptr<grpc::Service>(const ModelServerOptions&,
                                                                  model::Model&)>& make_service);

}  // namespace tandem::services

#endif  // TANDEM_SERVICES_COMMON_MODEL_SERVER_MAIN_H_
