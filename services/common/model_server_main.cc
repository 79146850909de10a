#include "services/common/model_server_main.h"

#include <unistd.h>

#include <iostream>

#include <ATen/Parallel.h>

#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "services/common/log.h"
#include "services/common/security.h"
#include "services/common/server_runner.h"

namespace tandem::services {
namespace {

// The flags main.cc defined, read by name; the first problem is kept.
class FlagReader {
 public:
  template <typename T>
  T Required(absl::string_view name) {
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr) {
      Fail(absl::StrCat("this binary does not define --", name));
      return T();
    }
    return Get<T>(*flag);
  }
  // The flag's value, or `fallback` when the binary does not define it.
  template <typename T>
  T IfDefined(absl::string_view name, T fallback) {
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    return flag == nullptr ? fallback : Get<T>(*flag);
  }
  void Fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
  }
  const std::string& error() const { return error_; }

 private:
  template <typename T>
  T Get(const absl::CommandLineFlag& flag) {
    auto value = flag.TryGet<T>();  // absl::optional.
    if (!value) {
      Fail(absl::StrCat("--", flag.Name(), " is not of the type the model server reads"));
      return T();
    }
    return *std::move(value);
  }

  std::string error_;
};

// What the command line says beyond ModelServerOptions.
struct CommandLine {
  ModelServerOptions options;
  std::string port_file;
  int threads = 0;
  LogLevel log_level = LogLevel::kInfo;
};

absl::StatusOr<CommandLine> ReadFlags() {
  FlagReader f;
  CommandLine c;
  ModelServerOptions& o = c.options;
  o.model_path = f.Required<std::string>("model");
  o.device = f.Required<std::string>("device");
  o.dtype = f.Required<std::string>("dtype");
  o.listen = f.Required<std::string>("listen");
  c.port_file = f.Required<std::string>("port_file");
  o.max_sessions = f.Required<int64_t>("max_sessions");
  o.max_context = f.Required<int64_t>("max_context");
  const std::string kv_budget = f.IfDefined<std::string>("kv_budget", "");
  o.prefix_cache_entries = f.IfDefined<int64_t>("prefix_cache", o.prefix_cache_entries);
  o.max_queued_items = f.Required<int64_t>("max_queued_items");
  o.session_ttl = absl::Seconds(f.Required<int64_t>("session_ttl_s"));
  o.batch_window = absl::Microseconds(f.Required<int>("batch_window_us"));
  o.inline_batches = f.IfDefined<bool>("inline_batches", o.inline_batches);
  o.prefill_chunk = f.IfDefined<int64_t>("prefill_chunk", o.prefill_chunk);
  o.max_step_rows = f.IfDefined<int64_t>("max_step_rows", o.max_step_rows);
  o.prompt_tail_with_first_step =
      f.IfDefined<bool>("prompt_tail_with_first_step", o.prompt_tail_with_first_step);
  c.threads = f.Required<int>("threads");
  o.metrics_listen = f.Required<std::string>("metrics_listen");
  o.security.cert_file = f.Required<std::string>("tls_cert");
  o.security.key_file = f.Required<std::string>("tls_key");
  o.security.client_ca_file = f.Required<std::string>("tls_client_ca");
  o.security.bearer_token_file = f.Required<std::string>("auth_token_file");
  const std::string log_level = f.Required<std::string>("log_level");
  if (!f.error().empty()) return absl::InternalError(f.error());
  absl::StatusOr<LogLevel> level = ParseLogLevel(log_level);
  if (!level.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--log_level: ", level.status().message()));
  }
  c.log_level = *level;
  if (o.prefill_chunk < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--prefill_chunk must be >= 1, got ", o.prefill_chunk));
  }
  if (o.max_step_rows < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--max_step_rows must be >= 0 (0 = no budget), got ", o.max_step_rows));
  }
  if (o.model_path.empty()) return absl::InvalidArgumentError("--model is required");
  if (o.prefix_cache_entries < 0 || o.prefix_cache_entries > 4096) {
    return absl::InvalidArgumentError(
        absl::StrCat("--prefix_cache must be in [0, 4096], got ", o.prefix_cache_entries));
  }
  const int64_t ram = static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGE_SIZE);
  absl::StatusOr<int64_t> budget = ParseKvBudget(kv_budget, ram);
  if (!budget.ok()) return budget.status();
  o.kv_budget_bytes = *budget;
  return c;
}

}  // namespace

int ModelServerMain(int argc, char** argv, const ModelServerKind& kind) {
  absl::SetProgramUsageMessage(kind.usage);
  absl::ParseCommandLine(argc, argv);
  absl::StatusOr<CommandLine> command_line = ReadFlags();
  if (!command_line.ok()) {
    std::cerr << "error: " << command_line.status().message() << "\n";
    return 2;
  }
  SetMinLogLevel(command_line->log_level);
  ModelServerOptions& options = command_line->options;
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      MakeServerCredentials(options.security);
  if (!credentials.ok()) {
    std::cerr << "error: " << credentials.status().message() << "\n";
    return 2;
  }
  // Set explicitly even for the default: the engine runs on batcher threads,
  // which take the process-wide count only once it has been set (measured: 16
  // streams ran on one core with the implicit default, 716 vs 816 tok/s).
  const int threads = command_line->threads;
  at::set_num_threads(threads > 0 ? threads : at::get_num_threads());
  options.tokenizer_identity = TokenizerIdentityOf(options.model_path);
  auto model = LoadModel(options);
  if (!model.ok()) {
    std::cerr << "error: " << model.status().message() << "\n";
    return 1;
  }
  std::unique_ptr<grpc::Service> service = kind.make_service(options, **model);
  ServerRunOptions run;
  run.listen = options.listen;
  run.port_file = command_line->port_file;
  run.name = kind.name;
  run.max_message_bytes = options.max_message_bytes;
  run.credentials = *credentials;
  run.metrics_listen = options.metrics_listen;
  run.health_service_names = {kind.service_full_name};
  auto server = RunningServer::Start(run, {service.get()});
  if (!server.ok()) {
    std::cerr << "error: " << server.status().message() << "\n";
    return 1;
  }
  (*server)->WaitForSignalThenShutdown();
  return 0;
}

}  // namespace tandem::services
