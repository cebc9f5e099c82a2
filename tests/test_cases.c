/* tests/test_cases.c - harness/cases.c and the pieces it stands on:
 * harness/yamlnode.c, harness/template.c, harness/expr.c. */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/json.h"
#include "core/pcg.h"
#include "harness/cases.h"
#include "harness/expr.h"
#include "harness/suite.h"
#include "harness/template.h"
#include "harness/yamlnode.h"

/* ---- helpers ---- */

static char tmpdir[64];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/lg-cases-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
    lg_err err = LG_ERR_INIT;
    if (tmpdir[0])
        cr_expect_eq(lg_fs_rm_rf(tmpdir, &err), 0);
}

TestSuite(cases, .init = make_tmpdir, .fini = remove_tmpdir);
TestSuite(yaml);
TestSuite(template);
TestSuite(expr);

/* Writes NAME with TEXT into the test's temporary directory; returns the path (static). */
static const char *put(const char *name, const char *text)
{
    static char path[256];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* Loads a suite whose `cases.generators` block is GENS (indented by 4). */
static lg_suite *load_gens(const char *gens, lg_err *err)
{
    char text[8192];
    lg_suite *s = NULL;
    snprintf(text, sizeof text, "name: t\nseed: 42\ncases:\n  count: 5\n  generators:\n%s", gens);
    lg_suite_load(put("suite.yaml", text), &s, err);
    return s;
}

static lg_suite *must_load(const char *gens)
{
    lg_err err = LG_ERR_INIT;
    lg_suite *s = load_gens(gens, &err);
    cr_assert_not_null(s, "load failed: %s", err.msg);
    return s;
}

/* The message with the suite path replaced by "S" (paths are temporary). */
static const char *load_error(const char *gens)
{
    static char msg[LG_ERR_MSG_MAX];
    lg_err err = LG_ERR_INIT;
    lg_suite *s = load_gens(gens, &err);
    const char *p;
    cr_assert_null(s, "expected an error for:\n%s", gens);
    cr_assert_eq(err.code, LG_EINPUT, "code %d: %s", err.code, err.msg);
    p = strstr(err.msg, "/suite.yaml");
    if (p && strncmp(err.msg, tmpdir, strlen(tmpdir)) == 0)
        snprintf(msg, sizeof msg, "S%s", p + strlen("/suite.yaml"));
    else
        snprintf(msg, sizeof msg, "%s", err.msg);
    return msg;
}

static json_t *gen(const lg_suite *s, uint64_t i, unsigned flags)
{
    json_t *c = NULL;
    lg_err err = LG_ERR_INIT;
    cr_assert_eq(lg_cases_generate(s, i, flags, &c, &err), 0, "%s", err.msg);
    return c;
}

static char *dump(const json_t *v)
{
    lg_buf b = LG_BUF_INIT;
    lg_err err = LG_ERR_INIT;
    cr_assert_eq(lg_json_dump_canonical(v, &b, &err), 0);
    return lg_buf_take(&b, NULL);
}

/* ---- determinism ---- */

static const char mixed[] =
    "    a: {int: [0, 1000000]}\n"
    "    b: {float: [0, 1]}\n"
    "    c: {choice: [x, y, z]}\n"
    "    d: {weighted: {p: 1, q: 3}}\n"
    "    e: {bool: 0.5}\n"
    "    f: {template: '{{a}}-{{c}}'}\n";

Test(cases, case_is_a_pure_function_of_seed_and_index)
{
    lg_suite *s = must_load(mixed), *s2 = must_load(mixed);
    json_t *first = gen(s, 37, LG_CASES_HIDDEN);
    char *want = dump(first);

    /* generating other cases first, in any order, changes nothing */
    for (uint64_t i = 100; i-- > 0;)
        json_decref(gen(s, i, 0));
    json_t *again = gen(s, 37, LG_CASES_HIDDEN), *other = gen(s2, 37, LG_CASES_HIDDEN);
    char *a = dump(again), *o = dump(other);
    cr_expect_str_eq(a, want);
    cr_expect_str_eq(o, want);
    /* and a different index gives a different case */
    json_t *c38 = gen(s, 38, LG_CASES_HIDDEN);
    char *d38 = dump(c38);
    cr_expect_str_neq(d38, want);
    free(want), free(a), free(o), free(d38);
    json_decref(first), json_decref(again), json_decref(other), json_decref(c38);
    lg_suite_free(s), lg_suite_free(s2);
}

Test(cases, draws_are_pcg32_stream_index_in_declaration_order)
{
    /* the documented contract, checked against core/pcg.h directly */
    lg_suite *s = must_load("    a: {int: [0, 1000000]}\n"
                            "    t: {template: 'x{{b}}'}\n" /* computed: draws nothing */
                            "    b: {int: [-50, 50]}\n"
                            "    c: {choice: [p, q, r, s, t]}\n");
    static const char *const choices[] = {"p", "q", "r", "s", "t"};
    for (uint64_t i = 0; i < 50; i++) {
        lg_pcg32 rng;
        json_t *c = gen(s, i, 0);
        lg_pcg32_srandom(&rng, 42, i);
        int64_t a = lg_pcg32_range(&rng, 0, 1000000);
        int64_t b = lg_pcg32_range(&rng, -50, 50);
        uint32_t k = lg_pcg32_boundedrand(&rng, 5);
        cr_expect_eq(json_integer_value(json_object_get(c, "a")), a, "case %llu", (unsigned long long)i);
        cr_expect_eq(json_integer_value(json_object_get(c, "b")), b);
        cr_expect_str_eq(json_string_value(json_object_get(c, "c")), choices[k]);
        json_decref(c);
    }
    lg_suite_free(s);
}

Test(cases, different_seeds_give_different_cases)
{
    lg_err err = LG_ERR_INIT;
    lg_suite *a = NULL, *b = NULL;
    cr_assert_eq(lg_suite_load(put("a.yaml", "name: a\nseed: 1\ncases: {generators: {x: {int: [0, 1000000000]}}}\n"), &a, &err), 0, "%s", err.msg);
    cr_assert_eq(lg_suite_load(put("b.yaml", "name: b\nseed: 2\ncases: {generators: {x: {int: [0, 1000000000]}}}\n"), &b, &err), 0, "%s", err.msg);
    int same = 0;
    for (uint64_t i = 0; i < 20; i++) {
        json_t *x = gen(a, i, 0), *y = gen(b, i, 0);
        same += json_equal(x, y);
        json_decref(x), json_decref(y);
    }
    cr_expect_lt(same, 2);
    lg_suite_free(a), lg_suite_free(b);
}

typedef struct gen_job {
    const lg_suite *s;
    char *lines[64];
} gen_job;

static void *gen_all(void *arg)
{
    gen_job *j = arg;
    for (uint64_t i = 0; i < 64; i++) {
        json_t *c = NULL;
        lg_err err = LG_ERR_INIT;
        if (lg_cases_generate(j->s, i, LG_CASES_HIDDEN, &c, &err))
            return NULL;
        j->lines[i] = dump(c);
        json_decref(c);
    }
    return j;
}

Test(cases, threads_share_a_suite)
{
    lg_suite *s = must_load(mixed);
    gen_job jobs[4] = {{s, {0}}, {s, {0}}, {s, {0}}, {s, {0}}};
    pthread_t t[4];
    for (int k = 0; k < 4; k++)
        cr_assert_eq(pthread_create(&t[k], NULL, gen_all, &jobs[k]), 0);
    for (int k = 0; k < 4; k++) {
        void *r;
        pthread_join(t[k], &r);
        cr_assert_not_null(r, "thread %d failed", k);
    }
    for (uint64_t i = 0; i < 64; i++)
        for (int k = 0; k < 4; k++) {
            cr_expect_str_eq(jobs[k].lines[i], jobs[0].lines[i]);
            if (k)
                free(jobs[k].lines[i]);
        }
    for (uint64_t i = 0; i < 64; i++)
        free(jobs[0].lines[i]);
    lg_suite_free(s);
}

Test(cases, a_case_is_a_copy)
{
    lg_suite *s = must_load("    x: {choice: [{k: 1}]}\n");
    json_t *a = gen(s, 0, 0), *b;
    json_object_set_new(json_object_get(a, "x"), "k", json_integer(99));
    b = gen(s, 0, 0);
    cr_expect_eq(json_integer_value(json_object_get(json_object_get(b, "x"), "k")), 1);
    json_decref(a), json_decref(b);
    lg_suite_free(s);
}

/* ---- each generator ---- */

Test(cases, int_covers_its_closed_range)
{
    lg_suite *s = must_load("    x: {int: [-2, 2]}\n");
    int seen[5] = {0};
    for (uint64_t i = 0; i < 500; i++) {
        json_t *c = gen(s, i, 0);
        json_int_t v = json_integer_value(json_object_get(c, "x"));
        cr_assert(v >= -2 && v <= 2, "out of range: %lld", (long long)v);
        seen[v + 2]++;
        json_decref(c);
    }
    for (int k = 0; k < 5; k++) /* each ~100; a broken range fails */
        cr_expect(seen[k] > 60 && seen[k] < 140, "value %d seen %d times", k - 2, seen[k]);
    lg_suite_free(s);
}

Test(cases, int_single_value_range)
{
    lg_suite *s = must_load("    x: {int: [7, 7]}\n");
    json_t *c = gen(s, 3, 0);
    cr_expect_eq(json_integer_value(json_object_get(c, "x")), 7);
    json_decref(c);
    lg_suite_free(s);
}

Test(cases, float_in_range_and_rounded)
{
    lg_suite *s = must_load("    x: {float: [10, 20]}\n    y: {float: [0, 1000], decimals: 2}\n");
    double sum = 0;
    for (uint64_t i = 0; i < 2000; i++) {
        json_t *c = gen(s, i, 0);
        double x = json_real_value(json_object_get(c, "x"));
        double y = json_real_value(json_object_get(c, "y"));
        cr_assert(json_is_real(json_object_get(c, "x")));
        cr_assert(x >= 10 && x < 20, "x=%g", x);
        cr_assert(y >= 0 && y <= 1000, "y=%g", y);
        cr_assert_float_eq(y * 100, round(y * 100), 1e-6, "y=%.17g not rounded to 2 decimals", y);
        sum += x;
        json_decref(c);
    }
    cr_expect_float_eq(sum / 2000, 15.0, 0.2); /* mean of U[10,20) */
    lg_suite_free(s);
}

Test(cases, choice_keeps_value_types_and_is_uniform)
{
    lg_suite *s = must_load("    x: {choice: [1, two, 3.5, true]}\n");
    int n_int = 0, n_str = 0, n_real = 0, n_bool = 0;
    for (uint64_t i = 0; i < 4000; i++) {
        json_t *c = gen(s, i, 0), *v = json_object_get(c, "x");
        n_int += json_is_integer(v) && json_integer_value(v) == 1;
        n_str += json_is_string(v) && !strcmp(json_string_value(v), "two");
        n_real += json_is_real(v) && json_real_value(v) == 3.5;
        n_bool += json_is_true(v);
        json_decref(c);
    }
    cr_expect_eq(n_int + n_str + n_real + n_bool, 4000);
    cr_expect(n_int > 900 && n_int < 1100, "%d", n_int);
    cr_expect(n_str > 900 && n_str < 1100, "%d", n_str);
    cr_expect(n_real > 900 && n_real < 1100, "%d", n_real);
    cr_expect(n_bool > 900 && n_bool < 1100, "%d", n_bool);
    lg_suite_free(s);
}

Test(cases, weighted_follows_weights_and_skips_zero)
{
    lg_suite *s = must_load("    x: {weighted: {a: 1, b: 3, never: 0, c: 0.5}}\n");
    int a = 0, b = 0, c = 0;
    for (uint64_t i = 0; i < 9000; i++) {
        json_t *k = gen(s, i, 0);
        const char *v = json_string_value(json_object_get(k, "x"));
        cr_assert_str_neq(v, "never");
        a += !strcmp(v, "a");
        b += !strcmp(v, "b");
        c += !strcmp(v, "c");
        json_decref(k);
    }
    /* expected 2000 / 6000 / 1000 of 9000 */
    cr_expect(a > 1800 && a < 2200, "a=%d", a);
    cr_expect(b > 5750 && b < 6250, "b=%d", b);
    cr_expect(c > 880 && c < 1120, "c=%d", c);
    lg_suite_free(s);
}

Test(cases, bool_probability)
{
    lg_suite *s = must_load("    x: {bool: 0.25}\n    never: {bool: 0}\n    always: {bool: 1}\n");
    int t = 0;
    for (uint64_t i = 0; i < 4000; i++) {
        json_t *c = gen(s, i, 0);
        t += json_is_true(json_object_get(c, "x"));
        cr_assert(json_is_false(json_object_get(c, "never")));
        cr_assert(json_is_true(json_object_get(c, "always")));
        json_decref(c);
    }
    cr_expect(t > 900 && t < 1100, "true %d times of 4000 at p=0.25", t);
    lg_suite_free(s);
}

Test(cases, lines_picks_non_blank_lines_relative_to_the_suite)
{
    put("names.txt", "alpha\n\n   \nbeta\r\ngamma  \n");
    lg_suite *s = must_load("    who: {lines: names.txt}\n");
    int seen[3] = {0};
    for (uint64_t i = 0; i < 300; i++) {
        json_t *c = gen(s, i, 0);
        const char *v = json_string_value(json_object_get(c, "who"));
        if (!strcmp(v, "alpha"))
            seen[0]++;
        else if (!strcmp(v, "beta"))
            seen[1]++;
        else if (!strcmp(v, "gamma"))
            seen[2]++;
        else
            cr_assert_fail("unexpected line '%s'", v);
        json_decref(c);
    }
    cr_expect(seen[0] > 60 && seen[1] > 60 && seen[2] > 60);
    lg_suite_free(s);
}

Test(cases, template_renders_values_of_every_type)
{
    lg_suite *s = must_load("    n: {int: [5, 5]}\n    r: {float: [0.5, 0.5]}\n    b: {bool: 1}\n"
                            "    w: {choice: [world]}\n"
                            "    t: {template: 'hello {{ w }}: {{n}} {{r}} {{b}} {{w}}!'}\n");
    json_t *c = gen(s, 0, 0);
    cr_expect_str_eq(json_string_value(json_object_get(c, "t")), "hello world: 5 0.5 true world!");
    json_decref(c);
    lg_suite_free(s);
}

Test(cases, templates_resolve_in_dependency_order)
{
    /* declared before the fields they use */
    lg_suite *s = must_load("    c: {template: '<{{b}}>'}\n"
                            "    b: {template: '[{{a}}]'}\n"
                            "    a: {choice: [x]}\n");
    json_t *k = gen(s, 0, 0);
    cr_expect_str_eq(json_string_value(json_object_get(k, "b")), "[x]");
    cr_expect_str_eq(json_string_value(json_object_get(k, "c")), "<[x]>");
    json_decref(k);
    lg_suite_free(s);
}

Test(cases, rules_take_the_first_match)
{
    lg_suite *s = must_load("    days: {int: [0, 60]}\n"
                            "    amount: {int: [1, 1000]}\n"
                            "    item: {choice: [book, gift card]}\n"
                            "    expected:\n"
                            "      hidden: true\n"
                            "      rules:\n"
                            "        - when: item in ['gift card']\n"
                            "          then: deny\n"
                            "        - when: days > 30\n"
                            "          then: deny\n"
                            "        - when: amount >= 500 and not (days > 30)\n"
                            "          then: escalate\n"
                            "        - else: approve {{amount}}\n");
    int counts[3] = {0};
    for (uint64_t i = 0; i < 400; i++) {
        json_t *c = gen(s, i, LG_CASES_HIDDEN);
        json_int_t days = json_integer_value(json_object_get(c, "days"));
        json_int_t amount = json_integer_value(json_object_get(c, "amount"));
        const char *item = json_string_value(json_object_get(c, "item"));
        const char *got = json_string_value(json_object_get(c, "expected"));
        char want[64];
        if (!strcmp(item, "gift card") || days > 30)
            snprintf(want, sizeof want, "deny");
        else if (amount >= 500)
            snprintf(want, sizeof want, "escalate");
        else
            snprintf(want, sizeof want, "approve %lld", (long long)amount);
        cr_assert_str_eq(got, want, "case %llu", (unsigned long long)i);
        counts[want[0] == 'd' ? 0 : want[0] == 'e' ? 1 : 2]++;
        json_decref(c);
    }
    for (int k = 0; k < 3; k++)
        cr_expect_gt(counts[k], 20);
    lg_suite_free(s);
}

Test(cases, rules_values_keep_their_type)
{
    lg_suite *s = must_load("    x: {int: [0, 1]}\n"
                            "    y:\n"
                            "      rules:\n"
                            "        - when: x == 1\n"
                            "          then: 100\n"
                            "        - else: false\n");
    for (uint64_t i = 0; i < 20; i++) {
        json_t *c = gen(s, i, 0);
        if (json_integer_value(json_object_get(c, "x")) == 1)
            cr_expect_eq(json_integer_value(json_object_get(c, "y")), 100);
        else
            cr_expect(json_is_false(json_object_get(c, "y")));
        json_decref(c);
    }
    lg_suite_free(s);
}

Test(cases, hidden_fields_are_dropped_unless_asked)
{
    lg_suite *s = must_load("    q: {int: [1, 9]}\n"
                            "    expected:\n"
                            "      template: 'answer {{q}}'\n"
                            "      hidden: true\n"
                            "    shown: {bool: 1, hidden: false}\n");
    json_t *loop = gen(s, 4, 0), *val = gen(s, 4, LG_CASES_HIDDEN);
    cr_expect_null(json_object_get(loop, "expected"));
    cr_expect_not_null(json_object_get(loop, "shown"));
    cr_expect_eq(json_object_size(loop), 2);
    cr_expect_eq(json_object_size(val), 3);
    char want[32];
    snprintf(want, sizeof want, "answer %lld", (long long)json_integer_value(json_object_get(val, "q")));
    cr_expect_str_eq(json_string_value(json_object_get(val, "expected")), want);
    /* the visible fields are the same either way */
    json_object_del(val, "expected");
    cr_expect(json_equal(loop, val));
    json_decref(loop), json_decref(val);
    lg_suite_free(s);
}

Test(cases, field_listing)
{
    lg_suite *s = must_load("    a: {int: [1, 2]}\n    b: {template: x, hidden: true}\n");
    bool hidden;
    lg_gen_kind kind;
    cr_assert_eq(lg_casegen_nfields(s->cases), 2);
    cr_expect_str_eq(lg_casegen_field(s->cases, 1, &hidden, &kind), "b");
    cr_expect(hidden);
    cr_expect_eq(kind, LG_GEN_TEMPLATE);
    cr_expect_eq(lg_casegen_find(s->cases, "a"), 0);
    cr_expect_eq(lg_casegen_find(s->cases, "zz"), -1);
    cr_expect_null(lg_casegen_field(s->cases, 2, NULL, NULL));
    lg_suite_free(s);
}

Test(cases, no_generators_gives_empty_cases)
{
    lg_err err = LG_ERR_INIT;
    lg_suite *s = NULL;
    cr_assert_eq(lg_suite_load(put("e.yaml", "name: empty\n"), &s, &err), 0, "%s", err.msg);
    json_t *c = gen(s, 12, LG_CASES_HIDDEN);
    cr_expect_eq(json_object_size(c), 0);
    json_decref(c);
    lg_suite_free(s);
}

/* ---- load-time errors (positions are in the generated file: generators start on line 6) ---- */

Test(cases, error_template_cycle)
{
    cr_expect_str_eq(load_error("    a: {template: '{{b}}'}\n"
                                "    b: {template: '{{c}}'}\n"
                                "    c: {template: '{{a}}'}\n"),
                     "S:6:5: field 'a': fields depend on each other in a cycle: a -> b -> c -> a");
}

Test(cases, error_self_reference)
{
    cr_expect_str_eq(load_error("    a: {template: 'x{{a}}'}\n"),
                     "S:6:5: field 'a': fields depend on each other in a cycle: a -> a");
}

Test(cases, error_template_unknown_field_with_suggestion)
{
    cr_expect_str_eq(load_error("    amount: {int: [1, 2]}\n"
                                "    t: {template: 'pay {{amuont}}'}\n"),
                     "S:7:24: field 't': template refers to unknown field 'amuont' (did you mean 'amount'?)");
}

Test(cases, error_hidden_leak)
{
    cr_expect_str_eq(load_error("    secret: {choice: [a], hidden: true}\n"
                                "    prompt: {template: 'the answer is {{secret}}'}\n"),
                     "S:7:39: field 'prompt': uses hidden field 'secret', which would show it to the "
                     "loop; mark 'prompt' hidden: true or drop the reference");
}

Test(cases, error_rules_condition_types)
{
    cr_expect_str_eq(load_error("    days: {int: [0, 9]}\n"
                                "    x:\n"
                                "      rules:\n"
                                "        - when: days < \"thirty\"\n"
                                "          then: a\n"
                                "        - else: b\n"),
                     "S:9:24: field 'x': '<' needs a number but the operand is a string");
    cr_expect_str_eq(load_error("    days: {int: [0, 9]}\n"
                                "    x:\n"
                                "      rules:\n"
                                "        - when: days + 1\n"
                                "          then: a\n"
                                "        - else: b\n"),
                     "S:9:17: field 'x': a condition must be true or false, but this one is a number");
    cr_expect_str_eq(load_error("    days: {int: [0, 9]}\n"
                                "    x:\n"
                                "      rules:\n"
                                "        - when: dayz > 3\n"
                                "          then: a\n"
                                "        - else: b\n"),
                     "S:9:17: field 'x': unknown name 'dayz' (did you mean 'days'?)");
}

Test(cases, error_rules_need_else)
{
    cr_expect_str_eq(load_error("    x:\n"
                                "      rules:\n"
                                "        - when: true\n"
                                "          then: a\n"),
                     "S:8:11: field 'x': rules must end with '- else: VALUE' (the value when no rule matches)");
}

Test(cases, error_bad_generators)
{
    cr_expect_str_eq(load_error("    x: {int: [10, 1]}\n"),
                     "S:6:14: field 'x': int range [10, 1] is empty; min must be <= max");
    cr_expect_str_eq(load_error("    x: {int: [1, two]}\n"),
                     "S:6:18: field 'x': max of the int range must be an integer, got 'two'");
    cr_expect_str_eq(load_error("    x: {bool: 1.5}\n"),
                     "S:6:15: field 'x': bool needs a probability from 0 to 1, got '1.5'");
    cr_expect_str_eq(load_error("    x: {choice: []}\n"),
                     "S:6:17: field 'x': choice needs a non-empty list of values, got a list");
    cr_expect_str_eq(load_error("    x: {weighted: {a: 0}}\n"),
                     "S:6:19: field 'x': weights add up to 0; give at least one value a positive weight");
    cr_expect_str_eq(load_error("    x: {hidden: true}\n"),
                     "S:6:8: field 'x': needs a generator: one of int, float, choice, weighted, bool, lines, template, rules");
    cr_expect_str_eq(load_error("    x: {int: [1, 2], choice: [a]}\n"),
                     "S:6:22: field 'x': has two generators, 'int' and 'choice'; keep one");
    cr_expect_str_eq(load_error("    x: {int: [1, 2], decimals: 2}\n"),
                     "S:6:32: field 'x': 'decimals' applies only to float fields");
    cr_expect_str_eq(load_error("    x: {int: [1, 2], hiden: true}\n"),
                     "S:6:22: unknown key 'hiden' in 'x' (did you mean 'hidden'?)");
    cr_expect_str_eq(load_error("    x: 5\n"),
                     "S:6:8: field 'x': must be a mapping with one generator (e.g. {int: [1, 10]}), got '5'");
    cr_expect_str_eq(load_error("    2x: {int: [1, 2]}\n"),
                     "S:6:5: field name '2x' must be letters, digits and '_', not starting with a digit "
                     "(templates and conditions refer to it)");
    cr_expect_str_eq(load_error("    t: {template: 'a {{ b'}\n"),
                     "S:6:22: field 't': unclosed '{{' in template");
}

Test(cases, error_lines_file)
{
    char want[512];
    const char *msg = load_error("    x: {lines: missing.txt}\n");
    snprintf(want, sizeof want, "S:6:16: field 'x': cannot open '%s/missing.txt': No such file or directory", tmpdir);
    cr_expect_str_eq(msg, want);
    put("blank.txt", "\n  \n");
    msg = load_error("    x: {lines: blank.txt}\n");
    snprintf(want, sizeof want, "S:6:16: field 'x': '%s/blank.txt' has no non-blank lines", tmpdir);
    cr_expect_str_eq(msg, want);
}

/* ---- yamlnode ---- */

static lg_ydoc *yparse(const char *text, lg_err *err)
{
    lg_ydoc *d = NULL;
    lg_yaml_parse(text, strlen(text), "t.yaml", &d, err);
    return d;
}

Test(yaml, positions_are_one_based_for_keys_and_values)
{
    lg_err err = LG_ERR_INIT;
    lg_ydoc *d = yparse("# comment\nname: x\nlist:\n  - 'q'\n  - {k: v}\n", &err);
    cr_assert_not_null(d, "%s", err.msg);
    const lg_ypair *p = lg_ynode_get_pair(d->root, "list");
    cr_assert_not_null(p);
    cr_expect_eq(p->key->line, 3);
    cr_expect_eq(p->key->col, 1);
    cr_expect_eq(p->value->kind, LG_YSEQ);
    cr_expect_eq(p->value->items[0]->line, 4);
    cr_expect_eq(p->value->items[0]->col, 5);
    cr_expect(p->value->items[0]->quoted);
    cr_expect_eq(p->value->items[1]->kind, LG_YMAP);
    cr_expect_eq(p->value->items[1]->pairs[0].value->col, 9);
    lg_ydoc_free(d);
}

Test(yaml, rejects_duplicates_aliases_and_documents)
{
    lg_err err = LG_ERR_INIT;
    cr_expect_null(yparse("a: 1\nb: 2\na: 3\n", &err));
    cr_expect_str_eq(err.msg, "t.yaml:3:1: duplicate key 'a' (first at 1:1)");
    lg_err_clear(&err);
    cr_expect_null(yparse("a: &x 1\nb: *x\n", &err));
    cr_expect_str_eq(err.msg, "t.yaml:1:4: anchors (&x) are not supported in suite files; write the value out");
    lg_err_clear(&err);
    cr_expect_null(yparse("a: 1\n---\nb: 2\n", &err));
    cr_expect_str_eq(err.msg, "t.yaml:2:1: a second YAML document starts here; a suite file holds one");
    lg_err_clear(&err);
    cr_expect_null(yparse("? [a, b]\n: 1\n", &err));
    cr_expect_str_eq(err.msg, "t.yaml:1:3: mapping keys must be plain text, not a list");
    lg_err_clear(&err);
    cr_expect_null(yparse("a: !!python/object 1\n", &err));
    cr_expect_str_eq(err.msg, "t.yaml:1:4: unsupported YAML tag 'tag:yaml.org,2002:python/object'");
}

Test(yaml, syntax_errors_carry_libyaml_positions)
{
    lg_err err = LG_ERR_INIT;
    cr_expect_null(yparse("name: a: b\n", &err));
    cr_expect_eq(err.code, LG_EINPUT);
    cr_expect_str_eq(err.msg, "t.yaml:1:8: mapping values are not allowed in this context");
    lg_err_clear(&err);
    cr_expect_null(yparse("a: 'open\nb: 1\n", &err));
    cr_expect_str_eq(err.msg, "t.yaml:3:1: found unexpected end of stream (while scanning a quoted scalar at 1:4)");
}

Test(yaml, core_schema_to_json)
{
    lg_err err = LG_ERR_INIT;
    lg_ydoc *d = yparse("[1, -2, 0x10, 1.5, 1e3, true, False, ~, null, '', '3', yes, 99999999999999999999, !!str 7]", &err);
    cr_assert_not_null(d, "%s", err.msg);
    json_t *j = lg_ynode_to_json(d->root, "t.yaml", &err);
    cr_assert_not_null(j, "%s", err.msg);
    cr_assert_eq(json_array_size(j), 14);
    cr_expect_eq(json_integer_value(json_array_get(j, 0)), 1);
    cr_expect_eq(json_integer_value(json_array_get(j, 1)), -2);
    cr_expect_eq(json_integer_value(json_array_get(j, 2)), 16);
    cr_expect(json_is_real(json_array_get(j, 3)) && json_real_value(json_array_get(j, 3)) == 1.5);
    cr_expect(json_is_real(json_array_get(j, 4)) && json_real_value(json_array_get(j, 4)) == 1000);
    cr_expect(json_is_true(json_array_get(j, 5)));
    cr_expect(json_is_false(json_array_get(j, 6)));
    cr_expect(json_is_null(json_array_get(j, 7)));
    cr_expect(json_is_null(json_array_get(j, 8)));
    cr_expect_str_eq(json_string_value(json_array_get(j, 9)), "");
    cr_expect_str_eq(json_string_value(json_array_get(j, 10)), "3");   /* quoted: a string */
    cr_expect_str_eq(json_string_value(json_array_get(j, 11)), "yes"); /* YAML 1.2: not a boolean */
    cr_expect(json_is_real(json_array_get(j, 12)) && json_real_value(json_array_get(j, 12)) == 1e20);
    cr_expect_str_eq(json_string_value(json_array_get(j, 13)), "7");   /* !!str */
    json_decref(j);
    lg_ydoc_free(d);
    d = yparse("x: .inf\n", &err);
    cr_expect_null(lg_ynode_to_json(d->root, "t.yaml", &err));
    cr_expect_str_eq(err.msg, "t.yaml:1:4: '.inf' is not a finite number; JSON cannot hold it");
    lg_ydoc_free(d);
}

Test(yaml, empty_document_and_missing_file)
{
    lg_err err = LG_ERR_INIT;
    lg_ydoc *d = yparse("# nothing\n", &err);
    cr_assert_not_null(d);
    cr_expect_null(d->root);
    lg_ydoc_free(d);
    cr_expect_eq(lg_yaml_load_file("/nonexistent/x.yaml", &d, &err), LG_ENOENT);
    cr_expect_str_eq(err.msg, "cannot open '/nonexistent/x.yaml': No such file or directory");
}

Test(yaml, nesting_limit)
{
    char text[400];
    lg_err err = LG_ERR_INIT;
    size_t k = 0;
    for (int i = 0; i < 100; i++)
        text[k++] = '[';
    for (int i = 0; i < 100; i++)
        text[k++] = ']';
    text[k] = '\0';
    cr_expect_null(yparse(text, &err));
    cr_expect(strstr(err.msg, "nesting deeper than 64 levels") != NULL, "%s", err.msg);
}

/* ---- template ---- */

Test(template, parse_and_render)
{
    lg_template *t = NULL;
    lg_err err = LG_ERR_INIT;
    json_t *vars = json_pack("{s:s, s:i, s:f, s:[i,s]}", "name", "Ada", "n", 3, "x", 423.18, "l", 1, "a");
    lg_buf out = LG_BUF_INIT;

    cr_assert_eq(lg_template_parse("Hi {{name}}, {{ n }} x {{x}} {{l}} }} {x}", &t, NULL, &err), 0);
    cr_expect_eq(lg_template_nvars(t), 4);
    size_t off;
    cr_expect_str_eq(lg_template_var(t, 1, &off), "n");
    cr_expect_eq(off, 13);
    cr_assert_eq(lg_template_render(t, vars, &out, &err), 0, "%s", err.msg);
    cr_expect_str_eq(lg_buf_cstr(&out), "Hi Ada, 3 x 423.18 [1,\"a\"] }} {x}");
    cr_expect_null(lg_template_only_var(t));
    lg_template_free(t);

    cr_assert_eq(lg_template_parse("{{missing}}", &t, NULL, &err), 0);
    cr_expect_str_eq(lg_template_only_var(t), "missing");
    cr_expect_eq(lg_template_render(t, vars, &out, &err), LG_EINPUT);
    cr_expect_str_eq(err.msg, "template refers to unknown field 'missing'");
    lg_template_free(t);
    lg_buf_release(&out);
    json_decref(vars);
}

Test(template, syntax_errors_give_offsets)
{
    lg_template *t = NULL;
    lg_err err = LG_ERR_INIT;
    size_t off = 99;
    cr_expect_eq(lg_template_parse("ab {{ 9x }}", &t, &off, &err), LG_EINPUT);
    cr_expect_eq(off, 6);
    cr_expect_null(t);
    lg_err_clear(&err);
    cr_expect_eq(lg_template_parse("ab {{x", &t, &off, &err), LG_EINPUT);
    cr_expect_eq(off, 3);
    cr_expect_str_eq(err.msg, "unclosed '{{' in template");
}

Test(template, shortest_round_trip_doubles)
{
    char b[40];
    double vals[] = {0.1, 423.18, 1.0 / 3, 1e300, -0.0, 5e-324, 123456789.125};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        lg_template_format_double(vals[i], b, sizeof b);
        cr_expect_eq(strtod(b, NULL), vals[i], "%s", b);
    }
    lg_template_format_double(0.1, b, sizeof b);
    cr_expect_str_eq(b, "0.1");
    lg_template_format_double(423.18, b, sizeof b);
    cr_expect_str_eq(b, "423.18");
}

/* ---- expr ---- */

static const char *const vnames[] = {"days", "amount", "item", "vip", NULL};

static int vresolve(void *ctx, const char *name, unsigned *types)
{
    static const unsigned t[] = {LG_EXPR_NUM, LG_EXPR_NUM, LG_EXPR_STR, LG_EXPR_BOOL};
    for (int i = 0; vnames[i]; i++)
        if (!strcmp(vnames[i], name)) {
            *types = t[i];
            return i;
        }
    return -1;
}

static const json_t *vlookup(void *ctx, int id)
{
    return json_object_get(ctx, vnames[id]);
}

/* Evaluates TEXT over {days: 10, amount: 600.5, item: "gift card", vip: false}. */
static lg_expr_value ev(const char *text)
{
    lg_expr *e = NULL;
    lg_err err = LG_ERR_INIT;
    lg_expr_value v;
    json_t *vars = json_pack("{s:i, s:f, s:s, s:b}", "days", 10, "amount", 600.5, "item", "gift card", "vip", 0);
    cr_assert_eq(lg_expr_compile(text, vresolve, NULL, vnames, &e, NULL, &err), 0, "%s: %s", text, err.msg);
    cr_assert_eq(lg_expr_eval(e, vlookup, vars, &v, NULL, &err), 0, "%s: %s", text, err.msg);
    lg_expr_free(e);
    json_decref(vars); /* strings in v may dangle; tests only read numbers and booleans */
    v.str = NULL;
    return v;
}

static bool evb(const char *text)
{
    lg_expr_value v = ev(text);
    cr_assert_eq(v.type, LG_EXPR_BOOL, "%s", text);
    return v.b;
}

Test(expr, evaluation)
{
    cr_expect(evb("days <= 30 and amount >= 500"));
    cr_expect(!evb("days > 30 or amount < 500"));
    cr_expect(evb("not vip"));
    cr_expect(evb("item == 'gift card'"));
    cr_expect(evb("item == \"gift card\""));
    cr_expect(evb("item != 'book'"));
    cr_expect(evb("item in ['book', 'gift card']"));
    cr_expect(evb("item not in ['book']"));
    cr_expect(evb("days in [1, 10, -3]"));
    cr_expect(evb("(days + 5) * 2 == 30"));
    cr_expect(evb("days - 20 / 4 == 5"));  /* precedence */
    cr_expect(evb("-days < 0"));
    cr_expect(evb("true or 1 / 0 > 1"));   /* short-circuit: the division never runs */
    cr_expect(evb("not days > 30 and not vip"));
    cr_expect_float_eq(ev("amount * 2").num, 1201.0, 1e-9);
}

static const char *compile_error(const char *text, size_t *off)
{
    static char msg[LG_ERR_MSG_MAX];
    lg_expr *e = NULL;
    lg_err err = LG_ERR_INIT;
    cr_assert_neq(lg_expr_compile(text, vresolve, NULL, vnames, &e, off, &err), 0, "%s compiled", text);
    cr_assert_null(e);
    snprintf(msg, sizeof msg, "%s", err.msg);
    return msg;
}

Test(expr, compile_errors_name_the_offset)
{
    size_t off = 0;
    cr_expect_str_eq(compile_error("days <= ", &off), "expression ends too early; expected a value");
    cr_expect_eq(off, 8);
    cr_expect_str_eq(compile_error("amout > 3", &off), "unknown name 'amout' (did you mean 'amount'?)");
    cr_expect_eq(off, 0);
    cr_expect_str_eq(compile_error("days = 3", &off), "use '==' to compare");
    cr_expect_eq(off, 5);
    cr_expect_str_eq(compile_error("item > 3", &off), "'>' needs a number but 'item' is a string");
    cr_expect_str_eq(compile_error("item == 3", &off),
                     "'==' would always be false: 'item' is a string, the operand is a number");
    cr_expect_str_eq(compile_error("days and vip", &off), "'and' needs true/false but 'days' is a number");
    cr_expect_str_eq(compile_error("item in [1, 2]", &off),
                     "'in' would always be false: 'item' is a string and the list holds a number");
    cr_expect_str_eq(compile_error("'open", &off), "unterminated string; close it with '");
    cr_expect_str_eq(compile_error("days > 3 3", &off), "unexpected '3' after a complete expression");
    cr_expect_eq(off, 9);
    cr_expect_str_eq(compile_error("(days > 3", &off), "expected ')' to close '(', found the end");
    cr_expect_str_eq(compile_error("days && vip", &off), "use 'and' to combine conditions");
}

Test(expr, runtime_errors)
{
    lg_expr *e = NULL;
    lg_err err = LG_ERR_INIT;
    lg_expr_value v;
    size_t off = 0;
    json_t *vars = json_pack("{s:i}", "days", 0);
    cr_assert_eq(lg_expr_compile("10 / days > 1", vresolve, NULL, vnames, &e, NULL, &err), 0);
    cr_expect_eq(lg_expr_eval(e, vlookup, vars, &v, &off, &err), LG_EINPUT);
    cr_expect_str_eq(err.msg, "division by zero");
    cr_expect_eq(off, 3);
    lg_expr_free(e);
    json_decref(vars);
}
