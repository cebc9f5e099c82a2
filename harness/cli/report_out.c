/*
 * harness/cli/report_out.c - report destinations: file, stdout, job summary.
 */
#include "report_out.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "core/fs.h"
#include "core/suggest.h"

int lg_cli_write_output(const char *path, const char *data, size_t len, lg_err *err)
{
    if (!path || strcmp(path, "-") == 0) {
        if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0) {
            /* the reader went away (`loopgate report | head`): not our failure */
            if (errno == EPIPE)
                return 0;
            return LG_ERR(err, LG_EIO, "cannot write the report to stdout: %s", strerror(errno));
        }
        return 0;
    }
    return lg_fs_write_file_atomic(path, data, len, err);
}

int lg_cli_step_summary(const char *md, size_t len, const char *written_to, bool *appended,
                        lg_err *err)
{
    const char *path = getenv("GITHUB_STEP_SUMMARY");
    int fd;

    if (appended)
        *appended = false;
    if (!path || !*path || (written_to && strcmp(written_to, path) == 0))
        return 0;
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return LG_ERR(err, LG_EIO, "cannot open GITHUB_STEP_SUMMARY file '%s': %s", path,
                      strerror(errno));
    if (lg_fs_write_all(fd, md, len) != 0 || lg_fs_write_all(fd, "\n", 1) != 0) {
        int e = errno;
        close(fd);
        return LG_ERR(err, LG_EIO, "cannot append to GITHUB_STEP_SUMMARY file '%s': %s", path,
                      strerror(e));
    }
    if (close(fd) != 0)
        return LG_ERR(err, LG_EIO, "cannot append to GITHUB_STEP_SUMMARY file '%s': %s", path,
                      strerror(errno));
    if (appended)
        *appended = true;
    return 0;
}

bool lg_cli_parse_format(const char *cmd, const char *arg, lg_report_format *out)
{
    const char *guess;
    if (lg_report_format_from_name(arg, out))
        return true;
    guess = lg_suggest(arg, lg_report_format_names);
    if (guess)
        lg_cli_usage_error(cmd, "unknown format '%s' (did you mean '%s'?); use term, json, junit, "
                           "md or html", arg, guess);
    else
        lg_cli_usage_error(cmd, "unknown format '%s'; use term, json, junit, md or html", arg);
    return false;
}

int lg_cli_out_option(const char *cmd, int c, const char *arg, lg_cli_out *o)
{
    switch (c) {
    case 'f':
        return lg_cli_parse_format(cmd, arg, &o->format) ? 1 : -1;
    case 'o':
        o->output = arg;
        return 1;
    case 'r':
        o->results = arg;
        return 1;
    case 'S':
        o->step_summary = false;
        return 1;
    }
    return 0;
}

bool lg_cli_out_color(const lg_cli_out *o)
{
    return o->format == LG_REPORT_TERM && (!o->output || !strcmp(o->output, "-")) &&
           lg_cli_color(STDOUT_FILENO);
}

int lg_cli_out_write(const lg_cli_out *o, const char *data, size_t len, lg_err *err)
{
    int rc = lg_cli_write_output(o->output, data, len, err);
    if (rc)
        return rc;
    if (o->format == LG_REPORT_MD && o->step_summary)
        return lg_cli_step_summary(data, len, o->output, NULL, err);
    return 0;
}
