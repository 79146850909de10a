"""Prints the load test's JSON lines (bench/load/run_load.sh) as a markdown table.

    /usr/bin/python3 bench/load/table.py bench/load/results/results.jsonl
"""
import json
import sys


def mib(kb):
    return "–" if kb is None or kb < 0 else f"{kb / 1024:.0f}"


def memory(entry):
    if entry.get("exited"):
        return f"{mib(entry['before']['rss_kb'])} → EXITED"
    return (f"{mib(entry['before']['rss_kb'])} → {mib(entry['peak_rss_kb'])} "
            f"→ {mib(entry['after']['rss_kb'])}")


def ttft_cell(r):
    ttft = r["ttft_ms"]
    cell = f"{ttft['p50']:.0f} / {ttft['p99']:.0f}"
    steady = r.get("ttft_steady_ms")
    if r.get("ramp_s", 0) > 0 and steady and steady["count"]:
        cell += f" (after {r['ramp_s']:.0f} s ramp: {steady['p50']:.0f} / {steady['p99']:.0f})"
    return cell


def row(r):
    lat, ttft, err = r["latency_ms"], r["ttft_ms"], r["error_latency_ms"]
    errors = ", ".join(f"{code} ×{e['count']}" for code, e in sorted(r["errors"].items())) or "0"
    err_lat = f"{err['p50']:.0f} / {err['p99']:.0f} / {err['max']:.0f}" if err["count"] else "–"
    mem = {m["name"]: memory(m) for m in r["memory"]}
    label = dict(kv.strip().split("=", 1) for kv in r["label"].split(";") if "=" in kv)
    return [
        label.get("max_sessions", "?"), str(r["streams"]), label.get("load1", "?"),
        f"{r['requests']} ({r['stopped_by']})", f"{r['ok']}", errors, f"{r['wall_s']:.1f}",
        f"{r['tokens_per_s']:.1f}", f"{r['requests_per_s']:.2f}",
        f"{lat['p50']:.0f} / {lat['p90']:.0f} / {lat['p99']:.0f} / {lat['max']:.0f}",
        ttft_cell(r), f"{r['mean_itl_ms']:.1f}",
        f"{r['acceptance_rate']:.2f}", f"{r.get('plain_round_share', 0):.2f}",
        str(r["fallbacks"]), err_lat,
        mem.get("target", "–"), mem.get("draft", "–"), mem.get("orchestrator", "–"),
    ]


HEADER = [
    "max_sessions", "streams", "load avg", "requests (stopped by)", "ok", "errors", "wall s",
    "tok/s", "req/s", "latency p50 / p90 / p99 / max ms", "TTFT p50 / p99 ms", "mean ITL ms",
    "acc. rate", "plain rounds", "fell back", "error latency p50 / p99 / max ms",
    "target RSS MiB before → peak → after", "draft RSS MiB", "orchestrator RSS MiB",
]


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: table.py results.jsonl")
    with open(sys.argv[1]) as f:
        rows = [row(json.loads(line)) for line in f if line.strip()]
    print("| " + " | ".join(HEADER) + " |")
    print("|" + "---|" * len(HEADER))
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
