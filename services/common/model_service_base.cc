#include "services/common/model_service_base.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "services/common/convert.h"
#include "services/common/status.h"

namespace tandem::services {

ModelServiceBase::ModelServiceBase(const ModelServerOptions& options,
                                   model::Model& model, OpenFn open, CloseFn close,
                                   ForkFn fork)
    : options_(options),
      model_(model),
      open_(std::move(open)),
      close_(std::move(close)),
      fork_(std::move(fork)),
      reaper_([this] { ReapLoop(); }) {}

ModelServiceBase::~ModelServiceBase() { StopReaper(); }

void ModelServiceBase::StopReaper() {
  stopping_ = true;
  if (reaper_.joinable()) reaper_.join();
}

void ModelServiceBase::ReapLoop() {
  const absl::Duration tick = std::min(absl::Milliseconds(200), options_.session_ttl / 4);
  while (!stopping_) {
    absl::SleepFor(tick);
    for (uint64_t id : leases_.TakeExpired()) {
      std::lock_guard<std::mutex> lock(engine_mutex_);
      (void)close_(id);
    }
  }
}

grpc::Status ModelServiceBase::DoOpen(const v1::OpenSessionRequest& request,
                                      v1::OpenSessionResponse* response) {
  const absl::Time start = absl::Now();
  if (request.request_id().size() > 128) {
    return ToGrpcStatus(absl::InvalidArgumentError("`request_id` is longer than 128 bytes"));
  }
  absl::StatusOr<decoding::SessionOptions> session_options = FromProto(request.config());
  if (!session_options.ok()) return ToGrpcStatus(session_options.status());
  std::vector<int64_t> prompt(request.prompt_token_ids().begin(),
                              request.prompt_token_ids().end());
  absl::StatusOr<decoding::SessionId> id;
  {
    std::lock_guard<std::mutex> lock(engine_mutex_);
    id = open_(prompt, *session_options);
  }
  if (!id.ok()) return ToGrpcStatus(id.status());
  absl::Duration ttl = options_.session_ttl;
  if (request.has_ttl_hint()) {
    ttl = std::clamp(FromProto(request.ttl_hint()), absl::Seconds(1), options_.session_ttl);
  }
  leases_.Renew(*id, ttl);
  response->set_session_id(*id);
  response->set_sequence_length(prompt.size());
  ToProto(ttl, response->mutable_ttl());
  ToProto(absl::Now() - start, response->mutable_prefill_time());
  return grpc::Status::OK;
}

grpc::Status ModelServiceBase::DoClose(const v1::CloseSessionRequest& request) {
  leases_.Remove(request.session_id());
  std::lock_guard<std::mutex> lock(engine_mutex_);
  return ToGrpcStatus(close_(request.session_id()));
}

grpc::Status ModelServiceBase::DoFork(const v1::ForkSessionRequest& request,
                                      v1::ForkSessionResponse* response) {
  if (request.request_id().size() > 128) {
    return ToGrpcStatus(absl::InvalidArgumentError("`request_id` is longer than 128 bytes"));
  }
  absl::StatusOr<decoding::SessionId> id;
  {
    std::lock_guard<std::mutex> lock(engine_mutex_);
    id = fork_(request.source_session_id(), request.length());
  }
  if (!id.ok()) return ToGrpcStatus(id.status());
  absl::Duration ttl = options_.session_ttl;
  if (request.has_ttl_hint()) {
    ttl = std::clamp(FromProto(request.ttl_hint()), absl::Seconds(1), options_.session_ttl);
  }
  leases_.Renew(*id, ttl);
  leases_.Renew(request.source_session_id(), options_.session_ttl);
  response->set_session_id(*id);
  response->set_sequence_length(request.length());
  ToProto(ttl, response->mutable_ttl());
  return grpc::Status::OK;
}

grpc::Status ModelServiceBase::DoModelInfo(v1::GetModelInfoResponse* response) {
  {
    std::lock_guard<std::mutex> lock(engine_mutex_);
    ToProto(model_.info(), response->mutable_model());
  }
  response->mutable_model()->mutable_tokenizer()->set_name(options_.tokenizer_identity);
  v1::ServerLimits* limits = response->mutable_limits();
  limits->set_max_sessions(options_.max_sessions);
  limits->set_max_items_per_call(options_.max_items_per_call);
  limits->set_max_draft_length(options_.max_draft_length);
  limits->set_max_message_bytes(options_.max_message_bytes);
  ToProto(options_.session_ttl, limits->mutable_max_session_ttl());
  return grpc::Status::OK;
}

grpc::Status ModelServiceBase::CheckItems(const std::vector<uint64_t>& sessions) {
  if (sessions.empty() ||
      static_cast<int>(sessions.size()) > options_.max_items_per_call) {
    return ToGrpcStatus(absl::InvalidArgumentError(absl::StrCat(
        "`items` must have 1 to ", options_.max_items_per_call, " entries, got ",
        sessions.size())));
  }
  absl::flat_hash_set<uint64_t> seen;
  for (uint64_t id : sessions) {
    if (!seen.insert(id).second) {
      return ToGrpcStatus(absl::InvalidArgumentError(
          absl::StrCat("session ", id, " appears twice in `items`")));
    }
  }
  for (uint64_t id : sessions) leases_.Renew(id, options_.session_ttl);
  return grpc::Status::OK;
}

}  // namespace tandem::services
