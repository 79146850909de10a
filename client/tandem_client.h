#ifndef TANDEM_CLIENT_TANDEM_CLIENT_H_
#define TANDEM_CLIENT_TANDEM_CLIENT_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/tandem/v1/generation_service.grpc.pb.h"
#include "services/common/security.h"

namespace tandem::client {

// The common knobs of a generation request, as a plain struct; unset
// optionals leave the server's defaults.
struct GenerateOptions {
  std::vector<std::string> prompts;           // Text prompts...
  std::vector<std::vector<uint32_t>> prompt_token_ids;  // ...or token ids.
  std::optional<float> temperature, top_p, min_p, typical_p, repetition_penalty;
  std::optional<float> presence_penalty, frequency_penalty;
  std::optional<uint32_t> top_k;
  std::string preset;                          // creative | precise | balanced | deterministic
  std::optional<uint64_t> seed;
  std::optional<uint32_t> max_new_tokens;
  uint32_t min_new_tokens = 0;
  std::vector<std::string> stop_strings;
  std::optional<absl::Duration> max_time;
  uint32_t num_return_sequences = 1;
  std::string speculation;                     // draft | self | ngram | off | "" (server default)
  std::optional<uint32_t> draft_length;        // Fixed γ.
  bool adaptive = false;                       // Adaptive γ (overrides draft_length).
  std::optional<uint32_t> exit_layer;          // Self-speculation.
  bool pipelined = true;                       // Draft model: draft while verifying.
  // Draft model token trees (SpeculationConfig.tree): alternatives per
  // drafted position at the first tree_depth positions; unset = server default.
  std::optional<uint32_t> tree_alternatives;
  uint32_t tree_depth = 0;
  uint32_t logprobs = 0;                       // Top-N alternatives; > 0 also returns logprobs.
  bool speculation_stats = true;
  // > 0: every token also carries its raw and processed next-token
  // distributions (their this many most likely tokens).
  uint32_t distribution_top_n = 0;
  // Token-level relevance of every generated token (OutputOptions.relevance).
  bool relevance = false;
  std::string relevance_method;    // ig | ixg | "" (server default: ig)
  std::string relevance_baseline;  // mean | zero | "" (server default: mean; ig only)
  std::optional<uint32_t> relevance_steps, relevance_top_n;
  bool relevance_dense = false;
  std::string request_id;
};

// Builds the request; InvalidArgument for an unknown preset, speculation,
// relevance method or baseline name, or no prompt.
absl::StatusOr<v1::GenerateRequest> BuildRequest(const GenerateOptions& options);

// A typed wrapper over the GenerationService stub. Thread-safe.
class TandemClient {
 public:
  // A plaintext channel to `address`.
  explicit TandemClient(const std::string& address);

  // A channel secured as `security` says (TLS with a CA file, mutual TLS with
  // a client certificate, a bearer token on every call). Errors name the file
  // that cannot be read or the inconsistent setting.
  static absl::StatusOr<std::unique_ptr<TandemClient>> Create(
      const std::string& address, const services::ChannelSecurity& security);

  absl::StatusOr<v1::GenerateResponse> Generate(const v1::GenerateRequest& request,
                                                absl::Duration timeout = absl::Minutes(5));

  // Calls on_message for every streamed message, in order. Returning false
  // from on_message cancels the stream (the status is then CANCELLED).
  absl::Status GenerateStream(const v1::GenerateRequest& request,
                              const std::function<bool(const v1::GenerateStreamResponse&)>& on_message,
                              absl::Duration timeout = absl::Minutes(5));

 private:
  explicit TandemClient(std::unique_ptr<v1::GenerationService::Stub> stub)
      : stub_(std::move(stub)) {}

  std::unique_ptr<v1::GenerationService::Stub> stub_;
};

}  // namespace tandem::client

#endif  // TANDEM_CLIENT_TANDEM_CLIENT_H_
