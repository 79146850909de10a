#ifndef TANDEM_SERVICES_DRAFT_DRAFT_SERVICE_H_
#define TANDEM_SERVICES_DRAFT_DRAFT_SERVICE_H_

#include <memory>

#include "decoding/batcher.h"
#include "decoding/engines.h"
#include "proto/tandem/v1/draft_service.grpc.pb.h"
#include "services/common/model_service_base.h"

namespace tandem::services {

// tandem.v1.DraftService over a DraftEngine; Propose items from concurrent
// RPCs are batched (each draft step of all items is one forward pass).
// Metrics are tandem_draft_* and logs have component "draft"
// (ModelServiceBase).
class DraftServiceImpl final : public v1::DraftService::Service, public ModelServiceBase {
 public:
  DraftServiceImpl(const ModelServerOptions& options, model::Model& model);
  ~DraftServiceImpl() override;

  grpc::Status OpenSession(grpc::ServerContext*, const v1::OpenSessionRequest* request,
                           v1::OpenSessionResponse* response) override;
  grpc::Status ForkSession(grpc::ServerContext*, const v1::ForkSessionRequest* request,
                           v1::ForkSessionResponse* response) override;
  grpc::Status Propose(grpc::ServerContext*, const v1::ProposeRequest* request,
                       v1::ProposeResponse* response) override;
  grpc::Status CloseSession(grpc::ServerContext*, const v1::CloseSessionRequest* request,
                            v1::CloseSessionResponse* response) override;
  grpc::Status GetModelInfo(grpc::ServerContext*, const v1::GetModelInfoRequest* request,
                            v1::GetModelInfoResponse* response) override;

 private:
  decoding::PrefixCacheStats PrefixCacheStatsLocked() const override {
    return engine_.prefix_cache().stats();
  }

  absl::Status RunPropose(const RpcCall& call, const v1::ProposeRequest& request,
                          v1::ProposeResponse* response);

  decoding::DraftEngine engine_;
  std::unique_ptr<decoding::Batcher<decoding::ProposeItem, decoding::DraftOutcome>> propose_;
  // OpenSession's prompt chunks (ModelServiceBase::PrefillFn), several
  // sessions' in one engine call, between other sessions' proposals.
  std::unique_ptr<decoding::Batcher<decoding::PrefillItem, decoding::PrefillOutcome>> prefill_;
};

}  // namespace tandem::services

#endif  // TANDEM_SERVICES_DRAFT_DRAFT_SERVICE_H_
