#include "services/orchestrator/remote_backends.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "services/common/convert.h"
#include "services/common/status.h"

namespace tandem::services {
namespace {

model::ModelInfo FromProto(const v1::ModelInfo& m) {
  model::ModelInfo info;
  info.name = m.model_name();
  info.architecture =
      m.architecture() == "gpt2" ? model::Architecture::kGpt2 : model::Architecture::kLlama;
  info.vocab_size = m.vocab_size();
  info.context_length = m.context_length();
  info.num_layers = m.num_layers();
  info.default_early_exit_layer = m.default_exit_layer();
  info.kv_bytes_per_token = m.kv_cache_bytes_per_token();
  info.dtype = m.dtype() == v1::DTYPE_BFLOAT16 ? at::kBFloat16
               : m.dtype() == v1::DTYPE_FLOAT16 ? at::kHalf
                                                : at::kFloat;
  return info;
}

template <typename Stub>
absl::StatusOr<v1::GetModelInfoResponse> FetchInfo(Stub& stub, grpc::ClientContext& context) {
  v1::GetModelInfoResponse response;
  grpc::Status s = stub.GetModelInfo(&context, v1::GetModelInfoRequest(), &response);
  if (!s.ok()) return FromGrpcStatus(s);
  return response;
}

v1::OpenSessionRequest OpenRequest(const std::vector<int64_t>& prompt,
                                   const decoding::SessionOptions& options,
                                   const std::string& request_id) {
  v1::OpenSessionRequest request;
  request.set_request_id(request_id);
  for (int64_t t : prompt) request.add_prompt_token_ids(t);
  ToProto(options, request.mutable_config());
  return request;
}

}  // namespace

template <typename Service>
RemoteSessions<Service>::RemoteSessions(std::shared_ptr<grpc::Channel> channel,
                                        RemoteOptions options)
    : stub_(Service::NewStub(channel)), options_(std::move(options)) {}

template <typename Service>
void RemoteSessions<Service>::Prepare(grpc::ClientContext& context) const {
  context.set_deadline(std::chrono::system_clock::now() +
                       absl::ToChronoNanoseconds(options_.call_timeout));
  if (!options_.request_id.empty()) context.AddMetadata("x-request-id", options_.request_id);
}

template <typename Service>
absl::Status RemoteSessions<Service>::Connect() {
  grpc::ClientContext context;
  Prepare(context);
  context.set_wait_for_ready(true);
  absl::StatusOr<v1::GetModelInfoResponse> r = FetchInfo(*stub_, context);
  if (!r.ok()) return r.status();
  std::lock_guard<std::mutex> lock(mu_);
  info_ = FromProto(r->model());
  eos_.assign(r->model().eos_token_ids().begin(), r->model().eos_token_ids().end());
  tokenizer_identity_ = r->model().tokenizer().name();
  return absl::OkStatus();
}

template <typename Service>
std::string RemoteSessions<Service>::tokenizer_identity() {
  std::lock_guard<std::mutex> lock(mu_);
  return tokenizer_identity_;
}

template <typename Service>
model::ModelInfo RemoteSessions<Service>::Info() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (info_) return *info_;
  }
  (void)Connect();
  std::lock_guard<std::mutex> lock(mu_);
  return info_.value_or(model::ModelInfo{});
}

template <typename Service>
std::vector<int64_t> RemoteSessions<Service>::eos_token_ids() {
  std::lock_guard<std::mutex> lock(mu_);
  return eos_;
}

template <typename Service>
absl::StatusOr<decoding::SessionId> RemoteSessions<Service>::Open(
    const std::vector<int64_t>& prompt, const decoding::SessionOptions& options) {
  grpc::ClientContext context;
  Prepare(context);
  v1::OpenSessionResponse response;
  grpc::Status s =
      stub_->OpenSession(&context, OpenRequest(prompt, options, options_.request_id), &response);
  if (!s.ok()) return FromGrpcStatus(s);
  return response.session_id();
}

template <typename Service>
void RemoteSessions<Service>::Close(decoding::SessionId session) {
  v1::CloseSessionRequest request;
  request.set_session_id(session);
  grpc::ClientContext context;
  Prepare(context);
  v1::CloseSessionResponse response;
  (void)stub_->CloseSession(&context, request, &response);
}

template class RemoteSessions<v1::TargetService>;
template class RemoteSessions<v1::DraftService>;

absl::StatusOr<decoding::TimedVerify> RemoteTargetBackend::Verify(
    const decoding::VerifyItem& item) {
  v1::VerifyRequest request;
  v1::VerifyItem* wire = request.add_items();
  wire->set_session_id(item.session);
  ToProto(item.sync, wire->mutable_sync());
  ToProto(item.draft, v1::DISTRIBUTION_ENCODING_UNSPECIFIED, wire->mutable_draft_tokens());
  grpc::ClientContext context;
  remote_.Prepare(context);
  v1::VerifyResponse response;
  grpc::Status s = remote_.stub().Verify(&context, request, &response);
  if (!s.ok()) return FromGrpcStatus(s);
  if (response.results_size() != 1) {
    return absl::InternalError("Verify returned no result for its item");
  }
  const v1::VerifyResult& r = response.results(0);
  if (absl::Status st = FromItemStatus(r.status()); !st.ok()) return st;
  decoding::TimedVerify out;
  out.server_time = FromProto(response.server_time());
  out.outcome.result.num_accepted = r.accepted_count();
  for (const v1::GeneratedToken& t : r.emitted_tokens()) {
    out.outcome.result.emitted.push_back(FromProto(t));
  }
  out.outcome.committed_length = r.sequence_length();
  return out;
}

absl::StatusOr<decoding::TimedDraft> RemoteTargetBackend::DraftEarlyExit(
    const decoding::EarlyExitItem& item) {
  v1::DraftEarlyExitRequest request;
  v1::DraftEarlyExitItem* wire = request.add_items();
  wire->set_session_id(item.session);
  ToProto(item.sync, wire->mutable_sync());
  wire->set_num_draft_tokens(item.gamma);
  if (item.exit_layer > 0) wire->set_exit_layer(item.exit_layer);
  grpc::ClientContext context;
  remote_.Prepare(context);
  v1::DraftEarlyExitResponse response;
  grpc::Status s = remote_.stub().DraftEarlyExit(&context, request, &response);
  if (!s.ok()) return FromGrpcStatus(s);
  if (response.results_size() != 1) {
    return absl::InternalError("DraftEarlyExit returned no result for its item");
  }
  if (absl::Status st = FromItemStatus(response.results(0).status()); !st.ok()) return st;
  absl::StatusOr<decoding::Draft> draft = FromProto(response.results(0).tokens());
  if (!draft.ok()) return draft.status();
  decoding::TimedDraft out;
  out.draft = *std::move(draft);
  out.server_time = FromProto(response.server_time());
  return out;
}

absl::StatusOr<std::vector<sampling::TokenLogprob>> RemoteTargetBackend::Score(
    const decoding::ScoreItem& item) {
  v1::DecodeRequest request;
  v1::DecodeItem* wire = request.add_items();
  wire->set_session_id(item.session);
  ToProto(item.sync, wire->mutable_sync());
  wire->set_score_only(true);
  wire->set_top_logprobs(item.top_n);
  grpc::ClientContext context;
  remote_.Prepare(context);
  v1::DecodeResponse response;
  grpc::Status s = remote_.stub().Decode(&context, request, &response);
  if (!s.ok()) return FromGrpcStatus(s);
  if (response.results_size() != 1) return absl::InternalError("Decode returned no result");
  if (absl::Status st = FromItemStatus(response.results(0).status()); !st.ok()) return st;
  std::vector<sampling::TokenLogprob> out;
  for (const v1::TokenLogprob& c : response.results(0).candidates()) {
    out.push_back({static_cast<int64_t>(c.token_id()), c.logprob()});
  }
  return out;
}

absl::StatusOr<decoding::SessionId> RemoteTargetBackend::Fork(decoding::SessionId session,
                                                              int64_t length) {
  v1::ForkSessionRequest request;
  request.set_source_session_id(session);
  request.set_length(length);
  request.set_request_id(remote_.request_id());
  grpc::ClientContext context;
  remote_.Prepare(context);
  v1::ForkSessionResponse response;
  grpc::Status s = remote_.stub().ForkSession(&context, request, &response);
  if (!s.ok()) return FromGrpcStatus(s);
  return response.session_id();
}

absl::StatusOr<decoding::TimedDraft> RemoteDraftBackend::Propose(
    const decoding::ProposeItem& item) {
  v1::ProposeRequest request;
  v1::ProposeItem* wire = request.add_items();
  wire->set_session_id(item.session);
  ToProto(item.sync, wire->mutable_sync());
  wire->set_num_draft_tokens(item.gamma);
  grpc::ClientContext context;
  remote_.Prepare(context);
  v1::ProposeResponse response;
  grpc::Status s = remote_.stub().Propose(&context, request, &response);
  if (!s.ok()) return FromGrpcStatus(s);
  if (response.results_size() != 1) {
    return absl::InternalError("Propose returned no result for its item");
  }
  if (absl::Status st = FromItemStatus(response.results(0).status()); !st.ok()) return st;
  absl::StatusOr<decoding::Draft> draft = FromProto(response.results(0).tokens());
  if (!draft.ok()) return draft.status();
  decoding::TimedDraft out;
  out.draft = *std::move(draft);
  out.server_time = FromProto(response.server_time());
  return out;
}

}  // namespace tandem::services
