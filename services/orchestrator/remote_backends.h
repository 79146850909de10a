#ifndef TANDEM_SERVICES_ORCHESTRATOR_REMOTE_BACKENDS_H_
#define TANDEM_SERVICES_ORCHESTRATOR_REMOTE_BACKENDS_H_

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <grpcpp/grpcpp.h>

#include "decoding/backends.h"
#include "proto/tandem/v1/draft_service.grpc.pb.h"
#include "proto/tandem/v1/target_service.grpc.pb.h"
#include "services/common/channel.h"

namespace tandem::services {

struct RemoteOptions {
  absl::Duration call_timeout = absl::Seconds(30);
  std::string request_id;  // Forwarded for logs.
};

// What the target and draft clients share: the stub, deadlines and request
// id on every call, the cached ModelInfo, and session open/close (both
// services have the same lifecycle RPCs). Thread-safe.
template <typename Service>
class RemoteSessions {
 public:
  RemoteSessions(std::shared_ptr<grpc::Channel> channel, RemoteOptions options);

  // Fetches ModelInfo once (waiting for the server to come up); Unavailable
  // if it cannot be reached within the call timeout.
  absl::Status Connect();
  model::ModelInfo Info();
  std::vector<int64_t> eos_token_ids();
  std::string tokenizer_identity();
  absl::StatusOr<decoding::SessionId> Open(const std::vector<int64_t>& prompt,
                                           const decoding::SessionOptions& options);
  void Close(decoding::SessionId session);

  // A context with the call deadline and the request id set.
  void Prepare(grpc::ClientContext& context) const;
  typename Service::Stub& stub() { return *stub_; }
  const std::string& request_id() const { return options_.request_id; }

 private:
  std::unique_ptr<typename Service::Stub> stub_;
  RemoteOptions options_;
  std::mutex mu_;
  std::optional<model::ModelInfo> info_;
  std::vector<int64_t> eos_;
  std::string tokenizer_identity_;
};

// decoding::TargetBackend over a TargetService. Thread-safe.
class RemoteTargetBackend : public decoding::TargetBackend {
 public:
  explicit RemoteTargetBackend(std::shared_ptr<grpc::Channel> channel,
                               RemoteOptions options = {})
      : remote_(std::move(channel), std::move(options)) {}
  absl::Status Connect() { return remote_.Connect(); }
  std::vector<int64_t> eos_token_ids() { return remote_.eos_token_ids(); }
  std::string tokenizer_identity() { return remote_.tokenizer_identity(); }

  model::ModelInfo Info() override { return remote_.Info(); }
  absl::StatusOr<decoding::SessionId> Open(const std::vector<int64_t>& prompt,
                                           const decoding::SessionOptions& options) override {
    return remote_.Open(prompt, options);
  }
  absl::StatusOr<decoding::TimedVerify> Verify(const decoding::VerifyItem& item) override;
  absl::StatusOr<decoding::TimedDraft> DraftEarlyExit(const decoding::EarlyExitItem& item) override;
  absl::StatusOr<std::vector<sampling::TokenLogprob>> Score(const decoding::ScoreItem& item) override;
  absl::StatusOr<decoding::SessionId> Fork(decoding::SessionId session, int64_t length) override;
  void Close(decoding::SessionId session) override { remote_.Close(session); }

 private:
  RemoteSessions<v1::TargetService> remote_;
};

// decoding::DraftBackend over a DraftService. Thread-safe.
class RemoteDraftBackend : public decoding::DraftBackend {
 public:
  explicit RemoteDraftBackend(std::shared_ptr<grpc::Channel> channel,
                              RemoteOptions options = {})
      : remote_(std::move(channel), std::move(options)) {}
  absl::Status Connect() { return remote_.Connect(); }
  std::string tokenizer_identity() { return remote_.tokenizer_identity(); }

  model::ModelInfo Info() override { return remote_.Info(); }
  absl::StatusOr<decoding::SessionId> Open(const std::vector<int64_t>& prompt,
                                           const decoding::SessionOptions& options) override {
    return remote_.Open(prompt, options);
  }
  absl::StatusOr<decoding::TimedDraft> Propose(const decoding::ProposeItem& item) override;
  void Close(decoding::SessionId session) override { remote_.Close(session); }

 private:
  RemoteSessions<v1::DraftService> remote_;
};

}  // namespace tandem::services

#endif  // TANDEM_SERVICES_ORCHESTRATOR_REMOTE_BACKENDS_H_
