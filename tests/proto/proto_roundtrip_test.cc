// Every message of the tandem.v1 contract, fully populated, survives serialization unchanged; and
// the fully populated instances really set every field of every message type in the package.

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/proto/full_messages.h"
#include "tests/proto/proto_files.h"

namespace tandem::proto_testing {
namespace {

using ::google::protobuf::Descriptor;
using ::google::protobuf::DescriptorPool;
using ::google::protobuf::FieldDescriptor;
using ::google::protobuf::FileDescriptor;
using ::google::protobuf::Message;
using ::google::protobuf::Reflection;
using ::google::protobuf::util::MessageDifferencer;

constexpr char kPackage[] = "tandem.v1";

void CollectTypes(const Descriptor* type, std::set<std::string>& types,
                  std::set<std::string>& fields) {
  types.insert(type->full_name());
  for (int i = 0; i < type->field_count(); ++i) fields.insert(type->field(i)->full_name());
  for (int i = 0; i < type->nested_type_count(); ++i) {
    CollectTypes(type->nested_type(i), types, fields);
  }
}

// Every message type and field declared in the contract's files (found in runfiles, so a new file
// is covered without editing this test).
struct Universe {
  std::set<std::string> types;
  std::set<std::string> fields;
};

Universe ContractUniverse() {
  Universe universe;
  for (const std::string& path : ContractProtoFiles()) {
    const FileDescriptor* file = DescriptorPool::generated_pool()->FindFileByName(path);
    EXPECT_NE(file, nullptr) << path << " is not linked into the test (reference it in full_messages)";
    if (file == nullptr) continue;
    EXPECT_EQ(file->package(), kPackage) << path;
    for (int i = 0; i < file->message_type_count(); ++i) {
      CollectTypes(file->message_type(i), universe.types, universe.fields);
    }
  }
  return universe;
}

// Records the types visited and the fields set (ListFields: non-default or present), recursively.
void CollectSet(const Message& message, std::set<std::string>& types,
                std::set<std::string>& fields) {
  if (message.GetDescriptor()->file()->package() != kPackage) return;
  types.insert(message.GetDescriptor()->full_name());
  const Reflection* reflection = message.GetReflection();
  std::vector<const FieldDescriptor*> set_fields;
  reflection->ListFields(message, &set_fields);
  for (const FieldDescriptor* field : set_fields) {
    fields.insert(field->full_name());
    if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (field->is_repeated()) {
      for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
        CollectSet(reflection->GetRepeatedMessage(message, field, i), types, fields);
      }
    } else {
      CollectSet(reflection->GetMessage(message, field), types, fields);
    }
  }
}

TEST(ProtoContractTest, ContractFilesAreFoundInRunfiles) {
  const std::vector<std::string> files = ContractProtoFiles();
  EXPECT_GE(files.size(), 4u);
}

TEST(ProtoRoundTripTest, FullyPopulatedMessagesCoverEveryTypeAndField) {
  const Universe universe = ContractUniverse();
  ASSERT_FALSE(universe.types.empty());
  std::set<std::string> types;
  std::set<std::string> fields;
  for (const std::unique_ptr<Message>& message : FullyPopulatedMessages()) {
    CollectSet(*message, types, fields);
  }
  for (const std::string& type : universe.types) {
    EXPECT_TRUE(types.count(type)) << "message type never populated: " << type;
  }
  for (const std::string& field : universe.fields) {
    EXPECT_TRUE(fields.count(field)) << "field never set: " << field;
  }
}

TEST(ProtoRoundTripTest, SerializeParseGivesEqualMessage) {
  for (const std::unique_ptr<Message>& original : FullyPopulatedMessages()) {
    SCOPED_TRACE(original->GetTypeName());
    std::string wire;
    ASSERT_TRUE(original->SerializeToString(&wire));
    std::unique_ptr<Message> parsed(original->New());
    ASSERT_TRUE(parsed->ParseFromString(wire));
    std::string differences;
    MessageDifferencer differencer;
    differencer.ReportDifferencesToString(&differences);
    EXPECT_TRUE(differencer.Compare(*original, *parsed)) << differences;
    EXPECT_EQ(parsed->ByteSizeLong(), wire.size());
  }
}

TEST(ProtoRoundTripTest, ParsedMessageDiffersFromDefault) {
  // Guards the round-trip test against comparing two empty messages.
  for (const std::unique_ptr<Message>& original : FullyPopulatedMessages()) {
    if (original->GetDescriptor()->field_count() == 0) continue;
    std::unique_ptr<Message> empty(original->New());
    EXPECT_FALSE(MessageDifferencer::Equals(*original, *empty)) << original->GetTypeName();
  }
}

}  // namespace
}  // namespace tandem::proto_testing
