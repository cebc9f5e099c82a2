#!/bin/sh
# tests/e2e/run_shard.sh - three shards, merged (results and traces), equal
# an unsharded run: no session lost or doubled. Also: SIGINT stops a run
# with exit 130 and a resumable partial result.
set -eu
. "$(dirname "$0")/lib.sh"
cd "$LG_SRCDIR"
suite=tests/fixtures/run/quick.yaml
up=http://127.0.0.1:9

outcomes() {
    "$LOOPGATE" report "$2" --results "$1" --format json | python3 -c '
import json, sys
d = json.load(sys.stdin)
for o in d["outcomes"]:
    print(o["case"], o["trial"], o["reason"])'
}

"$LOOPGATE" run "$suite" --record "$LG_TMP/all.lgt" --upstream $up --results "$LG_TMP/all.db" \
    --run-id all --no-progress -j 2 >/dev/null
outcomes "$LG_TMP/all.db" all >"$LG_TMP/all.txt"

for i in 1 2 3; do
    "$LOOPGATE" run "$suite" --shard "$i/3" --record "$LG_TMP/s$i.lgt" --upstream $up \
        --results "$LG_TMP/s$i.db" --no-progress -j 2 >"$LG_TMP/s$i.out"
done
id=$("$LOOPGATE" runs --results "$LG_TMP/s1.db" | awk 'NR == 2 { print $1 }')
id2=$("$LOOPGATE" runs --results "$LG_TMP/s3.db" | awk 'NR == 2 { print $1 }')
lg_expect_eq "shards share a run id" "$id2" "$id"
"$LOOPGATE" merge "$LG_TMP/m.db" "$LG_TMP/s1.db" "$LG_TMP/s2.db" "$LG_TMP/s3.db"
"$LOOPGATE" merge "$LG_TMP/m.lgt" "$LG_TMP/s1.lgt" "$LG_TMP/s2.lgt" "$LG_TMP/s3.lgt"
outcomes "$LG_TMP/m.db" "$id" >"$LG_TMP/m.txt"
diff "$LG_TMP/all.txt" "$LG_TMP/m.txt" >&2 || lg_fail "merged shards differ from the unsharded run"
echo "ok: merged shards equal the unsharded run"
n=$("$LOOPGATE" show "$LG_TMP/m.lgt" | grep -cE '^[0-9]+\.[0-9]+ ' || true)
lg_expect_eq "sessions in the merged trace" "$n" 60
# merging a shard twice into traces is refused, and changes nothing
if "$LOOPGATE" merge "$LG_TMP/m2.lgt" "$LG_TMP/s1.lgt" "$LG_TMP/s1.lgt" 2>"$LG_TMP/dup.err"; then
    lg_fail "a doubled shard merged"
fi
grep -q "already in another input" "$LG_TMP/dup.err" || lg_fail "unclear message: $(cat "$LG_TMP/dup.err")"

# SIGINT: exit 130, running trials stopped (a stopped loop never writes
# its mark), finished trials kept, resume completes the run
mkdir "$LG_TMP/marks"
QUICK_MARK="$LG_TMP/marks" QUICK_SLEEP=1 "$LOOPGATE" run "$suite" --record "$LG_TMP/int.lgt" --upstream $up \
    --results "$LG_TMP/int.db" --run-id int --no-progress -j 2 >"$LG_TMP/int.out" 2>"$LG_TMP/int.err" &
pid=$!
sleep 2.5
kill -INT "$pid"
set +e
wait "$pid"
rc=$?
set -e
lg_expect_eq "exit status after SIGINT" "$rc" 130
stopped=$(sed -n 's/.*interrupted: \([0-9]*\) running trial(s) stopped.*/\1/p' "$LG_TMP/int.err")
[ -n "$stopped" ] && [ "$stopped" -ge 1 ] ||
    lg_fail "SIGINT did not stop the running trials: $(cat "$LG_TMP/int.err")"
echo "ok: SIGINT stopped $stopped running trial(s)"
part=$(outcomes "$LG_TMP/int.db" int | wc -l)
[ "$part" -gt 0 ] && [ "$part" -lt 60 ] || lg_fail "partial results: $part outcomes"
echo "ok: $part outcomes kept after SIGINT"
sleep 1.5   # a loop the runner failed to stop would write its mark by now
lg_expect_eq "loops that finished (the rest were stopped)" "$(ls "$LG_TMP/marks" | wc -l)" "$part"
"$LOOPGATE" run "$suite" --record "$LG_TMP/int.lgt" --upstream $up --results "$LG_TMP/int.db" \
    --resume int --no-progress -j 2 >/dev/null
outcomes "$LG_TMP/int.db" int >"$LG_TMP/int.txt"
diff "$LG_TMP/all.txt" "$LG_TMP/int.txt" >&2 || lg_fail "resumed after SIGINT differs"
echo "ok: resumed after SIGINT equals the full run"
echo "e2e run_shard: 1 passed, 0 failed"
