// The contract's conventions (docs/proto.md) and the generated gRPC stubs.

#include <cctype>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"
#include "proto/tandem/v1/draft_service.grpc.pb.h"
#include "proto/tandem/v1/generation_service.grpc.pb.h"
#include "proto/tandem/v1/target_service.grpc.pb.h"
#include "tests/proto/proto_files.h"

namespace tandem::proto_testing {
namespace {

using ::google::protobuf::Descriptor;
using ::google::protobuf::DescriptorPool;
using ::google::protobuf::EnumDescriptor;
using ::google::protobuf::FieldDescriptor;
using ::google::protobuf::FileDescriptor;
using ::google::protobuf::ServiceDescriptor;

// "SamplingPreset" -> "SAMPLING_PRESET".
std::string UpperSnake(const std::string& camel) {
  std::string out;
  for (size_t i = 0; i < camel.size(); ++i) {
    if (i > 0 && std::isupper(static_cast<unsigned char>(camel[i])) &&
        std::islower(static_cast<unsigned char>(camel[i - 1]))) {
      out += '_';
    }
    out += static_cast<char>(std::toupper(static_cast<unsigned char>(camel[i])));
  }
  return out;
}

std::vector<const FileDescriptor*> ContractFiles() {
  std::vector<const FileDescriptor*> files;
  for (const std::string& path : ContractProtoFiles()) {
    const FileDescriptor* file = DescriptorPool::generated_pool()->FindFileByName(path);
    if (file != nullptr) files.push_back(file);
  }
  return files;
}

void ExpectZeroIsUnspecified(const EnumDescriptor* e) {
  ASSERT_GT(e->value_count(), 0);
  EXPECT_EQ(e->value(0)->number(), 0) << e->full_name();
  EXPECT_EQ(e->value(0)->name(), UpperSnake(e->name()) + "_UNSPECIFIED") << e->full_name();
}

TEST(ProtoContractTest, EveryEnumStartsWithUnspecifiedZero) {
  int enums = 0;
  for (const FileDescriptor* file : ContractFiles()) {
    for (int i = 0; i < file->enum_type_count(); ++i, ++enums) {
      ExpectZeroIsUnspecified(file->enum_type(i));
    }
    for (int m = 0; m < file->message_type_count(); ++m) {
      const Descriptor* type = file->message_type(m);
      for (int i = 0; i < type->enum_type_count(); ++i, ++enums) {
        ExpectZeroIsUnspecified(type->enum_type(i));
      }
    }
  }
  EXPECT_GE(enums, 6);
}

TEST(ProtoContractTest, BatchedItemsNameTheirSessionAndSyncPoint) {
  int items = 0;
  for (const FileDescriptor* file : ContractFiles()) {
    for (int m = 0; m < file->message_type_count(); ++m) {
      const Descriptor* type = file->message_type(m);
      const std::string& name = type->name();
      if (name.size() < 4 || name.compare(name.size() - 4, 4, "Item") != 0) continue;
      ++items;
      const FieldDescriptor* session = type->FindFieldByName("session_id");
      ASSERT_NE(session, nullptr) << name;
      EXPECT_EQ(session->type(), FieldDescriptor::TYPE_FIXED64) << name;
      const FieldDescriptor* sync = type->FindFieldByName("sync");
      ASSERT_NE(sync, nullptr) << name;
      EXPECT_EQ(sync->message_type()->name(), "SequenceSync") << name;
    }
  }
  EXPECT_EQ(items, 4);  // Propose, Verify, Decode, DraftEarlyExit.
}

// The comment block right above each `rpc` line of a .proto file.
std::vector<std::pair<std::string, std::string>> RpcComments(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> rpcs;
  std::istringstream lines(text);
  std::string line;
  std::string comment;
  const std::regex rpc_line(R"(^\s*rpc\s+(\w+)\s*\()");
  const std::regex comment_line(R"(^\s*//(.*)$)");
  std::smatch match;
  while (std::getline(lines, line)) {
    if (std::regex_search(line, match, rpc_line)) {
      rpcs.emplace_back(match[1], comment);
      comment.clear();
    } else if (std::regex_search(line, match, comment_line)) {
      comment += match[1].str() + "\n";
    } else {
      comment.clear();
    }
  }
  return rpcs;
}

TEST(ProtoContractTest, EveryRpcCommentStatesStatusCodesAndRetry) {
  int rpcs = 0;
  const std::regex status_code(
      R"(\b(OK|INVALID_ARGUMENT|NOT_FOUND|RESOURCE_EXHAUSTED|FAILED_PRECONDITION|UNAVAILABLE|OUT_OF_RANGE|UNIMPLEMENTED|common codes)\b)");
  for (const std::string& path : ContractProtoFiles()) {
    for (const auto& [rpc, comment] : RpcComments(ReadRunfile(path))) {
      ++rpcs;
      SCOPED_TRACE(path + ": rpc " + rpc);
      EXPECT_TRUE(std::regex_search(comment, status_code)) << comment;
      EXPECT_NE(comment.find("Retr"), std::string::npos) << "no retry policy:\n" << comment;
    }
  }
  EXPECT_EQ(rpcs, 2 + 5 + 8);
}

const ServiceDescriptor* Service(const char* full_name) {
  return DescriptorPool::generated_pool()->FindServiceByName(full_name);
}

TEST(ProtoStubsTest, ServicesHaveTheirMethods) {
  const ServiceDescriptor* generation = Service(v1::GenerationService::service_full_name());
  ASSERT_NE(generation, nullptr);
  EXPECT_EQ(generation->method_count(), 2);
  EXPECT_FALSE(generation->FindMethodByName("Generate")->server_streaming());
  EXPECT_TRUE(generation->FindMethodByName("GenerateStream")->server_streaming());
  EXPECT_EQ(Service(v1::DraftService::service_full_name())->method_count(), 5);
  EXPECT_EQ(Service(v1::TargetService::service_full_name())->method_count(), 8);
  for (const char* method : {"OpenSession", "ForkSession", "Verify", "Decode", "DraftEarlyExit",
                             "CloseSession", "ComputeRelevance", "GetModelInfo"}) {
    EXPECT_NE(Service(v1::TargetService::service_full_name())->FindMethodByName(method), nullptr) << method;
  }
}

TEST(ProtoStubsTest, StubMethodsAreGenerated) {
  // Taking the addresses fails to compile if the stubs change shape.
  auto generate = &v1::GenerationService::Stub::Generate;
  auto generate_stream = &v1::GenerationService::Stub::GenerateStream;
  auto propose = &v1::DraftService::Stub::Propose;
  auto verify = &v1::TargetService::Stub::Verify;
  auto early_exit = &v1::TargetService::Stub::DraftEarlyExit;
  EXPECT_NE(generate, nullptr);
  EXPECT_NE(generate_stream, nullptr);
  EXPECT_NE(propose, nullptr);
  EXPECT_NE(verify, nullptr);
  EXPECT_NE(early_exit, nullptr);
  // Callback-API service bases exist for the servers.
  v1::TargetService::CallbackService* callback = nullptr;
  EXPECT_EQ(callback, nullptr);
}

}  // namespace
}  // namespace tandem::proto_testing
