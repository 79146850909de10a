#ifndef TANDEM_SERVICES_ORCHESTRATOR_REMOTE_BACKENDS_H_
#define TANDEM_SERVICES_ORCHESTRATOR_REMOTE_BACKENDS_H_

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "decoding/backends.h"
#include "services/orchestrator/grpc_incoming_call.h"
#include "proto/tandem/v1/draft_service.grpc.pb.h"
#include "proto/tandem/v1/target_service.grpc.pb.h"
#include "services/common/channel.h"

namespace tandem::services {

struct RemoteOptions {
  // The longest one call may take. A replica that does not answer in time
  // (while the request's own deadline has not passed) counts as down: the
  // call fails UNAVAILABLE so the request can move on (failover, or
  // target-only for a draft).
  absl::Duration call_timeout = absl::Seconds(30);
  // CloseSession runs outside the request (which may be cancelled already).
  absl::Duration close_timeout = absl::Seconds(2);
  std::string request_id;  // For calls made without a RequestScope.
  std::string address;     // For error messages.
  // ComputeRelevance's cap instead of call_timeout: Integrated Gradients
  // runs steps × generated tokens prefix passes.
  absl::Duration relevance_timeout = absl::Minutes(10);
};

// What the target and draft clients share: the stub, deadlines and request
// id on every call, the cached ModelInfo, and session open/close (both
// services have the same lifecycle RPCs). Thread-safe.
template <typename Service>
class RemoteSessions {
 public:
  RemoteSessions(std::shared_ptr<grpc::Channel> channel, RemoteOptions options);

  // Fetches ModelInfo once (waiting up to `timeout` for the server to come
  // up); Unavailable if it cannot be reached in time.
  absl::Status Connect(absl::Duration timeout = absl::Seconds(30));
  model::ModelInfo Info();
  std::vector<int64_t> eos_token_ids();
  std::string tokenizer_identity();
  // The server's session limit (ServerLimits.max_sessions) as of Connect; 0
  // = unlimited or not known.
  int64_t max_sessions();
  // Asks the server how many sessions it holds now (ServerLoad), waiting at
  // most `timeout`.
  absl::StatusOr<int64_t> PollOpenSessions(absl::Duration timeout);
  absl::StatusOr<decoding::SessionId> Open(const std::vector<int64_t>& prompt,
                                           const decoding::SessionOptions& options,
                                           const decoding::RequestScope* scope);
  // Best effort, bounded by close_timeout; never propagates cancellation.
  void Close(decoding::SessionId session, const decoding::RequestScope* scope);

  // A context for one call: the client's deadline and cancellation
  // propagated from scope->incoming_call (when it is a GrpcIncomingCall), capped at
  // call_timeout, with the request id as `x-request-id` metadata.
  std::unique_ptr<grpc::ClientContext> NewContext(const decoding::RequestScope* scope) const;
  // The call's status as absl: a call_timeout expiry before the request's
  // deadline becomes UNAVAILABLE naming the address.
  absl::Status Convert(const grpc::Status& status, const decoding::RequestScope* scope) const;
  // A batched call's status for every one of its `items` items when the
  // call failed as a whole (Convert(status)) or returned `results` results
  // for them (Internal); OK otherwise.
  absl::Status BatchStatus(const grpc::Status& status, const char* rpc, int results, size_t items,
                           const decoding::RequestScope* scope) const {
    if (!status.ok()) return Convert(status, scope);
    if (results != static_cast<int>(items)) {
      return absl::InternalError(
          absl::StrCat(rpc, " returned ", results, " results for ", items, " items"));
    }
    return absl::OkStatus();
  }
  typename Service::Stub& stub() { return *stub_; }
  std::string request_id(const decoding::RequestScope* scope) const {
    return scope != nullptr ? scope->request_id : options_.request_id;
  }

 private:
  std::unique_ptr<typename Service::Stub> stub_;
  RemoteOptions options_;
  std::mutex mu_;
  std::optional<model::ModelInfo> info_;
  std::vector<int64_t> eos_;
  std::string tokenizer_identity_;
  int64_t max_sessions_ = 0;
};

// decoding::TargetBackend over a TargetService. Thread-safe. Calls made
// through ForRequest() views carry that request's deadline, cancellation and
// id; direct calls use call_timeout and options.request_id.
class RemoteTargetBackend : public decoding::TargetBackend {
 public:
  explicit RemoteTargetBackend(std::shared_ptr<grpc::Channel> channel,
                               RemoteOptions options = {})
      : remote_(std::move(channel), options), relevance_timeout_(options.relevance_timeout) {}
  absl::Status Connect(absl::Duration timeout = absl::Seconds(30)) {
    return remote_.Connect(timeout);
  }
  std::vector<int64_t> eos_token_ids() { return remote_.eos_token_ids(); }
  std::string tokenizer_identity() { return remote_.tokenizer_identity(); }
  int64_t max_sessions() { return remote_.max_sessions(); }
  absl::StatusOr<int64_t> PollOpenSessions(absl::Duration timeout) {
    return remote_.PollOpenSessions(timeout);
  }

  std::unique_ptr<decoding::TargetBackend> ForRequest(
      const decoding::RequestScope& scope) override;
  model::ModelInfo Info() override { return remote_.Info(); }
  absl::StatusOr<decoding::SessionId> Open(const std::vector<int64_t>& prompt,
                                           const decoding::SessionOptions& options) override {
    return remote_.Open(prompt, options, nullptr);
  }
  absl::StatusOr<decoding::TimedVerify> Verify(const decoding::VerifyItem& item) override {
    return Verify(item, nullptr);
  }
  absl::StatusOr<decoding::TimedDraft> DraftEarlyExit(
      const decoding::EarlyExitItem& item) override {
    return DraftEarlyExit(item, nullptr);
  }
  absl::StatusOr<decoding::Scores> Score(
      const decoding::ScoreItem& item) override {
    return Score(item, nullptr);
  }
  // One Decode RPC for all items (the server runs them in one step).
  std::vector<absl::StatusOr<decoding::Scores>> ScoreAll(
      const std::vector<decoding::ScoreItem>& items) override {
    return ScoreAll(items, nullptr);
  }
  absl::StatusOr<decoding::SessionId> Fork(decoding::SessionId session, int64_t length) override {
    return Fork(session, length, nullptr);
  }
  void Close(decoding::SessionId session) override { remote_.Close(session, nullptr); }
  absl::StatusOr<std::vector<model::TokenRelevance>> Relevance(
      const decoding::RelevanceItem& item) override {
    return Relevance(item, nullptr);
  }

  // The same calls within a request's scope (may be null).
  absl::StatusOr<decoding::SessionId> Open(const std::vector<int64_t>& prompt,
                                           const decoding::SessionOptions& options,
                                           const decoding::RequestScope* scope) {
    return remote_.Open(prompt, options, scope);
  }
  absl::StatusOr<decoding::TimedVerify> Verify(const decoding::VerifyItem& item,
                                               const decoding::RequestScope* scope);
  absl::StatusOr<decoding::TimedDraft> DraftEarlyExit(const decoding::EarlyExitItem& item,
                                                      const decoding::RequestScope* scope);
  absl::StatusOr<decoding::Scores> Score(const decoding::ScoreItem& item,
                                                            const decoding::RequestScope* scope);
  std::vector<absl::StatusOr<decoding::Scores>> ScoreAll(
      const std::vector<decoding::ScoreItem>& items, const decoding::RequestScope* scope);
  absl::StatusOr<decoding::SessionId> Fork(decoding::SessionId session, int64_t length,
                                           const decoding::RequestScope* scope);
  void Close(decoding::SessionId session, const decoding::RequestScope* scope) {
    remote_.Close(session, scope);
  }
  absl::StatusOr<std::vector<model::TokenRelevance>> Relevance(
      const decoding::RelevanceItem& item, const decoding::RequestScope* scope);

 private:
  RemoteSessions<v1::TargetService> remote_;
  absl::Duration relevance_timeout_;
};

// decoding::DraftBackend over a DraftService. Thread-safe; scoped as
// RemoteTargetBackend.
class RemoteDraftBackend : public decoding::DraftBackend {
 public:
  explicit RemoteDraftBackend(std::shared_ptr<grpc::Channel> channel,
                              RemoteOptions options = {})
      : remote_(std::move(channel), std::move(options)) {}
  absl::Status Connect(absl::Duration timeout = absl::Seconds(30)) {
    return remote_.Connect(timeout);
  }
  std::string tokenizer_identity() { return remote_.tokenizer_identity(); }
  int64_t max_sessions() { return remote_.max_sessions(); }
  absl::StatusOr<int64_t> PollOpenSessions(absl::Duration timeout) {
    return remote_.PollOpenSessions(timeout);
  }

  std::unique_ptr<decoding::DraftBackend> ForRequest(const decoding::RequestScope& scope) override;
  model::ModelInfo Info() override { return remote_.Info(); }
  absl::StatusOr<decoding::SessionId> Open(const std::vector<int64_t>& prompt,
                                           const decoding::SessionOptions& options) override {
    return remote_.Open(prompt, options, nullptr);
  }
  absl::StatusOr<decoding::TimedDraft> Propose(const decoding::ProposeItem& item) override {
    return Propose(item, nullptr);
  }
  // One Propose RPC for all items.
  std::vector<absl::StatusOr<decoding::TimedDraft>> ProposeAll(
      const std::vector<decoding::ProposeItem>& items) override {
    return ProposeAll(items, nullptr);
  }
  void Close(decoding::SessionId session) override { remote_.Close(session, nullptr); }

  absl::StatusOr<decoding::SessionId> Open(const std::vector<int64_t>& prompt,
                                           const decoding::SessionOptions& options,
                                           const decoding::RequestScope* scope) {
    return remote_.Open(prompt, options, scope);
  }
  absl::StatusOr<decoding::TimedDraft> Propose(const decoding::ProposeItem& item,
                                               const decoding::RequestScope* scope);
  std::vector<absl::StatusOr<decoding::TimedDraft>> ProposeAll(
      const std::vector<decoding::ProposeItem>& items, const decoding::RequestScope* scope);
  void Close(decoding::SessionId session, const decoding::RequestScope* scope) {
    remote_.Close(session, scope);
  }

 private:
  RemoteSessions<v1::DraftService> remote_;
};

}  // namespace tandem::services

#endif  // TANDEM_SERVICES_ORCHESTRATOR_REMOTE_BACKENDS_H_
