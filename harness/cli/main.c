/*
 * harness/cli/main.c - the loopgate command: global flags and the subcommand table.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "core/log.h"
#include "core/suggest.h"
#include "lg_version.h"

const lg_cli_cmd lg_cli_commands[] = {
    {"run", cmd_run, "run a suite: every trial through the proxy, judged, gated", cmd_run_usage},
    {"runs", cmd_runs, "list the runs of a results database", cmd_runs_usage},
    {"merge", cmd_merge, "merge the results or trace files of shards", cmd_merge_usage},
    {"cases", cmd_cases, "print the synthetic cases of a suite as JSONL", cmd_cases_usage},
    {"sim-server", cmd_sim_server, "serve a deterministic simulated model (OpenAI and Anthropic APIs)", cmd_sim_server_usage},
    {"exec", cmd_exec, "run a tool command so the session records it (replay: without running it)", cmd_exec_usage},
    {"proxy", cmd_proxy, "record or replay the model calls of any program (standalone proxy)", cmd_proxy_usage},
    {"report", cmd_report, "render a run: term, json, junit, md or html", cmd_report_usage},
    {"compare", cmd_compare, "compare a candidate run with a baseline (exact McNemar)", cmd_compare_usage},
    {"show", cmd_show, "list the sessions of a trace file, or one session's events", cmd_show_usage},
    {"export", cmd_export, "write a trace file as JSON Lines (bodies inline; git textconv)", cmd_export_usage},
    {"import", cmd_import, "build a trace file from an export", cmd_import_usage},
    {"compact", cmd_compact, "shrink a trace file: retrain, recompress, vacuum", cmd_compact_usage},
    {"version", cmd_version, "print the version", cmd_version_usage},
    {NULL, NULL, NULL, NULL},
};

static const char main_usage_head[] =
    "usage: loopgate [-v|-q] COMMAND [ARGS...]\n"
    "\n"
    "Record, replay and evaluate LLM agent loops in CI.\n"
    "\n"
    "Commands:\n";

static const char main_usage_tail[] =
    "\n"
    "Global options:\n"
    "  -h, --help      show this help; 'loopgate help CMD' or 'loopgate CMD --help' for a command\n"
    "  -V, --version   print the version and exit\n"
    "  -v, --verbose   more log output on stderr (repeat for debug)\n"
    "  -q, --quiet     only errors on stderr\n"
    "\n"
    "Environment:\n"
    "  LOOPGATE_LOG    log level: error, warn (default), info, debug\n"
    "  NO_COLOR        when set and not empty, never use colour\n"
    "\n"
    "Exit status:\n"
    "  0  ok\n"
    "  1  a gate failed (or replay diverged)\n"
    "  2  bad usage or input (flags, suite files, trace files, requests)\n"
    "  3  internal error\n";

static void main_usage(FILE *out)
{
    fputs(main_usage_head, out);
    for (const lg_cli_cmd *c = lg_cli_commands; c->name; c++)
        fprintf(out, "  %-12s %s\n", c->name, c->summary);
    fputs(main_usage_tail, out);
}

const char cmd_version_usage[] =
    "usage: loopgate version\n"
    "\n"
    "Print the loopgate version and the trace format it writes.\n";

int cmd_version(int argc, char **argv)
{
    int c;
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    while ((c = lg_cli_getopt(argc, argv, "", opts, "version", cmd_version_usage)) != -1) {
        if (c == LG_CLI_HELP)
            return 0;
        return LG_EXIT_USAGE;
    }
    if (optind < argc)
        return lg_cli_usage_error("version", "unexpected argument '%s'", argv[optind]);
    printf("loopgate %s\n", LG_VERSION);
    return 0;
}

static const lg_cli_cmd *find_cmd(const char *name)
{
    for (const lg_cli_cmd *c = lg_cli_commands; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

static int unknown_command(const char *name)
{
    const char *names[64];
    size_t n = 0;
    for (const lg_cli_cmd *c = lg_cli_commands; c->name && n < 63; c++)
        names[n++] = c->name;
    names[n] = NULL;
    const char *guess = lg_suggest(name, names);
    if (guess)
        fprintf(stderr, "loopgate: unknown command '%s' (did you mean '%s'?)\n", name, guess);
    else
        fprintf(stderr, "loopgate: unknown command '%s'\n", name);
    fprintf(stderr, "Try 'loopgate --help' for the list of commands.\n");
    return LG_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    int i = 1, level = LG_LOG_WARN;
    const char *env = getenv("LOOPGATE_LOG");

    if (env && *env) {
        int l = lg_log_parse_level(env);
        if (l < 0) {
            fprintf(stderr, "loopgate: LOOPGATE_LOG='%s' is not a level; use error, warn, info or debug\n", env);
            return LG_EXIT_USAGE;
        }
        level = l;
    }
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            main_usage(stdout);
            return 0;
        } else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
            printf("loopgate %s\n", LG_VERSION);
            return 0;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            level = level < LG_LOG_DEBUG ? level + 1 : level;
        } else if (!strcmp(a, "-vv")) {
            level = LG_LOG_DEBUG;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            level = LG_LOG_ERROR;
        } else {
            static const char *const globals[] = {"--help", "--version", "--verbose", "--quiet", NULL};
            const char *guess = lg_suggest(a, globals);
            if (guess)
                fprintf(stderr, "loopgate: unknown option '%s' (did you mean '%s'?)\n", a, guess);
            else
                fprintf(stderr, "loopgate: unknown option '%s'\n", a);
            fprintf(stderr, "Try 'loopgate --help' for usage.\n");
            return LG_EXIT_USAGE;
        }
    }
    lg_log_set_level(level);
    /* writes to a closed pipe or socket are errors we handle, not a reason to die */
    signal(SIGPIPE, SIG_IGN);
    if (i >= argc) {
        main_usage(stderr);
        return LG_EXIT_USAGE;
    }
    if (!strcmp(argv[i], "help")) {
        const lg_cli_cmd *c;
        if (i + 1 >= argc) {
            main_usage(stdout);
            return 0;
        }
        c = find_cmd(argv[i + 1]);
        if (!c)
            return unknown_command(argv[i + 1]);
        fputs(c->usage, stdout);
        return 0;
    }
    const lg_cli_cmd *c = find_cmd(argv[i]);
    if (!c)
        return unknown_command(argv[i]);
    optind = 0; /* full getopt re-initialisation for the subcommand */
    return c->run(argc - i, argv + i);
}
