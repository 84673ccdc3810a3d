#!/usr/bin/env python3
"""The figures of bench/compare.sh: per configuration and metric the median over rounds with
its spread (p25-p75 and min-max), the paired ratios between configurations (the median of
per-round ratios, each between measurements taken moments apart in the same round), and the
goals checked. bench/report.py imports it; run alone it prints the tables as text.

  analyze.py RESULTS NOTES
"""

import statistics
import sys

# (metric, key, label, unit, lower is better)
FIGURES = [
    ("rr", "p50_us", "TCP_RR p50", "us", True),
    ("rr", "p99_us", "TCP_RR p99", "us", True),
    ("crr", "p50_us", "TCP_CRR p50", "us", True),
    ("crr", "p99_us", "TCP_CRR p99", "us", True),
    ("crr", "connections_per_sec", "TCP_CRR connections/s", "/s", False),
    ("tput", "gbit_per_sec", "throughput", "Gbit/s", False),
    ("http", "requests_per_sec", "HTTP requests/s", "/s", False),
    ("http", "p50_us", "HTTP p50", "us", True),
    ("http", "p99_us", "HTTP p99", "us", True),
    ("rr", "cpu_us_per_op", "CPU per TCP_RR transaction", "us", True),
    ("crr", "cpu_us_per_op", "CPU per TCP_CRR connection", "us", True),
    ("http", "cpu_us_per_op", "CPU per HTTP request", "us", True),
]
LATENCY_FIGURES = [f for f in FIGURES if f[3] == "us" and not f[1].startswith("cpu")]


def load(path):
    """{(config, metric): {round: {key: value}}} and the configurations in first-seen order."""
    runs, order = {}, []
    for line in open(path):
        fields = line.split()
        if len(fields) < 4:
            continue
        config, round_, metric = fields[0], int(fields[1]), fields[2]
        if config not in order:
            order.append(config)
        values = {k: float(v) for k, v in (pair.split("=", 1) for pair in fields[3:])}
        runs.setdefault((config, metric), {})[round_] = values
    return runs, order


def load_notes(path):
    notes = {}
    for line in open(path):
        key, sep, value = line.rstrip("\n").partition("=")
        if sep:
            notes[key] = value
    return notes


def quantile(values, q):
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def spread(values):
    return {"median": statistics.median(values), "p25": quantile(values, 0.25),
            "p75": quantile(values, 0.75), "min": min(values), "max": max(values),
            "n": len(values)}


class Figures:
    def __init__(self, results, notes):
        self.runs, self.configs = load(results)
        self.notes = load_notes(notes)

    def values(self, config, metric, key):
        rounds = self.runs.get((config, metric), {})
        return [v[key] for _, v in sorted(rounds.items()) if key in v]

    def stat(self, config, metric, key):
        values = self.values(config, metric, key)
        return spread(values) if values else None

    def ratio(self, config, base, metric, key):
        """Per-round config/base, paired by round: its spread, or None."""
        a = self.runs.get((config, metric), {})
        b = self.runs.get((base, metric), {})
        ratios = [a[r][key] / b[r][key] for r in sorted(set(a) & set(b))
                  if key in a[r] and key in b[r] and b[r][key] > 0]
        return spread(ratios) if ratios else None

    def has(self, config):
        return config in self.configs

    def largest(self, prefix):
        """The configuration prefix-N with the largest N, or None."""
        found = [(int(c[len(prefix):]), c) for c in self.configs
                 if c.startswith(prefix) and c[len(prefix):].isdigit()]
        return max(found)[1] if found else None

    def weir_many(self):
        many = [c for c in self.configs if c.startswith("weir-") and c.endswith("svc")]
        return many[0] if many else None


def percent(ratio):
    return f"{(ratio - 1) * 100:+.1f}%"


def goals(f):
    """[(goal, verdict, detail)]: verdict is 'met', 'MISSED' or 'not measured'."""
    out = []
    # 1. weir within 5% of plain on TCP_RR p50.
    r = f.ratio("weir", "plain", "rr", "p50_us")
    if r:
        out.append(("weir TCP_RR p50 within 5% of plain veths",
                    "met" if r["median"] <= 1.05 else "MISSED",
                    f"weir/plain {r['median']:.3f} ({percent(r['median'])}; per-round "
                    f"{r['min']:.3f}-{r['max']:.3f})"))
    # 2. flat across Service counts: weir with many Services vs weir with one (latency).
    many = f.weir_many()
    if many:
        parts, worst = [], 0.0
        for metric, key, label in (("rr", "p50_us", "TCP_RR p50"), ("crr", "p50_us", "TCP_CRR p50"),
                                   ("http", "requests_per_sec", "HTTP req/s")):
            r = f.ratio(many, "weir", metric, key)
            if r:
                if key.endswith("_us"):
                    worst = max(worst, r["median"])
                parts.append(f"{label} {r['median']:.3f}")
        kube = f.largest("kube-proxy-")
        contrast = ""
        if kube and f.has("kube-proxy-1"):
            r = f.ratio(kube, "kube-proxy-1", "crr", "p50_us")
            if r:
                contrast = f"; for contrast {kube}/kube-proxy-1 TCP_CRR p50 {r['median']:.3f}"
        out.append((f"flat across Service counts: TCP_RR and TCP_CRR p50 with {many[5:-3]} "
                    "Services within 5% of 1",
                    "met" if worst <= 1.05 else "MISSED",
                    f"{many}/weir: " + ", ".join(parts) + contrast))
    # 3./4. ahead of iptables policy at the most rules and of the proxy hops, every latency figure.
    rivals = [c for c in (f.largest("iptables-"), "haproxy", "nginx-proxy") if c and f.has(c)]
    for rival in rivals:
        behind, parts = [], []
        for metric, key, label, _, _ in LATENCY_FIGURES:
            r = f.ratio("weir", rival, metric, key)
            if not r:
                continue
            parts.append(f"{label} {r['median']:.3f}")
            if r["median"] >= 1.0:
                off = f.ratio("weir-events-off", rival, metric, key)
                behind.append(f"{label} ({percent(r['median'])}"
                              + (f"; with events off {off['median']:.3f}" if off else "") + ")")
        if not parts:
            continue
        out.append((f"ahead of {rival} on every latency figure",
                    "met" if not behind else "MISSED",
                    f"weir/{rival}: " + ", ".join(parts)
                    + (f"; not ahead on {', '.join(behind)}" if behind else "")))
    # 5. events overhead under 3%.
    if f.has("weir-events-off"):
        parts, worst = [], 0.0
        for metric, key, label in (("rr", "p50_us", "TCP_RR p50"), ("crr", "p50_us", "TCP_CRR p50"),
                                   ("http", "requests_per_sec", "HTTP req/s")):
            r = f.ratio("weir", "weir-events-off", metric, key)
            if r:
                overhead = r["median"] if key.endswith("_us") else 1 / r["median"]
                worst = max(worst, overhead) if metric != "crr" else worst
                parts.append(f"{label} on/off {r['median']:.3f} (per-round {r['min']:.3f}-"
                             f"{r['max']:.3f})")
        cpu = []
        for metric, label in (("crr", "per new connection"), ("http", "per HTTP request")):
            r = f.ratio("weir", "weir-events-off", metric, "cpu_us_per_op")
            if r:
                cpu.append(f"{label} {r['median']:.2f}x")
        if cpu:
            parts.append("CPU time on/off (the agent logging the events included): "
                         + ", ".join(cpu))
        out.append(("flow and HTTP events cost under 3% (TCP_RR p50, HTTP req/s)",
                    "met" if worst <= 1.03 else "MISSED", "; ".join(parts)))
    else:
        out.append(("flow and HTTP events cost under 3%", "not measured",
                    f.notes.get("events", "no events-off configuration ran")))
    # 6. L7 under 5% below L4.
    if f.has("weir-l7"):
        r = f.ratio("weir-l7", "weir", "http", "requests_per_sec")
        p50 = f.ratio("weir-l7", "weir", "http", "p50_us")
        out.append(("L7 policy (GET /hello) under 5% below L4-only in HTTP requests/s",
                    "met" if r and r["median"] >= 0.95 else "MISSED",
                    f"weir-l7/weir requests/s {r['median']:.3f} (per-round {r['min']:.3f}-"
                    f"{r['max']:.3f}), p50 latency {p50['median']:.3f}" if r and p50 else "-"))
    else:
        out.append(("L7 policy under 5% below L4-only", "not measured",
                    f.notes.get("l7", "no L7 configuration ran")))
    return out


def fmt(value, unit):
    if value is None:
        return "-"
    if unit == "Gbit/s":
        return f"{value:.2f}"
    if unit == "/s":
        return f"{value:.0f}"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def text_report(f):
    lines = []
    width = max(len(c) for c in f.configs) + 2
    for metric, key, label, unit, _ in FIGURES:
        rows = [(c, f.stat(c, metric, key), f.ratio(c, "plain", metric, key)) for c in f.configs]
        rows = [row for row in rows if row[1]]
        if not rows:
            continue
        lines.append(f"{label} ({unit}): median [p25-p75] over rounds, x plain (paired median)")
        for config, s, r in rows:
            ratio = f"{r['median']:.3f}" if r else "-"
            lines.append(f"  {config:<{width}}{fmt(s['median'], unit):>10} "
                         f"[{fmt(s['p25'], unit)}-{fmt(s['p75'], unit)}]  x{ratio}")
    lines.append("goals:")
    for goal, verdict, detail in goals(f):
        lines.append(f"  {verdict:>12}  {goal}: {detail}")
    for key in ("events", "http_events", "l7"):
        if key in f.notes:
            lines.append(f"{key}: {f.notes[key]}")
    return "\n".join(lines)


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__)
    print()
    print(text_report(Figures(argv[1], argv[2])))


if __name__ == "__main__":
    main(sys.argv)
