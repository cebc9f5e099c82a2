#!/bin/sh
# tests/layering.sh - a lower layer never includes a higher layer's header.
# core <- recorder <- harness <- reports <- harness/cli
set -u
cd "${LG_SRCDIR:-$(dirname "$0")/..}"
bad=0
check() { # layer-dir forbidden-prefix...
    dir=$1; shift
    for f in $(find "$dir" -maxdepth 1 -name '*.[ch]'); do
        for p in "$@"; do
            if grep -nE "^#include \"$p/" "$f"; then
                echo "layering: $f includes a header of higher layer '$p'" >&2
                bad=1
            fi
        done
    done
}
check core recorder harness reports
check recorder harness reports
check harness reports harness/cli
check reports harness/cli
if [ $bad = 0 ]; then echo "layering: 1 passed, 0 failed"; else echo "layering: 0 passed, 1 failed"; fi
exit $bad
