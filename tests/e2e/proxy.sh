#!/bin/sh
# tests/e2e/proxy.sh - the official SDKs through `loopgate proxy`: record
# against `loopgate sim-server`, stop the sim, replay (same answers and call
# counts, no upstream); a changed prompt diverges at the right call and JSON
# path; a 429 with Retry-After is retried by the SDK, recorded and replayed;
# the API key and a redacted email never reach the trace file.
set -u
. "$(dirname "$0")/lib.sh"
lg_require_node

STORE="$LG_TMP/e2e.lgt"
export OPENAI_API_KEY=sk-e2e-SECRET-4f9a8b7c6d5e ANTHROPIC_API_KEY=sk-ant-e2e-SECRET-1a2b3c4d

lg_start sim "$LOOPGATE" sim-server --port 0
lg_start flaky "$LOOPGATE" sim-server --port 0 --faults 429:0.4 --seed 11 --retry-after-ms 20

# run_all TAG: every agent in both modes, one session each, outputs in $LG_TMP/TAG.*
run_all() {
    for agent in openai_chat anthropic_messages; do
        for mode in plain stream; do
            flag=""
            [ $mode = stream ] && flag=--stream
            LOOPGATE_SESSION="$agent.$mode" lg_agent "$LG_TMP/$1.$agent.$mode" "$agent.mjs" $flag ||
                { cat "$LG_TMP/$1.$agent.$mode.err" >&2; lg_fail "$1: $agent $mode exited non-zero"; }
        done
    done
}

point_at() {
    export OPENAI_BASE_URL="http://127.0.0.1:$1/v1" ANTHROPIC_BASE_URL="http://127.0.0.1:$1"
}

# ---- record
lg_start px "$LOOPGATE" proxy --mode record --store "$STORE" \
    --upstream "http://127.0.0.1:$sim_PORT" --redact email
point_at "$px_PORT"
run_all rec
LOOPGATE_SESSION=secret lg_agent "$LG_TMP/rec.secret" openai_chat.mjs \
    --prompt "Weather for jane.doe@example.com in Oslo?" || lg_fail "secret run failed"
lg_stop px || lg_fail "record proxy exited $? (want 0)"
grep -q "loopgate proxy: 15 calls (0 replayed, 15 upstream), 0 divergences" "$LG_TMP/px.err" ||
    { cat "$LG_TMP/px.err" >&2; lg_fail "record summary"; }
echo "ok: recorded 15 calls"

# ---- a flaky upstream: the SDK retries the 429s, all of it recorded
lg_start px "$LOOPGATE" proxy --mode record --store "$STORE" --upstream "http://127.0.0.1:$flaky_PORT"
point_at "$px_PORT"
LOOPGATE_SESSION=flaky lg_agent "$LG_TMP/rec.flaky" openai_chat.mjs --max-retries 5 ||
    { cat "$LG_TMP/rec.flaky.err" >&2; lg_fail "flaky run failed"; }
lg_stop px || lg_fail "flaky record proxy exited non-zero"
flaky_calls=$(sed -n 's/^loopgate proxy: \([0-9]*\) calls.*/\1/p' "$LG_TMP/px.err")
[ "${flaky_calls:-0}" -gt 3 ] || lg_fail "expected 429 retries on the wire, saw $flaky_calls calls for 3 loop calls"
lg_expect_eq "flaky loop calls" "$(lg_field "$LG_TMP/rec.flaky" calls)" 3
echo "ok: the SDK retried $((flaky_calls - 3)) rate-limited calls"

# ---- no upstream from here on
lg_stop sim
lg_stop flaky

# ---- replay: same answers, same call counts
lg_start px "$LOOPGATE" proxy --mode replay --store "$STORE" --fail-on-unused --redact email
point_at "$px_PORT"
run_all rep
LOOPGATE_SESSION=secret lg_agent "$LG_TMP/rep.secret" openai_chat.mjs \
    --prompt "Weather for jane.doe@example.com in Oslo?" || lg_fail "secret replay failed (redacted recording must match)"
LOOPGATE_SESSION=flaky lg_agent "$LG_TMP/rep.flaky" openai_chat.mjs --max-retries 5 ||
    { cat "$LG_TMP/rep.flaky.err" >&2; lg_fail "flaky replay failed"; }
lg_stop px || { cat "$LG_TMP/px.err" >&2; lg_fail "replay proxy exited non-zero"; }
grep -q "loopgate proxy: $((15 + flaky_calls)) calls ($((15 + flaky_calls)) replayed, 0 upstream), 0 divergences, 0 unused" "$LG_TMP/px.err" ||
    { cat "$LG_TMP/px.err" >&2; lg_fail "replay summary"; }
for t in openai_chat.plain openai_chat.stream anthropic_messages.plain anthropic_messages.stream secret flaky; do
    # the recording holds responses redacted too: the email comes back as a placeholder
    want=$(lg_field "$LG_TMP/rec.$t" answer | sed 's/jane\.doe@example\.com/<redacted:email>/g')
    lg_expect_eq "replayed answer $t" "$(lg_field "$LG_TMP/rep.$t" answer)" "$want"
    lg_expect_eq "replayed calls $t" "$(lg_field "$LG_TMP/rep.$t" calls)" "$(lg_field "$LG_TMP/rec.$t" calls)"
done

# ---- a changed prompt diverges at call 0, at the user message
lg_start px "$LOOPGATE" proxy --mode replay --store "$STORE" --redact email
point_at "$px_PORT"
LOOPGATE_SESSION=openai_chat.plain lg_agent "$LG_TMP/div.openai" openai_chat.mjs --prompt "Weather in Rome?" &&
    lg_fail "a diverged replay must fail the loop"
grep -q "HTTP 409" "$LG_TMP/div.openai.err" || lg_fail "no 409 in the loop's log: $(cat "$LG_TMP/div.openai.err")"
grep -q '"path":"messages\[1\].content"' "$LG_TMP/div.openai.err" ||
    lg_fail "409 body does not name messages[1].content: $(cat "$LG_TMP/div.openai.err")"
grep -q '"call":0' "$LG_TMP/div.openai.err" || lg_fail "409 body does not name call 0"
LOOPGATE_SESSION=anthropic_messages.stream lg_agent "$LG_TMP/div.anth" anthropic_messages.mjs --stream \
    --prompt "Weather in Rome?" && lg_fail "a diverged anthropic replay must fail the loop"
grep -q '"path":"messages\[0\].content"' "$LG_TMP/div.anth.err" ||
    lg_fail "anthropic 409 body does not name messages[0].content: $(cat "$LG_TMP/div.anth.err")"
lg_stop px
rc=$?
lg_expect_eq "diverged replay exit status" "$rc" 1
grep -q "session openai_chat.plain, call 0: request differs from the recording at messages\[1\].content" "$LG_TMP/px.err" ||
    { cat "$LG_TMP/px.err" >&2; lg_fail "proxy did not report the divergence"; }
grep -q -- "-What is the weather in Paris?" "$LG_TMP/px.err" && grep -q -- "+Weather in Rome?" "$LG_TMP/px.err" ||
    lg_fail "the divergence diff is missing"
echo "ok: divergence named with call and path"

# ---- secrets
for s in "$OPENAI_API_KEY" "$ANTHROPIC_API_KEY" "jane.doe@example.com"; do
    if grep -a -q -F "$s" "$STORE"; then lg_fail "'$s' is in the trace file"; fi
done
echo "ok: no key or redacted email in the trace file"
echo "proxy: all checks passed"
