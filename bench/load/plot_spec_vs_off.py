#!/usr/bin/env python3
"""Charts for "speculation vs target-only under load" (docs/benchmarks.md).

Reads run_load.sh results.jsonl files named <condition>_<config>.<rep>.jsonl (condition: quiet |
busy; config: off | new), takes the median over repetitions per (condition, config, streams) and
writes two PNGs into OUT_DIR:
  <prefix>tokps.png  aggregate tok/s vs concurrent streams, target-only and speculative, both
                     conditions (a point per repetition, a line through the medians);
  <prefix>ttft.png   TTFT p50 / p99 vs streams, same runs.

  /usr/bin/python3 bench/load/plot_spec_vs_off.py bench/load/results/spec_vs_off_stop24 docs/images \
      --prefix=load_spec_vs_off_
"""
import argparse
import collections
import json
import os
import re
import statistics

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

NAME = re.compile(r"^(?:ab\d+_)?(?P<cond>[a-z]+)_(?P<cfg>[a-z]+)\.(?P<rep>\d+)\.jsonl$")
LABEL = {"off": "target-only", "new": "speculative (draft, adaptive)"}
STYLE = {("quiet", "off"): ("tab:blue", "-"), ("quiet", "new"): ("tab:orange", "-"),
         ("busy", "off"): ("tab:blue", "--"), ("busy", "new"): ("tab:orange", "--")}


def load(folder):
  runs = collections.defaultdict(list)  # (cond, cfg, streams) -> [row]
  for name in sorted(os.listdir(folder)):
    m = NAME.match(name)
    if not m:
      continue
    with open(os.path.join(folder, name)) as f:
      for line in f:
        row = json.loads(line)
        runs[(m["cond"], m["cfg"], row["streams"])].append(row)
  if not runs:
    raise SystemExit(f"no <condition>_<config>.<rep>.jsonl files in {folder}")
  return runs


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument("folder")
  ap.add_argument("out_dir")
  ap.add_argument("--prefix", default="load_spec_vs_off_")
  a = ap.parse_args()
  runs = load(a.folder)
  keys = sorted({(c, g) for c, g, _ in runs})
  os.makedirs(a.out_dir, exist_ok=True)

  fig, ax = plt.subplots(figsize=(7, 4.5))
  for cond, cfg in keys:
    streams = sorted(s for c, g, s in runs if (c, g) == (cond, cfg))
    color, dash = STYLE.get((cond, cfg), ("gray", ":"))
    med = [statistics.median(r["tokens_per_s"] for r in runs[(cond, cfg, s)]) for s in streams]
    ax.plot(streams, med, dash, color=color, marker="o",
            label=f"{LABEL.get(cfg, cfg)}, {'one core busy' if cond == 'busy' else 'no extra load'}")
    for s in streams:
      ys = [r["tokens_per_s"] for r in runs[(cond, cfg, s)]]
      ax.scatter([s] * len(ys), ys, color=color, s=8, alpha=0.4)
  ax.set_xscale("log", base=2)
  ax.set_xlabel("concurrent streams")
  ax.set_ylabel("aggregate tok/s (median of repetitions)")
  ax.set_title("Shipped pair, bf16, 64 new tokens, gRPC (bench/load)")
  ax.grid(alpha=0.3)
  ax.legend(fontsize=8)
  fig.tight_layout()
  fig.savefig(os.path.join(a.out_dir, a.prefix + "tokps.png"), dpi=110)

  fig, ax = plt.subplots(figsize=(7, 4.5))
  for cond, cfg in keys:
    if cond != "quiet":
      continue
    streams = sorted(s for c, g, s in runs if (c, g) == (cond, cfg))
    color, _ = STYLE.get((cond, cfg), ("gray", ":"))
    for pct, dash in (("p50", "-"), ("p99", ":")):
      med = [statistics.median(r["ttft_ms"][pct] for r in runs[(cond, cfg, s)]) for s in streams]
      ax.plot(streams, med, dash, color=color, marker="o", label=f"{LABEL.get(cfg, cfg)} {pct}")
  ax.set_xscale("log", base=2)
  ax.set_yscale("log")
  ax.set_xlabel("concurrent streams")
  ax.set_ylabel("time to first token, ms (median of repetitions)")
  ax.set_title("TTFT percentiles, same runs (no extra load)")
  ax.grid(alpha=0.3, which="both")
  ax.legend(fontsize=8)
  fig.tight_layout()
  fig.savefig(os.path.join(a.out_dir, a.prefix + "ttft.png"), dpi=110)


if __name__ == "__main__":
  main()
