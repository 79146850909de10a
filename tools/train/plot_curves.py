#!/usr/bin/python3
"""Plots the loss curves in assets/training_metrics.json to docs/images/training_loss.png.
  /usr/bin/python3 tools/train/plot_curves.py [assets/training_metrics.json] [docs/images/training_loss.png]
Needs python3-matplotlib."""
import json
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def series(curve, key):
    pts = [(c["tokens"] / 1e6, c[key]) for c in curve if key in c]
    return [p[0] for p in pts], [p[1] for p in pts]


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "assets/training_metrics.json"
    dst = sys.argv[2] if len(sys.argv) > 2 else "docs/images/training_loss.png"
    m = json.load(open(src))
    s, o, f = m["shipped"], m["other_target_candidate"], m["first_attempt"]
    fig, ax = plt.subplots(1, 3, figsize=(17, 5))
    a = ax[0]
    d = s["target_run_args"]["dropout"]
    a.plot(*series(s["target_curve"], "train_ce"), color="tab:blue", alpha=0.35, label="shipped target: train CE")
    a.plot(*series(s["target_curve"], "val_ce"), color="tab:blue", lw=2, label="shipped target: val CE (dropout %.1f)" % d)
    a.plot(*series(s["target_curve"], "val_ee_ce"), color="tab:blue", ls="--", label="shipped target: val CE, early exit (layer %d)" % s["eval"]["early_exit_layer"])
    a.plot(*series(o["target_curve"], "val_ce"), color="tab:orange", lw=1.5, label="other candidate: val CE (dropout %.1f)" % o["args"]["dropout"])
    a.set_title("Stage 1: target (23.0M params), cosine to the end")
    a = ax[1]
    a.plot(*series(s["draft_curve"], "train_ce"), color="tab:green", alpha=0.35, label="draft: train CE")
    kl = series(s["draft_curve"], "train_kl")
    if len(kl[0]) > 2:  # (the shipped run logged it only at step 1)
        a.plot(*kl, color="tab:red", alpha=0.5, label="draft: train KL(target||draft)")
    a.plot(*series(s["draft_curve"], "val_ce"), color="tab:green", lw=2, label="draft: val CE")
    a.axhline(s["eval"]["target_val_ce"], color="tab:blue", ls=":", label="target: val CE")
    a.set_title("Stage 2: draft (2.29M params) distilled from the target")
    a = ax[2]
    for k, col in (("a", "tab:purple"), ("b", "tab:brown")):
        r = f[k]
        a.plot(*series(r["target_curve"], "train_ce"), color=col, alpha=0.3)
        a.plot(*series(r["target_curve"], "val_ce"), color=col, lw=2,
               label="first attempt %s: val CE (%d steps, dropout %.1f)" % (k, r["args"]["target_steps"], r["args"]["dropout"]))
    a.plot(*series(s["target_curve"], "val_ce"), color="tab:blue", lw=1, label="shipped target: val CE")
    a.set_title("First attempt: longer schedules overfit after ~8 epochs")
    for a in ax:
        a.set_xlabel("training tokens (millions; 3.39M per epoch)")
        a.set_ylabel("cross-entropy (nats/token)")
        a.set_ylim(2.6, 5.5)
        a.grid(alpha=0.3)
        a.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(dst, dpi=110)
    print("wrote", dst)


if __name__ == "__main__":
    main()
