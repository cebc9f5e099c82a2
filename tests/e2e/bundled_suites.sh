#!/bin/sh
# tests/e2e/bundled_suites.sh - every bundled suite replays its committed
# trace (suites/NAME.lgt) and passes its own gates, with no model call
# going upstream: what CI runs on every change, with no key and no network.
#
# Each replay runs with --upstream sim (the in-process simulated model, which
# counts what it serves: it must serve nothing) when the suite declares a
# sim task, else with an upstream that refuses every connection; either way
# a call that missed the recording would show. Runs in a scratch directory
# that links examples/ and suites/, so work directories stay out of the tree.
set -u
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null 2>&1 || lg_fail "python3 is needed (scripts/setup installs it)"

cd "$LG_TMP" || lg_fail "cannot enter $LG_TMP"
ln -s "$LG_SRCDIR/examples" examples
ln -s "$LG_SRCDIR/suites" suites
# a port nobody listens on
closed=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

n=0
for suite in refund-policy codegen-gate flaky-tools; do
    if [ ! -f "suites/$suite.yaml" ] || [ ! -f "suites/$suite.lgt" ]; then
        case $suite in
        flaky-tools) echo "skip: suites/$suite.yaml has no committed trace yet"; continue ;;
        *) lg_fail "suites/$suite.yaml or its trace suites/$suite.lgt is missing" ;;
        esac
    fi
    if grep -q '^  task: \(choice\|code\)' "suites/$suite.yaml"; then up=sim; else up="http://127.0.0.1:$closed"; fi
    out="$LG_TMP/$suite.out"
    "$LOOPGATE" run "suites/$suite.yaml" --replay "suites/$suite.lgt" --upstream "$up" \
        --results "$LG_TMP/results.db" --no-progress >"$out" 2>"$out.err"
    rc=$?
    [ $rc -eq 0 ] || { cat "$out" "$out.err" >&2; lg_fail "$suite: replay exited $rc, want 0"; }
    grep -q '^PASS: ' "$out" || { cat "$out" >&2; lg_fail "$suite: no PASS verdict"; }
    grep -q 'diverged\|never requested\|upstream' "$out.err" &&
        { cat "$out.err" >&2; lg_fail "$suite: the replay reports divergence or upstream calls"; }
    if [ "$up" = sim ]; then
        lg_expect_eq "$suite: calls served by the simulated model" \
            "$(sed -n 's/^simulated model: \([0-9]*\) call.*/\1/p' "$out")" 0
    fi
    # every trial ran, and the trace had what the loop asked for
    trials=$(sed -n 's/^run [^ ]*: \([0-9]*\) trials.*/\1/p' "$out")
    [ "${trials:-0}" -gt 0 ] || lg_fail "$suite: no trials ran"
    echo "ok: $suite replays $trials trials from suites/$suite.lgt and passes its gates"
    n=$((n + 1))
done
[ $n -ge 2 ] || lg_fail "only $n bundled suites replayed"

# --upstream sim records too: a few trials live, then their replay agrees
# line for line (trial wall time aside)
"$LOOPGATE" run suites/refund-policy.yaml --upstream sim --record "$LG_TMP/small.lgt" \
    --cases 4 --trials 2 --results "$LG_TMP/results.db" --no-progress >"$LG_TMP/live.out" 2>&1 ||
    { cat "$LG_TMP/live.out" >&2; lg_fail "live run against the simulated model failed"; }
served=$(sed -n 's/^simulated model: \([0-9]*\) call.*/\1/p' "$LG_TMP/live.out")
[ "${served:-0}" -ge 16 ] || lg_fail "the simulated model served ${served:-no} calls for 8 trials"
"$LOOPGATE" run suites/refund-policy.yaml --upstream sim --replay "$LG_TMP/small.lgt" \
    --cases 4 --trials 2 --results "$LG_TMP/results.db" --no-progress >"$LG_TMP/again.out" 2>&1 ||
    { cat "$LG_TMP/again.out" >&2; lg_fail "replay of the live run failed"; }
metrics() { awk '/^METRIC/ { on = 1 } on && NF && $1 !~ /^latency\.trial/ { print } /^(PASS|FAIL): / { exit }' "$1"; }
metrics "$LG_TMP/live.out" >"$LG_TMP/live.m"
metrics "$LG_TMP/again.out" >"$LG_TMP/again.m"
[ -s "$LG_TMP/live.m" ] || lg_fail "no metrics in the live run's report"
diff "$LG_TMP/live.m" "$LG_TMP/again.m" >&2 || lg_fail "the replay's summary differs from the live run's"
echo "ok: a live run against the simulated model ($served calls) and its replay agree"
echo "bundled_suites: all checks passed"
