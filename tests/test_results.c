/* tests/test_results.c - harness/results.c: the results database. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fs.h"
#include "harness/results.h"

static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/lg_results_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    lg_err e = LG_ERR_INIT;
    cr_expect_eq(lg_fs_rm_rf(dir, &e), 0, "%s", e.msg);
}

TestSuite(results, .init = setup, .fini = teardown);

static void path_of(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", dir, name);
}

static lg_results *open_new(const char *name)
{
    char p[256];
    lg_results *r = NULL;
    lg_err e = LG_ERR_INIT;
    path_of(p, sizeof p, name);
    cr_assert_eq(lg_results_open(p, true, &r, &e), 0, "%s", e.msg);
    return r;
}

static lg_outcome mk(uint32_t c, uint32_t t, bool conv)
{
    lg_outcome o = {0};
    o.case_index = c;
    o.trial = t;
    o.converged = conv;
    o.reason = conv ? LG_TERM_SUCCESS : LG_TERM_VALIDATOR_FAILED;
    o.iterations = 3 + c;
    o.model_calls = 4;
    o.tokens_in = 100;
    o.tokens_out = 20;
    o.cost_usd = 0.01;
    o.cost_known = true;
    o.wall_ms = 12.5;
    return o;
}

Test(results, run_lifecycle_and_outcomes_roundtrip)
{
    lg_results *r = open_new("sub/dir/results.db"); /* parent directories are created */
    lg_err e = LG_ERR_INIT;
    lg_run_record info = {0};
    info.suite_name = "refund-policy";
    info.mode = "replay";
    info.seed = 7;
    info.trials = 2;
    info.case_count = 3;
    cr_assert_eq(lg_results_run_create(r, &info, &e), 0, "%s", e.msg);
    cr_expect_eq(strlen(info.id), 20u, "id '%s'", info.id);

    static const double lat[] = {1.5, 2.5};
    static const lg_violation vio[] = {{"max_tokens", 2}};
    lg_outcome o = mk(1, 0, false);
    o.call_latency_ms = lat;
    o.n_call_latency = 2;
    o.violations = vio;
    o.n_violations = 1;
    o.detail = "expected 'approve', got 'deny'";
    cr_assert_eq(lg_results_put_outcome(r, info.id, &o, "1.0", NULL, &e), 0, "%s", e.msg);
    lg_outcome o2 = mk(0, 1, true);
    cr_assert_eq(lg_results_put_outcome(r, info.id, &o2, "0.1", NULL, &e), 0);
    /* replacing the same (case, trial) keeps one row */
    cr_assert_eq(lg_results_put_outcome(r, info.id, &o2, "0.1", NULL, &e), 0);

    bool has = false;
    cr_assert_eq(lg_results_has_outcome(r, info.id, 1, 0, &has, &e), 0);
    cr_expect(has);
    cr_assert_eq(lg_results_has_outcome(r, info.id, 2, 0, &has, &e), 0);
    cr_expect_not(has);

    lg_outcome_set *set = NULL;
    cr_assert_eq(lg_results_outcomes(r, info.id, &set, &e), 0, "%s", e.msg);
    cr_assert_eq(set->n, 2u);
    cr_expect_eq(set->items[0].case_index, 0u); /* sorted by case, trial */
    cr_expect(set->items[0].converged);
    cr_expect_eq(set->items[1].reason, LG_TERM_VALIDATOR_FAILED);
    cr_expect_eq(set->items[1].n_call_latency, 2u);
    cr_expect_float_eq(set->items[1].call_latency_ms[1], 2.5, 1e-12);
    cr_expect_eq(set->items[1].n_violations, 1u);
    cr_expect_str_eq(set->items[1].violations[0].name, "max_tokens");
    cr_expect_eq(set->items[1].violations[0].count, 2u);
    cr_expect_str_eq(set->items[1].detail, "expected 'approve', got 'deny'");
    cr_expect_str_eq(set->session_keys[1], "1.0");
    lg_outcome_set_free(set);

    json_t *metrics = json_pack("{s:f}", "convergence_rate", 0.5);
    cr_assert_eq(lg_results_run_finish(r, info.id, "finished", metrics, NULL, &e), 0);
    json_decref(metrics);

    lg_run_record *got = NULL;
    cr_assert_eq(lg_results_run_get(r, "latest", &got, &e), 0, "%s", e.msg);
    cr_expect_str_eq(got->id, info.id);
    cr_expect_str_eq(got->status, "finished");
    cr_expect_str_eq(got->suite_name, "refund-policy");
    cr_expect_eq(got->seed, 7u);
    cr_expect_gt(got->finished_ms, 0);
    lg_run_record_free(got);
    /* a unique prefix finds it too */
    char prefix[16];
    snprintf(prefix, sizeof prefix, "%.15s", info.id);
    cr_assert_eq(lg_results_run_get(r, prefix, &got, &e), 0, "%s", e.msg);
    lg_run_record_free(got);
    json_t *m = NULL, *g = NULL;
    cr_assert_eq(lg_results_run_json(r, info.id, &m, &g, &e), 0);
    cr_expect_float_eq(json_real_value(json_object_get(m, "convergence_rate")), 0.5, 1e-12);
    cr_expect_null(g);
    json_decref(m);
    cr_expect_eq(lg_results_run_get(r, "nope", &got, &e), LG_ENOENT);
    cr_expect(strstr(e.msg, "no run 'nope'") != NULL, "%s", e.msg);
    lg_results_close(r);
}

Test(results, missing_without_create_and_foreign_files)
{
    char p[256];
    lg_results *r = NULL;
    lg_err e = LG_ERR_INIT;
    path_of(p, sizeof p, "none.db");
    cr_expect_eq(lg_results_open(p, false, &r, &e), LG_ENOENT);
    cr_expect_not(lg_fs_exists(p));

    lg_err_clear(&e);
    path_of(p, sizeof p, "text.db");
    FILE *f = fopen(p, "w");
    fputs("this is not sqlite, it is a text file with enough bytes to have a header ...........\n", f);
    fclose(f);
    cr_expect_eq(lg_results_open(p, true, &r, &e), LG_EINPUT);
    cr_expect(strstr(e.msg, "not a loopgate results database") != NULL, "%s", e.msg);
    lg_buf b = LG_BUF_INIT;
    cr_assert_eq(lg_fs_read_file(p, &b, &e), 0);
    cr_expect(strncmp(b.data, "this is not sqlite", 18) == 0, "file was damaged");
    lg_buf_release(&b);
}

Test(results, newer_format_refused)
{
    char p[256], cmd[1024];
    lg_results *r = NULL;
    lg_err e = LG_ERR_INIT;
    path_of(p, sizeof p, "new.db");
    r = open_new("new.db");
    lg_results_close(r);
    snprintf(cmd, sizeof cmd, "sqlite3 '%s' 'PRAGMA user_version=9' 2>/dev/null || "
             "python3 -c \"import sqlite3;c=sqlite3.connect('%s');c.execute('PRAGMA user_version=9');c.commit()\"", p, p);
    cr_assert_eq(system(cmd), 0);
    cr_expect_eq(lg_results_open(p, false, &r, &e), LG_EFORMAT);
    cr_expect(strstr(e.msg, "format 9 is newer than this loopgate (reads up to 1)") != NULL, "%s", e.msg);
}

Test(results, merge_shards_and_refuse_conflicts)
{
    lg_results *a = open_new("a.db"), *b = open_new("b.db"), *out = open_new("out.db");
    lg_err e = LG_ERR_INIT;
    lg_run_record ia = {0}, ib = {0};
    snprintf(ia.id, sizeof ia.id, "shard-run");
    snprintf(ib.id, sizeof ib.id, "shard-run");
    ia.shard_index = 0;
    ia.shard_count = 2;
    ib.shard_index = 1;
    ib.shard_count = 2;
    ia.status = ib.status = "finished";
    cr_assert_eq(lg_results_run_create(a, &ia, &e), 0);
    cr_assert_eq(lg_results_run_create(b, &ib, &e), 0);
    for (uint32_t c = 0; c < 6; c++) {
        lg_outcome o = mk(c, 0, c % 3 != 0);
        cr_assert_eq(lg_results_put_outcome(c % 2 ? b : a, "shard-run", &o, NULL, NULL, &e), 0);
    }
    size_t runs = 0, outs = 0;
    cr_assert_eq(lg_results_merge(out, a, &runs, &outs, &e), 0, "%s", e.msg);
    cr_assert_eq(lg_results_merge(out, b, &runs, &outs, &e), 0, "%s", e.msg);
    cr_expect_eq(outs, 3u);
    /* merging the same shard again adds nothing and is not an error */
    cr_assert_eq(lg_results_merge(out, b, &runs, &outs, &e), 0, "%s", e.msg);
    cr_expect_eq(outs, 0u);
    lg_outcome_set *set = NULL;
    cr_assert_eq(lg_results_outcomes(out, "shard-run", &set, &e), 0);
    cr_expect_eq(set->n, 6u);
    for (size_t i = 0; i < set->n; i++)
        cr_expect_eq(set->items[i].case_index, i);
    lg_outcome_set_free(set);

    /* a conflicting outcome for the same (run, case, trial) is refused whole */
    lg_results *c = open_new("c.db");
    lg_run_record ic = {0};
    snprintf(ic.id, sizeof ic.id, "shard-run");
    cr_assert_eq(lg_results_run_create(c, &ic, &e), 0);
    lg_outcome o = mk(0, 0, true); /* case 0 failed in a.db */
    cr_assert_eq(lg_results_put_outcome(c, "shard-run", &o, NULL, NULL, &e), 0);
    lg_outcome o7 = mk(7, 0, true);
    cr_assert_eq(lg_results_put_outcome(c, "shard-run", &o7, NULL, NULL, &e), 0);
    cr_expect_eq(lg_results_merge(out, c, NULL, NULL, &e), LG_EINPUT);
    cr_expect(strstr(e.msg, "case 0, trial 0") != NULL, "%s", e.msg);
    lg_err_clear(&e);
    cr_assert_eq(lg_results_outcomes(out, "shard-run", &set, &e), 0);
    cr_expect_eq(set->n, 6u, "a failed merge must write nothing");
    lg_outcome_set_free(set);
    lg_results_close(a);
    lg_results_close(b);
    lg_results_close(c);
    lg_results_close(out);
}
