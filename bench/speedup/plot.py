#!/usr/bin/python3
"""Charts for the speedup benchmark (bench/speedup).

    /usr/bin/python3 bench/speedup/plot.py /tmp/tandem_speedup/results.json docs/images

Writes speedup_vs_gamma.png, speedup_per_position.png,
speedup_concurrency.png and speedup_time_split.png (prefix with --prefix). Needs matplotlib (Debian's
python3-matplotlib; call /usr/bin/python3 when a pyenv python3 is on PATH).
"""

import argparse
import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

MODE_NAMES = {"draft": "draft model (pipelined)", "draft-seq": "draft model (sequential)",
              "self": "self-spec (early exit)", "ngram": "n-gram lookup"}
MODE_COLORS = {"draft": "tab:blue", "draft-seq": "tab:purple", "self": "tab:orange",
               "ngram": "tab:green", "target": "black"}
MODES = ("draft", "draft-seq", "self", "ngram")


def sweep_rows(results, **match):
    out = []
    for r in results:
        if r["phase"] not in ("sweep",) or r["concurrency"] != 1:
            continue
        if all(r[k] == v for k, v in match.items()):
            out.append(r)
    return out


def plot_speedup_vs_gamma(data, path):
    results = data["results"]
    samplings = [s for s in ("greedy", "sampled") if any(r["sampling"] == s for r in results)]
    fig, axes = plt.subplots(1, len(samplings), figsize=(6.5 * len(samplings), 4.6), squeeze=False)
    for ax, sampling in zip(axes[0], samplings):
        for mode in MODES:
            for transport, style in (("grpc", "-"), ("local", ":")):
                rows = [r for r in sweep_rows(results, mode=mode, sampling=sampling, transport=transport)
                        if not r["adaptive"]]
                if not rows:
                    continue
                rows.sort(key=lambda r: r["gamma"])
                xs = [r["gamma"] for r in rows]
                ax.plot(xs, [r["speedup"] for r in rows], style, marker="o", ms=4,
                        color=MODE_COLORS[mode], label=f"{MODE_NAMES[mode]}, {transport}")
                if transport == "grpc":
                    ax.plot(xs, [r["pred_leviathan"] for r in rows], "--", lw=1,
                            color=MODE_COLORS[mode], alpha=0.5)
                    ax.plot(xs, [r["pred_refined"] for r in rows], "-.", lw=1,
                            color=MODE_COLORS[mode], alpha=0.5)
                ad = [r for r in sweep_rows(results, mode=mode, sampling=sampling, transport=transport)
                      if r["adaptive"]]
                if ad:
                    ax.scatter([max(xs) + 0.8], [ad[0]["speedup"]], marker="*" if transport == "grpc" else "x",
                               s=80, color=MODE_COLORS[mode])
        ax.axhline(1.0, color="black", lw=0.8)
        ax.axhline(2.0, color="gray", lw=0.6, ls="--")
        ax.set_xlabel("draft length γ   (★/x at right: adaptive, gRPC/local)")
        ax.set_ylabel("speedup over target-only (same transport)")
        ax.set_title(f"{sampling}: measured (solid gRPC, dotted in-process);\n"
                     "Leviathan prediction -- , refined with verify cost -.", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_per_position(data, path):
    results = data["results"]
    max_gamma = max(data["options"]["gammas"])
    samplings = [s for s in ("greedy", "sampled") if any(r["sampling"] == s for r in results)]
    fig, axes = plt.subplots(1, len(samplings), figsize=(6.5 * len(samplings), 4.4), squeeze=False)
    for ax, sampling in zip(axes[0], samplings):
        for mode in MODES:
            rows = [r for r in sweep_rows(results, mode=mode, sampling=sampling, gamma=max_gamma)
                    if not r["adaptive"]]
            rows.sort(key=lambda r: r["transport"] != "grpc")
            if not rows:
                continue
            r = rows[0]
            pos = list(range(1, len(r["acceptance_at"]) + 1))
            ax.plot(pos, r["acceptance_at"], marker="o", color=MODE_COLORS[mode],
                    label=f"{MODE_NAMES[mode]}: P(accepted up to i), α={r['alpha']:.2f}")
            ax.plot(pos, r["conditional_acceptance_at"], marker="s", ls=":", color=MODE_COLORS[mode],
                    label=f"{MODE_NAMES[mode]}: P(accept i | reached i)")
            ax.plot(pos, [r["alpha"] ** i for i in pos], ls="--", lw=1, color=MODE_COLORS[mode], alpha=0.5)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("draft position i")
        ax.set_ylabel("acceptance")
        ax.set_title(f"{sampling}, γ = {max_gamma} (dashed: α^i, iid model)", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_concurrency(data, path):
    rows = [r for r in data["results"] if r["phase"] == "concurrency"]
    if not rows:
        return False
    transports = [t for t in ("grpc", "local") if any(r["transport"] == t for r in rows)]
    fig, axes = plt.subplots(1, len(transports), figsize=(6.5 * len(transports), 4.4), squeeze=False)
    gammas = data.get("concurrency_gamma", {})
    for ax, transport in zip(axes[0], transports):
        for mode in ("target",) + MODES:
            sel = [r for r in rows if r["transport"] == transport and r["mode"] == mode
                   and not r["adaptive"]]
            if not sel:
                continue
            levels = sorted({r["concurrency"] for r in sel})
            agg = [sum(r["tok_s"] for r in sel if r["concurrency"] == c) /
                   sum(1 for r in sel if r["concurrency"] == c) for c in levels]
            per = [sum(r["per_stream_tok_s"] for r in sel if r["concurrency"] == c) /
                   sum(1 for r in sel if r["concurrency"] == c) for c in levels]
            name = "target-only" if mode == "target" else f"{MODE_NAMES[mode]} γ={gammas.get(mode, '?')}"
            ax.plot(levels, agg, marker="o", color=MODE_COLORS[mode], label=f"{name}: aggregate")
            ax.plot(levels, per, marker="s", ls=":", color=MODE_COLORS[mode], label=f"{name}: per stream")
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted({r["concurrency"] for r in rows}))
        ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.set_xlabel("concurrent streams")
        ax.set_ylabel("tokens/s")
        ax.set_title(f"greedy, {transport}", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def plot_time_split(data, path):
    """Stacked per-round time (exposed draft, verify in the server, RPC) for
    target-only and each mode's rows at every γ, gRPC greedy, 1 stream:
    pipelined vs sequential drafting side by side."""
    rows = [r for r in sweep_rows(data["results"], transport="grpc", sampling="greedy")
            if not r["adaptive"] and r["mode"] in ("target", "draft", "draft-seq")]
    if not rows:
        return False
    target = [r for r in rows if r["mode"] == "target"][:1]
    gammas = sorted({r["gamma"] for r in rows if r["mode"] != "target"})
    bars, labels = [], []
    for r in target:
        bars.append(r)
        labels.append("target-only")
    for g in gammas:
        for mode in ("draft-seq", "draft"):
            sel = [r for r in rows if r["mode"] == mode and r["gamma"] == g]
            if sel:
                bars.append(sel[0])
                labels.append(f"γ={g}\n{'pipe' if mode == 'draft' else 'seq'}")
    fig, ax = plt.subplots(figsize=(max(6.5, 0.7 * len(bars)), 4.4))
    xs = range(len(bars))
    draft = [r["round_draft_ms"] for r in bars]
    verify = [r["round_verify_server_ms"] for r in bars]
    rpc = [max(0.0, r["round_total_ms"] - r["round_draft_ms"] - r["round_verify_server_ms"]) for r in bars]
    ax.bar(xs, draft, color="tab:blue", label="drafting waited for (exposed)")
    ax.bar(xs, verify, bottom=draft, color="tab:gray", label="verify (target server)")
    ax.bar(xs, rpc, bottom=[a + b for a, b in zip(draft, verify)], color="tab:red", alpha=0.6,
           label="RPC + loop")
    for x, r in zip(xs, bars):
        ax.text(x, r["round_total_ms"] + 0.05, f"{r['mean_accepted_length']:.2f}\ntok", ha="center",
                fontsize=6)
    ax.set_xticks(list(xs))
    ax.set_xticklabels(labels, fontsize=7)
    ax.set_ylabel("ms per round")
    ax.set_title("gRPC, greedy, 1 stream: where a round's time goes (tokens per round on top)", fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", help="results.json written by //bench/speedup")
    parser.add_argument("outdir", help="directory for the PNGs")
    parser.add_argument("--prefix", default="speedup_")
    args = parser.parse_args()
    with open(args.results) as f:
        data = json.load(f)
    os.makedirs(args.outdir, exist_ok=True)
    written = []
    p = os.path.join(args.outdir, args.prefix + "vs_gamma.png")
    plot_speedup_vs_gamma(data, p)
    written.append(p)
    p = os.path.join(args.outdir, args.prefix + "per_position.png")
    plot_per_position(data, p)
    written.append(p)
    p = os.path.join(args.outdir, args.prefix + "concurrency.png")
    if plot_concurrency(data, p):
        written.append(p)
    p = os.path.join(args.outdir, args.prefix + "time_split.png")
    if plot_time_split(data, p):
        written.append(p)
    for w in written:
        print("wrote", w)


if __name__ == "__main__":
    main()
