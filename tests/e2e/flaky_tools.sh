#!/bin/sh
# tests/e2e/flaky_tools.sh - suites/flaky-tools.yaml: the built-in loop engine
# against the in-process simulated model with 429s, 500s and cut streams
# injected. Record passes its gates with retries and idempotent hits in the
# trace and nothing charged twice; the replay sends nothing upstream, runs no
# non-idempotent tool and gives the same metrics.
set -u
. "$(dirname "$0")/lib.sh"
cd "$LG_TMP" || exit 1
suite="$LG_SRCDIR/suites/flaky-tools.yaml"

"$LOOPGATE" run "$suite" --upstream sim --record ft.lgt --results r.db --no-progress \
    --keep-workdirs >rec.out 2>rec.err || { cat rec.out rec.err >&2; lg_fail "recording run failed its gates"; }
grep -q "PASS: 2 of 2 gates passed" rec.out || { cat rec.out >&2; lg_fail "gates not reported as passed"; }
"$LOOPGATE" export ft.lgt >ft.jsonl || lg_fail "export failed"
python3 - ft.jsonl <<'PY' || lg_fail "the trace does not show retries and idempotency at work"
import collections, json, sys
classes, idem, charges, faults = collections.Counter(), 0, collections.Counter(), collections.Counter()
for line in open(sys.argv[1]):
    d = json.loads(line)
    t = d.get("type")
    if t == "note" and d["text"] == "retry":
        classes[d["data"]["class"]] += 1
    elif t == "note" and d["text"].startswith("idempotent tool call"):
        idem += 1
    elif t == "tool" and d["name"] == "charge":
        charges[(d["session"], json.dumps(d["args"], sort_keys=True))] += 1
    elif t == "model" and (d.get("status") != 200 or d.get("fault")):
        faults[(d.get("status"), d.get("fault"))] += 1
print("retries by class:", dict(classes), "faults:", dict(faults), "idempotent hits:", idem,
      "charges:", sum(charges.values()))
assert classes["rate_limit"] > 0 and classes["server_error"] > 0 and classes["bad_response"] + classes["transport"] > 0, classes
assert (429, None) in faults and (500, None) in faults and (200, "cut") in faults, faults
assert idem > 0
assert charges and max(charges.values()) == 1, "a charge ran twice"
PY
# every ledger line is one charge: repeats did not run again
lines=$(cat .loopgate/work/*/*/ledger 2>/dev/null | wc -l)
ncharge=$(grep '"type":"tool"' ft.jsonl | grep -c '"name":"charge"')
lg_expect_eq "ledger lines = recorded charges" "$lines" "$ncharge"
rate=$(sed -n 's/^convergence_rate  *\([0-9.]*\).*/\1/p' rec.out)

rm -rf .loopgate/work
"$LOOPGATE" run "$suite" --upstream sim --replay ft.lgt --results r.db --no-progress \
    --keep-workdirs >rep.out 2>rep.err || { cat rep.out rep.err >&2; lg_fail "replay failed its gates"; }
lg_expect_eq "replayed convergence rate" "$(sed -n 's/^convergence_rate  *\([0-9.]*\).*/\1/p' rep.out)" "$rate"
grep -q "simulated model: 0 calls served" rep.out || { cat rep.out >&2; lg_fail "the replay went upstream"; }
lg_expect_eq "ledger lines after replay (no charge ran)" "$(cat .loopgate/work/*/*/ledger 2>/dev/null | wc -l)" 0
grep -q "diverged" rep.err && { cat rep.err >&2; lg_fail "the replay diverged"; }
# the committed trace still replays, passing its gates (a change to the
# engine's requests shows up here as a divergence: re-record it)
rm -rf .loopgate/work
"$LOOPGATE" run "$suite" --replay "$LG_SRCDIR/suites/flaky-tools.lgt" --results r.db --no-progress \
    >com.out 2>com.err || { cat com.out com.err >&2; lg_fail "the committed trace no longer replays (re-record it: see the suite's header)"; }
grep -q "PASS: 2 of 2 gates passed" com.out || { cat com.out >&2; lg_fail "committed trace: gates"; }
echo "ok: suites/flaky-tools.lgt replays and passes its gates"
echo "e2e flaky_tools: all checks passed"
