#!/usr/bin/env bash
# The bounded load test (docs/benchmarks.md, "Load test"): starts target, draft
# and orchestrator on 127.0.0.1 (port 0, port files) with the shipped pair in
# bfloat16, runs //bench/load:load_test at 1, 8, 32 and 64 concurrent streams
# (a fixed request count and a time cap per level), then one level above the
# admission limit on a fresh set of servers with a smaller --max_sessions.
# Writes bench/load/results/results.jsonl and results.md and prints the
# markdown table. Kills its processes on exit.
#
#   bash bench/load/run_load.sh [--max_sessions 64] [--max_context 0] [--levels 1,8,32,64]
#       [--requests_per_stream 4] [--min_requests 16] [--time_limit_s 90] [--max_new_tokens 32] [--speculation draft]
#       [--target_threads 0] [--batch_window_us 0]
#       [--overload_sessions 16] [--overload_streams 32] [--no_overload] [--out DIR]
#       [--orchestrator_flags "--adaptive"] [--target_flags "--max_step_rows 0"]
#       [--prompts FILE.jsonl | --prompt_tokens 256] [--ramp_s 0]
# KEEP_LOGS=DIR keeps the three servers' logs there.
# ORCHESTRATOR_BIN=path runs that orchestrator binary instead of the freshly built one (A/B of
# two orchestrator builds against the same model servers).
set -euo pipefail
cd "$(dirname "$0")/../.."

# Admission limit: concurrent sessions (KV caches) per model server. A
# draft-model request holds one target and one draft session for its whole
# generation, so this is also the number of requests served at once.
MAX_SESSIONS=64
MAX_CONTEXT=0     # Positions per session (KV cache reserved up front); 0 = the model's (1024).
LEVELS=1,8,32,64
REQUESTS_PER_STREAM=4
MIN_REQUESTS=16
TIME_LIMIT_S=90
MAX_NEW=32
MODE=draft
DTYPE=bfloat16
DRAFT_THREADS=1   # As scripts/demo.sh: the tiny draft only contends with the target on 2 cores.
TARGET_THREADS=0  # 0: LibTorch's default (one per core).
BATCH_WINDOW_US=0 # Target batching window; 0 = continuous batching.
OVERLOAD=1
OVERLOAD_SESSIONS=16
OVERLOAD_STREAMS=32
OVERLOAD_REQUESTS_PER_STREAM=8  # Rejected streams retry soon, so they use up requests fast.
RETRY_BACKOFF_S=0.05  # A stream's pause after a failed request.
OUT=bench/load/results
RAMP_S=0          # Stream k starts at k * RAMP_S / streams.
PROMPT_TOKENS=0   # > 0: prompts of exactly this many tokens (bench/load/long_prompts.py).
PROMPTS="$PWD/assets/bench_prompts.jsonl"
ORCH_FLAGS=""     # Extra orchestrator flags, e.g. "--adaptive".
TARGET_FLAGS=""   # Extra target flags, e.g. "--max_step_rows 0".
while [ $# -gt 0 ]; do
  case "$1" in
    --max_sessions) MAX_SESSIONS="$2"; shift 2 ;;
    --max_context) MAX_CONTEXT="$2"; shift 2 ;;
    --levels) LEVELS="$2"; shift 2 ;;
    --requests_per_stream) REQUESTS_PER_STREAM="$2"; shift 2 ;;
    --min_requests) MIN_REQUESTS="$2"; shift 2 ;;
    --time_limit_s) TIME_LIMIT_S="$2"; shift 2 ;;
    --max_new_tokens) MAX_NEW="$2"; shift 2 ;;
    --speculation) MODE="$2"; shift 2 ;;
    --target_threads) TARGET_THREADS="$2"; shift 2 ;;
    --batch_window_us) BATCH_WINDOW_US="$2"; shift 2 ;;
    --overload_sessions) OVERLOAD_SESSIONS="$2"; shift 2 ;;
    --overload_streams) OVERLOAD_STREAMS="$2"; shift 2 ;;
    --orchestrator_flags) ORCH_FLAGS="$2"; shift 2 ;;
    --target_flags) TARGET_FLAGS="$2"; shift 2 ;;
    --no_overload) OVERLOAD=0; shift ;;
    --out) OUT="$2"; shift 2 ;;
    --ramp_s) RAMP_S="$2"; shift 2 ;;
    --prompt_tokens) PROMPT_TOKENS="$2"; shift 2 ;;
    --prompts) PROMPTS="$(realpath "$2")"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

bazel build --ui_event_filters=-info,-stdout --noshow_progress \
  //services/target //services/draft //services/orchestrator //bench/load:load_test
BIN="$(bazel info bazel-bin 2>/dev/null)"
RUN="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  # KEEP_LOGS=DIR keeps the servers' logs (one folder per server set).
  if [ -n "${KEEP_LOGS:-}" ]; then mkdir -p "$KEEP_LOGS" && cp -r "$RUN"/. "$KEEP_LOGS"/; fi
  rm -rf "$RUN"
}
trap cleanup EXIT INT TERM
if [ "$PROMPT_TOKENS" -gt 0 ]; then
  PROMPTS="$RUN/prompts_$PROMPT_TOKENS.jsonl"
  /usr/bin/python3 bench/load/long_prompts.py --tokens "$PROMPT_TOKENS" --out "$PROMPTS"
fi

wait_port() {  # file, name, log
  for _ in $(seq 1 300); do
    if [ -s "$1" ]; then cat "$1"; return 0; fi
    if ! kill -0 "${PIDS[-1]}" 2>/dev/null; then
      echo "load: $2 failed to start:" >&2; cat "$3" >&2; exit 1
    fi
    sleep 0.1
  done
  echo "load: $2 did not start within 30 s" >&2; cat "$3" >&2; exit 1
}

start_servers() {  # max_sessions, tag; sets ORCH_PORT and SERVER_PIDS
  local dir="$RUN/$2"
  mkdir -p "$dir"
  "$BIN/services/target/target" --model="$PWD/assets/target" --dtype="$DTYPE" \
    --threads="$TARGET_THREADS" --batch_window_us="$BATCH_WINDOW_US" --max_sessions="$1" --max_context="$MAX_CONTEXT" --listen=127.0.0.1:0 \
    --port_file="$dir/target.port" $TARGET_FLAGS >"$dir/target.log" 2>&1 &
  PIDS+=($!); local target_pid=$!
  local target_port; target_port=$(wait_port "$dir/target.port" target "$dir/target.log")
  "$BIN/services/draft/draft" --model="$PWD/assets/draft" --dtype="$DTYPE" \
    --threads="$DRAFT_THREADS" --max_sessions="$1" --max_context="$MAX_CONTEXT" \
    --listen=127.0.0.1:0 --port_file="$dir/draft.port" >"$dir/draft.log" 2>&1 &
  PIDS+=($!); local draft_pid=$!
  local draft_port; draft_port=$(wait_port "$dir/draft.port" draft "$dir/draft.log")
  "${ORCHESTRATOR_BIN:-$BIN/services/orchestrator/orchestrator}" --target="127.0.0.1:$target_port" \
    --draft="127.0.0.1:$draft_port" --tokenizer="$PWD/assets/target" \
    --listen=127.0.0.1:0 --port_file="$dir/orchestrator.port" $ORCH_FLAGS \
    >"$dir/orchestrator.log" 2>&1 &
  PIDS+=($!); local orch_pid=$!
  ORCH_PORT=$(wait_port "$dir/orchestrator.port" orchestrator "$dir/orchestrator.log")
  SERVER_PIDS="target=$target_pid,draft=$draft_pid,orchestrator=$orch_pid"
  echo "load: max_sessions=$1: target :$target_port, draft :$draft_port," \
    "orchestrator :$ORCH_PORT ($DTYPE, loopback)"
}

stop_servers() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  PIDS=()
}

run_level() {  # streams, requests, max_sessions
  local load1; load1=$(cut -d' ' -f1 /proc/loadavg)
  echo
  echo "== $1 streams, $2 requests, time cap ${TIME_LIMIT_S}s (max_sessions=$3, load average $load1)"
  "$BIN/bench/load/load_test" --server="127.0.0.1:$ORCH_PORT" \
    --prompts="$PROMPTS" --streams="$1" --max_requests="$2" \
    --time_limit_s="$TIME_LIMIT_S" --ramp_s="$RAMP_S" --max_new_tokens="$MAX_NEW" --speculation="$MODE" \
    --temperature=0 --retry_backoff_s="$RETRY_BACKOFF_S" --pids="$SERVER_PIDS" \
    --label="max_sessions=$3; max_context=$MAX_CONTEXT; load1=$load1" \
    --json_out="$OUT/results.jsonl"
}

mkdir -p "$OUT"
rm -f "$OUT/results.jsonl"
echo "load: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
  "$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
start=$(date +%s)

start_servers "$MAX_SESSIONS" main
for streams in ${LEVELS//,/ }; do
  requests=$((streams * REQUESTS_PER_STREAM))
  [ "$requests" -lt "$MIN_REQUESTS" ] && requests=$MIN_REQUESTS
  if [ "$streams" -gt "$MAX_SESSIONS" ]; then where="ABOVE"
  elif [ "$streams" -eq "$MAX_SESSIONS" ]; then where="AT"
  else where="below"; fi
  echo "load: $streams streams is $where the admission limit (max_sessions=$MAX_SESSIONS)"
  run_level "$streams" "$requests" "$MAX_SESSIONS"
done
stop_servers

if [ "$OVERLOAD" = 1 ]; then
  echo
  echo "load: overload: $OVERLOAD_STREAMS streams against max_sessions=$OVERLOAD_SESSIONS" \
    "(expect fast RESOURCE_EXHAUSTED for the excess)"
  start_servers "$OVERLOAD_SESSIONS" overload
  run_level "$OVERLOAD_STREAMS" $((OVERLOAD_STREAMS * OVERLOAD_REQUESTS_PER_STREAM)) \
    "$OVERLOAD_SESSIONS"
  stop_servers
fi

echo
/usr/bin/python3 bench/load/table.py "$OUT/results.jsonl" | tee "$OUT/results.md"
echo "load: done in $(( $(date +%s) - start )) s; results in $OUT/"
