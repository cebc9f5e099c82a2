#include "gate.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/suggest.h"
#include "harness/compare.h"

#define DEFAULT_ALPHA 0.05
#define MAX_K 1000000u

enum op { OP_GE, OP_GT, OP_LE, OP_LT, OP_EQ, OP_NE };
static const char *const op_text[] = {">=", ">", "<=", "<", "==", "!="};

enum kind { K_RATE, K_COUNT, K_AMOUNT };

enum mid {
    M_CONV, M_CONV_LO, M_CONV_HI,
    M_CASES, M_CASES_NEVER, M_CASES_FLAKY, M_CASES_ALWAYS, M_CASE_PASS, M_TRIALS,
    M_PASS_HAT_K, M_PASS_AT_K,
    M_ITER_MEAN, M_ITER_P50, M_ITER_P90, M_ITER_P95, M_ITER_MAX,
    M_VIOL_RATE, M_VIOL_NAME, M_TERM,
    M_TOK_IN, M_TOK_OUT, M_TOK_CACHED, M_TOK_TOTAL,
    M_COST, M_COST_PER_CONV,
    M_CALL_MEAN, M_CALL_P50, M_CALL_P90, M_CALL_P95, M_CALL_MAX,
    M_TRIAL_MEAN, M_TRIAL_P50, M_TRIAL_P90, M_TRIAL_P95, M_TRIAL_MAX,
    M_NO_REGRESSION,
};

typedef struct mdef {
    const char *name;
    enum mid id;
    enum kind kind;
    const char *what; /* for "a percentage only fits a rate; X is WHAT" */
} mdef;

#define ITER "a number of iterations"
#define MS "a time in milliseconds"
static const mdef mdefs[] = {
    {"convergence_rate", M_CONV, K_RATE, "a rate"},
    {"convergence_rate.lower", M_CONV_LO, K_RATE, "a rate"},
    {"convergence_rate.upper", M_CONV_HI, K_RATE, "a rate"},
    {"cases.total", M_CASES, K_COUNT, "a count of cases"},
    {"cases.never_converged", M_CASES_NEVER, K_COUNT, "a count of cases"},
    {"cases.flaky", M_CASES_FLAKY, K_COUNT, "a count of cases"},
    {"cases.always_converged", M_CASES_ALWAYS, K_COUNT, "a count of cases"},
    {"case_pass", M_CASE_PASS, K_RATE, "a rate"},
    {"trials", M_TRIALS, K_COUNT, "a count of trials"},
    {"pass_hat_k", M_PASS_HAT_K, K_RATE, "a rate"},
    {"pass_at_k", M_PASS_AT_K, K_RATE, "a rate"},
    {"iterations.mean", M_ITER_MEAN, K_AMOUNT, ITER},
    {"iterations.p50", M_ITER_P50, K_AMOUNT, ITER},
    {"iterations.p90", M_ITER_P90, K_AMOUNT, ITER},
    {"iterations.p95", M_ITER_P95, K_AMOUNT, ITER},
    {"iterations.max", M_ITER_MAX, K_AMOUNT, ITER},
    {"invariant_violation_rate", M_VIOL_RATE, K_RATE, "a rate"},
    {"invariant_violations.", M_VIOL_NAME, K_COUNT, "a count of violations"},
    {"termination.", M_TERM, K_COUNT, "a count of trials"},
    {"tokens.in", M_TOK_IN, K_COUNT, "a count of tokens"},
    {"tokens.out", M_TOK_OUT, K_COUNT, "a count of tokens"},
    {"tokens.cached", M_TOK_CACHED, K_COUNT, "a count of tokens"},
    {"tokens.total", M_TOK_TOTAL, K_COUNT, "a count of tokens"},
    {"cost_usd", M_COST, K_AMOUNT, "an amount in USD"},
    {"cost_per_convergence", M_COST_PER_CONV, K_AMOUNT, "an amount in USD"},
    {"latency.call_mean_ms", M_CALL_MEAN, K_AMOUNT, MS},
    {"latency.call_p50_ms", M_CALL_P50, K_AMOUNT, MS},
    {"latency.call_p90_ms", M_CALL_P90, K_AMOUNT, MS},
    {"latency.call_p95_ms", M_CALL_P95, K_AMOUNT, MS},
    {"latency.call_max_ms", M_CALL_MAX, K_AMOUNT, MS},
    {"latency.trial_mean_ms", M_TRIAL_MEAN, K_AMOUNT, MS},
    {"latency.trial_p50_ms", M_TRIAL_P50, K_AMOUNT, MS},
    {"latency.trial_p90_ms", M_TRIAL_P90, K_AMOUNT, MS},
    {"latency.trial_p95_ms", M_TRIAL_P95, K_AMOUNT, MS},
    {"latency.trial_max_ms", M_TRIAL_MAX, K_AMOUNT, MS},
    {"no_regression", M_NO_REGRESSION, K_RATE, "a test"},
};
#define N_MDEFS (sizeof mdefs / sizeof mdefs[0])

/* Names offered by "did you mean" (every metric as it is spelled). */
static const char *const suggest_names[] = {
    "convergence_rate", "convergence_rate.lower", "convergence_rate.upper", "cases.total",
    "cases.never_converged", "cases.flaky", "cases.always_converged", "case_pass", "trials",
    "pass_hat_k", "pass_at_k", "iterations.mean", "iterations.p50", "iterations.p90",
    "iterations.p95", "iterations.max", "invariant_violation_rate", "invariant_violations",
    "termination", "tokens.in", "tokens.out", "tokens.cached", "tokens.total", "cost_usd",
    "cost_per_convergence", "latency.call_mean_ms", "latency.call_p50_ms",
    "latency.call_p90_ms", "latency.call_p95_ms", "latency.call_max_ms",
    "latency.trial_mean_ms", "latency.trial_p50_ms", "latency.trial_p90_ms",
    "latency.trial_p95_ms", "latency.trial_max_ms", "no_regression", NULL};

struct lg_gate {
    char *expr;           /* trimmed source text */
    char *display;        /* the metric as printed: "pass_hat_k(3)", "no_regression(alpha=0.05)" */
    char *threshold_text; /* VALUE as written: "0.9", "2/3", "90%" */
    const mdef *def;
    uint32_t k;            /* pass_*_k */
    lg_term_reason reason; /* termination.REASON */
    char *invariant;       /* invariant_violations.NAME */
    enum op op;
    double threshold; /* VALUE, or alpha for no_regression */
    double scale;     /* 100 when VALUE was a percentage (values are shown as %) */
};

/* ---- parsing ---------------------------------------------------------- */

typedef struct parser {
    const char *s;   /* the trimmed expression */
    size_t lead;     /* blanks trimmed from its front (for columns) */
    const lg_gate_src *src;
    lg_err *err;
} parser;

static int perr(const parser *p, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int perr(const parser *p, size_t at, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return LG_ERR(p->err, LG_EINPUT, "%s:%d:%d: gate '%s': %s", p->src->name, p->src->line,
                  p->src->col + (p->src->fixed ? 0 : (int)(p->lead + at)), p->s, msg);
}

static size_t skip_ws(const char *s, size_t i)
{
    while (s[i] == ' ' || s[i] == '\t')
        i++;
    return i;
}

static bool is_name_char(char c)
{
    return c && c != ' ' && c != '\t' && !strchr("<>=!()", c);
}

/* End of the blank-delimited word starting at i (for quoting bad input). */
static size_t word_end(const char *s, size_t i)
{
    while (s[i] && s[i] != ' ' && s[i] != '\t')
        i++;
    return i;
}

/* Decimal number at s[i]: [+-]digits[.digits][e[+-]digits]. Returns its
 * end, or i when there is none. */
static size_t scan_number(const char *s, size_t i)
{
    size_t j = i, digits = 0;

    if (s[j] == '+' || s[j] == '-')
        j++;
    while (isdigit((unsigned char)s[j])) {
        j++;
        digits++;
    }
    if (s[j] == '.') {
        j++;
        while (isdigit((unsigned char)s[j])) {
            j++;
            digits++;
        }
    }
    if (digits == 0)
        return i;
    if (s[j] == 'e' || s[j] == 'E') {
        size_t k = j + 1;
        if (s[k] == '+' || s[k] == '-')
            k++;
        if (isdigit((unsigned char)s[k])) {
            while (isdigit((unsigned char)s[k]))
                k++;
            j = k;
        }
    }
    return j;
}

/* strtod of s[i, j) in the C locale's format (we only pass [0-9.eE+-]). */
static bool to_double(const char *s, size_t i, size_t j, double *out)
{
    char buf[64];
    char *end;

    if (j - i >= sizeof buf)
        return false;
    memcpy(buf, s + i, j - i);
    buf[j - i] = '\0';
    *out = strtod(buf, &end);
    return *end == '\0' && isfinite(*out);
}

enum vform { V_NUMBER, V_FRACTION, V_PERCENT };

#define VALUE_HINT "a number like 0.9, a fraction like 2/3 or a percentage like 90%%"

/* VALUE at s[start]: number, number/number or number%. Sets *end past it.
 * Returns 0, 1 (not a value) or 2 (zero denominator). What follows is the
 * caller's business. */
static int scan_value(const char *s, size_t start, size_t *end, double *val, enum vform *form)
{
    size_t j = scan_number(s, start);
    double a, b;

    if (j == start || !to_double(s, start, j, &a))
        return 1;
    *form = V_NUMBER;
    if (s[j] == '%') {
        *form = V_PERCENT;
        a /= 100.0;
        j++;
    } else if (s[j] == '/') {
        size_t k = scan_number(s, j + 1);
        if (k == j + 1 || !to_double(s, j + 1, k, &b))
            return 1;
        *end = k;
        if (b == 0.0)
            return 2;
        *form = V_FRACTION;
        a /= b;
        j = k;
    }
    *val = a;
    *end = j;
    return 0;
}

/* VALUE at s[*i], which must end at a blank or the end. Advances *i.
 * Returns 0, 1 when there is no value at all, or an LG_E* code. */
static int parse_value(const parser *p, size_t *i, double *val, enum vform *form)
{
    const char *s = p->s;
    size_t start = *i, j = start;
    int rc;

    if (!s[start])
        return 1; /* nothing there: the caller words the "missing value" error */
    rc = scan_value(s, start, &j, val, form);
    if (rc == 2)
        return perr(p, start, "fraction '%.*s' has a zero denominator", (int)(j - start),
                    s + start);
    if (rc || (s[j] && s[j] != ' ' && s[j] != '\t')) {
        j = word_end(s, start);
        return perr(p, start, "invalid value '%.*s' (expected " VALUE_HINT ")",
                    (int)(j - start), s + start);
    }
    *i = j;
    return 0;
}

static char *dup_range(const char *s, size_t i, size_t j)
{
    char *d = malloc(j - i + 1);
    if (d) {
        memcpy(d, s + i, j - i);
        d[j - i] = '\0';
    }
    return d;
}

static char *dup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *dup_printf(const char *fmt, ...)
{
    lg_buf b = LG_BUF_INIT;
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = lg_buf_vappendf(&b, fmt, ap);
    va_end(ap);
    if (rc) {
        lg_buf_release(&b);
        return NULL;
    }
    return lg_buf_take(&b, NULL);
}

static const mdef *find_def(enum mid id)
{
    for (size_t i = 0; i < N_MDEFS; i++)
        if (mdefs[i].id == id)
            return &mdefs[i];
    return NULL;
}

static int unknown_metric(const parser *p, size_t at, size_t len)
{
    char name[256];
    const char *guess;
    lg_buf parts = LG_BUF_INIT;
    int rc;

    snprintf(name, sizeof name, "%.*s", (int)len, p->s + at);
    guess = lg_suggest(name, suggest_names);
    if (guess)
        return perr(p, at, "unknown metric '%s' (did you mean '%s'?)", name, guess);
    /* "iterations" -> list its parts */
    for (const char *const *c = suggest_names; *c; c++) {
        if (strlen(*c) > len && strncmp(*c, p->s + at, len) == 0 && (*c)[len] == '.') {
            if (lg_buf_appendf(&parts, "%s'%s'", parts.len ? ", " : "", *c))
                break;
        }
    }
    if (parts.len)
        rc = perr(p, at, "unknown metric '%s' (did you mean one of %s?)", name,
                  lg_buf_cstr(&parts));
    else
        rc = perr(p, at, "unknown metric '%s' (the metrics are listed in docs/metrics.md)", name);
    lg_buf_release(&parts);
    return rc;
}

/* Index of the ')' closing an argument that starts at s[a], or of the NUL. */
static size_t arg_close(const char *s, size_t a)
{
    while (s[a] && s[a] != ')')
        a++;
    return a;
}

/* End of s[a, z) without trailing blanks. */
static size_t trim_end(const char *s, size_t a, size_t z)
{
    while (z > a && (s[z - 1] == ' ' || s[z - 1] == '\t'))
        z--;
    return z;
}

/* `(K)` after pass_hat_k / pass_at_k, at s[*i] (blanks allowed). */
static int parse_k(const parser *p, const char *metric, size_t *i, uint32_t *k)
{
    const char *s = p->s;
    size_t j = skip_ws(s, *i), a, z, end, e;
    unsigned long v = 0;

    if (s[j] != '(')
        return perr(p, j, "'%s' needs k, e.g. '%s(3)'", metric, metric);
    a = skip_ws(s, j + 1);
    z = arg_close(s, a);
    if (!s[z])
        return perr(p, z, "missing ')' after '%s(%.*s'", metric, (int)(z - a), s + a);
    end = trim_end(s, a, z);
    for (e = a; e < end && isdigit((unsigned char)s[e]) && v <= MAX_K; e++)
        v = v * 10 + (unsigned long)(s[e] - '0');
    if (e != end || e == a || v < 1 || v > MAX_K)
        return perr(p, a, "k in '%s(%.*s)' must be a whole number from 1 to %u", metric,
                    (int)(end - a), s + a, MAX_K);
    *k = (uint32_t)v;
    *i = z + 1;
    return 0;
}

/* Optional `(alpha=A)` or `(A)` after no_regression, at s[*i]. */
static int parse_alpha(const parser *p, size_t *i, lg_gate *g)
{
    const char *s = p->s;
    size_t j = skip_ws(s, *i), a, v, z, end, e;
    enum vform form;
    double alpha;

    if (s[j] != '(')
        return 0;
    a = skip_ws(s, j + 1);
    z = arg_close(s, a);
    if (!s[z])
        return perr(p, z, "missing ')' after 'no_regression(%.*s'", (int)(z - a), s + a);
    v = a;
    if (isalpha((unsigned char)s[a])) {
        e = a;
        while (isalnum((unsigned char)s[e]) || s[e] == '_')
            e++;
        if (e - a != 5 || strncmp(s + a, "alpha", 5) != 0)
            return perr(p, a,
                        "unknown parameter '%.*s' of no_regression (it takes 'alpha', e.g. "
                        "'no_regression(alpha=0.01)')",
                        (int)(e - a), s + a);
        e = skip_ws(s, e);
        if (s[e] != '=')
            return perr(p, e, "expected '=' after 'alpha', e.g. 'no_regression(alpha=0.01)'");
        v = skip_ws(s, e + 1);
    }
    end = trim_end(s, v, z);
    if (end == v) {
        if (v == a) { /* "no_regression()": the default alpha */
            *i = z + 1;
            return 0;
        }
        return perr(p, v, "missing alpha, e.g. 'no_regression(alpha=0.01)'");
    }
    if (scan_value(s, v, &e, &alpha, &form) || e != end || form == V_FRACTION)
        return perr(p, v, "invalid alpha '%.*s' (expected a number like 0.05 or 5%%)",
                    (int)(end - v), s + v);
    if (!(alpha > 0.0 && alpha < 1.0))
        return perr(p, v, "alpha must be between 0 and 1 (exclusive), got '%.*s'",
                    (int)(end - v), s + v);
    g->threshold = alpha;
    g->threshold_text = dup_range(s, v, end);
    if (!g->threshold_text)
        return LG_ERR(p->err, LG_ENOMEM, "gate: out of memory");
    *i = z + 1;
    return 0;
}

static int parse_op(const parser *p, size_t *i, const char *metric, enum op *op)
{
    const char *s = p->s;
    size_t j = *i;
    static const struct {
        const char *t;
        enum op op;
    } ops[] = {{">=", OP_GE}, {"<=", OP_LE}, {"==", OP_EQ}, {"!=", OP_NE}, {">", OP_GT}, {"<", OP_LT}};

    if (!s[j])
        return perr(p, j, "missing comparison after '%s' (expected one of >= > <= < == !=)",
                    metric);
    if (strncmp(s + j, "=>", 2) == 0)
        return perr(p, j, "'=>' is not an operator (did you mean '>='?)");
    if (strncmp(s + j, "=<", 2) == 0)
        return perr(p, j, "'=<' is not an operator (did you mean '<='?)");
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
        size_t n = strlen(ops[k].t);
        if (strncmp(s + j, ops[k].t, n) == 0) {
            if (s[j + n] == '=' || s[j + n] == '<' || s[j + n] == '>')
                break; /* ">==", "<>": not an operator */
            *op = ops[k].op;
            *i = j + n;
            return 0;
        }
    }
    if (s[j] == '=' && s[j + 1] != '=' && s[j + 1] != '<' && s[j + 1] != '>')
        return perr(p, j, "'=' is not an operator (did you mean '=='?)");
    {
        size_t e = word_end(s, j);
        return perr(p, j,
                    "expected a comparison operator (>= > <= < == !=) after '%s', got '%.*s'",
                    metric, (int)(e - j), s + j);
    }
}

void lg_gate_free(lg_gate *g)
{
    if (!g)
        return;
    free(g->expr);
    free(g->display);
    free(g->threshold_text);
    free(g->invariant);
    free(g);
}

static int parse_metric(const parser *p, size_t *i, lg_gate *g)
{
    const char *s = p->s;
    size_t a = *i, e = a;
    static const char term_prefix[] = "termination.", viol_prefix[] = "invariant_violations.";
    const size_t tl = sizeof term_prefix - 1, vl = sizeof viol_prefix - 1;

    while (is_name_char(s[e]))
        e++;
    if (e == a) {
        size_t w = word_end(s, a);
        return perr(p, a, "expected a metric name first, got '%.*s' (e.g. "
                    "'convergence_rate >= 0.9')", (int)(w - a), s + a);
    }
    if (e - a >= tl && strncmp(s + a, term_prefix, tl) == 0) {
        char reason[128];
        lg_term_reason r;
        const char *guess;
        g->def = find_def(M_TERM);
        if (e - a == tl)
            return perr(p, a, "'termination.' needs a reason, e.g. 'termination.timeout'");
        snprintf(reason, sizeof reason, "%.*s", (int)(e - a - tl), s + a + tl);
        if (!lg_term_reason_from_name(reason, &r)) {
            guess = lg_suggest(reason, lg_term_reason_names);
            if (guess)
                return perr(p, a + tl, "unknown termination reason '%s' (did you mean '%s'?)",
                            reason, guess);
            return perr(p, a + tl,
                        "unknown termination reason '%s' (one of success, validator_failed, "
                        "max_iterations, stalled, budget_exceeded, fatal_error, escalated, "
                        "timeout, crashed, diverged)",
                        reason);
        }
        g->reason = r;
        g->display = dup_range(s, a, e);
    } else if (e - a >= vl && strncmp(s + a, viol_prefix, vl) == 0) {
        g->def = find_def(M_VIOL_NAME);
        if (e - a == vl)
            return perr(p, a,
                        "'invariant_violations.' needs an invariant name, e.g. "
                        "'invariant_violations.max_tokens'");
        g->invariant = dup_range(s, a + vl, e);
        g->display = dup_range(s, a, e);
        if (!g->invariant)
            return LG_ERR(p->err, LG_ENOMEM, "gate: out of memory");
    } else if ((e - a == 11 && strncmp(s + a, "termination", 11) == 0) ||
               (e - a == 20 && strncmp(s + a, "invariant_violations", 20) == 0)) {
        return perr(p, a, "'%.*s' needs a name after a dot, e.g. '%s'", (int)(e - a), s + a,
                    s[a] == 't' ? "termination.timeout" : "invariant_violations.max_tokens");
    } else {
        for (size_t d = 0; d < N_MDEFS; d++) {
            const char *n = mdefs[d].name;
            if (strlen(n) == e - a && strncmp(n, s + a, e - a) == 0 &&
                n[e - a - 1] != '.') {
                g->def = &mdefs[d];
                break;
            }
        }
        if (!g->def)
            return unknown_metric(p, a, e - a);
        if (g->def->id == M_PASS_HAT_K || g->def->id == M_PASS_AT_K) {
            int rc = parse_k(p, g->def->name, &e, &g->k);
            if (rc)
                return rc;
            g->display = dup_printf("%s(%u)", g->def->name, g->k);
        } else if (g->def->id == M_NO_REGRESSION) {
            int rc;
            g->threshold = DEFAULT_ALPHA;
            if ((rc = parse_alpha(p, &e, g)))
                return rc;
            if (!g->threshold_text && !(g->threshold_text = strdup("0.05")))
                return LG_ERR(p->err, LG_ENOMEM, "gate: out of memory");
            g->display = dup_printf("no_regression(alpha=%s)", g->threshold_text);
        } else {
            size_t j = skip_ws(s, e);
            if (s[j] == '(')
                return perr(p, j, "'%s' takes no argument", g->def->name);
            g->display = strdup(g->def->name);
        }
    }
    if (!g->display)
        return LG_ERR(p->err, LG_ENOMEM, "gate: out of memory");
    *i = e;
    return 0;
}

int lg_gate_parse(const char *expr, const lg_gate_src *src, lg_gate **out, lg_err *err)
{
    static const lg_gate_src default_src = {"<gate>", 1, 1, false};
    parser p;
    lg_gate *g;
    size_t lead = 0, len, i, vstart;
    enum vform form = V_NUMBER;
    char *trimmed;
    int rc;

    if (!src)
        src = &default_src;
    if (!expr)
        expr = "";
    while (expr[lead] == ' ' || expr[lead] == '\t')
        lead++;
    len = strlen(expr + lead);
    while (len > 0 && (expr[lead + len - 1] == ' ' || expr[lead + len - 1] == '\t'))
        len--;
    trimmed = dup_range(expr, lead, lead + len);
    g = calloc(1, sizeof *g);
    if (!trimmed || !g) {
        free(trimmed);
        free(g);
        return LG_ERR(err, LG_ENOMEM, "gate: out of memory");
    }
    g->expr = trimmed;
    g->scale = 1.0;
    p = (parser){trimmed, lead, src, err};
    if (len == 0) {
        rc = perr(&p, 0, "empty gate (expected METRIC OP VALUE, e.g. 'convergence_rate >= 0.9')");
        goto fail;
    }
    i = 0;
    if ((rc = parse_metric(&p, &i, g)))
        goto fail;
    i = skip_ws(trimmed, i);
    if (g->def->id == M_NO_REGRESSION) {
        if (trimmed[i]) {
            rc = perr(&p, i,
                      "'no_regression' is a gate on its own, without a comparison: write "
                      "'no_regression' or 'no_regression(alpha=0.01)'");
            goto fail;
        }
        *out = g;
        return 0;
    }
    if ((rc = parse_op(&p, &i, g->display, &g->op)))
        goto fail;
    i = skip_ws(trimmed, i);
    vstart = i;
    rc = parse_value(&p, &i, &g->threshold, &form);
    if (rc == 1)
        rc = perr(&p, i, "missing value after '%s' (expected " VALUE_HINT ")", op_text[g->op]);
    if (rc)
        goto fail;
    g->threshold_text = dup_range(trimmed, vstart, i);
    if (!g->threshold_text) {
        rc = LG_ERR(err, LG_ENOMEM, "gate: out of memory");
        goto fail;
    }
    i = skip_ws(trimmed, i);
    if (trimmed[i]) {
        rc = perr(&p, i, "unexpected '%s' after the value", trimmed + i);
        goto fail;
    }
    if (form != V_NUMBER && g->def->kind != K_RATE) {
        rc = perr(&p, vstart, "a %s only fits a rate; '%s' is %s",
                  form == V_PERCENT ? "percentage" : "fraction", g->display, g->def->what);
        goto fail;
    }
    if (g->def->kind == K_RATE && !(g->threshold >= 0.0 && g->threshold <= 1.0)) {
        rc = perr(&p, vstart,
                  "threshold %s is outside [0, 1] for a rate (write a rate like 0.9 or 90%%)",
                  g->threshold_text);
        goto fail;
    }
    if (form == V_PERCENT)
        g->scale = 100.0;
    *out = g;
    return 0;
fail:
    lg_gate_free(g);
    return rc;
}

const char *lg_gate_expr(const lg_gate *g)
{
    return g->expr;
}

bool lg_gate_needs_baseline(const lg_gate *g)
{
    return g->def->id == M_NO_REGRESSION;
}

const char *lg_gate_invariant(const lg_gate *g)
{
    return g->invariant;
}

/* ---- evaluation ------------------------------------------------------- */

/* -1, 0, 1 as v is below, at or above t, where "at" allows a relative
 * 1e-12: floating-point noise in a sum (thirty times $0.01) must not decide
 * a gate. Rates are single divisions and compare exactly anyway. */
static int cmp3(double v, double t)
{
    double tol = 1e-12 * fmax(fabs(v), fabs(t));
    if (fabs(v - t) <= tol)
        return 0;
    return v < t ? -1 : 1;
}

static bool compare(double v, enum op op, double t)
{
    int c = cmp3(v, t);
    switch (op) {
    case OP_GE:
        return c >= 0;
    case OP_GT:
        return c > 0;
    case OP_LE:
        return c <= 0;
    case OP_LT:
        return c < 0;
    case OP_EQ:
        return c == 0;
    case OP_NE:
    default:
        return c != 0;
    }
}

/* Sets *v to the metric, or returns false with the reason it is undefined. */
static bool metric_value(const lg_gate *g, const lg_metrics *m, double *v, char *why,
                         size_t whylen)
{
    const lg_dist *d = NULL;

    *v = NAN;
    if (m->trials == 0) {
        snprintf(why, whylen, "no trials ran");
        return false;
    }
    switch (g->def->id) {
    case M_CONV:
        *v = m->convergence.value;
        break;
    case M_CONV_LO:
        *v = m->convergence.lower;
        break;
    case M_CONV_HI:
        *v = m->convergence.upper;
        break;
    case M_CASES:
        *v = (double)m->cases;
        break;
    case M_CASES_NEVER:
        *v = (double)m->stability.n_never;
        break;
    case M_CASES_FLAKY:
        *v = (double)m->stability.n_flaky;
        break;
    case M_CASES_ALWAYS:
        *v = (double)m->stability.n_always;
        break;
    case M_CASE_PASS:
        *v = m->stability.min_case_rate;
        break;
    case M_TRIALS:
        *v = (double)m->trials;
        break;
    case M_PASS_HAT_K:
    case M_PASS_AT_K:
        if (g->k > m->n_pass_k || m->pass_k[g->k - 1].cases == 0) {
            snprintf(why, whylen, "%s needs cases with at least %u trials; the most any case has is %u",
                     g->display, g->k, m->max_trials);
            return false;
        }
        *v = g->def->id == M_PASS_HAT_K ? m->pass_k[g->k - 1].pass_hat_k
                                        : m->pass_k[g->k - 1].pass_at_k;
        break;
    case M_ITER_MEAN:
    case M_ITER_P50:
    case M_ITER_P90:
    case M_ITER_P95:
    case M_ITER_MAX:
        d = &m->iterations;
        if (d->n == 0) {
            snprintf(why, whylen, "no trial converged");
            return false;
        }
        break;
    case M_VIOL_RATE:
        *v = m->invariants.violation_rate;
        break;
    case M_VIOL_NAME:
        *v = 0.0;
        for (size_t i = 0; i < m->invariants.n_per_invariant; i++)
            if (strcmp(m->invariants.per_invariant[i].name, g->invariant) == 0)
                *v = (double)m->invariants.per_invariant[i].count;
        break;
    case M_TERM:
        *v = (double)m->termination[g->reason];
        break;
    case M_TOK_IN:
        *v = (double)m->tokens.in;
        break;
    case M_TOK_OUT:
        *v = (double)m->tokens.out;
        break;
    case M_TOK_CACHED:
        *v = (double)m->tokens.cached;
        break;
    case M_TOK_TOTAL:
        *v = (double)m->tokens.total;
        break;
    case M_COST:
    case M_COST_PER_CONV:
        if (m->cost.unknown_trials > 0) {
            snprintf(why, whylen,
                     "cost unknown for %zu of %zu trials: a model has no price in the pricing "
                     "table",
                     m->cost.unknown_trials, m->trials);
            return false;
        }
        if (g->def->id == M_COST) {
            *v = m->cost.total_usd;
        } else if (m->convergence.converged == 0) {
            snprintf(why, whylen, "no trial converged, so there is no cost per convergence");
            return false;
        } else {
            *v = m->cost.per_convergence_usd;
        }
        break;
    case M_CALL_MEAN:
    case M_CALL_P50:
    case M_CALL_P90:
    case M_CALL_P95:
    case M_CALL_MAX:
        d = &m->latency.call_ms;
        if (d->n == 0) {
            snprintf(why, whylen, "no model call latency was recorded");
            return false;
        }
        break;
    case M_TRIAL_MEAN:
    case M_TRIAL_P50:
    case M_TRIAL_P90:
    case M_TRIAL_P95:
    case M_TRIAL_MAX:
        d = &m->latency.trial_ms;
        break;
    case M_NO_REGRESSION:
        break;
    }
    if (d) {
        switch (g->def->id) {
        case M_ITER_MEAN:
        case M_CALL_MEAN:
        case M_TRIAL_MEAN:
            *v = d->mean;
            break;
        case M_ITER_P50:
        case M_CALL_P50:
        case M_TRIAL_P50:
            *v = d->p50;
            break;
        case M_ITER_P90:
        case M_CALL_P90:
        case M_TRIAL_P90:
            *v = d->p90;
            break;
        case M_ITER_P95:
        case M_CALL_P95:
        case M_TRIAL_P95:
            *v = d->p95;
            break;
        default:
            *v = d->max;
            break;
        }
    }
    if (isnan(*v)) {
        snprintf(why, whylen, "the value is undefined for this run");
        return false;
    }
    return true;
}

/* Shortest display of v (>= 3 significant digits) that, read back, stands
 * in the same relation to the threshold as v itself (below, at, above), so
 * the line never reads "0.9 >= 0.9  FAIL" or "0.9323 < 0.9323  FAIL".
 * Rates gated by a percentage print as percentages. */
static void fmt_value(char *buf, size_t len, double v, const lg_gate *g)
{
    int rel = cmp3(v, g->threshold);
    double d = v * g->scale;
    const char *pct = g->scale == 100.0 ? "%" : "";

    if (d == floor(d) && fabs(d) < 1e15) {
        snprintf(buf, len, "%.0f%s", d, pct);
        if (cmp3(strtod(buf, NULL) / g->scale, g->threshold) == rel)
            return;
    }
    for (int prec = 3; prec <= 17; prec++) {
        if (fabs(d) >= 1.0) {
            int digits = (int)floor(log10(fabs(d))) + 1, dec = prec - digits;
            snprintf(buf, len, "%.*f%s", dec > 0 ? dec : 0, d, pct);
        } else {
            snprintf(buf, len, "%.*g%s", prec, d, pct);
        }
        if (cmp3(strtod(buf, NULL) / g->scale, g->threshold) == rel)
            return;
    }
}

/* "3, 7, 12 (and 4 more)"; entries formatted by the callback. */
static void list_cases(char *buf, size_t len, const char *label, const uint32_t *cases, size_t n)
{
    size_t used = (size_t)snprintf(buf, len, "%s", label);
    for (size_t i = 0; i < n && used < len; i++) {
        if (i == 10) {
            snprintf(buf + used, len - used, " (and %zu more)", n - i);
            return;
        }
        used += (size_t)snprintf(buf + used, len - used, "%s%u", i ? ", " : "", cases[i]);
    }
}

static void case_pass_detail(char *buf, size_t len, const lg_gate *g, const lg_metrics *m)
{
    size_t used = (size_t)snprintf(buf, len, "cases not meeting %s %s:", op_text[g->op],
                                   g->threshold_text), shown = 0, total = 0;
    for (size_t i = 0; i < m->cases; i++) {
        const lg_case_tally *t = &m->per_case[i];
        double r = (double)t->converged / (double)t->trials;
        if (compare(r, g->op, g->threshold))
            continue;
        total++;
        if (shown < 10 && used < len) {
            used += (size_t)snprintf(buf + used, len - used, "%s case %u (%u/%u)",
                                     shown ? "," : "", t->case_index, t->converged, t->trials);
            shown++;
        }
    }
    if (total > shown && used < len)
        snprintf(buf + used, len - used, " (and %zu more)", total - shown);
}

static int eval_no_regression(const lg_gate *g, const lg_metrics *m, const lg_metrics *base,
                              lg_gate_result *r, lg_err *err)
{
    lg_compare c;
    const char *why = NULL;
    int rc;

    r->threshold = g->threshold;
    if (!base)
        why = "no baseline to compare with; give one with --baseline RUN_ID|FILE.json";
    else if (m->trials == 0)
        why = "no trials ran";
    if (why) {
        snprintf(r->detail, sizeof r->detail, "%s", why);
        snprintf(r->text, sizeof r->text, "%s: undefined  FAIL (%s)", g->display, why);
        return 0;
    }
    rc = lg_compare_cases(base->per_case, base->cases, m->per_case, m->cases, LG_CASE_MAJORITY,
                          g->threshold, &c, err);
    if (rc)
        return rc;
    if (c.shared == 0) {
        why = "no case is in both the baseline and this run";
        snprintf(r->detail, sizeof r->detail, "%s", why);
        snprintf(r->text, sizeof r->text, "%s: undefined  FAIL (%s)", g->display, why);
        lg_compare_release(&c);
        return 0;
    }
    r->defined = true;
    r->value = c.p_value;
    r->pass = c.verdict != LG_VERDICT_REGRESSED;
    snprintf(r->text, sizeof r->text,
             "%s: %zu regressed, %zu improved of %zu shared cases; McNemar exact p = %.3g %s "
             "%s%s  %s",
             g->display, c.b, c.c, c.shared, c.p_value, c.p_value < g->threshold ? "<" : ">=",
             g->threshold_text, c.verdict == LG_VERDICT_IMPROVED ? ", improved" : "",
             r->pass ? "pass" : "FAIL");
    if (c.b || c.c) {
        char reg[(LG_GATE_TEXT_MAX - 2) / 2], imp[(LG_GATE_TEXT_MAX - 2) / 2];
        list_cases(reg, sizeof reg, "regressed: cases ", c.regressed, c.b);
        list_cases(imp, sizeof imp, "improved: cases ", c.improved, c.c);
        snprintf(r->detail, sizeof r->detail, "%s%s%s", c.b ? reg : "",
                 c.b && c.c ? "; " : "", c.c ? imp : "");
    }
    lg_compare_release(&c);
    return 0;
}

int lg_gate_eval(const lg_gate *g, const lg_metrics *m, const lg_metrics *baseline,
                 lg_gate_result *out, lg_err *err)
{
    lg_gate_result r;
    char why[256], val[64];

    memset(&r, 0, sizeof r);
    r.value = NAN;
    r.threshold = g->threshold;
    if (g->def->id == M_NO_REGRESSION) {
        int rc = eval_no_regression(g, m, baseline, &r, err);
        if (rc)
            return rc;
        *out = r;
        return 0;
    }
    if (!metric_value(g, m, &r.value, why, sizeof why)) {
        r.value = NAN;
        snprintf(r.detail, sizeof r.detail, "%s", why);
        snprintf(r.text, sizeof r.text, "%s = undefined %s %s  FAIL (%s)", g->display,
                 op_text[g->op], g->threshold_text, why);
        *out = r;
        return 0;
    }
    r.defined = true;
    r.pass = compare(r.value, g->op, r.threshold);
    fmt_value(val, sizeof val, r.value, g);
    snprintf(r.text, sizeof r.text, "%s = %s %s %s  %s", g->display, val, op_text[g->op],
             g->threshold_text, r.pass ? "pass" : "FAIL");
    if (!r.pass) {
        switch (g->def->id) {
        case M_CASE_PASS:
            case_pass_detail(r.detail, sizeof r.detail, g, m);
            break;
        case M_CASES_NEVER:
            list_cases(r.detail, sizeof r.detail, "never converged: cases ", m->stability.never,
                       m->stability.n_never);
            break;
        case M_CASES_FLAKY:
            list_cases(r.detail, sizeof r.detail, "flaky: cases ", m->stability.flaky,
                       m->stability.n_flaky);
            break;
        default:
            break;
        }
    }
    *out = r;
    return 0;
}
