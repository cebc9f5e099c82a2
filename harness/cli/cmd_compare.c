/*
 * harness/cli/cmd_compare.c - `loopgate compare BASE CANDIDATE`: the paired
 * exact McNemar test on the cases both runs share, with a verdict.
 */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "commands.h"
#include "core/buf.h"
#include "core/suggest.h"
#include "report_out.h"
#include "reports/report.h"
#include "rundb.h"

#define DEFAULT_RESULTS ".loopgate/results.db"
#define MAX_POS 3

const char cmd_compare_usage[] =
    "usage: loopgate compare BASE CANDIDATE [--format FORMAT] [--alpha A] [--rule RULE]\n"
    "                        [--drop D] [-o FILE] [--results DB] [--no-step-summary]\n"
    "\n"
    "Compare a candidate run with a baseline run. Each is a run id in the\n"
    "results DB (an id, a unique prefix or 'latest') or a JSON run report\n"
    "(loopgate report --format json). Shows the metrics side by side with\n"
    "deltas and intervals, the exact two-sided McNemar test over the cases\n"
    "present in both runs, its verdict at level alpha (improved, regressed,\n"
    "no significant change), the cases that flipped, and how many shared\n"
    "cases a paired test needs to detect a given drop (docs/metrics.md).\n"
    "\n"
    "Options:\n"
    "  -f, --format FORMAT  term (default), json, junit, md or html\n"
    "      --alpha A        significance level, in (0, 1) (default 0.05)\n"
    "      --rule RULE      when a case with several trials passes: majority\n"
    "                       (default: more than half converged), all or any\n"
    "      --drop D         the drop the power note is about (default 0.05)\n"
    "  -o, --output FILE    write to FILE (replaced atomically) instead of stdout\n"
    "      --results DB     results database (default " DEFAULT_RESULTS ")\n"
    "      --no-step-summary  do not append md output to $GITHUB_STEP_SUMMARY\n"
    "  -h, --help           show this help\n"
    "\n"
    "Exit status: 0 improved or no significant change, 1 regressed, 2 bad usage,\n"
    "an unknown run or a malformed report file, 3 internal error.\n";

int cmd_compare(int argc, char **argv)
{
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'},
        {"alpha", required_argument, NULL, 'a'},
        {"rule", required_argument, NULL, 'R'},
        {"drop", required_argument, NULL, 'd'},
        {"output", required_argument, NULL, 'o'},
        {"results", required_argument, NULL, 'r'},
        {"no-step-summary", no_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const char *const rules[] = {"majority", "all", "any", NULL};
    lg_cli_out o = {.format = LG_REPORT_TERM, .results = DEFAULT_RESULTS, .step_summary = true};
    lg_rundoc_compare_opts co = {0};
    lg_report_opts ro = {0};
    lg_err err = LG_ERR_INIT;
    lg_rundoc *base = NULL, *cand = NULL;
    lg_buf out = LG_BUF_INIT;
    const char *pos[MAX_POS];
    size_t npos = 0;
    int c, rc = LG_EXIT_OK;

    co.alpha = 0.05;
    co.drop = 0.05;
    co.rule = LG_CASE_MAJORITY;
    /* options may come before or after the operands (lg_cli_getopt permutes) */
    while ((c = lg_cli_getopt(argc, argv, "f:o:", opts, "compare", cmd_compare_usage)) != -1) {
        int took = lg_cli_out_option("compare", c, optarg, &o);
        if (took < 0)
            return LG_EXIT_USAGE;
        if (took > 0)
            continue;
        switch (c) {
        case 'a':
            if (lg_cli_parse_double("compare", "--alpha", optarg, 1e-12, 1 - 1e-12, &co.alpha))
                return LG_EXIT_USAGE;
            break;
        case 'd':
            if (lg_cli_parse_double("compare", "--drop", optarg, 1e-12, 1 - 1e-12, &co.drop))
                return LG_EXIT_USAGE;
            break;
        case 'R':
            if (!lg_case_rule_from_name(optarg, &co.rule)) {
                const char *guess = lg_suggest(optarg, rules);
                if (guess)
                    return lg_cli_usage_error("compare", "unknown --rule '%s' (did you mean "
                                              "'%s'?); use majority, all or any", optarg, guess);
                return lg_cli_usage_error("compare", "unknown --rule '%s'; use majority, all "
                                          "or any", optarg);
            }
            break;
        case LG_CLI_HELP:
            return LG_EXIT_OK;
        default:
            return LG_EXIT_USAGE;
        }
    }
    for (; optind < argc; optind++, npos++)
        if (npos < MAX_POS)
            pos[npos] = argv[optind];
    if (npos < 2)
        return lg_cli_usage_error("compare", "missing %s (loopgate compare BASE CANDIDATE)",
                                  npos == 0 ? "BASE and CANDIDATE" : "CANDIDATE");
    if (npos > 2)
        return lg_cli_usage_error("compare", "unexpected argument '%s'", pos[2]);
    if (lg_rundb_load_any(o.results, pos[0], &base, &err)) {
        lg_err_prefix(&err, "baseline");
        goto out;
    }
    if (lg_rundb_load_any(o.results, pos[1], &cand, &err)) {
        lg_err_prefix(&err, "candidate");
        goto out;
    }
    if (lg_rundoc_compare(cand, base, &co, &err))
        goto out;
    ro.color = lg_cli_out_color(&o);
    if (lg_report_render_compare(cand, o.format, &ro, &out, &err) ||
        lg_cli_out_write(&o, lg_buf_cstr(&out), out.len, &err))
        goto out;
    if (cand->comparison->cmp.verdict == LG_VERDICT_REGRESSED)
        rc = LG_EXIT_GATE;
out:
    if (lg_err_isset(&err))
        rc = lg_cli_report(&err);
    lg_buf_release(&out);
    lg_rundoc_free(base);
    lg_rundoc_free(cand);
    return rc;
}
