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

// What tells the draft and target binaries apart.
struct ModelServerKind {
  // "target" or "draft": the server's name in logs and start-up messages.
  std::string name;
  // The --help usage line.
  std::string usage;
  // The gRPC service's full name (e.g. "tandem.v1.TargetService"), answered
  // by grpc.health.v1 besides "".
  std::string service_full_name;
  // Builds the service over the loaded model (which outlives it).
  std::function<std::unique_ptr<grpc::Service>(const ModelServerOptions&, model::Model&)>
      make_service;
};

// The whole main() of a model server binary, whose main.cc defines the flags
// (names, defaults and help live only there) and calls this. Parses the
// command line and reads these flags by name (absl flag reflection):
//   model, device, dtype, listen, port_file, max_sessions, max_context,
//   max_queued_items, session_ttl_s, batch_window_us, threads,
//   metrics_listen, log_level, tls_cert, tls_key, tls_client_ca,
//   auth_token_file — required;
//   prefill_chunk (int64, >= 1), max_step_rows (int64, >= 0),
//   prompt_tail_with_first_step (bool) — optional (the target's; else the
//   ModelServerOptions default).
// Then checks the security files, sets LibTorch's thread count (threads > 0,
// else its default, set explicitly), loads the model and its tokenizer
// identity, builds the service with kind.make_service and serves (and
// --metrics_listen) until SIGINT/SIGTERM. Returns the process exit code: 0
// after a signal, 2 for a bad flag value or a flag the binary does not
// define, 1 when the model cannot be loaded or the server cannot start;
// errors go to stderr. Call once, from main.
int ModelServerMain(int argc, char** argv, const ModelServerKind& kind);

// The same for gRPC service `Service` (e.g. tandem::v1::TargetService)
// implemented by `Impl`, constructed as Impl(const ModelServerOptions&,
// model::Model&), named `name`.
template <typename Service, typename Impl>
int ModelServerMain(int argc, char** argv, const std::string& name) {
  ModelServerKind kind;
  kind.name = name;
  kind.service_full_name = Service::service_full_name();
  kind.usage = "Serves " + kind.service_full_name + " for one model.";
  kind.make_service = [](const ModelServerOptions& options, model::Model& model) {
    return std::unique_ptr<grpc::Service>(std::make_unique<Impl>(options, model));
  };
  return ModelServerMain(argc, argv, kind);
}

}  // namespace tandem::services

#endif  // TANDEM_SERVICES_COMMON_MODEL_SERVER_MAIN_H_
