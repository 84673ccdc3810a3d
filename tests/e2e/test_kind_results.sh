# tests/e2e/kind/results.py, which turns a kind-e2e run into RESULTS.md and its summary line:
# fed a junit report as ginkgo writes it and a scenarios table, it counts only the suite's own
# tests, names the reason of every test not passed, and fails the run on any failure.

kind_results_run() { # writes a run folder with one failed, one skipped (SCTP), one passed test
    mkdir -p "$WORK/run"
    cat >"$WORK/run/netpol.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="5" failures="1">
  <testsuite name="Kubernetes e2e suite" tests="5">
    <testcase name="[SynchronizedBeforeSuite]" status="passed"></testcase>
    <testcase name="[sig-network] Netpol NetworkPolicy between server and client should support a 'default-deny-ingress' policy [Feature:NetworkPolicy]" status="passed"></testcase>
    <testcase name="[sig-network] Netpol NetworkPolicy between server and client should enforce policy based on Ports [Feature:NetworkPolicy]" status="failed">
      <failure message="Had 2 wrong results in reachability matrix" type="failed">x/a -> y/b</failure>
    </testcase>
    <testcase name="[sig-network] Netpol [Feature:SCTPConnectivity] [LinuxOnly] NetworkPolicy between server and client using SCTP should support a 'default-deny-ingress' policy" status="skipped">
      <skipped message="skipped"></skipped>
    </testcase>
    <testcase name="[sig-storage] Volumes should mount [Conformance]" status="skipped"><skipped message="skipped"></skipped></testcase>
  </testsuite>
</testsuites>
XML
    printf '%s\n' '\[sig-network\] Netpol' >"$WORK/run/netpol.focus"
    echo 42 >"$WORK/run/netpol.seconds"
    printf 'pod_to_pod_across_nodes\tpassed\t3\t\n' >"$WORK/run/scenarios.tsv"
    echo "suite=full" >"$WORK/run/run.env"
}

test_kind_results_counts_and_explains_every_test_not_passed() {
    kind_results_run
    local summary status=0
    summary=$(python3 "$ROOT/tests/e2e/kind/results.py" "$WORK/run" "$ROOT/tests/e2e/kind/expectations.tsv" "$WORK/RESULTS.md") || status=$?
    assert_eq "$summary" "2 passed, 1 failed" "summary line"
    assert_eq "$status" 1 "exit status with a failure"
    grep -qF '| netpol | 1 | 1 | 1 | 42 |' "$WORK/RESULTS.md" || fail "netpol row: $(grep netpol "$WORK/RESULTS.md")"
    grep -qF '| weir-scenarios | 1 | 0 | 0 | 3 |' "$WORK/RESULTS.md" || fail "scenarios row missing"
    grep -q "failed\*\*: .*should enforce policy based on Ports.*: Had 2 wrong results" "$WORK/RESULTS.md" ||
        fail "the failure and its message are not named"
    grep -q "skipped: .*using SCTP.*no SCTP sockets" "$WORK/RESULTS.md" || fail "the skip reason from expectations.tsv is not named"
    ! grep -q "sig-storage" "$WORK/RESULTS.md" || fail "a test outside the suite's focus was counted"
    assert_eq "$(tail -1 "$WORK/RESULTS.md")" "2 passed, 1 failed" "RESULTS.md ends with the summary"
}

test_kind_results_fails_a_suite_without_report() {
    kind_results_run
    rm "$WORK/run/netpol.xml"
    local summary status=0
    summary=$(python3 "$ROOT/tests/e2e/kind/results.py" "$WORK/run" "$ROOT/tests/e2e/kind/expectations.tsv" "$WORK/RESULTS.md") || status=$?
    assert_eq "$summary" "1 passed, 1 failed" "a suite that wrote no report counts as failed"
    assert_eq "$status" 1 "exit status"
    grep -q "no junit report" "$WORK/RESULTS.md" || fail "the missing report is not named"
}
