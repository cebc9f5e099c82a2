/*
 * harness/validate.h - is a loop's answer right? The suite's `expect:`
 * checks and its `validate: {command: ...}` gate.
 *
 * Both see the case WITH its hidden fields (the loop never did). A trial
 * converges only when the loop ended successfully and this says pass.
 *
 * expect: every given check must hold (docs/suite.md):
 *   equals    the answer, trimmed of surrounding white space, equals the
 *             rendered template (ignore_case: compared case-insensitively)
 *   contains  the answer contains each rendered template
 *   regex     the answer matches the rendered POSIX extended regex
 *             (^ and $ also match at line breaks)
 *   json      the answer parses as JSON and contains the given value:
 *             objects by key (extra keys in the answer are fine), arrays
 *             element by element, strings rendered as templates first
 * validate.command: run with the answer on stdin and in the file
 *   $LOOPGATE_ANSWER, the case with hidden fields in $LOOPGATE_CASE, the
 *   work directory in $LOOPGATE_WORKDIR; exit status 0 passes; its stdout
 *   and stderr become the detail.
 *
 * Thread-safe: reads the suite only.
 */
#ifndef LG_VALIDATE_H
#define LG_VALIDATE_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"
#include "harness/suite.h"

typedef struct lg_validate_ctx {
    const lg_suite *suite;        /* borrowed */
    const json_t *case_full;      /* the case object with hidden fields (borrowed) */
    const char *workdir;          /* the trial's work directory (borrowed) */
    volatile sig_atomic_t *cancel; /* optional: stops a running validator */
} lg_validate_ctx;

/*
 * Checks `answer` (len bytes). Sets *pass and appends a short human
 * explanation to `detail` ("expected 'approve', got 'deny'", or the
 * validator's output, capped at a few KB). A suite with neither expect nor
 * validate passes every answer. Returns 0, or an error for problems that
 * are not the answer's fault: a template naming a missing field (LG_EINPUT),
 * a validator command that cannot start (LG_EINPUT), LG_EIO.
 * A validator that crashes or times out is a fail, not an error.
 */
int lg_validate_answer(const lg_validate_ctx *ctx, const char *answer, size_t len, bool *pass,
                       lg_buf *detail, lg_err *err);

#endif
