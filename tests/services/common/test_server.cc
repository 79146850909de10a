#include "tests/services/common/test_server.h"

#include <cstdlib>
#include <fstream>

#include "tests/testing/oracles.h"

namespace tandem::testing {

absl::StatusOr<std::unique_ptr<TestTargetServer>> TestTargetServer::Start(
    std::shared_ptr<grpc::ServerCredentials> credentials, services::ModelServerOptions options) {
  auto s = std::make_unique<TestTargetServer>();
  s->model_ = model::testing::FakeModel::FromTable(16, {}, std::vector<float>(16, 0.0f));
  s->service_ = std::make_unique<services::TargetServiceImpl>(options, *s->model_);
  services::ServerRunOptions run;
  run.name = "test_target";
  run.credentials = std::move(credentials);
  auto server = services::RunningServer::Start(run, {s->service_.get()});
  if (!server.ok()) return server.status();
  s->server_ = *std::move(server);
  return s;
}

TestTargetServer::~TestTargetServer() {
  if (server_ != nullptr) server_->Shutdown();
}

std::string TlsFile(const std::string& name) {
  absl::StatusOr<std::string> path = RunfilePath("tests/testdata/tls/" + name);
  return path.ok() ? *path : "missing-runfile:" + name;
}

std::string WriteTempFile(const std::string& name, const std::string& content) {
  const char* dir = std::getenv("TEST_TMPDIR");
  const std::string path = std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
  return path;
}

}  // namespace tandem::testing
