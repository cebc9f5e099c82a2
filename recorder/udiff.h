/*
 * recorder/udiff.h - short unified diffs of two texts, for divergence reports.
 *
 * The texts are split at '\n' (a trailing newline gives a last empty line,
 * so "a\n" and "a" differ). The edit script is a minimal line diff (Myers)
 * after trimming the common head and tail; when more than LG_UDIFF_MAX_EDITS
 * edits would be needed, the differing middle is shown as all removed then
 * all added, which is still a correct diff. Output is GNU-style:
 *
 *   --- recorded
 *   +++ incoming
 *   @@ -3,4 +3,4 @@
 *    context
 *   -old line
 *   +new line
 *
 * with the given context and the hunk header rules of GNU diff ("-l" for
 * one line, "-l,0" with l the preceding line for none). Within a run of
 * changes the removed lines come first, then the added ones (GNU order),
 * except when max_lines will cut the run: then each removed line is
 * followed by its added partner, so both sides of the first differences are
 * visible (patch reads that order too). Display safety:
 * control bytes other than tab and invalid UTF-8 bytes are written as \xNN,
 * so the result is valid UTF-8 and safe to print. Limits (see
 * lg_udiff_opts): at most max_lines lines after the two header lines and
 * at most max_bytes bytes of them, then one line "... N more lines" counting
 * what was left out; lines longer than line_max bytes are clipped to a
 * window around the first byte where a removed line and its added partner
 * differ, marked with "..." on the cut sides.
 *
 * Pure functions; thread-safe.
 */
#ifndef LG_UDIFF_H
#define LG_UDIFF_H

#include <stddef.h>

#include "core/buf.h"

#define LG_UDIFF_MAX_EDITS 1000

typedef struct lg_udiff_opts {
    const char *old_label; /* "--- LABEL"; default "a" when NULL */
    const char *new_label; /* "+++ LABEL"; default "b" when NULL */
    unsigned context;      /* lines of context around changes */
    size_t max_lines;      /* 0: no limit */
    size_t max_bytes;      /* 0: no limit */
    size_t line_max;       /* 0: lines are never clipped; else at least 40 */
} lg_udiff_opts;

/* Appends the unified diff of `old_text` and `new_text` to `out`. A NULL
 * text has no lines at all (a value missing on one side); "" is one empty
 * line. When the texts are equal only the two header lines are written.
 * Borrows everything. 0, LG_ENOMEM or LG_ETOOBIG (out's cap). */
int lg_udiff(const char *old_text, size_t old_len, const char *new_text, size_t new_len,
             const lg_udiff_opts *opts, lg_buf *out) LG_WUR;

#endif
