#include "tests/e2e/e2e_cluster.h"

#include "services/orchestrator/openai/routes.h"

#include "tests/testing/oracles.h"
#include "tokenizer/load_tokenizer.h"

namespace tandem::testing {

std::unique_ptr<E2eCluster> E2eCluster::Start(const E2eOptions& options) {
  auto c = std::make_unique<E2eCluster>();
  std::string target_dir = options.target_model_path;
  std::string draft_dir = options.draft_model_path;
  if (target_dir.empty() || draft_dir.empty()) {
    auto target_path = RunfilePath("assets/target/config.json");
    auto draft_path = RunfilePath("assets/draft/config.json");
    if (!target_path.ok() || !draft_path.ok()) return nullptr;
    if (target_dir.empty()) target_dir = target_path->substr(0, target_path->rfind('/'));
    if (draft_dir.empty()) draft_dir = draft_path->substr(0, draft_path->rfind('/'));
  }
  services::ModelServerOptions t;
  t.model_path = target_dir;
  t.max_sessions = options.max_sessions;
  t.session_ttl = options.session_ttl;
  t.dtype = options.dtype;
  t.prefill_chunk = options.prefill_chunk;
  t.max_step_rows = options.max_step_rows;
  t.kv_budget_bytes = options.kv_budget_bytes;
  t.prefix_cache_entries = options.prefix_cache_entries;
  services::ModelServerOptions d = t;
  d.model_path = draft_dir;
  auto tm = services::LoadModel(t);
  auto dm = services::LoadModel(d);
  auto tok = tokenizer::LoadTokenizer(target_dir);
  if (!tm.ok() || !dm.ok() || !tok.ok()) return nullptr;
  c->target_model_ = *std::move(tm);
  c->draft_model_ = *std::move(dm);
  c->tokenizer_ = *std::move(tok);
  c->target_service_ = std::make_unique<services::TargetServiceImpl>(t, *c->target_model_);
  c->draft_service_ = std::make_unique<services::DraftServiceImpl>(d, *c->draft_model_);
  auto ts = services::RunningServer::Start({"127.0.0.1:0", "", "target"}, {c->target_service_.get()});
  auto ds = services::RunningServer::Start({"127.0.0.1:0", "", "draft"}, {c->draft_service_.get()});
  if (!ts.ok() || !ds.ok()) return nullptr;
  c->target_server_ = *std::move(ts);
  c->draft_server_ = *std::move(ds);
  c->target_backend_ = std::make_shared<services::RemoteTargetBackend>(
      *services::MakeChannel(c->target_server_->address()));
  c->draft_backend_ = std::make_shared<services::RemoteDraftBackend>(
      *services::MakeChannel(c->draft_server_->address()));
  if (!c->target_backend_->Connect().ok() || !c->draft_backend_->Connect().ok()) return nullptr;
  c->target_pool_ = std::make_unique<services::TargetPool>(
      [t = c->target_backend_](const std::string&) -> absl::StatusOr<services::TargetPool::Member> {
        return services::TargetPool::Member{t, nullptr};
      });
  c->draft_pool_ = std::make_unique<services::DraftPool>(
      [d = c->draft_backend_](const std::string&) -> absl::StatusOr<services::DraftPool::Member> {
        return services::DraftPool::Member{d, nullptr};
      });
  c->target_pool_->Update({c->target_server_->address()});
  c->draft_pool_->Update({c->draft_server_->address()});
  services::Backends backends;
  backends.targets = c->target_pool_.get();
  backends.drafts = c->draft_pool_.get();
  backends.target_info = c->target_backend_->Info();
  backends.eos_token_ids = c->target_backend_->eos_token_ids();
  if (!options.chat_template.empty()) {
    auto parsed = tokenizer::ChatTemplate::Parse(options.chat_template);
    if (!parsed.ok()) return nullptr;
    c->chat_template_ = tokenizer::LoadedChatTemplate{*std::move(parsed), std::nullopt, std::nullopt};
  }
  c->generation_ = std::make_unique<services::GenerationServiceImpl>(
      backends, *c->tokenizer_, options.limits, c->chat_template_ ? &*c->chat_template_ : nullptr);
  services::ServerRunOptions run{"127.0.0.1:0", "", "orchestrator"};
  run.health_service_names = {v1::GenerationService::service_full_name()};
  if (options.http) {
    run.http.listen = "127.0.0.1:0";
    services::openai::RoutesOptions api;
    api.served_model = "tandem-test";
    api.context_length = c->target_model_->info().context_length;
    api.bearer_token = options.http_bearer_token;
    run.http_routes = [api](httplib::Server& http, std::shared_ptr<grpc::Channel> channel) {
      services::openai::RegisterRoutes(http, std::move(channel), api);
    };
  }
  auto os = services::RunningServer::Start(run, {c->generation_.get()});
  if (!os.ok()) return nullptr;
  c->orchestrator_server_ = *std::move(os);
  return c;
}

E2eCluster::~E2eCluster() {
  if (orchestrator_server_) orchestrator_server_->Shutdown();
  if (target_server_) target_server_->Shutdown();
  if (draft_server_) draft_server_->Shutdown();
}

}  // namespace tandem::testing
