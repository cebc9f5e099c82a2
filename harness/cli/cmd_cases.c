/*
 * harness/cli/cmd_cases.c - `loopgate cases`: print a suite's synthetic cases as JSONL.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "core/buf.h"
#include "core/json.h"
#include "harness/cases.h"
#include "harness/suite.h"

const char cmd_cases_usage[] =
    "usage: loopgate cases SUITE [--count N] [--from I] [--show-hidden]\n"
    "\n"
    "Print the synthetic cases of a suite as JSON Lines, one case per line:\n"
    "\n"
    "  {\"case\":{\"amount\":120,\"customer\":\"Ada Lovelace\",...},\"index\":37}\n"
    "\n"
    "Case I is a pure function of the suite's seed and I, so a line is the\n"
    "same on every machine and run, whatever --count and --from are. Lines are\n"
    "canonical JSON (keys sorted, compact).\n"
    "\n"
    "Options:\n"
    "  --count N       print N cases (default: the suite's cases.count)\n"
    "  --from I        start at case I (default 0)\n"
    "  --show-hidden   include hidden fields (what validators see) and list\n"
    "                  their names under \"hidden\"; by default cases are shown\n"
    "                  as the loop sees them\n"
    "  -h, --help      show this help\n"
    "\n"
    "Exit status: 0 ok, 2 bad usage or a bad suite file (the message names\n"
    "FILE:LINE:COL), 3 internal error.\n";

static int hidden_names(const lg_suite *s, json_t **out)
{
    json_t *arr = json_array();
    if (!arr)
        return -1;
    for (size_t i = 0; i < lg_casegen_nfields(s->cases); i++) {
        bool hidden;
        const char *name = lg_casegen_field(s->cases, i, &hidden, NULL);
        if (hidden && json_array_append_new(arr, json_string(name))) {
            json_decref(arr);
            return -1;
        }
    }
    *out = arr;
    return 0;
}

int cmd_cases(int argc, char **argv)
{
    static const struct option opts[] = {
        {"count", required_argument, NULL, 'n'},
        {"from", required_argument, NULL, 'f'},
        {"show-hidden", no_argument, NULL, 'H'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    unsigned long long count = 0, from = 0;
    bool have_count = false, show_hidden = false;
    lg_err err = LG_ERR_INIT;
    lg_suite *suite = NULL;
    json_t *hidden = NULL;
    lg_buf line = LG_BUF_INIT;
    const char *path = NULL;
    int c, rc = LG_EXIT_OK;

    /* options may come before or after the suite path */
    while ((c = lg_cli_getopt_operand(argc, argv, "", opts, "cases", cmd_cases_usage, &path)) !=
           -1) {
        switch (c) {
        case 'n':
            if (lg_cli_parse_u64("cases", "--count", optarg, INT64_MAX, &count))
                return LG_EXIT_USAGE;
            have_count = true;
            break;
        case 'f':
            if (lg_cli_parse_u64("cases", "--from", optarg, INT64_MAX, &from))
                return LG_EXIT_USAGE;
            break;
        case 'H':
            show_hidden = true;
            break;
        case LG_CLI_HELP:
            return LG_EXIT_OK;
        default:
            return LG_EXIT_USAGE;
        }
    }
    if (!path)
        return lg_cli_usage_error("cases", "missing the suite file (loopgate cases SUITE)");
    if (lg_suite_load(path, &suite, &err))
        return lg_cli_report(&err);
    if (!have_count)
        count = suite->count;
    if (count > (unsigned long long)INT64_MAX - from) {
        lg_suite_free(suite);
        return lg_cli_usage_error("cases", "--from + --count must stay below 2^63");
    }
    if (show_hidden && hidden_names(suite, &hidden)) {
        LG_ERR(&err, LG_ENOMEM, "out of memory");
        goto out;
    }
    for (unsigned long long i = from; i < from + count; i++) {
        json_t *kase = NULL, *rec;
        if (lg_cases_generate(suite, i, show_hidden ? LG_CASES_HIDDEN : 0, &kase, &err))
            goto out;
        rec = json_pack("{s:I,s:o}", "index", (json_int_t)i, "case", kase);
        if (rec && hidden && json_object_set(rec, "hidden", hidden)) {
            json_decref(rec);
            rec = NULL;
        }
        if (!rec) {
            LG_ERR(&err, LG_ENOMEM, "out of memory");
            goto out;
        }
        lg_buf_reset(&line);
        rc = lg_json_dump_canonical(rec, &line, &err);
        json_decref(rec);
        if (rc || lg_buf_append_byte(&line, '\n')) {
            LG_ERR(&err, LG_ENOMEM, "out of memory");
            goto out;
        }
        if (fwrite(line.data, 1, line.len, stdout) != line.len) {
            LG_ERR(&err, LG_EIO, "cannot write to standard output: %s", strerror(errno));
            goto out;
        }
    }
    if (fflush(stdout) != 0)
        LG_ERR(&err, LG_EIO, "cannot write to standard output: %s", strerror(errno));
out:
    json_decref(hidden);
    lg_buf_release(&line);
    lg_suite_free(suite);
    return lg_err_isset(&err) ? lg_cli_report(&err) : LG_EXIT_OK;
}
