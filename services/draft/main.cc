// draft: serves tandem.v1.DraftService (proposing draft tokens with their
// distributions) for one model.
//
//   bazel run //services/draft -- --model=assets/draft --listen=127.0.0.1:50052

#include <iostream>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "services/common/log.h"
#include "services/common/model_server_options.h"
#include "services/common/model_server_main.h"
#include "services/draft/draft_service.h"

ABSL_FLAG(std::string, model, "", "HF checkpoint directory or .gguf file");
ABSL_FLAG(std::string, device, "cpu", "cpu, cuda or cuda:N");
ABSL_FLAG(std::string, dtype, "float32", "float32, bfloat16 or float16");
ABSL_FLAG(std::string, listen, "127.0.0.1:50052", "host:port (port 0 = any free port)");
ABSL_FLAG(std::string, port_file, "", "Write the bound port to this file");
ABSL_FLAG(int64_t, max_sessions, 64, "Concurrent sessions (KV caches)");
ABSL_FLAG(int64_t, max_context, 0, "Positions per session; 0 = the model's context length");
ABSL_FLAG(int64_t, max_queued_items, 256,
          "Items waiting for a batch before calls get RESOURCE_EXHAUSTED (0 = no limit)");
ABSL_FLAG(int64_t, session_ttl_s, 300, "Idle seconds before a session is closed");
ABSL_FLAG(int, batch_window_us, 0, "Batching window; 0 = continuous batching");
ABSL_FLAG(int, threads, 0, "LibTorch intra-op threads; 0 = LibTorch's default");
ABSL_FLAG(std::string, metrics_listen, "",
          "host:port of the Prometheus /metrics and /healthz endpoint; empty = off");
ABSL_FLAG(std::string, log_level, "info", "JSON log lines on stderr: debug | info | warn | error");
ABSL_FLAG(std::string, tls_cert, "", "PEM server certificate chain (enables TLS, with --tls_key)");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA bundle: require client certificates signed by it (mutual TLS)");
ABSL_FLAG(std::string, auth_token_file, "",
          "File holding the bearer token every call must carry (needs TLS)");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Serves tandem.v1.DraftService for one model.");
  absl::ParseCommandLine(argc, argv);
  auto log_level = tandem::services::ParseLogLevel(absl::GetFlag(FLAGS_log_level));
  if (!log_level.ok()) {
    std::cerr << "error: --log_level: " << log_level.status().message() << "\n";
    return 2;
  }
  tandem::services::SetMinLogLevel(*log_level);
  tandem::services::ModelServerOptions options;
  options.model_path = absl::GetFlag(FLAGS_model);
  options.device = absl::GetFlag(FLAGS_device);
  options.dtype = absl::GetFlag(FLAGS_dtype);
  options.listen = absl::GetFlag(FLAGS_listen);
  options.max_sessions = absl::GetFlag(FLAGS_max_sessions);
  options.max_context = absl::GetFlag(FLAGS_max_context);
  options.session_ttl = absl::Seconds(absl::GetFlag(FLAGS_session_ttl_s));
  options.max_queued_items = absl::GetFlag(FLAGS_max_queued_items);
  options.batch_window = absl::Microseconds(absl::GetFlag(FLAGS_batch_window_us));
  options.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  options.security.cert_file = absl::GetFlag(FLAGS_tls_cert);
  options.security.key_file = absl::GetFlag(FLAGS_tls_key);
  options.security.client_ca_file = absl::GetFlag(FLAGS_tls_client_ca);
  options.security.bearer_token_file = absl::GetFlag(FLAGS_auth_token_file);
  return tandem::services::ServeModel(
      options, absl::GetFlag(FLAGS_port_file), "draft",
      tandem::v1::DraftService::service_full_name(), absl::GetFlag(FLAGS_threads),
      [](const tandem::services::ModelServerOptions& o, tandem::model::Model& model) {
        return std::make_unique<tandem::services::DraftServiceImpl>(o, model);
      });
}
