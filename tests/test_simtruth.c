/*
 * tests/test_simtruth.c - the ground truth: a run against the simulated
 * model measures what the behaviour model says it should.
 *
 * The suite tests/fixtures/suites/sim/simtruth.yaml is a choice task (answer
 * red, green or blue; the hidden `expected` is the truth) with
 *   p0 = p_first_correct = 0.2, g = feedback_gain = 0.2,
 *   m = malformed_rate = 0.1, an iteration cap N = limits.max_iterations = 4,
 *   and faults 429: 5%, 500: 3%, cut: 2% of requests.
 * The loop below is what examples/refund_agent.py does without tools, plus
 * a perfect verification gate (it compares the answer with the hidden
 * value, as a test suite would): one model call per iteration; a fault is
 * retried (same request, next occurrence) and is not an iteration; a
 * malformed answer gets a corrective re-prompt, a wrong one "the check
 * failed"; both are feedback and the next iteration follows.
 *
 * Analytic values. Attempt k (k = 0 .. N-1, the k-th iteration) succeeds
 * with probability
 *     s_k = (1 - m) p_k,   p_k = 1 - (1 - p0) (1 - g)^k,
 * independently of earlier attempts (every draw comes from its own
 * PCG32 stream (seed, case, trial, turn); faults draw from the same stream
 * mixed with the occurrence, and a retry repeats the content). Attempt k
 * happens only when attempts 0 .. k-1 failed, so
 *     P(first success at iteration i) = f_i = s_{i-1} prod_{k<i-1} (1 - s_k),
 *     P(converged by i) = 1 - prod_{k<i} (1 - s_k),
 * the convergence rate is C = P(converged by N), and
 *     E[I | converged] = sum_{i=1..N} i f_i / C,
 *     Var[I | converged] = sum_{i=1..N} i^2 f_i / C - E[I | converged]^2.
 * With these numbers: s = 0.18, 0.324, 0.4392, 0.53136, C = 0.85432,
 * E[I | converged] = 2.4610 (sd 1.028).
 *
 * Over n independent trials (2,000: 400 cases x 5 trials) the measured rate
 * has standard error sqrt(C (1 - C) / n) and the measured mean iterations
 * sd / sqrt(n_converged); both must fall within z = 2.5758 standard errors
 * (the 99% interval) of the analytic values. So do the malformed share of
 * attempts (m) and the fault share of requests (0.10). The same run with
 * feedback_gain ignored (C = 1 - 0.82^4 = 0.548) or malformed output
 * ignored (C = 0.893) would fail: the test checks that both lie outside the
 * interval, so it can tell.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/json.h"
#include "harness/cases.h"
#include "harness/sim.h"
#include "harness/sim_model.h"
#include "harness/suite.h"

#define Z99 2.5758293035489
#define N_CAP 4
#define P0 0.2
#define GAIN 0.2
#define MALFORMED 0.1
#define FAULTS 0.10

typedef struct fixture {
    lg_suite *suite;
    lg_sim_model *model;
    lg_sim_config cfg;
} fixture;

static void load(fixture *f)
{
    lg_err err = LG_ERR_INIT;
    char path[4096];
    const char *src = getenv("LG_SRCDIR");
    snprintf(path, sizeof path, "%s/tests/fixtures/suites/sim/simtruth.yaml", src ? src : ".");
    cr_assert_eq(lg_suite_load(path, &f->suite, &err), 0, "%s", err.msg);
    cr_assert_eq(lg_sim_model_from_suite(f->suite, &f->model, &err), 0, "%s", err.msg);
    lg_sim_model_config(f->model, &f->cfg);
}

static void unload(fixture *f)
{
    lg_sim_model_free(f->model);
    lg_suite_free(f->suite);
}

/* How a request tells the sim its case: a header (the caller's case index),
 * a hint in the body's `user` field, or nothing (the content match). */
enum who { WHO_HEADER, WHO_HINT, WHO_CONTENT };

typedef struct trial_result {
    bool converged;
    unsigned iterations;  /* of the converged trial; else the cap */
    unsigned attempts, malformed, requests, faults;
} trial_result;

/* One trial of the minimal loop; see the comment at the top. */
static void run_trial(const fixture *f, uint64_t ci, uint32_t trial, enum who who,
                      trial_result *tr)
{
    lg_err err = LG_ERR_INIT;
    json_t *kase = NULL, *pub = NULL;
    memset(tr, 0, sizeof *tr);
    cr_assert_eq(lg_cases_generate(f->suite, ci, LG_CASES_HIDDEN, &kase, &err), 0, "%s", err.msg);
    cr_assert_eq(lg_cases_generate(f->suite, ci, 0, &pub, &err), 0, "%s", err.msg);
    const char *expected = json_string_value(json_object_get(kase, "expected"));
    cr_assert_not_null(expected);
    json_t *msgs = json_pack("[{s:s,s:s},{s:s,s:O}]", "role", "system", "content",
                             "Answer with one word: red, green or blue.", "role", "user",
                             "content", json_object_get(pub, "question"));
    char hint[64];
    snprintf(hint, sizeof hint, "loopgate:case=%llu:trial=%u", (unsigned long long)ci, trial);
    tr->iterations = N_CAP;
    for (unsigned it = 1; it <= N_CAP; it++) {
        json_t *body = json_pack("{s:s,s:O}", "model", "sim-1", "messages", msgs);
        if (who == WHO_HINT)
            json_object_set_new(body, "user", json_string(hint));
        lg_buf b = LG_BUF_INIT;
        cr_assert_eq(lg_json_dump_canonical(body, &b, NULL), 0);
        json_decref(body);
        lg_sim_plan p;
        lg_sim_plan_init(&p);
        for (uint64_t occ = 0;; occ++) {
            lg_sim_request rq = {"POST", "/v1/chat/completions", b.data, b.len, occ,
                                 who == WHO_HEADER ? (int64_t)ci : -1,
                                 who == WHO_HEADER ? (int64_t)trial : -1};
            cr_assert_eq(lg_sim_plan_call(&f->cfg, &rq, &p, &err), 0, "%s", err.msg);
            tr->requests++;
            if (p.status == 200 && !p.cut)
                break;
            cr_assert(p.status == 429 || p.status == 500 || p.cut, "status %d", p.status);
            tr->faults++;
            cr_assert_lt(occ, 50, "a request failed 50 times in a row");
        }
        lg_buf_release(&b);
        json_t *resp = json_loadb(p.body.data, p.body.len, 0, NULL);
        cr_assert_not_null(resp);
        const char *text = json_string_value(json_object_get(
            json_object_get(json_array_get(json_object_get(resp, "choices"), 0), "message"),
            "content"));
        cr_assert_not_null(text);
        if (who == WHO_HEADER || who == WHO_HINT)
            cr_assert_eq(p.case_index, (int64_t)ci);
        tr->attempts++;
        bool is_choice = strcmp(text, "red") == 0 || strcmp(text, "green") == 0 ||
                         strcmp(text, "blue") == 0;
        bool right = strcmp(text, expected) == 0;
        cr_assert_eq(p.turn_kind, right ? LG_SIM_TURN_CORRECT
                                  : is_choice ? LG_SIM_TURN_WRONG : LG_SIM_TURN_MALFORMED);
        if (!is_choice)
            tr->malformed++;
        if (right) {
            tr->converged = true;
            tr->iterations = it;
            json_decref(resp);
            lg_sim_plan_release(&p);
            break;
        }
        json_array_append_new(msgs, json_pack("{s:s,s:s}", "role", "assistant", "content", text));
        json_array_append_new(msgs, json_pack("{s:s,s:s}", "role", "user", "content",
                                              is_choice ? "The check failed: that is not right. Try again."
                                                        : "Reply with exactly one word: red, green or blue."));
        json_decref(resp);
        lg_sim_plan_release(&p);
    }
    json_decref(msgs);
    json_decref(kase);
    json_decref(pub);
}

/* Analytic convergence rate, E and Var of iterations given convergence. */
static void analytic(double p0, double g, double m, int cap, double *conv, double *mean,
                     double *var)
{
    double alive = 1, c = 0, e1 = 0, e2 = 0;
    for (int i = 1; i <= cap; i++) {
        double s = (1 - m) * (1 - (1 - p0) * pow(1 - g, i - 1));
        double fi = alive * s;
        c += fi;
        e1 += i * fi;
        e2 += (double)i * i * fi;
        alive *= 1 - s;
    }
    *conv = c;
    *mean = e1 / c;
    *var = e2 / c - (e1 / c) * (e1 / c);
}

Test(simtruth, analytic_values_match_the_comment)
{
    double c, e, v;
    analytic(P0, GAIN, MALFORMED, N_CAP, &c, &e, &v);
    cr_assert_float_eq(c, 0.85432, 5e-5, "C = %.5f", c);
    cr_assert_float_eq(e, 2.4610, 5e-4, "E = %.4f", e);
    cr_assert_float_eq(sqrt(v), 1.0279, 5e-4, "sd = %.4f", sqrt(v));
    fixture f;
    load(&f);
    /* the model's own p_k is the formula's */
    for (unsigned k = 0; k < 6; k++)
        cr_assert_float_eq(lg_sim_model_p_correct(f.model, k), 1 - 0.8 * pow(0.8, k), 1e-12);
    cr_assert_eq(f.suite->limits.max_iterations, N_CAP);
    cr_assert_float_eq(f.cfg.p429 + f.cfg.p500 + f.cfg.pcut, FAULTS, 1e-12);
    unload(&f);
}

Test(simtruth, two_thousand_trials_fall_in_the_99_percent_intervals, .timeout = 120)
{
    fixture f;
    load(&f);
    const uint32_t trials = f.suite->trials;
    const uint64_t cases = f.suite->count;
    const double n = (double)cases * trials;
    cr_assert_geq(n, 2000);
    unsigned conv = 0, attempts = 0, malformed = 0, requests = 0, faults = 0;
    double sum_it = 0;
    for (uint64_t ci = 0; ci < cases; ci++) {
        for (uint32_t t = 0; t < trials; t++) {
            trial_result tr;
            run_trial(&f, ci, t, WHO_HEADER, &tr);
            conv += tr.converged;
            if (tr.converged)
                sum_it += tr.iterations;
            attempts += tr.attempts;
            malformed += tr.malformed;
            requests += tr.requests;
            faults += tr.faults;
        }
    }
    double c, e, v;
    analytic(P0, GAIN, MALFORMED, N_CAP, &c, &e, &v);
    double rate = conv / n, mean_it = sum_it / conv;
    double hw_rate = Z99 * sqrt(c * (1 - c) / n), hw_it = Z99 * sqrt(v / conv);
    double mshare = (double)malformed / attempts, fshare = (double)faults / requests;
    double hw_m = Z99 * sqrt(MALFORMED * (1 - MALFORMED) / attempts);
    double hw_f = Z99 * sqrt(FAULTS * (1 - FAULTS) / requests);
    cr_log_info("simtruth: %.0f trials: convergence %.4f (analytic %.4f +- %.4f), mean "
                "iterations %.4f (analytic %.4f +- %.4f), malformed %.4f of %u attempts "
                "(+- %.4f), faults %.4f of %u requests (+- %.4f)",
                n, rate, c, hw_rate, mean_it, e, hw_it, mshare, attempts, hw_m, fshare,
                requests, hw_f);
    fprintf(stderr, "simtruth: %.0f trials: convergence %.4f (analytic %.4f, 99%% +- %.4f); "
            "mean iterations %.4f (analytic %.4f, 99%% +- %.4f); malformed share %.4f "
            "(0.1 +- %.4f); fault share %.4f (0.1 +- %.4f)\n",
            n, rate, c, hw_rate, mean_it, e, hw_it, mshare, hw_m, fshare, hw_f);
    cr_assert_leq(fabs(rate - c), hw_rate, "convergence %.4f outside %.4f +- %.4f", rate, c,
                  hw_rate);
    cr_assert_leq(fabs(mean_it - e), hw_it, "mean iterations %.4f outside %.4f +- %.4f",
                  mean_it, e, hw_it);
    cr_assert_leq(fabs(mshare - MALFORMED), hw_m, "malformed share %.4f", mshare);
    cr_assert_leq(fabs(fshare - FAULTS), hw_f, "fault share %.4f", fshare);

    /* power: a model that ignored feedback, or malformed output, is told apart */
    double c_nogain, c_nomal, dummy1, dummy2;
    analytic(P0, 0.0, MALFORMED, N_CAP, &c_nogain, &dummy1, &dummy2);
    analytic(P0, GAIN, 0.0, N_CAP, &c_nomal, &dummy1, &dummy2);
    cr_assert_gt(fabs(c_nogain - rate), hw_rate);
    cr_assert_gt(fabs(c_nomal - rate), hw_rate);
    unload(&f);
}

/* The same trials reach the sim three ways (header, body hint, content
 * match); every way must give the same trajectory, faults included. */
Test(simtruth, header_hint_and_content_match_agree)
{
    fixture f;
    load(&f);
    for (uint64_t ci = 0; ci < 60; ci++) {
        for (uint32_t t = 0; t < 2; t++) {
            trial_result a, b, c;
            run_trial(&f, ci, t, WHO_HEADER, &a);
            run_trial(&f, ci, t, WHO_HINT, &b);
            cr_assert_eq(a.converged, b.converged, "case %llu trial %u",
                         (unsigned long long)ci, t);
            cr_assert_eq(a.iterations, b.iterations);
            cr_assert_eq(a.requests, b.requests);
            if (t == 0) {
                /* without header or hint, the case is found by its text; trial 0 */
                run_trial(&f, ci, t, WHO_CONTENT, &c);
                cr_assert_eq(a.converged, c.converged, "case %llu", (unsigned long long)ci);
                cr_assert_eq(a.iterations, c.iterations);
                cr_assert_eq(a.requests, c.requests);
            }
        }
    }
    unload(&f);
}
