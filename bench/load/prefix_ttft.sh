#!/usr/bin/env bash
# Prefix caching (issue 12 §2): TTFT of a request whose long prompt prefix an
# earlier request already ran, with the model servers' --prefix_cache on vs
# off. For each configuration (interleaved A B A B, ROUNDS times) it starts
# target, draft and orchestrator (shipped pair, bf16, loopback), sends request
# 1 = PREFIX + tail 1 and then request 2 = PREFIX + tail 2 (both streamed,
# greedy, speculation off, 8 new tokens), and prints the TTFT of each and the
# ratio first / second. The prefix is ~PREFIX_CHARS characters of the bench
# prompts (about 700-800 tokens of the shipped SentencePiece vocabulary).
#
# With --n N (> 1) it then also times, on the same servers, one request of N
# return sequences (seeded sampling, 8 new tokens each) over a third, unseen
# prompt of the same length: with the cache on, the sequences after the first
# copy the prompt from the first one's open session instead of each running it.
#
#   bash bench/load/prefix_ttft.sh [--rounds 3] [--prefix_chars 3000] [--cache 8] [--n 4]
set -euo pipefail
cd "$(dirname "$0")/../.."

ROUNDS=3
PREFIX_CHARS=3000
CACHE=8
N=1
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS="$2"; shift 2 ;;
    --prefix_chars) PREFIX_CHARS="$2"; shift 2 ;;
    --cache) CACHE="$2"; shift 2 ;;
    --n) N="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

bazel build --ui_event_filters=-info,-stdout --noshow_progress \
  //services/target //services/draft //services/orchestrator //client:tandem
BIN="$(bazel info bazel-bin 2>/dev/null)"
RUN="$(mktemp -d)"
PIDS=()
stop_servers() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  PIDS=()
}
trap 'stop_servers; rm -rf "$RUN"' EXIT INT TERM

PREFIX=$(/usr/bin/python3 -c '
import json, sys
text = " ".join(json.loads(l)["prompt"] for l in open("assets/bench_prompts.jsonl"))
print(text[:int(sys.argv[1])])' "$PREFIX_CHARS")

wait_port() {  # file
  for _ in $(seq 1 300); do
    if [ -s "$1" ]; then cat "$1"; return 0; fi
    sleep 0.1
  done
  echo "server did not start" >&2; exit 1
}

start_servers() {  # prefix cache entries
  rm -f "$RUN"/*.port
  "$BIN/services/target/target" --model="$PWD/assets/target" --dtype=bfloat16 --prefix_cache="$1" \
    --listen=127.0.0.1:0 --port_file="$RUN/t.port" >"$RUN/t.log" 2>&1 &
  PIDS+=($!)
  "$BIN/services/draft/draft" --model="$PWD/assets/draft" --dtype=bfloat16 --threads=1 \
    --prefix_cache="$1" --listen=127.0.0.1:0 --port_file="$RUN/d.port" >"$RUN/d.log" 2>&1 &
  PIDS+=($!)
  local t d
  t=$(wait_port "$RUN/t.port"); d=$(wait_port "$RUN/d.port")
  "$BIN/services/orchestrator/orchestrator" --target="127.0.0.1:$t" --draft="127.0.0.1:$d" \
    --tokenizer="$PWD/assets/target" --listen=127.0.0.1:0 --port_file="$RUN/o.port" \
    >"$RUN/o.log" 2>&1 &
  PIDS+=($!)
  ORCH=$(wait_port "$RUN/o.port")
}

ttft() {  # prompt -> TTFT in ms (from the client's stats line)
  "$BIN/client/tandem" generate --server="127.0.0.1:$ORCH" --prompt="$1" --temperature=0 \
    --max_new_tokens=8 --speculation=off --stream 2>&1 >/dev/null |
    sed -n 's/.*ttft \([0-9.]*\) ms.*/\1/p' | tail -1
}

nseq_ms() {  # prompt -> wall ms of one request of N return sequences
  local t0 t1
  t0=$(date +%s%N)
  "$BIN/client/tandem" generate --server="127.0.0.1:$ORCH" --prompt="$1" --temperature=1 \
    --seed=7 --num_return_sequences="$N" --max_new_tokens=8 --speculation=off >/dev/null 2>&1
  t1=$(date +%s%N)
  echo $(( (t1 - t0) / 1000000 ))
}

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-6s %-6s %12s %12s %8s %14s\n' round cache "ttft1 ms" "ttft2 ms" "1 / 2" "n=$N wall ms"
for round in $(seq 1 "$ROUNDS"); do
  for cache in 0 "$CACHE"; do
    start_servers "$cache"
    # Warm-up on unrelated text (first-call allocations).
    ttft "Warm up the servers with a short unrelated prompt." >/dev/null
    a=$(ttft "$PREFIX And then the first question was asked.")
    b=$(ttft "$PREFIX But nobody answered the second one.")
    c="-"
    if [ "$N" -gt 1 ]; then c=$(nseq_ms "Once more, from the start: $PREFIX"); fi
    printf '%-6s %-6s %12s %12s %8s %14s\n' "$round" "$cache" "$a" "$b" \
      "$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }')" "$c"
    stop_servers
  done
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
