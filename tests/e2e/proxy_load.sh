#!/bin/sh
# tests/e2e/proxy_load.sh - 256 concurrent sessions x 20 calls through
# `loopgate proxy`: recorded against `loopgate sim-server` with no error and
# every call stored (5120), then replayed with the sim stopped: no error, no
# divergence, no unused call, and every response byte-identical to the one
# the client got while recording. The client is tests/load_driver.c (one
# libcurl multi loop, a keep-alive connection per session; OpenAI and
# Anthropic calls, streamed and not).
set -u
. "$(dirname "$0")/lib.sh"

DRIVER="${LG_BUILDDIR:?LG_BUILDDIR must name the build tree}/tests/load_driver"
[ -x "$DRIVER" ] || lg_fail "$DRIVER is not built (ninja -C $LG_BUILDDIR)"
SESSIONS=256
CALLS=20
TOTAL=$((SESSIONS * CALLS))
STORE="$LG_TMP/load.lgt"

summary() {
    sed -n 's/^loopgate proxy: \(.*\), [0-9]* loop events$/\1/p' "$LG_TMP/px.err"
}

# ---- record
lg_start sim "$LOOPGATE" sim-server --port 0
lg_start px "$LOOPGATE" proxy --mode record --store "$STORE" --upstream "http://127.0.0.1:$sim_PORT"
timeout 180 "$DRIVER" --url "http://127.0.0.1:$px_PORT" --sessions $SESSIONS --calls $CALLS \
    --timeout-s 150 --out "$LG_TMP/rec.txt" 2>"$LG_TMP/rec.err" ||
    { cat "$LG_TMP/rec.err" >&2; lg_fail "record: the driver saw errors"; }
cat "$LG_TMP/rec.err"
lg_stop px || { cat "$LG_TMP/px.err" >&2; lg_fail "record proxy exited non-zero"; }
lg_expect_eq "record summary" "$(summary)" \
    "$TOTAL calls (0 replayed, $TOTAL upstream), 0 divergences, 0 unused recorded calls"
lg_stop sim || lg_fail "sim-server did not exit cleanly"

# ---- every call stored, in its session
"$LOOPGATE" show "$STORE" >"$LG_TMP/show.txt" || lg_fail "loopgate show failed"
head -n 1 "$LG_TMP/show.txt"
grep -q "trace format [0-9]*, $SESSIONS sessions, $TOTAL model calls," "$LG_TMP/show.txt" ||
    lg_fail "the store does not hold $SESSIONS sessions and $TOTAL calls: $(head -n 1 "$LG_TMP/show.txt")"
# per session: the CALLS column of every load.N row
bad=$(awk -v k=$CALLS '$1 ~ /^load\./ { n++; if ($4 != k) b++ } END { print n + 0, b + 0 }' "$LG_TMP/show.txt")
lg_expect_eq "sessions listed, sessions without $CALLS calls" "$bad" "$SESSIONS 0"
"$LOOPGATE" show "$STORE" --session load.255 --call 19 >"$LG_TMP/call.txt" ||
    lg_fail "cannot show the last call of the last session"
grep -q "Load session 255, call 19:" "$LG_TMP/call.txt" ||
    lg_fail "call 19 of session load.255 does not hold its request"

# the driver's own record of what it got: all 200, streams included
lg_expect_eq "responses written" "$(grep -c '^=== ' "$LG_TMP/rec.txt")" $TOTAL
lg_expect_eq "non-200 responses" "$(grep '^=== ' "$LG_TMP/rec.txt" | awk '$4 != 200' | wc -l)" 0
lg_expect_eq "streamed responses" "$(grep -c '^=== .* text/event-stream' "$LG_TMP/rec.txt")" $((TOTAL / 2))

# ---- replay, no upstream at all
lg_start px "$LOOPGATE" proxy --mode replay --store "$STORE" --fail-on-unused
timeout 180 "$DRIVER" --url "http://127.0.0.1:$px_PORT" --sessions $SESSIONS --calls $CALLS \
    --timeout-s 150 --out "$LG_TMP/rep.txt" 2>"$LG_TMP/rep.err" ||
    { cat "$LG_TMP/rep.err" >&2; lg_fail "replay: the driver saw errors"; }
cat "$LG_TMP/rep.err"
lg_stop px || { cat "$LG_TMP/px.err" >&2; lg_fail "replay proxy exited non-zero"; }
lg_expect_eq "replay summary" "$(summary)" \
    "$TOTAL calls ($TOTAL replayed, 0 upstream), 0 divergences, 0 unused recorded calls"
cmp "$LG_TMP/rec.txt" "$LG_TMP/rep.txt" ||
    lg_fail "replayed responses differ from the recorded ones (diff $LG_TMP/rec.txt $LG_TMP/rep.txt with LG_KEEP=1)"
echo "ok: $TOTAL replayed responses byte-identical to the recorded ones"
echo "proxy_load: all checks passed"
