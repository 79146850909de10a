#!/usr/bin/python3
"""Markdown tables from the speedup benchmark's results.json.

    /usr/bin/python3 bench/speedup/table.py /tmp/tandem_speedup/results.json
"""

import json
import sys


def fmt(x, nd=2):
    return f"{x:.{nd}f}"


def gamma_label(r):
    if r["mode"] == "target":
        return "–"
    return "adaptive" if r["adaptive"] else str(r["gamma"])


def leviathan(a, g, c):
    e = g + 1 if a >= 1 else (1 - a ** (g + 1)) / (1 - a)
    return e / (g * c + 1)


def in_situ_prediction(r, baseline_round_ms):
    """E(α, γ) / (round time / target-only round time): Leviathan's formula
    with the costs the loop actually paid (draft, verify, RPC, overhead)."""
    a, g = r["alpha"], r["mean_gamma"]
    e = g + 1 if a >= 1 else (1 - a ** (g + 1)) / (1 - a)
    return e * baseline_round_ms / r["round_total_ms"] if r["round_total_ms"] else 0


def main():
    data = json.load(open(sys.argv[1]))
    res = data["results"]
    m = data["micro"]
    print("### Direct forward timings (context %d tokens)\n" % m["context"])
    print("| tokens k | target full (ms) | k/1 ratio | target early exit L%d (ms) | draft (ms) |" % m["exit_layer"])
    print("|---|---|---|---|---|")
    for k, t in enumerate(m["target_forward_ms"], 1):
        e = m["exit_forward_ms"][k - 1] if m["exit_forward_ms"] else 0
        print(f"| {k} | {fmt(t)} | {fmt(m['verify_ratio'][k - 1])} | {fmt(e)} | {fmt(m['draft_forward_ms'][k - 1], 3)} |")
    print(f"\nc (draft model) = {fmt(m['c_draft'], 3)}, c (early exit) = {fmt(m['c_self'], 3)}; "
          f"TokenSelector::Select, 1 row / {m['select_rows']} rows: greedy {fmt(m['select_greedy_1_ms'], 3)} / "
          f"{fmt(m['select_greedy_k_ms'], 3)} ms, T=0.8 top-p 0.95 {fmt(m['select_sampled_1_ms'], 3)} / "
          f"{fmt(m['select_sampled_k_ms'], 3)} ms\n")

    # Baseline round time per (transport, sampling) for the in-situ prediction.
    base_round = {}
    for r in res:
        if r["mode"] == "target" and r["phase"] in ("sweep", "baseline"):
            base_round.setdefault((r["transport"], r["sampling"]), []).append(r["round_total_ms"])
    base_round = {k: sum(v) / len(v) for k, v in base_round.items()}

    print("### Sweep (1 stream)\n")
    print("| transport | sampling | mode | γ | tok/s | speedup | accept rate | mean acc. len | α | c direct | c in situ | verify ratio | Leviathan | refined | Lev. (c in situ) | in-situ | meas/Lev | TTFT p50 ms | ITL p50 / p99 ms |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in res:
        if r["phase"] not in ("sweep",):
            continue
        ins = in_situ_prediction(r, base_round.get((r["transport"], r["sampling"]), 0)) if r["mode"] != "target" else 1
        print(f"| {r['transport']} | {r['sampling']} | {r['mode']} | {gamma_label(r)} | {fmt(r['tok_s'], 1)} | "
              f"**{fmt(r['speedup'])}** | {fmt(r['acceptance_rate'])} | {fmt(r['mean_accepted_length'])} | "
              f"{fmt(r['alpha'])} | {fmt(r['c_direct'], 3)} | {fmt(r['c_step_stats'], 3)} | {fmt(r['verify_ratio'])} | "
              f"{fmt(r['pred_leviathan'])} | {fmt(r['pred_refined'])} | "
              f"{fmt(leviathan(r['alpha'], r['mean_gamma'], r['c_step_stats']) if r['mode'] != 'target' else 1)} | {fmt(ins)} | "
              f"{fmt(r['measured_over_leviathan'])} | {fmt(r['ttft_ms_p50'], 1)} | "
              f"{fmt(r['itl_ms_p50'], 1)} / {fmt(r['itl_ms_p99'], 1)} |")

    print("\n### Best fixed γ per mode (1 stream)\n")
    print("| transport | sampling | mode | best γ | tok/s | speedup | α | mean acc. len | c direct | c in situ | verify ratio | Leviathan | refined | Lev. (c in situ) | measured / Leviathan |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    best = {}
    for r in res:
        if r["phase"] != "sweep" or r["mode"] == "target" or r["adaptive"]:
            continue
        k = (r["transport"], r["sampling"], r["mode"])
        if k not in best or r["speedup"] > best[k]["speedup"]:
            best[k] = r
    for k in sorted(best):
        r = best[k]
        print(f"| {k[0]} | {k[1]} | {k[2]} | {r['gamma']} | {fmt(r['tok_s'], 1)} | **{fmt(r['speedup'])}** | "
              f"{fmt(r['alpha'])} | {fmt(r['mean_accepted_length'])} | {fmt(r['c_direct'], 3)} | {fmt(r['c_step_stats'], 3)} | "
              f"{fmt(r['verify_ratio'])} | {fmt(r['pred_leviathan'])} | "
              f"{fmt(r['pred_refined'])} | {fmt(leviathan(r['alpha'], r['mean_gamma'], r['c_step_stats']))} | "
              f"{fmt(r['measured_over_leviathan'])} |")

    print("\n### Where the time goes per round (ms; 1 stream)\n")
    print("| transport | sampling | mode | γ | round total | draft call | draft server | verify call | verify server | forward est. (γ+1 tokens) | RPC (call − server) | loop/other | tokens/round |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in res:
        if r["phase"] != "sweep" or r["adaptive"]:
            continue
        if r["mode"] != "target" and r["gamma"] not in (best.get((r["transport"], r["sampling"], r["mode"]), {}).get("gamma"), 8):
            continue
        print(f"| {r['transport']} | {r['sampling']} | {r['mode']} | {gamma_label(r)} | {fmt(r['round_total_ms'])} | "
              f"{fmt(r['round_draft_ms'])} | {fmt(r['round_draft_server_ms'])} | {fmt(r['round_verify_ms'])} | "
              f"{fmt(r['round_verify_server_ms'])} | {fmt(r['round_verify_forward_est_ms'])} | {fmt(r['round_rpc_ms'])} | "
              f"{fmt(r['round_loop_ms'])} | {fmt(r['tokens_per_round'])} |")

    conc = [r for r in res if r["phase"] == "concurrency"]
    if conc:
        print("\n### Concurrency (greedy)\n")
        print("| transport | streams | mode | γ | aggregate tok/s | per-stream tok/s | speedup | mean acc. len | TTFT p50 ms | ITL p50 / p99 ms |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for r in conc:
            print(f"| {r['transport']} | {r['concurrency']} | {r['mode']} | {gamma_label(r)} | {fmt(r['tok_s'], 1)} | "
                  f"{fmt(r['per_stream_tok_s'], 1)} | {fmt(r['speedup'])} | {fmt(r['mean_accepted_length'])} | "
                  f"{fmt(r['ttft_ms_p50'], 1)} | {fmt(r['itl_ms_p50'], 1)} / {fmt(r['itl_ms_p99'], 1)} |")

    print("\n### Target-only runs (noise)\n")
    for k, v in data.get("target_only_runs", {}).items():
        print(f"- {k}: " + ", ".join(fmt(x, 1) for x in v["target_only_tok_s"]) +
              f" tok/s (CV {fmt(100 * v['cv'], 1)}%)")


if __name__ == "__main__":
    main()
