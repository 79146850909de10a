// The draft engine's chunked prefill (the draft server's OpenSession): a
// registered session's prompt runs in chunks, several sessions' chunks in one
// forward, and the drafts that follow are identical to those after an eager
// (one-call) prefill.
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "decoding/engines.h"
#include "model/transformer_model.h"
#include "tests/model/random_checkpoint.h"

namespace tandem::decoding {
namespace {

std::unique_ptr<model::TransformerModel> TinyDraft() {
  model::ModelConfig c = model::testing::TinyLlamaConfig();
  c.max_position_embeddings = 256;
  return *model::TransformerModel::Create(model::testing::RandomCheckpoint(c, 5), {});
}

std::vector<int64_t> Prompt(int n, int salt) {
  std::vector<int64_t> p;
  for (int i = 0; i < n; ++i) p.push_back((i * 11 + salt * 5 + 2) % 60 + 1);
  return p;
}

SessionOptions Greedy() {
  SessionOptions o;
  o.params.temperature = 0;
  o.max_sequence_length = 120;
  return o;
}

std::vector<int64_t> DraftAfter(DraftEngine& engine, SessionId id, int64_t length) {
  std::vector<DraftOutcome> out =
      engine.Propose({ProposeItem{id, SequenceSync{length, {}}, /*gamma=*/5}});
  EXPECT_TRUE(out[0].status.ok()) << out[0].status;
  return out[0].draft.tokens;
}

TEST(DraftPrefillTest, ChunkedPrefillDraftsAsAnEagerOne) {
  auto chunked_model = TinyDraft();
  auto eager_model = TinyDraft();
  DraftEngine chunked(*chunked_model, 0);
  DraftEngine eager(*eager_model, 0);
  const std::vector<int64_t> a = Prompt(50, 1), b = Prompt(23, 2);
  auto ia = chunked.Register(a, Greedy());
  auto ib = chunked.Register(b, Greedy());
  ASSERT_TRUE(ia.ok() && ib.ok());
  EXPECT_EQ(chunked_model->Length(*ia), 0) << "registering runs nothing";
  // Both sessions' chunks share each call, 8 positions at a time.
  std::vector<int64_t> remaining_a;
  for (int call = 0; call < 20; ++call) {
    std::vector<PrefillOutcome> out =
        chunked.Prefill({PrefillItem{*ia, 8}, PrefillItem{*ib, 8}});
    ASSERT_TRUE(out[0].status.ok() && out[1].status.ok());
    remaining_a.push_back(out[0].remaining);
    if (out[0].remaining == 0 && out[1].remaining == 0) break;
  }
  EXPECT_EQ(remaining_a, (std::vector<int64_t>{41, 33, 25, 17, 9, 1, 0}));
  EXPECT_EQ(chunked_model->Length(*ia), 49);  // All but the pending last token.
  EXPECT_EQ(chunked_model->Length(*ib), 22);
  // Nothing left: a further chunk runs nothing.
  EXPECT_EQ(chunked.Prefill({PrefillItem{*ia, 8}})[0].remaining, 0);
  // A session twice in one call, a bad size, an unknown session.
  std::vector<PrefillOutcome> bad =
      chunked.Prefill({PrefillItem{*ia, 8}, PrefillItem{*ia, 8}, PrefillItem{*ib, 0},
                       PrefillItem{999, 8}});
  EXPECT_TRUE(bad[0].status.ok());
  EXPECT_EQ(bad[1].status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(bad[2].status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad[3].status.code(), absl::StatusCode::kNotFound);

  auto ea = eager.Open(a, Greedy());
  auto eb = eager.Open(b, Greedy());
  ASSERT_TRUE(ea.ok() && eb.ok());
  EXPECT_EQ(DraftAfter(chunked, *ia, 50), DraftAfter(eager, *ea, 50));
  EXPECT_EQ(DraftAfter(chunked, *ib, 23), DraftAfter(eager, *eb, 23));
}

}  // namespace
}  // namespace tandem::decoding
