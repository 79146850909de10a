#include "services/draft/draft_service.h"

#include <future>

#include "absl/strings/str_cat.h"
#include "services/common/convert.h"
#include "services/common/status.h"

namespace tandem::services {

DraftServiceImpl::DraftServiceImpl(const ModelServerOptions& options, model::Model& model)
    : ModelServiceBase(
          "draft", options, model,
          [this](std::vector<int64_t> prompt, const decoding::SessionOptions& o) {
            return engine_.Open(std::move(prompt), o);
          },
          [this](decoding::SessionId id) { return engine_.Close(id); },
          [this](decoding::SessionId id, int64_t length) { return engine_.Fork(id, length); }),
      engine_(model, options.max_sessions) {
  propose_ = std::make_unique<decoding::Batcher<decoding::ProposeItem, decoding::DraftOutcome>>(
      [this](absl::Span<const decoding::ProposeItem> items) {
        RecordBatchLocked("propose", items.size());
        return engine_.Propose(items);
      },
      decoding::BatcherOptions{options.max_items_per_call * 4, options.batch_window,
                               options.max_queued_items},
      &engine_mutex());
}

DraftServiceImpl::~DraftServiceImpl() {
  StopReaper();
  propose_.reset();
}

grpc::Status DraftServiceImpl::OpenSession(grpc::ServerContext* context,
                                           const v1::OpenSessionRequest* request,
                                           v1::OpenSessionResponse* response) {
  return Instrumented("OpenSession", context, request->request_id(),
                      [&](const RpcCall& call) { return DoOpen(call, *request, response); });
}

grpc::Status DraftServiceImpl::ForkSession(grpc::ServerContext* context,
                                           const v1::ForkSessionRequest* request,
                                           v1::ForkSessionResponse* response) {
  return Instrumented("ForkSession", context, request->request_id(),
                      [&](const RpcCall& call) { return DoFork(call, *request, response); });
}

grpc::Status DraftServiceImpl::Propose(grpc::ServerContext* context,
                                       const v1::ProposeRequest* request,
                                       v1::ProposeResponse* response) {
  return Instrumented("Propose", context, "",
                      [&](const RpcCall& call) { return RunPropose(call, *request, response); });
}

grpc::Status DraftServiceImpl::CloseSession(grpc::ServerContext* context,
                                            const v1::CloseSessionRequest* request,
                                            v1::CloseSessionResponse*) {
  return Instrumented("CloseSession", context, "",
                      [&](const RpcCall& call) { return DoClose(call, *request); });
}

grpc::Status DraftServiceImpl::GetModelInfo(grpc::ServerContext* context,
                                            const v1::GetModelInfoRequest*,
                                            v1::GetModelInfoResponse* response) {
  return Instrumented("GetModelInfo", context, "",
                      [&](const RpcCall&) { return DoModelInfo(response); });
}

grpc::Status DraftServiceImpl::RunPropose(const RpcCall& call, const v1::ProposeRequest& request,
                                          v1::ProposeResponse* response) {
  const absl::Time start = absl::Now();
  std::vector<uint64_t> ids;
  for (const auto& item : request.items()) ids.push_back(item.session_id());
  if (grpc::Status s = CheckItems(ids); !s.ok()) return s;
  std::vector<std::future<decoding::DraftOutcome>> futures(request.items_size());
  std::vector<absl::Status> early(request.items_size());
  for (int i = 0; i < request.items_size(); ++i) {
    const v1::ProposeItem& item = request.items(i);
    if (item.num_draft_tokens() < 1 ||
        static_cast<int>(item.num_draft_tokens()) > options().max_draft_length) {
      early[i] = absl::InvalidArgumentError(absl::StrCat(
          "`num_draft_tokens` must be in [1, ", options().max_draft_length, "], got ",
          item.num_draft_tokens()));
      continue;
    }
    auto queued = propose_->TrySubmit({item.session_id(), FromProto(item.sync()),
                                       static_cast<int>(item.num_draft_tokens()),
                                       item.guess_first()});
    if (!queued) {
      early[i] = QueueFull();
      continue;
    }
    futures[i] = std::move(*queued);
  }
  for (int i = 0; i < request.items_size(); ++i) {
    v1::ProposeResult* result = response->add_results();
    if (!early[i].ok()) {
      SetItemStatus(call, request.items(i).session_id(), early[i], result->mutable_status());
      continue;
    }
    decoding::DraftOutcome outcome = futures[i].get();
    SetItemStatus(call, request.items(i).session_id(), outcome.status, result->mutable_status());
    if (!outcome.status.ok()) continue;
    ToProto(outcome.draft, request.items(i).encoding(), engine_.info().vocab_size,
            result->mutable_tokens());
  }
  ToProto(absl::Now() - start, response->mutable_server_time());
  return grpc::Status::OK;
}

}  // namespace tandem::services
