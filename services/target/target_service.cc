#include "services/target/target_service.h"

#include <algorithm>
#include <cmath>
#include <future>
#include <optional>
#include <utility>
#include <variant>

#include "absl/strings/str_cat.h"
#include "services/common/convert.h"
#include "services/common/status.h"

namespace tandem::services {

TargetServiceImpl::TargetServiceImpl(const ModelServerOptions& options, model::Model& model)
    : ModelServiceBase(
          "target", options, model,
          [this](std::vector<int64_t> prompt, const decoding::SessionOptions& o) {
            return engine_.Register(std::move(prompt), o);
          },
          [this](decoding::SessionId id) { return engine_.Close(id); },
          [this](decoding::SessionId id, int64_t length) { return engine_.Fork(id, length); },
          [this](decoding::SessionId id, const RpcCall& call) { return Prefill(id, call); }),
      model_(model),
      engine_(model, options.max_sessions) {
  decoding::BatcherOptions batch{options.max_items_per_call * 4, options.batch_window,
                                 options.max_queued_items};
  step_ = std::make_unique<decoding::Batcher<decoding::StepItem, decoding::StepOutcome>>(
      [this](absl::Span<const decoding::StepItem> items) {
        RecordBatchLocked("verify", items.size());
        return engine_.Step(items);
      },
      batch, &engine_mutex());
  early_exit_ =
      std::make_unique<decoding::Batcher<decoding::EarlyExitItem, decoding::DraftOutcome>>(
          [this](absl::Span<const decoding::EarlyExitItem> items) {
            RecordBatchLocked("early_exit", items.size());
            return engine_.DraftEarlyExit(items);
          },
          batch, &engine_mutex());
}

TargetServiceImpl::~TargetServiceImpl() {
  StopReaper();
  step_.reset();
  early_exit_.reset();
}

template <typename Outcome, typename Item>
std::future<Outcome> TargetServiceImpl::SubmitStep(Item item, bool* queued) {
  std::optional<std::future<decoding::StepOutcome>> step =
      step_->TrySubmit(decoding::StepItem(std::move(item)));
  *queued = step.has_value();
  if (!step) return {};
  // Unwrap the step outcome when the caller waits for it.
  return std::async(std::launch::deferred, [f = std::move(*step)]() mutable {
    return std::get<Outcome>(f.get());
  });
}

absl::Status TargetServiceImpl::Prefill(decoding::SessionId id, const RpcCall& call) {
  while (true) {
    if (call.context != nullptr && call.context->IsCancelled()) {
      return absl::CancelledError("the open was cancelled (or ran past its deadline) during prefill");
    }
    decoding::StepOutcome outcome =
        step_->Submit(decoding::PrefillItem{id, options().prefill_chunk}).get();
    const decoding::PrefillOutcome& done = std::get<decoding::PrefillOutcome>(outcome);
    if (!done.status.ok() || done.remaining == 0) return done.status;
  }
}

grpc::Status TargetServiceImpl::OpenSession(grpc::ServerContext* context,
                                            const v1::OpenSessionRequest* request,
                                            v1::OpenSessionResponse* response) {
  return Instrumented("OpenSession", context, request->request_id(),
                      [&](const RpcCall& call) { return DoOpen(call, *request, response); });
}

grpc::Status TargetServiceImpl::ForkSession(grpc::ServerContext* context,
                                            const v1::ForkSessionRequest* request,
                                            v1::ForkSessionResponse* response) {
  return Instrumented("ForkSession", context, request->request_id(),
                      [&](const RpcCall& call) { return DoFork(call, *request, response); });
}

grpc::Status TargetServiceImpl::Verify(grpc::ServerContext* context,
                                       const v1::VerifyRequest* request,
                                       v1::VerifyResponse* response) {
  return Instrumented("Verify", context, "",
                      [&](const RpcCall& call) { return RunVerify(call, *request, response); });
}

grpc::Status TargetServiceImpl::Decode(grpc::ServerContext* context,
                                       const v1::DecodeRequest* request,
                                       v1::DecodeResponse* response) {
  return Instrumented("Decode", context, "",
                      [&](const RpcCall& call) { return RunDecode(call, *request, response); });
}

grpc::Status TargetServiceImpl::DraftEarlyExit(grpc::ServerContext* context,
                                               const v1::DraftEarlyExitRequest* request,
                                               v1::DraftEarlyExitResponse* response) {
  return Instrumented("DraftEarlyExit", context, "", [&](const RpcCall& call) {
    return RunDraftEarlyExit(call, *request, response);
  });
}

grpc::Status TargetServiceImpl::CloseSession(grpc::ServerContext* context,
                                             const v1::CloseSessionRequest* request,
                                             v1::CloseSessionResponse*) {
  return Instrumented("CloseSession", context, "",
                      [&](const RpcCall& call) { return DoClose(call, *request); });
}

grpc::Status TargetServiceImpl::GetModelInfo(grpc::ServerContext* context,
                                             const v1::GetModelInfoRequest*,
                                             v1::GetModelInfoResponse* response) {
  return Instrumented("GetModelInfo", context, "",
                      [&](const RpcCall&) { return DoModelInfo(response); });
}

grpc::Status TargetServiceImpl::RunVerify(const RpcCall& call, const v1::VerifyRequest& request,
                                          v1::VerifyResponse* response) {
  const absl::Time start = absl::Now();
  std::vector<uint64_t> ids;
  for (const auto& item : request.items()) ids.push_back(item.session_id());
  if (grpc::Status s = CheckItems(ids); !s.ok()) return s;
  std::vector<std::future<decoding::VerifyOutcome>> futures(request.items_size());
  std::vector<absl::Status> early(request.items_size());
  for (int i = 0; i < request.items_size(); ++i) {
    const v1::VerifyItem& item = request.items(i);
    if (item.draft_tokens_size() > options().max_draft_length) {
      early[i] = absl::InvalidArgumentError(absl::StrCat(
          "`draft_tokens` has ", item.draft_tokens_size(), " entries; at most ",
          options().max_draft_length, " are allowed"));
      continue;
    }
    absl::StatusOr<decoding::Draft> draft = FromProto(item.draft_tokens());
    if (!draft.ok()) {
      early[i] = draft.status();
      continue;
    }
    bool queued = false;
    futures[i] = SubmitStep<decoding::VerifyOutcome>(
        decoding::VerifyItem{item.session_id(), FromProto(item.sync()), *std::move(draft)},
        &queued);
    if (!queued) early[i] = QueueFull();
  }
  for (int i = 0; i < request.items_size(); ++i) {
    v1::VerifyResult* result = response->add_results();
    if (!early[i].ok()) {
      SetItemStatus(call, request.items(i).session_id(), early[i], result->mutable_status());
      continue;
    }
    decoding::VerifyOutcome outcome = futures[i].get();
    SetItemStatus(call, request.items(i).session_id(), outcome.status, result->mutable_status());
    if (!outcome.status.ok()) continue;
    result->set_accepted_count(outcome.result.num_accepted);
    for (const sampling::StepResult& step : outcome.result.emitted) {
      ToProto(step, true, static_cast<int>(step.top.size()), result->add_emitted_tokens());
    }
    result->set_sequence_length(outcome.committed_length);
    for (float s : outcome.marginal_seconds) {
      result->add_marginal_step_us(static_cast<uint32_t>(std::lround(std::max(0.0f, s) * 1e6f)));
    }
  }
  ToProto(absl::Now() - start, response->mutable_server_time());
  return grpc::Status::OK;
}

grpc::Status TargetServiceImpl::RunDecode(const RpcCall& call, const v1::DecodeRequest& request,
                                          v1::DecodeResponse* response) {
  const absl::Time start = absl::Now();
  std::vector<uint64_t> ids;
  for (const auto& item : request.items()) ids.push_back(item.session_id());
  if (grpc::Status s = CheckItems(ids); !s.ok()) return s;
  // score_only items (beam search) and plain steps share the engine steps.
  std::vector<std::future<decoding::VerifyOutcome>> steps(request.items_size());
  std::vector<std::future<decoding::ScoreOutcome>> scores(request.items_size());
  std::vector<absl::Status> early(request.items_size());
  for (int i = 0; i < request.items_size(); ++i) {
    const v1::DecodeItem& item = request.items(i);
    if (item.score_only()) {
      const int top_n = item.has_top_logprobs() ? item.top_logprobs() : 1;
      bool queued = false;
      scores[i] = SubmitStep<decoding::ScoreOutcome>(
          decoding::ScoreItem{item.session_id(), FromProto(item.sync()), std::min(top_n, 64)},
          &queued);
      if (!queued) early[i] = QueueFull();
    } else {
      bool queued = false;
      steps[i] = SubmitStep<decoding::VerifyOutcome>(
          decoding::VerifyItem{item.session_id(), FromProto(item.sync()), {}}, &queued);
      if (!queued) early[i] = QueueFull();
    }
  }
  for (int i = 0; i < request.items_size(); ++i) {
    v1::DecodeResult* result = response->add_results();
    if (!early[i].ok()) {
      SetItemStatus(call, request.items(i).session_id(), early[i], result->mutable_status());
      continue;
    }
    if (request.items(i).score_only()) {
      decoding::ScoreOutcome outcome = scores[i].get();
      SetItemStatus(call, request.items(i).session_id(), outcome.status, result->mutable_status());
      for (const auto& c : outcome.candidates) {
        v1::TokenLogprob* t = result->add_candidates();
        t->set_token_id(c.token);
        t->set_logprob(static_cast<float>(c.logprob));
      }
      continue;
    }
    decoding::VerifyOutcome outcome = steps[i].get();
    SetItemStatus(call, request.items(i).session_id(), outcome.status, result->mutable_status());
    if (!outcome.status.ok()) continue;
    const sampling::StepResult& step = outcome.result.emitted.front();
    ToProto(step, true, static_cast<int>(step.top.size()), result->mutable_token());
    result->set_sequence_length(outcome.committed_length);
  }
  ToProto(absl::Now() - start, response->mutable_server_time());
  return grpc::Status::OK;
}

grpc::Status TargetServiceImpl::RunDraftEarlyExit(const RpcCall& call,
                                                  const v1::DraftEarlyExitRequest& request,
                                                  v1::DraftEarlyExitResponse* response) {
  const absl::Time start = absl::Now();
  std::vector<uint64_t> ids;
  for (const auto& item : request.items()) ids.push_back(item.session_id());
  if (grpc::Status s = CheckItems(ids); !s.ok()) return s;
  std::vector<std::future<decoding::DraftOutcome>> futures(request.items_size());
  std::vector<absl::Status> early(request.items_size());
  for (int i = 0; i < request.items_size(); ++i) {
    const v1::DraftEarlyExitItem& item = request.items(i);
    if (item.num_draft_tokens() < 1 ||
        static_cast<int>(item.num_draft_tokens()) > options().max_draft_length) {
      early[i] = absl::InvalidArgumentError(absl::StrCat(
          "`num_draft_tokens` must be in [1, ", options().max_draft_length, "], got ",
          item.num_draft_tokens()));
      continue;
    }
    auto queued = early_exit_->TrySubmit({item.session_id(), FromProto(item.sync()),
                                          static_cast<int>(item.num_draft_tokens()),
                                          item.has_exit_layer() ? item.exit_layer() : 0});
    if (!queued) {
      early[i] = QueueFull();
      continue;
    }
    futures[i] = std::move(*queued);
  }
  for (int i = 0; i < request.items_size(); ++i) {
    v1::DraftEarlyExitResult* result = response->add_results();
    if (!early[i].ok()) {
      SetItemStatus(call, request.items(i).session_id(), early[i], result->mutable_status());
      continue;
    }
    decoding::DraftOutcome outcome = futures[i].get();
    SetItemStatus(call, request.items(i).session_id(), outcome.status, result->mutable_status());
    if (!outcome.status.ok()) continue;
    ToProto(outcome.draft, request.items(i).encoding(), model_.info().vocab_size,
            result->mutable_tokens());
    result->set_exit_layer(request.items(i).has_exit_layer()
                               ? request.items(i).exit_layer()
                               : model_.info().default_early_exit_layer);
  }
  ToProto(absl::Now() - start, response->mutable_server_time());
  return grpc::Status::OK;
}

}  // namespace tandem::services
