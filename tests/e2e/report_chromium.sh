#!/bin/sh
# tests/e2e/report_chromium.sh - the HTML report in a real browser: headless
# Chromium (Debian's chromium, installed by scripts/setup) renders
# `loopgate report --format html` to a PNG and to its DOM. The PNG must not
# be blank (many distinct colours: text, bars, bands) and the DOM must hold
# the numbers of the run, read independently from its JSON document. The
# page fetches nothing: Chromium runs with networking features off and the
# page's CSP forbids every load.
#
# Installs nothing; fails with the fix when chromium is missing.
set -u
: "${LOOPGATE:?set by meson}" "${LG_SRCDIR:?set by meson}"
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*" >&2; fail=$((fail + 1)); }
FIX=$LG_SRCDIR/tests/fixtures/report

CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROMIUM" ] || { echo "FAIL: chromium is not installed (scripts/setup installs Debian's chromium)" >&2; exit 1; }

chrome() { # ARGS... ; every run gets its own profile and a time limit
    timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --disable-default-apps --disable-extensions --mute-audio --hide-scrollbars \
        --user-data-dir="$(mktemp -d "$tmp/profile.XXXXXX")" "$@"
}

"$LOOPGATE" report "$FIX/run.json" --format html -o "$tmp/run.html" || bad "report --format html exited $?"
"$LOOPGATE" compare "$FIX/base.json" "$FIX/cand_regressed.json" --format html -o "$tmp/cmp.html"
[ $? -eq 1 ] && ok || bad "compare --format html: want exit 1 (regressed)"

# screenshot: a PNG that is not blank
chrome --window-size=1200,2000 --screenshot="$tmp/run.png" "file://$tmp/run.html" >/dev/null 2>"$tmp/chrome.err" ||
    bad "chromium --screenshot failed: $(tail -3 "$tmp/chrome.err")"
[ -s "$tmp/run.png" ] && ok || bad "no screenshot written"

# count distinct colours by decoding the PNG with zlib (no PIL needed)
colours=$(python3 - "$tmp/run.png" <<'EOF'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, w = 8, b"", 0
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
        assert depth == 8 and ctype in (2, 6) and interlace == 0, (depth, ctype, interlace)
        bpp = 3 if ctype == 2 else 4
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
raw = zlib.decompress(idat)
stride = w * bpp
prev = bytearray(stride)
seen = set()
for y in range(h):
    f = raw[y * (stride + 1)]
    line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    if y % 2 == 0:
        for x in range(0, stride, bpp * 2):
            seen.add(bytes(line[x:x + 3]))
    prev = line
print(len(seen))
EOF
)
[ "${colours:-0}" -ge 20 ] 2>/dev/null && ok || bad "the screenshot looks blank: ${colours:-?} distinct colours"
echo "screenshot: ${colours:-?} distinct colours"

# the DOM holds the run's numbers, computed here from the JSON document
chrome --dump-dom "file://$tmp/run.html" >"$tmp/dom.html" 2>"$tmp/chrome.err" || bad "chromium --dump-dom failed"
python3 - "$FIX/run.json" "$tmp/dom.html" <<'EOF' && ok || bad "the DOM lacks the expected numbers"
import json, re, sys
doc = json.load(open(sys.argv[1]))
dom = open(sys.argv[2], encoding="utf-8").read()
m = doc["metrics"]
want = {
    "convergence_rate": "%.4f" % m["convergence_rate"]["value"],
    "cases.total": str(m["cases"]),
    "cases.never_converged": str(len(m["stability"]["never_converged"])),
    "tokens.total": str(m["tokens"]["total"]),
    "iterations.mean": "%.2f" % m["iterations"]["mean"],
}
bad = 0
for name, value in want.items():
    got = re.search(r'data-metric="%s">([^<]*)<' % re.escape(name), dom)
    if not got or got.group(1) != value:
        print("DOM: %s = %r, want %r" % (name, got and got.group(1), value), file=sys.stderr)
        bad = 1
# the charts were parsed as SVG by the browser: five figures with an <svg> each
figs = re.findall(r'<figure id="(chart-[a-z]+)">\s*<svg', dom)
if sorted(figs) != sorted(["chart-curve", "chart-iterations", "chart-cost", "chart-reasons",
                           "chart-violations"]):
    print("DOM charts: %r" % figs, file=sys.stderr)
    bad = 1
fails = sum(1 for o in doc["outcomes"] if not o["converged"])
if "Failing trials (%d)" % fails not in dom:
    print("DOM lacks 'Failing trials (%d)'" % fails, file=sys.stderr)
    bad = 1
if doc["verdict"]["summary"].split(":")[0] not in dom:
    print("DOM lacks the verdict", file=sys.stderr)
    bad = 1
sys.exit(bad)
EOF

# the compare page renders its verdict
chrome --dump-dom "file://$tmp/cmp.html" >"$tmp/cmp_dom.html" 2>/dev/null || bad "chromium --dump-dom (compare) failed"
grep -q 'REGRESSED: 8 of 20 shared cases' "$tmp/cmp_dom.html" && ok || bad "compare DOM lacks the verdict"

echo "report_chromium: $pass passed, $fail failed"
[ $fail -eq 0 ]
