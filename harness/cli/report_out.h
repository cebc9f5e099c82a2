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

#endif
