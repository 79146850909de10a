#include "services/draft/draft_service.h"

#include "services/common/batched_items.h"
#include "services/common/convert.h"

namespace tandem::services {

DraftServiceImpl::DraftServiceImpl(const ModelServerOptions& options, model::Model& model)
    : ModelServiceBase(
          "draft", options, model,
          [this](std::vector<int64_t> prompt, const decoding::SessionOptions& o) {
            return engine_.Register(std::move(prompt), o);
          },
          [this](decoding::SessionId id) { return engine_.Close(id); },
          [this](decoding::SessionId id, int64_t length) { return engine_.Fork(id, length); },
          [this](decoding::PrefillItem item) { return prefill_->Submit(item).get(); }),
      engine_(model, options.max_sessions, {options.prefix_cache_entries}) {
  const decoding::BatcherOptions batch{options.max_items_per_call * 4, options.batch_window,
                                       options.max_queued_items, options.inline_batches};
  propose_ = std::make_unique<decoding::Batcher<decoding::ProposeItem, decoding::DraftOutcome>>(
      [this](absl::Span<const decoding::ProposeItem> items) {
        auto outcomes = engine_.Propose(items);
        // After the call: the KV gauge shows what the batch left.
        RecordBatchLocked("propose", items.size());
        return outcomes;
      },
      batch, &engine_mutex());
  prefill_ = std::make_unique<decoding::Batcher<decoding::PrefillItem, decoding::PrefillOutcome>>(
      [this](absl::Span<const decoding::PrefillItem> items) {
        auto outcomes = engine_.Prefill(items);
        // After the call: the KV gauge shows what the batch left.
        RecordBatchLocked("prefill", items.size());
        return outcomes;
      },
      batch, &engine_mutex());
}

DraftServiceImpl::~DraftServiceImpl() {
  StopReaper();
  propose_.reset();
  prefill_.reset();
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

absl::Status DraftServiceImpl::RunPropose(const RpcCall& call, const v1::ProposeRequest& request,
                                          v1::ProposeResponse* response) {
  BatchedItemOps<v1::ProposeItem, v1::ProposeResult, decoding::ProposeItem,
                 decoding::DraftOutcome>
      ops;
  ops.prepare = [this](const v1::ProposeItem& item) -> absl::StatusOr<decoding::ProposeItem> {
    if (absl::Status s = CheckNumDraftTokens(item.num_draft_tokens()); !s.ok()) return s;
    if (absl::Status s = decoding::CheckTreeRequest(
            static_cast<int64_t>(item.num_draft_tokens()) - (item.guess_first() ? 1 : 0),
            item.tree_alternatives(), item.tree_depth());
        !s.ok()) {
      return s;
    }
    if (item.top_logprobs() > static_cast<uint32_t>(decoding::kMaxProposeTopLogprobs)) {
      return absl::InvalidArgumentError(absl::StrCat("`top_logprobs` must be in [0, ",
                                                     decoding::kMaxProposeTopLogprobs, "], got ",
                                                     item.top_logprobs()));
    }
    return decoding::ProposeItem{item.session_id(),
                                 FromProto(item.sync()),
                                 static_cast<int>(item.num_draft_tokens()),
                                 item.guess_first(),
                                 static_cast<int>(item.tree_alternatives()),
                                 static_cast<int>(item.tree_depth()),
                                 static_cast<int>(item.top_logprobs())};
  };
  ops.submit = [this](decoding::ProposeItem item) { return propose_->TrySubmit(std::move(item)); };
  ops.submit_all = [this](std::vector<decoding::ProposeItem> items) {
    return propose_->TrySubmitAll(std::move(items));
  };
  ops.finish = [this](const v1::ProposeItem& item, decoding::DraftOutcome outcome,
                      v1::ProposeResult* result) {
    if (outcome.status.ok()) {
      ToProto(outcome.draft, item.encoding(), engine_.info().vocab_size,
              result->mutable_tokens());
      for (int32_t parent : outcome.draft.parents) result->add_parents(parent);
      for (size_t i = 0; i < outcome.draft.candidates.size() &&
                         i < static_cast<size_t>(result->tokens_size());
           ++i) {
        AppendLogprobs(outcome.draft.candidates[i],
                       result->mutable_tokens(static_cast<int>(i))->mutable_candidates());
      }
    }
    return outcome.status;
  };
  return RunBatchedItems(*this, call, request, ops, response);
}

}  // namespace tandem::services
