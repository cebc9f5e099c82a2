# tests/e2e/lib.sh - helpers for the end-to-end tests (sourced, POSIX sh).
#
#   lg_require_node               fail with the fix when the SDKs are not installed
#   lg_start NAME CMD ARGS...     run CMD in the background, wait for its
#                                 "listening on http://127.0.0.1:P" line, set
#                                 NAME_PID and NAME_PORT; killed on exit
#   lg_stop NAME                  kill it now (by PID) and wait for it
#   lg_fail MESSAGE               print "FAIL: MESSAGE" and exit 1
#   lg_expect_eq WHAT GOT WANT    fail unless equal

: "${LOOPGATE:?LOOPGATE must name the loopgate binary}"
: "${LG_SRCDIR:?LG_SRCDIR must name the source tree}"
E2E_DIR="$LG_SRCDIR/tests/e2e"
LG_TMP=$(mktemp -d "${TMPDIR:-/tmp}/lg-e2e.XXXXXX")
LG_PIDS=""

lg_cleanup() {
    [ -n "${LG_KEEP:-}" ] && { echo "kept $LG_TMP" >&2; LG_TMP=/nonexistent; }
    for p in $LG_PIDS; do
        kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
    done
    rm -rf "$LG_TMP"
}
trap lg_cleanup EXIT
trap 'exit 130' INT TERM

lg_fail() {
    echo "FAIL: $*" >&2
    exit 1
}

lg_expect_eq() {
    [ "$2" = "$3" ] || lg_fail "$1: got '$2', want '$3'"
    echo "ok: $1 = $3"
}

lg_require_node() {
    command -v node >/dev/null 2>&1 || lg_fail "node is not installed (run scripts/setup --e2e)"
    [ -d "$E2E_DIR/node_modules/openai" ] && [ -d "$E2E_DIR/node_modules/@anthropic-ai/sdk" ] ||
        lg_fail "the SDKs are not installed in tests/e2e (run scripts/setup --e2e, or npm ci in tests/e2e)"
}

lg_start() {
    name=$1
    shift
    out="$LG_TMP/$name.out"
    # a fresh file: a name reused for a new process must not show the old port
    : >"$out"
    "$@" >"$out" 2>"$LG_TMP/$name.err" &
    pid=$!
    LG_PIDS="$LG_PIDS $pid"
    i=0
    port=""
    while [ $i -lt 200 ]; do
        port=$(sed -n '1s|^listening on http://127\.0\.0\.1:\([0-9][0-9]*\)$|\1|p' "$out")
        [ -n "$port" ] && break
        kill -0 "$pid" 2>/dev/null || { cat "$LG_TMP/$name.err" >&2; lg_fail "$name exited before listening"; }
        sleep 0.05
        i=$((i + 1))
    done
    [ -n "$port" ] || lg_fail "$name did not print its port within 10 s"
    eval "${name}_PID=$pid; ${name}_PORT=$port"
}

lg_stop() {
    eval "pid=\${${1}_PID}"
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    rc=$?
    LG_PIDS=$(echo "$LG_PIDS" | sed "s/ $pid\b//")
    return $rc
}

# lg_agent OUTFILE AGENT.mjs ARGS...: run an agent, keep stdout in OUTFILE; returns its status
lg_agent() {
    o=$1
    a=$2
    shift 2
    timeout 60 node "$E2E_DIR/agents/$a" "$@" >"$o" 2>"$o.err"
}

# lg_field FILE KEY: the value of "KEY: value" in an agent's output
lg_field() {
    sed -n "s/^$2: //p" "$1" | head -n 1
}
