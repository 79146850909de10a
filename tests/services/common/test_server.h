#ifndef TANDEM_TESTS_SERVICES_COMMON_TEST_SERVER_H_
#define TANDEM_TESTS_SERVICES_COMMON_TEST_SERVER_H_

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "model/testing/fake_model.h"
#include "services/common/server_runner.h"
#include "services/target/target_service.h"

namespace tandem::testing {

// A TargetService over a 16-token FakeModel (uniform logits) served by a real
// gRPC server on 127.0.0.1:0 with the given credentials (nullptr = plaintext).
class TestTargetServer {
 public:
  static absl::StatusOr<std::unique_ptr<TestTargetServer>> Start(
      std::shared_ptr<grpc::ServerCredentials> credentials = nullptr,
      services::ModelServerOptions options = {});
  ~TestTargetServer();

  std::string address() const { return server_->address(); }
  model::testing::FakeModel& model() { return *model_; }
  services::TargetServiceImpl& service() { return *service_; }

 private:
  std::unique_ptr<model::testing::FakeModel> model_;
  std::unique_ptr<services::TargetServiceImpl> service_;
  std::unique_ptr<services::RunningServer> server_;
};

// Absolute path of tests/testdata/tls/<name> in the runfiles.
std::string TlsFile(const std::string& name);

// Writes `content` to a new file under TEST_TMPDIR and returns its path.
std::string WriteTempFile(const std::string& name, const std::string& content);

}  // namespace tandem::testing

#endif  // TANDEM_TESTS_SERVICES_COMMON_TEST_SERVER_H_
