/*
 * harness/cli/cmd_runs.c - `loopgate runs`: the runs of a results DB.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "core/clock.h"
#include "harness/results.h"

const char cmd_runs_usage[] =
    "usage: loopgate runs [--results DB] [--limit N]\n"
    "\n"
    "List the runs in a results database, newest first: id, suite, mode,\n"
    "status, trials stored, converged, start time.\n"
    "\n"
    "      --results DB   results database (default .loopgate/results.db)\n"
    "      --limit N      at most N runs (default 20; 0 = all)\n";

int cmd_runs(int argc, char **argv)
{
    static const struct option opts[] = {
        {"results", required_argument, NULL, 'r'},
        {"limit", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = ".loopgate/results.db";
    unsigned long long limit = 20;
    lg_results *db = NULL;
    lg_run_record **runs = NULL;
    size_t n = 0;
    lg_err err = LG_ERR_INIT;
    int c, rc = 0;

    while ((c = lg_cli_getopt(argc, argv, "", opts, "runs", cmd_runs_usage)) != -1) {
        if (c == LG_CLI_HELP)
            return 0;
        if (c == 'r')
            path = optarg;
        else if (c == 'n') {
            if (lg_cli_parse_u64("runs", "--limit", optarg, 1000000000, &limit))
                return LG_EXIT_USAGE;
        } else
            return LG_EXIT_USAGE;
    }
    if (optind < argc)
        return lg_cli_usage_error("runs", "unexpected argument '%s'", argv[optind]);
    if ((rc = lg_results_open(path, false, &db, &err)) ||
        (rc = lg_results_list_runs(db, (size_t)limit, &runs, &n, &err)))
        goto out;
    if (n == 0) {
        printf("no runs in %s\n", path);
        goto out;
    }
    printf("%-22s %-20s %-14s %-16s %7s %9s  %s\n", "RUN", "SUITE", "MODE", "STATUS", "TRIALS",
           "CONVERGED", "STARTED");
    for (size_t i = 0; i < n; i++) {
        lg_outcome_set *set = NULL;
        size_t conv = 0;
        char when[25];
        if ((rc = lg_results_outcomes(db, runs[i]->id, &set, &err)))
            goto out;
        for (size_t k = 0; k < set->n; k++)
            conv += set->items[k].converged;
        lg_clock_iso8601(runs[i]->started_ms, when);
        printf("%-22s %-20s %-14s %-16s %7zu %9zu  %.19s\n", runs[i]->id,
               runs[i]->suite_name ? runs[i]->suite_name : "?", runs[i]->mode ? runs[i]->mode : "?",
               runs[i]->status ? runs[i]->status : "?", set->n, conv, when);
        lg_outcome_set_free(set);
    }
out:
    for (size_t i = 0; i < n; i++)
        lg_run_record_free(runs[i]);
    free(runs);
    lg_results_close(db);
    return rc ? lg_cli_report(&err) : 0;
}
