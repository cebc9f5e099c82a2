/* tests/test_suite.c - harness/suite.c: loading, typing and validating suite files. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/json.h"
#include "harness/cases.h"
#include "harness/loop_config.h"
#include "harness/suite.h"

static char tmpdir[64];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/lg-suite-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
    lg_err err = LG_ERR_INIT;
    if (tmpdir[0])
        cr_expect_eq(lg_fs_rm_rf(tmpdir, &err), 0);
}

TestSuite(suite, .init = make_tmpdir, .fini = remove_tmpdir);

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

static lg_suite *load_text(const char *text)
{
    lg_err err = LG_ERR_INIT;
    lg_suite *s = NULL;
    cr_assert_eq(lg_suite_load(put("s.yaml", text), &s, &err), 0, "%s", err.msg);
    cr_assert_not_null(s);
    return s;
}

/* The error for TEXT, with the temporary path replaced by "S". */
static const char *load_error(const char *text)
{
    static char msg[LG_ERR_MSG_MAX];
    lg_err err = LG_ERR_INIT;
    lg_suite *s = NULL;
    const char *path = put("s.yaml", text);
    cr_assert_neq(lg_suite_load(path, &s, &err), 0, "expected an error for:\n%s", text);
    cr_assert_null(s);
    cr_assert_eq(err.code, LG_EINPUT, "code %d: %s", err.code, err.msg);
    if (!strncmp(err.msg, path, strlen(path)))
        snprintf(msg, sizeof msg, "S%s", err.msg + strlen(path));
    else
        snprintf(msg, sizeof msg, "%s", err.msg);
    return msg;
}

static char *canon(const json_t *v)
{
    lg_buf b = LG_BUF_INIT;
    lg_err err = LG_ERR_INIT;
    cr_assert_eq(lg_json_dump_canonical(v, &b, &err), 0);
    return lg_buf_take(&b, NULL);
}

static const char full_suite[] =
    "name: support\n"
    "description: a full suite\n"
    "seed: 18446744073709551615\n"
    "trials: 3\n"
    "cases:\n"
    "  count: 25\n"
    "  generators:\n"
    "    q: {int: [1, 9]}\n"
    "    expected: {template: 'a{{q}}', hidden: true}\n"
    "loop:\n"
    "  command: [node, agent.mjs, --fast]\n"
    "  env: {MODE: test, EMPTY: '', UNSET: null}\n"
    "  answer: out/answer.txt\n"
    "expect:\n"
    "  equals: '{{expected}}'\n"
    "  contains: ['{{q}}', done]\n"
    "  regex: '^a[0-9]+$'\n"
    "  json: {decision: '{{expected}}', n: 1}\n"
    "  ignore_case: true\n"
    "validate:\n"
    "  command: python3 check.py \"$LOOPGATE_CASE\"\n"
    "  timeout: 12.5\n"
    "invariants:\n"
    "  max_iterations: 8\n"
    "  max_tokens: 20000\n"
    "  max_cost_usd: 0.25\n"
    "  no_repeated_action: 3\n"
    "  stall: 4\n"
    "  tool_allowlist: [lookup, refund]\n"
    "  required_before:\n"
    "    - {tool: lookup}\n"
    "    - {tool: refund, before: close}\n"
    "  exactly_once: [refund]\n"
    "  approval_required: []\n"
    "  command: {command: [sh, -c, 'exit 0'], timeout: 5}\n"
    "limits:\n"
    "  max_iterations: 10\n"
    "  timeout_s: 90\n"
    "  max_tokens: 50000\n"
    "  max_cost_usd: 1.5\n"
    "pricing:\n"
    "  gpt-4o: {input: 2.5, output: 10, cached_input: 1.25}\n"
    "  local: {input: 0, output: 0}\n"
    "gates:\n"
    "  - convergence_rate >= 0.9\n"
    "  - \"iterations.p95 <= 6\"\n"
    "sim:\n"
    "  p_first_correct: 0.75\n"
    "  faults: {rate_limit: 0.5}\n";

Test(suite, loads_every_key)
{
    lg_suite *s = load_text(full_suite);
    char *j;

    cr_expect_str_eq(s->name, "support");
    cr_expect_str_eq(s->description, "a full suite");
    cr_expect_eq(s->seed, UINT64_MAX);
    cr_expect_eq(s->trials, 3);
    cr_expect_eq(s->count, 25);
    cr_expect_eq(lg_casegen_nfields(s->cases), 2);
    cr_expect_str_eq(s->dir, tmpdir);

    cr_assert_eq(s->loop.kind, LG_LOOP_COMMAND);
    cr_expect_null(s->loop.cmd.shell);
    cr_assert_not_null(s->loop.cmd.argv);
    cr_expect_str_eq(s->loop.cmd.argv[0], "node");
    cr_expect_str_eq(s->loop.cmd.argv[2], "--fast");
    cr_expect_null(s->loop.cmd.argv[3]);
    cr_expect_str_eq(s->loop.cmd.env[0], "MODE=test");
    cr_expect_str_eq(s->loop.cmd.env[1], "EMPTY=");
    cr_expect_str_eq(s->loop.cmd.env[2], "UNSET");
    cr_expect_null(s->loop.cmd.env[3]);
    cr_expect_str_eq(s->loop.answer, "out/answer.txt");
    cr_expect_eq(s->loop.cmd.line, 11);
    cr_expect_eq(s->loop.cmd.col, 12);

    cr_assert(s->expect.present);
    cr_expect_str_eq(s->expect.equals.text, "{{expected}}");
    cr_expect_eq(s->expect.ncontains, 2);
    cr_expect_str_eq(s->expect.contains[1].text, "done");
    cr_expect_str_eq(s->expect.regex.text, "^a[0-9]+$");
    j = canon(s->expect.json);
    cr_expect_str_eq(j, "{\"decision\":\"{{expected}}\",\"n\":1}");
    free(j);
    cr_expect(s->expect.ignore_case);

    cr_assert(s->validate.present);
    cr_expect_str_eq(s->validate.cmd.shell, "python3 check.py \"$LOOPGATE_CASE\"");
    cr_expect_float_eq(s->validate.cmd.timeout_s, 12.5, 1e-9);

    const lg_suite_invariants *inv = &s->invariants;
    cr_expect_eq(inv->max_iterations, 8);
    cr_expect_eq(inv->max_tokens, 20000);
    cr_expect_float_eq(inv->max_cost_usd, 0.25, 1e-12);
    cr_expect_eq(inv->no_repeated_action, 3);
    cr_expect_eq(inv->stall, 4);
    cr_expect_eq(inv->tool_allowlist.n, 2);
    cr_expect_str_eq(inv->tool_allowlist.items[1], "refund");
    cr_expect_eq(inv->nrequired_before, 2);
    cr_expect_str_eq(inv->required_before[0].tool, "lookup");
    cr_expect_str_eq(inv->required_before[0].before, "final_answer");
    cr_expect_str_eq(inv->required_before[1].before, "close");
    cr_expect_eq(inv->exactly_once.n, 1);
    cr_expect(inv->approval_required.present);
    cr_expect_eq(inv->approval_required.n, 0);
    cr_assert_not_null(inv->command);
    cr_expect_str_eq(inv->command->argv[0], "sh");
    cr_expect_float_eq(inv->command->timeout_s, 5, 1e-12);

    cr_expect_eq(s->limits.max_iterations, 10);
    cr_expect_float_eq(s->limits.timeout_s, 90, 1e-12);
    cr_expect_eq(s->limits.max_tokens, 50000);
    cr_expect_float_eq(s->limits.max_cost_usd, 1.5, 1e-12);

    cr_expect_null(s->pricing.file);
    cr_assert_eq(s->pricing.nmodels, 2);
    cr_expect_str_eq(s->pricing.models[0].model, "gpt-4o");
    cr_expect_float_eq(s->pricing.models[0].cached_input, 1.25, 1e-12);
    cr_expect_float_eq(s->pricing.models[1].cached_input, 0, 1e-12);

    cr_assert_eq(s->ngates, 2);
    cr_expect_str_eq(s->gates[0].text, "convergence_rate >= 0.9");
    cr_expect_eq(s->gates[0].pos.line, 45);
    cr_expect_eq(s->gates[0].pos.col, 5);
    cr_expect(s->gates[0].pos.exact);
    int line, col; /* the quoted gate: text starts after the quote */
    lg_ytextpos_at(s->gates[1].pos, strlen("iterations.p95 "), &line, &col);
    cr_expect_eq(line, 46);
    cr_expect_eq(col, 21);

    j = canon(s->sim);
    cr_expect_str_eq(j, "{\"faults\":{\"rate_limit\":0.5},\"p_first_correct\":0.75}");
    free(j);
    cr_expect_not_null(s->sim_node);
    lg_suite_free(s);
}

Test(suite, defaults)
{
    lg_suite *s = load_text("name: minimal\n");
    cr_expect_eq(s->seed, LG_SUITE_DEFAULT_SEED);
    cr_expect_eq(s->trials, 1);
    cr_expect_eq(s->count, LG_SUITE_DEFAULT_COUNT);
    cr_expect_eq(s->loop.kind, LG_LOOP_NONE);
    cr_expect(!s->expect.present);
    cr_expect(!s->validate.present);
    cr_expect_eq(s->invariants.max_iterations, 0);
    cr_expect(!s->invariants.tool_allowlist.present);
    cr_expect_null(s->invariants.command);
    cr_expect_float_eq(s->limits.timeout_s, LG_SUITE_DEFAULT_TIMEOUT_S, 1e-12);
    cr_expect_eq(s->ngates, 0);
    cr_expect_null(s->sim);
    cr_expect_null(s->description);
    cr_expect_str_eq(s->dir, tmpdir);
    lg_suite_free(s);
}

Test(suite, builtin_loop_is_kept_as_json_and_yaml)
{
    lg_suite *s = load_text("name: b\nloop:\n  builtin:\n    provider: sim\n    model: m\n    prompt: hi\n    tools:\n      - {name: t, idempotent: false, command: 'true'}\n");
    cr_assert_eq(s->loop.kind, LG_LOOP_BUILTIN);
    char *j = canon(s->loop.builtin);
    cr_expect_str_eq(j, "{\"model\":\"m\",\"prompt\":\"hi\",\"provider\":\"sim\",\"tools\":[{\"command\":\"true\",\"idempotent\":false,\"name\":\"t\"}]}");
    free(j);
    cr_assert_not_null(s->loop.builtin_node);
    cr_expect_eq(lg_ynode_get(s->loop.builtin_node, "tools")->line, 8);
    lg_suite_free(s);
}

Test(suite, shell_command_and_pricing_file)
{
    put("prices.yaml", "gpt: {input: 1, output: 2}\n");
    lg_suite *s = load_text("name: p\nloop: {command: './run.sh --x'}\npricing: prices.yaml\n");
    cr_expect_str_eq(s->loop.cmd.shell, "./run.sh --x");
    cr_expect_null(s->loop.cmd.argv);
    char want[256];
    snprintf(want, sizeof want, "%s/prices.yaml", tmpdir);
    cr_expect_str_eq(s->pricing.file, want);
    lg_suite_free(s);
}

Test(suite, hash_is_of_the_file_bytes)
{
    lg_suite *a = load_text("name: h\n"), *b = load_text("name: h\n"), *c = load_text("name: h # changed\n");
    cr_expect(lg_hash_equal(a->hash, b->hash));
    cr_expect(!lg_hash_equal(a->hash, c->hash));
    lg_suite_free(a), lg_suite_free(b), lg_suite_free(c);
}

Test(suite, missing_file_is_enoent)
{
    lg_err err = LG_ERR_INIT;
    lg_suite *s = NULL;
    cr_expect_eq(lg_suite_load("no/such/suite.yaml", &s, &err), LG_ENOENT);
    cr_expect_null(s);
    cr_expect_str_eq(err.msg, "cannot open 'no/such/suite.yaml': No such file or directory");
    cr_expect_eq(lg_err_exit_code(err.code), 2);
}

Test(suite, errors_name_file_line_column)
{
    cr_expect_str_eq(load_error("name: x\ntrails: 3\n"), "S:2:1: unknown key 'trails' (did you mean 'trials'?)");
    cr_expect_str_eq(load_error("name: x\ntrials: three\n"), "S:2:9: 'trials' must be a positive integer, got 'three'");
    cr_expect_str_eq(load_error("name: x\ntrials: 0\n"), "S:2:9: 'trials' must be a positive integer, got '0'");
    cr_expect_str_eq(load_error("name: x\ntrials: 1000000\n"), "S:2:9: 'trials' must be at most 100000, got '1000000'");
    cr_expect_str_eq(load_error("# c\n\nseed: 1\n"), "S:3:1: missing required key 'name'");
    cr_expect_str_eq(load_error("name:\n"), "S:1:6: 'name' must be a non-empty string, got nothing");
    cr_expect_str_eq(load_error("name: x\nseed: -1\n"),
                     "S:2:7: 'seed' must be an integer from 0 to 18446744073709551615, got '-1'");
    cr_expect_str_eq(load_error("name: x\nseed: 18446744073709551616\n"),
                     "S:2:7: 'seed' must be an integer from 0 to 18446744073709551615, got '18446744073709551616'");
    cr_expect_str_eq(load_error("- a\n- b\n"), "S:1:1: a suite must be a mapping of keys (name, cases, loop, ...), got a list");
    cr_expect_str_eq(load_error(""), "S:1:1: the suite file is empty; it needs at least 'name'");
    cr_expect_str_eq(load_error("name: x\ncases: {cuont: 3}\n"),
                     "S:2:9: unknown key 'cuont' in 'cases' (did you mean 'count'?)");
    cr_expect_str_eq(load_error("name: x\ncases: {count: 0}\n"),
                     "S:2:16: 'cases.count' must be a positive integer, got '0'");
    cr_expect_str_eq(load_error("name: x\nloop: {}\n"),
                     "S:2:7: 'loop' needs 'command' (an external loop) or 'builtin' (the built-in engine)");
    cr_expect_str_eq(load_error("name: x\nloop:\n  command: a\n  builtin: {}\n"),
                     "S:4:3: 'loop' takes either 'command' (an external loop) or 'builtin', not both");
    cr_expect_str_eq(load_error("name: x\nloop: {builtin: [a]}\n"),
                     "S:2:17: 'loop.builtin' must be a mapping, got a list");
    cr_expect_str_eq(load_error("name: x\nloop: {command: a, timeout: 3}\n"),
                     "S:2:20: unknown key 'timeout' in 'loop' (the time limit of a trial is 'limits.timeout_s')");
    cr_expect_str_eq(load_error("name: x\nloop: {command: {a: b}}\n"),
                     "S:2:17: 'loop.command' must be a command line or a list of arguments, got a mapping");
    cr_expect_str_eq(load_error("name: x\nloop: {command: a, env: {1BAD: x}}\n"),
                     "S:2:26: 'loop.env': '1BAD' is not a valid environment variable name");
    cr_expect_str_eq(load_error("name: x\nexpect: {ignore_case: true}\n"),
                     "S:2:9: 'expect' needs at least one of equals, contains, regex, json");
    cr_expect_str_eq(load_error("name: x\ncases: {generators: {expected: {choice: [a]}}}\n"
                                "expect: {equals: 'is {{expectd}}'}\n"),
                     "S:3:22: 'expect.equals' refers to unknown case field 'expectd' (did you mean 'expected'?)");
    cr_expect_str_eq(load_error("name: x\nexpect: {regex: '([a-z'}\n"),
                     "S:2:17: 'expect.regex' is not a valid extended regular expression: Unmatched [, [^, [:, [., or [=");
    cr_expect_str_eq(load_error("name: x\nvalidate: {timeout: 3}\n"),
                     "S:2:11: missing required key 'command' in 'validate'");
    cr_expect_str_eq(load_error("name: x\ninvariants: {no_repeated_action: 1}\n"),
                     "S:2:34: 'invariants.no_repeated_action' must be an integer >= 2 (identical calls in a row "
                     "that count as a repeat), got '1'");
    cr_expect_str_eq(load_error("name: x\ninvariants: {required_before: {before: x}}\n"),
                     "S:2:31: missing required key 'tool' in 'invariants.required_before'");
    cr_expect_str_eq(load_error("name: x\ninvariants: {exactly_once: refund}\n"),
                     "S:2:28: 'invariants.exactly_once' must be a list of tool names, got 'refund'");
    cr_expect_str_eq(load_error("name: x\nlimits: {timeout_s: -5}\n"),
                     "S:2:21: 'limits.timeout_s' must be a positive number, got '-5'");
    cr_expect_str_eq(load_error("name: x\nlimits: {max_iteration: 5}\n"),
                     "S:2:10: unknown key 'max_iteration' in 'limits' (did you mean 'max_iterations'?)");
    cr_expect_str_eq(load_error("name: x\npricing: {m: {input: 1}}\n"),
                     "S:2:14: missing required key 'output' in 'pricing.m'");
    cr_expect_str_eq(load_error("name: x\npricing: {m: {input: 1, output: cheap}}\n"),
                     "S:2:33: 'pricing.m.output' must be a number >= 0, got 'cheap'");
    cr_expect_str_eq(load_error("name: x\ngates: convergence_rate >= 0.9\n"),
                     "S:2:8: 'gates' must be a list of gate expressions (e.g. - convergence_rate >= 0.9), "
                     "got 'convergence_rate >= 0.9'");
    cr_expect_str_eq(load_error("name: x\nsim: 3\n"), "S:2:6: 'sim' must be a mapping, got '3'");
    cr_expect_str_eq(load_error("name: x\nname: y\n"), "S:2:1: duplicate key 'name' (first at 1:1)");
}

Test(suite, pricing_file_must_exist)
{
    lg_err err = LG_ERR_INIT;
    lg_suite *s = NULL;
    char want[512];
    const char *path = put("s.yaml", "name: x\npricing: nope.yaml\n");
    cr_expect_eq(lg_suite_load(path, &s, &err), LG_EINPUT);
    snprintf(want, sizeof want, "%s:2:10: cannot open pricing file '%s/nope.yaml': No such file or directory",
             path, tmpdir);
    cr_expect_str_eq(err.msg, want);
}

/* The bundled example suites load and generate cases. */
static lg_suite *load_bundled(const char *rel)
{
    char path[1024];
    const char *src = getenv("LG_SRCDIR");
    lg_err err = LG_ERR_INIT;
    lg_suite *s = NULL;
    snprintf(path, sizeof path, "%s/%s", src ? src : ".", rel);
    cr_assert_eq(lg_suite_load(path, &s, &err), 0, "%s", err.msg);
    return s;
}

Test(suite, bundled_refund_policy)
{
    lg_suite *s = load_bundled("suites/refund-policy.yaml");
    cr_expect_str_eq(s->name, "refund-policy");
    cr_expect_eq(s->loop.kind, LG_LOOP_COMMAND);
    cr_expect(s->expect.present);
    cr_expect_gt(s->ngates, 0);
    int seen[3] = {0};
    for (uint64_t i = 0; i < 200; i++) {
        json_t *c = NULL, *h = NULL;
        lg_err err = LG_ERR_INIT;
        cr_assert_eq(lg_cases_generate(s, i, 0, &c, &err), 0, "%s", err.msg);
        cr_assert_eq(lg_cases_generate(s, i, LG_CASES_HIDDEN, &h, &err), 0, "%s", err.msg);
        cr_expect_null(json_object_get(c, "expected"));
        const char *e = json_string_value(json_object_get(h, "expected"));
        cr_assert_not_null(e);
        int k = !strcmp(e, "approve") ? 0 : !strcmp(e, "deny") ? 1 : !strcmp(e, "escalate") ? 2 : -1;
        cr_assert_geq(k, 0, "unexpected decision '%s'", e);
        seen[k]++;
        cr_expect_not_null(json_object_get(c, "customer"));
        json_decref(c), json_decref(h);
    }
    /* every decision occurs: a suite that only ever says "deny" tests little */
    for (int k = 0; k < 3; k++)
        cr_expect_gt(seen[k], 20, "decision %d seen %d times of 200", k, seen[k]);
    lg_suite_free(s);
}

Test(suite, bundled_codegen_gate)
{
    lg_suite *s = load_bundled("suites/codegen-gate.yaml");
    cr_expect_eq(s->loop.kind, LG_LOOP_COMMAND);
    cr_expect(s->validate.present);
    for (uint64_t i = 0; i < 50; i++) {
        json_t *c = NULL;
        lg_err err = LG_ERR_INIT;
        cr_assert_eq(lg_cases_generate(s, i, LG_CASES_HIDDEN, &c, &err), 0, "%s", err.msg);
        const char *test = json_string_value(json_object_get(c, "test"));
        const char *fn = json_string_value(json_object_get(c, "function"));
        cr_assert_not_null(test);
        cr_expect(strstr(test, fn) != NULL, "test for %s: %s", fn, test);
        json_decref(c);
    }
    lg_suite_free(s);
}

/* A command mapping (`command`, `timeout`, `env`) is parsed by one piece
 * (harness/suite_int.h) for the suite's own commands and for the builtin
 * loop's tools and verifier; only the builtin caps `timeout` at a day. */
#define BUILTIN "name: x\nloop:\n  builtin:\n    provider: sim\n    model: m\n    prompt: hi\n"

Test(suite, command_mapping_is_shared_with_the_builtin_loop)
{
    lg_suite *s = load_text("name: x\nvalidate: {command: [v, '1'], timeout: 100000, env: {A: b, C: null}}\n");
    cr_expect_float_eq(s->validate.cmd.timeout_s, 100000, 1e-9);
    cr_expect_str_eq(s->validate.cmd.argv[1], "1");
    cr_expect_str_eq(s->validate.cmd.env[0], "A=b");
    cr_expect_str_eq(s->validate.cmd.env[1], "C");
    cr_expect_null(s->validate.cmd.env[2]);
    lg_suite_free(s);

    lg_err err = LG_ERR_INIT;
    lg_loop_config *cfg = NULL;
    s = load_text(BUILTIN "    tools:\n"
                  "      - {name: t, parameters: {properties: {p: {type: string}}},\n"
                  "         command: [cat, '{{p}}'], env: {A: b}}\n"
                  "    verify: {command: 'make test', timeout: 86400}\n");
    cr_assert_eq(lg_loop_config_parse(s->loop.builtin_node, s->path, s->cases, &cfg, &err), 0, "%s",
                 err.msg);
    cr_expect_eq(cfg->tools[0].cmd.argc, 2);
    cr_expect_not_null(cfg->tools[0].cmd.argv_t[1]);
    cr_expect_float_eq(cfg->tools[0].cmd.timeout_s, LG_LOOP_TOOL_TIMEOUT_S, 1e-9);
    cr_expect_str_eq(cfg->tools[0].cmd.env[0], "A=b");
    cr_expect_str_eq(cfg->verify.shell, "make test");
    cr_expect_null(cfg->verify.shell_t);
    cr_expect_float_eq(cfg->verify.timeout_s, 86400, 1e-9);
    lg_loop_config_free(cfg);
    lg_suite_free(s);

    cr_expect_str_eq(load_error(BUILTIN "    verify: {command: x, timeout: 86401}\n"),
                     "S:7:35: 'verify.timeout' must be at most 86400, got '86401'");
    cr_expect_str_eq(load_error(BUILTIN "    verify: {when: final_answer}\n"),
                     "S:7:13: missing required key 'command' in 'verify'");
    cr_expect_str_eq(load_error(BUILTIN "    tools: [{name: t, command: x, env: {9: x}}]\n"),
                     "S:7:41: 'tools[0] 't'.env': '9' is not a valid environment variable name");
    cr_expect_str_eq(load_error(BUILTIN "    tools: [{name: t, command: []}]\n"),
                     "S:7:32: 'tools[0] 't'.command' must be a command line or a list of arguments, "
                     "got a list");
    /* a word's template is checked as the word is read: before later words
     * and before `timeout` */
    cr_expect_str_eq(load_error(BUILTIN "    tools: [{name: t, command: ['{{nope}}', [1]]}]\n"),
                     "S:7:34: 'tools[0] 't'.command' refers to 'nope', which is not a property of "
                     "the tool's 'parameters'");
    cr_expect_str_eq(load_error(BUILTIN "    tools: [{name: t, command: 'cat {{', timeout: -3}]\n"),
                     "S:7:37: 'tools[0] 't'.command': unclosed '{{' in template");
}
