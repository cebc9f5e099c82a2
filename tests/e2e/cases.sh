#!/bin/sh
# tests/e2e/cases.sh - `loopgate cases` is deterministic and windowed by --from/--count.
set -u
: "${LOOPGATE:?set by meson}" "${LG_SRCDIR:?set by meson}"
cd "$LG_SRCDIR" || exit 1
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*" >&2; fail=$((fail + 1)); }
S=suites/refund-policy.yaml

"$LOOPGATE" cases $S --count 100 >"$tmp/a" || bad "cases --count 100 exited $?"
"$LOOPGATE" cases $S --count 100 >"$tmp/b" || bad "second run exited $?"
[ "$(wc -l <"$tmp/a")" -eq 100 ] && ok || bad "want 100 lines, got $(wc -l <"$tmp/a")"
cmp -s "$tmp/a" "$tmp/b" && ok || bad "two runs differ"

# case 37 alone equals line 38 of the full listing; so does a window around it
"$LOOPGATE" cases $S --from 37 --count 1 >"$tmp/one" || bad "--from 37 exited $?"
sed -n 38p "$tmp/a" >"$tmp/line38"
cmp -s "$tmp/one" "$tmp/line38" && ok || bad "--from 37 --count 1 differs from line 38 of --count 100"
grep -q '"index":37}$' "$tmp/one" && ok || bad "case 37 does not carry index 37: $(cat "$tmp/one")"
"$LOOPGATE" cases --from 30 --count 20 $S >"$tmp/win" || bad "window exited $?"
sed -n 31,50p "$tmp/a" | cmp -s - "$tmp/win" && ok || bad "--from 30 --count 20 differs from lines 31-50"

# default count is the suite's cases.count (50)
"$LOOPGATE" cases $S >"$tmp/def" || bad "default run exited $?"
[ "$(wc -l <"$tmp/def")" -eq 50 ] && ok || bad "default count: want 50 lines, got $(wc -l <"$tmp/def")"

# hidden fields: absent by default, present with --show-hidden, visible fields unchanged
grep -q '"expected"' "$tmp/a" && bad "hidden field 'expected' shown by default" || ok
"$LOOPGATE" cases $S --count 100 --show-hidden >"$tmp/h" || bad "--show-hidden exited $?"
n=$(grep -c '"expected":"\(approve\|deny\|escalate\)"' "$tmp/h")
[ "$n" -eq 100 ] && ok || bad "--show-hidden: 'expected' on $n of 100 lines"
grep -q '"hidden":\["expected"\]' "$tmp/h" && ok || bad "--show-hidden does not list the hidden fields"
# dropping the hidden parts gives back the default output exactly
sed -e 's/"expected":"[a-z]*",//' -e 's/,"hidden":\["expected"\]//' "$tmp/h" | cmp -s - "$tmp/a" \
    && ok || bad "--show-hidden changed visible fields"

# each line is canonical JSON (keys sorted, compact): check with python if there
if command -v python3 >/dev/null 2>&1; then
    python3 - "$tmp/h" <<'PY' && ok || bad "lines are not canonical JSON"
import json, sys
for line in open(sys.argv[1]):
    line = line.rstrip("\n")
    if json.dumps(json.loads(line), sort_keys=True, separators=(",", ":"), ensure_ascii=False) != line:
        sys.exit(1)
PY
fi

# the other bundled suite generates too
"$LOOPGATE" cases suites/codegen-gate.yaml --count 5 --show-hidden >"$tmp/cg" || bad "codegen-gate exited $?"
[ "$(grep -c '"test":"from solution import' "$tmp/cg")" -eq 5 ] && ok || bad "codegen-gate hidden tests missing"

echo "cases: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
