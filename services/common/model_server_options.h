#ifndef TANDEM_SERVICES_COMMON_MODEL_SERVER_OPTIONS_H_
#define TANDEM_SERVICES_COMMON_MODEL_SERVER_OPTIONS_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "model/model.h"
#include "services/common/security.h"

namespace tandem::services {

// What a draft or target server is started with (filled from flags in main).
struct ModelServerOptions {
  std::string model_path;     // HF checkpoint directory or .gguf file.
  std::string device = "cpu";  // "cpu", "cuda", "cuda:1".
  std::string dtype = "float32";  // float32 | bfloat16 | float16.
  std::string listen = "127.0.0.1:0";
  int64_t max_sessions = 64;
  int64_t max_context = 0;     // 0 = the model's context length.
  // Bytes of KV cache all sessions may hold together (sessions reserve their
  // max_sequence_length at open); 0 = unlimited. See ParseKvBudget.
  int64_t kv_budget_bytes = 0;
  // Closed sessions whose KV is kept for prompts that start the same way
  // (decoding/prefix_cache.h); 0 = off.
  int64_t prefix_cache_entries = 0;
  absl::Duration session_ttl = absl::Minutes(5);
  int max_items_per_call = 64;
  // Backpressure: items waiting for a batch, per operation; beyond it items
  // fail RESOURCE_EXHAUSTED at once (0 = no limit).
  int64_t max_queued_items = 256;
  int max_draft_length = 16;
  // Prompt positions a session's prefill runs per engine step (target):
  // chunks ride in the same forward as other sessions' verify rows, and the
  // engine is free between chunks, so a long prompt never stalls the streams.
  int64_t prefill_chunk = 256;
  // Rows one target step may run (decoding/step_row_budget.h): running
  // sequences' rows first, then prefill chunks shrunk to what is left, first
  // come first served; 0 = no budget (every queued item in one step).
  int64_t max_step_rows = 1024;
  // The target leaves a prompt's last chunk to the session's first step,
  // which runs it in the forward that yields the first token (one engine
  // step less before it). False: OpenSession runs the whole prompt.
  bool prompt_tail_with_first_step = true;
  absl::Duration batch_window = absl::ZeroDuration();
  // An idle engine runs a call's items on the handler's thread instead of
  // handing them to its batch worker (decoding::BatcherOptions::
  // run_inline_when_idle): less latency per call for a lone stream.
  bool inline_batches = true;
  int64_t max_message_bytes = 64 << 20;
  // Reported in ModelInfo.tokenizer.name so the orchestrator can refuse a
  // draft/target pair with different vocabularies (Tokenizer::identity()).
  std::string tokenizer_identity;
  // host:port of the Prometheus /metrics endpoint; "" = none.
  std::string metrics_listen;
  // TLS, mutual TLS and bearer authentication of the gRPC port.
  ServerSecurity security;
};

// "" -> 0 (unlimited); "123", "512M", "2GiB" (K/M/G = 10^3.., KiB/MiB/GiB =
// 2^10..) -> bytes; "0.25" (a fraction in (0, 1)) -> that share of
// `physical_ram_bytes`. InvalidArgument naming --kv_budget otherwise.
absl::StatusOr<int64_t> ParseKvBudget(const std::string& text, int64_t physical_ram_bytes);

// Loads the checkpoint at options.model_path and builds the model on the
// requested device and dtype. Errors name the path and what was wrong.
absl::StatusOr<std::unique_ptr<model::Model>> LoadModel(const ModelServerOptions& options);

// The identity of the tokenizer stored with the model (tokenizer.json,
// tokenizer.model or the GGUF vocabulary), or "" when there is none.
std::string TokenizerIdentityOf(const std::string& model_path);

}  // namespace tandem::services

#endif  // TANDEM_SERVICES_COMMON_MODEL_SERVER_OPTIONS_H_
