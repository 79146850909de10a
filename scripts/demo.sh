#!/usr/bin/env bash
# The speculative-decoding demo: starts target, draft and orchestrator on
# loopback with the shipped pair (assets/), streams a generation with
# speculative decoding, then runs the same prompt target-only and prints both
# runs' tokens/s, the speedup, the acceptance rate and the mean accepted
# length. Cleans up its processes on exit.
#
#   bash scripts/demo.sh [--prompt "..."] [--max_new_tokens N] [--speculation draft|self|ngram]
set -euo pipefail
cd "$(dirname "$0")/.."

PROMPT="And God said, Let there be light: and there was light. And God saw the light, that it was good:"
MAX_NEW=96
MODE=draft
DTYPE=bfloat16
# The draft model is tiny: a second intra-op thread only contends with the
# target's on a 2-core machine.
DRAFT_THREADS=1
while [ $# -gt 0 ]; do
  case "$1" in
    --prompt) PROMPT="$2"; shift 2 ;;
    --max_new_tokens) MAX_NEW="$2"; shift 2 ;;
    --speculation) MODE="$2"; shift 2 ;;
    --dtype) DTYPE="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

echo "demo: building the binaries (the first build takes a few minutes)..."
bazel build --ui_event_filters=-info,-stdout --noshow_progress \
  //services/target //services/draft //services/orchestrator //client:tandem
BIN="$(bazel info bazel-bin 2>/dev/null)"
RUN="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$RUN"
}
trap cleanup EXIT INT TERM

wait_port() {  # file, name, log
  for _ in $(seq 1 300); do
    if [ -s "$1" ]; then cat "$1"; return 0; fi
    if ! kill -0 "${PIDS[-1]}" 2>/dev/null; then
      echo "demo: $2 failed to start:" >&2; cat "$3" >&2; exit 1
    fi
    sleep 0.1
  done
  echo "demo: $2 did not start within 30 s" >&2; cat "$3" >&2; exit 1
}

start=$(date +%s.%N)
"$BIN/services/target/target" --model="$PWD/assets/target" --dtype="$DTYPE" \
  --listen=127.0.0.1:0 --port_file="$RUN/target.port" >"$RUN/target.log" 2>&1 &
PIDS+=($!)
TARGET_PORT=$(wait_port "$RUN/target.port" target "$RUN/target.log")
"$BIN/services/draft/draft" --model="$PWD/assets/draft" --dtype="$DTYPE" --threads="$DRAFT_THREADS" \
  --listen=127.0.0.1:0 --port_file="$RUN/draft.port" >"$RUN/draft.log" 2>&1 &
PIDS+=($!)
DRAFT_PORT=$(wait_port "$RUN/draft.port" draft "$RUN/draft.log")
"$BIN/services/orchestrator/orchestrator" --target="127.0.0.1:$TARGET_PORT" \
  --draft="127.0.0.1:$DRAFT_PORT" --tokenizer="$PWD/assets/target" \
  --listen=127.0.0.1:0 --port_file="$RUN/orchestrator.port" >"$RUN/orchestrator.log" 2>&1 &
PIDS+=($!)
ORCH_PORT=$(wait_port "$RUN/orchestrator.port" orchestrator "$RUN/orchestrator.log")
echo "demo: target :$TARGET_PORT, draft :$DRAFT_PORT, orchestrator :$ORCH_PORT (loopback, $DTYPE)"

generate() {  # mode, stats file
  "$BIN/client/tandem" generate --server="127.0.0.1:$ORCH_PORT" --prompt="$PROMPT" \
    --temperature=0 --max_new_tokens="$MAX_NEW" --speculation="$1" --stream 2>"$2"
}
# Warm-up (first-call allocations), not shown.
"$BIN/client/tandem" generate --server="127.0.0.1:$ORCH_PORT" --prompt="$PROMPT" \
  --temperature=0 --max_new_tokens=8 --speculation="$MODE" >/dev/null 2>&1

echo
echo "== prompt: $PROMPT"
echo "== speculative decoding ($MODE model, greedy), streamed:"
generate "$MODE" "$RUN/spec.txt"
echo "== target-only (same prompt, greedy):"
generate off "$RUN/off.txt"
echo

tps() { sed -n 's/.*tokens, \([0-9.]*\) tok\/s.*/\1/p' "$1" | tail -1; }
field() { sed -n "s/.*$2 \([0-9.]*\).*/\1/p" "$1" | tail -1; }
SPEC_TPS=$(tps "$RUN/spec.txt"); OFF_TPS=$(tps "$RUN/off.txt")
printf '%-26s %12s %12s\n' "" "speculative" "target-only"
printf '%-26s %12s %12s\n' "tokens/s" "$SPEC_TPS" "$OFF_TPS"
printf '%-26s %12s %12s\n' "acceptance rate" "$(field "$RUN/spec.txt" acceptance)" "-"
printf '%-26s %12s %12s\n' "mean accepted length" "$(field "$RUN/spec.txt" "mean accepted length")" "1.00"
printf '%-26s %12s %12s\n' "target passes" "$(field "$RUN/spec.txt" "length [0-9.]*,")" "$MAX_NEW"
awk -v s="$SPEC_TPS" -v o="$OFF_TPS" 'BEGIN { if (o > 0) printf "%-26s %11.2fx\n", "speedup", s / o }'
end=$(date +%s.%N)
awk -v a="$start" -v b="$end" 'BEGIN { printf "demo: done in %.1f s (after the build)\n", b - a }'
