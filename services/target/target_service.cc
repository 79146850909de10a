#include "services/target/target_service.h"

#include <algorithm>
#include <cmath>
#include <utility>
#include <variant>

#include "absl/strings/str_cat.h"
#include "decoding/step_row_budget.h"
#include "services/common/batched_items.h"
#include "services/common/convert.h"
#include "services/common/relevance_convert.h"

namespace tandem::services {

TargetServiceImpl::TargetServiceImpl(const ModelServerOptions& options, model::Model& model)
    : ModelServiceBase(
          "target", options, model,
          [this](std::vector<int64_t> prompt, const decoding::SessionOptions& o) {
            return engine_.Register(std::move(prompt), o);
          },
          [this](decoding::SessionId id) { return engine_.Close(id); },
          [this](decoding::SessionId id, int64_t length) { return engine_.Fork(id, length); },
          [this](decoding::PrefillItem item) {
            return std::get<decoding::PrefillOutcome>(step_->Submit(item).get());
          },
          /*leaves_prompt_tail=*/true),
      model_(model),
      relevance_(RelevanceRunnerOptions{options.model_path, options.device}),
      engine_(model, options.max_sessions, {options.prefix_cache_entries}) {
  decoding::BatcherOptions batch{options.max_items_per_call * 4, options.batch_window,
                                 options.max_queued_items, options.inline_batches};
  step_ = std::make_unique<decoding::Batcher<decoding::StepItem, decoding::StepOutcome>>(
      [this](absl::Span<const decoding::StepItem> items) {
        auto outcomes = engine_.Step(items);
        // After the call: the KV gauge shows what the batch left.
        RecordBatchLocked("verify", items.size());
        return outcomes;
      },
      batch, &engine_mutex(),
      options.max_step_rows > 0 ? decoding::StepRowBudget(options.max_step_rows)
                                : decoding::RowBudget<decoding::StepItem>{});
  early_exit_ =
      std::make_unique<decoding::Batcher<decoding::EarlyExitItem, decoding::DraftOutcome>>(
          [this](absl::Span<const decoding::EarlyExitItem> items) {
            auto outcomes = engine_.DraftEarlyExit(items);
            // After the call: the KV gauge shows what the batch left.
            RecordBatchLocked("early_exit", items.size());
            return outcomes;
          },
          batch, &engine_mutex());
}

TargetServiceImpl::~TargetServiceImpl() {
  StopReaper();
  step_.reset();
  early_exit_.reset();
}

std::function<std::optional<std::future<decoding::StepOutcome>>(decoding::StepItem)>
TargetServiceImpl::SubmitStepFn() {
  return [this](decoding::StepItem item) { return step_->TrySubmit(std::move(item)); };
}

std::function<std::vector<std::optional<std::future<decoding::StepOutcome>>>(
    std::vector<decoding::StepItem>)>
TargetServiceImpl::SubmitAllStepFn() {
  return [this](std::vector<decoding::StepItem> items) {
    return step_->TrySubmitAll(std::move(items));
  };
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

grpc::Status TargetServiceImpl::ComputeRelevance(grpc::ServerContext* context,
                                                 const v1::ComputeRelevanceRequest* request,
                                                 v1::ComputeRelevanceResponse* response) {
  return Instrumented("ComputeRelevance", context, request->request_id(),
                      [&](const RpcCall& call) { return RunRelevance(call, *request, response); });
}

absl::Status TargetServiceImpl::RunRelevance(const RpcCall& call,
                                             const v1::ComputeRelevanceRequest& request,
                                             v1::ComputeRelevanceResponse* response) {
  const absl::Time start = absl::Now();
  absl::StatusOr<ValidatedRelevance> options = FromProto(request.options(), "options.");
  if (!options.ok()) return options.status();
  const std::vector<int64_t> tokens(request.token_ids().begin(), request.token_ids().end());
  absl::StatusOr<std::vector<model::TokenRelevance>> relevance = relevance_.Run(
      tokens, request.first_generated(), options->options,
      [&call] { return call.context != nullptr && call.context->IsCancelled(); });
  if (!relevance.ok()) return relevance.status();
  for (const model::TokenRelevance& r : *relevance) {
    ToProto(r, options->dense, response->add_relevance());
  }
  ToProto(absl::Now() - start, response->mutable_server_time());
  return absl::OkStatus();
}

absl::Status TargetServiceImpl::RunVerify(const RpcCall& call, const v1::VerifyRequest& request,
                                          v1::VerifyResponse* response) {
  BatchedItemOps<v1::VerifyItem, v1::VerifyResult, decoding::StepItem, decoding::StepOutcome>
      ops;
  ops.prepare = [this](const v1::VerifyItem& item) -> absl::StatusOr<decoding::StepItem> {
    const bool tree = item.draft_parents_size() > 0;
    const int limit = tree ? decoding::kMaxTreeNodes : options().max_draft_length;
    if (item.draft_tokens_size() > limit) {
      return absl::InvalidArgumentError(absl::StrCat(
          "`draft_tokens` has ", item.draft_tokens_size(), " entries; at most ", limit,
          tree ? " (ServerLimits.max_tree_nodes) are allowed in a tree"
               : " (ServerLimits.max_draft_length) are allowed"));
    }
    if (tree && item.draft_parents_size() != item.draft_tokens_size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "`draft_parents` has ", item.draft_parents_size(), " entries for ",
          item.draft_tokens_size(), " `draft_tokens`; a tree needs one parent per token"));
    }
    absl::StatusOr<decoding::Draft> draft = FromProto(item.draft_tokens());
    if (!draft.ok()) return draft.status();
    draft->parents.assign(item.draft_parents().begin(), item.draft_parents().end());
    return decoding::VerifyItem{item.session_id(), FromProto(item.sync()), *std::move(draft),
                                TakePromptTail(item.session_id())};
  };
  ops.submit = SubmitStepFn();
  ops.submit_all = SubmitAllStepFn();
  ops.finish = [](const v1::VerifyItem&, decoding::StepOutcome step, v1::VerifyResult* result) {
    const decoding::VerifyOutcome& outcome = std::get<decoding::VerifyOutcome>(step);
    if (!outcome.status.ok()) return outcome.status;
    result->set_accepted_count(outcome.result.num_accepted);
    for (int32_t node : outcome.result.accepted_nodes) result->add_accepted_nodes(node);
    for (const sampling::StepResult& emitted : outcome.result.emitted) {
      ToProto(emitted, true, static_cast<int>(emitted.top.size()), result->add_emitted_tokens());
    }
    result->set_sequence_length(outcome.committed_length);
    for (float s : outcome.marginal_seconds) {
      result->add_marginal_step_us(static_cast<uint32_t>(std::lround(std::max(0.0f, s) * 1e6f)));
    }
    result->set_others_busy_permille(
        static_cast<uint32_t>(std::lround(std::clamp(outcome.others_busy, 0.0f, 1.0f) * 1000)));
    return absl::OkStatus();
  };
  return RunBatchedItems(*this, call, request, ops, response);
}

absl::Status TargetServiceImpl::RunDecode(const RpcCall& call, const v1::DecodeRequest& request,
                                          v1::DecodeResponse* response) {
  // score_only items (beam search) and plain steps share the engine steps.
  BatchedItemOps<v1::DecodeItem, v1::DecodeResult, decoding::StepItem, decoding::StepOutcome>
      ops;
  ops.prepare = [this](const v1::DecodeItem& item) -> absl::StatusOr<decoding::StepItem> {
    if (item.score_tokens_size() > 0 || item.score_parents_size() > 0) {
      if (!item.score_only()) {
        return absl::InvalidArgumentError("`score_tokens` needs `score_only`");
      }
      if (item.score_tokens_size() > decoding::kMaxTreeNodes) {
        return absl::InvalidArgumentError(absl::StrCat(
            "`score_tokens` has ", item.score_tokens_size(), " entries; at most ",
            decoding::kMaxTreeNodes, " (ServerLimits.max_tree_nodes) are allowed"));
      }
      if (item.score_parents_size() > 0 && item.score_parents_size() != item.score_tokens_size()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "`score_parents` has ", item.score_parents_size(), " entries for ",
            item.score_tokens_size(), " `score_tokens`; a tree needs one parent per token"));
      }
    }
    if (item.score_only()) {
      const int top_n = item.has_top_logprobs() ? item.top_logprobs() : 1;
      decoding::ScoreItem score{item.session_id(), FromProto(item.sync()), std::min(top_n, 64)};
      score.tree.tokens.assign(item.score_tokens().begin(), item.score_tokens().end());
      score.tree.parents.assign(item.score_parents().begin(), item.score_parents().end());
      score.catch_up_rows = TakePromptTail(item.session_id());
      return score;
    }
    return decoding::VerifyItem{item.session_id(), FromProto(item.sync()), {},
                                TakePromptTail(item.session_id())};
  };
  ops.submit = SubmitStepFn();
  ops.submit_all = SubmitAllStepFn();
  ops.finish = [](const v1::DecodeItem&, decoding::StepOutcome step, v1::DecodeResult* result) {
    if (const auto* score = std::get_if<decoding::ScoreOutcome>(&step)) {
      if (!score->status.ok()) return score->status;
      AppendLogprobs(score->candidates, result->mutable_candidates());
      for (const auto& node : score->node_candidates) {
        AppendLogprobs(node, result->add_node_candidates()->mutable_candidates());
      }
      return absl::OkStatus();
    }
    const decoding::VerifyOutcome& outcome = std::get<decoding::VerifyOutcome>(step);
    if (!outcome.status.ok()) return outcome.status;
    const sampling::StepResult& token = outcome.result.emitted.front();
    ToProto(token, true, static_cast<int>(token.top.size()), result->mutable_token());
    result->set_sequence_length(outcome.committed_length);
    return absl::OkStatus();
  };
  return RunBatchedItems(*this, call, request, ops, response);
}

absl::Status TargetServiceImpl::RunDraftEarlyExit(const RpcCall& call,
                                                  const v1::DraftEarlyExitRequest& request,
                                                  v1::DraftEarlyExitResponse* response) {
  BatchedItemOps<v1::DraftEarlyExitItem, v1::DraftEarlyExitResult, decoding::EarlyExitItem,
                 decoding::DraftOutcome>
      ops;
  ops.prepare =
      [this](const v1::DraftEarlyExitItem& item) -> absl::StatusOr<decoding::EarlyExitItem> {
    if (absl::Status s = CheckNumDraftTokens(item.num_draft_tokens()); !s.ok()) return s;
    return decoding::EarlyExitItem{item.session_id(), FromProto(item.sync()),
                                   static_cast<int>(item.num_draft_tokens()),
                                   item.has_exit_layer() ? item.exit_layer() : 0};
  };
  ops.submit = [this](decoding::EarlyExitItem item) {
    return early_exit_->TrySubmit(std::move(item));
  };
  ops.submit_all = [this](std::vector<decoding::EarlyExitItem> items) {
    return early_exit_->TrySubmitAll(std::move(items));
  };
  ops.finish = [this](const v1::DraftEarlyExitItem& item, decoding::DraftOutcome outcome,
                      v1::DraftEarlyExitResult* result) {
    if (!outcome.status.ok()) return outcome.status;
    ToProto(outcome.draft, item.encoding(), model_.info().vocab_size, result->mutable_tokens());
    result->set_exit_layer(item.has_exit_layer() ? item.exit_layer()
                                                 : model_.info().default_early_exit_layer);
    return absl::OkStatus();
  };
  return RunBatchedItems(*this, call, request, ops, response);
}

}  // namespace tandem::services
