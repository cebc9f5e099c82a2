#!/bin/sh
# tests/e2e/run_sdk.sh - `loopgate run` over a suite of real SDK loops
# (npm openai and @anthropic-ai/sdk), record against the sim, then replay
# with the sim stopped: identical metrics, identical exit codes for a
# passing and a failing gate, no upstream call in replay.
set -eu
. "$(dirname "$0")/lib.sh"
lg_require_node
cd "$LG_SRCDIR"
suite=tests/fixtures/run/sdk-loops.yaml
db="$LG_TMP/results.db"
trace="$LG_TMP/sdk.lgt"

lg_start sim "$LOOPGATE" sim-server --port 0
up="http://127.0.0.1:$sim_PORT"

# 1. record: the suite's gates pass
set +e
"$LOOPGATE" run "$suite" --record "$trace" --upstream "$up" --results "$db" \
    --report-dir "$LG_TMP/rec" --no-progress -j 2 >"$LG_TMP/rec.out" 2>"$LG_TMP/rec.err"
rc=$?
set -e
[ $rc = 0 ] || { cat "$LG_TMP/rec.out" "$LG_TMP/rec.err" >&2; lg_fail "record run exited $rc"; }
grep -q "^PASS: 2 of 2 gates passed" "$LG_TMP/rec.out" || lg_fail "record: gates did not pass"
# a failing gate exits 1
set +e
"$LOOPGATE" run "$suite" --record "$LG_TMP/other.lgt" --upstream "$up" --results "$db" \
    --gate 'iterations.max <= 1' --no-progress -j 2 >"$LG_TMP/recfail.out" 2>&1
rc_fail_rec=$?
set -e
lg_expect_eq "record with a failing gate exits" "$rc_fail_rec" 1

# the spending guard: a tiny budget stops new trials and never passes
set +e
"$LOOPGATE" run "$suite" --record "$LG_TMP/budget.lgt" --upstream "$up" --results "$db" \
    --max-cost-usd 0.0003 --no-progress -j 1 >"$LG_TMP/budget.out" 2>"$LG_TMP/budget.err"
rc=$?
set -e
lg_expect_eq "a run out of budget exits" "$rc" 1
grep -q "budget exhausted: stopped starting trials at" "$LG_TMP/budget.err" ||
    lg_fail "no budget message: $(cat "$LG_TMP/budget.err")"
ran=$(sed -n 's/^run .*: \([0-9]*\) trials.*/\1/p' "$LG_TMP/budget.out")
[ -n "$ran" ] && [ "$ran" -lt 12 ] || lg_fail "the budget did not stop the run early ($ran trials)"
echo "ok: the budget stopped the run after $ran trials"

# 2. stop the model: replay must not need it
lg_stop sim || true
set +e
"$LOOPGATE" run "$suite" --replay "$trace" --results "$db" --report-dir "$LG_TMP/rep" \
    --no-progress -j 2 >"$LG_TMP/rep.out" 2>"$LG_TMP/rep.err"
rc=$?
"$LOOPGATE" run "$suite" --replay "$trace" --results "$db" --gate 'iterations.max <= 1' \
    --no-progress -j 2 >"$LG_TMP/repfail.out" 2>&1
rc_fail_rep=$?
set -e
[ $rc = 0 ] || { cat "$LG_TMP/rep.out" "$LG_TMP/rep.err" >&2; lg_fail "replay run exited $rc"; }
lg_expect_eq "replay with a failing gate exits" "$rc_fail_rep" "$rc_fail_rec"

# 3. identical metrics (latency of a replayed call is the recorded one)
python3 - "$LG_TMP/rec/report.json" "$LG_TMP/rep/report.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
def strip(m):
    m = dict(m)
    m["latency"] = {k: v for k, v in m["latency"].items() if k != "trial_ms"}
    return m
ma, mb = strip(a["metrics"]), strip(b["metrics"])
if ma != mb:
    for k in sorted(set(ma) | set(mb)):
        if ma.get(k) != mb.get(k):
            print(f"metric {k} differs:\n record {ma.get(k)}\n replay {mb.get(k)}", file=sys.stderr)
    sys.exit(1)
oa = [(o["case"], o["trial"], o["reason"], o["iterations"]) for o in a["outcomes"]]
ob = [(o["case"], o["trial"], o["reason"], o["iterations"]) for o in b["outcomes"]]
assert oa == ob, (oa, ob)
assert a["metrics"]["trials"] == 12, a["metrics"]["trials"]
assert a["metrics"]["cost"]["unknown_trials"] == 0, "every model of the suite is priced"
print("ok: record and replay metrics and outcomes are identical")
PY

# 4. the trace holds every session once; the replay went nowhere upstream
n=$("$LOOPGATE" show "$trace" | grep -cE '^ *[0-9]+\.[0-9]+ ' || true)
lg_expect_eq "sessions in the trace" "$n" 12
"$LOOPGATE" runs --results "$db" | grep -q "replay" || lg_fail "loopgate runs does not list the replay run"
echo "e2e run_sdk: 1 passed, 0 failed"
