#!/usr/bin/env python3
"""tandem vs llama.cpp target-only decode on the same GGUF files, interleaved.

For every (model, dtype, threads) the two engines run alternately (A B A B ...)
for --rounds rounds; each run is a fresh process (bench/model/model_bench for
tandem, bench/model/llama_cpp_bench.mjs for llama.cpp = npm node-llama-cpp),
which loads the GGUF, prefills 64 tokens, warms up, then times --tokens
1-token decode steps over --reps repetitions and reports the median ms/token.
The table gives the median over rounds of each engine's median, the ratio
tandem tok/s / llama.cpp tok/s, and the load average before each config.

  bazel build -c opt //bench/model:model_bench
  bazel-bin/bench/model/model_bench --models=assets/target,100m --write_only
  python3 bench/model/compare_llama_cpp.py --models target,100m --dtypes f32,bf16 \
      --threads 1,2 --rounds 3 --out /tmp/compare.jsonl

GGUFs are read from --work_dir/<model>/model.<dtype>.gguf (model_bench writes
them: random presets, and GGUF copies of checkpoint directories such as
assets/target). llama.cpp's KV cache is F32 for f32 and F16 otherwise.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile


def run_tandem(args, gguf, dtype, threads):
    with tempfile.NamedTemporaryFile(suffix=".jsonl") as out:
        subprocess.run(
            [args.model_bench, f"--models={gguf}", f"--dtypes={dtype}", f"--threads={threads}",
             f"--reps={args.reps}", f"--decode_tokens={args.tokens}", "--count_ops=false",
             "--skip_verify", f"--json_out={out.name}", f"--work_dir={args.work_dir}"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(out.name) as f:
            return json.loads(f.readline())["decode_ms"]


def run_llama(args, gguf, dtype, threads):
    kv = "F32" if dtype == "f32" else "F16"
    r = subprocess.run(
        ["node", args.llama_script, "--node_modules", args.node_modules, "--model", gguf,
         "--threads", str(threads), "--reps", str(args.reps), "--tokens", str(args.tokens),
         "--max_k", "0", "--kv_type", kv],
        check=True, capture_output=True, text=True)
    return json.loads(r.stdout.strip().splitlines()[-1])["decode_ms"]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="target,100m")
    p.add_argument("--dtypes", default="f32,bf16")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--tokens", type=int, default=32)
    p.add_argument("--work_dir", default="/tmp/tandem_model_bench")
    p.add_argument("--model_bench", default="bazel-bin/bench/model/model_bench")
    p.add_argument("--llama_script", default="bench/model/llama_cpp_bench.mjs")
    p.add_argument("--node_modules", default="tests/oracles/node_modules")
    p.add_argument("--out", default="")
    args = p.parse_args()
    rows = []
    print("| model | dtype | threads | load avg | tandem ms/tok (runs) | llama.cpp ms/tok (runs) | "
          "tandem tok/s | llama.cpp tok/s | ratio |")
    print("|---|---|---|---|---|---|---|---|---|")
    for model in args.models.split(","):
        for dtype in args.dtypes.split(","):
            gguf = os.path.join(args.work_dir, model, f"model.{dtype}.gguf")
            if not os.path.exists(gguf):
                sys.exit(f"missing {gguf}: run model_bench --write_only first")
            for threads in [int(t) for t in args.threads.split(",")]:
                load = os.getloadavg()[0]
                tandem, llama = [], []
                for _ in range(args.rounds):
                    tandem.append(run_tandem(args, gguf, dtype, threads))
                    llama.append(run_llama(args, gguf, dtype, threads))
                t, l = statistics.median(tandem), statistics.median(llama)
                row = {"model": model, "dtype": dtype, "threads": threads, "load": load,
                       "tandem_ms": tandem, "llama_ms": llama, "tandem_median_ms": t,
                       "llama_median_ms": l, "ratio": l / t}
                rows.append(row)
                fmt = lambda v: " ".join(f"{x:.2f}" for x in v)
                print(f"| {model} | {dtype} | {threads} | {load:.2f} | {t:.2f} ({fmt(tandem)}) | "
                      f"{l:.2f} ({fmt(llama)}) | {1e3 / t:.0f} | {1e3 / l:.0f} | {l / t:.2f}x |",
                      flush=True)
    if args.out:
        with open(args.out, "a") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
