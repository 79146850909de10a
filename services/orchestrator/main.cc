// orchestrator: serves tandem.v1.GenerationService, running speculative
// decoding between draft and target services.
//
//   bazel run //services/orchestrator -- --target=127.0.0.1:50051 \
//       --draft=127.0.0.1:50052 --tokenizer=$PWD/assets/target --listen=127.0.0.1:50050

#include <fstream>
#include <iostream>
#include <atomic>
#include <iterator>
#include <mutex>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "services/common/bearer_auth.h"
#include "services/common/channel.h"
#include "services/common/log.h"
#include "services/common/security.h"
#include "services/common/server_runner.h"
#include "services/orchestrator/generation_service.h"
#include "services/orchestrator/openai/routes.h"
#include "services/orchestrator/remote_backends.h"
#include "services/orchestrator/replica_discovery.h"
#include "tokenizer/chat_template_loader.h"
#include "tokenizer/load_tokenizer.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50050", "host:port (port 0 = any free port)");
ABSL_FLAG(std::string, port_file, "", "Write the bound port to this file");
ABSL_FLAG(std::string, target, "",
          "TargetService replicas: comma-separated host:port, or dns:///NAME:PORT for every "
          "address NAME resolves to (re-resolved every --discovery_interval_ms)");
ABSL_FLAG(std::string, draft, "", "DraftService replicas (optional), as --target");
ABSL_FLAG(int, discovery_interval_ms, 2000,
          "How often dns: replica names are re-resolved and every replica's load is polled");
ABSL_FLAG(std::string, tokenizer, "", "Tokenizer: model directory, tokenizer.json/.model or .gguf");
ABSL_FLAG(std::string, chat_template, "",
          "Chat template for chat prompts and /v1/chat/completions: a Jinja file, a "
          "tokenizer_config.json, a .gguf or a model directory; empty = the one beside "
          "--tokenizer, if there is one");
ABSL_FLAG(std::string, default_speculation, "draft",
          "Mode for requests that leave it unset: draft | self | ngram | off");
ABSL_FLAG(int, draft_length, 4, "Default draft length (gamma)");
ABSL_FLAG(bool, adaptive, false, "Adapt the draft length per request by default");
ABSL_FLAG(std::string, draft_shares_target_cpu, "auto",
          "auto | true | false: the draft replicas run on the target replicas' CPU, so adaptive "
          "drafting charges the draft's compute to the target's other sessions; auto = a draft "
          "and a target replica name the same host");
ABSL_FLAG(int, tree_alternatives, 1,
          "DRAFT_MODEL requests with an adaptive draft length that leave SpeculationConfig.tree "
          "unset draft this many alternatives per position in rounds where a tree pays "
          "(measured), in [0, 3]; 0 = chains");
ABSL_FLAG(int, tree_depth, 2,
          "... at this many drafted positions, in [0, 8]");
ABSL_FLAG(int64_t, max_new_tokens_limit, 1024, "Largest max_new_tokens a request may ask");
ABSL_FLAG(int64_t, default_max_new_tokens, 64, "max_new_tokens when a request sets none");
ABSL_FLAG(int, connect_timeout_s, 30, "Seconds to wait for the model servers at start-up");
ABSL_FLAG(int, target_call_timeout_ms, 30000,
          "Longest one target call may take before the replica counts as down (failover)");
ABSL_FLAG(int, draft_call_timeout_ms, 2000,
          "Longest one draft call may take before the request continues target-only");
ABSL_FLAG(int64_t, max_active_sequences, 256,
          "Sequences run at once; requests beyond get RESOURCE_EXHAUSTED. Capped at the "
          "targets' total --max_sessions");
ABSL_FLAG(int, sequence_threads, tandem::services::GenerationLimits{}.sequence_threads,
          "Threads that run every sequence's rounds, taking turns (a fixed pool: streams cost "
          "memory, not threads); also the most rounds in flight at once");
ABSL_FLAG(int, shutdown_grace_ms, 5000,
          "On SIGTERM/SIGINT, how long in-flight requests may run on; sequences still running "
          "near the end finish with FINISH_REASON_CANCELLED");
ABSL_FLAG(std::string, metrics_listen, "",
          "host:port of the Prometheus /metrics and /healthz endpoint; empty = off");
ABSL_FLAG(std::string, http_listen, "",
          "host:port of the OpenAI-compatible HTTP API (/v1/models, /v1/completions, "
          "/v1/chat/completions; also /metrics and /healthz), with the --tls_* and "
          "--auth_token_file settings of the gRPC API; empty = off");
ABSL_FLAG(std::string, served_model_name, "",
          "The model id of the HTTP API; empty = the target model's name");
ABSL_FLAG(int, http_threads, 256,
          "HTTP connections served at once (each streaming request holds one)");
ABSL_FLAG(std::string, log_level, "info", "JSON log lines on stderr: debug | info | warn | error");
ABSL_FLAG(std::string, tls_cert, "", "PEM server certificate chain (enables TLS, with --tls_key)");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA bundle: require client certificates signed by it (mutual TLS)");
ABSL_FLAG(std::string, auth_token_file, "",
          "File holding the bearer token every call must carry (needs TLS)");
ABSL_FLAG(std::string, backend_tls_ca, "",
          "PEM CA bundle that signs the target/draft certificates (enables TLS to them)");
ABSL_FLAG(std::string, backend_tls_cert, "", "PEM client certificate for mutual TLS to backends");
ABSL_FLAG(std::string, backend_tls_key, "", "PEM private key of --backend_tls_cert");
ABSL_FLAG(std::string, backend_auth_token_file, "",
          "File holding the bearer token sent to the target/draft servers (needs TLS)");

namespace {

absl::StatusOr<tandem::decoding::SpeculationMode> ParseMode(const std::string& name) {
  if (auto mode = tandem::decoding::ParseSpeculationMode(name)) return *mode;
  return absl::InvalidArgumentError("--default_speculation must be draft, self, ngram or off");
}

// A Jinja file is the template itself; anything else goes to the loader
// (tokenizer_config.json, .gguf, a model directory).
absl::StatusOr<tandem::tokenizer::LoadedChatTemplate> LoadChatTemplateFile(const std::string& path) {
  if (absl::EndsWith(path, ".jinja") || absl::EndsWith(path, ".j2") ||
      absl::EndsWith(path, ".txt")) {
    std::ifstream in(path);
    if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot be read"));
    const std::string source((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    absl::StatusOr<tandem::tokenizer::ChatTemplate> parsed =
        tandem::tokenizer::ChatTemplate::Parse(source);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": ", parsed.status().message()));
    }
    return tandem::tokenizer::LoadedChatTemplate{*std::move(parsed), std::nullopt, std::nullopt};
  }
  return tandem::tokenizer::LoadChatTemplate(path);
}


}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Serves tandem.v1.GenerationService over draft and target services.");
  absl::ParseCommandLine(argc, argv);
  using namespace tandem::services;
  auto log_level = ParseLogLevel(absl::GetFlag(FLAGS_log_level));
  if (!log_level.ok()) {
    std::cerr << "error: --log_level: " << log_level.status().message() << "\n";
    return 2;
  }
  SetMinLogLevel(*log_level);
  if (absl::GetFlag(FLAGS_target).empty() || absl::GetFlag(FLAGS_tokenizer).empty()) {
    std::cerr << "error: --target and --tokenizer are required\n";
    return 2;
  }
  auto mode = ParseMode(absl::GetFlag(FLAGS_default_speculation));
  if (!mode.ok()) {
    std::cerr << "error: " << mode.status().message() << "\n";
    return 2;
  }
  if (absl::GetFlag(FLAGS_draft_length) < 1 || absl::GetFlag(FLAGS_draft_length) > 16) {
    std::cerr << "error: --draft_length must be in [1, 16]\n";
    return 2;
  }
  ServerSecurity server_security;
  server_security.cert_file = absl::GetFlag(FLAGS_tls_cert);
  server_security.key_file = absl::GetFlag(FLAGS_tls_key);
  server_security.client_ca_file = absl::GetFlag(FLAGS_tls_client_ca);
  server_security.bearer_token_file = absl::GetFlag(FLAGS_auth_token_file);
  auto credentials = MakeServerCredentials(server_security);
  if (!credentials.ok()) {
    std::cerr << "error: " << credentials.status().message() << "\n";
    return 2;
  }
  ChannelSecurity backend_security;
  backend_security.ca_file = absl::GetFlag(FLAGS_backend_tls_ca);
  backend_security.cert_file = absl::GetFlag(FLAGS_backend_tls_cert);
  backend_security.key_file = absl::GetFlag(FLAGS_backend_tls_key);
  backend_security.bearer_token_file = absl::GetFlag(FLAGS_backend_auth_token_file);
  auto tokenizer = tandem::tokenizer::LoadTokenizer(absl::GetFlag(FLAGS_tokenizer));
  if (!tokenizer.ok()) {
    std::cerr << "error: --tokenizer: " << tokenizer.status().message() << "\n";
    return 1;
  }
  const absl::Duration connect_timeout = absl::Seconds(absl::GetFlag(FLAGS_connect_timeout_s));
  if (absl::GetFlag(FLAGS_target_call_timeout_ms) < 1 ||
      absl::GetFlag(FLAGS_draft_call_timeout_ms) < 1 ||
      absl::GetFlag(FLAGS_max_active_sequences) < 1 || absl::GetFlag(FLAGS_sequence_threads) < 1) {
    std::cerr << "error: --target_call_timeout_ms, --draft_call_timeout_ms, "
                 "--max_active_sequences and --sequence_threads must be >= 1\n";
    return 2;
  }
  auto target_spec = ParseReplicaSpec(absl::GetFlag(FLAGS_target), "target");
  if (!target_spec.ok()) {
    std::cerr << "error: " << target_spec.status().message() << "\n";
    return 2;
  }
  std::optional<ReplicaSpec> draft_spec;
  if (!absl::GetFlag(FLAGS_draft).empty()) {
    auto parsed = ParseReplicaSpec(absl::GetFlag(FLAGS_draft), "draft");
    if (!parsed.ok()) {
      std::cerr << "error: " << parsed.status().message() << "\n";
      return 2;
    }
    draft_spec = *std::move(parsed);
  }
  if (absl::GetFlag(FLAGS_discovery_interval_ms) < 10) {
    std::cerr << "error: --discovery_interval_ms must be >= 10\n";
    return 2;
  }
  // What every replica must match: the first target's model, vocabulary and
  // tokenizer. Set once the first target answered; replicas found later by
  // discovery that differ are refused (and logged).
  struct Expected {
    std::mutex mu;
    int64_t vocab = 0;
    std::string tokenizer_fingerprint;
  } expected;
  // Replicas found by discovery get a short connect deadline, so one that is
  // not up yet does not hold up the refresh; it is tried again next time.
  std::atomic<int64_t> connect_ms{absl::ToInt64Milliseconds(connect_timeout)};
  auto check_vocabulary = [&](const std::string& what, const tandem::model::ModelInfo& info,
                              const std::string& tokenizer_id) -> absl::Status {
    std::lock_guard<std::mutex> lock(expected.mu);
    if (expected.vocab == 0) return absl::OkStatus();
    if (info.vocab_size != expected.vocab) {
      return absl::FailedPreconditionError(absl::StrCat(
          what, " has vocabulary size ", info.vocab_size, " but the target has ", expected.vocab,
          "; draft and target replicas must share a tokenizer"));
    }
    if (!tokenizer_id.empty() && !expected.tokenizer_fingerprint.empty() &&
        std::string(tandem::tokenizer::IdentityFingerprint(tokenizer_id)) !=
            expected.tokenizer_fingerprint) {
      return absl::FailedPreconditionError(absl::StrCat(
          what, " uses tokenizer \"", tokenizer_id,
          "\", not the target's; speculative decoding needs one vocabulary"));
    }
    return absl::OkStatus();
  };
  TargetPool target_pool([&](const std::string& address) -> absl::StatusOr<TargetPool::Member> {
    RemoteOptions remote;
    remote.address = address;
    remote.call_timeout = absl::Milliseconds(absl::GetFlag(FLAGS_target_call_timeout_ms));
    auto channel = MakeChannel(address, backend_security);
    if (!channel.ok()) return channel.status();
    auto backend = std::make_shared<RemoteTargetBackend>(*channel, remote);
    if (absl::Status s = backend->Connect(absl::Milliseconds(connect_ms.load())); !s.ok()) return s;
    if (absl::Status s = check_vocabulary(absl::StrCat("target ", address), backend->Info(),
                                          backend->tokenizer_identity());
        !s.ok()) {
      return s;
    }
    return TargetPool::Member{backend, [backend](absl::Duration timeout) {
                                return backend->PollOpenSessions(timeout);
                              }};
  });
  DraftPool draft_pool([&](const std::string& address) -> absl::StatusOr<DraftPool::Member> {
    RemoteOptions remote;
    remote.address = address;
    remote.call_timeout = absl::Milliseconds(absl::GetFlag(FLAGS_draft_call_timeout_ms));
    auto channel = MakeChannel(address, backend_security);
    if (!channel.ok()) return channel.status();
    auto backend = std::make_shared<RemoteDraftBackend>(*channel, remote);
    if (absl::Status s = backend->Connect(absl::Milliseconds(connect_ms.load())); !s.ok()) return s;
    if (absl::Status s = check_vocabulary(absl::StrCat("draft ", address), backend->Info(),
                                          backend->tokenizer_identity());
        !s.ok()) {
      return s;
    }
    return DraftPool::Member{backend, [backend](absl::Duration timeout) {
                               return backend->PollOpenSessions(timeout);
                             }};
  });
  const HostLookup lookup = SystemHostLookup();
  // Start-up: every listed replica must answer (a DNS name: at least one).
  auto start_tier = [&](auto& pool, const ReplicaSpec& spec, const char* what) -> bool {
    absl::StatusOr<std::vector<std::string>> addresses = ResolveReplicas(spec, lookup);
    if (!addresses.ok()) {
      std::cerr << "error: " << what << ": " << addresses.status().message() << "\n";
      return false;
    }
    const std::vector<absl::Status> errors = pool.Update(*addresses);
    for (const absl::Status& e : errors) std::cerr << "error: " << what << " " << e.message() << "\n";
    return pool.size() > 0 && (spec.dns() || errors.empty());
  };
  if (!start_tier(target_pool, *target_spec, "target")) return 1;
  std::shared_ptr<RemoteTargetBackend> first_target =
      std::static_pointer_cast<RemoteTargetBackend>(target_pool.Snapshot()[0].backend);
  Backends backends;
  backends.targets = &target_pool;
  backends.target_info = first_target->Info();
  backends.eos_token_ids = first_target->eos_token_ids();
  if (backends.eos_token_ids.empty() && (*tokenizer)->eos_id()) {
    backends.eos_token_ids = {*(*tokenizer)->eos_id()};
  }
  const int64_t vocab = backends.target_info.vocab_size;
  // The orchestrator's tokenizer turns prompts into the target's token ids and
  // ids back into text: a different vocabulary would serve garbage.
  if ((*tokenizer)->vocab_size() > vocab) {
    std::cerr << "error: --tokenizer has " << (*tokenizer)->vocab_size()
              << " tokens but the target model's vocabulary has " << vocab
              << "; use the target's tokenizer\n";
    return 1;
  }
  const std::string target_id = first_target->tokenizer_identity();
  if (!target_id.empty() && tandem::tokenizer::IdentityFingerprint(target_id) !=
                                tandem::tokenizer::IdentityFingerprint((*tokenizer)->identity())) {
    std::cerr << "error: --tokenizer is \"" << (*tokenizer)->identity()
              << "\" but the target serves with \"" << target_id
              << "\"; the orchestrator must use the target's tokenizer\n";
    return 1;
  }
  {
    std::lock_guard<std::mutex> lock(expected.mu);
    expected.vocab = vocab;
    if (!target_id.empty()) {
      expected.tokenizer_fingerprint = std::string(tandem::tokenizer::IdentityFingerprint(target_id));
    }
  }
  // Targets listed before the expectation was known are checked now.
  for (const TargetPool::Replica& r : target_pool.Snapshot()) {
    auto t = std::static_pointer_cast<RemoteTargetBackend>(r.backend);
    if (absl::Status s = check_vocabulary("target " + r.address, t->Info(), t->tokenizer_identity());
        !s.ok()) {
      std::cerr << "error: " << s.message() << "\n";
      return 1;
    }
  }
  if (draft_spec) {
    if (!start_tier(draft_pool, *draft_spec, "draft")) return 1;
    backends.drafts = &draft_pool;
  }
  connect_ms = std::min<int64_t>(connect_ms.load(), 2000);
  // Discovery: re-resolve DNS names, and poll every replica's load, so that
  // new sequences start on the least-loaded replica.
  PeriodicTask discovery(absl::Milliseconds(absl::GetFlag(FLAGS_discovery_interval_ms)), [&] {
    RefreshReplicas(target_pool, *target_spec, lookup, "target");
    if (draft_spec) RefreshReplicas(draft_pool, *draft_spec, lookup, "draft");
  });
  GenerationLimits limits;
  limits.default_mode = *mode;
  limits.default_draft_length = absl::GetFlag(FLAGS_draft_length);
  limits.default_adaptive = absl::GetFlag(FLAGS_adaptive);
  absl::StatusOr<bool> shares =
      DraftSharesTargetCpu(absl::GetFlag(FLAGS_draft_shares_target_cpu), *target_spec,
                           draft_spec ? &*draft_spec : nullptr);
  if (!shares.ok()) {
    std::cerr << "error: " << shares.status().message() << "\n";
    return 1;
  }
  limits.draft_shares_target_cpu = *shares;
  limits.default_tree_alternatives = absl::GetFlag(FLAGS_tree_alternatives);
  limits.default_tree_depth = absl::GetFlag(FLAGS_tree_depth);
  if (limits.default_tree_alternatives < 0 ||
      limits.default_tree_alternatives > tandem::decoding::kMaxTreeAlternatives ||
      limits.default_tree_depth < 0 || limits.default_tree_depth > kMaxTreeDepth) {
    std::cerr << "error: --tree_alternatives must be in [0, " << tandem::decoding::kMaxTreeAlternatives
              << "] and --tree_depth in [0, " << kMaxTreeDepth << "]\n";
    return 1;
  }
  limits.max_new_tokens = absl::GetFlag(FLAGS_max_new_tokens_limit);
  limits.default_max_new_tokens = absl::GetFlag(FLAGS_default_max_new_tokens);
  limits.max_active_sequences = absl::GetFlag(FLAGS_max_active_sequences);
  limits.sequence_threads = absl::GetFlag(FLAGS_sequence_threads);
  // Admit no more sequences than the targets hold sessions for: every
  // sequence holds a target session, and one admitted past that would only
  // get RESOURCE_EXHAUSTED downstream. (A sequence without a draft session
  // falls back to target-only, so the drafts do not cap admission.)
  std::vector<int64_t> target_sessions;
  for (const TargetPool::Replica& r : target_pool.Snapshot()) {
    target_sessions.push_back(std::static_pointer_cast<RemoteTargetBackend>(r.backend)->max_sessions());
  }
  if (const int64_t cap = AdmissionLimit(limits.max_active_sequences, target_sessions);
      cap < limits.max_active_sequences) {
    std::cerr << "orchestrator: --max_active_sequences " << limits.max_active_sequences
              << " capped to " << cap << ", the sessions the targets hold (--max_sessions)\n";
    limits.max_active_sequences = cap;
  }
  std::optional<tandem::tokenizer::LoadedChatTemplate> chat_template;
  {
    const std::string flag = absl::GetFlag(FLAGS_chat_template);
    const std::string path = flag.empty() ? absl::GetFlag(FLAGS_tokenizer) : flag;
    absl::StatusOr<tandem::tokenizer::LoadedChatTemplate> loaded = LoadChatTemplateFile(path);
    if (loaded.ok()) {
      chat_template = *std::move(loaded);
    } else if (!flag.empty() || loaded.status().code() != absl::StatusCode::kNotFound) {
      // A template that was asked for, or one that exists but does not load,
      // is an error: serving chat with a wrong prompt is worse than refusing.
      std::cerr << "error: chat template: " << loaded.status().message() << "\n";
      return 1;
    } else {
      std::cerr << "orchestrator: no chat template beside --tokenizer; chat prompts will be "
                   "refused (FAILED_PRECONDITION)\n";
    }
  }
  GenerationServiceImpl service(backends, **tokenizer, limits,
                                chat_template ? &*chat_template : nullptr);
  ServerRunOptions run;
  run.listen = absl::GetFlag(FLAGS_listen);
  run.port_file = absl::GetFlag(FLAGS_port_file);
  run.name = "orchestrator";
  run.credentials = *credentials;
  run.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  run.shutdown_grace = absl::Milliseconds(absl::GetFlag(FLAGS_shutdown_grace_ms));
  run.end_in_flight = [&service] { service.EndInFlight(); };
  run.health_service_names = {tandem::v1::GenerationService::service_full_name()};
  if (!absl::GetFlag(FLAGS_http_listen).empty()) {
    if (absl::GetFlag(FLAGS_http_threads) < 1) {
      std::cerr << "error: --http_threads must be >= 1\n";
      return 2;
    }
    run.http.listen = absl::GetFlag(FLAGS_http_listen);
    run.http.threads = absl::GetFlag(FLAGS_http_threads);
    run.http.tls_cert_file = server_security.cert_file;
    run.http.tls_key_file = server_security.key_file;
    run.http.tls_client_ca_file = server_security.client_ca_file;
    tandem::services::openai::RoutesOptions api;
    const tandem::model::ModelInfo& target_info = backends.target_info;
    api.served_model = absl::GetFlag(FLAGS_served_model_name);
    if (api.served_model.empty()) api.served_model = target_info.name;
    if (api.served_model.empty()) api.served_model = "tandem";
    api.context_length = target_info.context_length;
    if (!server_security.bearer_token_file.empty()) {
      auto token = ReadTokenFile(server_security.bearer_token_file);
      if (!token.ok()) {
        std::cerr << "error: --auth_token_file: " << token.status().message() << "\n";
        return 2;
      }
      api.bearer_token = *std::move(token);
    }
    run.http_routes = [api](httplib::Server& http, std::shared_ptr<grpc::Channel> in_process) {
      tandem::services::openai::RegisterRoutes(http, std::move(in_process), api);
    };
  }
  auto server = RunningServer::Start(run, {&service});
  if (!server.ok()) {
    std::cerr << "error: " << server.status().message() << "\n";
    return 1;
  }
  (*server)->WaitForSignalThenShutdown();
  return 0;
}
