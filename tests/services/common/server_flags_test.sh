#!/usr/bin/env bash
# The target binary refuses bad scheduling flags before loading anything
# (exit 2, the flag and its range named), and accepts their edge values.
set -u
TARGET="$TEST_SRCDIR/$TEST_WORKSPACE/services/target/target"
fail=0

expect() {  # want_rc, want_text, args...
  local want_rc="$1" want="$2"; shift 2
  local out rc
  out=$("$TARGET" "$@" 2>&1); rc=$?
  if [ "$rc" != "$want_rc" ] || ! grep -qF -- "$want" <<<"$out"; then
    echo "FAIL: target $* -> rc $rc (want $want_rc), output:"; echo "$out" | tail -3
    echo "  (wanted text: $want)"
    fail=1
  fi
}

expect 2 "--max_step_rows must be >= 0 (0 = no budget), got -1" --model=/nonexistent --max_step_rows=-1
expect 2 "--prefill_chunk must be >= 1, got 0" --model=/nonexistent --prefill_chunk=0
# Edge values pass the flag checks and fail later, on the missing model.
expect 1 "/nonexistent" --model=/nonexistent --max_step_rows=0 --prompt_tail_with_first_step=false
expect 1 "/nonexistent" --model=/nonexistent --max_step_rows=1
exit $fail
