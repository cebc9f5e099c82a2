#!/bin/sh
# tests/e2e/suite_errors.sh - every broken suite in tests/fixtures/suites/bad/
# makes `loopgate cases` exit 2 with exactly the message in NAME.expected
# (paths as given on the command line, relative to the source tree).
set -u
: "${LOOPGATE:?set by meson}" "${LG_SRCDIR:?set by meson}"
cd "$LG_SRCDIR" || exit 1
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0

check() { # NAME EXPECTED-STDERR-FILE ARGS...
    name=$1 want=$2; shift 2
    "$LOOPGATE" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ "$rc" -ne 2 ]; then
        echo "FAIL $name: exit $rc, want 2" >&2
        fail=$((fail + 1)); return
    fi
    if [ -s "$tmp/out" ]; then
        echo "FAIL $name: printed on stdout:" >&2; cat "$tmp/out" >&2
        fail=$((fail + 1)); return
    fi
    if ! cmp -s "$want" "$tmp/err"; then
        echo "FAIL $name: stderr differs" >&2
        diff "$want" "$tmp/err" >&2
        fail=$((fail + 1)); return
    fi
    pass=$((pass + 1))
}

n=0
for y in tests/fixtures/suites/bad/*.yaml; do
    name=${y%.yaml}
    if [ ! -f "$name.expected" ]; then
        echo "FAIL $y: no $name.expected beside it" >&2
        fail=$((fail + 1)); continue
    fi
    check "$(basename "$name")" "$name.expected" cases "$y"
    n=$((n + 1))
done
if [ "$n" -lt 12 ]; then
    echo "FAIL: only $n bad suite fixtures, want at least 12" >&2
    fail=$((fail + 1))
fi

# a missing file: not found, exit 2, the path as given
printf "loopgate: cannot open 'no/such/suite.yaml': No such file or directory\n" >"$tmp/want"
check missing_file "$tmp/want" cases no/such/suite.yaml

# bad flags: exit 2 with a did-you-mean
printf "loopgate cases: unknown option '--cuont' (did you mean '--count'?)\nTry 'loopgate cases --help' for usage.\n" >"$tmp/want"
check bad_flag "$tmp/want" cases suites/refund-policy.yaml --cuont 3
printf "loopgate cases: --count expects an integer from 0 to 9223372036854775807, got 'ten'\nTry 'loopgate cases --help' for usage.\n" >"$tmp/want"
check bad_count "$tmp/want" cases suites/refund-policy.yaml --count ten
printf "loopgate cases: missing the suite file (loopgate cases SUITE)\nTry 'loopgate cases --help' for usage.\n" >"$tmp/want"
check no_suite "$tmp/want" cases
printf "loopgate cases: unexpected argument 'extra.yaml'\nTry 'loopgate cases --help' for usage.\n" >"$tmp/want"
check two_suites "$tmp/want" cases suites/refund-policy.yaml extra.yaml

echo "suite_errors: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
