#ifndef TANDEM_TESTS_PROTO_FULL_MESSAGES_H_
#define TANDEM_TESTS_PROTO_FULL_MESSAGES_H_

#include <memory>
#include <vector>

#include "google/protobuf/message.h"

namespace tandem::proto_testing {

// Instances of the tandem.v1 top-level request/response messages (and of every oneof alternative)
// with every field set to a non-default value, so that, walked recursively, they set every field of
// every message type in the package at least once. Extend it when the contract grows: the coverage
// test fails until every new field appears here.
std::vector<std::unique_ptr<google::protobuf::Message>> FullyPopulatedMessages();

}  // namespace tandem::proto_testing

#endif  // TANDEM_TESTS_PROTO_FULL_MESSAGES_H_
