#!/bin/sh
# tests/e2e/proxy_retry.sh - HTTP 429 with Retry-After, retried by both SDKs,
# recorded and replayed. (tests/e2e/proxy.sh does the OpenAI SDK without
# streaming; this adds the Anthropic SDK, streamed and not, and OpenAI
# streamed, and checks the headers on the wire.)
#
# Against `loopgate sim-server --faults 429:0.4` (seeded: the same 429s every
# run) each loop's SDK meets rate limits and retries them. Recorded through
# `loopgate proxy`: the store holds every attempt, the 429s with their
# retry-after and retry-after-ms headers. Replayed with the sim stopped: a
# request gets the recorded 429 with the same headers, and each loop, its
# SDK retrying again, ends with the recorded answer, consuming every recorded
# attempt (--fail-on-unused, 0 divergences).
set -u
. "$(dirname "$0")/lib.sh"
lg_require_node
command -v python3 >/dev/null 2>&1 || lg_fail "python3 is not installed (run scripts/setup)"

STORE="$LG_TMP/retry.lgt"
export OPENAI_API_KEY=sk-retry-test-openai ANTHROPIC_API_KEY=sk-ant-retry-test
RUNS="anthropic_messages:plain anthropic_messages:stream openai_chat:stream"

point_at() {
    export OPENAI_BASE_URL="http://127.0.0.1:$1/v1" ANTHROPIC_BASE_URL="http://127.0.0.1:$1"
}

# run_all TAG: every run, one session each; outputs in $LG_TMP/TAG.AGENT.MODE
run_all() {
    for r in $RUNS; do
        agent=${r%%:*}
        mode=${r#*:}
        flag=""
        [ "$mode" = stream ] && flag=--stream
        LOOPGATE_SESSION="retry.$agent.$mode" lg_agent "$LG_TMP/$1.$agent.$mode" "$agent.mjs" \
            $flag --max-retries 6 ||
            { cat "$LG_TMP/$1.$agent.$mode.err" >&2; lg_fail "$1: $agent $mode exited non-zero"; }
    done
}

# ---- record against a rate-limiting upstream
lg_start flaky "$LOOPGATE" sim-server --port 0 --faults 429:0.4 --seed 4 --retry-after-ms 30
lg_start px "$LOOPGATE" proxy --mode record --store "$STORE" --upstream "http://127.0.0.1:$flaky_PORT"
point_at "$px_PORT"
run_all rec
lg_stop px || lg_fail "record proxy exited non-zero"
lg_stop flaky
calls=$(sed -n 's/^loopgate proxy: \([0-9]*\) calls (0 replayed, \([0-9]*\) upstream).*/\1 \2/p' "$LG_TMP/px.err")
set -- $calls
[ $# -eq 2 ] && [ "$1" = "$2" ] || { cat "$LG_TMP/px.err" >&2; lg_fail "record summary"; }
RECORDED=$1

# what the store holds: per session, the statuses in order and the 429 headers
"$LOOPGATE" export "$STORE" >"$LG_TMP/export.jsonl" || lg_fail "loopgate export failed"
python3 - "$LG_TMP/export.jsonl" >"$LG_TMP/statuses" <<'EOF' || lg_fail "the stored 429s lack their headers"
import json, sys
ok = True
per = {}
for line in open(sys.argv[1], encoding="utf-8"):
    e = json.loads(line)
    if e.get("type") != "model":
        continue
    per.setdefault(e["session"], []).append(str(e["status"]))
    if e["status"] == 429:
        h = e.get("headers") or {}
        if not h.get("retry-after") or h.get("retry-after-ms") != "30":
            print(f"{e['session']} call {e['call']}: 429 without retry-after/-ms: {h}", file=sys.stderr)
            ok = False
for k in sorted(per):
    print(k, " ".join(per[k]))
sys.exit(0 if ok else 1)
EOF
cat "$LG_TMP/statuses"
for r in $RUNS; do
    agent=${r%%:*}
    mode=${r#*:}
    line=$(grep "^retry.$agent.$mode " "$LG_TMP/statuses")
    case "$line" in
    *" 429 "*" 200"*) ;;
    *) lg_fail "retry.$agent.$mode: no 429 retried to a 200 in the recording: $line" ;;
    esac
    lg_expect_eq "$agent $mode loop calls" "$(lg_field "$LG_TMP/rec.$agent.$mode" calls)" 3
done
lg_expect_eq "stored attempts" "$(grep -c '"type":"model"' "$LG_TMP/export.jsonl")" "$RECORDED"
[ "$RECORDED" -gt 9 ] || lg_fail "expected SDK retries on the wire, saw $RECORDED calls for 9 loop calls"
echo "ok: the SDKs retried $((RECORDED - 9)) rate-limited calls, all recorded"

# ---- the replayed 429 carries the recorded headers: send the first request
# of a session that met a 429 first, raw, to a replay proxy of its own
first=$(python3 - "$LG_TMP/export.jsonl" "$LG_TMP/first.json" <<'EOF'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    e = json.loads(line)
    if e.get("type") == "model" and e["call"] == 0 and e["status"] == 429:
        open(sys.argv[2], "w").write(json.dumps(e["request"]))
        print(e["session"], e["path"])
        break
EOF
)
set -- $first
if [ $# -eq 2 ]; then
    lg_start px "$LOOPGATE" proxy --mode replay --store "$STORE"
    python3 - "http://127.0.0.1:$px_PORT$2" "$1" "$LG_TMP/first.json" >"$LG_TMP/first.head" <<'EOF' ||
import sys, urllib.error, urllib.request
url, session, body = sys.argv[1], sys.argv[2], open(sys.argv[3], "rb").read()
req = urllib.request.Request(url, data=body, method="POST", headers={
    "X-Loopgate-Session": session, "content-type": "application/json"})
try:
    r = urllib.request.urlopen(req, timeout=10)
except urllib.error.HTTPError as e:
    r = e
print(f"HTTP/1.1 {r.status}")
for k, v in r.headers.items():
    print(f"{k.lower()}: {v}")
EOF
        lg_fail "the request to the replay proxy failed"
    lg_stop px
    head -n 1 "$LG_TMP/first.head" | grep -q " 429" || lg_fail "replayed status: $(head -n 1 "$LG_TMP/first.head")"
    grep -qi '^retry-after: [0-9]' "$LG_TMP/first.head" || lg_fail "no retry-after replayed"
    grep -qi '^retry-after-ms: 30' "$LG_TMP/first.head" || lg_fail "no retry-after-ms replayed"
    echo "ok: replayed 429 of $1 with its retry-after headers"
else
    lg_fail "no session met a 429 on its first call (did the sim's fault draws change? pick a --seed that gives one)"
fi

# ---- replay through the SDKs: they retry the recorded 429s again
lg_start px "$LOOPGATE" proxy --mode replay --store "$STORE" --fail-on-unused
point_at "$px_PORT"
run_all rep
lg_stop px || { cat "$LG_TMP/px.err" >&2; lg_fail "replay proxy exited non-zero"; }
grep -q "loopgate proxy: $RECORDED calls ($RECORDED replayed, 0 upstream), 0 divergences, 0 unused" "$LG_TMP/px.err" ||
    { cat "$LG_TMP/px.err" >&2; lg_fail "replay summary (every recorded attempt must be requested again)"; }
for r in $RUNS; do
    agent=${r%%:*}
    mode=${r#*:}
    lg_expect_eq "replayed answer $agent $mode" "$(lg_field "$LG_TMP/rep.$agent.$mode" answer)" \
        "$(lg_field "$LG_TMP/rec.$agent.$mode" answer)"
    lg_expect_eq "replayed loop calls $agent $mode" "$(lg_field "$LG_TMP/rep.$agent.$mode" calls)" 3
done
echo "proxy_retry: all checks passed"
