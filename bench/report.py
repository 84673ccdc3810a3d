#!/usr/bin/env python3
"""bench/REPORT.md and its plots (bench/report/*.png) from one `make bench` run.

  report.py RUN_DIR

RUN_DIR is bench/run.sh's folder: run.meta (machine, date, and one line per step: name, exit
status, seconds, exact command), <step>.log for every step, and compare.results/.notes from
bench/compare.sh. Every figure here is a ratio between configurations measured side by side in
that run, shown with its median and spread over rounds; absolute numbers are given for scale.
"""

import os
import re
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "compare"))
import analyze  # noqa: E402

REPORT = os.path.join(HERE, "REPORT.md")
PLOTS = os.path.join(HERE, "report")

DESCRIPTIONS = {
    "plain": "weir-cni's veths and routes with no program attached (clsact removed): the floor",
    "weir": "weir-cni + weir-agent: NetworkPolicy (both pods isolated, client allowed), conntrack, "
            "client -> Service VIP (translation), flow events on and logged",
    "weir-events-off": "the weir node with flow and HTTP events off at run time (dp_config)",
    "iptables": "plain veths + the same allow rules in the node's FORWARD chain (stateful: "
                "ESTABLISHED accepted first), N other rules before them",
    "kube-proxy": "plain veths + N Services as kube-proxy's iptables mode writes them, client -> VIP",
    "haproxy": "plain veths + haproxy (TCP mode) in the client pod, client -> 127.0.0.1 -> server",
    "nginx-proxy": "plain veths + nginx HTTP reverse proxy (upstream keep-alive) in the client pod",
    "weir-l7": "weir with a WeirNetworkPolicy admitting only GET /hello on the HTTP port",
}


def describe(config):
    if config in DESCRIPTIONS:
        return DESCRIPTIONS[config]
    match = re.fullmatch(r"(iptables|kube-proxy)-(\d+)", config)
    if match:
        return DESCRIPTIONS[match.group(1)].replace("N ", f"{int(match.group(2)):,} ")
    match = re.fullmatch(r"weir-(\d+)svc", config)
    if match:
        return f"weir with {int(match.group(1)) - 1:,} other Services programmed"
    return ""


def read_meta(run_dir):
    meta, steps = {}, []
    for line in open(os.path.join(run_dir, "run.meta")):
        line = line.rstrip("\n")
        if line.startswith("step "):
            name, status, seconds, command = line[5:].split("|", 3)
            steps.append({"name": name, "status": status, "seconds": seconds, "command": command})
        else:
            key, _, value = line.partition("=")
            meta[key] = value
    return meta, steps


def summary_of(log_path, limit=45):
    """The part of a benchmark's output after its progress lines: from the first blank line."""
    if not os.path.exists(log_path):
        return "(no output)"
    lines = open(log_path, errors="replace").read().splitlines()
    if "" in lines:
        lines = lines[lines.index("") + 1:]
    else:
        lines = lines[-15:]
    if len(lines) > limit:
        lines = lines[:limit] + [f"... ({len(lines) - limit} more lines in the log)"]
    return "\n".join(lines).strip("\n") or "(no output)"


def cell(stat, unit):
    if not stat:
        return "-"
    return (f"{analyze.fmt(stat['median'], unit)} [{analyze.fmt(stat['p25'], unit)}–"
            f"{analyze.fmt(stat['p75'], unit)}]")


def ratio_cell(ratio):
    if not ratio:
        return "-"
    return f"{ratio['median']:.3f} ({ratio['min']:.2f}–{ratio['max']:.2f})"


def table(f, configs, columns, base="plain"):
    """columns: [(metric, key, header, unit)] -> markdown rows with value and ratio to base."""
    head = ["configuration"]
    for _, _, header, unit in columns:
        head += [f"{header} ({unit})", f"× {base}"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for config in configs:
        cells = [f"`{config}`"]
        present = False
        for metric, key, _, unit in columns:
            stat = f.stat(config, metric, key)
            present = present or bool(stat)
            cells += [cell(stat, unit), ratio_cell(f.ratio(config, base, metric, key))
                      if config != base else "1"]
        if present:
            rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


# ---- plots ------------------------------------------------------------------------------------

def gnuplot(script, data_files):
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in data_files.items():
            with open(os.path.join(tmp, name), "w") as out:
                out.write(text)
        result = subprocess.run(["gnuplot"], input=script, text=True, cwd=tmp,
                                capture_output=True)
        if result.returncode != 0:
            raise RuntimeError(result.stderr.strip()[-500:])


def ratio_plot(f, path, title, ylabel, figures, configs, base="plain"):
    """Grouped bars: for each configuration, each figure's paired ratio to base (median of the
    per-round ratios), error bars p25-p75 of the per-round ratios; a line at 1."""
    rows = []
    for config in configs:
        if config == base:
            continue
        values = []
        for metric, key, _ in figures:
            r = f.ratio(config, base, metric, key)
            values += [r["median"], r["p25"], r["p75"]] if r else ["NaN", "NaN", "NaN"]
        if any(v != "NaN" for v in values):
            rows.append(" ".join([f'"{config}"'] + [str(v) for v in values]))
    if not rows:
        return False
    series = ", ".join(
        f"'data' using {2 + 3 * i}:{3 + 3 * i}:{4 + 3 * i}{':xtic(1)' if i == 0 else ''} "
        f"title '{label}'" for i, (_, _, label) in enumerate(figures))
    script = f"""
set terminal pngcairo size 1100,520 font "sans,10" noenhanced
set output '{path}'
set title "{title}"
set ylabel "{ylabel}"
set style data histogram
set style histogram errorbars gap 2 lw 1
set style fill solid 0.7 border -1
set boxwidth 0.9
set xtics rotate by -30 left
set grid ytics
set key below horizontal
set yrange [0:*]
set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2 lw 2 lc rgb "black" front
plot {series}
"""
    gnuplot(script, {"data": "\n".join(rows) + "\n"})
    return True


def services_plot(f, path):
    """TCP_CRR p50 against the number of Services: kube-proxy's chains vs weir (p25-p75)."""
    kube = sorted((int(c.split("-")[-1]), c) for c in f.configs
                  if re.fullmatch(r"kube-proxy-\d+", c))
    weir = [(1, "weir")] + [(int(c[5:-3]), c) for c in f.configs
                            if re.fullmatch(r"weir-\d+svc", c)]
    if len(kube) < 2:
        return False
    data = {}
    for name, points in (("kube", kube), ("weir", weir)):
        lines = []
        for n, config in points:
            s = f.stat(config, "crr", "p50_us")
            if s:
                lines.append(f"{n} {s['median']} {s['p25']} {s['p75']}")
        data[name] = "\n".join(lines) + "\n"
    script = f"""
set terminal pngcairo size 800,480 font "sans,10" noenhanced
set output '{path}'
set title "TCP_CRR p50 through a ClusterIP vs Services programmed (bars: p25-p75 over rounds)"
set xlabel "Services"
set ylabel "microseconds per connection"
set logscale x
set xrange [0.5:*]
set yrange [0:*]
set grid
set key below horizontal
plot 'kube' using 1:2:3:4 with yerrorlines lw 2 title 'kube-proxy (iptables)', \\
     'weir' using 1:2:3:4 with yerrorlines lw 2 title 'weir (eBPF)'
"""
    gnuplot(script, data)
    return True


# ---- the report -------------------------------------------------------------------------------

def datapath_note(run_dir):
    """The per-packet cost datapath_bench measured, for the reasons of a missed latency goal."""
    path = os.path.join(run_dir, "datapath_bench.log")
    if not os.path.exists(path):
        return ""
    text = open(path, errors="replace").read()
    established = re.search(r"^\s*1\s+established flow out.*?(\d+\.\d)\s+1\.00", text, re.M)
    reply = re.search(r"^\s*2\s+established reply in.*?(\d+\.\d)\s", text, re.M)
    new = re.search(r"a new allowed connection costs\s+(\d+) ns more", text, re.S)
    parts = []
    if established and reply:
        parts.append(f"datapath_bench in this run: {established.group(1)} ns for an established "
                     f"packet out of a pod, {reply.group(1)} ns for a reply into one")
    if new:
        parts.append(f"a new allowed connection {new.group(1)} ns more")
    return "; ".join(parts)


def reason(goal, verdict, f, run_dir):
    if verdict != "MISSED":
        return ""
    dp = datapath_note(run_dir)
    load = ""
    if "load_before" in f.notes:
        load = f" 1-minute load average {f.notes['load_before']} at the start (other work shares the 2 CPUs)."
    if goal.startswith("weir TCP_RR p50"):
        return ("Each round trip runs weir's programs four times (from_pod and to_pod for the "
                "request and for the reply) plus the Service translation; " + (dp or "") + "." + load)
    if goal.startswith("ahead of iptables"):
        return ("The iptables configuration reaches the server's pod IP and accepts established "
                "packets with its first rule, so only a connection's first packet walks the "
                "rules; weir also translates the Service VIP, and with events on it records every "
                "new connection and parses and records every HTTP request (the ratio with events "
                "off is given for each figure missed). p99 figures on this shared 2-CPU machine "
                "also carry preemption by other work (see their spread)." + load)
    if goal.startswith("ahead of"):
        return ("p99 latency on one shared CPU is dominated by scheduling (other work preempting "
                "the measured processes); see the p25–p75 spread." + load)
    if goal.startswith("flow and HTTP events"):
        return ("With events on, every new connection and every HTTP request is parsed, written "
                "to the ring buffer (up to 2,000 events a second per CPU) and formatted and "
                "written by the agent (--flow-log), whose CPU time is in the figures; requests/s "
                "on one saturated CPU pay for it directly." + load)
    if goal.startswith("L7"):
        return ("Every request on a connection under an L7 rule is parsed and matched in the "
                "datapath before it is delivered." + load)
    if goal.startswith("flat"):
        return "See the Services benchmark below for the connect latency at each count." + load
    return load.strip()


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__)
    run_dir = argv[1]
    meta, steps = read_meta(run_dir)
    os.makedirs(PLOTS, exist_ok=True)
    out = []
    w = out.append
    w("# weir benchmarks\n")
    w(f"Generated by `make bench` on {meta.get('date', '?')} on this machine: "
      f"{meta.get('machine', '?')}; source {meta.get('commit', '?')}. "
      f"The benchmarks took {meta.get('total_s', '?')} s (bound for the whole `make bench`, "
      "build included: 600 s).\n")
    w("Every comparison below is between configurations measured side by side in this one run: "
      "each round measures every configuration back to back in a rotated order, and a ratio is "
      "the **median of the per-round ratios** (each between measurements seconds apart), shown "
      "with the smallest and largest per-round ratio. Absolute figures are the median over "
      "rounds with p25–p75 in brackets. The machine has 2 shared CPUs: absolute numbers move "
      "from run to run, the ratios much less.\n")

    results = os.path.join(run_dir, "compare.results")
    notes = os.path.join(run_dir, "compare.notes")
    f = None
    if os.path.exists(results) and os.path.getsize(results) > 0:
        f = analyze.Figures(results, notes)
        f.notes.setdefault("load_before", meta.get("load_before", ""))

    # Goals
    w("## Goals\n")
    w("| goal | verdict | measured (ratios: median of per-round ratios) | why, where missed |")
    w("|---|---|---|---|")
    if f:
        for goal, verdict, detail in analyze.goals(f):
            mark = {"met": "met", "MISSED": "**missed**"}.get(verdict, verdict)
            w(f"| {goal} | {mark} | {detail} | {reason(goal, verdict, f, run_dir)} |")
    else:
        w("| two-pod comparison | not measured | bench/compare.sh produced no results | see its log |")
    for step in steps:
        log = os.path.join(run_dir, f"{step['name']}.log")
        if step["name"] == "compare" or not os.path.exists(log):
            continue
        for line in summary_of(log, 200).splitlines():
            stated = re.search(r"\bgoals?\b", line, re.I) and re.search(r"\bmet\b|missed", line)
            if stated or re.search(r"\s(met|NOT met|missed)\s*$", line):
                w(f"| {step['name']}: {line.strip()[:160]} | "
                  f"{'met' if 'NOT' not in line and 'missed' not in line.lower() else '**missed**'} "
                  f"| see its section | |")
    w("")

    if f:
        configs = f.configs
        w("## Two pods on one node, one run (bench/compare.sh)\n")
        w(f"{f.notes.get('rounds', '?')} rounds; per round and configuration: TCP_RR "
          f"{f.notes.get('rr_iterations', '?')} × 1 byte on one connection (`tcp_rr client`), "
          f"TCP_CRR {f.notes.get('crr_connections', '?')} connections of one 1-byte exchange "
          f"(`tcp_rr crr`), iperf3 one stream of {f.notes.get('tput_bytes', '?')}B, wrk "
          f"{f.notes.get('wrk_seconds', '?')} s with {f.notes.get('wrk_connections', '?')} "
          "keep-alive connection(s) for GET /hello on nginx in the server pod. Client, server and "
          f"proxies share CPU {f.notes.get('measured_cpu', '?')}; agents run on CPU "
          f"{f.notes.get('agent_cpu', '?')}. CPU per transaction is the cpuacct time of the "
          "node's cgroup (client, servers, proxies and the node's agent, with the softirq work "
          "done in their context) over the transactions. iptables backend: "
          f"{f.notes.get('iptables', '?')}.\n")
        w("| configuration | what it is |")
        w("|---|---|")
        for config in configs:
            w(f"| `{config}` | {describe(config)} |")
        w("")
        w("### TCP request/response (TCP_RR)\n")
        w(table(f, configs, [("rr", "p50_us", "p50", "µs"), ("rr", "p99_us", "p99", "µs"),
                             ("rr", "cpu_us_per_op", "CPU/transaction", "µs")]))
        w("\n### A connection per request (TCP_CRR)\n")
        w(table(f, configs, [("crr", "p50_us", "p50", "µs"), ("crr", "p99_us", "p99", "µs"),
                             ("crr", "connections_per_sec", "connections/s", "/s"),
                             ("crr", "cpu_us_per_op", "CPU/connection", "µs")]))
        w("\n### Throughput (iperf3, one stream)\n")
        w(table(f, configs, [("tput", "gbit_per_sec", "throughput", "Gbit/s")]))
        w("\n### HTTP (wrk against nginx)\n")
        w(table(f, configs, [("http", "requests_per_sec", "requests/s", "/s"),
                             ("http", "p50_us", "p50", "µs"), ("http", "p99_us", "p99", "µs"),
                             ("http", "cpu_us_per_op", "CPU/request", "µs")]))
        w("")

        # Events on/off (#6) and L7 (#9): their own ratios.
        w("### Flow and HTTP events on vs off (issue #6)\n")
        w(f"{f.notes.get('events', 'not measured')}. HTTP events: "
          f"{f.notes.get('http_events', 'not checked')}.\n")
        if f.has("weir-events-off"):
            w(table(f, ["weir", "weir-events-off"],
                    [("rr", "p50_us", "TCP_RR p50", "µs"), ("crr", "p50_us", "TCP_CRR p50", "µs"),
                     ("http", "requests_per_sec", "HTTP requests/s", "/s"),
                     ("http", "cpu_us_per_op", "CPU/request", "µs")], base="weir-events-off"))
            w("")
        w("### L7 policy vs L4 only vs a proxy hop (issue #9)\n")
        w(f"{f.notes.get('l7', 'not measured')}.\n")
        l7_rows = [c for c in ("weir", "weir-l7", "nginx-proxy", "plain") if f.has(c)]
        w(table(f, l7_rows, [("http", "requests_per_sec", "requests/s", "/s"),
                             ("http", "p50_us", "p50", "µs"), ("http", "p99_us", "p99", "µs")],
                base="weir"))
        w("")

        # Plots
        plots = []
        try:
            if ratio_plot(f, os.path.join(PLOTS, "latency.png"),
                          "Latency relative to plain veths (median of per-round ratios, bars: p25-p75 of them)",
                          "x plain (lower is better)",
                          [("rr", "p50_us", "TCP_RR p50"), ("rr", "p99_us", "TCP_RR p99"),
                           ("crr", "p50_us", "TCP_CRR p50"), ("http", "p50_us", "HTTP p50")],
                          configs):
                plots.append(("latency.png", "Latency relative to plain veths"))
            if ratio_plot(f, os.path.join(PLOTS, "rates.png"),
                          "Rates relative to plain veths (median of per-round ratios, bars: p25-p75 of them)",
                          "x plain (higher is better)",
                          [("crr", "connections_per_sec", "TCP_CRR connections/s"),
                           ("tput", "gbit_per_sec", "throughput"),
                           ("http", "requests_per_sec", "HTTP requests/s")], configs):
                plots.append(("rates.png", "Rates relative to plain veths"))
            if ratio_plot(f, os.path.join(PLOTS, "cpu.png"),
                          "CPU time per transaction relative to plain veths (median of per-round ratios, bars: p25-p75)",
                          "x plain (lower is better)",
                          [("rr", "cpu_us_per_op", "per TCP_RR transaction"),
                           ("crr", "cpu_us_per_op", "per TCP_CRR connection"),
                           ("http", "cpu_us_per_op", "per HTTP request")], configs):
                plots.append(("cpu.png", "CPU per transaction relative to plain veths"))
            if services_plot(f, os.path.join(PLOTS, "services.png")):
                plots.append(("services.png", "TCP_CRR p50 against the number of Services"))
        except (RuntimeError, OSError) as error:
            w(f"Plots could not be drawn: {error}\n")
        if plots:
            w("### Plots\n")
            for name, caption in plots:
                w(f"![{caption}](report/{name})\n")

    # The other benchmarks, verbatim
    w("## The other benchmarks of this run\n")
    titles = {"cni_latency": "CNI ADD/DEL latency, weir-cni vs the reference ptp plugin",
              "datapath_bench": "The datapath's own cost per packet (BPF_PROG_TEST_RUN)",
              "pod_rr": "Same pods with and without weir's programs (TCP_RR, throughput)",
              "agent_propagation": "Policy propagation latency",
              "agent_scale": "Agent sync time and memory at scale",
              "services_scale": "Services at scale: weir vs kube-proxy iptables (connect latency, apply time)",
              "cross_node": "Same node vs cross node"}
    for step in steps:
        if step["name"] == "compare":
            continue
        w(f"### {titles.get(step['name'], step['name'])}\n")
        status = "" if step["status"] == "0" else f" — **exited {step['status']}**"
        w(f"`{step['command']}` ({step['seconds']} s){status}\n")
        w("```")
        w(summary_of(os.path.join(run_dir, f"{step['name']}.log")))
        w("```\n")

    w("## How this report was made\n")
    w(f"Started {meta.get('date', '?')}; machine: {meta.get('machine', '?')}; 1-minute load "
      f"average {meta.get('load_before', '?')} before the run and {meta.get('load_after', '?')} "
      "after (other work on the machine adds noise to every figure alike).\n")
    w("| step | exact command (from the repository root) | exit | seconds |")
    w("|---|---|---|---|")
    for step in steps:
        w(f"| {step['name']} | `{step['command']}` | {step['status']} | {step['seconds']} |")
    w(f"| report | `python3 bench/report.py {run_dir}` | | |")
    w("")
    w("`make bench` = `scripts/deps.sh bench` (Debian packages, wrk, haproxy, nginx, gnuplot), "
      "`make all` + the benchmark binaries, then `bench/run.sh`, which runs the steps above and "
      "this report. Each step also runs alone with the same command; its environment variables "
      "are described at the top of each script.\n")
    with open(REPORT + ".tmp", "w") as out_file:
        out_file.write("\n".join(out) + "\n")
    os.replace(REPORT + ".tmp", REPORT)
    print(f"report: {REPORT}")


if __name__ == "__main__":
    main(sys.argv)
