/*
 * bench/bench_report.c - report rendering benchmark (issue 7).
 *
 * Workload: a synthetic run of N sessions (default 100,000: 25,000 cases x
 * 4 trials) drawn from PCG32: per-case convergence probabilities (some cases
 * never converge, some always, the rest flaky), termination reasons,
 * iterations, tokens, costs, call latencies, invariant violations, a
 * validator detail and a 6-step timeline for every failing trial, and four
 * gates. Measured:
 *   seconds_build        lg_rundoc_build: copying the run and computing
 *                        every metric from the outcomes
 *   seconds_all_formats  build + lg_report_render_all (the five formats on
 *                        two threads, as `loopgate run --report-dir` writes
 *                        them), wall time: the number, target < 2 s
 *   cpu_seconds_all_formats  the same in CPU time of this process (both
 *                        threads), which a busy shared machine does not
 *                        inflate
 *   seconds_all_formats_one_thread  build + each format alone, in turn
 *   seconds_FORMAT       lg_report_render of one format alone
 *   seconds_json_load    reading the JSON document back (lg_rundoc_load_json
 *                        after parsing), what `loopgate compare FILE` does
 *   FORMAT_bytes         output sizes; html_bytes must stay under 5 MB
 *   loadavg_1m           the machine's load when it ran (shared machines)
 * Prints one JSON object on stdout.
 *
 * usage: bench_report [--quick] [--sessions N] [--seed S]
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/pcg.h"
#include "harness/gate.h"
#include "harness/metrics.h"
#include "reports/report.h"
#include "reports/rundoc.h"

#define TRIALS 4

static const lg_timeline_item steps[] = {
    {"prompt", 0.0, "system (1.5 KB) + user: refund order 7 for customer 'Ada Lovelace'?"},
    {"response", 850.5, "tool_call lookup_order {\"order\": 7}"},
    {"tool_result", 910.0, "exit 0: {\"order\": 7, \"amount\": 180, \"status\": \"shipped\"}"},
    {"response", 1720.25, "tool_call refund {\"order\": 7, \"amount\": 180}"},
    {"tool_result", 1790.0, "exit 0: refunded 180"},
    {"verify", 1900.0, "fail: policy forbids refunds over 100 without approval"},
};
static const lg_violation viol[] = {{"max_tokens", 1}, {"no_repeated_action", 2}};
static const lg_term_reason fails[] = {LG_TERM_VALIDATOR_FAILED, LG_TERM_MAX_ITERATIONS,
                                       LG_TERM_TIMEOUT, LG_TERM_STALLED, LG_TERM_CRASHED};

static double now_s(void)
{
    return (double)lg_clock_mono_ns() / 1e9;
}

/* CPU time of this process: the machine is shared, wall time is not ours alone. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const lg_err *e)
{
    fprintf(stderr, "bench_report: %s: %s\n", what, e->msg);
    exit(1);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"quick", no_argument, NULL, 'q'},
        {"sessions", required_argument, NULL, 'n'},
        {"seed", required_argument, NULL, 's'},
        {NULL, 0, NULL, 0},
    };
    static const char *const exprs[] = {"convergence_rate >= 0.8", "cases.never_converged == 0",
                                        "iterations.p95 <= 12", "cost_per_convergence <= 0.05"};
    size_t sessions = 100000, ntl = 0;
    unsigned long long seed = 7;
    lg_outcome *o;
    lg_timeline *tl;
    double *lat;
    lg_pcg32 rng;
    lg_err e = LG_ERR_INIT;
    int c;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 'q':
            sessions = 10000;
            break;
        case 'n':
            sessions = (size_t)strtoull(optarg, &end, 10);
            if (!end || *end || sessions < TRIALS) {
                fprintf(stderr, "bench_report: --sessions wants a number >= %d\n", TRIALS);
                return 2;
            }
            break;
        case 's':
            seed = strtoull(optarg, &end, 10);
            if (!end || *end) {
                fprintf(stderr, "bench_report: --seed wants a number\n");
                return 2;
            }
            break;
        default:
            fprintf(stderr, "usage: bench_report [--quick] [--sessions N] [--seed S]\n");
            return 2;
        }
    }
    sessions -= sessions % TRIALS;
    o = calloc(sessions, sizeof *o);
    tl = calloc(sessions, sizeof *tl);
    lat = calloc(sessions * 8, sizeof *lat);
    if (!o || !tl || !lat) {
        fprintf(stderr, "bench_report: out of memory\n");
        return 1;
    }
    lg_pcg32_srandom(&rng, seed, 0x7265706f);
    for (size_t i = 0; i < sessions; i += TRIALS) {
        double p = lg_pcg32_double(&rng);
        p = p < 0.05 ? 0.0 : p > 0.5 ? 1.0 : 0.2 + p;
        for (size_t t = 0; t < TRIALS; t++) {
            lg_outcome *x = &o[i + t];
            bool conv = lg_pcg32_double(&rng) < p;
            uint32_t calls = 1 + lg_pcg32_boundedrand(&rng, 8);
            x->case_index = (uint32_t)(i / TRIALS);
            x->trial = (uint32_t)t;
            x->converged = conv;
            x->reason = conv ? LG_TERM_SUCCESS : fails[lg_pcg32_boundedrand(&rng, 5)];
            x->iterations = calls;
            x->model_calls = calls;
            x->tokens_in = 1500 * calls;
            x->tokens_cached = 1000 * (calls - 1);
            x->tokens_out = 120 * calls;
            x->cost_usd = 0.0004 * calls;
            x->cost_known = true;
            x->call_latency_ms = lat + (i + t) * 8;
            x->n_call_latency = calls;
            for (uint32_t k = 0; k < calls; k++)
                lat[(i + t) * 8 + k] = 200.0 + lg_pcg32_boundedrand(&rng, 1800);
            x->wall_ms = 300.0 + lg_pcg32_boundedrand(&rng, 20000);
            if (!conv) {
                x->detail = "validator: expected \"approve\", got \"deny\" (policy section 4.2)";
                if (lg_pcg32_boundedrand(&rng, 4) == 0) {
                    x->violations = viol;
                    x->n_violations = 2;
                }
                tl[ntl++] = (lg_timeline){x->case_index, x->trial, steps, 6};
            }
        }
    }

    /* build: copy and compute every metric, then evaluate the gates */
    double t0 = now_s(), c0 = cpu_s();
    lg_metrics *m = NULL;
    if (lg_metrics_compute(o, sessions, NULL, &m, &e))
        die("metrics", &e);
    lg_rundoc_gate gates[4];
    for (size_t i = 0; i < 4; i++) {
        lg_gate *g = NULL;
        if (lg_gate_parse(exprs[i], NULL, &g, &e) ||
            lg_gate_eval(g, m, NULL, &gates[i].result, &e))
            die("gate", &e);
        gates[i].expr = exprs[i];
        lg_gate_free(g);
    }
    lg_rundoc_input in;
    memset(&in, 0, sizeof in);
    in.generator = "bench_report";
    in.run.id = "bench";
    in.run.suite_name = "refund-policy";
    in.run.suite_path = "suites/refund-policy.yaml";
    in.run.mode = "replay";
    in.run.seed = seed;
    in.run.trials = TRIALS;
    in.run.cases = sessions / TRIALS;
    in.run.started_ms = 1767225600000LL;
    in.run.finished_ms = 1767225600000LL + 600000;
    in.run.status = LG_RUN_FINISHED;
    in.outcomes = o;
    in.n_outcomes = sessions;
    in.metrics = m;
    in.gates = gates;
    in.n_gates = 4;
    in.timelines = tl;
    in.n_timelines = ntl;
    lg_rundoc *doc = NULL;
    if (lg_rundoc_build(&in, &doc, &e))
        die("build", &e);
    double t_build = now_s() - t0;
    lg_metrics_free(m);

    /* all formats at once, as `loopgate run --report-dir` writes them */
    lg_buf all[LG_REPORT_FORMAT_COUNT];
    for (int f = 0; f < LG_REPORT_FORMAT_COUNT; f++)
        lg_buf_init(&all[f]);
    double s_all = now_s();
    if (lg_report_render_all(doc, NULL, all, &e))
        die("render all", &e);
    double t_all = now_s() - s_all;
    double cpu_total = cpu_s() - c0;
    for (int f = 0; f < LG_REPORT_FORMAT_COUNT; f++)
        lg_buf_release(&all[f]);

    /* each format alone, one after the other */
    double secs[LG_REPORT_FORMAT_COUNT];
    size_t bytes[LG_REPORT_FORMAT_COUNT];
    lg_buf json_out = LG_BUF_INIT;
    double sequential = t_build;
    for (int f = 0; f < LG_REPORT_FORMAT_COUNT; f++) {
        lg_buf b = LG_BUF_INIT;
        double s = now_s();
        if (lg_report_render(doc, (lg_report_format)f, NULL, &b, &e))
            die(lg_report_format_names[f], &e);
        secs[f] = now_s() - s;
        sequential += secs[f];
        bytes[f] = b.len;
        if (f == LG_REPORT_JSON)
            json_out = b;
        else
            lg_buf_release(&b);
    }

    double s = now_s();
    json_t *j = lg_json_parse(lg_buf_cstr(&json_out), json_out.len, "bench.json", &e);
    lg_rundoc *back = NULL;
    if (!j || lg_rundoc_load_json(j, "bench.json", &back, &e))
        die("load", &e);
    double t_load = now_s() - s;
    if (back->n_outcomes != sessions) {
        fprintf(stderr, "bench_report: read back %zu sessions of %zu\n", back->n_outcomes, sessions);
        return 1;
    }

    /* how busy the shared machine was: wall times mean little without it */
    double load1 = -1;
    FILE *la = fopen("/proc/loadavg", "r");
    if (la) {
        if (fscanf(la, "%lf", &load1) != 1)
            load1 = -1;
        fclose(la);
    }
    printf("{\"bench\": \"report\", \"loadavg_1m\": %.2f, ", load1);
    printf("\"sessions\": %zu, \"cases\": %zu, \"trials\": %d, "
           "\"failing_trials\": %zu, \"seconds_all_formats\": %.3f, "
           "\"cpu_seconds_all_formats\": %.3f, \"seconds_all_formats_one_thread\": %.3f, "
           "\"seconds_build\": %.3f",
           sessions, sessions / TRIALS, TRIALS, ntl, t_build + t_all, cpu_total, sequential,
           t_build);
    for (int f = 0; f < LG_REPORT_FORMAT_COUNT; f++)
        printf(", \"seconds_%s\": %.3f", lg_report_format_names[f], secs[f]);
    printf(", \"seconds_json_load\": %.3f", t_load);
    for (int f = 0; f < LG_REPORT_FORMAT_COUNT; f++)
        printf(", \"%s_bytes\": %zu", lg_report_format_names[f], bytes[f]);
    printf(", \"target_seconds\": 2.0, \"html_limit_bytes\": 5242880}\n");

    json_decref(j);
    lg_rundoc_free(back);
    lg_rundoc_free(doc);
    lg_buf_release(&json_out);
    free(o);
    free(tl);
    free(lat);
    return 0;
}
