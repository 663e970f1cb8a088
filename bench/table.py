#!/usr/bin/env python3
"""Medians table for bench/compare.sh: reads its results.jsonl, prints one Markdown table per pass.

Each cell is the median over rounds. "Tern lead" columns are Tern's advantage over the peer as a factor:
above 1.00 Tern is better (higher rate, or lower latency / memory), below 1.00 the peer is.
"""
import json
import statistics
import sys
from collections import defaultdict

# case -> [(label, higher_is_better, extractor(record) -> value or None)]
def run(r, *keys):
    v = r.get("run", {})
    for k in keys:
        if not isinstance(v, dict) or k not in v:
            return None
        v = v[k]
    return v


def rss_mib(r):
    return r["peak_rss_kib"] / 1024 if r.get("peak_rss_kib") else None


def rss_per_conn(r):
    n = run(r, "connected")
    if not n:
        return None
    return max(0, r["peak_rss_kib"] - r["base_rss_kib"]) * 1024 / n


METRICS = {
    "tp-q0": [("max sustained pub/s (4→4, QoS 0)", True, lambda r: run(r, "target_rate")),
              ("p99 µs at that rate", False, lambda r: run(r, "latency_us", "p99")),
              ("peak RSS MiB", False, rss_mib)],
    "tp-q1": [("max sustained pub/s (4→4, QoS 1, window 100)", True, lambda r: run(r, "target_rate")),
              ("p99 µs at that rate", False, lambda r: run(r, "latency_us", "p99")),
              ("peak RSS MiB", False, rss_mib)],
    "flood": [("unthrottled deliveries/s (4→4)", True, lambda r: run(r, "delivery_rate")),
              ("unthrottled p50 µs", False, lambda r: run(r, "latency_us", "p50")),
              ("unthrottled peak RSS MiB", False, rss_mib)],
    "fanout": [("fan-out 1→500 deliveries/s", True, lambda r: run(r, "delivery_rate")),
               ("fan-out p99 µs", False, lambda r: run(r, "latency_us", "p99")),
               ("fan-out peak RSS MiB", False, rss_mib)],
    "fanin": [("fan-in 500→1 deliveries/s", True, lambda r: run(r, "delivery_rate")),
              ("fan-in peak RSS MiB", False, rss_mib)],
    "latency": [("1→1 @1000/s p50 µs", False, lambda r: run(r, "latency_us", "p50")),
                ("1→1 @1000/s p99 µs", False, lambda r: run(r, "latency_us", "p99"))],
    "latency20k": [("1→1 @20000/s p50 µs", False, lambda r: run(r, "latency_us", "p50")),
                   ("1→1 @20000/s p99 µs", False, lambda r: run(r, "latency_us", "p99"))],
    "conn": [("connect rate /s", True, lambda r: run(r, "connect_rate")),
             ("RSS per connection bytes", False, rss_per_conn)],
}
ORDER = ["tern", "mosquitto", "rumqttd"]


def fmt(v):
    if v is None:
        return "—"
    if v >= 100:
        return f"{v:,.0f}"
    return f"{v:.2f}"


def main(path):
    recs = [json.loads(line) for line in open(path) if line.strip()]
    by = defaultdict(list)
    notes = defaultdict(set)
    for r in recs:
        by[(r["mode"], r["case"], r["broker"])].append(r)
        if run(r, "failed"):
            notes[(r["mode"], r["case"], r["broker"])].add("failed run(s)")
        if run(r, "tool_limited"):
            notes[(r["mode"], r["case"], r["broker"])].add("tool CPU-bound")
        if run(r, "errors"):
            notes[(r["mode"], r["case"], r["broker"])].add("errors")
    brokers = [b for b in ORDER if any(k[2] == b for k in by)]
    peers = [b for b in brokers if b != "tern"]
    for mode in ["pinned", "unpinned"]:
        cases = [c for c in METRICS if any(k[0] == mode and k[1] == c for k in by)]
        if not cases:
            continue
        rounds = max(len(v) for k, v in by.items() if k[0] == mode)
        print(f"\n### {mode} (medians of {rounds} round(s))\n")
        print("| metric | " + " | ".join(brokers) + " | " + " | ".join(f"Tern lead vs {p}" for p in peers) + " |")
        print("|---" * (1 + len(brokers) + len(peers)) + "|")
        for case in cases:
            for label, higher, get in METRICS[case]:
                med = {}
                for b in brokers:
                    vals = [v for v in (get(r) for r in by.get((mode, case, b), [])) if v is not None]
                    med[b] = statistics.median(vals) if vals else None
                leads = []
                for p in peers:
                    t, o = med.get("tern"), med.get(p)
                    if not t or not o:
                        leads.append("—")
                    else:
                        leads.append(f"{(t / o) if higher else (o / t):.2f}×")
                cells = [fmt(med[b]) for b in brokers]
                print(f"| {label} | " + " | ".join(cells) + " | " + " | ".join(leads) + " |")
        flagged = [(k, n) for k, n in notes.items() if k[0] == mode]
        for (m, c, b), n in sorted(flagged):
            print(f"\nnote: {c} / {b}: {', '.join(sorted(n))}", end="")
        print()


if __name__ == "__main__":
    main(sys.argv[1])
