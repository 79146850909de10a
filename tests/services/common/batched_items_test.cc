// RunBatchedItems, the scaffold of the model servers' batched-item RPCs, over
// a fake host and a fake batcher: one result per item in item order, each
// with its own status; prepare errors and a full queue answer only their
// item; a batch-level failure answers the call; every item is queued before
// any is waited for.

#include "services/common/batched_items.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "proto/tandem/v1/target_service.pb.h"
#include "services/common/testing/fake_batched_item_host.h"
#include "services/common/testing/fake_item_batcher.h"

namespace tandem::services {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// The engine's view of an item and what a batch gives back for it.
struct FakeItem {
  uint64_t session = 0;
};
struct FakeOutcome {
  absl::Status status;
  uint32_t length = 0;
};

using Batcher = testing::FakeItemBatcher<FakeItem, FakeOutcome>;
using Ops = BatchedItemOps<v1::DecodeItem, v1::DecodeResult, FakeItem, FakeOutcome>;

// Sessions >= 100 are unknown to the engine; the others answer their id + 10
// as the committed length. Session 0 is refused by `prepare`.
FakeOutcome RunFakeBatch(const FakeItem& item) {
  if (item.session >= 100) return {absl::NotFoundError("no such session"), 0};
  return {absl::OkStatus(), static_cast<uint32_t>(item.session + 10)};
}

Ops MakeOps(Batcher& batcher) {
  Ops ops;
  ops.prepare = [](const v1::DecodeItem& item) -> absl::StatusOr<FakeItem> {
    if (item.session_id() == 0) return absl::InvalidArgumentError("session 0 is reserved");
    return FakeItem{item.session_id()};
  };
  ops.submit = [&batcher](FakeItem item) { return batcher.TrySubmit(std::move(item)); };
  ops.finish = [](const v1::DecodeItem&, FakeOutcome outcome, v1::DecodeResult* result) {
    if (outcome.status.ok()) result->set_sequence_length(outcome.length);
    return outcome.status;
  };
  return ops;
}

v1::DecodeRequest Request(const std::vector<uint64_t>& sessions) {
  v1::DecodeRequest request;
  for (uint64_t s : sessions) request.add_items()->set_session_id(s);
  return request;
}

absl::StatusCode CodeOf(const v1::DecodeResult& r) {
  return static_cast<absl::StatusCode>(r.status().code());
}

RpcCall Call() { return {"Decode", "req-1", nullptr}; }

TEST(RunBatchedItemsTest, AnswersEveryItemInOrderWithItsOwnStatus) {
  testing::FakeBatchedItemHost host;
  Batcher batcher(RunFakeBatch);
  v1::DecodeResponse response;
  ASSERT_TRUE(
      RunBatchedItems(host, Call(), Request({1, 100, 3}), MakeOps(batcher), &response).ok());
  ASSERT_EQ(response.results_size(), 3);
  EXPECT_EQ(CodeOf(response.results(0)), absl::StatusCode::kOk);
  EXPECT_EQ(response.results(0).sequence_length(), 11u);
  EXPECT_EQ(CodeOf(response.results(1)), absl::StatusCode::kNotFound);
  EXPECT_EQ(response.results(1).status().message(), "no such session");
  EXPECT_EQ(response.results(1).sequence_length(), 0u);  // No payload on failure.
  EXPECT_EQ(CodeOf(response.results(2)), absl::StatusCode::kOk);
  EXPECT_EQ(response.results(2).sequence_length(), 13u);
  EXPECT_TRUE(response.has_server_time());
  EXPECT_THAT(host.checked(), ElementsAre(ElementsAre(1u, 100u, 3u)));
  const auto statuses = host.item_statuses();
  ASSERT_EQ(statuses.size(), 3u);
  EXPECT_EQ(statuses[1].first, 100u);
  EXPECT_TRUE(absl::IsNotFound(statuses[1].second));
}

TEST(RunBatchedItemsTest, PrepareErrorAnswersItsItemWithoutQueueingIt) {
  testing::FakeBatchedItemHost host;
  Batcher batcher(RunFakeBatch);
  v1::DecodeResponse response;
  ASSERT_TRUE(RunBatchedItems(host, Call(), Request({5, 0, 6}), MakeOps(batcher), &response).ok());
  ASSERT_EQ(response.results_size(), 3);
  EXPECT_EQ(CodeOf(response.results(0)), absl::StatusCode::kOk);
  EXPECT_EQ(CodeOf(response.results(1)), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(response.results(1).status().message(), "session 0 is reserved");
  EXPECT_EQ(CodeOf(response.results(2)), absl::StatusCode::kOk);
  EXPECT_EQ(batcher.accepted(), 2);
}

TEST(RunBatchedItemsTest, RefusedItemGetsTheHostsQueueFullStatus) {
  testing::FakeBatchedItemHost host;
  Batcher batcher(RunFakeBatch, /*capacity=*/1);
  v1::DecodeResponse response;
  ASSERT_TRUE(RunBatchedItems(host, Call(), Request({1, 2}), MakeOps(batcher), &response).ok());
  ASSERT_EQ(response.results_size(), 2);
  EXPECT_EQ(CodeOf(response.results(0)), absl::StatusCode::kOk);
  EXPECT_EQ(CodeOf(response.results(1)), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(response.results(1).status().message(), "queue full");
}

TEST(RunBatchedItemsTest, BatchLevelFailureFailsTheCallAndQueuesNothing) {
  testing::FakeBatchedItemHost host;
  host.set_check_status(absl::InvalidArgumentError("session 1 appears twice in `items`"));
  Batcher batcher(RunFakeBatch);
  v1::DecodeResponse response;
  const absl::Status status =
      RunBatchedItems(host, Call(), Request({1, 1}), MakeOps(batcher), &response);
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_EQ(status.message(), "session 1 appears twice in `items`");
  EXPECT_EQ(response.results_size(), 0);
  EXPECT_EQ(batcher.accepted(), 0);
  EXPECT_THAT(host.item_statuses(), IsEmpty());
}

TEST(RunBatchedItemsTest, QueuesEveryItemBeforeWaitingForAny) {
  testing::FakeBatchedItemHost host;
  Batcher batcher(RunFakeBatch, /*capacity=*/2);
  v1::DecodeResponse response;
  ASSERT_TRUE(RunBatchedItems(host, Call(), Request({1, 2, 3}), MakeOps(batcher), &response).ok());
  EXPECT_THAT(batcher.events(), ElementsAre("submit 0", "submit 1", "refuse", "run 0", "run 1"));
}

}  // namespace
}  // namespace tandem::services
