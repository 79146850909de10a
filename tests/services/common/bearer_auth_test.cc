// The bearer-token pieces without a network: token files, constant-time
// comparison, the auth metadata processor's decisions.

#include "services/common/bearer_auth.h"

#include <cstdlib>
#include <fstream>
#include <map>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>


namespace tandem::services {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string WriteTempFile(const std::string& name, const std::string& content) {
  const char* dir = std::getenv("TEST_TMPDIR");
  const std::string path = std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
  return path;
}

TEST(ReadTokenFileTest, StripsSurroundingWhitespace) {
  auto token = ReadTokenFile(WriteTempFile("tok", "\n  abc.DEF-123_~+/=  \r\n"));
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(*token, "abc.DEF-123_~+/=");
}

TEST(ReadTokenFileTest, RejectsEmptyAndInnerSpacesWithoutEchoingTheContent) {
  const std::string empty = WriteTempFile("empty", " \n");
  EXPECT_THAT(std::string(ReadTokenFile(empty).status().message()), HasSubstr(empty));
  auto spaced = ReadTokenFile(WriteTempFile("spaced", "two words"));
  ASSERT_FALSE(spaced.ok());
  EXPECT_THAT(std::string(spaced.status().message()), Not(HasSubstr("words")));
  EXPECT_EQ(ReadTokenFile("/nonexistent/tok").status().code(), absl::StatusCode::kNotFound);
}

TEST(ConstantTimeEqualsTest, ComparesWholeStrings) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcabc"));  // Wraps around the secret.
  EXPECT_FALSE(ConstantTimeEquals("abc", ""));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
}

class ProcessorTest : public ::testing::Test {
 protected:
  grpc::Status Process(std::multimap<std::string, std::string> metadata) {
    owned_ = std::move(metadata);
    grpc::AuthMetadataProcessor::InputMetadata input;
    for (const auto& [k, v] : owned_) input.emplace(k, v);
    consumed_.clear();
    grpc::AuthMetadataProcessor::OutputMetadata response;
    return processor_.Process(input, nullptr, &consumed_, &response);
  }
  BearerTokenAuthProcessor processor_{"tok"};
  std::multimap<std::string, std::string> owned_;
  grpc::AuthMetadataProcessor::OutputMetadata consumed_;
};

TEST_F(ProcessorTest, AcceptsTheTokenAndConsumesIt) {
  EXPECT_TRUE(Process({{":path", "/tandem.v1.TargetService/Verify"},
                       {"authorization", "Bearer tok"}})
                  .ok());
  EXPECT_EQ(consumed_.count("authorization"), 1u);
}

TEST_F(ProcessorTest, RejectsMissingWrongOrNonBearerCredentials) {
  const std::string path = "/tandem.v1.TargetService/Verify";
  EXPECT_EQ(Process({{":path", path}}).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Process({{":path", path}, {"authorization", "Bearer to"}}).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Process({{":path", path}, {"authorization", "Basic tok"}}).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Process({{":path", path}, {"authorization", "tok"}}).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(ProcessorTest, HealthChecksStayOpenButNothingElse) {
  EXPECT_TRUE(Process({{":path", "/grpc.health.v1.Health/Check"}}).ok());
  EXPECT_TRUE(Process({{":path", "/grpc.health.v1.Health/Watch"}}).ok());
  EXPECT_EQ(Process({{":path", "/grpc.reflection.v1alpha.ServerReflection/"
                               "ServerReflectionInfo"}})
                .error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Process({{":path", "/grpc.health.v1.HealthX/Check"}}).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

}  // namespace
}  // namespace tandem::services
