/*
 * recorder/tracejson.c - JSONL export and import of trace files.
 * See tracejson.h and docs/trace-format.md.
 */
#include "tracejson.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "core/hash.h"
#include "core/json.h"

/* ---- bodies as JSON values -------------------------------------------------- */

/* How a JSON body is spaced; jansson dumps it back byte for byte with these. */
typedef struct bodyfmt {
    int indent;    /* 0 compact, -1 ", "/": " on one line, 2 or 4 spaces */
    bool ascii;    /* non-ASCII characters escaped as \uXXXX */
    int precision; /* significant digits of reals: 15, 16 or 17 */
    bool newline;  /* a newline after the value */
} bodyfmt;

static const bodyfmt default_fmt = {0, false, 15, false};

static size_t dump_flags(const bodyfmt *f)
{
    size_t fl = JSON_ENCODE_ANY | JSON_REAL_PRECISION(f->precision);
    if (f->indent == 0)
        fl |= JSON_COMPACT;
    else if (f->indent > 0)
        fl |= JSON_INDENT(f->indent);
    if (f->ascii)
        fl |= JSON_ENSURE_ASCII;
    return fl;
}

static int dump_cb(const char *buffer, size_t size, void *data)
{
    return lg_buf_append((lg_buf *)data, buffer, size) ? -1 : 0;
}

static int dump_fmt(const json_t *v, const bodyfmt *f, lg_buf *out)
{
    if (json_dump_callback(v, dump_cb, out, dump_flags(f)) != 0)
        return LG_ENOMEM;
    return f->newline ? lg_buf_append_byte(out, '\n') : 0;
}

static bool has_real(const json_t *v)
{
    const char *k;
    json_t *x;
    size_t i;
    if (json_is_real(v))
        return true;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, x) if (has_real(x)) return true;
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, x) if (has_real(x)) return true;
    }
    return false;
}

/* The body as a JSON value that dumps back to exactly these bytes, or NULL
 * (then it is exported as text). Only objects and arrays qualify. */
static json_t *body_json(const char *data, size_t len, bodyfmt *fmt)
{
    static const int precisions[] = {15, 17, 16};
    json_error_t je;
    json_t *v;
    lg_buf b = LG_BUF_INIT;
    bodyfmt f = default_fmt;
    int indents[2], nindent = 0;
    bool non_ascii = false;

    if (len < 2 || (data[0] != '{' && data[0] != '['))
        return NULL;
    if (!(v = json_loadb(data, len, JSON_ALLOW_NUL, &je)))
        return NULL;
    f.newline = data[len - 1] == '\n';
    {
        const char *nl = memchr(data, '\n', len - f.newline);
        if (nl) {
            size_t sp = 0;
            while (nl + 1 + sp < data + len && nl[1 + sp] == ' ')
                sp++;
            if (sp != 2 && sp != 4)
                goto none;
            indents[nindent++] = (int)sp;
        } else {
            indents[nindent++] = 0;
            indents[nindent++] = -1;
        }
    }
    for (size_t i = 0; i < len && !non_ascii; i++)
        non_ascii = (unsigned char)data[i] >= 0x80;
    for (int a = 0; a < (non_ascii ? 1 : 2); a++) {
        f.ascii = a == 1;
        if (f.ascii && !memmem(data, len, "\\u", 2))
            continue;
        for (int i = 0; i < nindent; i++) {
            f.indent = indents[i];
            for (int p = 0; p < (has_real(v) ? 3 : 1); p++) {
                f.precision = precisions[p];
                lg_buf_reset(&b);
                if (dump_fmt(v, &f, &b) == 0 && b.len == len && memcmp(b.data, data, len) == 0) {
                    lg_buf_release(&b);
                    *fmt = f;
                    return v;
                }
            }
        }
    }
none:
    lg_buf_release(&b);
    json_decref(v);
    return NULL;
}

/* "indent=2,ascii,precision=17,newline"; "" for the default. */
static void fmt_name(const bodyfmt *f, char out[64])
{
    size_t n = 0;
    out[0] = '\0';
#define ADD(...) n += (size_t)snprintf(out + n, 64 - n, "%s", n ? "," : ""), \
                 n += (size_t)snprintf(out + n, 64 - n, __VA_ARGS__)
    if (f->indent == -1)
        ADD("spaced");
    else if (f->indent > 0)
        ADD("indent=%d", f->indent);
    if (f->ascii)
        ADD("ascii");
    if (f->precision != 15)
        ADD("precision=%d", f->precision);
    if (f->newline)
        ADD("newline");
#undef ADD
}

static bool fmt_parse(const char *s, bodyfmt *f)
{
    *f = default_fmt;
    while (s && *s) {
        const char *end = strchr(s, ',');
        size_t n = end ? (size_t)(end - s) : strlen(s);
        if (n == 6 && !strncmp(s, "spaced", 6))
            f->indent = -1;
        else if (n == 8 && !strncmp(s, "indent=2", 8))
            f->indent = 2;
        else if (n == 8 && !strncmp(s, "indent=4", 8))
            f->indent = 4;
        else if (n == 5 && !strncmp(s, "ascii", 5))
            f->ascii = true;
        else if (n == 12 && !strncmp(s, "precision=16", 12))
            f->precision = 16;
        else if (n == 12 && !strncmp(s, "precision=17", 12))
            f->precision = 17;
        else if (n == 7 && !strncmp(s, "newline", 7))
            f->newline = true;
        else
            return false;
        s = end ? end + 1 : NULL;
    }
    return true;
}

/* Adds body `data` under `name` (JSON value, _text or _base64); nothing
 * when empty. Raises *precision to what the line must be written with. */
static int set_body(json_t *o, const char *name, const char *data, size_t len, int *precision)
{
    char key[64];
    bodyfmt f;
    json_t *v;

    if (!len)
        return 0;
    if ((v = body_json(data, len, &f))) {
        char fn[64];
        if (json_object_set_new(o, name, v))
            return LG_ENOMEM;
        fmt_name(&f, fn);
        if (f.precision > *precision)
            *precision = f.precision;
        if (fn[0]) {
            snprintf(key, sizeof key, "%s_format", name);
            if (json_object_set_new(o, key, json_string(fn)))
                return LG_ENOMEM;
        }
        return 0;
    }
    snprintf(key, sizeof key, "%s_text", name);
    if ((v = json_stringn(data, len)))
        return json_object_set_new(o, key, v) ? LG_ENOMEM : 0;
    {
        lg_buf b = LG_BUF_INIT;
        int rc = lg_base64_encode(data, len, &b);
        snprintf(key, sizeof key, "%s_base64", name);
        if (!rc && json_object_set_new(o, key, json_stringn(b.data, b.len)))
            rc = LG_ENOMEM;
        lg_buf_release(&b);
        return rc;
    }
}

/* A stored JSON text field (canonical) as a value. */
static int set_json_text(json_t *o, const char *name, const char *text, int *precision)
{
    json_t *v;
    if (!text)
        return 0;
    if (!(v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL)))
        return LG_EINPUT;
    if (has_real(v))
        *precision = 17; /* canonical text has 17 digits: keep them */
    return json_object_set_new(o, name, v) ? LG_ENOMEM : 0;
}

static int set_str(json_t *o, const char *name, const char *s)
{
    return s && json_object_set_new(o, name, json_string(s)) ? LG_ENOMEM : 0;
}

static int set_int(json_t *o, const char *name, long long v)
{
    return json_object_set_new(o, name, json_integer(v)) ? LG_ENOMEM : 0;
}

static int set_bool(json_t *o, const char *name, bool v)
{
    return json_object_set_new(o, name, json_boolean(v)) ? LG_ENOMEM : 0;
}

/* ---- export -------------------------------------------------------------------- */

static int model_json(json_t *o, const lg_model_event *m, int *prec)
{
    char hex[LG_HASH_HEX_LEN];
    json_t *u;
    int rc = 0;

    lg_hash_hex(m->fingerprint, hex);
    if ((rc = set_str(o, "provider", m->provider)) || (rc = set_str(o, "method", m->method)) ||
        (rc = set_str(o, "path", m->path)) || (rc = set_str(o, "model", m->model)) ||
        (rc = set_str(o, "fingerprint", hex)) || (rc = set_int(o, "status", m->status)) ||
        (rc = set_str(o, "fault", m->fault)) ||
        (rc = set_int(o, "latency_us", (long long)m->latency_us)))
        return rc;
    if (!(u = json_object()))
        return LG_ENOMEM;
    if ((m->usage.in >= 0 && (rc = set_int(u, "in", m->usage.in))) ||
        (m->usage.out >= 0 && (rc = set_int(u, "out", m->usage.out))) ||
        (m->usage.cached >= 0 && (rc = set_int(u, "cached", m->usage.cached)))) {
        json_decref(u);
        return rc;
    }
    if (json_object_size(u))
        rc = json_object_set_new(o, "usage", u) ? LG_ENOMEM : 0;
    else
        json_decref(u);
    if (rc || (rc = set_json_text(o, "headers", m->headers, prec)) ||
        (rc = set_body(o, "request", m->request.data, m->request.len, prec)))
        return rc;
    if (m->n_chunks) {
        json_t *arr = json_array();
        size_t off = 0;
        if (!arr || json_object_set_new(o, "chunks", arr))
            return LG_ENOMEM;
        for (size_t i = 0; i < m->n_chunks; i++) {
            json_t *c = json_object();
            if (!c || json_array_append_new(arr, c) || set_int(c, "t_us", (long long)m->chunks[i].t_us) ||
                set_body(c, "data", m->response.data + off, m->chunks[i].len, prec))
                return LG_ENOMEM;
            off += m->chunks[i].len;
        }
        return 0;
    }
    return set_body(o, "response", m->response.data, m->response.len, prec);
}

static int event_json(const char *key, const lg_event *ev, json_t **out, int *prec)
{
    json_t *o = json_object();
    int rc;

    *out = NULL;
    if (!o)
        return LG_ENOMEM;
    if ((rc = set_str(o, "session", key)) || (rc = set_int(o, "seq", ev->seq)) ||
        (rc = set_str(o, "type", lg_event_kind_name(ev->kind))) ||
        (rc = set_int(o, "t_us", (long long)ev->t_us)))
        goto out;
    switch (ev->kind) {
    case LG_EVENT_MODEL:
        rc = set_int(o, "call", ev->call);
        if (!rc)
            rc = model_json(o, &ev->model, prec);
        break;
    case LG_EVENT_TOOL:
        if (!(rc = set_str(o, "name", ev->tool.name)) &&
            !(rc = set_str(o, "idempotency_key", ev->tool.idem_key)) &&
            !(rc = ev->tool.exit_code >= 0 ? set_int(o, "exit_code", ev->tool.exit_code) : 0) &&
            !(rc = set_int(o, "duration_us", (long long)ev->tool.duration_us)) &&
            !(rc = set_json_text(o, "result", ev->tool.result, prec)) &&
            !(rc = set_body(o, "args", ev->tool.args.data, ev->tool.args.len, prec)) &&
            !(rc = set_body(o, "stdout", ev->tool.out.data, ev->tool.out.len, prec)))
            rc = set_body(o, "stderr", ev->tool.err.data, ev->tool.err.len, prec);
        break;
    case LG_EVENT_ITERATION:
        if (!(rc = set_int(o, "index", ev->iteration.index)))
            rc = set_json_text(o, "state", ev->iteration.state, prec);
        break;
    case LG_EVENT_INVARIANT:
        if (!(rc = set_str(o, "name", ev->invariant.name)) &&
            !(rc = set_bool(o, "pass", ev->invariant.pass)))
            rc = set_str(o, "detail", ev->invariant.detail);
        break;
    case LG_EVENT_VERIFY:
        if (!(rc = set_bool(o, "pass", ev->verify.pass)))
            rc = set_str(o, "message", ev->verify.message);
        break;
    case LG_EVENT_DIVERGENCE:
        if (!(rc = set_int(o, "call", ev->divergence.call)) &&
            !(rc = set_str(o, "path", ev->divergence.path)))
            rc = set_str(o, "diff", ev->divergence.diff);
        break;
    case LG_EVENT_NOTE:
        if (!(rc = set_str(o, "text", ev->note.text)))
            rc = set_json_text(o, "data", ev->note.data, prec);
        break;
    case LG_EVENT_END:
        if (!(rc = set_str(o, "reason", ev->end.reason)) &&
            !(rc = set_bool(o, "converged", ev->end.converged)))
            rc = set_str(o, "error", ev->end.error);
        break;
    default:
        rc = LG_EINPUT;
    }
out:
    if (rc) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return 0;
}

static int dump_line(const json_t *o, int precision, lg_buf *line, lg_err *err)
{
    if (json_dump_callback(o, dump_cb, line, JSON_COMPACT | JSON_REAL_PRECISION(precision)) != 0)
        return LG_ERR(err, LG_ENOMEM, "out of memory writing an export line");
    return 0;
}

int lg_trace_event_line(const char *key, const lg_event *ev, lg_buf *line, lg_err *err)
{
    json_t *o;
    int prec = 15, rc = event_json(key, ev, &o, &prec);
    if (rc)
        return LG_ERR(err, rc, "session '%s' event %u: cannot write it as JSON (%s)", key,
                      (unsigned)ev->seq, lg_err_name(rc));
    rc = dump_line(o, prec, line, err);
    json_decref(o);
    return rc;
}

static int emit_json(lg_trace_emit_fn emit, void *ctx, const json_t *o, int prec, lg_buf *line,
                     lg_err *err)
{
    int rc;
    lg_buf_reset(line);
    if ((rc = dump_line(o, prec, line, err)))
        return rc;
    if (emit(ctx, line->data, line->len))
        return LG_ERR(err, LG_EIO, "cannot write the export");
    return 0;
}

int lg_trace_export(lg_store *st, const lg_session_filter *filter, lg_trace_emit_fn emit,
                    void *ctx, lg_err *err)
{
    lg_session_list *l = NULL;
    lg_buf line = LG_BUF_INIT;
    json_t *o;
    int rc;

    if (!(o = json_pack("{s:i,s:i}", "loopgate_export", LG_EXPORT_VERSION, "trace_format",
                        LG_TRACE_FORMAT)))
        return LG_ERR(err, LG_ENOMEM, "out of memory");
    rc = emit_json(emit, ctx, o, 15, &line, err);
    json_decref(o);
    if (rc || (rc = lg_store_list_sessions(st, filter, &l, err)))
        goto out;
    for (size_t i = 0; i < l->n && !rc; i++) {
        const lg_session_info *in = &l->items[i];
        lg_session_reader *r;
        if (!(o = json_object()) || set_str(o, "type", "session") || set_str(o, "key", in->key) ||
            set_str(o, "run", in->run) || set_str(o, "suite", in->suite) ||
            (in->case_index >= 0 && set_int(o, "case", in->case_index)) ||
            (in->trial >= 0 && set_int(o, "trial", in->trial)) ||
            set_int(o, "started_ms", in->started_ms)) {
            json_decref(o);
            rc = LG_ERR(err, LG_ENOMEM, "out of memory");
            break;
        }
        rc = emit_json(emit, ctx, o, 15, &line, err);
        json_decref(o);
        if (rc || (rc = lg_store_session_read(st, in->id, &r, err)))
            break;
        for (size_t k = 0; k < lg_session_reader_count(r) && !rc; k++) {
            const lg_event *ev;
            if ((rc = lg_session_reader_event(r, k, &ev, err)))
                break;
            lg_buf_reset(&line);
            if ((rc = lg_trace_event_line(in->key, ev, &line, err)))
                break;
            if (emit(ctx, line.data, line.len))
                rc = LG_ERR(err, LG_EIO, "cannot write the export");
        }
        lg_session_reader_free(r);
    }
out:
    lg_session_list_free(l);
    lg_buf_release(&line);
    return rc;
}

/* ---- import -------------------------------------------------------------------- */

typedef struct impctx {
    const char *name;
    size_t line;
    lg_err *err;
} impctx;

#define IMP_ERR(ic, ...) \
    (lg_err_setf((ic)->err, __FILE__, __LINE__, LG_EINPUT, __VA_ARGS__), LG_EINPUT)

/* Every key of `o` must be in `allowed` (NULL-terminated). */
static int check_keys(impctx *ic, json_t *o, const char *what, const char *const *allowed)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, k) == 0;
        if (!ok)
            return lg_err_setf(ic->err, __FILE__, __LINE__, LG_EINPUT,
                               "%s:%zu: unknown field '%s' in a %s", ic->name, ic->line, k, what);
    }
    return 0;
}

static int get_str(impctx *ic, json_t *o, const char *k, bool required, const char **out)
{
    json_t *v = json_object_get(o, k);
    *out = NULL;
    if (!v && !required)
        return 0;
    if (!json_is_string(v))
        return lg_err_setf(ic->err, __FILE__, __LINE__, LG_EINPUT, "%s:%zu: '%s' %s", ic->name,
                           ic->line, k, v ? "must be a string" : "is missing");
    *out = json_string_value(v);
    return 0;
}

static int get_int(impctx *ic, json_t *o, const char *k, long long def, long long min,
                   long long *out)
{
    json_t *v = json_object_get(o, k);
    *out = def;
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < min)
        return lg_err_setf(ic->err, __FILE__, __LINE__, LG_EINPUT,
                           "%s:%zu: '%s' must be an integer >= %lld", ic->name, ic->line, k, min);
    *out = json_integer_value(v);
    return 0;
}

static int get_bool(impctx *ic, json_t *o, const char *k, bool *out)
{
    json_t *v = json_object_get(o, k);
    *out = false;
    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return lg_err_setf(ic->err, __FILE__, __LINE__, LG_EINPUT, "%s:%zu: '%s' must be true or false",
                           ic->name, ic->line, k);
    *out = json_is_true(v);
    return 0;
}

/* A JSON-valued field back to canonical text (owned by `b`). */
static int get_json_text(impctx *ic, json_t *o, const char *k, lg_buf *b, const char **out)
{
    json_t *v = json_object_get(o, k);
    *out = NULL;
    if (!v)
        return 0;
    lg_buf_reset(b);
    if (lg_json_dump_canonical(v, b, ic->err))
        return LG_ENOMEM;
    *out = lg_buf_cstr(b);
    return 0;
}

/* A body field back to its bytes (owned by `b`). */
static int get_body(impctx *ic, json_t *o, const char *name, lg_buf *b, lg_bytes *out)
{
    char k[64];
    json_t *v, *t, *x, *f;
    int n = 0, rc;

    snprintf(k, sizeof k, "%s_text", name);
    t = json_object_get(o, k);
    snprintf(k, sizeof k, "%s_base64", name);
    x = json_object_get(o, k);
    snprintf(k, sizeof k, "%s_format", name);
    f = json_object_get(o, k);
    v = json_object_get(o, name);
    n = !!v + !!t + !!x;
    lg_buf_reset(b);
    *out = (lg_bytes){"", 0};
    if (n > 1)
        return lg_err_setf(ic->err, __FILE__, __LINE__, LG_EINPUT,
                           "%s:%zu: '%s' is given more than once (value, _text, _base64)", ic->name,
                           ic->line, name);
    if (f && !v)
        return lg_err_setf(ic->err, __FILE__, __LINE__, LG_EINPUT,
                           "%s:%zu: '%s_format' without '%s'", ic->name, ic->line, name, name);
    if (v) {
        bodyfmt fmt;
        if (!json_is_object(v) && !json_is_array(v))
            return lg_err_setf(ic->err, __FILE__, __LINE__, LG_EINPUT,
                               "%s:%zu: '%s' must be a JSON object or array (use '%s_text' for "
                               "other text)",
                               ic->name, ic->line, name, name);
        if (!fmt_parse(f ? json_string_value(f) : "", &fmt))
            return lg_err_setf(ic->err, __FILE__, __LINE__, LG_EINPUT,
                               "%s:%zu: '%s_format' is not one of spaced, indent=2, indent=4, "
                               "ascii, precision=16, precision=17, newline",
                               ic->name, ic->line, name);
        if ((rc = dump_fmt(v, &fmt, b)))
            return lg_err_setf(ic->err, __FILE__, __LINE__, rc, "out of memory");
    } else if (t) {
        if (!json_is_string(t))
            return lg_err_setf(ic->err, __FILE__, __LINE__, LG_EINPUT,
                               "%s:%zu: '%s_text' must be a string", ic->name, ic->line, name);
        if ((rc = lg_buf_append(b, json_string_value(t), json_string_length(t))))
            return lg_err_setf(ic->err, __FILE__, __LINE__, rc, "out of memory");
    } else if (x) {
        if (!json_is_string(x) ||
            lg_base64_decode(json_string_value(x), json_string_length(x), b) != 0)
            return lg_err_setf(ic->err, __FILE__, __LINE__, LG_EINPUT,
                               "%s:%zu: '%s_base64' is not valid base64", ic->name, ic->line, name);
    }
    out->data = b->data ? b->data : "";
    out->len = b->len;
    return 0;
}

/* Builds and appends one event line to the session writer. */
static int import_event(impctx *ic, json_t *o, const char *key, uint32_t want_seq,
                        lg_store_session *w)
{
    static const char *const common[] = {"session", "seq", "type", "t_us"};
    static const char *const model_keys[] = {
        "session", "seq", "type", "t_us", "call", "provider", "method", "path", "model",
        "fingerprint", "status", "fault", "latency_us", "usage", "headers", "request",
        "request_format", "request_text", "request_base64", "response", "response_format",
        "response_text", "response_base64", "chunks", NULL};
    static const char *const tool_keys[] = {
        "session", "seq", "type", "t_us", "name", "idempotency_key", "exit_code", "duration_us",
        "result", "args", "args_format", "args_text", "args_base64", "stdout", "stdout_format",
        "stdout_text", "stdout_base64", "stderr", "stderr_format", "stderr_text",
        "stderr_base64", NULL};
    static const char *const kind_keys[][8] = {
        [LG_EVENT_ITERATION] = {"index", "state", NULL},
        [LG_EVENT_INVARIANT] = {"name", "pass", "detail", NULL},
        [LG_EVENT_VERIFY] = {"pass", "message", NULL},
        [LG_EVENT_DIVERGENCE] = {"call", "path", "diff", NULL},
        [LG_EVENT_NOTE] = {"text", "data", NULL},
        [LG_EVENT_END] = {"reason", "converged", "error", NULL},
    };
    const char *type, *s;
    long long seq, t_us, v;
    lg_buf bufs[4] = {LG_BUF_INIT, LG_BUF_INIT, LG_BUF_INIT, LG_BUF_INIT};
    lg_chunk *chunks = NULL;
    lg_event ev;
    int kind, rc;

    if ((rc = get_str(ic, o, "type", true, &type)))
        return rc;
    if (!(kind = lg_event_kind_parse(type)))
        return IMP_ERR(ic,
                       "%s:%zu: unknown type '%s' (session, model, tool, iteration, invariant, "
                       "verify, divergence, note or end)",
                       ic->name, ic->line, type);
    if ((rc = get_str(ic, o, "session", true, &s)))
        return rc;
    if (strcmp(s, key) != 0)
        return IMP_ERR(ic, "%s:%zu: event of session '%s' inside session '%s'", ic->name,
                       ic->line, s, key);
    if ((rc = get_int(ic, o, "seq", -1, 0, &seq)) || (rc = get_int(ic, o, "t_us", 0, 0, &t_us)))
        return rc;
    if (seq != want_seq)
        return IMP_ERR(ic, "%s:%zu: event seq %lld out of order (expected %u)", ic->name,
                       ic->line, seq, (unsigned)want_seq);
    ev = lg_event_make((lg_event_kind)kind);
    ev.t_us = (uint64_t)t_us;
    if (kind == LG_EVENT_MODEL) {
        lg_model_event *m = &ev.model;
        json_t *u = json_object_get(o, "usage"), *ch = json_object_get(o, "chunks");
        const char *fp;
        if ((rc = check_keys(ic, o, "model event", model_keys)) ||
            (rc = get_str(ic, o, "provider", true, &m->provider)) ||
            (rc = get_str(ic, o, "method", true, &m->method)) ||
            (rc = get_str(ic, o, "path", true, &m->path)) ||
            (rc = get_str(ic, o, "model", false, &m->model)) ||
            (rc = get_str(ic, o, "fault", false, &m->fault)) ||
            (rc = get_str(ic, o, "fingerprint", true, &fp)))
            goto out;
        if (!lg_hash_from_hex(fp, &m->fingerprint)) {
            rc = IMP_ERR(ic, "%s:%zu: 'fingerprint' must be 32 hex digits", ic->name, ic->line);
            goto out;
        }
        if ((rc = get_int(ic, o, "status", 0, 0, &v)))
            goto out;
        m->status = (int)v;
        if ((rc = get_int(ic, o, "latency_us", 0, 0, &v)))
            goto out;
        m->latency_us = (uint64_t)v;
        if (u) {
            static const char *const ukeys[] = {"in", "out", "cached", NULL};
            long long a, b, c;
            if (!json_is_object(u) || (rc = check_keys(ic, u, "usage", ukeys)) ||
                (rc = get_int(ic, u, "in", -1, 0, &a)) || (rc = get_int(ic, u, "out", -1, 0, &b)) ||
                (rc = get_int(ic, u, "cached", -1, 0, &c))) {
                rc = rc ? rc : IMP_ERR(ic, "%s:%zu: 'usage' must be an object", ic->name, ic->line);
                goto out;
            }
            m->usage = (lg_usage){a, b, c};
        }
        if ((rc = get_json_text(ic, o, "headers", &bufs[2], &m->headers)) ||
            (rc = get_body(ic, o, "request", &bufs[0], &m->request)))
            goto out;
        if (ch) {
            size_t n = json_array_size(ch);
            if (!json_is_array(ch) || n == 0 || json_object_get(o, "response") ||
                json_object_get(o, "response_text") || json_object_get(o, "response_base64")) {
                rc = IMP_ERR(ic, "%s:%zu: 'chunks' must be a non-empty array and replaces "
                                 "'response'",
                             ic->name, ic->line);
                goto out;
            }
            if (!(chunks = calloc(n, sizeof *chunks))) {
                rc = lg_err_setf(ic->err, __FILE__, __LINE__, LG_ENOMEM, "out of memory");
                goto out;
            }
            for (size_t i = 0; i < n; i++) {
                static const char *const ckeys[] = {"t_us", "data", "data_format", "data_text",
                                                    "data_base64", NULL};
                json_t *c = json_array_get(ch, i);
                lg_bytes d;
                long long t;
                if (!json_is_object(c) || (rc = check_keys(ic, c, "chunk", ckeys)) ||
                    (rc = get_int(ic, c, "t_us", 0, 0, &t)) ||
                    (rc = get_body(ic, c, "data", &bufs[3], &d))) {
                    rc = rc ? rc : IMP_ERR(ic, "%s:%zu: a chunk must be an object", ic->name, ic->line);
                    goto out;
                }
                if (!d.len) {
                    rc = IMP_ERR(ic, "%s:%zu: chunk %zu is empty", ic->name, ic->line, i);
                    goto out;
                }
                if (lg_buf_append(&bufs[1], d.data, d.len)) {
                    rc = lg_err_setf(ic->err, __FILE__, __LINE__, LG_ENOMEM, "out of memory");
                    goto out;
                }
                chunks[i].len = d.len;
                chunks[i].t_us = (uint64_t)t;
            }
            m->response = (lg_bytes){bufs[1].data, bufs[1].len};
            m->chunks = chunks;
            m->n_chunks = n;
        } else if ((rc = get_body(ic, o, "response", &bufs[1], &m->response))) {
            goto out;
        }
    } else if (kind == LG_EVENT_TOOL) {
        lg_tool_event *t = &ev.tool;
        if ((rc = check_keys(ic, o, "tool event", tool_keys)) ||
            (rc = get_str(ic, o, "name", true, &t->name)) ||
            (rc = get_str(ic, o, "idempotency_key", false, &t->idem_key)) ||
            (rc = get_int(ic, o, "exit_code", -1, 0, &v)))
            goto out;
        t->exit_code = (int)v;
        if ((rc = get_int(ic, o, "duration_us", 0, 0, &v)))
            goto out;
        t->duration_us = (uint64_t)v;
        if ((rc = get_json_text(ic, o, "result", &bufs[3], &t->result)) ||
            (rc = get_body(ic, o, "args", &bufs[0], &t->args)) ||
            (rc = get_body(ic, o, "stdout", &bufs[1], &t->out)) ||
            (rc = get_body(ic, o, "stderr", &bufs[2], &t->err)))
            goto out;
    } else {
        const char *allowed[16];
        size_t n = 0;
        for (size_t i = 0; i < 4; i++)
            allowed[n++] = common[i];
        for (size_t i = 0; kind_keys[kind][i]; i++)
            allowed[n++] = kind_keys[kind][i];
        allowed[n] = NULL;
        if ((rc = check_keys(ic, o, "event", allowed)))
            goto out;
        switch (kind) {
        case LG_EVENT_ITERATION:
            if (!(rc = get_int(ic, o, "index", 0, LLONG_MIN, &v))) {
                ev.iteration.index = v;
                rc = get_json_text(ic, o, "state", &bufs[0], &ev.iteration.state);
            }
            break;
        case LG_EVENT_INVARIANT:
            if (!(rc = get_str(ic, o, "name", true, &ev.invariant.name)) &&
                !(rc = get_bool(ic, o, "pass", &ev.invariant.pass)))
                rc = get_str(ic, o, "detail", false, &ev.invariant.detail);
            break;
        case LG_EVENT_VERIFY:
            if (!(rc = get_bool(ic, o, "pass", &ev.verify.pass)))
                rc = get_str(ic, o, "message", false, &ev.verify.message);
            break;
        case LG_EVENT_DIVERGENCE:
            if (!(rc = get_int(ic, o, "call", -1, -1, &v))) {
                ev.divergence.call = v;
                if (!(rc = get_str(ic, o, "path", true, &ev.divergence.path)))
                    rc = get_str(ic, o, "diff", false, &ev.divergence.diff);
            }
            break;
        case LG_EVENT_NOTE:
            if (!(rc = get_str(ic, o, "text", true, &ev.note.text)))
                rc = get_json_text(ic, o, "data", &bufs[0], &ev.note.data);
            break;
        case LG_EVENT_END:
            if (!(rc = get_str(ic, o, "reason", true, &ev.end.reason)) &&
                !(rc = get_bool(ic, o, "converged", &ev.end.converged)))
                rc = get_str(ic, o, "error", false, &ev.end.error);
            break;
        }
        if (rc)
            goto out;
    }
    rc = lg_store_session_append(w, &ev, NULL, NULL, ic->err);
    if (rc)
        lg_err_prefix(ic->err, "%s:%zu", ic->name, ic->line);
out:
    for (int i = 0; i < 4; i++)
        lg_buf_release(&bufs[i]);
    free(chunks);
    return rc;
}

int lg_trace_import(lg_store *dst, const char *data, size_t len, const char *name,
                    size_t *sessions, lg_err *err)
{
    static const char *const session_keys[] = {"type", "key", "run", "suite", "case", "trial",
                                               "started_ms", NULL};
    impctx ic = {name, 0, err};
    lg_store_session **ws = NULL;
    char **keys = NULL;
    size_t nw = 0, cw = 0;
    const char *key = NULL;
    uint32_t seq = 0;
    const char *p = data, *end = data + len;
    bool header = false;
    int rc = 0;

    while (p < end && !rc) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        json_error_t je;
        json_t *o;
        const char *type;

        ic.line++;
        if (n == 0 || (n == 1 && p[0] == '\r')) {
            p += n + 1;
            continue;
        }
        if (!(o = json_loadb(p, n, JSON_ALLOW_NUL, &je))) {
            rc = IMP_ERR(&ic, "%s:%zu:%d: invalid JSON: %s", name, ic.line, je.column, je.text);
            break;
        }
        p += n + (nl ? 1 : 0);
        if (!json_is_object(o)) {
            rc = IMP_ERR(&ic, "%s:%zu: each line must be a JSON object", name, ic.line);
        } else if (!header) {
            json_t *v = json_object_get(o, "loopgate_export");
            if (!json_is_integer(v))
                rc = IMP_ERR(&ic,
                             "%s:%zu: not a loopgate export (the first line must be "
                             "{\"loopgate_export\":%d,...}); make one with 'loopgate export'",
                             name, ic.line, LG_EXPORT_VERSION);
            else if (json_integer_value(v) > LG_EXPORT_VERSION)
                rc = lg_err_setf(err, __FILE__, __LINE__, LG_EFORMAT,
                                 "%s:%zu: export version %lld is newer than this loopgate (reads "
                                 "up to %d); upgrade loopgate",
                                 name, ic.line, (long long)json_integer_value(v), LG_EXPORT_VERSION);
            header = true;
        } else if ((rc = get_str(&ic, o, "type", true, &type))) {
            /* message set */
        } else if (!strcmp(type, "session")) {
            lg_session_desc d;
            long long ci, tr, started;
            if (!(rc = check_keys(&ic, o, "session", session_keys)) &&
                !(rc = get_str(&ic, o, "key", true, &d.key)) &&
                !(rc = get_str(&ic, o, "run", false, &d.run)) &&
                !(rc = get_str(&ic, o, "suite", false, &d.suite)) &&
                !(rc = get_int(&ic, o, "case", -1, 0, &ci)) &&
                !(rc = get_int(&ic, o, "trial", -1, 0, &tr)) &&
                !(rc = get_int(&ic, o, "started_ms", 0, 0, &started))) {
                d.case_index = ci;
                d.trial = tr;
                d.started_ms = started;
                for (size_t i = 0; i < nw && !rc; i++)
                    if (!strcmp(keys[i], d.key))
                        rc = IMP_ERR(&ic, "%s:%zu: session '%s' appears twice", name, ic.line, d.key);
                if (!rc && cw == nw) {
                    size_t nc = cw ? cw * 2 : 16;
                    lg_store_session **q = realloc(ws, nc * sizeof *q);
                    char **kq = q ? realloc(keys, nc * sizeof *kq) : NULL;
                    if (q)
                        ws = q;
                    if (kq)
                        keys = kq;
                    if (!q || !kq)
                        rc = lg_err_setf(err, __FILE__, __LINE__, LG_ENOMEM, "out of memory");
                    else
                        cw = nc;
                }
                if (!rc && !(keys[nw] = strdup(d.key)))
                    rc = lg_err_setf(err, __FILE__, __LINE__, LG_ENOMEM, "out of memory");
                if (!rc && (rc = lg_store_session_begin(dst, &d, &ws[nw], err))) {
                    free(keys[nw]);
                    lg_err_prefix(err, "%s:%zu", name, ic.line);
                } else if (!rc) {
                    key = keys[nw++];
                    seq = 0;
                }
            }
        } else if (!key) {
            rc = IMP_ERR(&ic, "%s:%zu: an event before any {\"type\":\"session\",...} line", name,
                         ic.line);
        } else if (!(rc = import_event(&ic, o, key, seq, ws[nw - 1]))) {
            seq++;
        }
        json_decref(o);
    }
    if (!rc && !header)
        rc = IMP_ERR(&ic, "%s: empty; not a loopgate export", name);
    /* all checked: now write, one transaction per session */
    for (size_t i = 0; i < nw; i++) {
        if (rc)
            lg_store_session_abort(ws[i]);
        else
            rc = lg_store_session_commit(ws[i], NULL, err);
        free(keys[i]);
    }
    free(ws);
    free(keys);
    if (!rc && sessions)
        *sessions = nw;
    return rc;
}
