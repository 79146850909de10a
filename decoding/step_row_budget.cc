#include "decoding/step_row_budget.h"

#include <algorithm>
#include <variant>

namespace tandem::decoding {

namespace {

// Prompt positions a verify / score item runs before its own rows (its
// session's prompt tail, left to this first step); 0 for a prefill chunk.
int64_t CatchUpRows(const StepItem& item) {
  if (const auto* v = std::get_if<VerifyItem>(&item)) return v->catch_up_rows;
  if (const auto* s = std::get_if<ScoreItem>(&item)) return s->catch_up_rows;
  return 0;
}

}  // namespace

int64_t StepRows(const StepItem& item) {
  if (const auto* v = std::get_if<VerifyItem>(&item)) {
    return std::max<int64_t>(1, CatchUpRows(item) + v->sync.append.size() + v->draft.tokens.size());
  }
  if (const auto* s = std::get_if<ScoreItem>(&item)) {
    return std::max<int64_t>(1, CatchUpRows(item) + s->sync.append.size() + s->tree.tokens.size());
  }
  return std::max<int64_t>(1, std::get<PrefillItem>(item).max_tokens);
}

RowBudget<StepItem> StepRowBudget(int64_t max_rows) {
  RowBudget<StepItem> budget;
  budget.max_rows = max_rows;
  budget.rank = [](const StepItem& item) {
    return std::holds_alternative<PrefillItem>(item) || CatchUpRows(item) > 0 ? 1 : 0;
  };
  budget.fit = [](StepItem& item, int64_t left, bool first) -> int64_t {
    auto* prefill = std::get_if<PrefillItem>(&item);
    if (prefill == nullptr) {
      const int64_t rows = StepRows(item);
      // Running sequences always step; a prompt tail waits for room.
      if (CatchUpRows(item) == 0 || first || rows <= left) return rows;
      return 0;
    }
    const int64_t wanted = std::max<int64_t>(1, prefill->max_tokens);
    int64_t rows = std::min(wanted, left);
    if (rows < std::min(wanted, kMinPrefillRowsPerStep)) {
      if (!first) return 0;
      rows = std::min(wanted, kMinPrefillRowsPerStep);
    }
    prefill->max_tokens = rows;
    return rows;
  };
  return budget;
}

}  // namespace tandem::decoding
