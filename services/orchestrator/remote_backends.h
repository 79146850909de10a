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

namespace tandem::services {

struct RemoteOptions {
  absl::Duration call_timeout = absl::Seconds(30);
  std::string request_id;  // Forwarded for logs.
};

// Opens a channel with tandem's message-size limits.
std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address,
                                           int64_t max_message_bytes = 64 << 20);

// decoding::TargetBackend over a TargetService. Thread-safe.
class RemoteTargetBackend : public decoding::TargetBackend {
 public:
  explicit RemoteTargetBackend(std::shared_ptr<grpc::Channel> channel,
                               RemoteOptions options = {});
  // Fetches ModelInfo once; Unavailable if the server cannot be reached.
  absl::Status Connect();

  model::ModelInfo Info() override;
  absl::StatusOr<decoding::SessionId> Open(const std::vector<int64_t>& prompt,
                                           const decoding::SessionOptions& options) override;
  absl::StatusOr<decoding::TimedVerify> Verify(const decoding::VerifyItem& item) override;
  absl::StatusOr<decoding::TimedDraft> DraftEarlyExit(const decoding::EarlyExitItem& item) override;
  absl::StatusOr<std::vector<sampling::TokenLogprob>> Score(const decoding::ScoreItem& item) override;
  absl::StatusOr<decoding::SessionId> Fork(decoding::SessionId session, int64_t length) override;
  void Close(decoding::SessionId session) override;
  std::vector<int64_t> eos_token_ids();

 private:
  void Prepare(grpc::ClientContext& context) const;
  std::unique_ptr<v1::TargetService::Stub> stub_;
  RemoteOptions options_;
  std::mutex mu_;
  std::optional<model::ModelInfo> info_;
  std::vector<int64_t> eos_;
};

// decoding::DraftBackend over a DraftService. Thread-safe.
class RemoteDraftBackend : public decoding::DraftBackend {
 public:
  explicit RemoteDraftBackend(std::shared_ptr<grpc::Channel> channel,
                              RemoteOptions options = {});
  absl::Status Connect();

  model::ModelInfo Info() override;
  absl::StatusOr<decoding::SessionId> Open(const std::vector<int64_t>& prompt,
                                           const decoding::SessionOptions& options) override;
  absl::StatusOr<decoding::TimedDraft> Propose(const decoding::ProposeItem& item) override;
  void Close(decoding::SessionId session) override;

 private:
  void Prepare(grpc::ClientContext& context) const;
  std::unique_ptr<v1::DraftService::Stub> stub_;
  RemoteOptions options_;
  std::mutex mu_;
  std::optional<model::ModelInfo> info_;
};

}  // namespace tandem::services

#endif  // TANDEM_SERVICES_ORCHESTRATOR_REMOTE_BACKENDS_H_
