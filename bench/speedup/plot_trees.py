#!/usr/bin/env python3
"""Speedup and tokens per round against token-tree size, from bench/speedup runs.

Reads the results.csv of runs made with --modes=draft,tree (one tree shape per run, named
tsz_<alternatives>_<depth>_<rep>.csv) and draws, per tree shape, the tree's speedup over
target-only next to the chain's from the same run (medians over repetitions), against the extra
verify rows the tree adds (alternatives x depth).

  python3 bench/speedup/plot_trees.py bench/speedup/results/trees_size_issue10 docs/images
"""
import argparse
import collections
import csv
import os
import re
import statistics

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", help="directory of tsz_<alternatives>_<depth>_<rep>.csv files")
    parser.add_argument("out", help="directory for speedup_tree_size.png")
    args = parser.parse_args()
    tree = collections.defaultdict(list)   # (a, d) -> [(speedup, tokens per round)]
    chain = collections.defaultdict(list)  # (a, d) -> chain speedups of the same runs
    for name in sorted(os.listdir(args.runs)):
        m = re.match(r"tsz_(\d+)_(\d+)_(\d+)\.csv$", name)
        if not m:
            continue
        shape = (int(m.group(1)), int(m.group(2)))
        with open(os.path.join(args.runs, name)) as f:
            for row in csv.DictReader(f):
                if row["phase"] != "sweep":
                    continue
                if row["mode"] == "tree":
                    tree[shape].append((float(row["speedup"]), float(row["mean_accepted_length"])))
                elif row["mode"] == "draft":
                    chain[shape].append(float(row["speedup"]))
    shapes = sorted(tree, key=lambda s: (s[0] * s[1], s))
    print("| alternatives | depth | extra rows | tree speedup | chain speedup (same runs) |"
          " tokens/round |")
    print("|---|---|---|---|---|---|")
    for a, d in shapes:
        print(f"| {a} | {d} | {a * d} | {statistics.median(x[0] for x in tree[(a, d)]):.2f} | "
              f"{statistics.median(chain[(a, d)]):.2f} | "
              f"{statistics.median(x[1] for x in tree[(a, d)]):.2f} |")
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for a in sorted({s[0] for s in shapes}):
        xs = [s[0] * s[1] for s in shapes if s[0] == a]
        left.plot(xs, [statistics.median(x[0] for x in tree[s]) for s in shapes if s[0] == a],
                  "o-", label=f"tree, {a} alternative(s) per position")
        right.plot(xs, [statistics.median(x[1] for x in tree[s]) for s in shapes if s[0] == a],
                   "o-", label=f"{a} alternative(s)")
    all_chain = [v for vs in chain.values() for v in vs]
    left.axhline(statistics.median(all_chain), color="k", linestyle="--",
                 label="chain (same runs, median)")
    left.axhline(1.0, color="grey", linestyle=":", label="target-only")
    left.set_xlabel("extra verify rows (alternatives x depth)")
    left.set_ylabel("speedup over target-only")
    left.set_title("gamma = 3, greedy, gRPC, bf16, 1 stream")
    left.legend(fontsize=8)
    right.set_xlabel("extra verify rows (alternatives x depth)")
    right.set_ylabel("tokens per round")
    right.set_title("tokens per target pass")
    right.legend(fontsize=8)
    fig.tight_layout()
    path = os.path.join(args.out, "speedup_tree_size.png")
    fig.savefig(path, dpi=110)
    print("wrote", path)


if __name__ == "__main__":
    main()
