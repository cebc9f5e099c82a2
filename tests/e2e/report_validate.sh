#!/bin/sh
# tests/e2e/report_validate.sh - `loopgate report` and `loopgate compare`
# through the real binary: JSON output validated against
# docs/report-schema.json (python3-jsonschema, Draft 2020-12), JUnit XML
# against tests/fixtures/junit.xsd (xmllint --schema), Markdown appended to
# $GITHUB_STEP_SUMMARY, a known regression detected (exit 1) and a
# no-change pair not flagged (exit 0), bad input refused (exit 2).
#
# The input documents in tests/fixtures/report/ are goldens of the report
# builder (tests/test_report.c keeps them in sync).
set -u
: "${LOOPGATE:?set by meson}" "${LG_SRCDIR:?set by meson}"
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*" >&2; fail=$((fail + 1)); }
FIX=$LG_SRCDIR/tests/fixtures/report
SCHEMA=$LG_SRCDIR/docs/report-schema.json
XSD=$LG_SRCDIR/tests/fixtures/junit.xsd

command -v xmllint >/dev/null || { echo "FAIL: xmllint missing (scripts/setup installs libxml2-utils)" >&2; exit 1; }
python3 -c 'import jsonschema' 2>/dev/null ||
    { echo "FAIL: python3-jsonschema missing (scripts/setup installs it)" >&2; exit 1; }

# validate_json FILE: exit 0 when FILE is a valid run report
validate_json() {
    python3 - "$SCHEMA" "$1" <<'EOF'
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(json.load(open(sys.argv[2]))),
                key=lambda e: list(e.absolute_path))
for e in errors[:5]:
    print("schema: $%s: %s" % ("".join("[%r]" % p for p in e.absolute_path), e.message[:200]),
          file=sys.stderr)
sys.exit(1 if errors else 0)
EOF
}

# JSON: every fixture renders to a schema-valid document, identical to its input
for f in run hostile base cand_regressed cand_same; do
    "$LOOPGATE" report "$FIX/$f.json" --format json -o "$tmp/$f.json" || bad "report $f --format json exited $?"
    validate_json "$tmp/$f.json" && ok || bad "$f.json output does not match docs/report-schema.json"
    cmp -s "$FIX/$f.json" "$tmp/$f.json" && ok || bad "$f.json does not read back to the same document"
done

# the validator can fail: a misspelt reason and a converged timeout are caught
python3 - "$tmp/run.json" "$tmp/broken.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["outcomes"][0]["reason"] = "sucess"
json.dump(d, open(sys.argv[2], "w"))
EOF
validate_json "$tmp/broken.json" 2>/dev/null && bad "the schema accepted reason 'sucess'" || ok
# ... and loopgate refuses it too, naming the file and the JSON path
out=$("$LOOPGATE" report "$tmp/broken.json" 2>&1); rc=$?
[ $rc -eq 2 ] && ok || bad "a broken report: want exit 2, got $rc"
case "$out" in
*"broken.json: \$.outcomes[0].reason: unknown value 'sucess' (did you mean 'success'?)"*) ok ;;
*) bad "error does not name the file and path: $out" ;;
esac

# JUnit: schema-valid, including the hostile strings (markup, ]]>, quotes, control bytes)
for f in run hostile; do
    "$LOOPGATE" report "$FIX/$f.json" --format junit -o "$tmp/$f.xml" || bad "report $f --format junit exited $?"
    xmllint --noout --schema "$XSD" "$tmp/$f.xml" 2>"$tmp/xmllint.err" && ok ||
        bad "$f.xml does not validate against junit.xsd: $(head -5 "$tmp/xmllint.err")"
done
n=$(grep -c '<testcase ' "$tmp/run.xml")
[ "$n" -eq 36 ] && ok || bad "run.xml: want 36 testcases (12 cases x 3 trials), got $n"
grep -q '<testcase name="case 0 trial 0" classname="refund-policy"' "$tmp/run.xml" && ok ||
    bad "run.xml: no testcase named 'case 0 trial 0'"
# the XSD can fail: a testcase without a name is rejected
sed 's/<testcase name="case 0 trial 0"/<testcase/' "$tmp/run.xml" >"$tmp/noname.xml"
xmllint --noout --schema "$XSD" "$tmp/noname.xml" 2>/dev/null && bad "the XSD accepted a testcase without a name" || ok

# Markdown goes to stdout and is appended to $GITHUB_STEP_SUMMARY
printf '# earlier step\n' >"$tmp/summary.md"
GITHUB_STEP_SUMMARY=$tmp/summary.md "$LOOPGATE" report "$FIX/run.json" --format md >"$tmp/run.md" ||
    bad "report --format md exited $?"
head -1 "$tmp/summary.md" | grep -q '^# earlier step$' && ok || bad "the step summary lost its earlier content"
grep -q '^## loopgate: refund-policy' "$tmp/summary.md" && ok || bad "markdown not appended to GITHUB_STEP_SUMMARY"
grep -q '<details><summary>Failing trials' "$tmp/run.md" && ok || bad "markdown has no failing-trials section"
GITHUB_STEP_SUMMARY=$tmp/summary2.md "$LOOPGATE" report "$FIX/run.json" --format md --no-step-summary >/dev/null
[ ! -e "$tmp/summary2.md" ] && ok || bad "--no-step-summary still wrote the summary"

GITHUB_STEP_SUMMARY=$tmp/summary3.md "$LOOPGATE" report "$FIX/run.json" --format md -o "$tmp/summary3.md"
n=$(grep -c '^## loopgate: refund-policy' "$tmp/summary3.md")
[ "$n" -eq 1 ] && ok || bad "-o \$GITHUB_STEP_SUMMARY wrote the report $n times"

# term: the verdict line is last
"$LOOPGATE" report "$FIX/run.json" >"$tmp/run.txt" || bad "report --format term exited $?"
tail -1 "$tmp/run.txt" | grep -Eq '^(PASS|FAIL): ' && ok || bad "term: last line is not the verdict: $(tail -1 "$tmp/run.txt")"
grep -q "$(printf '\033')" "$tmp/run.txt" && bad "term: colour codes when stdout is not a terminal" || ok

# compare: a known regression (20/20 -> 12/20, 8 flips) exits 1
out=$("$LOOPGATE" compare "$FIX/base.json" "$FIX/cand_regressed.json"); rc=$?
[ $rc -eq 1 ] && ok || bad "compare of a regression: want exit 1, got $rc"
printf '%s\n' "$out" | tail -1 | grep -q '^REGRESSED: 8 of 20 shared cases flipped to fail and 0 to pass; exact McNemar p = 0.00781' && ok ||
    bad "compare verdict line: $(printf '%s\n' "$out" | tail -1)"
printf '%s\n' "$out" | grep -q 'regressed (pass -> fail): cases 3, 4, 5, 6, 7, 8, 9, 10' && ok || bad "flipped cases not listed"
# ... and no change exits 0
out=$("$LOOPGATE" compare "$FIX/base.json" "$FIX/cand_same.json"); rc=$?
[ $rc -eq 0 ] && ok || bad "compare of equal runs: want exit 0, got $rc"
printf '%s\n' "$out" | tail -1 | grep -q '^NO SIGNIFICANT CHANGE: 0 of 20' && ok || bad "no-change verdict: $(printf '%s\n' "$out" | tail -1)"
# a stricter alpha turns the same regression into no significant change
"$LOOPGATE" compare --alpha 0.001 "$FIX/base.json" "$FIX/cand_regressed.json" >/dev/null; rc=$?
[ $rc -eq 0 ] && ok || bad "compare --alpha 0.001: p = 0.0078 is not significant, want exit 0, got $rc"
# every format: json is schema-valid, junit is XSD-valid
"$LOOPGATE" compare "$FIX/base.json" "$FIX/cand_regressed.json" --format json -o "$tmp/cmp.json"
[ $? -eq 1 ] && ok || bad "compare --format json: want exit 1"
validate_json "$tmp/cmp.json" && ok || bad "compare JSON does not match the schema"
"$LOOPGATE" compare "$FIX/base.json" "$FIX/cand_regressed.json" --format junit -o "$tmp/cmp.xml"
xmllint --noout --schema "$XSD" "$tmp/cmp.xml" 2>/dev/null && ok || bad "compare JUnit does not validate"
grep -q '<failure message="REGRESSED' "$tmp/cmp.xml" && ok || bad "compare JUnit has no failure for the regression"
for fmt in md html; do
    "$LOOPGATE" compare "$FIX/base.json" "$FIX/cand_regressed.json" --format $fmt --no-step-summary -o "$tmp/cmp.$fmt"
    grep -q 'REGRESSED: 8 of 20' "$tmp/cmp.$fmt" && ok || bad "compare --format $fmt lacks the verdict"
done
# a compare document loads back as a run report
"$LOOPGATE" report "$tmp/cmp.json" --format json -o "$tmp/cmp2.json" && cmp -s "$tmp/cmp.json" "$tmp/cmp2.json" && ok ||
    bad "the compare document does not read back identically"

# real runs: two replays of the example suite into a results DB; their
# reports (from the DB and from --report-dir) validate, and comparing them
# by run id finds no change
S=$LG_SRCDIR/suites/refund-policy.yaml
T=$LG_SRCDIR/suites/refund-policy.lgt
if [ -f "$S" ] && [ -f "$T" ]; then
    for i in 1 2; do
        # exit 0 or 1 (a gate or a check of the recording failed) both leave a
        # complete run; 2 and 3 do not
        (cd "$tmp" && "$LOOPGATE" run "$S" --replay "$T" --results "$tmp/r.db" --cases 10 \
            --trials 2 --jobs 2 --no-progress --report-dir "$tmp/run$i" >"$tmp/run$i.out" 2>&1)
        rc=$?
        [ $rc -le 1 ] && ok || bad "loopgate run (replay) #$i exited $rc: $(tail -3 "$tmp/run$i.out")"
    done
    validate_json "$tmp/run2/report.json" && ok || bad "--report-dir report.json does not match the schema"
    xmllint --noout --schema "$XSD" "$tmp/run2/report.xml" 2>/dev/null && ok || bad "--report-dir report.xml does not validate"
    "$LOOPGATE" report latest --results "$tmp/r.db" --format json -o "$tmp/db.json" || bad "report latest exited $?"
    validate_json "$tmp/db.json" && ok || bad "report of a DB run does not match the schema"
    n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["outcomes"]))' "$tmp/db.json")
    want=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["metrics"]["trials"])' "$tmp/run2/report.json")
    [ "$n" = "$want" ] && [ "$n" -gt 0 ] && ok || bad "report of a DB run: want $want outcomes, got $n"
    cases=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["metrics"]["cases"])' "$tmp/db.json")
    "$LOOPGATE" report latest --results "$tmp/r.db" --format junit -o "$tmp/db.xml"
    xmllint --noout --schema "$XSD" "$tmp/db.xml" 2>/dev/null && ok || bad "JUnit of a DB run does not validate"
    first=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["run"]["id"])' "$tmp/run1/report.json")
    out=$("$LOOPGATE" compare "$first" latest --results "$tmp/r.db"); rc=$?
    [ $rc -eq 0 ] && ok || bad "compare of two identical replays: want exit 0, got $rc"
    printf '%s\n' "$out" | tail -1 | grep -q "^NO SIGNIFICANT CHANGE: 0 of $cases shared cases" && ok ||
        bad "compare of two replays: $(printf '%s\n' "$out" | tail -1)"
else
    bad "suites/refund-policy.yaml or its trace is missing"
fi

# bad input
"$LOOPGATE" report "$FIX/run.json" --format pdf 2>"$tmp/err"; rc=$?
[ $rc -eq 2 ] && ok || bad "--format pdf: want exit 2, got $rc"
grep -q "unknown format 'pdf'" "$tmp/err" && ok || bad "--format pdf message: $(cat "$tmp/err")"
"$LOOPGATE" report "$tmp/missing.json" 2>"$tmp/err"; rc=$?
[ $rc -eq 2 ] && ok || bad "missing file: want exit 2, got $rc"
grep -q "missing.json" "$tmp/err" && ok || bad "missing file not named: $(cat "$tmp/err")"
"$LOOPGATE" compare "$FIX/base.json" 2>/dev/null; rc=$?
[ $rc -eq 2 ] && ok || bad "compare with one run: want exit 2, got $rc"
"$LOOPGATE" compare --alpha 2 "$FIX/base.json" "$FIX/cand_same.json" 2>/dev/null; rc=$?
[ $rc -eq 2 ] && ok || bad "compare --alpha 2: want exit 2, got $rc"

echo "report_validate: $pass passed, $fail failed"
[ $fail -eq 0 ]
