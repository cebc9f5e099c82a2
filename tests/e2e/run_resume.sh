#!/bin/sh
# tests/e2e/run_resume.sh - kill -9 a recording run at random points, resume
# it each time, and compare with an uninterrupted run: every (case, trial)
# exactly once with the same outcome, every trace session whole, once.
set -eu
. "$(dirname "$0")/lib.sh"
cd "$LG_SRCDIR"
suite=tests/fixtures/run/quick.yaml
up=http://127.0.0.1:9   # never called: the loop makes no model call

outcomes() { # DB RUN -> "case trial reason" lines
    "$LOOPGATE" report "$2" --results "$1" --format json | python3 -c '
import json, sys
d = json.load(sys.stdin)
for o in d["outcomes"]:
    print(o["case"], o["trial"], o["reason"])'
}

# the reference
"$LOOPGATE" run "$suite" --record "$LG_TMP/ref.lgt" --upstream $up --results "$LG_TMP/ref.db" \
    --run-id ref --no-progress -j 2 >/dev/null
outcomes "$LG_TMP/ref.db" ref >"$LG_TMP/ref.txt"
lg_expect_eq "reference outcomes" "$(wc -l <"$LG_TMP/ref.txt")" 60

# kill -9 at random points, resuming each time
flags="--record $LG_TMP/k.lgt --upstream $up --results $LG_TMP/k.db --no-progress -j 2"
first="--run-id killed"
kills=0
seed=$$
for i in 1 2 3 4 5 6; do
    # shellcheck disable=SC2086
    QUICK_SLEEP=0.2 "$LOOPGATE" run "$suite" $flags $first >/dev/null 2>&1 &
    pid=$!
    seed=$(( (seed * 1103515245 + 12345) % 2147483648 ))
    ms=$(( 150 + seed % 900 ))
    sleep "$(printf '0.%03d' "$ms")"
    if kill -9 "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
    wait "$pid" 2>/dev/null || true
    first="--resume killed"
    # the store and the results DB open and hold only whole sessions
    "$LOOPGATE" show "$LG_TMP/k.lgt" >/dev/null 2>&1 || [ ! -e "$LG_TMP/k.lgt" ] ||
        lg_fail "trace unreadable after kill $i"
done
echo "killed $kills times"
[ "$kills" -ge 3 ] || lg_fail "the run finished before it could be killed 3 times"
# shellcheck disable=SC2086
"$LOOPGATE" run "$suite" $flags --resume killed >"$LG_TMP/final.out" 2>&1 ||
    { cat "$LG_TMP/final.out" >&2; lg_fail "the final resume failed"; }
outcomes "$LG_TMP/k.db" killed >"$LG_TMP/k.txt"
diff "$LG_TMP/ref.txt" "$LG_TMP/k.txt" >&2 || lg_fail "resumed outcomes differ from the uninterrupted run"
echo "ok: resumed run equals the uninterrupted one (60 outcomes)"
n=$("$LOOPGATE" show "$LG_TMP/k.lgt" | grep -cE '^[0-9]+\.[0-9]+ ' || true)
lg_expect_eq "sessions in the resumed trace" "$n" 60
python3 - "$LG_TMP/k.lgt" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
PY
echo "e2e run_resume: 1 passed, 0 failed"
