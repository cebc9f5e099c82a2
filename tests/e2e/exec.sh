#!/bin/sh
# tests/e2e/exec.sh - `loopgate exec` inside `loopgate run`: recording runs
# the tool commands and stores their output; replay prints the recorded
# output and exit status WITHOUT running them (proved by side-effect
# counter files); a repeated --idem-key runs once; a changed argument is a
# divergence; outside a session exec just runs the command.
set -u
. "$(dirname "$0")/lib.sh"
cd "$LG_TMP" || exit 1
up=http://127.0.0.1:9 # never called: the loop makes no model call

cat >loop.sh <<'SH'
#!/bin/sh
# A loop without a model: tools with side effects, run through loopgate exec.
# count FILE: adds one to the counter in FILE and prints the new value
count='c=$(cat "$1" 2>/dev/null || echo 0); c=$((c + 1)); echo "$c" >"$1"; echo "run $c of $2"'
a=$("$LOOPGATE" exec --name counter -- sh -c "$count" sh "$SIDE" "$LABEL")
b=$("$LOOPGATE" exec --name uuid -- cat /proc/sys/kernel/random/uuid)
c=$("$LOOPGATE" exec --name once --idem-key k1 -- sh -c "$count" sh "$SIDE2" once)
d=$("$LOOPGATE" exec --name once --idem-key k1 -- sh -c "$count" sh "$SIDE2" once)
e=$(echo piped | "$LOOPGATE" exec --name cat -- cat)
"$LOOPGATE" exec --name fail -- sh -c 'echo oops >&2; exit 3' 2>"$LOOPGATE_WORKDIR/fail.err"
f=$?
"$LOOPGATE" exec --approved --name deploy -- true
echo "a=[$a] b=[$b] c=[$c] d=[$d] e=[$e] f=[$f] err=[$(cat "$LOOPGATE_WORKDIR/fail.err")]" | tee -a "$LOG"
echo done
SH

suite() { # NAME LABEL
    cat >"$1.yaml" <<YAML
name: exec-e2e
cases: {count: 1}
loop:
  command: [sh, $LG_TMP/loop.sh]
  env: {SIDE: $LG_TMP/side, SIDE2: $LG_TMP/side2, LABEL: $2, LOG: $LG_TMP/answers.log}
expect: {contains: done}
invariants:
  approval_required: [deploy]
YAML
}
suite base first
suite changed second

run() { # OUT ARGS...: loopgate run with the test's results DB; returns its status
    o=$1
    shift
    "$LOOPGATE" run "$@" --results "$LG_TMP/r.db" --upstream $up --no-progress --keep-workdirs \
        >"$LG_TMP/$o.out" 2>"$LG_TMP/$o.err"
}

run rec base.yaml --record "$LG_TMP/t.lgt" ||
    { cat "$LG_TMP/rec.out" "$LG_TMP/rec.err" >&2; lg_fail "recording run failed"; }
lg_expect_eq "counter after recording" "$(cat side)" 1
lg_expect_eq "idempotent counter after recording (two calls, one key)" "$(cat side2)" 1
rec=$(sed -n 1p answers.log)
case "$rec" in
"a=[run 1 of first] b=["*"] c=[run 1 of once] d=[run 1 of once] e=[piped] f=[3] err=[oops]") echo "ok: recorded outputs: $rec" ;;
*) lg_fail "unexpected recorded outputs: $rec" ;;
esac

"$LOOPGATE" export "$LG_TMP/t.lgt" >t.jsonl || lg_fail "export failed"
n=$(grep -c '"type":"tool"' t.jsonl)
lg_expect_eq "tool events recorded (the idempotent repeat is not one)" "$n" 6
grep -q '"approve":"deploy"' t.jsonl || lg_fail "no approval note recorded for --approved"

# replay: nothing runs again, the outputs are the recorded ones
run rep base.yaml --replay "$LG_TMP/t.lgt" ||
    { cat "$LG_TMP/rep.out" "$LG_TMP/rep.err" >&2; lg_fail "replay run failed"; }
lg_expect_eq "counter after replay (not run again)" "$(cat side)" 1
lg_expect_eq "idempotent counter after replay" "$(cat side2)" 1
lg_expect_eq "replayed outputs equal the recorded ones" "$(sed -n 2p answers.log)" "$rec"
grep -q "approval_required" rep.out && lg_fail "approval_required violated in replay: $(cat rep.out)"

# a changed argument diverges, and still runs nothing
run div changed.yaml --replay "$LG_TMP/t.lgt"
st=$?
lg_expect_eq "exit status of a diverged replay" "$st" 1
lg_expect_eq "counter after the diverged replay" "$(cat side)" 1
grep -q "diverged from the recording" div.err || { cat div.err >&2; lg_fail "no divergence message"; }
grep -q "tool call 0 ('counter'): differs from the recording at tool\[0\].args\[5\]" div.err ||
    { cat div.err >&2; lg_fail "the divergence does not name the tool call and argument"; }

# outside a session: plain exec semantics
st=0
LOOPGATE_URL= "$LOOPGATE" exec -- sh -c 'exit 7' || st=$?
lg_expect_eq "exit status outside a session" "$st" 7
lg_expect_eq "stdin outside a session" "$(echo hi | LOOPGATE_URL= "$LOOPGATE" exec -- cat)" hi
st=0
LOOPGATE_URL= "$LOOPGATE" exec -- /nonexistent/tool 2>/dev/null || st=$?
lg_expect_eq "missing command outside a session" "$st" 127
st=0
"$LOOPGATE" exec 2>/dev/null || st=$?
lg_expect_eq "usage error without a command" "$st" 2
echo "e2e exec: all checks passed"
