#!/bin/sh
# tests/e2e/builtin_run.sh - `loopgate run` of a `loop: builtin:` suite
# against the in-process simulated model: the approval gate through
# --approve and --approvals (escalated with a packet without them), and the
# same outcomes in replay without running the tool.
set -u
. "$(dirname "$0")/lib.sh"
cd "$LG_TMP" || exit 1

cat >deploy.yaml <<YAML
name: deploy
cases:
  count: 2
  generators:
    service: {choice: [api, web]}
loop:
  builtin:
    provider: sim
    model: sim-1
    prompt: "Deploy {{service}}."
    tools:
      - name: deploy
        parameters: {type: object, properties: {service: {type: string}}}
        command: 'echo deployed >> $LG_TMP/deploys; echo "deployed {{service}}"'
        requires_approval: true
invariants:
  approval_required: [deploy]
YAML

run() { # NAME ARGS...
    n=$1
    shift
    "$LOOPGATE" run deploy.yaml --upstream sim --results r.db --no-progress "$@" >"$n.out" 2>"$n.err"
}

run noapp --record t0.lgt
lg_expect_eq "exit status without approval (no gates, trials escalated)" "$?" 0
grep -q "termination.escalated  *2" noapp.out || { cat noapp.out >&2; lg_fail "trials did not escalate"; }
[ ! -e deploys ] || lg_fail "the tool ran without an approval"
packet=$(ls .loopgate/work/*/0.0/escalation.json 2>/dev/null | head -n 1)
[ -n "$packet" ] || lg_fail "no escalation packet in the work directory"
python3 - "$packet" <<'PY' || lg_fail "bad escalation packet"
import json, sys
p = json.load(open(sys.argv[1]))
assert p["failing"] == ["approval_required"], p
assert p["context"]["pending_tool_call"]["tool"] == "deploy", p
PY
echo "ok: escalated with a packet ($packet)"

run app --record t1.lgt --approve deploy || { cat app.out app.err >&2; lg_fail "approved run failed"; }
grep -q "termination.success  *2" app.out || { cat app.out >&2; lg_fail "approved trials did not succeed"; }
grep -q "invariant_violation_rate  *0.0000" app.out || { cat app.out >&2; lg_fail "approval_required violated"; }
lg_expect_eq "deploys run (2 cases x 2 tool turns)" "$(wc -l <deploys)" 4

printf '# approved by ops\ndeploy\n' >approvals.txt
run file --replay t1.lgt --approvals approvals.txt || { cat file.out file.err >&2; lg_fail "replay with --approvals failed"; }
grep -q "termination.success  *2" file.out || { cat file.out >&2; lg_fail "replayed trials did not succeed"; }
grep -q "invariant_violation_rate  *0.0000" file.out || { cat file.out >&2; lg_fail "approval_required violated in replay"; }
lg_expect_eq "deploys after the replay (none ran)" "$(wc -l <deploys)" 4

printf 'deploy now\n' >bad.txt
st=0
run bad --replay t1.lgt --approvals bad.txt || st=$?
lg_expect_eq "exit status of a bad approvals file" "$st" 2
grep -q "bad.txt:1: 'deploy now' is not a tool name" bad.err || { cat bad.err >&2; lg_fail "no message for a bad approvals file"; }
echo "e2e builtin_run: all checks passed"
