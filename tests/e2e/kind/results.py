#!/usr/bin/env python3
"""Turns one kind-e2e run into tests/e2e/kind/RESULTS.md and the closing summary line.

Input: the run's folder, holding per upstream suite a junit report (<suite>.xml), the focus
regex it ran with (<suite>.focus) and its wall time (<suite>.seconds); scenarios.tsv (name,
passed|failed, seconds, why); run.env (KEY=VALUE lines about the run). expectations.tsv names
why a test is skipped or known to fail. Prints "N passed, N failed" last; exits 1 when anything
failed or nothing ran.
"""
import os
import re
import sys
import xml.etree.ElementTree as ElementTree

run_dir, expectations_path, output_path = sys.argv[1:4]


def read_expectations(path):
    rows = []
    for line in open(path):
        if line.startswith("#") or not line.strip():
            continue
        kind, regex, reason = line.rstrip("\n").split("\t", 2)
        rows.append((kind, re.compile(regex), reason))
    return rows


def first_line(text, limit=400):
    text = " ".join((text or "").split())
    return text[:limit] + ("..." if len(text) > limit else "")


expectations = read_expectations(expectations_path)
env = {}
if os.path.exists(os.path.join(run_dir, "run.env")):
    for line in open(os.path.join(run_dir, "run.env")):
        key, _, value = line.rstrip("\n").partition("=")
        env[key] = value

suites = []  # (name, passed, failed, skipped, seconds, [(test, state, why)])
for suite in sorted(n[:-6] for n in os.listdir(run_dir) if n.endswith(".focus")):
    focus = re.compile(open(os.path.join(run_dir, suite + ".focus")).read().strip())
    seconds = open(os.path.join(run_dir, suite + ".seconds")).read().strip() \
        if os.path.exists(os.path.join(run_dir, suite + ".seconds")) else "?"
    report = os.path.join(run_dir, suite + ".xml")
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    notes = []
    if not os.path.exists(report):
        counts["failed"] = 1
        notes.append(("(the whole suite)", "failed", "no junit report: the run did not finish, see "
                      + suite + ".log in the run folder"))
    else:
        for case in ElementTree.parse(report).getroot().iter("testcase"):
            name = case.get("name", "")
            if not focus.search(name) or name.startswith("[SynchronizedBeforeSuite]") \
                    or name.startswith("[SynchronizedAfterSuite]") or name.startswith("[ReportAfterSuite]"):
                continue
            failure = case.find("failure")
            if failure is None:
                failure = case.find("error")
            skipped = case.find("skipped")
            if failure is not None:
                why = first_line(failure.get("message") or failure.text)
                for kind, regex, reason in expectations:
                    if kind == "known" and regex.search(name):
                        why = reason + " (upstream says: " + why + ")"
                counts["failed"] += 1
                notes.append((name, "failed", why))
            elif skipped is not None:
                why = first_line(skipped.get("message"))
                for kind, regex, reason in expectations:
                    if kind == "skip" and regex.search(name):
                        why = reason
                counts["skipped"] += 1
                notes.append((name, "skipped", why))
            else:
                counts["passed"] += 1
    suites.append((suite, counts["passed"], counts["failed"], counts["skipped"], seconds, notes))

latest = {}  # a scenario run again in the same folder: its latest line counts
if os.path.exists(os.path.join(run_dir, "scenarios.tsv")):
    for line in open(os.path.join(run_dir, "scenarios.tsv")):
        name, state, seconds, why = (line.rstrip("\n").split("\t") + ["", "", ""])[:4]
        latest[name] = (name, state, seconds, why)
scenario_rows = list(latest.values())
if scenario_rows:
    suites.insert(0, ("weir-scenarios", sum(r[1] == "passed" for r in scenario_rows),
                      sum(r[1] == "failed" for r in scenario_rows), 0,
                      str(sum(int(r[2] or 0) for r in scenario_rows)),
                      [(r[0], r[1], r[3]) for r in scenario_rows if r[1] != "passed"]))

passed = sum(s[1] for s in suites)
failed = sum(s[2] for s in suites)
skipped = sum(s[3] for s in suites)

out = ["# kind e2e results", ""]
out.append("Written by `make kind-e2e` (tests/e2e/kind/e2e.sh) from the run it describes; do not edit.")
out.append("")
for key, label in (("date", "Run"), ("suite", "Suite set (WEIR_KIND_SUITE)"),
                   ("kubernetes", "Kubernetes (server / e2e.test)"), ("nodes", "Nodes"),
                   ("weir", "weir"), ("procs", "ginkgo parallel processes")):
    if key in env:
        out.append(f"- {label}: {env[key]}")
out.append("")
out.append("| Suite | Passed | Failed | Skipped | Seconds |")
out.append("|---|---:|---:|---:|---:|")
for name, p, f, s, seconds, _ in suites:
    out.append(f"| {name} | {p} | {f} | {s} | {seconds} |")
out.append(f"| **total** | **{passed}** | **{failed}** | **{skipped}** | |")
for name, p, f, s, seconds, notes in suites:
    out.append("")
    out.append(f"## {name}")
    out.append("")
    if name == "weir-scenarios":
        for row in scenario_rows:
            mark = "passed" if row[1] == "passed" else "**failed**"
            out.append(f"- {row[0]}: {mark} ({row[2]} s)" + (f": {row[3]}" if row[3] else ""))
        continue
    if not notes:
        out.append(f"All {p} tests passed.")
        continue
    out.append("Tests not passed, and why:")
    out.append("")
    for test, state, why in sorted(notes, key=lambda n: (n[1] != "failed", n[0])):
        out.append(f"- {'**failed**' if state == 'failed' else 'skipped'}: `{test}`: {why}")
out.append("")
out.append(f"{passed} passed, {failed} failed")
with open(output_path, "w") as handle:
    handle.write("\n".join(out) + "\n")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed or not passed else 0)
