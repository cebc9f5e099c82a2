/*
 * harness/cli/cmd_merge.c - `loopgate merge OUT IN...`: join the results
 * DBs or the trace files of shards.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "core/fs.h"
#include "harness/results.h"
#include "recorder/store.h"

const char cmd_merge_usage[] =
    "usage: loopgate merge OUT IN...\n"
    "\n"
    "Merge the results databases (.db) or the trace files (.lgt) of the shards\n"
    "of a run (loopgate run --shard I/N) into OUT, which is created if missing.\n"
    "All inputs must be of one kind. Results: outcomes of the same run id are\n"
    "joined, and a (run, case, trial) present twice must agree or the merge\n"
    "fails without writing anything. Traces: sessions are copied; a session key\n"
    "in two inputs is an error.\n"
    "\n"
    "Then 'loopgate report RUN_ID --results OUT' reports the whole run.\n";

/* A trace file starts as SQLite too; tell them apart by their tables. */
static int kind_of(const char *path, lg_err *err)
{
    lg_store *st = NULL;
    lg_err e2 = LG_ERR_INIT;
    if (!lg_fs_exists(path))
        return LG_ERR(err, LG_ENOENT, "cannot open '%s': No such file or directory", path);
    if (lg_store_open(path, LG_STORE_READ, &st, &e2) == 0) {
        lg_store_close(st);
        return 1; /* trace */
    }
    return 0; /* results, or an error reported when opened as such */
}

static int merge_traces(const char *out, char **in, int n, lg_err *err)
{
    lg_store *dst = NULL;
    size_t copied = 0;
    int rc;

    if ((rc = lg_store_open(out, LG_STORE_WRITE, &dst, err)))
        return rc;
    for (int i = 0; i < n && !rc; i++) {
        lg_store *src = NULL;
        lg_session_list *list = NULL;
        if ((rc = lg_store_open(in[i], LG_STORE_READ, &src, err)) ||
            (rc = lg_store_list_sessions(src, NULL, &list, err))) {
            lg_store_close(src);
            break;
        }
        for (size_t k = 0; k < list->n && !rc; k++) {
            int64_t id;
            lg_err e2 = LG_ERR_INIT;
            if (i > 0 && lg_store_find_session(dst, list->items[k].key, &id, &e2) == 0) {
                rc = LG_ERR(err, LG_EINPUT,
                            "%s: session '%s' is already in another input; shards never share "
                            "a session",
                            in[i], list->items[k].key);
                break;
            }
            rc = lg_store_session_copy(dst, src, list->items[k].id, err);
            copied += !rc;
        }
        lg_session_list_free(list);
        lg_store_close(src);
    }
    lg_store_close(dst);
    if (!rc)
        printf("merged %zu sessions from %d trace files into %s\n", copied, n, out);
    return rc;
}

static int merge_results(const char *out, char **in, int n, lg_err *err)
{
    lg_results *dst = NULL;
    size_t runs = 0, outs = 0;
    int rc;

    if ((rc = lg_results_open(out, true, &dst, err)))
        return rc;
    for (int i = 0; i < n && !rc; i++) {
        lg_results *src = NULL;
        size_t r1 = 0, o1 = 0;
        if ((rc = lg_results_open(in[i], false, &src, err)))
            break;
        rc = lg_results_merge(dst, src, &r1, &o1, err);
        if (rc)
            lg_err_prefix(err, "%s", in[i]);
        runs += r1;
        outs += o1;
        lg_results_close(src);
    }
    lg_results_close(dst);
    if (!rc)
        printf("merged %zu outcomes of %zu run rows from %d results files into %s\n", outs, runs,
               n, out);
    return rc;
}

int cmd_merge(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    lg_err err = LG_ERR_INIT;
    int c, kind = -1, rc = 0;

    while ((c = lg_cli_getopt(argc, argv, "", opts, "merge", cmd_merge_usage)) != -1) {
        if (c == LG_CLI_HELP)
            return 0;
        return LG_EXIT_USAGE;
    }
    if (argc - optind < 2)
        return lg_cli_usage_error("merge", "needs OUT and at least one IN file");
    for (int i = optind + 1; i < argc; i++) {
        int k = kind_of(argv[i], &err);
        if (k < 0)
            return lg_cli_report(&err);
        if (kind >= 0 && k != kind)
            return lg_cli_usage_error("merge", "'%s' is a %s but '%s' is a %s; merge one kind at a time",
                                      argv[i], k ? "trace file" : "results database",
                                      argv[optind + 1], kind ? "trace file" : "results database");
        kind = k;
    }
    if (kind == 1)
        rc = merge_traces(argv[optind], argv + optind + 1, argc - optind - 1, &err);
    else
        rc = merge_results(argv[optind], argv + optind + 1, argc - optind - 1, &err);
    return rc ? lg_cli_report(&err) : 0;
}
