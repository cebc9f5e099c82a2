#!/bin/sh
# tests/e2e/git_diff.sh - with the two lines from docs/trace-format.md,
# `git diff` of a changed trace file prints readable JSON lines.
set -u
. "$LG_SRCDIR/tests/e2e/lib.sh"
command -v git >/dev/null 2>&1 || lg_fail "git is not installed"
L=$LOOPGATE
R="$LG_TMP/repo"
mkdir -p "$R"

# a one-session trace, written as an export and imported
trace() { # $1: the answer the model gave
    cat <<JSONL
{"loopgate_export":1,"trace_format":2}
{"type":"session","key":"0.0","suite":"demo","case":0,"trial":0,"started_ms":1700000000000}
{"session":"0.0","seq":0,"type":"model","t_us":0,"call":0,"provider":"openai","method":"POST","path":"/v1/chat/completions","model":"gpt-4o","fingerprint":"0123456789abcdef0123456789abcdef","status":200,"latency_us":1000,"usage":{"in":10,"out":5},"request":{"model":"gpt-4o","messages":[{"role":"user","content":"What is 6 times 7?"}]},"response":{"choices":[{"message":{"role":"assistant","content":"$1"}}]}}
{"session":"0.0","seq":1,"type":"end","t_us":2000,"reason":"success","converged":true}
JSONL
}
trace "The answer is 42." >"$LG_TMP/v1.jsonl"
trace "The answer is 41." >"$LG_TMP/v2.jsonl"
$L import "$LG_TMP/v1.jsonl" "$LG_TMP/v1.lgt" >/dev/null || lg_fail "import v1 exited $?"
$L import "$LG_TMP/v2.jsonl" "$LG_TMP/v2.lgt" >/dev/null || lg_fail "import v2 exited $?"

cd "$R" || exit 1
git init -q . || lg_fail "git init"
git config user.email e2e@example.invalid
git config user.name e2e
git config commit.gpgsign false
cp "$LG_TMP/v1.lgt" trace.lgt
git add trace.lgt && git commit -q -m "record" || lg_fail "git commit"
cp "$LG_TMP/v2.lgt" trace.lgt

# without the setup git sees a binary file
git diff >"$LG_TMP/plain" 2>&1
grep -q "Binary files" "$LG_TMP/plain" || lg_fail "expected a binary diff first: $(cat "$LG_TMP/plain")"

# the two lines from the docs (with the binary under test for 'loopgate')
echo '*.lgt diff=loopgate' >.gitattributes
git config diff.loopgate.textconv "$L export"
git diff >"$LG_TMP/diff" 2>&1 || lg_fail "git diff exited $?"
cat "$LG_TMP/diff"
grep -q '^-{"session":"0.0","seq":0,"type":"model".*"content":"The answer is 42."' "$LG_TMP/diff" ||
    lg_fail "the old line is not in the diff"
grep -q '^+{"session":"0.0","seq":0,"type":"model".*"content":"The answer is 41."' "$LG_TMP/diff" ||
    lg_fail "the new line is not in the diff"
lg_expect_eq "changed lines (one out, one in)" "$(grep -c '^[-+]{' "$LG_TMP/diff")" 2
grep -q "Binary" "$LG_TMP/diff" && lg_fail "still a binary diff"
echo "git_diff: all passed"
