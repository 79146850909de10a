#ifndef TANDEM_TESTS_E2E_E2E_CLUSTER_H_
#define TANDEM_TESTS_E2E_E2E_CLUSTER_H_

#include <memory>
#include <optional>
#include <string>

#include "model/model.h"
#include "services/common/server_runner.h"
#include "services/draft/draft_service.h"
#include "services/orchestrator/generation_service.h"
#include "services/orchestrator/remote_backends.h"
#include "services/target/target_service.h"
#include "tokenizer/chat_template_loader.h"
#include "tokenizer/tokenizer.h"

namespace tandem::testing {

// A model pair (the shipped demo pair unless E2eOptions names another) served
// by real target, draft and orchestrator gRPC servers on 127.0.0.1 (port 0),
// in one process. Talks gRPC end to end.
struct E2eOptions {
  // Checkpoints (a directory or a .gguf file) of the two model servers; ""
  // = the shipped assets/target and assets/draft. The orchestrator's
  // tokenizer is the target's.
  std::string target_model_path;
  std::string draft_model_path;
  int64_t max_sessions = 64;                     // Per model server.
  absl::Duration session_ttl = absl::Seconds(30);  // Idle sessions expire after it.
  services::GenerationLimits limits;
  std::string dtype = "float32";  // Of both model servers.
  int64_t prefill_chunk = 256;    // Target prompt positions per engine step.
  // Target rows per engine step (--max_step_rows).
  int64_t max_step_rows = services::ModelServerOptions{}.max_step_rows;
  int64_t kv_budget_bytes = 0;    // Of each model server (--kv_budget); 0 = unlimited.
  int64_t prefix_cache_entries = 0;  // Of each model server (--prefix_cache); 0 = off.
  // Serve the OpenAI-compatible HTTP API beside the orchestrator's gRPC
  // (served model "tandem-test"); a non-empty token requires it as bearer.
  bool http = false;
  std::string http_bearer_token;
  // Jinja source of the orchestrator's chat template; "" = none.
  std::string chat_template;
};

class E2eCluster {
 public:
  static std::unique_ptr<E2eCluster> Start(const E2eOptions& options = {});
  ~E2eCluster();

  std::string address() const { return orchestrator_server_->address(); }
  std::string target_address() const { return target_server_->address(); }
  std::string draft_address() const { return draft_server_->address(); }
  // The HTTP API's host:port ("" unless E2eOptions.http).
  std::string http_address() const { return orchestrator_server_->http_address(); }
  services::TargetServiceImpl& target_service() { return *target_service_; }
  services::DraftServiceImpl& draft_service() { return *draft_service_; }
  model::Model& target_model() { return *target_model_; }
  model::Model& draft_model() { return *draft_model_; }
  const tokenizer::Tokenizer& tokenizer() { return *tokenizer_; }

 private:
  std::unique_ptr<model::Model> target_model_, draft_model_;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer_;
  std::unique_ptr<services::TargetServiceImpl> target_service_;
  std::unique_ptr<services::DraftServiceImpl> draft_service_;
  std::unique_ptr<services::RunningServer> target_server_, draft_server_;
  std::shared_ptr<services::RemoteTargetBackend> target_backend_;
  std::shared_ptr<services::RemoteDraftBackend> draft_backend_;
  std::unique_ptr<services::TargetPool> target_pool_;
  std::unique_ptr<services::DraftPool> draft_pool_;
  std::optional<tokenizer::LoadedChatTemplate> chat_template_;
  std::unique_ptr<services::GenerationServiceImpl> generation_;
  std::unique_ptr<services::RunningServer> orchestrator_server_;
};

}  // namespace tandem::testing

#endif  // TANDEM_TESTS_E2E_E2E_CLUSTER_H_
