#ifndef TANDEM_DECODING_STEP_ROW_BUDGET_H_
#define TANDEM_DECODING_STEP_ROW_BUDGET_H_

#include <cstdint>

#include "decoding/batcher.h"
#include "decoding/engines.h"

namespace tandem::decoding {

// The fewest prompt positions the oldest waiting prefill runs per step even
// when running sequences' rows fill the budget: prompts always advance.
inline constexpr int64_t kMinPrefillRowsPerStep = 32;

// How a target step is filled under a row budget of `max_rows` (> 0; the
// step's forward costs about its rows): every running sequence's verify /
// decode / score rows first (they are what streams wait on between tokens,
// at most one item per session), then prefill chunks in arrival order, each
// shrunk to the rows left (max_tokens lowered), the first at least
// kMinPrefillRowsPerStep. So a burst of long prompts is spread over steps
// first come first served — the first prompt's first token does not wait for
// every other prompt — and the running streams keep stepping meanwhile.
// A verify / score item whose session still runs its prompt's tail
// (catch_up_rows > 0: its open left the last chunk to this first step) is
// scheduled with the prefills, in arrival order, but whole: it waits for a
// step with room unless it is the oldest. Thread-safe (stateless).
RowBudget<StepItem> StepRowBudget(int64_t max_rows);

// The rows item adds to a step's forward: catch-up + synced + drafted
// tokens (at least 1) for a verify or score item; max_tokens for a prefill
// chunk.
int64_t StepRows(const StepItem& item);

}  // namespace tandem::decoding

#endif  // TANDEM_DECODING_STEP_ROW_BUDGET_H_
