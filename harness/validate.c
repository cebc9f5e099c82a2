#include "validate.h"

#include <ctype.h>
#include <stdarg.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/fs.h"
#include "core/json.h"
#include "core/proc.h"
#include "harness/template.h"

#define DETAIL_CAP 4096

static int render(const lg_suite *s, const lg_suite_text *t, const json_t *vars, lg_buf *out,
                  lg_err *err)
{
    lg_template *tpl = NULL;
    size_t off = 0;
    int rc = lg_template_parse(t->text, &tpl, &off, err);
    if (!rc)
        rc = lg_template_render(tpl, vars, out, err);
    if (rc) {
        int line, col;
        lg_ytextpos_at(t->pos, off, &line, &col);
        lg_err_prefix(err, "%s:%d:%d", s->path, line, col);
    }
    lg_template_free(tpl);
    return rc;
}

/* [begin, end) of the answer without surrounding white space */
static void trim(const char *s, size_t len, size_t *b, size_t *e)
{
    *b = 0;
    *e = len;
    while (*b < *e && isspace((unsigned char)s[*b]))
        (*b)++;
    while (*e > *b && isspace((unsigned char)s[*e - 1]))
        (*e)--;
}

static bool contains(const char *hay, size_t hlen, const char *needle, size_t nlen, bool icase)
{
    if (nlen == 0)
        return true;
    for (size_t i = 0; i + nlen <= hlen; i++)
        if (icase ? strncasecmp(hay + i, needle, nlen) == 0 : memcmp(hay + i, needle, nlen) == 0)
            return true;
    return false;
}

/* Appends to the detail text; a detail that cannot grow is only shortened,
 * never an error of the validation itself. */
__attribute__((format(printf, 2, 3))) static void note(lg_buf *detail, const char *fmt, ...)
{
    va_list ap;
    if (detail->len >= DETAIL_CAP)
        return;
    if (detail->len && lg_buf_append_str(detail, "; "))
        return;
    va_start(ap, fmt);
    if (lg_buf_vappendf(detail, fmt, ap)) {
        /* keep what fits */
    }
    va_end(ap);
}

static void note_raw(lg_buf *detail, const char *data, size_t n)
{
    if (lg_buf_append(detail, data, n)) {
        /* a detail past its cap is shortened, nothing more */
    }
}

#define SHOWN(len) ((int)((len) > 200 ? 200 : (len)))
#define MORE(len) ((len) > 200 ? "..." : "")

/* Does `got` contain `want` (templates in want's strings rendered)? */
static int json_contains(const lg_suite *s, const json_t *want, const json_t *got,
                         const json_t *vars, lg_buf *path, bool *ok, lg_err *err)
{
    size_t mark = path->len;
    int rc = 0;

    if (json_is_object(want)) {
        const char *k;
        json_t *v;
        if (!json_is_object(got)) {
            *ok = false;
            return 0;
        }
        json_object_foreach((json_t *)want, k, v) {
            json_t *g = json_object_get(got, k);
            if (lg_buf_appendf(path, ".%s", k))
                return LG_ERR(err, LG_ENOMEM, "out of memory");
            if (!g) {
                *ok = false;
                return 0;
            }
            if ((rc = json_contains(s, v, g, vars, path, ok, err)) || !*ok)
                return rc;
            lg_buf_truncate(path, mark);
        }
        return 0;
    }
    if (json_is_array(want)) {
        if (!json_is_array(got) || json_array_size(got) != json_array_size(want)) {
            *ok = false;
            return 0;
        }
        for (size_t i = 0; i < json_array_size(want); i++) {
            if (lg_buf_appendf(path, "[%zu]", i))
                return LG_ERR(err, LG_ENOMEM, "out of memory");
            if ((rc = json_contains(s, json_array_get(want, i), json_array_get(got, i), vars,
                                    path, ok, err)) ||
                !*ok)
                return rc;
            lg_buf_truncate(path, mark);
        }
        return 0;
    }
    if (json_is_string(want)) {
        lg_buf r = LG_BUF_INIT;
        lg_template *tpl = NULL;
        size_t off;
        if ((rc = lg_template_parse(json_string_value(want), &tpl, &off, err)) ||
            (rc = lg_template_render(tpl, vars, &r, err))) {
            lg_template_free(tpl);
            lg_buf_release(&r);
            lg_err_prefix(err, "%s: expect.json", s->path);
            return rc;
        }
        lg_template_free(tpl);
        /* "{{n}}" alone compares as the field's JSON value, so numbers match numbers */
        if (json_is_string(got))
            *ok = strcmp(json_string_value(got), lg_buf_cstr(&r)) == 0;
        else {
            json_t *as = json_loads(lg_buf_cstr(&r), JSON_DECODE_ANY, NULL);
            *ok = as && json_equal(as, got);
            json_decref(as);
        }
        lg_buf_release(&r);
        return 0;
    }
    *ok = json_equal(want, got);
    return 0;
}

static int check_expect(const lg_validate_ctx *c, const char *answer, size_t len, bool *pass,
                        lg_buf *detail, lg_err *err)
{
    const lg_suite_expect *ex = &c->suite->expect;
    lg_buf want = LG_BUF_INIT;
    size_t b, e;
    int rc = 0;

    trim(answer, len, &b, &e);
    if (ex->equals.text) {
        if ((rc = render(c->suite, &ex->equals, c->case_full, &want, err)))
            goto out;
        size_t wb, we;
        trim(want.data ? want.data : "", want.len, &wb, &we);
        bool eq = (e - b) == (we - wb) &&
                  (ex->ignore_case ? strncasecmp(answer + b, want.data + wb, e - b) == 0
                                   : memcmp(answer + b, lg_buf_cstr(&want) + wb, e - b) == 0);
        if (!eq) {
            *pass = false;
            note(detail, "expected '%s', got '%.*s%s'", lg_buf_cstr(&want), SHOWN(e - b),
                 answer + b, MORE(e - b));
        }
        lg_buf_reset(&want);
    }
    for (size_t i = 0; i < ex->ncontains; i++) {
        if ((rc = render(c->suite, &ex->contains[i], c->case_full, &want, err)))
            goto out;
        if (!contains(answer, len, lg_buf_cstr(&want), want.len, ex->ignore_case)) {
            *pass = false;
            note(detail, "expected the answer to contain '%s', got '%.*s%s'",
                 lg_buf_cstr(&want), SHOWN(e - b), answer + b, MORE(e - b));
        }
        lg_buf_reset(&want);
    }
    if (ex->regex.text) {
        regex_t re;
        int rerr;
        char *copy;
        if ((rc = render(c->suite, &ex->regex, c->case_full, &want, err)))
            goto out;
        rerr = regcomp(&re, lg_buf_cstr(&want),
                       REG_EXTENDED | REG_NOSUB | REG_NEWLINE | (ex->ignore_case ? REG_ICASE : 0));
        if (rerr) {
            char msg[256];
            regerror(rerr, &re, msg, sizeof msg);
            rc = LG_ERR(err, LG_EINPUT, "%s:%d:%d: expect.regex renders to an invalid regex '%s': %s",
                        c->suite->path, ex->regex.pos.line, ex->regex.pos.col, lg_buf_cstr(&want),
                        msg);
            goto out;
        }
        copy = strndup(answer, len); /* regexec needs a C string */
        if (!copy) {
            regfree(&re);
            rc = LG_ERR(err, LG_ENOMEM, "out of memory");
            goto out;
        }
        if (regexec(&re, copy, 0, NULL, 0) != 0) {
            *pass = false;
            note(detail, "expected the answer to match /%s/, got '%.*s%s'", lg_buf_cstr(&want),
                 SHOWN(e - b), answer + b, MORE(e - b));
        }
        free(copy);
        regfree(&re);
        lg_buf_reset(&want);
    }
    if (ex->json) {
        json_t *got = json_loadb(answer + b, e - b, JSON_DECODE_ANY, NULL);
        lg_buf path = LG_BUF_INIT;
        bool ok = false;
        if (got && (rc = json_contains(c->suite, ex->json, got, c->case_full, &path, &ok, err))) {
            json_decref(got);
            lg_buf_release(&path);
            goto out;
        }
        if (!got) {
            *pass = false;
            note(detail, "expected a JSON answer, got '%.*s%s'", SHOWN(e - b), answer + b,
                 MORE(e - b));
        } else if (!ok) {
            *pass = false;
            note(detail, "the JSON answer differs from expect.json at '%s'",
                 path.len ? lg_buf_cstr(&path) + (path.data[0] == '.') : "(root)");
        }
        json_decref(got);
        lg_buf_release(&path);
    }
out:
    lg_buf_release(&want);
    return rc;
}

static int run_validator(const lg_validate_ctx *c, const char *answer, size_t len, bool *pass,
                         lg_buf *detail, lg_err *err)
{
    const lg_suite_cmd *cmd = &c->suite->validate.cmd;
    lg_buf case_path = LG_BUF_INIT, ans_path = LG_BUF_INIT, env_case = LG_BUF_INIT,
           env_ans = LG_BUF_INIT, env_wd = LG_BUF_INIT, json = LG_BUF_INIT;
    const char *env[64];
    size_t ne = 0;
    lg_proc_spec spec = {0};
    lg_proc_result res;
    int rc;

    memset(&res, 0, sizeof res);
    if (lg_buf_appendf(&case_path, "%s/.loopgate-case-full.json", c->workdir) ||
        lg_buf_appendf(&ans_path, "%s/.loopgate-answer", c->workdir) ||
        lg_buf_appendf(&env_case, "LOOPGATE_CASE=%s", case_path.data) ||
        lg_buf_appendf(&env_ans, "LOOPGATE_ANSWER=%s", ans_path.data) ||
        lg_buf_appendf(&env_wd, "LOOPGATE_WORKDIR=%s", c->workdir)) {
        rc = LG_ERR(err, LG_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = lg_json_dump_canonical(c->case_full, &json, err)) ||
        (rc = lg_fs_write_file_atomic(case_path.data, lg_buf_cstr(&json), json.len, err)) ||
        (rc = lg_fs_write_file_atomic(ans_path.data, answer, len, err)))
        goto out;
    env[ne++] = env_case.data;
    env[ne++] = env_ans.data;
    env[ne++] = env_wd.data;
    for (char **e = cmd->env; e && *e && ne < 63; e++)
        env[ne++] = *e;
    env[ne] = NULL;
    spec.argv = (const char *const *)cmd->argv;
    spec.shell = cmd->shell;
    spec.env = env;
    spec.stdin_data = answer;
    spec.stdin_len = len;
    spec.out_cap = 64 * 1024;
    spec.timeout_ms = (uint64_t)((cmd->timeout_s > 0 ? cmd->timeout_s : 60.0) * 1000);
    spec.cancel = c->cancel;
    if ((rc = lg_proc_run(&spec, &res, err))) {
        lg_err_prefix(err, "%s:%d:%d: validate.command", c->suite->path, cmd->line, cmd->col);
        goto out;
    }
    *pass = res.exited && res.exit_code == 0;
    if (!*pass) {
        if (res.timed_out)
            note(detail, "validator timed out");
        else if (!res.exited)
            note(detail, "validator killed by signal %d", res.term_signal);
        else
            note(detail, "validator exited %d", res.exit_code);
    }
    /* the validator's words, stdout then stderr, capped */
    for (int k = 0; k < 2; k++) {
        const lg_buf *o = k ? &res.err : &res.out;
        size_t room = detail->len < DETAIL_CAP ? DETAIL_CAP - detail->len : 0;
        size_t n = o->len < room ? o->len : room;
        if (!n)
            continue;
        if (detail->len)
            note_raw(detail, ": ", 2);
        note_raw(detail, o->data, n);
        while (detail->len && isspace((unsigned char)detail->data[detail->len - 1]))
            lg_buf_truncate(detail, detail->len - 1);
    }
out:
    lg_proc_result_release(&res);
    lg_buf_release(&case_path);
    lg_buf_release(&ans_path);
    lg_buf_release(&env_case);
    lg_buf_release(&env_ans);
    lg_buf_release(&env_wd);
    lg_buf_release(&json);
    return rc;
}

int lg_validate_answer(const lg_validate_ctx *ctx, const char *answer, size_t len, bool *pass,
                       lg_buf *detail, lg_err *err)
{
    int rc = 0;
    *pass = true;
    if (!answer)
        answer = "";
    if (ctx->suite->expect.present && (rc = check_expect(ctx, answer, len, pass, detail, err)))
        return rc;
    if (ctx->suite->validate.present) {
        bool vpass = false;
        if ((rc = run_validator(ctx, answer, len, &vpass, detail, err)))
            return rc;
        *pass = *pass && vpass;
    }
    return 0;
}
