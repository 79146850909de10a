// StepRowBudget: how a target step is filled under --max_step_rows.

#include "decoding/step_row_budget.h"

#include <variant>

#include <gtest/gtest.h>

namespace tandem::decoding {
namespace {

StepItem Verify(int64_t appended, int64_t drafted) {
  VerifyItem v;
  v.sync.append.assign(appended, 5);
  v.draft.tokens.assign(drafted, 7);
  return v;
}

StepItem Prefill(int64_t max_tokens) { return PrefillItem{1, max_tokens}; }

TEST(StepRowBudgetTest, RowsOfEachKindOfItem) {
  EXPECT_EQ(StepRows(Verify(0, 0)), 1);  // A plain decode still runs a row.
  EXPECT_EQ(StepRows(Verify(1, 4)), 5);
  ScoreItem score;
  score.sync.append = {1, 2};
  score.tree.tokens = {3, 4, 5};
  EXPECT_EQ(StepRows(score), 5);
  EXPECT_EQ(StepRows(Prefill(256)), 256);
}

TEST(StepRowBudgetTest, RunningSequencesGoFirstAndAlwaysRun) {
  RowBudget<StepItem> budget = StepRowBudget(64);
  StepItem verify = Verify(1, 8);
  EXPECT_EQ(budget.rank(verify), 0);
  EXPECT_EQ(budget.rank(Prefill(10)), 1);
  // Whatever is left of the budget, a verify runs whole.
  EXPECT_EQ(budget.fit(verify, -100, /*first=*/false), 9);
  EXPECT_EQ(std::get<VerifyItem>(verify).draft.tokens.size(), 8u);
}

TEST(StepRowBudgetTest, PrefillChunksShrinkToWhatIsLeft) {
  RowBudget<StepItem> budget = StepRowBudget(512);
  StepItem chunk = Prefill(256);
  EXPECT_EQ(budget.fit(chunk, 100, /*first=*/false), 100);
  EXPECT_EQ(std::get<PrefillItem>(chunk).max_tokens, 100);
  StepItem whole = Prefill(256);
  EXPECT_EQ(budget.fit(whole, 400, /*first=*/false), 256);
  EXPECT_EQ(std::get<PrefillItem>(whole).max_tokens, 256);
  // Less than the minimum left: a later prefill waits for the next step...
  StepItem later = Prefill(256);
  EXPECT_EQ(budget.fit(later, kMinPrefillRowsPerStep - 1, /*first=*/false), 0);
  EXPECT_EQ(std::get<PrefillItem>(later).max_tokens, 256);
  // ...unless its whole remainder fits.
  StepItem tail = Prefill(5);
  EXPECT_EQ(budget.fit(tail, 6, /*first=*/false), 5);
  // The oldest prefill advances by the minimum even with nothing left.
  StepItem oldest = Prefill(256);
  EXPECT_EQ(budget.fit(oldest, -40, /*first=*/true), kMinPrefillRowsPerStep);
  EXPECT_EQ(std::get<PrefillItem>(oldest).max_tokens, kMinPrefillRowsPerStep);
}

TEST(StepRowBudgetTest, AFirstStepWithAPromptTailWaitsWholeForRoom) {
  RowBudget<StepItem> budget = StepRowBudget(512);
  VerifyItem first_step;
  first_step.catch_up_rows = 200;
  StepItem item = first_step;
  EXPECT_EQ(StepRows(item), 200);
  EXPECT_EQ(budget.rank(item), 1);  // With the prefills, not the running streams.
  EXPECT_EQ(budget.fit(item, 300, /*first=*/false), 200);
  EXPECT_EQ(budget.fit(item, 199, /*first=*/false), 0);  // Never shrunk: it waits.
  EXPECT_EQ(budget.fit(item, -5, /*first=*/true), 200);  // Unless it is the oldest.
  ScoreItem score;
  score.catch_up_rows = 3;
  score.tree.tokens = {1, 2};
  EXPECT_EQ(StepRows(score), 5);
  EXPECT_EQ(budget.rank(score), 1);
}

}  // namespace
}  // namespace tandem::decoding
