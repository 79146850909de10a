#!/usr/bin/env bash
# The full training pipeline as run on the GPU machine (one H100, ~8 minutes):
#   tools/train/run_gpu.sh CORPUS_DIR WORK_DIR [PACK_DIR]
# 1. two target runs side by side on the one GPU (A: 1000 steps ~ 9.7 epochs, residual dropout 0.2;
#    B: 1400 steps ~ 13.5 epochs, dropout 0.3), cosine-annealed; the lower validation loss is kept,
# 2. the draft is distilled from the kept target (its exported bf16 weights),
# 3. both exported folders are checked against transformers.LlamaForCausalLM (if installed),
# 4. with PACK_DIR: the target shards + a tar of everything else are copied there.
set -euo pipefail
DATA="$1"; WORK="$2"; PACK="${3:-}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="${PYTHON:-python3}"
export PYTHONUNBUFFERED=1
mkdir -p "$WORK"
# TRAIN_ARGS overrides the shared options (e.g. a CPU dry run with tiny presets)
COMMON=(--data "$DATA" ${TRAIN_ARGS:---compile --eval-every 100})
"$PY" "$HERE/train.py" "${COMMON[@]}" --out "$WORK/a" --skip-draft \
    --target-steps "${STEPS_A:-1000}" --dropout "${DROPOUT_A:-0.2}" > "$WORK/a.log" 2>&1 &
PA=$!
"$PY" "$HERE/train.py" "${COMMON[@]}" --out "$WORK/b" --skip-draft --seed 4321 \
    --target-steps "${STEPS_B:-1400}" --dropout "${DROPOUT_B:-0.3}" > "$WORK/b.log" 2>&1 &
PB=$!
wait $PA; wait $PB
grep -E "done|target_val_ppl|early_exit_val_ppl" "$WORK/a.log" "$WORK/b.log"
BEST=$("$PY" - "$WORK" <<'PYEOF'
import json, sys
w = sys.argv[1]
ce = {r: json.load(open("%s/%s/metrics.json" % (w, r)))["eval"]["target_val_ce"] for r in ("a", "b")}
print(min(ce, key=ce.get))
PYEOF
)
echo "kept target run: $BEST"
"$PY" "$HERE/train.py" "${COMMON[@]}" --out "$WORK/final" --init-target "$WORK/$BEST/target" \
    --draft-time "${DRAFT_TIME:-140}" 2>&1 | tee "$WORK/final.log"
cp "$WORK/$BEST/metrics.json" "$WORK/final/target_metrics.json"
cp "$WORK/a/metrics.json" "$WORK/final/metrics_a.json"; cp "$WORK/b/metrics.json" "$WORK/final/metrics_b.json"
cp "$WORK/a.log" "$WORK/b.log" "$WORK/final/"
echo "$BEST" > "$WORK/final/kept_target_run.txt"
if "$PY" -c "import transformers" 2>/dev/null; then
  timeout 120 "$PY" "$HERE/verify_hf.py" --data "$DATA" "$WORK/final/target" "$WORK/final/draft" \
      --prompts "$DATA/bench_prompts.jsonl" --json "$WORK/final/verify_hf.json" 2>&1 \
      | grep -v "Loading weights" | tee "$WORK/final/verify_hf.log" || echo "verify_hf failed"
fi
if [[ -n "$PACK" ]]; then
  mkdir -p "$PACK"
  cp "$WORK"/final/target/model-*.safetensors "$PACK/"
  tar -C "$WORK/final" -cf "$PACK/rest.tar" --exclude='model-*.safetensors' .
  ls -la "$PACK"
fi
