#!/bin/sh
# tests/e2e/proxy_secrets.sh - secrets never reach a trace file, and a
# redacted recording still replays.
#
# The official SDKs (OpenAI chat and Anthropic messages, streamed and not)
# carry real-looking API keys (sk-proj-..., sk-ant-api03-...) and put an
# email address in the prompt; the simulated model echoes it back in its
# tool calls and answers, in streams split across chunks as a real model's
# tokens are. Recorded through `loopgate proxy --redact email`, then:
#   - the raw trace file (and any journal beside it) holds neither key nor
#     the address, nor does the proxy's log;
#   - `loopgate export` decodes every body of every event (requests,
#     responses, headers, stream chunks): tests/e2e/secret_scan.py searches
#     each string and the text reassembled from each stream, and must see
#     the placeholder <redacted:email>; `loopgate compact` on a copy drops no
#     body, so no stored body escaped the export;
#   - replayed with the sim stopped and the same redaction, every loop gives
#     the recorded answer (the address now as its placeholder) with 0
#     divergences and 0 unused calls; without the redaction the same replay
#     diverges at the prompt, which shows the stored request is redacted.
# Failures are collected and reported together.
set -u
. "$(dirname "$0")/lib.sh"
lg_require_node
command -v python3 >/dev/null 2>&1 || lg_fail "python3 is not installed (run scripts/setup)"

STORE="$LG_TMP/secrets.lgt"
EMAIL="jane.doe@example.com"
PROMPT="Weather for $EMAIL in Oslo?"
# shaped like real keys (prefix, length, alphabet); never valid anywhere
export OPENAI_API_KEY="sk-proj-Xq3vT9bN2mK7pL4wR8sY1zA6cE5dF0gH3jJ7kM2nP9qS4tU8vW1xY6zB5cD0eF3gH7iJ2kL6mN9oP4qR8sT1uV5wX0yZ3aB7cT3BlbkFJq9Rk2Lm8Nx4Vb7Zc1Ds5Fg0Hj3Kk6Lp9Qw2Er5Ty8Ui1Oa4Sd7"
export ANTHROPIC_API_KEY="sk-ant-api03-Zr8Qw2Ee4Rt6Yu8Ii0Oo2Pp4Aa6Ss8Dd0Ff2Gg4Hh6Jj8Kk0Ll2Zz4Xx6Cc8Vv0Bb2Nn4Mm6Qq8Ww0Ee2Rr4Tt6Yy8Uu0Ii2Oo4Pp-Ab12Cd34AA"
NEEDLES="email=$EMAIL openai_key=$OPENAI_API_KEY anthropic_key=$ANTHROPIC_API_KEY"

FAILED=0
check_fail() {
    echo "FAIL: $*" >&2
    FAILED=$((FAILED + 1))
}

point_at() {
    export OPENAI_BASE_URL="http://127.0.0.1:$1/v1" ANTHROPIC_BASE_URL="http://127.0.0.1:$1"
}

# run_all TAG: both SDKs, streamed and not, one session each; outputs in $LG_TMP/TAG.*
run_all() {
    for agent in openai_chat anthropic_messages; do
        for mode in plain stream; do
            flag=""
            [ $mode = stream ] && flag=--stream
            LOOPGATE_SESSION="$agent.$mode" lg_agent "$LG_TMP/$1.$agent.$mode" "$agent.mjs" $flag \
                --prompt "$PROMPT" ||
                { cat "$LG_TMP/$1.$agent.$mode.err" >&2; check_fail "$1: $agent $mode exited non-zero"; }
        done
    done
}

# no_secrets_in WHAT FILE...: none of the needles in the bytes of FILE
no_secrets_in() {
    what=$1
    shift
    for f in "$@"; do
        [ -e "$f" ] || continue
        for s in "$EMAIL" "$OPENAI_API_KEY" "$ANTHROPIC_API_KEY"; do
            if grep -a -q -F -e "$s" "$f"; then
                check_fail "$what ($f) contains '$(printf %.16s "$s")...'"
            fi
        done
    done
}

# ---- record
lg_start sim "$LOOPGATE" sim-server --port 0
lg_start px "$LOOPGATE" proxy --mode record --store "$STORE" \
    --upstream "http://127.0.0.1:$sim_PORT" --redact email
point_at "$px_PORT"
run_all rec
lg_stop px || check_fail "record proxy exited $?"
grep -q "loopgate proxy: 12 calls (0 replayed, 12 upstream), 0 divergences" "$LG_TMP/px.err" ||
    { cat "$LG_TMP/px.err" >&2; check_fail "record summary"; }
cp "$LG_TMP/px.err" "$LG_TMP/px.record.err"
lg_stop sim
for t in openai_chat.plain openai_chat.stream anthropic_messages.plain anthropic_messages.stream; do
    # the loops saw the address in what the model sent back: it was live
    case "$(lg_field "$LG_TMP/rec.$t" answer)" in
    *"$EMAIL"*) ;;
    *) check_fail "record: $t answer does not quote the address: $(lg_field "$LG_TMP/rec.$t" answer)" ;;
    esac
done
echo "ok: recorded 12 calls"

# ---- the raw file, its journals and the proxy's log
no_secrets_in "the trace file" "$STORE" "$STORE"-*
no_secrets_in "the record proxy's log" "$LG_TMP/px.record.err"

# ---- every decoded body
"$LOOPGATE" export "$STORE" >"$LG_TMP/export.jsonl" || lg_fail "loopgate export failed"
lg_expect_eq "model calls in the export" "$(grep -c '"type":"model"' "$LG_TMP/export.jsonl")" 12
# shellcheck disable=SC2086
python3 "$E2E_DIR/secret_scan.py" "$LG_TMP/export.jsonl" --expect "<redacted:email>" $NEEDLES ||
    check_fail "secrets in the decoded trace (above: where)"
# a body no event refers to would not be in the export: compact drops such
# bodies, so an unchanged body count means the export decoded them all
cp "$STORE" "$LG_TMP/compacted.lgt"
"$LOOPGATE" compact "$LG_TMP/compacted.lgt" >"$LG_TMP/compact.out" || lg_fail "loopgate compact failed"
cat "$LG_TMP/compact.out"
bodies=$(sed -n 's/.*; \([0-9]*\) -> \([0-9]*\) bodies;.*/\1 \2/p' "$LG_TMP/compact.out")
set -- $bodies
[ $# -eq 2 ] && [ "$1" -gt 0 ] && [ "$1" = "$2" ] ||
    check_fail "bodies not referenced by any event were stored (compact: $bodies)"
no_secrets_in "the compacted trace file" "$LG_TMP/compacted.lgt"
echo "ok: scanned the raw file and every decoded body"

# ---- replay, no upstream
lg_start px "$LOOPGATE" proxy --mode replay --store "$STORE" --fail-on-unused --redact email
point_at "$px_PORT"
run_all rep
lg_stop px || check_fail "replay proxy exited $? (divergences or unused calls?)"
grep -q "loopgate proxy: 12 calls (12 replayed, 0 upstream), 0 divergences, 0 unused" "$LG_TMP/px.err" ||
    { cat "$LG_TMP/px.err" >&2; check_fail "replay summary"; }
no_secrets_in "the replay proxy's log" "$LG_TMP/px.err"
for t in openai_chat.plain openai_chat.stream anthropic_messages.plain anthropic_messages.stream; do
    want=$(lg_field "$LG_TMP/rec.$t" answer | sed 's/jane\.doe@example\.com/<redacted:email>/g')
    got=$(lg_field "$LG_TMP/rep.$t" answer)
    [ "$got" = "$want" ] || check_fail "replayed answer $t: got '$got', want '$want'"
    [ "$(lg_field "$LG_TMP/rep.$t" calls)" = 3 ] || check_fail "replayed calls $t: $(lg_field "$LG_TMP/rep.$t" calls)"
done
echo "ok: the redacted recording replayed"

# ---- without the redaction, the incoming prompt no longer matches the stored one
lg_start px "$LOOPGATE" proxy --mode replay --store "$STORE"
point_at "$px_PORT"
LOOPGATE_SESSION=openai_chat.plain lg_agent "$LG_TMP/nored" openai_chat.mjs --prompt "$PROMPT" &&
    check_fail "a replay without --redact email must diverge"
grep -q '"path":"messages\[1\].content"' "$LG_TMP/nored.err" ||
    check_fail "the divergence does not name messages[1].content: $(cat "$LG_TMP/nored.err")"
lg_stop px
# (its diff shows the unredacted prompt: that run asked for no redaction; keys never)
for s in "$OPENAI_API_KEY" "$ANTHROPIC_API_KEY"; do
    grep -a -q -F -e "$s" "$LG_TMP/px.err" && check_fail "the diverging replay's log holds an API key"
done
echo "ok: the stored prompt is the redacted one"

[ "$FAILED" -eq 0 ] || lg_fail "$FAILED checks failed"
echo "proxy_secrets: all checks passed"
