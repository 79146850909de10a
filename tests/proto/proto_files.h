#ifndef TANDEM_TESTS_PROTO_PROTO_FILES_H_
#define TANDEM_TESTS_PROTO_PROTO_FILES_H_

#include <string>
#include <vector>

namespace tandem::proto_testing {

// Workspace-relative paths ("proto/tandem/v1/x.proto") of every .proto file of the contract, found in
// the test's runfiles (data = ["//proto:tandem_v1_cc_protos"]), sorted. Empty if none were found.
std::vector<std::string> ContractProtoFiles();

// The contents of a runfile given by its workspace-relative path; empty if it cannot be read.
std::string ReadRunfile(const std::string& path);

}  // namespace tandem::proto_testing

#endif  // TANDEM_TESTS_PROTO_PROTO_FILES_H_
