/*
 * harness/cli/cmd_export.c - `loopgate export`: a trace file as JSON Lines.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "core/buf.h"
#include "core/fs.h"
#include "recorder/store.h"
#include "recorder/tracejson.h"

const char cmd_export_usage[] =
    "usage: loopgate export FILE [--format jsonl] [-o OUT] [--run ID] [--suite NAME]\n"
    "\n"
    "Write the trace file FILE as JSON Lines: a version line, then for each\n"
    "session (by suite, case, trial) a session line and one line per event,\n"
    "with request and response bodies inline (as JSON when they are JSON,\n"
    "else as text). Two exports of similar traces diff well, and\n"
    "'loopgate import' turns an export back into the same trace.\n"
    "\n"
    "To review traces in git, put these two lines in place once:\n"
    "  echo '*.lgt diff=loopgate' >> .gitattributes\n"
    "  git config diff.loopgate.textconv 'loopgate export'\n"
    "\n"
    "Options:\n"
    "  --format jsonl   the output format (jsonl is the only one so far)\n"
    "  -o, --output OUT write to OUT (replaced only once complete) instead of stdout\n"
    "  --run ID         only the sessions of run ID\n"
    "  --suite NAME     only the sessions of suite NAME\n"
    "  -h, --help       show this help\n"
    "\n"
    "The file is opened read-only and never changed. Exit status: 0 ok, 2 bad\n"
    "usage or a missing, damaged or foreign file (the message says which), 3\n"
    "internal error.\n";

static int to_stdout(void *ctx, const char *line, size_t len)
{
    (void)ctx;
    return fwrite(line, 1, len, stdout) != len || putchar('\n') == EOF;
}

static int to_buf(void *ctx, const char *line, size_t len)
{
    lg_buf *b = ctx;
    return lg_buf_append(b, line, len) || lg_buf_append_byte(b, '\n');
}

int cmd_export(int argc, char **argv)
{
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'}, {"output", required_argument, NULL, 'o'},
        {"run", required_argument, NULL, 'r'},    {"suite", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    lg_session_filter filter = LG_SESSION_FILTER_ANY;
    const char *file = NULL, *out = NULL;
    lg_err err = LG_ERR_INIT;
    lg_store *st = NULL;
    lg_buf buf = LG_BUF_INIT;
    int c, rc;

    while ((c = lg_cli_getopt_operand(argc, argv, "o:", opts, "export", cmd_export_usage,
                                      &file)) != -1) {
        switch (c) {
        case LG_CLI_HELP:
            return LG_EXIT_OK;
        case LG_CLI_BAD:
            return LG_EXIT_USAGE;
        case 'f':
            if (strcmp(optarg, "jsonl") != 0)
                return lg_cli_usage_error("export", "unknown format '%s' (jsonl is the one there is)",
                                          optarg);
            break;
        case 'o':
            out = optarg;
            break;
        case 'r':
            filter.run = optarg;
            break;
        case 's':
            filter.suite = optarg;
            break;
        default:
            return LG_EXIT_USAGE;
        }
    }
    if (!file)
        return lg_cli_usage_error("export", "which trace file? (loopgate export FILE)");
    if ((rc = lg_store_open(file, LG_STORE_READ, &st, &err)) || (rc = lg_store_check(st, &err)))
        goto out;
    rc = out ? lg_trace_export(st, &filter, to_buf, &buf, &err)
             : lg_trace_export(st, &filter, to_stdout, NULL, &err);
    if (!rc && out)
        rc = lg_fs_write_file_atomic(out, buf.data ? buf.data : "", buf.len, &err);
    if (!rc && !out && fflush(stdout) != 0)
        rc = LG_ERR(&err, LG_EIO, "cannot write the export to stdout");
out:
    lg_store_close(st);
    lg_buf_release(&buf);
    return rc ? lg_cli_report(&err) : LG_EXIT_OK;
}
