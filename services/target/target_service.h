#ifndef TANDEM_SERVICES_TARGET_TARGET_SERVICE_H_
#define TANDEM_SERVICES_TARGET_TARGET_SERVICE_H_

#include <functional>
#include <future>
#include <memory>
#include <optional>

#include "decoding/batcher.h"
#include "decoding/engines.h"
#include "proto/tandem/v1/target_service.grpc.pb.h"
#include "services/common/model_service_base.h"
#include "services/target/relevance_runner.h"

namespace tandem::services {

// tandem.v1.TargetService over a TargetEngine. Verify, Decode and
// DraftEarlyExit items from concurrent RPCs are batched into shared forward
// passes by one worker per kind; ComputeRelevance runs on its RPC thread
// through a RelevanceRunner (one at a time). Metrics are tandem_target_* and logs have
// component "target" (ModelServiceBase).
class TargetServiceImpl final : public v1::TargetService::Service,
                                public ModelServiceBase {
 public:
  TargetServiceImpl(const ModelServerOptions& options, model::Model& model);
  ~TargetServiceImpl() override;

  grpc::Status OpenSession(grpc::ServerContext*, const v1::OpenSessionRequest* request,
                           v1::OpenSessionResponse* response) override;
  grpc::Status ForkSession(grpc::ServerContext*, const v1::ForkSessionRequest* request,
                           v1::ForkSessionResponse* response) override;
  grpc::Status Verify(grpc::ServerContext*, const v1::VerifyRequest* request,
                      v1::VerifyResponse* response) override;
  grpc::Status Decode(grpc::ServerContext*, const v1::DecodeRequest* request,
                      v1::DecodeResponse* response) override;
  grpc::Status DraftEarlyExit(grpc::ServerContext*, const v1::DraftEarlyExitRequest* request,
                              v1::DraftEarlyExitResponse* response) override;
  grpc::Status CloseSession(grpc::ServerContext*, const v1::CloseSessionRequest* request,
                            v1::CloseSessionResponse* response) override;
  grpc::Status GetModelInfo(grpc::ServerContext*, const v1::GetModelInfoRequest* request,
                            v1::GetModelInfoResponse* response) override;
  grpc::Status ComputeRelevance(grpc::ServerContext*, const v1::ComputeRelevanceRequest* request,
                                v1::ComputeRelevanceResponse* response) override;

 private:
  decoding::PrefixCacheStats PrefixCacheStatsLocked() const override {
    return engine_.prefix_cache().stats();
  }

  absl::Status RunVerify(const RpcCall& call, const v1::VerifyRequest& request,
                         v1::VerifyResponse* response);
  absl::Status RunDecode(const RpcCall& call, const v1::DecodeRequest& request,
                         v1::DecodeResponse* response);
  absl::Status RunDraftEarlyExit(const RpcCall& call, const v1::DraftEarlyExitRequest& request,
                                 v1::DraftEarlyExitResponse* response);
  absl::Status RunRelevance(const RpcCall& call, const v1::ComputeRelevanceRequest& request,
                            v1::ComputeRelevanceResponse* response);

  model::Model& model_;
  RelevanceRunner relevance_;
  decoding::TargetEngine engine_;
  // Queues a verify / decode / score item for the next step (nullopt when
  // the queue is full).
  std::function<std::optional<std::future<decoding::StepOutcome>>(decoding::StepItem)>
  SubmitStepFn();
  // Queues all items of one call together (they share the next step).
  std::function<std::vector<std::optional<std::future<decoding::StepOutcome>>>(
      std::vector<decoding::StepItem>)>
  SubmitAllStepFn();

  // Verify, plain-decode and score items and prefill chunks: each batch is
  // one TargetEngine::Step, i.e. one forward over all their rows.
  std::unique_ptr<decoding::Batcher<decoding::StepItem, decoding::StepOutcome>> step_;
  std::unique_ptr<decoding::Batcher<decoding::EarlyExitItem, decoding::DraftOutcome>> early_exit_;
};

}  // namespace tandem::services

#endif  // TANDEM_SERVICES_TARGET_TARGET_SERVICE_H_
