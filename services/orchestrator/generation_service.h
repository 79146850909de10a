#ifndef TANDEM_SERVICES_ORCHESTRATOR_GENERATION_SERVICE_H_
#define TANDEM_SERVICES_ORCHESTRATOR_GENERATION_SERVICE_H_

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "decoding/backends.h"
#include "decoding/replica_failover.h"
#include "decoding/round_pool.h"
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

// tandem.v1.GenerationService on gRPC's callback API: validates each
// request once, runs every (prompt, return sequence) as a decoding::
// GenerationLoop against the backends, and turns tokens into text (streamed
// as UTF-8 deltas, stop strings cut out). No thread is held per call or per
// sequence: every sequence's rounds run on one fixed decoding::RoundPool
// (GenerationLimits::sequence_threads), taking turns, and streamed chunks
// are written asynchronously. Beam searches are the exception: each runs
// on a thread of its own while it lasts.
//
// Lifetime: the service must outlive the gRPC server it is registered with
// (every call finishes before the server's shutdown returns); destroying it
// runs the sequences it still holds to their end.
class GenerationServiceImpl final : public v1::GenerationService::CallbackService {
 public:
  // `chat_template` (not owned; may be null = chat prompts are refused)
  // renders ChatPrompt inputs.
  GenerationServiceImpl(Backends backends, const tokenizer::Tokenizer& tokenizer,
                        GenerationLimits limits,
                        const tokenizer::LoadedChatTemplate* chat_template = nullptr);
  ~GenerationServiceImpl() override;

  grpc::ServerUnaryReactor* Generate(grpc::CallbackServerContext* context,
                                     const v1::GenerateRequest* request,
                                     v1::GenerateResponse* response) override;
  grpc::ServerWriteReactor<v1::GenerateStreamResponse>* GenerateStream(
      grpc::CallbackServerContext* context, const v1::GenerateStreamRequest* request) override;

  // Server shutdown (ServerRunOptions::end_in_flight): every running
  // sequence ends after its current round with FINISH_REASON_CANCELLED, so
  // its RPC completes OK, with every sequence's end, before the server's
  // drain deadline cancels what remains. Beam searches are not interrupted.
  // Irreversible. Thread-safe.
  void EndInFlight();

  // Threads of the sequence pool (constant: they do not grow with load).
  int sequence_threads() const;

 private:
  struct SequenceOutput;
  struct RequestRun;
  class SequenceTask;
  class StreamReactor;
  // Gets one sequence's chunk; false when the client is gone (the sequence
  // then ends as cancelled). Called from pool threads, one sequence at a
  // time per sequence, several sequences concurrently.
  using ChunkFn = std::function<bool(const v1::StreamChunk&)>;
  // Gets the request's outcome once every sequence ended; the last thing
  // the service does for the request (the call may be finished in it).
  using DoneFn = std::function<void(const ValidatedGeneration&,
                                    absl::StatusOr<std::vector<SequenceOutput>>)>;

  // Metrics and the request_finished log line for one RPC.
  void Finish(const char* method, const std::string& request_id, const grpc::Status& status,
              absl::Time start);
  // Logs the request's start and validates it; a refused request is
  // recorded as finished (Finish) here, and its status is the call's.
  absl::StatusOr<ValidatedGeneration> Begin(const char* method, const std::string& request_id,
                                            const google::protobuf::RepeatedPtrField<v1::Prompt>& prompts,
                                            const v1::GenerationConfig& config, absl::Time start);
  // Blocking: runs each prompt's beam search on a thread of its own.
  absl::StatusOr<std::vector<SequenceOutput>> RunBeams(const ValidatedGeneration& v,
                                                       const grpc::ServerContextBase* context,
                                                       const ChunkFn& on_chunk);
  // Reserves `n` sequences of max_active_sequences; RESOURCE_EXHAUSTED when
  // they do not fit. Release() gives them back.
  absl::Status Admit(int64_t n);
  // Counts and logs each session moved to another replica (failover) and
  // each one a full replica refused that another took (spill).
  decoding::ReplicaListeners ReplicaLogger(const std::string& request_id);
  void Release(int64_t n);
  int64_t ActiveSequences();
  // Starts every sequence of the request and returns at once; `on_done`
  // runs exactly once (possibly before RunAll returns, e.g. when admission
  // refuses). `context` must stay valid until then.
  void RunAll(ValidatedGeneration v, const grpc::ServerContextBase* context, ChunkFn on_chunk,
              DoneFn on_done);
  // The unary response from the finished sequences.
  void FillResponse(const ValidatedGeneration& v, const std::vector<SequenceOutput>& outputs,
                    absl::Time start, v1::GenerateResponse* response);

  Backends backends_;
  const tokenizer::Tokenizer& tokenizer_;
  const tokenizer::LoadedChatTemplate* const chat_template_;
  GenerationLimits limits_;
  std::atomic<bool> ending_{false};
  OrchestratorMetrics metrics_;
  std::mutex admission_mu_;
  int64_t active_sequences_ = 0;
  // Last: destroyed first, so the sequences it still runs see every other
  // member alive.
  std::unique_ptr<decoding::RoundPool> sequences_;
};

}  // namespace tandem::services

#endif  // TANDEM_SERVICES_ORCHESTRATOR_GENERATION_SERVICE_H_
