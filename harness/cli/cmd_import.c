/*
 * harness/cli/cmd_import.c - `loopgate import`: JSON Lines back into a trace file.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "core/buf.h"
#include "core/fs.h"
#include "recorder/store.h"
#include "recorder/tracejson.h"

const char cmd_import_usage[] =
    "usage: loopgate import JSONL FILE\n"
    "\n"
    "Build the trace file FILE from JSONL, an export made by 'loopgate\n"
    "export' (JSONL may be '-' for stdin). Every line is checked before\n"
    "anything is written; an error names JSONL:LINE and the field. FILE must\n"
    "not exist yet: it appears, complete, only when the import succeeded.\n"
    "Exporting the result gives back JSONL byte for byte.\n"
    "\n"
    "Options:\n"
    "  -h, --help   show this help\n"
    "\n"
    "Exit status: 0 ok, 2 bad usage, a bad line or an existing FILE, 3\n"
    "internal error.\n";

static int read_stdin(lg_buf *b, lg_err *err)
{
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
        if (lg_buf_append(b, chunk, n))
            return LG_ERR(err, LG_ETOOBIG, "stdin: too big to import");
    if (ferror(stdin))
        return LG_ERR(err, LG_EIO, "cannot read stdin");
    return 0;
}

int cmd_import(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const char *args[2] = {NULL, NULL};
    char tmp[4096];
    int nargs = 0, c, rc;
    lg_err err = LG_ERR_INIT;
    lg_buf in = LG_BUF_INIT;
    lg_store *st = NULL;
    size_t sessions = 0;

    for (;;) {
        c = lg_cli_getopt(argc, argv, "+", opts, "import", cmd_import_usage);
        if (c == -1) {
            if (optind >= argc)
                break;
            if (nargs == 2)
                return lg_cli_usage_error("import", "unexpected argument '%s'", argv[optind]);
            args[nargs++] = argv[optind++];
            continue;
        }
        return c == LG_CLI_HELP ? LG_EXIT_OK : LG_EXIT_USAGE;
    }
    if (nargs != 2)
        return lg_cli_usage_error("import", "give the export and the trace file to build "
                                            "(loopgate import JSONL FILE)");
    if (lg_fs_exists(args[1])) {
        LG_ERR(&err, LG_EINPUT,
               "%s: exists; import builds a new trace file: remove it or choose another name",
               args[1]);
        return lg_cli_report(&err);
    }
    rc = strcmp(args[0], "-") == 0 ? read_stdin(&in, &err) : lg_fs_read_file(args[0], &in, &err);
    if (rc)
        return lg_cli_report(&err);
    snprintf(tmp, sizeof tmp, "%s.import-%ld.tmp", args[1], (long)getpid());
    if ((rc = lg_store_open(tmp, LG_STORE_WRITE, &st, &err)))
        goto out;
    rc = lg_trace_import(st, in.data ? in.data : "", in.len,
                         strcmp(args[0], "-") == 0 ? "<stdin>" : args[0], &sessions, &err);
    lg_store_close(st);
    st = NULL;
    if (!rc && rename(tmp, args[1]) != 0)
        rc = LG_ERR(&err, LG_EIO, "cannot create %s: %s", args[1], strerror(errno));
    if (!rc)
        printf("imported %zu session%s into %s\n", sessions, sessions == 1 ? "" : "s", args[1]);
out:
    if (rc) {
        char side[4200];
        unlink(tmp);
        snprintf(side, sizeof side, "%s-wal", tmp);
        unlink(side);
        snprintf(side, sizeof side, "%s-shm", tmp);
        unlink(side);
    }
    lg_buf_release(&in);
    return rc ? lg_cli_report(&err) : LG_EXIT_OK;
}
