#ifndef TANDEM_SERVICES_ORCHESTRATOR_GENERATION_SERVICE_H_
#define TANDEM_SERVICES_ORCHESTRATOR_GENERATION_SERVICE_H_

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "decoding/backends.h"
#include "decoding/replica_failover.h"
#include "proto/tandem/v1/generation_service.grpc.pb.h"
#include "services/orchestrator/orchestrator_metrics.h"
#include "services/orchestrator/replica_pool.h"
#include "services/orchestrator/validation.h"
#include "tokenizer/tokenizer.h"

namespace tandem::services {

using TargetPool = ReplicaPool<decoding::TargetBackend>;
using DraftPool = ReplicaPool<decoding::DraftBackend>;

// The target and draft replicas an orchestrator talks to (pools kept current
// by discovery; not owned, they must outlive the service). Each new sequence
// starts on the least-loaded replica of its snapshot and fails over to the
// others in load order.
struct Backends {
  TargetPool* targets = nullptr;    // Required.
  DraftPool* drafts = nullptr;      // May be null: no draft-model speculation.
  model::ModelInfo target_info;     // Every target replica serves this model.
  std::vector<int64_t> eos_token_ids;  // The target model's defaults.
};

// tandem.v1.GenerationService: validates each request once, runs every
// (prompt, return sequence) through decoding::Generate concurrently against
// the backends, and turns tokens into text (streamed as UTF-8 deltas, stop
// strings cut out).
class GenerationServiceImpl final : public v1::GenerationService::Service {
 public:
  // `chat_template` (not owned; may be null = chat prompts are refused)
  // renders ChatPrompt inputs.
  GenerationServiceImpl(Backends backends, const tokenizer::Tokenizer& tokenizer,
                        GenerationLimits limits,
                        const tokenizer::LoadedChatTemplate* chat_template = nullptr);

  grpc::Status Generate(grpc::ServerContext* context, const v1::GenerateRequest* request,
                        v1::GenerateResponse* response) override;
  grpc::Status GenerateStream(grpc::ServerContext* context,
                              const v1::GenerateStreamRequest* request,
                              grpc::ServerWriter<v1::GenerateStreamResponse>* writer) override;

  // Server shutdown (ServerRunOptions::end_in_flight): every running
  // sequence ends after its current round with FINISH_REASON_CANCELLED, so
  // its RPC completes OK, with every sequence's end, before the server's
  // drain deadline cancels what remains. Beam searches are not interrupted.
  // Irreversible. Thread-safe.
  void EndInFlight();

 private:
  struct SequenceOutput;
  using ChunkFn = std::function<bool(const v1::StreamChunk&)>;

  grpc::Status DoGenerate(grpc::ServerContext* context, const v1::GenerateRequest& request,
                          const std::string& request_id, v1::GenerateResponse* response);
  grpc::Status DoGenerateStream(grpc::ServerContext* context,
                                const v1::GenerateStreamRequest& request,
                                const std::string& request_id,
                                grpc::ServerWriter<v1::GenerateStreamResponse>* writer);
  // Metrics and the request_finished log line for one RPC.
  void Finish(const char* method, const std::string& request_id, const grpc::Status& status,
              absl::Time start);
  absl::StatusOr<ValidatedGeneration> Validate(const std::string& request_id,
                                               const google::protobuf::RepeatedPtrField<v1::Prompt>& prompts,
                                               const v1::GenerationConfig& config);
  // Runs every sequence of the request; `on_chunk` (may be null) gets each
  // sequence's text deltas as they are produced (serialized by the caller).
  absl::StatusOr<std::vector<SequenceOutput>> RunBeams(const ValidatedGeneration& v,
                                                       grpc::ServerContext* context,
                                                       const ChunkFn& on_chunk);
  // Reserves `n` sequences of max_active_sequences; RESOURCE_EXHAUSTED when
  // they do not fit. Release() gives them back.
  absl::Status Admit(int64_t n);
  // Counts and logs each session moved to another replica (failover) and
  // each one a full replica refused that another took (spill).
  decoding::ReplicaListeners ReplicaLogger(const std::string& request_id);
  void Release(int64_t n);
  int64_t ActiveSequences();
  absl::StatusOr<std::vector<SequenceOutput>> RunAll(const ValidatedGeneration& v,
                                                     grpc::ServerContext* context,
                                                     const ChunkFn& on_chunk);

  Backends backends_;
  const tokenizer::Tokenizer& tokenizer_;
  const tokenizer::LoadedChatTemplate* const chat_template_;
  GenerationLimits limits_;
  std::atomic<bool> ending_{false};
  OrchestratorMetrics metrics_;
  std::mutex admission_mu_;
  int64_t active_sequences_ = 0;
};

}  // namespace tandem::services

#endif  // TANDEM_SERVICES_ORCHESTRATOR_GENERATION_SERVICE_H_
