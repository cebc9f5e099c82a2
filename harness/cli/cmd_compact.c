/*
 * harness/cli/cmd_compact.c - `loopgate compact`: make a trace file as small as it gets.
 */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "commands.h"
#include "core/fs.h"
#include "recorder/store.h"

const char cmd_compact_usage[] =
    "usage: loopgate compact FILE\n"
    "\n"
    "Rewrite the trace file FILE for size before committing it: drop bodies no\n"
    "session uses any more (left by re-recorded sessions), train the\n"
    "compression dictionary again on every body, recode everything at the\n"
    "highest zstd level, and vacuum the file. The sessions and every byte of\n"
    "their bodies stay the same ('loopgate export' prints the same before and\n"
    "after). One transaction: an interrupted compact leaves the file as it was.\n"
    "Run it when nothing else is writing the file.\n"
    "\n"
    "Options:\n"
    "  -h, --help   show this help\n"
    "\n"
    "Exit status: 0 ok, 2 bad usage or a bad file, 3 internal error.\n";

int cmd_compact(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const char *file = NULL;
    lg_store_stats before, after;
    lg_err err = LG_ERR_INIT;
    int c;

    c = lg_cli_getopt_operand(argc, argv, "", opts, "compact", cmd_compact_usage, &file);
    if (c != -1) /* no options but --help */
        return c == LG_CLI_HELP ? LG_EXIT_OK : LG_EXIT_USAGE;
    if (!file)
        return lg_cli_usage_error("compact", "which trace file? (loopgate compact FILE)");
    if (!lg_fs_exists(file)) { /* compact never creates a trace */
        LG_ERR(&err, LG_ENOENT, "%s: no such trace file; check the path", file);
        return lg_cli_report(&err);
    }
    if (lg_store_compact(file, &before, &after, &err))
        return lg_cli_report(&err);
    printf("%s: %llu -> %llu bytes (%.1f%%); %llu sessions; %llu -> %llu bodies; dictionary %llu "
           "bytes\n",
           file, (unsigned long long)before.file_bytes, (unsigned long long)after.file_bytes,
           before.file_bytes ? 100.0 * (double)after.file_bytes / (double)before.file_bytes : 100.0,
           (unsigned long long)after.sessions, (unsigned long long)before.blobs,
           (unsigned long long)after.blobs, (unsigned long long)after.dict_bytes);
    return LG_EXIT_OK;
}
