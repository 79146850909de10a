#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz/ with --config=fuzz (clang,
# coverage, ASan + UBSan) and runs each for N seconds (default 60) on a scratch
# copy of its seed corpus; prints executions, exec/s, the corpus it grew and
# any crash. Exits 1 if a target crashed (the reproducer is kept; see
# docs/fuzzing.md for turning it into a regression file).
#   scripts/fuzz.sh [seconds] [target...]     targets: validation safetensors gguf tokenizer_json
# Environment: TANDEM_FUZZ_OUTPUT_BASE (Bazel output base of the clang build,
# default ~/.cache/tandem/bazel-fuzz-<checkout hash>, so the gcc build of
# `bazel test //...` is not evicted), TMPDIR (default /dev/shm when writable),
# TANDEM_FUZZ_WORK (scratch directory,
# default a new /tmp/tandem-fuzz.XXXXXX), TANDEM_FUZZ_FLAGS (extra libFuzzer
# flags, e.g. "-jobs=2 -workers=2").
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
shift || true
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then targets=(validation safetensors gguf tokenizer_json); fi

checkout_hash="$(pwd | md5sum | cut -c1-8)"
output_base="${TANDEM_FUZZ_OUTPUT_BASE:-$HOME/.cache/tandem/bazel-fuzz-$checkout_hash}"
bazel=(bazel --output_base="$output_base")
labels=()
for t in "${targets[@]}"; do labels+=("//tests/fuzz:${t}_fuzz"); done

echo "fuzz: building ${labels[*]} with --config=fuzz (output base $output_base)"
"${bazel[@]}" build --config=fuzz --symlink_prefix=/ "${labels[@]}"
bin="$("${bazel[@]}" info --config=fuzz bazel-bin 2>/dev/null)/tests/fuzz"

work="${TANDEM_FUZZ_WORK:-$(mktemp -d /tmp/tandem-fuzz.XXXXXX)}"
# The file-format targets write each input to a scratch file under $TMPDIR
# (tests/fuzz/fuzz_util.h): tmpfs doubles their exec/s.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then export TMPDIR=/dev/shm; fi
echo "fuzz: ${seconds}s per target, scratch corpora and logs in $work ($(date -u +%FT%TZ))"
crashed=0
for t in "${targets[@]}"; do
  dir="$work/$t"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cp -R "tests/fuzz/corpus/$t/." "$dir/corpus/"
  seeds="$(find "$dir/corpus" -type f | wc -l)"
  status=0
  # shellcheck disable=SC2086
  "$bin/${t}_fuzz" -max_total_time="$seconds" -rss_limit_mb=4096 -timeout=30 \
      -print_final_stats=1 -artifact_prefix="$dir/artifacts/" ${TANDEM_FUZZ_FLAGS:-} \
      "$dir/corpus" >"$dir/log" 2>&1 || status=$?
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log" | tail -1)"
  files="$(find "$dir/corpus" -type f | wc -l)"
  bytes="$(du -sb "$dir/corpus" | cut -f1)"
  printf 'fuzz: %-15s exit %d, %s executions, %s exec/s, corpus %d -> %d files (%s bytes)\n' \
      "$t" "$status" "${execs:-?}" "${rate:-?}" "$seeds" "$files" "$bytes"
  if [ "$status" -ne 0 ] || [ -n "$(ls -A "$dir/artifacts")" ]; then
    crashed=1
    echo "fuzz: $t FAILED; reproducers:"
    ls -l "$dir/artifacts"
    grep -m1 -A25 -E '^==[0-9]+==ERROR|runtime error|fuzz invariant violated|deadly signal' "$dir/log" || tail -40 "$dir/log"
  fi
done
exit "$crashed"
