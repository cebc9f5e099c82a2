/*
 * harness/cli/cmd_run.c - `loopgate run SUITE`: run, judge, gate.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "core/clock.h"
#include "core/fs.h"
#include "core/json.h"
#include "harness/gate.h"
#include "harness/loop.h"
#include "harness/runner.h"
#include "harness/sim.h"
#include "harness/sim_model.h"
#include "harness/sim_server.h"
#include "harness/suite.h"
#include "reports/report.h"
#include "rundb.h"

const char cmd_run_usage[] =
    "usage: loopgate run SUITE [options]\n"
    "\n"
    "Run every trial of a suite's cases through the loopgate proxy, judge each\n"
    "one, store the outcomes, print the metrics and apply the gates.\n"
    "\n"
    "Mode (one of; default: --record .loopgate/SUITE-NAME.lgt):\n"
    "      --record FILE         call the real model and record every call into FILE\n"
    "      --replay FILE         serve every call from FILE; no network, no API key\n"
    "      --record-missing FILE replay what FILE has, record the rest into it\n"
    "      --live                call the real model, record nothing\n"
    "\n"
    "Selection:\n"
    "      --cases N             number of cases (default: the suite's cases.count)\n"
    "      --from I              first case index (default 0)\n"
    "      --trials K            trials per case (default: the suite's trials)\n"
    "      --seed S              case seed (default: the suite's seed)\n"
    "      --shard I/N           run only shard I of N (1-based): every N-th case\n"
    "\n"
    "Execution:\n"
    "  -j, --jobs J              trials in parallel (default 4)\n"
    "      --timeout SECONDS     per trial, then SIGTERM and SIGKILL (default: the\n"
    "                            suite's limits.timeout_s, else 300)\n"
    "      --on-divergence fail|live\n"
    "                            replay: a request not in the recording fails the\n"
    "                            trial (default) or goes to the model and is recorded\n"
    "      --fail-on-unused      replay: recorded calls that no request used fail the run\n"
    "      --max-cost-usd X      stop starting trials before the cost would pass X\n"
    "      --upstream URL        the real model API (default $LOOPGATE_UPSTREAM, else\n"
    "                            https://api.openai.com; https://api.anthropic.com for Claude);\n"
    "                            'sim': loopgate's simulated model, in process, behaving\n"
    "                            as the suite's `sim:` block says (offline, no key)\n"
    "      --keep-workdirs       keep the work directories of converged trials too\n"
    "      --approve TOOL        built-in loops: approve the 'requires_approval' tool\n"
    "                            TOOL for every trial (repeatable)\n"
    "      --approvals FILE      built-in loops: approve the tools named in FILE (one\n"
    "                            per line, '#' comments)\n"
    "      --no-progress         no progress line on stderr\n"
    "\n"
    "Results and gates:\n"
    "      --results DB          results database (default .loopgate/results.db)\n"
    "      --resume RUN_ID       finish an interrupted run; finished trials are kept\n"
    "      --run-id ID           name the run (shards of one CI job share an id)\n"
    "      --gate EXPR           a gate (repeatable); replaces the suite's gates\n"
    "      --baseline RUN|FILE   a run id or a JSON report to compare with\n"
    "      --alpha A             significance level of the comparison (default 0.05)\n"
    "      --report-dir DIR      also write report.{txt,json,xml,md,html} into DIR\n"
    "\n"
    "The loop command gets LOOPGATE_CASE (the case as JSON, hidden fields removed),\n"
    "LOOPGATE_CASE_ID, LOOPGATE_TRIAL, LOOPGATE_WORKDIR (fresh per trial),\n"
    "LOOPGATE_URL, OPENAI_BASE_URL and ANTHROPIC_BASE_URL (the proxy session), and\n"
    "runs in the current directory. Its answer is $LOOPGATE_WORKDIR/answer, else\n"
    "its standard output.\n"
    "\n"
    "A 'loop: builtin:' suite runs in loopgate's own loop engine instead (docs/suite.md,\n"
    "\"Built-in loops\"): its model calls go through the same proxy session, its tools\n"
    "run in the work directory, and its answer is its final answer.\n"
    "\n"
    "Exit status: 0 every gate passed; 1 a gate failed, a trial diverged from the\n"
    "recording, or the budget ran out; 2 bad usage or input; 3 internal error;\n"
    "130 interrupted (partial results are kept: finish with --resume).\n";

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

enum {
    O_RECORD = 256, O_REPLAY, O_RECMISS, O_LIVE, O_CASES, O_FROM, O_TRIALS, O_SEED, O_SHARD,
    O_TIMEOUT, O_ONDIV, O_UNUSED, O_MAXCOST, O_UPSTREAM, O_KEEP, O_NOPROG, O_RESULTS,
    O_RESUME, O_RUNID, O_GATE, O_BASELINE, O_ALPHA, O_REPORTDIR, O_APPROVE, O_APPROVALS,
};

static const struct option run_opts[] = {
    {"record", required_argument, NULL, O_RECORD},
    {"replay", required_argument, NULL, O_REPLAY},
    {"record-missing", required_argument, NULL, O_RECMISS},
    {"live", no_argument, NULL, O_LIVE},
    {"cases", required_argument, NULL, O_CASES},
    {"from", required_argument, NULL, O_FROM},
    {"trials", required_argument, NULL, O_TRIALS},
    {"seed", required_argument, NULL, O_SEED},
    {"shard", required_argument, NULL, O_SHARD},
    {"jobs", required_argument, NULL, 'j'},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {"on-divergence", required_argument, NULL, O_ONDIV},
    {"fail-on-unused", no_argument, NULL, O_UNUSED},
    {"max-cost-usd", required_argument, NULL, O_MAXCOST},
    {"upstream", required_argument, NULL, O_UPSTREAM},
    {"keep-workdirs", no_argument, NULL, O_KEEP},
    {"no-progress", no_argument, NULL, O_NOPROG},
    {"results", required_argument, NULL, O_RESULTS},
    {"resume", required_argument, NULL, O_RESUME},
    {"run-id", required_argument, NULL, O_RUNID},
    {"gate", required_argument, NULL, O_GATE},
    {"baseline", required_argument, NULL, O_BASELINE},
    {"alpha", required_argument, NULL, O_ALPHA},
    {"report-dir", required_argument, NULL, O_REPORTDIR},
    {"approve", required_argument, NULL, O_APPROVE},
    {"approvals", required_argument, NULL, O_APPROVALS},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Writes every report format into DIR/report.EXT (rendered on two threads). */
static int write_reports(const lg_rundoc *doc, const char *dir, lg_err *err)
{
    lg_buf outs[LG_REPORT_FORMAT_COUNT];
    lg_report_opts ro = {0};
    int rc;

    for (int f = 0; f < LG_REPORT_FORMAT_COUNT; f++)
        lg_buf_init(&outs[f]);
    rc = lg_fs_mkdir_p(dir, err);
    if (!rc)
        rc = lg_report_render_all(doc, &ro, outs, err);
    for (int f = 0; !rc && f < LG_REPORT_FORMAT_COUNT; f++) {
        lg_buf path = LG_BUF_INIT;
        if (lg_buf_appendf(&path, "%s/report.%s", dir, lg_report_format_ext((lg_report_format)f)))
            rc = LG_ERR(err, LG_ENOMEM, "out of memory");
        if (!rc)
            rc = lg_fs_write_file_atomic(path.data, lg_buf_cstr(&outs[f]), outs[f].len, err);
        lg_buf_release(&path);
    }
    for (int f = 0; f < LG_REPORT_FORMAT_COUNT; f++)
        lg_buf_release(&outs[f]);
    return rc;
}

static int parse_shard(const char *arg, uint32_t *idx, uint32_t *count)
{
    unsigned long i, n;
    char *end;
    errno = 0;
    i = strtoul(arg, &end, 10);
    if (errno || end == arg || *end != '/')
        return -1;
    n = strtoul(end + 1, &end, 10);
    if (errno || *end || n < 1 || n > 100000 || i < 1 || i > n)
        return -1;
    *idx = (uint32_t)(i - 1);
    *count = (uint32_t)n;
    return 0;
}

int cmd_run(int argc, char **argv)
{
    lg_run_opts o;
    lg_suite *suite = NULL;
    lg_run_result *res = NULL;
    lg_rundoc *doc = NULL, *base = NULL;
    lg_err err = LG_ERR_INIT;
    const char *mode_flag = NULL, *trace = NULL, *baseline = NULL, *report_dir = NULL;
    const char **gate_args = NULL;
    size_t n_gate_args = 0;
    char **approvals = NULL;
    size_t n_approvals = 0;
    const char *approvals_file = NULL;
    lg_gate **gates = NULL;
    lg_rundoc_gate *gres = NULL;
    size_t ngates = 0;
    unsigned long long v;
    bool have_cases = false, have_trials = false, have_seed = false, have_timeout = false;
    bool no_progress = false;
    double alpha = 0.05;
    char default_trace[512];
    json_t *flags = json_object();
    int c, rc = 0, exit_code = 0;
    struct sigaction sa, old_int, old_term;
    lg_sim_model *sim_model = NULL;
    lg_sim_server *sim_srv = NULL;
    char sim_url[64];

    memset(&o, 0, sizeof o);
    o.mode = LG_RUN_RECORD;
    o.jobs = 4;
    o.timeout_s = 0;
    o.results_path = ".loopgate/results.db";
    o.workroot = ".loopgate/work";
    o.shard_count = 1;
    o.progress_out = stderr;
    gate_args = calloc((size_t)argc + 1, sizeof *gate_args);
    if (!flags || !gate_args) {
        fprintf(stderr, "loopgate run: out of memory\n");
        return LG_EXIT_INTERNAL;
    }

    while ((c = lg_cli_getopt(argc, argv, "j:", run_opts, "run", cmd_run_usage)) != -1) {
        if (c == LG_CLI_HELP) {
            exit_code = 0;
            goto out;
        }
        if (c == LG_CLI_BAD) {
            exit_code = LG_EXIT_USAGE;
            goto out;
        }
        /* the command line, kept with the run */
        for (const struct option *op = run_opts; op->name; op++)
            if (op->val == c && op->val != O_GATE && op->val != O_APPROVE)
                json_object_set_new(flags, op->name,
                                    optarg ? json_string(optarg) : json_true());
        switch (c) {
        case O_RECORD: case O_REPLAY: case O_RECMISS: case O_LIVE:
            if (mode_flag) {
                exit_code = lg_cli_usage_error("run", "%s and --%s cannot be used together; pick one mode",
                                               mode_flag, c == O_RECORD ? "record" : c == O_REPLAY ? "replay"
                                               : c == O_RECMISS ? "record-missing" : "live");
                goto out;
            }
            mode_flag = c == O_RECORD ? "--record" : c == O_REPLAY ? "--replay"
                        : c == O_RECMISS ? "--record-missing" : "--live";
            o.mode = c == O_RECORD ? LG_RUN_RECORD : c == O_REPLAY ? LG_RUN_REPLAY
                     : c == O_RECMISS ? LG_RUN_RECORD_MISSING : LG_RUN_LIVE;
            trace = c == O_LIVE ? NULL : optarg;
            break;
        case O_CASES:
            if (lg_cli_parse_u64("run", "--cases", optarg, 100000000, &v) || v == 0) {
                if (v == 0)
                    lg_cli_usage_error("run", "--cases expects at least 1, got '%s'", optarg);
                exit_code = LG_EXIT_USAGE;
                goto out;
            }
            o.count = v;
            have_cases = true;
            break;
        case O_FROM:
            if (lg_cli_parse_u64("run", "--from", optarg, 1000000000, &v)) {
                exit_code = LG_EXIT_USAGE;
                goto out;
            }
            o.from = v;
            break;
        case O_TRIALS:
            if (lg_cli_parse_u64("run", "--trials", optarg, 100000, &v) || v == 0) {
                if (v == 0)
                    lg_cli_usage_error("run", "--trials expects at least 1, got '%s'", optarg);
                exit_code = LG_EXIT_USAGE;
                goto out;
            }
            o.trials = (uint32_t)v;
            have_trials = true;
            break;
        case O_SEED:
            if (lg_cli_parse_u64("run", "--seed", optarg, UINT64_MAX, &v)) {
                exit_code = LG_EXIT_USAGE;
                goto out;
            }
            o.seed = v;
            have_seed = true;
            break;
        case O_SHARD:
            if (parse_shard(optarg, &o.shard_index, &o.shard_count)) {
                exit_code = lg_cli_usage_error("run", "--shard expects I/N with 1 <= I <= N, e.g. 2/4; got '%s'", optarg);
                goto out;
            }
            break;
        case 'j':
            if (lg_cli_parse_u64("run", "--jobs", optarg, 1024, &v) || v == 0) {
                if (v == 0)
                    lg_cli_usage_error("run", "--jobs expects at least 1, got '%s'", optarg);
                exit_code = LG_EXIT_USAGE;
                goto out;
            }
            o.jobs = (uint32_t)v;
            break;
        case O_TIMEOUT:
            if (lg_cli_parse_double("run", "--timeout", optarg, 0.001, 86400 * 7, &o.timeout_s)) {
                exit_code = LG_EXIT_USAGE;
                goto out;
            }
            have_timeout = true;
            break;
        case O_ONDIV:
            if (strcmp(optarg, "fail") && strcmp(optarg, "live")) {
                exit_code = lg_cli_usage_error("run", "--on-divergence expects 'fail' or 'live', got '%s'", optarg);
                goto out;
            }
            o.divergence_live = strcmp(optarg, "live") == 0;
            break;
        case O_UNUSED: o.fail_on_unused = true; break;
        case O_MAXCOST:
            if (lg_cli_parse_double("run", "--max-cost-usd", optarg, 0, 1e9, &o.max_cost_usd)) {
                exit_code = LG_EXIT_USAGE;
                goto out;
            }
            break;
        case O_UPSTREAM: o.upstream = optarg; break;
        case O_KEEP: o.keep_workdirs = true; break;
        case O_NOPROG: no_progress = true; break;
        case O_RESULTS: o.results_path = optarg; break;
        case O_RESUME: o.resume_run_id = optarg; break;
        case O_RUNID:
            if (!*optarg || strlen(optarg) >= LG_RUN_ID_MAX || strpbrk(optarg, " /\\\t\n")) {
                exit_code = lg_cli_usage_error("run", "--run-id expects 1 to %d characters without spaces or slashes", LG_RUN_ID_MAX - 1);
                goto out;
            }
            o.run_id = optarg;
            break;
        case O_GATE:
            gate_args[n_gate_args++] = optarg;
            break;
        case O_BASELINE: baseline = optarg; break;
        case O_ALPHA:
            if (lg_cli_parse_double("run", "--alpha", optarg, 1e-9, 0.5, &alpha)) {
                exit_code = LG_EXIT_USAGE;
                goto out;
            }
            break;
        case O_REPORTDIR: report_dir = optarg; break;
        case O_APPROVE: {
            char **na = realloc(approvals, (n_approvals + 2) * sizeof *na);
            if (!na || !(na[n_approvals] = strdup(optarg))) {
                if (na)
                    approvals = na;
                fprintf(stderr, "loopgate run: out of memory\n");
                exit_code = LG_EXIT_INTERNAL;
                goto out;
            }
            approvals = na;
            approvals[++n_approvals] = NULL;
            break;
        }
        case O_APPROVALS: approvals_file = optarg; break;
        default:
            exit_code = LG_EXIT_USAGE;
            goto out;
        }
    }
    if (optind >= argc) {
        exit_code = lg_cli_usage_error("run", "missing SUITE (a suite file, e.g. suites/refund-policy.yaml)");
        goto out;
    }
    if (optind + 1 < argc) {
        exit_code = lg_cli_usage_error("run", "unexpected argument '%s' after the suite", argv[optind + 1]);
        goto out;
    }
    if (n_gate_args)
        json_object_set_new(flags, "gate", json_null());
    if (n_approvals) {
        json_t *list = json_array();
        for (size_t i = 0; list && i < n_approvals; i++)
            json_array_append_new(list, json_string(approvals[i]));
        json_object_set_new(flags, "approve", list ? list : json_null());
    }
    if (approvals_file && (rc = lg_loop_approvals_load(approvals_file, &approvals, &n_approvals, &err)))
        goto fail;
    if ((rc = lg_suite_load(argv[optind], &suite, &err)))
        goto fail;
    o.suite = suite;
    if (!have_cases)
        o.count = suite->count;
    if (!have_trials)
        o.trials = suite->trials;
    if (!have_seed)
        o.seed = suite->seed;
    if (!have_timeout)
        o.timeout_s = suite->limits.timeout_s > 0 ? suite->limits.timeout_s : 300;
    if (o.from + o.count > suite->count && have_cases == false)
        o.count = o.from < suite->count ? suite->count - o.from : 0;
    if (o.count == 0) {
        exit_code = lg_cli_usage_error("run", "no cases selected: --from %llu is past the suite's %llu cases",
                                       (unsigned long long)o.from, (unsigned long long)suite->count);
        goto out;
    }
    if (!mode_flag) {
        snprintf(default_trace, sizeof default_trace, ".loopgate/%s.lgt", suite->name);
        trace = default_trace;
    }
    o.trace_path = trace;
    if (!o.upstream)
        o.upstream = getenv("LOOPGATE_UPSTREAM") && *getenv("LOOPGATE_UPSTREAM")
                         ? getenv("LOOPGATE_UPSTREAM") : "https://api.openai.com";
    if (o.divergence_live && o.mode != LG_RUN_REPLAY) {
        exit_code = lg_cli_usage_error("run", "--on-divergence applies to --replay only");
        goto out;
    }
    if (strcmp(o.upstream, "sim") == 0) {
        /* the simulated model in this process: started even for a replay,
         * whose request count then shows that nothing went upstream */
        lg_sim_config scfg;
        if ((rc = lg_sim_model_from_suite(suite, &sim_model, &err)))
            goto fail;
        lg_sim_model_config(sim_model, &scfg);
        if ((rc = lg_sim_server_start(&scfg, 0, &sim_srv, &err)))
            goto fail;
        snprintf(sim_url, sizeof sim_url, "http://127.0.0.1:%u", lg_sim_server_port(sim_srv));
        o.upstream = sim_url;
    }

    /* gates parse before anything runs: a typo costs nothing */
    {
        size_t total = n_gate_args ? n_gate_args : suite->ngates;
        gates = calloc(total + 1, sizeof *gates);
        gres = calloc(total + 1, sizeof *gres);
        if (!gates || !gres) {
            rc = LG_ERR(&err, LG_ENOMEM, "out of memory");
            goto fail;
        }
        for (size_t i = 0; i < total; i++) {
            lg_gate_src src;
            const char *expr;
            if (n_gate_args) {
                src = (lg_gate_src){"--gate", 1, 1, false};
                expr = gate_args[i];
            } else {
                src = (lg_gate_src){suite->path, suite->gates[i].pos.line,
                                    suite->gates[i].pos.col, !suite->gates[i].pos.exact};
                expr = suite->gates[i].text;
            }
            if ((rc = lg_gate_parse(expr, &src, &gates[i], &err)))
                goto fail;
            ngates++;
            if (lg_gate_needs_baseline(gates[i]) && !baseline) {
                rc = LG_ERR(&err, LG_EUSAGE,
                            "gate '%s' compares with a baseline; pass --baseline RUN_ID or FILE.json",
                            lg_gate_expr(gates[i]));
                goto fail;
            }
        }
    }
    if (baseline && (rc = lg_rundb_load_any(o.results_path, baseline, &base, &err))) {
        lg_err_prefix(&err, "--baseline");
        goto fail;
    }

    o.flags = flags;
    o.approvals = (const char *const *)approvals;
    o.n_approvals = n_approvals;
    o.progress = no_progress ? 0 : (isatty(2) ? 2 : 1);
    o.interrupt = &interrupted;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    rc = lg_run(&o, &res, &err);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (rc)
        goto fail;

    /* gates, then the document and its reports */
    bool all_pass = true;
    for (size_t i = 0; i < ngates; i++) {
        gres[i].expr = lg_gate_expr(gates[i]);
        if ((rc = lg_gate_eval(gates[i], res->metrics, base ? base->metrics : NULL,
                               &gres[i].result, &err)))
            goto fail;
        all_pass = all_pass && gres[i].result.pass;
    }
    {
        lg_results *db = NULL;
        json_t *gj = lg_rundb_gates_to_json(gres, ngates), *mj = lg_metrics_to_json(res->metrics, &err);
        res->info->finished_ms = lg_clock_wall_ms();
        free(res->info->status);
        res->info->status = strdup(res->status);
        if (!gj || !mj)
            rc = LG_ERR(&err, LG_ENOMEM, "out of memory");
        if (!rc)
            rc = lg_results_open(o.results_path, false, &db, &err);
        if (!rc)
            rc = lg_results_run_finish(db, res->info->id, res->status, mj, gj, &err);
        lg_results_close(db);
        json_decref(gj);
        json_decref(mj);
        if (rc)
            goto fail;
        if ((rc = lg_rundb_doc(res->info, res->outcomes, NULL, gres, ngates, &doc, &err)))
            goto fail;
    }
    if (base) {
        lg_rundoc_compare_opts co = {alpha, LG_CASE_MAJORITY, 0.05};
        if ((rc = lg_rundoc_compare(doc, base, &co, &err)))
            goto fail;
    }
    {
        lg_buf out = LG_BUF_INIT;
        lg_report_opts ro = {0};
        ro.color = lg_cli_color(1);
        if ((rc = lg_report_render(doc, LG_REPORT_TERM, &ro, &out, &err)) ||
            (base && (rc = lg_report_render_compare(doc, LG_REPORT_TERM, &ro, &out, &err)))) {
            lg_buf_release(&out);
            goto fail;
        }
        fwrite(lg_buf_cstr(&out), 1, out.len, stdout);
        lg_buf_release(&out);
    }
    printf("run %s: %zu trials, results in %s%s%s\n", res->info->id, res->outcomes->n,
           o.results_path, o.trace_path ? ", trace " : "", o.trace_path ? o.trace_path : "");
    if (sim_srv) {
        uint64_t n = lg_sim_server_requests(sim_srv);
        printf("simulated model: %llu call%s served%s\n", (unsigned long long)n, n == 1 ? "" : "s",
               o.mode == LG_RUN_REPLAY && n == 0 ? " (every call was replayed from the trace)" : "");
    }
    if (report_dir) {
        if ((rc = write_reports(doc, report_dir, &err)))
            goto fail;
        printf("reports: %s/report.{txt,json,xml,md,html}\n", report_dir);
    }
    {
        const char *summary = getenv("GITHUB_STEP_SUMMARY");
        if (summary && *summary) {
            lg_buf md = LG_BUF_INIT;
            lg_report_opts ro = {0};
            if (lg_report_render(doc, LG_REPORT_MD, &ro, &md, &err) == 0) {
                FILE *f = fopen(summary, "a");
                if (f) {
                    fwrite(lg_buf_cstr(&md), 1, md.len, f);
                    fclose(f);
                }
            }
            lg_err_clear(&err);
            lg_buf_release(&md);
        }
    }

    /* the verdict */
    exit_code = all_pass ? 0 : LG_EXIT_GATE;
    if (res->metrics->termination[LG_TERM_DIVERGED] && !o.divergence_live) {
        fprintf(stderr,
                "loopgate: %zu trial(s) diverged from the recording in %s; re-record with "
                "--record-missing %s, or replay with --on-divergence live\n",
                res->metrics->termination[LG_TERM_DIVERGED], o.trace_path, o.trace_path);
        exit_code = LG_EXIT_GATE;
    }
    if (res->unused_calls) {
        fprintf(stderr, "loopgate: %u recorded call(s) in %s were never requested (stale recording?)\n",
                res->unused_calls, o.trace_path);
        if (o.fail_on_unused)
            exit_code = LG_EXIT_GATE;
    }
    if (strcmp(res->status, "budget_exhausted") == 0) {
        fprintf(stderr, "loopgate: budget exhausted: %s; the run does not pass its gates\n",
                res->budget_note);
        exit_code = LG_EXIT_GATE;
    }
    if (strcmp(res->status, "interrupted") == 0) {
        fprintf(stderr, "loopgate: interrupted: %u running trial(s) stopped, %u not started; "
                        "finish with 'loopgate run %s --resume %s' and the same flags\n",
                res->stopped_trials, res->interrupted_trials - res->stopped_trials, argv[optind],
                res->info->id);
        exit_code = 130;
    }
    goto out;
fail:
    exit_code = lg_cli_report(&err);
out:
    for (size_t i = 0; i < ngates; i++)
        lg_gate_free(gates[i]);
    free(gates);
    free(gres);
    free(gate_args);
    lg_loop_approvals_free(approvals);
    lg_rundoc_free(doc);
    lg_rundoc_free(base);
    lg_run_result_free(res);
    lg_sim_server_stop(sim_srv);
    lg_sim_model_free(sim_model);
    lg_suite_free(suite);
    json_decref(flags);
    return exit_code;
}
