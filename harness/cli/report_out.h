/*
 * harness/cli/report_out.h - where rendered reports go: a file, stdout,
 * and GitHub's job summary. Shared by `report`, `compare` (and `run`).
 */
#ifndef LG_REPORT_OUT_H
#define LG_REPORT_OUT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "reports/report.h"

/* Writes `len` bytes to PATH (atomically: a temporary file, then rename),
 * or to stdout when PATH is NULL or "-". Errors name the path (LG_EIO); a
 * closed pipe on stdout (the reader stopped reading) is not an error. */
int lg_cli_write_output(const char *path, const char *data, size_t len, lg_err *err);

/* Appends Markdown (and a blank line) to the file named by
 * $GITHUB_STEP_SUMMARY when that variable is set and not empty; does
 * nothing otherwise, or when it names `written_to` (may be NULL: the file
 * the report was just written to with -o). *appended (may be NULL) says
 * whether it wrote. Errors name the file (LG_EIO). */
int lg_cli_step_summary(const char *md, size_t len, const char *written_to, bool *appended,
                        lg_err *err);

/* Parses a --format value; on failure prints "loopgate CMD: unknown format
 * 'X' (did you mean 'Y'?)" with the list and returns false. */
bool lg_cli_parse_format(const char *cmd, const char *arg, lg_report_format *out);

/* The output options `report` and `compare` share and what they set. */
typedef struct lg_cli_out {
    lg_report_format format; /* -f/--format; LG_REPORT_TERM by default */
    const char *output;      /* -o/--output FILE; NULL (or "-"): stdout */
    const char *results;     /* --results DB */
    bool step_summary;       /* false with --no-step-summary */
} lg_cli_out;

/* Takes lg_cli_getopt()'s result `c` (and `arg`, its optarg: borrowed,
 * argv keeps it) when it is a shared option: 'f' (--format), 'o'
 * (--output), 'r' (--results) or 'S' (--no-step-summary), the codes the
 * commands' option tables give them. Returns 1 when taken, 0 when `c` is
 * none of them, -1 for a bad value (the message for CMD is printed: exit 2). */
int lg_cli_out_option(const char *cmd, int c, const char *arg, lg_cli_out *o);

/* Whether a report rendered for `o` may use colour: term format going to
 * stdout, which is a terminal and colour not turned off (lg_cli_color). */
bool lg_cli_out_color(const lg_cli_out *o);

/* Writes the rendered report (`len` bytes of `data`) where `o` says
 * (lg_cli_write_output), then, for md unless --no-step-summary, appends it
 * to the job summary (lg_cli_step_summary). Errors as theirs. */
int lg_cli_out_write(const lg_cli_out *o, const char *data, size_t len, lg_err *err);

#endif
