/* harness/sim.c - the simulated model's decision logic; see sim.h. Pure. */
#include "sim.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/json.h"
#include "core/pcg.h"
#include "harness/sim_model.h"

#define DEFAULT_MODEL "sim-1"
#define QUOTE_MAX 80

void lg_sim_config_init(lg_sim_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->slow_ms = 2000;
    cfg->retry_after_ms = 1000;
    cfg->tool_turns = 2;
    cfg->embed_dims = 8;
}

const char *lg_sim_fault_name(int fault)
{
    switch (fault) {
    case LG_SIM_FAULT_429: return "429";
    case LG_SIM_FAULT_500: return "500";
    case LG_SIM_FAULT_CUT: return "cut";
    case LG_SIM_FAULT_SLOW: return "slow";
    default: return "none";
    }
}

int lg_sim_parse_faults(const char *spec, lg_sim_config *cfg, lg_err *err)
{
    double r[4] = {0, 0, 0, 0};
    static const char *const names[] = {"429", "500", "cut", "slow"};
    const char *p = spec;
    if (!spec)
        return 0;
    while (*p) {
        size_t n = strcspn(p, ",");
        char item[64];
        if (n == 0 || n >= sizeof item)
            return LG_ERR(err, LG_EUSAGE, "--faults '%s': empty or overlong item; write "
                          "KIND:RATE,... e.g. 429:0.05,500:0.02,cut:0.01,slow:0.1", spec);
        memcpy(item, p, n);
        item[n] = 0;
        char *colon = strchr(item, ':');
        if (!colon)
            return LG_ERR(err, LG_EUSAGE, "--faults: item '%s' has no ':RATE' (e.g. 429:0.05)",
                          item);
        *colon = 0;
        int k = -1;
        for (int i = 0; i < 4; i++)
            if (strcmp(item, names[i]) == 0)
                k = i;
        if (k < 0)
            return LG_ERR(err, LG_EUSAGE,
                          "--faults: unknown fault '%s' (use 429, 500, cut or slow)", item);
        char *end;
        double v = strtod(colon + 1, &end);
        if (end == colon + 1 || *end || !(v >= 0.0 && v <= 1.0))
            return LG_ERR(err, LG_EUSAGE,
                          "--faults: rate '%s' of '%s' is not a number in [0, 1]", colon + 1,
                          item);
        r[k] = v;
        p += n;
        if (*p == ',')
            p++;
    }
    if (r[0] + r[1] + r[2] + r[3] > 1.0 + 1e-9)
        return LG_ERR(err, LG_EUSAGE, "--faults '%s': the rates add up to more than 1", spec);
    cfg->p429 = r[0];
    cfg->p500 = r[1];
    cfg->pcut = r[2];
    cfg->pslow = r[3];
    return 0;
}

void lg_sim_plan_init(lg_sim_plan *p)
{
    memset(p, 0, sizeof *p);
    lg_http_headers_init(&p->headers);
    lg_buf_init(&p->body);
    p->in_tokens = p->out_tokens = -1;
}

void lg_sim_plan_release(lg_sim_plan *p)
{
    if (!p)
        return;
    lg_http_headers_release(&p->headers);
    lg_buf_release(&p->body);
    free(p->chunk_end);
    lg_sim_plan_init(p);
}

/* ------------------------------------------------------------- hashing */

/* Appends the canonical form hashed for a request: method, path without the
 * query, and the body as canonical JSON when it parses, raw otherwise. */
static int canonical(const char *method, const char *path, const char *body, size_t len,
                     lg_buf *out)
{
    size_t plen = strcspn(path, "?");
    if (lg_buf_appendf(out, "%s %.*s\n", method, (int)plen, path))
        return LG_ENOMEM;
    json_t *j = len ? json_loadb(body, len, JSON_DECODE_ANY, NULL) : NULL;
    int rc;
    if (j) {
        rc = lg_json_dump_canonical(j, out, NULL);
        json_decref(j);
    } else {
        rc = lg_buf_append(out, body ? body : "", len);
    }
    return rc ? LG_ENOMEM : 0;
}

uint64_t lg_sim_request_hash(const char *method, const char *path, const char *body, size_t len)
{
    lg_buf b = LG_BUF_INIT;
    uint64_t h;
    if (canonical(method, path, body, len, &b) == 0) {
        lg_hash128 x = lg_hash_bytes(b.data, b.len);
        h = x.hi ^ x.lo;
    } else {
        lg_hash128 x = lg_hash_bytes(body, len);
        h = x.hi;
    }
    lg_buf_release(&b);
    return h;
}

/* ------------------------------------------------------------- context */

enum api { API_NONE, API_CHAT, API_RESPONSES, API_EMBEDDINGS, API_MESSAGES, API_MODELS };

typedef struct ctx {
    const lg_sim_config *cfg;
    lg_sim_plan *p;
    enum api api;
    bool anthropic; /* error and header shapes */
    json_t *req;    /* parsed body (object) or NULL */
    uint64_t hash;
    char hex[17];
    size_t canon_len;
    const char *model;
    long long created;
    /* the conversation */
    char *first_user; /* owned */
    char *last_tool;  /* owned, or NULL */
    unsigned tool_results;
    const json_t *tool_schema; /* borrowed from req */
    const char *tool_name;
    bool tools_off;
    /* what the behaviour model reads (harness/sim_model.h) */
    const char **tools;           /* declared tool names, borrowed from req */
    const json_t **schemas;
    size_t ntools;
    lg_sim_call *calls;           /* tool calls in the conversation */
    size_t ncalls;
    char **owned;                 /* argument texts dumped for `calls` */
    size_t nowned;
    unsigned turn, attempts;
    const char *hint;
    int64_t hint_case, hint_trial;
    bool oom;
    /* the turn to answer */
    int64_t case_index, trial;    /* the caller's */
    lg_sim_turn turn_out;
    bool tool;                    /* a tool call (name, args) rather than text */
    const char *call_name;        /* borrowed from req or turn_out */
    char *args, *text;            /* owned */
} ctx;

static int add_header(ctx *c, const char *name, const char *value)
{
    return lg_http_headers_add(&c->p->headers, name, value);
}

static int add_headerf(ctx *c, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int add_headerf(ctx *c, const char *name, const char *fmt, ...)
{
    char v[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v, sizeof v, fmt, ap);
    va_end(ap);
    return add_header(c, name, v);
}

static int common_headers(ctx *c, const char *ctype)
{
    int rc = add_header(c, "Content-Type", ctype);
    if (c->anthropic) {
        rc = rc ? rc : add_headerf(c, "request-id", "req_sim%s", c->hex);
        rc = rc ? rc : add_header(c, "anthropic-ratelimit-requests-limit", "4000");
        rc = rc ? rc : add_header(c, "anthropic-ratelimit-requests-remaining",
                                  c->p->status == 429 ? "0" : "3999");
    } else {
        rc = rc ? rc : add_headerf(c, "x-request-id", "req_sim%s", c->hex);
        rc = rc ? rc : add_headerf(c, "openai-processing-ms", "%u", c->p->delay_ms);
        rc = rc ? rc : add_header(c, "x-ratelimit-limit-requests", "10000");
        rc = rc ? rc : add_header(c, "x-ratelimit-remaining-requests",
                                  c->p->status == 429 ? "0" : "9999");
    }
    return rc;
}

/* Takes `j` (decref'd here). Appends its canonical dump to the body. */
static int put_json(ctx *c, json_t *j)
{
    if (!j)
        return LG_ENOMEM;
    int rc = lg_json_dump_canonical(j, &c->p->body, NULL);
    json_decref(j);
    return rc ? LG_ENOMEM : 0;
}

static int error_plan(ctx *c, int status, const char *type, const char *code, const char *msg)
{
    lg_buf_reset(&c->p->body);
    free(c->p->chunk_end);
    c->p->chunk_end = NULL;
    c->p->nchunks = 0;
    c->p->stream = false;
    c->p->status = status;
    c->p->in_tokens = c->p->out_tokens = -1;
    c->p->tool_call = false;
    lg_http_headers_release(&c->p->headers);
    if (common_headers(c, "application/json"))
        return LG_ENOMEM;
    if (status == 429) {
        unsigned ms = c->cfg->retry_after_ms;
        if (add_headerf(c, "retry-after", "%u", (ms + 999) / 1000) ||
            add_headerf(c, "retry-after-ms", "%u", ms))
            return LG_ENOMEM;
    }
    if (c->anthropic)
        return put_json(c, json_pack("{s:s,s:{s:s,s:s}}", "type", "error", "error", "type", type,
                                     "message", msg));
    return put_json(c, json_pack("{s:{s:s,s:s,s:n,s:s?}}", "error", "message", msg, "type", type,
                                 "param", "code", code));
}

/* Appends one server-sent event chunk: "event: NAME\n" (when name) and
 * "data: JSON\n\n". Takes `data`. */
static int sse(ctx *c, const char *name, json_t *data)
{
    lg_sim_plan *p = c->p;
    if (!data)
        return LG_ENOMEM;
    size_t *ne = realloc(p->chunk_end, (p->nchunks + 1) * sizeof *ne);
    if (!ne) {
        json_decref(data);
        return LG_ENOMEM;
    }
    p->chunk_end = ne;
    int rc = name ? lg_buf_appendf(&p->body, "event: %s\n", name) : 0;
    rc = rc ? rc : lg_buf_append_str(&p->body, "data: ");
    if (rc) {
        json_decref(data);
        return LG_ENOMEM;
    }
    rc = put_json(c, data);
    rc = rc ? rc : lg_buf_append_str(&p->body, "\n\n");
    if (rc)
        return LG_ENOMEM;
    p->chunk_end[p->nchunks++] = p->body.len;
    return 0;
}

static int sse_raw(ctx *c, const char *text)
{
    lg_sim_plan *p = c->p;
    size_t *ne = realloc(p->chunk_end, (p->nchunks + 1) * sizeof *ne);
    if (!ne)
        return LG_ENOMEM;
    p->chunk_end = ne;
    if (lg_buf_append_str(&p->body, text))
        return LG_ENOMEM;
    p->chunk_end[p->nchunks++] = p->body.len;
    return 0;
}

/* ------------------------------------------------------ reading requests */

/* Text of a content value: a string, or the concatenated "text" of an
 * array of parts (OpenAI parts, Anthropic blocks, Responses input_text). */
static void content_text(const json_t *content, lg_buf *out)
{
    if (json_is_string(content)) {
        (void)!lg_buf_append_str(out, json_string_value(content));
        return;
    }
    size_t i;
    const json_t *part;
    json_array_foreach(content, i, part) {
        const char *t = lg_json_str(part, "text", NULL);
        if (t)
            (void)!lg_buf_append_str(out, t);
        else if (json_is_string(part))
            (void)!lg_buf_append_str(out, json_string_value(part));
    }
}

static char *take_text(lg_buf *b)
{
    char *s = lg_buf_take(b, NULL);
    return s ? s : strdup("");
}

static void set_last_tool(ctx *c, const json_t *content)
{
    lg_buf b = LG_BUF_INIT;
    content_text(content, &b);
    free(c->last_tool);
    c->last_tool = take_text(&b);
}

static void add_tool(ctx *c, const char *name, const json_t *schema)
{
    if (!name)
        return;
    const char **nt = realloc(c->tools, (c->ntools + 1) * sizeof *nt);
    const json_t **ns = nt ? realloc(c->schemas, (c->ntools + 1) * sizeof *ns) : NULL;
    if (nt)
        c->tools = nt;
    if (ns)
        c->schemas = ns;
    if (!nt || !ns) {
        c->oom = true;
        return;
    }
    c->tools[c->ntools] = name;
    c->schemas[c->ntools++] = schema;
}

/* Records a tool call of the conversation; `args` is a JSON text or, when
 * `obj` is given, that value dumped. */
static void add_call(ctx *c, const char *name, const char *args, const json_t *obj)
{
    lg_sim_call *nc = realloc(c->calls, (c->ncalls + 1) * sizeof *nc);
    if (!nc) {
        c->oom = true;
        return;
    }
    c->calls = nc;
    if (obj) {
        char **no = realloc(c->owned, (c->nowned + 1) * sizeof *no);
        char *t = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        if (no)
            c->owned = no;
        if (!no || !t) {
            free(t);
            c->oom = true;
            return;
        }
        c->owned[c->nowned++] = t;
        args = t;
    }
    c->calls[c->ncalls].name = name ? name : "";
    c->calls[c->ncalls++].args = args ? args : "{}";
}

/* The case hint: `user`, or metadata.user_id, or metadata.loopgate_case/_trial. */
static void read_hint(ctx *c)
{
    const json_t *md = json_object_get(c->req, "metadata");
    c->hint = lg_json_str(c->req, "user", NULL);
    if (!c->hint)
        c->hint = lg_json_str(md, "user_id", NULL);
    c->hint_case = c->hint_trial = -1;
    for (int k = 0; k < 2; k++) {
        const json_t *v = json_object_get(md, k ? "loopgate_trial" : "loopgate_case");
        long long x = -1;
        if (json_is_integer(v))
            x = json_integer_value(v);
        else if (json_is_string(v)) {
            char *end;
            x = strtoll(json_string_value(v), &end, 10);
            if (*end || end == json_string_value(v))
                x = -1;
        }
        if (k)
            c->hint_trial = x < 0 ? -1 : x;
        else
            c->hint_case = x < 0 ? -1 : x;
    }
}

/* Reads the conversation of a chat completions request. */
static void read_chat(ctx *c)
{
    const json_t *msgs = json_object_get(c->req, "messages"), *m;
    size_t i;
    json_array_foreach(msgs, i, m) {
        const char *role = lg_json_str(m, "role", "");
        if (!c->first_user && strcmp(role, "user") == 0) {
            lg_buf b = LG_BUF_INIT;
            content_text(json_object_get(m, "content"), &b);
            c->first_user = take_text(&b);
        } else if (strcmp(role, "tool") == 0) {
            c->tool_results++;
            set_last_tool(c, json_object_get(m, "content"));
        } else if (strcmp(role, "assistant") == 0) {
            const json_t *tcs = json_object_get(m, "tool_calls"), *tc;
            size_t k;
            c->turn++;
            if (json_array_size(tcs) == 0)
                c->attempts++;
            json_array_foreach(tcs, k, tc) {
                const json_t *f = json_object_get(tc, "function");
                add_call(c, lg_json_str(f, "name", NULL), lg_json_str(f, "arguments", NULL), NULL);
            }
        }
    }
    const json_t *tools = json_object_get(c->req, "tools"), *t;
    json_array_foreach(tools, i, t) {
        const json_t *f = json_object_get(t, "function");
        add_tool(c, lg_json_str(f, "name", NULL), json_object_get(f, "parameters"));
    }
    const json_t *tool = json_array_get(json_object_get(c->req, "tools"), 0);
    const json_t *fn = json_object_get(tool, "function");
    c->tool_name = lg_json_str(fn, "name", NULL);
    c->tool_schema = json_object_get(fn, "parameters");
    const json_t *tc = json_object_get(c->req, "tool_choice");
    c->tools_off = json_is_string(tc) && strcmp(json_string_value(tc), "none") == 0;
}

static void read_messages(ctx *c)
{
    const json_t *msgs = json_object_get(c->req, "messages"), *m, *blk;
    size_t i, k;
    json_array_foreach(msgs, i, m) {
        const char *role = lg_json_str(m, "role", "");
        const json_t *content = json_object_get(m, "content");
        if (strcmp(role, "assistant") == 0) {
            bool used_tool = false;
            c->turn++;
            json_array_foreach(content, k, blk) {
                if (strcmp(lg_json_str(blk, "type", ""), "tool_use") == 0) {
                    used_tool = true;
                    add_call(c, lg_json_str(blk, "name", NULL), NULL,
                             json_object_get(blk, "input") ? json_object_get(blk, "input")
                                                            : json_object());
                }
            }
            if (!used_tool)
                c->attempts++;
            continue;
        }
        if (strcmp(role, "user") != 0)
            continue;
        if (json_is_array(content)) {
            bool has_text = false;
            json_array_foreach(content, k, blk) {
                const char *type = lg_json_str(blk, "type", "");
                if (strcmp(type, "tool_result") == 0) {
                    c->tool_results++;
                    set_last_tool(c, json_object_get(blk, "content"));
                } else if (strcmp(type, "text") == 0) {
                    has_text = true;
                }
            }
            if (!c->first_user && has_text) {
                lg_buf b = LG_BUF_INIT;
                json_array_foreach(content, k, blk)
                    if (strcmp(lg_json_str(blk, "type", ""), "text") == 0)
                        (void)!lg_buf_append_str(&b, lg_json_str(blk, "text", ""));
                c->first_user = take_text(&b);
            }
        } else if (!c->first_user && json_is_string(content)) {
            c->first_user = strdup(json_string_value(content));
        }
    }
    const json_t *tools = json_object_get(c->req, "tools"), *t;
    json_array_foreach(tools, i, t)
        if (lg_json_str(t, "name", NULL) && json_object_get(t, "input_schema"))
            add_tool(c, lg_json_str(t, "name", NULL), json_object_get(t, "input_schema"));
    json_array_foreach(tools, i, t) {
        if (lg_json_str(t, "name", NULL) && json_object_get(t, "input_schema")) {
            c->tool_name = lg_json_str(t, "name", NULL);
            c->tool_schema = json_object_get(t, "input_schema");
            break;
        }
    }
    const json_t *tc = json_object_get(c->req, "tool_choice");
    c->tools_off = strcmp(lg_json_str(tc, "type", ""), "none") == 0;
}

static void read_responses(ctx *c)
{
    const json_t *input = json_object_get(c->req, "input"), *it;
    size_t i;
    if (json_is_string(input)) {
        c->first_user = strdup(json_string_value(input));
    } else {
        json_array_foreach(input, i, it) {
            const char *type = lg_json_str(it, "type", "message");
            if (strcmp(type, "function_call_output") == 0) {
                c->tool_results++;
                set_last_tool(c, json_object_get(it, "output"));
            } else if (strcmp(type, "function_call") == 0) {
                c->turn++;
                add_call(c, lg_json_str(it, "name", NULL), lg_json_str(it, "arguments", NULL),
                         NULL);
            } else if (strcmp(type, "message") == 0 &&
                       strcmp(lg_json_str(it, "role", ""), "assistant") == 0) {
                c->turn++;
                c->attempts++;
            } else if (!c->first_user && strcmp(type, "message") == 0 &&
                       strcmp(lg_json_str(it, "role", ""), "user") == 0) {
                lg_buf b = LG_BUF_INIT;
                content_text(json_object_get(it, "content"), &b);
                c->first_user = take_text(&b);
            }
        }
    }
    const json_t *tools = json_object_get(c->req, "tools"), *t;
    json_array_foreach(tools, i, t)
        if (strcmp(lg_json_str(t, "type", ""), "function") == 0)
            add_tool(c, lg_json_str(t, "name", NULL), json_object_get(t, "parameters"));
    json_array_foreach(tools, i, t) {
        if (strcmp(lg_json_str(t, "type", ""), "function") == 0 && lg_json_str(t, "name", NULL)) {
            c->tool_name = lg_json_str(t, "name", NULL);
            c->tool_schema = json_object_get(t, "parameters");
            break;
        }
    }
    const json_t *tc = json_object_get(c->req, "tool_choice");
    c->tools_off = json_is_string(tc) && strcmp(json_string_value(tc), "none") == 0;
}

/* ------------------------------------------------------ the script */

/* At most QUOTE_MAX bytes of `s`, cut at a UTF-8 boundary, newlines as spaces. */
static json_t *quote(const char *s)
{
    char q[QUOTE_MAX + 4];
    size_t n = strlen(s);
    if (n > QUOTE_MAX) {
        n = QUOTE_MAX;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(q, s, n);
    q[n] = 0;
    for (size_t i = 0; i < n; i++)
        if (q[i] == '\n' || q[i] == '\r' || q[i] == '\t')
            q[i] = ' ';
    json_t *j = json_stringn(q, n);
    return j ? j : json_string("");
}

/* Arguments for the tool from its JSON schema and the user's request. */
static json_t *tool_args(const ctx *c)
{
    json_t *args = json_object();
    const json_t *props = json_object_get(c->tool_schema, "properties");
    const char *key;
    const json_t *sch;
    const char *text = c->first_user ? c->first_user : "";
    json_object_foreach((json_t *)props, key, sch) {
        const char *type = lg_json_str(sch, "type", "string");
        const json_t *en = json_object_get(sch, "enum");
        json_t *v;
        if (json_array_size(en) > 0)
            v = json_deep_copy(json_array_get(en, c->tool_results % json_array_size(en)));
        else if (strcmp(type, "integer") == 0)
            v = json_integer((json_int_t)(strlen(text) + c->tool_results));
        else if (strcmp(type, "number") == 0)
            v = json_real((double)strlen(text) + 0.5 * c->tool_results);
        else if (strcmp(type, "boolean") == 0)
            v = json_true();
        else if (strcmp(type, "array") == 0)
            v = json_array();
        else if (strcmp(type, "object") == 0)
            v = json_object();
        else if (c->tool_results == 0)
            v = quote(text);
        else {
            char step[QUOTE_MAX + 32];
            json_t *qt = quote(text);
            snprintf(step, sizeof step, "%s (step %u)", json_string_value(qt),
                     c->tool_results + 1);
            json_decref(qt);
            v = json_string(step);
        }
        json_object_set_new(args, key, v);
    }
    return args;
}

static char *answer_text(const ctx *c)
{
    lg_buf b = LG_BUF_INIT;
    json_t *q = quote(c->last_tool ? c->last_tool : c->first_user ? c->first_user : "");
    int rc;
    if (c->tool_results)
        rc = lg_buf_appendf(&b, "Answer %.8s after %u tool result%s: the tool said \"%s\".",
                            c->hex, c->tool_results, c->tool_results == 1 ? "" : "s",
                            json_string_value(q));
    else
        rc = lg_buf_appendf(&b, "Answer %.8s: you asked \"%s\".", c->hex, json_string_value(q));
    json_decref(q);
    if (rc) {
        lg_buf_release(&b);
        return NULL;
    }
    return lg_buf_take(&b, NULL);
}

static bool wants_tool(const ctx *c)
{
    return c->tool_name && !c->tools_off && c->tool_results < c->cfg->tool_turns;
}

static int64_t tokens_of(size_t bytes) { return 1 + (int64_t)bytes / 4; }

/* Splits `s` into pieces of whole words (with their trailing space). */
static size_t next_piece(const char *s, size_t at, size_t len)
{
    size_t e = at;
    while (e < len && s[e] != ' ')
        e++;
    while (e < len && s[e] == ' ')
        e++;
    return e;
}

static char *json_text(const json_t *j)
{
    return json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

/* Decides the turn: the behaviour model's when there is one and it knows
 * the case, else the script's. Fills c->tool, c->call_name, c->args or
 * c->text. LG_ENOMEM, or LG_EINPUT with `err` set (a case without the
 * answer field). */
static int make_turn(ctx *c, lg_err *err)
{
    if (c->oom)
        return LG_ENOMEM;
    if (c->cfg->model) {
        lg_sim_convo cv = {
            c->first_user ? c->first_user : "", c->hint, c->hint_case, c->hint_trial, c->turn,
            c->attempts, c->tools, c->schemas, c->ntools, c->tools_off, c->calls, c->ncalls,
            c->hash,
        };
        int rc = lg_sim_model_turn(c->cfg->model, c->case_index, c->trial, &cv, &c->turn_out,
                                   err);
        if (rc)
            return rc;
        c->p->turn_kind = c->turn_out.kind;
        c->p->case_index = c->turn_out.case_index;
        c->p->trial = c->turn_out.trial;
        if (c->turn_out.kind != LG_SIM_TURN_SCRIPT) {
            c->tool = c->turn_out.tool_name != NULL;
            c->call_name = c->turn_out.tool_name;
            if (c->tool)
                c->args = strdup(c->turn_out.args);
            else
                c->text = strdup(c->turn_out.text);
            return (c->tool ? c->args : c->text) ? 0 : LG_ENOMEM;
        }
    }
    c->tool = wants_tool(c);
    if (c->tool) {
        json_t *a = tool_args(c);
        c->args = a ? json_text(a) : NULL;
        json_decref(a);
        c->call_name = c->tool_name;
        return c->args ? 0 : LG_ENOMEM;
    }
    c->text = answer_text(c);
    return c->text ? 0 : LG_ENOMEM;
}

/* Output tokens reported: the model's draw, else counted from the text. */
static int64_t out_tokens(const ctx *c, int64_t counted)
{
    return c->turn_out.out_tokens >= 0 ? c->turn_out.out_tokens : counted;
}

/* ------------------------------------------------ chat completions */

static json_t *chat_chunk(const ctx *c, json_t *delta, const char *finish, bool usage_null)
{
    json_t *ch = json_pack("{s:s,s:s,s:I,s:s,s:s,s:[{s:i,s:o,s:n,s:s?}]}", "id", "",
                           "object", "chat.completion.chunk", "created", (json_int_t)c->created,
                           "model", c->model, "system_fingerprint", "fp_sim", "choices", "index",
                           0, "delta", delta, "logprobs", "finish_reason", finish);
    if (ch) {
        char id[48];
        snprintf(id, sizeof id, "chatcmpl-sim%s", c->hex);
        json_object_set_new(ch, "id", json_string(id));
        if (usage_null)
            json_object_set_new(ch, "usage", json_null());
    }
    return ch;
}

/* A bad chat request as a 400 plan (returns 1), else reads it (returns 0). */
static int check_chat(ctx *c)
{
    if (!json_is_array(json_object_get(c->req, "messages")) ||
        json_array_size(json_object_get(c->req, "messages")) == 0)
        return error_plan(c, 400, "invalid_request_error", "missing_messages",
                          "'messages' must be a non-empty array") ? LG_ENOMEM : 1;
    read_chat(c);
    return 0;
}

static int plan_chat(ctx *c)
{
    lg_sim_plan *p = c->p;
    bool stream = json_is_true(json_object_get(c->req, "stream"));
    bool inc_usage = stream && json_is_true(json_object_get(
                                   json_object_get(c->req, "stream_options"), "include_usage"));
    bool tool = c->tool;
    char id[48], call_id[40];
    snprintf(id, sizeof id, "chatcmpl-sim%s", c->hex);
    snprintf(call_id, sizeof call_id, "call_%016llx",
             (unsigned long long)lg_pcg32_mix(c->hash, c->tool_results));
    const char *text = c->text, *args = c->args;
    if (tool)
        p->out_tokens = out_tokens(c, 5 + tokens_of(strlen(args)));
    else
        p->out_tokens = out_tokens(c, tokens_of(strlen(text)));
    p->in_tokens = tokens_of(c->canon_len);
    p->tool_call = tool;
    p->status = 200;
    json_t *usage = json_pack("{s:I,s:I,s:I,s:{s:i},s:{s:i}}", "prompt_tokens",
                              (json_int_t)p->in_tokens, "completion_tokens",
                              (json_int_t)p->out_tokens, "total_tokens",
                              (json_int_t)(p->in_tokens + p->out_tokens),
                              "prompt_tokens_details", "cached_tokens", 0,
                              "completion_tokens_details", "reasoning_tokens", 0);
    const char *finish = tool ? "tool_calls" : "stop";
    int rc = 0;
    if (!stream) {
        json_t *msg = tool ? json_pack("{s:s,s:n,s:n,s:[{s:s,s:s,s:{s:s,s:s}}]}", "role",
                                       "assistant", "content", "refusal", "tool_calls", "id",
                                       call_id, "type", "function", "function", "name",
                                       c->call_name, "arguments", args)
                           : json_pack("{s:s,s:s,s:n}", "role", "assistant", "content", text,
                                       "refusal");
        rc = common_headers(c, "application/json");
        rc = rc ? rc : put_json(c, json_pack("{s:s,s:s,s:I,s:s,s:s,s:[{s:i,s:o,s:n,s:s}],s:o}",
                                             "id", id, "object", "chat.completion", "created",
                                             (json_int_t)c->created, "model", c->model,
                                             "system_fingerprint", "fp_sim", "choices", "index",
                                             0, "message", msg, "logprobs", "finish_reason",
                                             finish, "usage", usage));
        usage = NULL;
    } else {
        p->stream = true;
        rc = common_headers(c, "text/event-stream; charset=utf-8");
        rc = rc ? rc : add_header(c, "Cache-Control", "no-cache");
        if (tool) {
            rc = rc ? rc : sse(c, NULL, chat_chunk(c, json_pack("{s:s,s:n,s:[{s:i,s:s,s:s,s:{s:s,s:s}}]}",
                                                                "role", "assistant", "content",
                                                                "tool_calls", "index", 0, "id",
                                                                call_id, "type", "function",
                                                                "function", "name", c->call_name,
                                                                "arguments", ""),
                                                      NULL, inc_usage));
            size_t n = strlen(args);
            for (size_t at = 0, k = 0; at < n && !rc; k++) {
                size_t e = at + (n + 2) / 3;
                if (e > n)
                    e = n;
                json_t *piece = json_stringn(args + at, e - at);
                rc = sse(c, NULL, chat_chunk(c, json_pack("{s:[{s:i,s:{s:o}}]}", "tool_calls",
                                                          "index", 0, "function", "arguments",
                                                          piece),
                                             NULL, inc_usage));
                at = e;
            }
        } else {
            rc = rc ? rc : sse(c, NULL, chat_chunk(c, json_pack("{s:s,s:s,s:n}", "role",
                                                                "assistant", "content", "",
                                                                "refusal"),
                                                      NULL, inc_usage));
            size_t n = strlen(text);
            for (size_t at = 0; at < n && !rc;) {
                size_t e = next_piece(text, at, n);
                rc = sse(c, NULL, chat_chunk(c, json_pack("{s:s%}", "content", text + at,
                                                          e - at),
                                             NULL, inc_usage));
                at = e;
            }
        }
        rc = rc ? rc : sse(c, NULL, chat_chunk(c, json_object(), finish, inc_usage));
        if (inc_usage && !rc) {
            json_t *last = chat_chunk(c, json_object(), NULL, false);
            if (last) {
                json_object_set_new(last, "choices", json_array());
                json_object_set_new(last, "usage", usage);
                usage = NULL;
            }
            rc = sse(c, NULL, last);
        }
        rc = rc ? rc : sse_raw(c, "data: [DONE]\n\n");
    }
    json_decref(usage);
    return rc;
}

/* ------------------------------------------------ anthropic messages */

static int check_messages(ctx *c)
{
    if (!json_is_array(json_object_get(c->req, "messages")) ||
        json_array_size(json_object_get(c->req, "messages")) == 0)
        return error_plan(c, 400, "invalid_request_error", NULL,
                          "messages: field required (a non-empty array)") ? LG_ENOMEM : 1;
    read_messages(c);
    return 0;
}

static int plan_messages(ctx *c)
{
    lg_sim_plan *p = c->p;
    bool stream = json_is_true(json_object_get(c->req, "stream"));
    bool tool = c->tool;
    char id[48], tool_id[48];
    snprintf(id, sizeof id, "msg_sim%s", c->hex);
    snprintf(tool_id, sizeof tool_id, "toolu_%016llx",
             (unsigned long long)lg_pcg32_mix(c->hash, c->tool_results));
    char *text = NULL;
    const char *args = c->args;
    json_t *input = NULL;
    if (tool) {
        input = json_loads(args, JSON_DECODE_ANY, NULL);
        if (!json_is_object(input)) {
            json_decref(input);
            input = json_object(); /* a model's broken arguments: sent as {} */
        }
        lg_buf b = LG_BUF_INIT;
        if (!input || lg_buf_appendf(&b, "I will call %s.", c->call_name)) {
            json_decref(input);
            lg_buf_release(&b);
            return LG_ENOMEM;
        }
        text = lg_buf_take(&b, NULL);
        p->out_tokens = out_tokens(c, tokens_of(strlen(text)) + 5 + tokens_of(strlen(args)));
    } else {
        if (!(text = strdup(c->text)))
            return LG_ENOMEM;
        p->out_tokens = out_tokens(c, tokens_of(strlen(text)));
    }
    p->in_tokens = tokens_of(c->canon_len);
    p->tool_call = tool;
    p->status = 200;
    const char *stop = tool ? "tool_use" : "end_turn";
    int rc;
    if (!stream) {
        json_t *content = json_pack("[{s:s,s:s}]", "type", "text", "text", text);
        if (tool && content)
            json_array_append_new(content, json_pack("{s:s,s:s,s:s,s:O}", "type", "tool_use",
                                                     "id", tool_id, "name", c->call_name,
                                                     "input", input));
        rc = common_headers(c, "application/json");
        rc = rc ? rc : put_json(c, json_pack("{s:s,s:s,s:s,s:s,s:o,s:s,s:n,s:{s:I,s:I,s:i,s:i}}",
                                             "id", id, "type", "message", "role", "assistant",
                                             "model", c->model, "content", content,
                                             "stop_reason", stop, "stop_sequence", "usage",
                                             "input_tokens", (json_int_t)p->in_tokens,
                                             "output_tokens", (json_int_t)p->out_tokens,
                                             "cache_creation_input_tokens", 0,
                                             "cache_read_input_tokens", 0));
    } else {
        p->stream = true;
        rc = common_headers(c, "text/event-stream; charset=utf-8");
        rc = rc ? rc : add_header(c, "Cache-Control", "no-cache");
        rc = rc ? rc : sse(c, "message_start",
                           json_pack("{s:s,s:{s:s,s:s,s:s,s:s,s:[],s:n,s:n,s:{s:I,s:i,s:i,s:i}}}",
                                     "type", "message_start", "message", "id", id, "type",
                                     "message", "role", "assistant", "model", c->model,
                                     "content", "stop_reason", "stop_sequence", "usage",
                                     "input_tokens", (json_int_t)p->in_tokens, "output_tokens",
                                     1, "cache_creation_input_tokens", 0,
                                     "cache_read_input_tokens", 0));
        rc = rc ? rc : sse(c, "content_block_start",
                           json_pack("{s:s,s:i,s:{s:s,s:s}}", "type", "content_block_start",
                                     "index", 0, "content_block", "type", "text", "text", ""));
        rc = rc ? rc : sse(c, "ping", json_pack("{s:s}", "type", "ping"));
        size_t n = strlen(text);
        for (size_t at = 0; at < n && !rc;) {
            size_t e = next_piece(text, at, n);
            rc = sse(c, "content_block_delta",
                     json_pack("{s:s,s:i,s:{s:s,s:s%}}", "type", "content_block_delta", "index",
                               0, "delta", "type", "text_delta", "text", text + at, e - at));
            at = e;
        }
        rc = rc ? rc : sse(c, "content_block_stop",
                           json_pack("{s:s,s:i}", "type", "content_block_stop", "index", 0));
        if (tool) {
            rc = rc ? rc : sse(c, "content_block_start",
                               json_pack("{s:s,s:i,s:{s:s,s:s,s:s,s:{}}}", "type",
                                         "content_block_start", "index", 1, "content_block",
                                         "type", "tool_use", "id", tool_id, "name",
                                         c->call_name, "input"));
            size_t an = strlen(args);
            for (size_t at = 0; at < an && !rc;) {
                size_t e = at + (an + 2) / 3;
                if (e > an)
                    e = an;
                rc = sse(c, "content_block_delta",
                         json_pack("{s:s,s:i,s:{s:s,s:s%}}", "type", "content_block_delta",
                                   "index", 1, "delta", "type", "input_json_delta",
                                   "partial_json", args + at, e - at));
                at = e;
            }
            rc = rc ? rc : sse(c, "content_block_stop",
                               json_pack("{s:s,s:i}", "type", "content_block_stop", "index", 1));
        }
        rc = rc ? rc : sse(c, "message_delta",
                           json_pack("{s:s,s:{s:s,s:n},s:{s:I}}", "type", "message_delta",
                                     "delta", "stop_reason", stop, "stop_sequence", "usage",
                                     "output_tokens", (json_int_t)p->out_tokens));
        rc = rc ? rc : sse(c, "message_stop", json_pack("{s:s}", "type", "message_stop"));
    }
    json_decref(input);
    free(text);
    return rc;
}

/* ------------------------------------------------ responses */

static int check_responses(ctx *c)
{
    const json_t *input = json_object_get(c->req, "input");
    if (!json_is_string(input) && !json_is_array(input))
        return error_plan(c, 400, "invalid_request_error", "missing_input",
                          "'input' must be a string or an array of items") ? LG_ENOMEM : 1;
    if (json_is_true(json_object_get(c->req, "stream")))
        return error_plan(c, 400, "invalid_request_error", "unsupported_value",
                          "the loopgate sim serves /v1/responses without streaming; "
                          "send stream: false") ? LG_ENOMEM : 1;
    read_responses(c);
    return 0;
}

static int plan_responses(ctx *c)
{
    lg_sim_plan *p = c->p;
    bool tool = c->tool;
    unsigned long long mix = (unsigned long long)lg_pcg32_mix(c->hash, c->tool_results);
    char id[48], item_id[48], call_id[48];
    snprintf(id, sizeof id, "resp_sim%s", c->hex);
    snprintf(item_id, sizeof item_id, "%s_%016llx", tool ? "fc" : "msg", mix);
    snprintf(call_id, sizeof call_id, "call_%016llx", mix);
    json_t *output;
    if (tool) {
        p->out_tokens = out_tokens(c, 5 + tokens_of(strlen(c->args)));
        output = json_pack("[{s:s,s:s,s:s,s:s,s:s,s:s}]", "type", "function_call", "id", item_id,
                           "call_id", call_id, "name", c->call_name, "arguments", c->args,
                           "status", "completed");
    } else {
        p->out_tokens = out_tokens(c, tokens_of(strlen(c->text)));
        output = json_pack("[{s:s,s:s,s:s,s:s,s:[{s:s,s:s,s:[]}]}]", "type", "message", "id",
                           item_id, "status", "completed", "role", "assistant", "content", "type",
                           "output_text", "text", c->text, "annotations");
    }
    p->in_tokens = tokens_of(c->canon_len);
    p->tool_call = tool;
    p->status = 200;
    int rc = common_headers(c, "application/json");
    return rc ? rc
              : put_json(c, json_pack("{s:s,s:s,s:I,s:s,s:s,s:n,s:o,s:b,s:{s:I,s:{s:i},s:I,s:{s:i},s:I}}",
                                      "id", id, "object", "response", "created_at",
                                      (json_int_t)c->created, "status", "completed", "model",
                                      c->model, "error", "output", output,
                                      "parallel_tool_calls", 1, "usage", "input_tokens",
                                      (json_int_t)p->in_tokens, "input_tokens_details",
                                      "cached_tokens", 0, "output_tokens",
                                      (json_int_t)p->out_tokens, "output_tokens_details",
                                      "reasoning_tokens", 0, "total_tokens",
                                      (json_int_t)(p->in_tokens + p->out_tokens)));
}

/* ------------------------------------------------ embeddings */

static int base64(const unsigned char *in, size_t n, lg_buf *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        char q[4] = {tab[(v >> 18) & 63], tab[(v >> 12) & 63],
                     i + 1 < n ? tab[(v >> 6) & 63] : '=', i + 2 < n ? tab[v & 63] : '='};
        if (lg_buf_append(out, q, 4))
            return LG_ENOMEM;
    }
    return 0;
}

static json_t *embed_one(const char *text, size_t len, unsigned dims, bool b64)
{
    lg_hash128 h = lg_hash_bytes(text, len);
    lg_pcg32 rng;
    lg_pcg32_srandom(&rng, h.hi, h.lo);
    float *v = malloc(dims * sizeof *v);
    if (!v)
        return NULL;
    double norm = 0;
    for (unsigned i = 0; i < dims; i++) {
        v[i] = (float)(lg_pcg32_double(&rng) * 2.0 - 1.0);
        norm += (double)v[i] * v[i];
    }
    norm = sqrt(norm);
    for (unsigned i = 0; i < dims; i++)
        v[i] = norm > 0 ? (float)(v[i] / norm) : 0.0f;
    json_t *out = NULL;
    if (b64) {
        /* little-endian float32, the layout the SDKs decode */
        unsigned char *raw = malloc(dims * 4u);
        lg_buf b = LG_BUF_INIT;
        if (raw) {
            for (unsigned i = 0; i < dims; i++) {
                uint32_t u;
                memcpy(&u, &v[i], 4);
                raw[4 * i] = (unsigned char)u;
                raw[4 * i + 1] = (unsigned char)(u >> 8);
                raw[4 * i + 2] = (unsigned char)(u >> 16);
                raw[4 * i + 3] = (unsigned char)(u >> 24);
            }
            if (base64(raw, dims * 4u, &b) == 0)
                out = json_stringn(lg_buf_cstr(&b), b.len);
        }
        free(raw);
        lg_buf_release(&b);
    } else {
        out = json_array();
        for (unsigned i = 0; out && i < dims; i++)
            json_array_append_new(out, json_real(v[i]));
    }
    free(v);
    return out;
}

static int plan_embeddings(ctx *c)
{
    lg_sim_plan *p = c->p;
    const json_t *input = json_object_get(c->req, "input");
    json_t *items = json_array();
    if (!items)
        return LG_ENOMEM;
    if (json_is_string(input)) {
        json_array_append(items, (json_t *)input);
    } else if (json_is_array(input) && json_array_size(input) > 0) {
        if (json_is_integer(json_array_get(input, 0)))
            json_array_append(items, (json_t *)input); /* one list of token ids */
        else
            json_array_extend(items, (json_t *)input);
    } else {
        json_decref(items);
        return error_plan(c, 400, "invalid_request_error", "missing_input",
                          "'input' must be a string, an array of strings or of token arrays");
    }
    long long dims = lg_json_int(c->req, "dimensions", c->cfg->embed_dims);
    if (dims < 1 || dims > 4096) {
        json_decref(items);
        return error_plan(c, 400, "invalid_request_error", "invalid_value",
                          "'dimensions' must be between 1 and 4096");
    }
    bool b64 = strcmp(lg_json_str(c->req, "encoding_format", "float"), "base64") == 0;
    json_t *data = json_array();
    int64_t tokens = 0;
    size_t i;
    const json_t *it;
    json_array_foreach(items, i, it) {
        char *s = json_is_string(it) ? strdup(json_string_value(it)) : json_text(it);
        if (!s)
            break;
        tokens += tokens_of(strlen(s));
        json_t *e = embed_one(s, strlen(s), (unsigned)dims, b64);
        free(s);
        if (!e)
            break;
        json_array_append_new(data, json_pack("{s:s,s:I,s:o}", "object", "embedding", "index",
                                              (json_int_t)i, "embedding", e));
    }
    bool ok = json_array_size(data) == json_array_size(items);
    json_decref(items);
    if (!ok) {
        json_decref(data);
        return LG_ENOMEM;
    }
    p->status = 200;
    p->in_tokens = tokens;
    p->out_tokens = 0;
    int rc = common_headers(c, "application/json");
    return rc ? rc
              : put_json(c, json_pack("{s:s,s:o,s:s,s:{s:I,s:I}}", "object", "list", "data",
                                      data, "model", c->model, "usage", "prompt_tokens",
                                      (json_int_t)tokens, "total_tokens", (json_int_t)tokens));
}

static int plan_models(ctx *c)
{
    c->p->status = 200;
    int rc = common_headers(c, "application/json");
    return rc ? rc
              : put_json(c, json_pack("{s:s,s:[{s:s,s:s,s:i,s:s}]}", "object", "list", "data",
                                      "id", DEFAULT_MODEL, "object", "model", "created",
                                      1700000000, "owned_by", "loopgate"));
}

/* ------------------------------------------------ entry point */

static enum api route(const char *path, size_t plen)
{
    static const struct {
        const char *path;
        enum api api;
    } tab[] = {{"/v1/chat/completions", API_CHAT}, {"/v1/responses", API_RESPONSES},
               {"/v1/embeddings", API_EMBEDDINGS}, {"/v1/messages", API_MESSAGES},
               {"/v1/models", API_MODELS}};
    while (plen > 1 && path[plen - 1] == '/')
        plen--;
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (strlen(tab[i].path) == plen && memcmp(tab[i].path, path, plen) == 0)
            return tab[i].api;
    return API_NONE;
}

static int draw_fault(const lg_sim_config *cfg, uint64_t stream, uint64_t occurrence)
{
    lg_pcg32 rng;
    lg_pcg32_srandom(&rng, cfg->seed, lg_pcg32_mix(stream, occurrence));
    double u = lg_pcg32_double(&rng);
    double acc = cfg->p429;
    if (u < acc)
        return LG_SIM_FAULT_429;
    if (u < (acc += cfg->p500))
        return LG_SIM_FAULT_500;
    if (u < (acc += cfg->pcut))
        return LG_SIM_FAULT_CUT;
    if (u < (acc += cfg->pslow))
        return LG_SIM_FAULT_SLOW;
    return LG_SIM_FAULT_NONE;
}

/* A 429 or 500 fault as an error plan (returns 1), else 0 (or LG_ENOMEM). */
static int fault_plan(ctx *c)
{
    lg_sim_plan *out = c->p;
    if (out->fault == LG_SIM_FAULT_SLOW)
        out->delay_ms += c->cfg->slow_ms;
    if (out->fault == LG_SIM_FAULT_429)
        return error_plan(c, 429, c->anthropic ? "rate_limit_error" : "requests",
                          c->anthropic ? NULL : "rate_limit_exceeded",
                          "simulated rate limit (loopgate sim-server --faults)") ? LG_ENOMEM : 1;
    if (out->fault == LG_SIM_FAULT_500)
        return error_plan(c, 500, c->anthropic ? "api_error" : "server_error", NULL,
                          "simulated server error (loopgate sim-server --faults)") ? LG_ENOMEM : 1;
    return 0;
}

int lg_sim_plan_request(const lg_sim_config *cfg, const char *method, const char *path,
                        const char *body, size_t len, uint64_t occurrence, lg_sim_plan *out,
                        lg_err *err)
{
    lg_sim_request rq = {method, path, body, len, occurrence, -1, -1};
    return lg_sim_plan_call(cfg, &rq, out, err);
}

int lg_sim_plan_call(const lg_sim_config *cfg, const lg_sim_request *rq, lg_sim_plan *out,
                     lg_err *err)
{
    ctx c;
    int rc = 0;
    lg_err terr = LG_ERR_INIT;
    const char *method = rq->method, *path = rq->path, *body = rq->body;
    size_t len = rq->len;
    /* with a model, chat, messages and responses draw their faults per
     * (case, trial, turn), known only once the conversation is read */
    bool modeled;

    lg_sim_plan_release(out);
    out->case_index = out->trial = -1;
    memset(&c, 0, sizeof c);
    c.cfg = cfg;
    c.p = out;
    c.case_index = rq->case_index;
    c.trial = rq->trial;
    lg_sim_turn_init(&c.turn_out);
    size_t plen = strcspn(path, "?");
    c.api = route(path, plen);
    c.anthropic = c.api == API_MESSAGES;
    c.hash = lg_sim_request_hash(method, path, body, len);
    snprintf(c.hex, sizeof c.hex, "%016llx", (unsigned long long)c.hash);
    c.created = 1700000000LL + (long long)(c.hash % 100000000ULL);
    c.model = DEFAULT_MODEL;
    out->delay_ms = cfg->latency_ms;
    out->gap_ms = cfg->chunk_gap_ms;
    modeled = cfg->model && (c.api == API_CHAT || c.api == API_MESSAGES || c.api == API_RESPONSES);

    if (c.api == API_NONE) {
        char msg[256];
        snprintf(msg, sizeof msg, "unknown path '%.*s' (the sim serves /v1/chat/completions, "
                 "/v1/responses, /v1/embeddings, /v1/messages, /v1/models)", (int)(plen > 120 ? 120 : plen), path);
        rc = error_plan(&c, 404, "invalid_request_error", "unknown_url", msg);
        goto out;
    }
    bool get = strcmp(method, "GET") == 0;
    if ((c.api == API_MODELS) != get) {
        rc = error_plan(&c, 405, "invalid_request_error", "method_not_allowed",
                        c.api == API_MODELS ? "use GET" : "use POST");
        goto out;
    }
    if (!modeled) {
        out->fault = draw_fault(cfg, c.hash, rq->occurrence);
        if ((rc = fault_plan(&c)))
            goto out;
    }
    if (c.api == API_MODELS) {
        rc = plan_models(&c);
        goto cut;
    }
    lg_err perr = LG_ERR_INIT;
    c.req = len ? lg_json_parse(body, len, "request body", &perr) : NULL;
    if (!json_is_object(c.req)) {
        rc = error_plan(&c, 400, "invalid_request_error", "invalid_json",
                        c.req ? "the request body must be a JSON object"
                        : perr.code ? perr.msg : "the request body is empty; send a JSON object");
        goto out;
    }
    {
        lg_buf cb = LG_BUF_INIT;
        if (lg_json_dump_canonical(c.req, &cb, NULL) == 0)
            c.canon_len = cb.len;
        lg_buf_release(&cb);
    }
    c.model = lg_json_str(c.req, "model", DEFAULT_MODEL);
    if (c.api == API_EMBEDDINGS) {
        rc = plan_embeddings(&c);
        goto cut;
    }
    read_hint(&c);
    switch (c.api) {
    case API_CHAT: rc = check_chat(&c); break;
    case API_MESSAGES: rc = check_messages(&c); break;
    default: rc = check_responses(&c); break;
    }
    if (rc)
        goto out; /* a 400 plan (1) or LG_ENOMEM */
    if ((rc = make_turn(&c, &terr))) {
        if (rc == LG_EINPUT)
            rc = error_plan(&c, 500, c.anthropic ? "api_error" : "server_error", "sim_error",
                            terr.msg);
        goto out;
    }
    if (modeled) {
        /* a retry (a higher occurrence) draws afresh; its content does not */
        uint64_t stream = c.turn_out.case_index >= 0 ? c.turn_out.stream : c.hash;
        out->fault = draw_fault(cfg, stream, rq->occurrence);
        out->delay_ms += c.turn_out.latency_ms;
        if ((rc = fault_plan(&c)))
            goto out;
    }
    switch (c.api) {
    case API_CHAT: rc = plan_chat(&c); break;
    case API_MESSAGES: rc = plan_messages(&c); break;
    default: rc = plan_responses(&c); break;
    }
cut:
    if (rc == 0 && out->fault == LG_SIM_FAULT_CUT && out->status == 200) {
        out->cut = true;
        if (out->stream)
            out->cut_at = out->nchunks > 1 ? out->nchunks / 2 : 0;
        else
            out->cut_at = out->body.len / 2;
    }
out:
    if (rc == 1)
        rc = 0;
    json_decref(c.req);
    free(c.first_user);
    free(c.last_tool);
    free(c.tools);
    free(c.schemas);
    free(c.calls);
    for (size_t i = 0; i < c.nowned; i++)
        free(c.owned[i]);
    free(c.owned);
    free(c.args);
    free(c.text);
    lg_sim_turn_release(&c.turn_out);
    if (rc)
        return LG_ERR(err, LG_ENOMEM, "sim: out of memory planning %s %s", method, path);
    return 0;
}
