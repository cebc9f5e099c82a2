#!/bin/sh
# tests/e2e/store_cli.sh - `loopgate show`, `export`, `import` and `compact`
# on trace files made by the store benchmark's generator (bench_store), and
# the exit status and message of each kind of bad file.
set -u
. "$LG_SRCDIR/tests/e2e/lib.sh"
: "${LG_BUILDDIR:?set by meson}"
L=$LOOPGATE
B="$LG_BUILDDIR/bench/bench_store"
T=$LG_TMP
[ -x "$B" ] || lg_fail "$B is not built"

# expect_fail STATUS TEXT CMD...: CMD exits STATUS and says TEXT on stderr
expect_fail() {
    want=$1 text=$2
    shift 2
    "$@" >"$T/out" 2>"$T/err"
    got=$?
    [ "$got" = "$want" ] || lg_fail "$*: exit $got, want $want ($(cat "$T/err"))"
    grep -q -- "$text" "$T/err" || lg_fail "$*: stderr lacks '$text': $(cat "$T/err")"
    echo "ok: $* -> $want: $(head -1 "$T/err")"
}

"$B" --quick --sessions 6 --no-peer --keep --dir "$T" >"$T/bench.json" ||
    lg_fail "bench_store exited $?"
K8="$T/store-k8.lgt"
K32="$T/store-k32.lgt"
sum8=$(cksum <"$K8")

# show: the list, a timeline, a call, the diff
$L show "$K8" >"$T/list" || lg_fail "show exited $?"
grep -q "6 sessions, 48 model calls" "$T/list" || lg_fail "show header: $(head -1 "$T/list")"
lg_expect_eq "sessions listed" "$(grep -c '^[0-9]\.0 ' "$T/list")" 6
$L show "$K8" --session 3.0 >"$T/timeline" || lg_fail "show --session exited $?"
lg_expect_eq "timeline model events" "$(grep -c ' model #' "$T/timeline")" 8
grep -q ' end success (converged)' "$T/timeline" || lg_fail "timeline lacks the end event"
$L show "$K8" --session 3.0 --call 2 >"$T/call" || lg_fail "show --call exited $?"
grep -q '^request (' "$T/call" && grep -q '^response (' "$T/call" && grep -q '"role": "tool"' "$T/call" ||
    lg_fail "show --call lacks the bodies"
$L show "$K8" --session 3.0 --diff >"$T/diff" || lg_fail "show --diff exited $?"
grep -q '^  + messages\[3\]: {"role":"tool"' "$T/diff" || lg_fail "--diff lacks the added tool message"
lg_expect_eq "diff lines for 7 follow-up requests" "$(grep -c '^  + messages\[' "$T/diff")" 14
expect_fail 2 "no session '3.9' (did you mean" $L show "$K8" --session 3.9
expect_fail 2 "no call 8" $L show "$K8" --session 3.0 --call 8
expect_fail 2 "needs --session" $L show "$K8" --diff

# export -> import -> export is byte-identical; reading changed nothing
$L export "$K8" >"$T/a.jsonl" || lg_fail "export exited $?"
lg_expect_eq "export lines" "$(wc -l <"$T/a.jsonl")" $((1 + 6 * (1 + 9)))
head -1 "$T/a.jsonl" | grep -qx '{"loopgate_export":1,"trace_format":2}' || lg_fail "version line: $(head -1 "$T/a.jsonl")"
$L import "$T/a.jsonl" "$T/b.lgt" >"$T/imp" || lg_fail "import exited $?"
grep -q "imported 6 sessions" "$T/imp" || lg_fail "import said: $(cat "$T/imp")"
$L export "$T/b.lgt" | cmp -s - "$T/a.jsonl" || lg_fail "export of the import differs"
echo "ok: export -> import -> export is byte-identical"
$L export "$K8" -o "$T/c.jsonl" && cmp -s "$T/c.jsonl" "$T/a.jsonl" || lg_fail "export -o differs"
lg_expect_eq "trace unchanged by show/export" "$(cksum <"$K8")" "$sum8"
lg_expect_eq "no journal files left" "$(ls "$T" | grep -c -- '-wal\|-shm\|\.tmp')" 0
expect_fail 2 "exists; import builds a new trace" $L import "$T/a.jsonl" "$T/b.lgt"
sed '3s/"seq":0/"seq":7/' "$T/a.jsonl" >"$T/bad.jsonl"
expect_fail 2 "bad.jsonl:3: event seq 7 out of order" $L import "$T/bad.jsonl" "$T/never.lgt"
[ ! -e "$T/never.lgt" ] || lg_fail "a failed import left a file"

# compact: smaller or equal, same export
$L export "$K32" >"$T/k32.jsonl" || lg_fail "export k32 exited $?"
size0=$(wc -c <"$K32")
$L compact "$K32" >"$T/compact" || lg_fail "compact exited $?"
grep -q "bytes" "$T/compact" || lg_fail "compact said: $(cat "$T/compact")"
[ "$(wc -c <"$K32")" -le "$size0" ] || lg_fail "compact grew the file"
$L export "$K32" | cmp -s - "$T/k32.jsonl" || lg_fail "export differs after compact"
echo "ok: compact keeps every byte ($(cat "$T/compact"))"

# bad files: exit 2, the file named, nothing created or changed
expect_fail 2 "missing.lgt: no such trace file" $L show "$T/missing.lgt"
expect_fail 2 "missing.lgt: no such trace file" $L export "$T/missing.lgt"
expect_fail 2 "missing.lgt: no such trace file" $L compact "$T/missing.lgt"
[ ! -e "$T/missing.lgt" ] || lg_fail "a reader created the missing file"
mkdir "$T/dir.lgt"
expect_fail 2 "is a directory" $L show "$T/dir.lgt"
printf 'hello, world\n' >"$T/text.lgt"
expect_fail 2 "not an SQLite database" $L export "$T/text.lgt"
: >"$T/empty.lgt"
expect_fail 2 "empty file" $L show "$T/empty.lgt"
size=$(wc -c <"$K8")
head -c $((size / 2)) "$K8" >"$T/half.lgt"
expect_fail 2 "truncated" $L show "$T/half.lgt"
expect_fail 2 "truncated" $L export "$T/half.lgt"
cp "$K8" "$T/bent.lgt"
# damage the end of every page after the first: the cells live there
pages=$((size / 4096))
i=2
while [ $i -le "$pages" ]; do
    printf 'XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX' |
        dd of="$T/bent.lgt" bs=1 seek=$((i * 4096 - 120)) conv=notrunc 2>/dev/null
    i=$((i + 1))
done
sumb=$(cksum <"$T/bent.lgt")
expect_fail 2 "corrupt" $L show "$T/bent.lgt"
expect_fail 2 "restore it from version control" $L export "$T/bent.lgt"
lg_expect_eq "damaged file left as it was" "$(cksum <"$T/bent.lgt")" "$sumb"
echo "store_cli: all passed"
