// target: serves tandem.v1.TargetService (verification, decoding,
// self-speculative drafting) for one model.
//
//   bazel run //services/target -- --model=assets/target --listen=127.0.0.1:50051

#include <string>

#include "absl/flags/flag.h"
#include "services/common/model_server_main.h"
#include "services/target/target_service.h"

ABSL_FLAG(std::string, model, "", "HF checkpoint directory or .gguf file");
ABSL_FLAG(std::string, device, "cpu", "cpu, cuda or cuda:N");
ABSL_FLAG(std::string, dtype, "float32", "float32, bfloat16 or float16");
ABSL_FLAG(std::string, listen, "127.0.0.1:50051", "host:port (port 0 = any free port)");
ABSL_FLAG(std::string, port_file, "", "Write the bound port to this file");
ABSL_FLAG(int64_t, max_sessions, 64, "Concurrent sessions (KV caches)");
ABSL_FLAG(int64_t, max_context, 0, "Positions per session; 0 = the model's context length");
ABSL_FLAG(int64_t, prefix_cache, 8,
          "Closed sessions whose KV cache is kept so that a new prompt starting with the same "
          "tokens (16 or more) copies it instead of recomputing it; least recently used first "
          "to go, and whenever the KV budget or the session limit needs room. 0 = off");
ABSL_FLAG(std::string, kv_budget, "",
          "KV-cache memory all sessions may hold: bytes (suffix K, M, G, KiB, MiB, GiB) or a "
          "fraction in (0, 1) of physical RAM; sessions reserve what they need at open and are "
          "refused RESOURCE_EXHAUSTED beyond it. \"\" = unlimited");
ABSL_FLAG(int64_t, max_queued_items, 256,
          "Items waiting for a batch before calls get RESOURCE_EXHAUSTED (0 = no limit)");
ABSL_FLAG(int64_t, session_ttl_s, 300, "Idle seconds before a session is closed");
ABSL_FLAG(int64_t, prefill_chunk, 256,
          "Prompt positions a session's prefill runs per engine step, in the same forward as "
          "other sessions' rows (>= 1)");
ABSL_FLAG(int64_t, max_step_rows, tandem::services::ModelServerOptions{}.max_step_rows,
          "Rows one engine step may run: running sequences' rows first, then prompt chunks "
          "shrunk to what is left, oldest first, so a burst of long prompts neither stalls the "
          "streams nor makes every prompt wait for all of them (>= 0; 0 = no budget)");
ABSL_FLAG(bool, prompt_tail_with_first_step,
          tandem::services::ModelServerOptions{}.prompt_tail_with_first_step,
          "OpenSession leaves the prompt's last chunk to the session's first step, which runs it "
          "in the same forward that yields the first token (one engine step less before it)");
ABSL_FLAG(int, batch_window_us, 0, "Batching window; 0 = continuous batching");
ABSL_FLAG(bool, inline_batches, tandem::services::ModelServerOptions{}.inline_batches,
          "When the engine is idle, run a call's items on its handler thread (no hand-off to the "
          "batch worker); false = always through the worker");
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
  using tandem::services::TargetServiceImpl;
  return tandem::services::ModelServerMain<tandem::v1::TargetService, TargetServiceImpl>(
      argc, argv, "target");
}
