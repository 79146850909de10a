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
# One intra-op thread each: pipelined speculation drafts the next round on
# the draft's core while the target verifies on its own (on a 2-core machine
# a second target thread would contend with the draft; docs/benchmarks.md).
DRAFT_THREADS=1
TARGET_THREADS=1
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
"$BIN/services/target/target" --model="$PWD/assets/target" --dtype="$DTYPE" --threads="$TARGET_THREADS" \
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

generate() {  # mode, stats file, [draft length]
  "$BIN/client/tandem" generate --server="127.0.0.1:$ORCH_PORT" --prompt="$PROMPT" \
    --temperature=0 --max_new_tokens="$MAX_NEW" --speculation="$1" \
    --draft_length="${3:-adaptive}" --stream 2>"$2"
}
# Warm-up (first-call allocations), not shown.
for m in off draft ngram self; do
  "$BIN/client/tandem" generate --server="127.0.0.1:$ORCH_PORT" --prompt="$PROMPT" \
    --temperature=0 --max_new_tokens=8 --speculation="$m" >/dev/null 2>&1 || true
done

echo
echo "== prompt: $PROMPT"
echo "== speculative decoding ($MODE, adaptive draft length, greedy), streamed:"
generate "$MODE" "$RUN/spec.txt" | tee "$RUN/spec.out"
generate off "$RUN/off.txt" >"$RUN/off.out"
if cmp -s "$RUN/spec.out" "$RUN/off.out"; then
  echo "== target-only output: identical (lossless)"
else
  echo "== target-only output DIFFERS:"; cat "$RUN/off.out"
fi

tps() { sed -n 's/.*tokens, \([0-9.]*\) tok\/s.*/\1/p' "$1" | tail -1; }
field() { sed -n "s/.*$2 \([0-9.]*\).*/\1/p" "$1" | tail -1; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# Every mode against target-only, interleaved (off draft ngram self, 3
# rounds), medians: the machine is shared, so one run each is noise.
MODES="off draft ngram self"
for round in 1 2 3; do
  for m in $MODES; do
    generate "$m" "$RUN/$m.$round.txt" >/dev/null
    tps "$RUN/$m.$round.txt" >>"$RUN/$m.tps"
  done
done
OFF_TPS=$(median <"$RUN/off.tps")
echo
printf '%-8s %10s %12s %14s %10s\n' mode "tok/s" "acceptance" "tokens/pass" speedup
BEST=off; BEST_SPEEDUP=1
for m in $MODES; do
  T=$(median <"$RUN/$m.tps")
  S=$(awk -v s="$T" -v o="$OFF_TPS" 'BEGIN { printf "%.2f", (o > 0) ? s / o : 0 }')
  if [ "$m" = off ]; then A="-"; L="1.00"; else
    A=$(field "$RUN/$m.3.txt" acceptance); L=$(field "$RUN/$m.3.txt" "mean accepted length"); fi
  printf '%-8s %10s %12s %14s %9sx\n' "$m" "$T" "$A" "$L" "$S"
  if awk -v s="$S" -v b="$BEST_SPEEDUP" 'BEGIN { exit !(s > b) }'; then BEST=$m; BEST_SPEEDUP=$S; fi
done
echo
echo "best: $BEST, ${BEST_SPEEDUP}x target-only tokens/s (median of 3 interleaved runs, greedy, $MAX_NEW tokens)"
end=$(date +%s.%N)
awk -v a="$start" -v b="$end" 'BEGIN { printf "demo: done in %.1f s (after the build)\n", b - a }'
