#include "services/orchestrator/remote_backends.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "services/common/convert.h"
#include "services/common/relevance_convert.h"
#include "services/common/status.h"

namespace tandem::services {
namespace {

model::ModelInfo FromProto(const v1::ModelInfo& m) {
  model::ModelInfo info;
  info.name = m.model_name();
  // An unknown family name (a newer server) reads as plain Llama.
  model::ParseFamilyName(m.architecture(), &info.architecture, &info.variant);
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
  if (options.max_sequence_length > 0) {
    request.set_max_sequence_length(static_cast<uint32_t>(options.max_sequence_length));
  }
  return request;
}

}  // namespace

template <typename Service>
RemoteSessions<Service>::RemoteSessions(std::shared_ptr<grpc::Channel> channel,
                                        RemoteOptions options)
    : stub_(Service::NewStub(channel)), options_(std::move(options)) {}

template <typename Service>
std::unique_ptr<grpc::ClientContext> RemoteSessions<Service>::NewContext(
    const decoding::RequestScope* scope) const {
  std::unique_ptr<grpc::ClientContext> context;
  const auto* incoming =
      scope != nullptr ? dynamic_cast<const GrpcIncomingCall*>(scope->incoming_call) : nullptr;
  if (incoming != nullptr) {
    // The client's deadline and cancellation reach this call through gRPC's
    // call propagation.
    context = grpc::ClientContext::FromServerContext(incoming->context());
  } else {
    context = std::make_unique<grpc::ClientContext>();
  }
  absl::Time deadline = absl::Now() + options_.call_timeout;
  if (scope != nullptr) deadline = std::min(deadline, scope->deadline);
  context->set_deadline(absl::ToChronoTime(deadline));
  const std::string id = request_id(scope);
  if (!id.empty()) context->AddMetadata("x-request-id", id);
  return context;
}

template <typename Service>
absl::Status RemoteSessions<Service>::Convert(const grpc::Status& status,
                                              const decoding::RequestScope* scope) const {
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED &&
      (scope == nullptr || absl::Now() < scope->deadline)) {
    return absl::UnavailableError(absl::StrCat(options_.address.empty() ? "server" : options_.address,
                                               " did not answer within ",
                                               absl::FormatDuration(options_.call_timeout)));
  }
  return FromGrpcStatus(status);
}

template <typename Service>
absl::Status RemoteSessions<Service>::Connect(absl::Duration timeout) {
  std::unique_ptr<grpc::ClientContext> context = NewContext(nullptr);
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  context->set_wait_for_ready(true);
  absl::StatusOr<v1::GetModelInfoResponse> r = FetchInfo(*stub_, *context);
  if (!r.ok()) return r.status();
  std::lock_guard<std::mutex> lock(mu_);
  info_ = FromProto(r->model());
  eos_.assign(r->model().eos_token_ids().begin(), r->model().eos_token_ids().end());
  tokenizer_identity_ = r->model().tokenizer().name();
  max_sessions_ = r->limits().max_sessions();
  return absl::OkStatus();
}

template <typename Service>
absl::StatusOr<int64_t> RemoteSessions<Service>::PollOpenSessions(absl::Duration timeout) {
  std::unique_ptr<grpc::ClientContext> context = NewContext(nullptr);
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  absl::StatusOr<v1::GetModelInfoResponse> r = FetchInfo(*stub_, *context);
  if (!r.ok()) return r.status();
  return static_cast<int64_t>(r->load().open_sessions());
}

template <typename Service>
int64_t RemoteSessions<Service>::max_sessions() {
  std::lock_guard<std::mutex> lock(mu_);
  return max_sessions_;
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
    const std::vector<int64_t>& prompt, const decoding::SessionOptions& options,
    const decoding::RequestScope* scope) {
  std::unique_ptr<grpc::ClientContext> context = NewContext(scope);
  v1::OpenSessionRequest request = OpenRequest(prompt, options, request_id(scope));
  if (scope != nullptr && scope->deadline != absl::InfiniteFuture()) {
    // If this call's reply is lost (the request's deadline passes while the
    // server opens the session) nobody will close the session: its first
    // lease ends shortly after the request could have used it. Every later
    // call on the session renews the lease to the server's full TTL.
    ToProto(std::max(absl::Seconds(1), scope->deadline - absl::Now() + absl::Seconds(1)),
            request.mutable_ttl_hint());
  }
  v1::OpenSessionResponse response;
  grpc::Status s = stub_->OpenSession(context.get(), request, &response);
  if (!s.ok()) return Convert(s, scope);
  return response.session_id();
}

template <typename Service>
void RemoteSessions<Service>::Close(decoding::SessionId session,
                                    const decoding::RequestScope* scope) {
  v1::CloseSessionRequest request;
  request.set_session_id(session);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + options_.close_timeout));
  if (const std::string id = request_id(scope); !id.empty()) {
    context.AddMetadata("x-request-id", id);
  }
  v1::CloseSessionResponse response;
  (void)stub_->CloseSession(&context, request, &response);
}

template class RemoteSessions<v1::TargetService>;
template class RemoteSessions<v1::DraftService>;

absl::StatusOr<decoding::TimedVerify> RemoteTargetBackend::Verify(
    const decoding::VerifyItem& item, const decoding::RequestScope* scope) {
  v1::VerifyRequest request;
  v1::VerifyItem* wire = request.add_items();
  wire->set_session_id(item.session);
  ToProto(item.sync, wire->mutable_sync());
  ToProto(item.draft, v1::DISTRIBUTION_ENCODING_UNSPECIFIED, /*vocab_size=*/0,
          wire->mutable_draft_tokens());
  for (int32_t parent : item.draft.parents) wire->add_draft_parents(parent);
  std::unique_ptr<grpc::ClientContext> context = remote_.NewContext(scope);
  v1::VerifyResponse response;
  grpc::Status s = remote_.stub().Verify(context.get(), request, &response);
  if (!s.ok()) return remote_.Convert(s, scope);
  if (response.results_size() != 1) {
    return absl::InternalError("Verify returned no result for its item");
  }
  const v1::VerifyResult& r = response.results(0);
  if (absl::Status st = FromItemStatus(r.status()); !st.ok()) return st;
  decoding::TimedVerify out;
  out.server_time = FromProto(response.server_time());
  out.outcome.result.num_accepted = r.accepted_count();
  for (uint32_t node : r.accepted_nodes()) {
    out.outcome.result.accepted_nodes.push_back(static_cast<int32_t>(node));
  }
  for (const v1::GeneratedToken& t : r.emitted_tokens()) {
    out.outcome.result.emitted.push_back(FromProto(t));
  }
  out.outcome.committed_length = r.sequence_length();
  for (uint32_t us : r.marginal_step_us()) {
    out.outcome.marginal_seconds.push_back(static_cast<float>(us) * 1e-6f);
  }
  out.outcome.others_busy = static_cast<float>(std::min<uint32_t>(r.others_busy_permille(), 1000)) / 1000;
  return out;
}

absl::StatusOr<decoding::TimedDraft> RemoteTargetBackend::DraftEarlyExit(
    const decoding::EarlyExitItem& item, const decoding::RequestScope* scope) {
  v1::DraftEarlyExitRequest request;
  v1::DraftEarlyExitItem* wire = request.add_items();
  wire->set_session_id(item.session);
  ToProto(item.sync, wire->mutable_sync());
  wire->set_num_draft_tokens(item.gamma);
  if (item.exit_layer > 0) wire->set_exit_layer(item.exit_layer);
  std::unique_ptr<grpc::ClientContext> context = remote_.NewContext(scope);
  v1::DraftEarlyExitResponse response;
  grpc::Status s = remote_.stub().DraftEarlyExit(context.get(), request, &response);
  if (!s.ok()) return remote_.Convert(s, scope);
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

absl::StatusOr<decoding::Scores> RemoteTargetBackend::Score(
    const decoding::ScoreItem& item, const decoding::RequestScope* scope) {
  return std::move(ScoreAll({item}, scope).front());
}

std::vector<absl::StatusOr<decoding::Scores>> RemoteTargetBackend::ScoreAll(
    const std::vector<decoding::ScoreItem>& items, const decoding::RequestScope* scope) {
  // One Decode call: the server queues its items together (one step).
  v1::DecodeRequest request;
  for (const decoding::ScoreItem& item : items) {
    v1::DecodeItem* wire = request.add_items();
    wire->set_session_id(item.session);
    ToProto(item.sync, wire->mutable_sync());
    wire->set_score_only(true);
    wire->set_top_logprobs(item.top_n);
    for (int64_t t : item.tree.tokens) wire->add_score_tokens(static_cast<uint32_t>(t));
    for (int32_t parent : item.tree.parents) wire->add_score_parents(parent);
  }
  std::unique_ptr<grpc::ClientContext> context = remote_.NewContext(scope);
  v1::DecodeResponse response;
  grpc::Status s = remote_.stub().Decode(context.get(), request, &response);
  std::vector<absl::StatusOr<decoding::Scores>> out;
  if (absl::Status whole = remote_.BatchStatus(s, "Decode", response.results_size(), items.size(),
                                               scope);
      !whole.ok()) {
    out.assign(items.size(), whole);
    return out;
  }
  for (size_t k = 0; k < items.size(); ++k) {
    const v1::DecodeResult& result = response.results(static_cast<int>(k));
    if (absl::Status st = FromItemStatus(result.status()); !st.ok()) {
      out.push_back(st);
      continue;
    }
    decoding::Scores scores;
    scores.candidates = LogprobsOf(result.candidates());
    for (const v1::TokenCandidates& node : result.node_candidates()) {
      scores.node_candidates.push_back(LogprobsOf(node.candidates()));
    }
    if (scores.node_candidates.size() != items[k].tree.tokens.size()) {
      out.push_back(absl::InternalError(absl::StrCat(
          "Decode returned candidates for ", scores.node_candidates.size(), " of ",
          items[k].tree.tokens.size(), " scored tokens")));
      continue;
    }
    out.push_back(std::move(scores));
  }
  return out;
}

absl::StatusOr<decoding::SessionId> RemoteTargetBackend::Fork(
    decoding::SessionId session, int64_t length, const decoding::RequestScope* scope) {
  v1::ForkSessionRequest request;
  request.set_source_session_id(session);
  request.set_length(length);
  request.set_request_id(remote_.request_id(scope));
  std::unique_ptr<grpc::ClientContext> context = remote_.NewContext(scope);
  v1::ForkSessionResponse response;
  grpc::Status s = remote_.stub().ForkSession(context.get(), request, &response);
  if (!s.ok()) return remote_.Convert(s, scope);
  return response.session_id();
}

absl::StatusOr<std::vector<model::TokenRelevance>> RemoteTargetBackend::Relevance(
    const decoding::RelevanceItem& item, const decoding::RequestScope* scope) {
  v1::ComputeRelevanceRequest request;
  request.set_request_id(remote_.request_id(scope));
  for (int64_t t : item.tokens) request.add_token_ids(t);
  request.set_first_generated(item.first_generated);
  ToProto(ValidatedRelevance{item.options, item.dense}, request.mutable_options());
  std::unique_ptr<grpc::ClientContext> context = remote_.NewContext(scope);
  absl::Time deadline = absl::Now() + relevance_timeout_;
  if (scope != nullptr) deadline = std::min(deadline, scope->deadline);
  context->set_deadline(absl::ToChronoTime(deadline));
  v1::ComputeRelevanceResponse response;
  grpc::Status s = remote_.stub().ComputeRelevance(context.get(), request, &response);
  if (!s.ok()) return FromGrpcStatus(s);
  std::vector<model::TokenRelevance> out;
  out.reserve(response.relevance_size());
  for (const v1::TokenRelevance& r : response.relevance()) {
    out.push_back(FromProto(r));
    const size_t position = out.back().position;
    if (position < item.tokens.size()) out.back().token = item.tokens[position];
  }
  if (out.size() != item.tokens.size() - item.first_generated) {
    return absl::InternalError(absl::StrCat("ComputeRelevance returned ", out.size(),
                                            " entries for ",
                                            item.tokens.size() - item.first_generated, " tokens"));
  }
  return out;
}

absl::StatusOr<decoding::TimedDraft> RemoteDraftBackend::Propose(
    const decoding::ProposeItem& item, const decoding::RequestScope* scope) {
  return std::move(ProposeAll({item}, scope).front());
}

std::vector<absl::StatusOr<decoding::TimedDraft>> RemoteDraftBackend::ProposeAll(
    const std::vector<decoding::ProposeItem>& items, const decoding::RequestScope* scope) {
  // One Propose call: the server queues its items together (batched steps).
  v1::ProposeRequest request;
  for (const decoding::ProposeItem& item : items) {
    v1::ProposeItem* wire = request.add_items();
    wire->set_session_id(item.session);
    ToProto(item.sync, wire->mutable_sync());
    wire->set_num_draft_tokens(item.gamma);
    wire->set_guess_first(item.guess_first);
    wire->set_tree_alternatives(item.tree_alternatives);
    wire->set_tree_depth(item.tree_depth);
    wire->set_top_logprobs(static_cast<uint32_t>(item.top_logprobs));
  }
  std::unique_ptr<grpc::ClientContext> context = remote_.NewContext(scope);
  v1::ProposeResponse response;
  grpc::Status s = remote_.stub().Propose(context.get(), request, &response);
  std::vector<absl::StatusOr<decoding::TimedDraft>> out;
  if (absl::Status whole = remote_.BatchStatus(s, "Propose", response.results_size(),
                                               items.size(), scope);
      !whole.ok()) {
    out.assign(items.size(), whole);
    return out;
  }
  const absl::Duration server_time = FromProto(response.server_time());
  for (size_t k = 0; k < items.size(); ++k) {
    const v1::ProposeResult& result = response.results(static_cast<int>(k));
    if (absl::Status st = FromItemStatus(result.status()); !st.ok()) {
      out.push_back(st);
      continue;
    }
    absl::StatusOr<decoding::Draft> draft = FromProto(result.tokens());
    if (!draft.ok()) {
      out.push_back(draft.status());
      continue;
    }
    draft->parents.assign(result.parents().begin(), result.parents().end());
    if (!draft->parents.empty() && draft->parents.size() != draft->tokens.size()) {
      out.push_back(absl::InternalError(
          "Propose returned a tree with a parent count unlike its token count"));
      continue;
    }
    if (items[k].top_logprobs > 0) {
      for (const v1::DraftedToken& token : result.tokens()) {
        draft->candidates.push_back(LogprobsOf(token.candidates()));
      }
      draft->candidates.resize(draft->chain_length());
    }
    decoding::TimedDraft timed;
    timed.draft = *std::move(draft);
    timed.server_time = server_time;
    out.push_back(std::move(timed));
  }
  return out;
}

namespace {

// A RemoteTargetBackend's calls within one request's scope.
class ScopedRemoteTarget : public decoding::TargetBackend {
 public:
  ScopedRemoteTarget(RemoteTargetBackend& remote, decoding::RequestScope scope)
      : remote_(remote), scope_(std::move(scope)) {}
  model::ModelInfo Info() override { return remote_.Info(); }
  absl::StatusOr<decoding::SessionId> Open(const std::vector<int64_t>& prompt,
                                           const decoding::SessionOptions& options) override {
    return remote_.Open(prompt, options, &scope_);
  }
  absl::StatusOr<decoding::TimedVerify> Verify(const decoding::VerifyItem& item) override {
    return remote_.Verify(item, &scope_);
  }
  absl::StatusOr<decoding::TimedDraft> DraftEarlyExit(
      const decoding::EarlyExitItem& item) override {
    return remote_.DraftEarlyExit(item, &scope_);
  }
  absl::StatusOr<decoding::Scores> Score(
      const decoding::ScoreItem& item) override {
    return remote_.Score(item, &scope_);
  }
  std::vector<absl::StatusOr<decoding::Scores>> ScoreAll(
      const std::vector<decoding::ScoreItem>& items) override {
    return remote_.ScoreAll(items, &scope_);
  }
  absl::StatusOr<decoding::SessionId> Fork(decoding::SessionId session, int64_t length) override {
    return remote_.Fork(session, length, &scope_);
  }
  void Close(decoding::SessionId session) override { remote_.Close(session, &scope_); }
  absl::StatusOr<std::vector<model::TokenRelevance>> Relevance(
      const decoding::RelevanceItem& item) override {
    return remote_.Relevance(item, &scope_);
  }

 private:
  RemoteTargetBackend& remote_;
  const decoding::RequestScope scope_;
};

class ScopedRemoteDraft : public decoding::DraftBackend {
 public:
  ScopedRemoteDraft(RemoteDraftBackend& remote, decoding::RequestScope scope)
      : remote_(remote), scope_(std::move(scope)) {}
  model::ModelInfo Info() override { return remote_.Info(); }
  absl::StatusOr<decoding::SessionId> Open(const std::vector<int64_t>& prompt,
                                           const decoding::SessionOptions& options) override {
    return remote_.Open(prompt, options, &scope_);
  }
  absl::StatusOr<decoding::TimedDraft> Propose(const decoding::ProposeItem& item) override {
    return remote_.Propose(item, &scope_);
  }
  std::vector<absl::StatusOr<decoding::TimedDraft>> ProposeAll(
      const std::vector<decoding::ProposeItem>& items) override {
    return remote_.ProposeAll(items, &scope_);
  }
  void Close(decoding::SessionId session) override { remote_.Close(session, &scope_); }

 private:
  RemoteDraftBackend& remote_;
  const decoding::RequestScope scope_;
};

}  // namespace

std::unique_ptr<decoding::TargetBackend> RemoteTargetBackend::ForRequest(
    const decoding::RequestScope& scope) {
  return std::make_unique<ScopedRemoteTarget>(*this, scope);
}

std::unique_ptr<decoding::DraftBackend> RemoteDraftBackend::ForRequest(
    const decoding::RequestScope& scope) {
  return std::make_unique<ScopedRemoteDraft>(*this, scope);
}

}  // namespace tandem::services
