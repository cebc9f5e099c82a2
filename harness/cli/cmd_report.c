/*
 * harness/cli/cmd_report.c - `loopgate report`: render a run in a format.
 */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "commands.h"
#include "core/buf.h"
#include "report_out.h"
#include "reports/report.h"
#include "rundb.h"

#define DEFAULT_RESULTS ".loopgate/results.db"
#define MAX_POS 3

const char cmd_report_usage[] =
    "usage: loopgate report [RUN_ID|latest|FILE.json] [--format FORMAT] [-o FILE]\n"
    "                       [--results DB] [--no-step-summary]\n"
    "\n"
    "Render one run: from the results DB by id (an id, a unique prefix of one,\n"
    "or 'latest', the default), or from a JSON run report written by\n"
    "'loopgate report --format json' (docs/report-schema.md).\n"
    "\n"
    "Formats:\n"
    "  term    the metrics and gates as aligned tables, the verdict line last\n"
    "          (colour on a terminal unless NO_COLOR is set)\n"
    "  json    the run report document (schema 1), the input of 'loopgate compare'\n"
    "  junit   JUnit XML: one testcase per case x trial, metrics as properties\n"
    "  md      Markdown for a pull-request comment; also appended to the file\n"
    "          named by $GITHUB_STEP_SUMMARY when that is set\n"
    "  html    one self-contained page with SVG charts (opens offline)\n"
    "\n"
    "Options:\n"
    "  -f, --format FORMAT  term (default), json, junit, md or html\n"
    "  -o, --output FILE    write to FILE (replaced atomically) instead of stdout\n"
    "      --results DB     results database (default " DEFAULT_RESULTS ")\n"
    "      --no-step-summary  do not append md output to $GITHUB_STEP_SUMMARY\n"
    "  -h, --help           show this help\n"
    "\n"
    "Exit status: 0 the report was written (whatever its verdict), 2 bad usage,\n"
    "an unknown run or a malformed report file, 3 internal error.\n";

int cmd_report(int argc, char **argv)
{
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"results", required_argument, NULL, 'r'},
        {"no-step-summary", no_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    lg_cli_out o = {.format = LG_REPORT_TERM, .results = DEFAULT_RESULTS, .step_summary = true};
    const char *what = "latest";
    lg_report_opts ro = {0};
    lg_err err = LG_ERR_INIT;
    lg_rundoc *doc = NULL;
    lg_buf out = LG_BUF_INIT;
    const char *pos[MAX_POS];
    size_t npos = 0;
    int c, rc = LG_EXIT_OK;

    /* options may come before or after the operands (lg_cli_getopt permutes) */
    while ((c = lg_cli_getopt(argc, argv, "f:o:", opts, "report", cmd_report_usage)) != -1) {
        int took = lg_cli_out_option("report", c, optarg, &o);
        if (took > 0)
            continue;
        return took == 0 && c == LG_CLI_HELP ? LG_EXIT_OK : LG_EXIT_USAGE;
    }
    for (; optind < argc; optind++, npos++)
        if (npos < MAX_POS)
            pos[npos] = argv[optind];
    if (npos > 1)
        return lg_cli_usage_error("report", "unexpected argument '%s' (one run at a time)",
                                  pos[1]);
    if (npos == 1)
        what = pos[0];
    if (lg_rundb_load_any(o.results, what, &doc, &err))
        return lg_cli_report(&err);
    ro.color = lg_cli_out_color(&o);
    if (lg_report_render(doc, o.format, &ro, &out, &err) ||
        lg_cli_out_write(&o, lg_buf_cstr(&out), out.len, &err))
        rc = lg_cli_report(&err);
    lg_buf_release(&out);
    lg_rundoc_free(doc);
    return rc;
}
