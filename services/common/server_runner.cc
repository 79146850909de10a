#include "services/common/server_runner.h"

#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <thread>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "services/common/log.h"

namespace tandem::services {
namespace {

volatile std::sig_atomic_t g_signal = 0;
void OnSignal(int signal) { g_signal = signal; }

}  // namespace

absl::StatusOr<std::unique_ptr<RunningServer>> RunningServer::Start(
    const ServerRunOptions& options, const std::vector<grpc::Service*>& services) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  auto running = std::unique_ptr<RunningServer>(new RunningServer());
  running->options_ = options;
  if (!options.metrics_listen.empty()) {
    HttpServerOptions metrics_options;
    metrics_options.listen = options.metrics_listen;
    // A scrape must not wait behind slow clients: short reads, and workers
    // enough for many of them at once.
    metrics_options.read_timeout = absl::Seconds(2);
    metrics_options.max_body_bytes = 0;
    absl::StatusOr<std::unique_ptr<HttpServer>> metrics = HttpServer::Start(metrics_options);
    if (!metrics.ok()) return metrics.status();
    running->metrics_ = *std::move(metrics);
  }
  grpc::ServerBuilder builder;
  builder.AddListeningPort(
      options.listen,
      options.credentials != nullptr ? options.credentials : grpc::InsecureServerCredentials(),
      &running->port_);
  builder.SetMaxReceiveMessageSize(static_cast<int>(options.max_message_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(options.max_message_bytes));
  // Bounded handler threads: calls beyond get RESOURCE_EXHAUSTED from gRPC
  // instead of growing the process without limit.
  grpc::ResourceQuota quota(options.name + "-quota");
  quota.SetMaxThreads(options.max_threads);
  builder.SetResourceQuota(quota);
  for (grpc::Service* s : services) builder.RegisterService(s);
  running->server_ = builder.BuildAndStart();
  if (running->server_ == nullptr || running->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen, " (address in use or invalid)"));
  }
  if (grpc::HealthCheckServiceInterface* health = running->server_->GetHealthCheckService()) {
    for (const std::string& name : options.health_service_names) {
      health->SetServingStatus(name, true);
    }
  }
  const std::string host = options.listen.substr(0, options.listen.rfind(':'));
  running->address_ = absl::StrCat(host, ":", running->port_);
  if (!options.http.listen.empty()) {
    std::shared_ptr<grpc::Channel> in_process =
        running->server_->InProcessChannel(grpc::ChannelArguments());
    absl::StatusOr<std::unique_ptr<HttpServer>> http = HttpServer::Start(
        options.http, metrics::Registry::Default(), [&](httplib::Server& server) {
          if (options.http_routes) options.http_routes(server, in_process);
        });
    if (!http.ok()) {
      running->server_->Shutdown();
      return http.status();
    }
    running->http_ = *std::move(http);
  }
  std::cout << options.name << " listening on " << running->address_ << std::endl;
  if (running->http_ != nullptr) {
    std::cout << options.name << " HTTP on " << (running->http_->tls() ? "https://" : "http://")
              << running->http_->address() << std::endl;
  }
  LogFields fields = {{"address", running->address_}};
  if (running->metrics_ != nullptr) fields.push_back({"metrics", running->metrics_->address()});
  if (running->http_ != nullptr) fields.push_back({"http", running->http_->address()});
  LogEvent(LogLevel::kInfo, options.name, "server_started", "", fields);
  if (!options.port_file.empty()) {
    std::ofstream(options.port_file) << running->port_ << "\n";
  }
  return running;
}

void RunningServer::WaitForSignalThenShutdown() {
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  while (g_signal == 0) absl::SleepFor(absl::Milliseconds(50));
  std::cout << options_.name << " shutting down (signal " << g_signal << ")" << std::endl;
  LogEvent(LogLevel::kInfo, options_.name, "server_stopping", "", {{"signal", int{g_signal}}});
  Shutdown();
}

void RunningServer::Shutdown() {
  if (server_ == nullptr) return;
  // Load balancers and Watch clients see NOT_SERVING while in-flight calls
  // drain.
  if (grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService()) {
    health->SetServingStatus(false);
  }
  const auto deadline =
      std::chrono::system_clock::now() + absl::ToChronoNanoseconds(options_.shutdown_grace);
  if (options_.end_in_flight == nullptr) {
    server_->Shutdown(deadline);
  } else {
    // Shutdown blocks until the calls end or the deadline cancels them;
    // before that, ask the services to end them with a proper last message.
    absl::Notification drained;
    std::thread shutdown([&] {
      server_->Shutdown(deadline);
      drained.Notify();
    });
    if (!drained.WaitForNotificationWithTimeout(options_.shutdown_grace * kEndInFlightAt)) {
      options_.end_in_flight();
    }
    shutdown.join();
  }
  server_->Wait();
  // HTTP handlers are gRPC clients of server_: with it drained they finish.
  if (http_ != nullptr) http_->Stop();
  server_.reset();
  if (metrics_ != nullptr) metrics_->Stop();
}

}  // namespace tandem::services
