/* harness/loop_provider.c - OpenAI chat completions and Anthropic messages
 * for the loop engine; see loop_int.h. */
#include "loop_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/json.h"

#define ANTHROPIC_DEFAULT_MAX_TOKENS 1024

static bool is_anthropic(lg_loop_provider p) { return p == LG_LOOP_ANTHROPIC; }

void lg_turn_init(lg_turn *t)
{
    memset(t, 0, sizeof *t);
    t->in_tokens = t->out_tokens = -1;
}

void lg_turn_release(lg_turn *t)
{
    if (!t)
        return;
    free(t->text);
    for (size_t i = 0; i < t->ncalls; i++) {
        free(t->calls[i].id);
        free(t->calls[i].name);
        free(t->calls[i].args_text);
        json_decref(t->calls[i].args);
    }
    free(t->calls);
    free(t->model);
    free(t->stop);
    lg_turn_init(t);
}

const char *lg_prov_path(lg_loop_provider p)
{
    return is_anthropic(p) ? "/v1/messages" : "/v1/chat/completions";
}

static json_t *final_answer_schema(void)
{
    return json_pack("{s:s,s:{s:{s:s,s:s}},s:[s]}", "type", "object", "properties", "answer",
                     "type", "string", "description", "the final answer", "required", "answer");
}

static const char final_answer_desc[] =
    "Give the final answer. Call this once the task is done; it ends the task.";

json_t *lg_prov_request(const lg_loop_config *cfg, const char *system, const json_t *messages,
                        lg_err *err)
{
    bool ant = is_anthropic(cfg->provider);
    json_t *body = json_object(), *tools = json_array(), *msgs = NULL;
    if (!body || !tools)
        goto oom;
    for (size_t i = 0; i <= cfg->ntools; i++) {
        const char *name = i < cfg->ntools ? cfg->tools[i].name : LG_FINAL_ANSWER;
        const char *desc = i < cfg->ntools ? cfg->tools[i].description : final_answer_desc;
        json_t *schema = i < cfg->ntools ? json_incref(cfg->tools[i].parameters)
                                         : final_answer_schema();
        json_t *t = ant ? json_pack("{s:s,s:s,s:o}", "name", name, "description", desc,
                                    "input_schema", schema)
                        : json_pack("{s:s,s:{s:s,s:s,s:o}}", "type", "function", "function",
                                    "name", name, "description", desc, "parameters", schema);
        if (!t || json_array_append_new(tools, t))
            goto oom;
    }
    if (ant) {
        msgs = json_deep_copy(messages);
        if (!msgs)
            goto oom;
        if (system && json_object_set_new(body, "system", json_string(system)))
            goto oom;
        if (json_object_set_new(body, "max_tokens",
                                json_integer(cfg->max_tokens ? cfg->max_tokens
                                                             : ANTHROPIC_DEFAULT_MAX_TOKENS)))
            goto oom;
    } else {
        msgs = json_array();
        if (!msgs)
            goto oom;
        if (system && json_array_append_new(msgs, json_pack("{s:s,s:s}", "role", "system",
                                                            "content", system)))
            goto oom;
        if (json_array_extend(msgs, (json_t *)messages))
            goto oom;
        if (cfg->max_tokens &&
            json_object_set_new(body, "max_tokens", json_integer(cfg->max_tokens)))
            goto oom;
    }
    if (json_object_set_new(body, "model", json_string(cfg->model)) ||
        json_object_set_new(body, "messages", msgs))
        goto oom;
    msgs = NULL;
    if (json_object_set_new(body, "tools", tools))
        goto oom;
    tools = NULL;
    if (cfg->has_temperature &&
        json_object_set_new(body, "temperature", json_real(cfg->temperature)))
        goto oom;
    if (cfg->stream) {
        if (json_object_set_new(body, "stream", json_true()))
            goto oom;
        if (!ant && json_object_set_new(body, "stream_options",
                                        json_pack("{s:b}", "include_usage", 1)))
            goto oom;
    }
    return body;
oom:
    json_decref(body);
    json_decref(tools);
    json_decref(msgs);
    LG_ERR(err, LG_ENOMEM, "out of memory building a model request");
    return NULL;
}

/* ---- replies ---- */

static int add_call(lg_turn *t, const char *id, const char *name, const char *args_text,
                    size_t args_len)
{
    lg_tcall *nc = realloc(t->calls, (t->ncalls + 1) * sizeof *nc);
    if (!nc)
        return -1;
    t->calls = nc;
    lg_tcall *c = &t->calls[t->ncalls];
    memset(c, 0, sizeof *c);
    c->id = strdup(id ? id : "");
    c->name = strdup(name ? name : "");
    c->args_text = strndup(args_text ? args_text : "", args_text ? args_len : 0);
    t->ncalls++;
    if (!c->id || !c->name || !c->args_text)
        return -1;
    if (c->args_text[0])
        c->args = json_loads(c->args_text, JSON_DECODE_ANY, NULL);
    else
        c->args = json_object(); /* no arguments at all: {} */
    return 0;
}

static int set_str(char **dst, const char *s)
{
    if (!s)
        return 0;
    free(*dst);
    *dst = strdup(s);
    return *dst ? 0 : -1;
}

static int parse_openai(const json_t *j, lg_turn *out)
{
    const json_t *msg = json_object_get(json_array_get(json_object_get(j, "choices"), 0), "message");
    const json_t *usage = json_object_get(j, "usage");
    if (!json_is_object(msg))
        return 1;
    if (set_str(&out->text, lg_json_str(msg, "content", NULL)) ||
        set_str(&out->model, lg_json_str(j, "model", NULL)) ||
        set_str(&out->stop, lg_json_str(json_array_get(json_object_get(j, "choices"), 0),
                                         "finish_reason", NULL)))
        return -1;
    size_t i;
    const json_t *tc;
    json_array_foreach(json_object_get(msg, "tool_calls"), i, tc) {
        const json_t *fn = json_object_get(tc, "function");
        const char *args = lg_json_str(fn, "arguments", "");
        if (add_call(out, lg_json_str(tc, "id", ""), lg_json_str(fn, "name", ""), args,
                     strlen(args)))
            return -1;
    }
    if (json_is_object(usage)) {
        out->in_tokens = lg_json_int(usage, "prompt_tokens", -1);
        out->out_tokens = lg_json_int(usage, "completion_tokens", -1);
    }
    return 0;
}

static int parse_anthropic(const json_t *j, lg_turn *out)
{
    const json_t *content = json_object_get(j, "content");
    const json_t *usage = json_object_get(j, "usage");
    if (!json_is_array(content))
        return 1;
    lg_buf text = LG_BUF_INIT;
    size_t i;
    const json_t *b;
    int rc = 0;
    json_array_foreach(content, i, b) {
        const char *type = lg_json_str(b, "type", "");
        if (strcmp(type, "text") == 0) {
            if (lg_buf_append_str(&text, lg_json_str(b, "text", "")))
                rc = -1;
        } else if (strcmp(type, "tool_use") == 0) {
            lg_buf args = LG_BUF_INIT;
            const json_t *in = json_object_get(b, "input");
            if ((in ? lg_json_dump_canonical(in, &args, NULL) : lg_buf_append_str(&args, "{}")) ||
                add_call(out, lg_json_str(b, "id", ""), lg_json_str(b, "name", ""), args.data,
                         args.len))
                rc = -1;
            lg_buf_release(&args);
        }
    }
    if (!rc && text.len && set_str(&out->text, text.data))
        rc = -1;
    lg_buf_release(&text);
    if (rc || set_str(&out->model, lg_json_str(j, "model", NULL)) ||
        set_str(&out->stop, lg_json_str(j, "stop_reason", NULL)))
        return -1;
    if (json_is_object(usage)) {
        out->in_tokens = lg_json_int(usage, "input_tokens", -1);
        out->out_tokens = lg_json_int(usage, "output_tokens", -1);
    }
    return 0;
}

int lg_prov_parse(lg_loop_provider p, const char *body, size_t len, lg_turn *out, lg_err *err)
{
    json_t *j = json_loadb(body, len, 0, NULL);
    int rc;
    lg_turn_release(out);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        return LG_ERR(err, LG_EINPUT, "the model's reply is not a JSON object (%zu bytes)", len);
    }
    rc = is_anthropic(p) ? parse_anthropic(j, out) : parse_openai(j, out);
    json_decref(j);
    if (rc < 0)
        return LG_ERR(err, LG_ENOMEM, "out of memory reading the model's reply");
    if (rc > 0)
        return LG_ERR(err, LG_EINPUT, "the model's reply has no %s",
                      is_anthropic(p) ? "'content' list" : "'choices[0].message'");
    return 0;
}

/* ---- streams ---- */

typedef struct sblock {
    bool tool;
    lg_buf text;   /* text, or a tool's argument JSON as it arrives */
    char *id, *name;
} sblock;

struct lg_prov_stream {
    lg_loop_provider p;
    bool done, error, oom;
    lg_buf text;
    sblock *blocks; /* OpenAI: tool calls by index; Anthropic: content blocks by index */
    size_t nblocks;
    lg_turn meta;   /* usage, model, stop */
    char errmsg[256];
};

lg_prov_stream *lg_prov_stream_new(lg_loop_provider p)
{
    lg_prov_stream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->p = p;
    lg_buf_init(&s->text);
    lg_turn_init(&s->meta);
    return s;
}

void lg_prov_stream_free(lg_prov_stream *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nblocks; i++) {
        lg_buf_release(&s->blocks[i].text);
        free(s->blocks[i].id);
        free(s->blocks[i].name);
    }
    free(s->blocks);
    lg_buf_release(&s->text);
    lg_turn_release(&s->meta);
    free(s);
}

static sblock *block_at(lg_prov_stream *s, long long index)
{
    if (index < 0 || index > 4096)
        return NULL;
    if ((size_t)index >= s->nblocks) {
        sblock *nb = realloc(s->blocks, ((size_t)index + 1) * sizeof *nb);
        if (!nb) {
            s->oom = true;
            return NULL;
        }
        for (size_t i = s->nblocks; i <= (size_t)index; i++) {
            memset(&nb[i], 0, sizeof nb[i]);
            lg_buf_init(&nb[i].text);
        }
        s->blocks = nb;
        s->nblocks = (size_t)index + 1;
    }
    return &s->blocks[index];
}

static void openai_event(lg_prov_stream *s, const json_t *j)
{
    const json_t *ch = json_array_get(json_object_get(j, "choices"), 0);
    const json_t *delta = json_object_get(ch, "delta"), *usage = json_object_get(j, "usage");
    const char *v;
    if (json_is_object(json_object_get(j, "error"))) {
        s->error = true;
        snprintf(s->errmsg, sizeof s->errmsg, "%s",
                 lg_json_str(json_object_get(j, "error"), "message", "error event"));
        return;
    }
    if (set_str(&s->meta.model, lg_json_str(j, "model", NULL)))
        s->oom = true;
    if ((v = lg_json_str(ch, "finish_reason", NULL)) && set_str(&s->meta.stop, v))
        s->oom = true;
    if ((v = lg_json_str(delta, "content", NULL)) && lg_buf_append_str(&s->text, v))
        s->oom = true;
    size_t i;
    const json_t *tc;
    json_array_foreach(json_object_get(delta, "tool_calls"), i, tc) {
        sblock *b = block_at(s, lg_json_int(tc, "index", (long long)i));
        const json_t *fn = json_object_get(tc, "function");
        if (!b)
            continue;
        b->tool = true;
        if ((v = lg_json_str(tc, "id", NULL)) && !b->id && set_str(&b->id, v))
            s->oom = true;
        if ((v = lg_json_str(fn, "name", NULL)) && !b->name && set_str(&b->name, v))
            s->oom = true;
        if ((v = lg_json_str(fn, "arguments", NULL)) && lg_buf_append_str(&b->text, v))
            s->oom = true;
    }
    if (json_is_object(usage)) {
        s->meta.in_tokens = lg_json_int(usage, "prompt_tokens", -1);
        s->meta.out_tokens = lg_json_int(usage, "completion_tokens", -1);
    }
}

static void anthropic_event(lg_prov_stream *s, const char *type, const json_t *j)
{
    if (strcmp(type, "message_start") == 0) {
        const json_t *m = json_object_get(j, "message");
        if (set_str(&s->meta.model, lg_json_str(m, "model", NULL)))
            s->oom = true;
        s->meta.in_tokens = lg_json_int(json_object_get(m, "usage"), "input_tokens", -1);
    } else if (strcmp(type, "content_block_start") == 0) {
        const json_t *cb = json_object_get(j, "content_block");
        sblock *b = block_at(s, lg_json_int(j, "index", 0));
        if (!b)
            return;
        b->tool = strcmp(lg_json_str(cb, "type", ""), "tool_use") == 0;
        if (b->tool && (set_str(&b->id, lg_json_str(cb, "id", "")) ||
                        set_str(&b->name, lg_json_str(cb, "name", ""))))
            s->oom = true;
        if (!b->tool && lg_buf_append_str(&b->text, lg_json_str(cb, "text", "")))
            s->oom = true;
    } else if (strcmp(type, "content_block_delta") == 0) {
        const json_t *d = json_object_get(j, "delta");
        sblock *b = block_at(s, lg_json_int(j, "index", 0));
        const char *dt = lg_json_str(d, "type", "");
        if (!b)
            return;
        if (strcmp(dt, "text_delta") == 0 && lg_buf_append_str(&b->text, lg_json_str(d, "text", "")))
            s->oom = true;
        if (strcmp(dt, "input_json_delta") == 0 &&
            lg_buf_append_str(&b->text, lg_json_str(d, "partial_json", "")))
            s->oom = true;
    } else if (strcmp(type, "message_delta") == 0) {
        const char *stop = lg_json_str(json_object_get(j, "delta"), "stop_reason", NULL);
        if (stop && set_str(&s->meta.stop, stop))
            s->oom = true;
        long long out = lg_json_int(json_object_get(j, "usage"), "output_tokens", -1);
        if (out >= 0)
            s->meta.out_tokens = out;
    } else if (strcmp(type, "message_stop") == 0) {
        s->done = true;
    } else if (strcmp(type, "error") == 0) {
        s->error = true;
        snprintf(s->errmsg, sizeof s->errmsg, "%s",
                 lg_json_str(json_object_get(j, "error"), "message", "error event"));
    }
}

int lg_prov_stream_event(lg_prov_stream *s, const lg_sse_event *ev)
{
    if (!ev->dispatch || ev->truncated)
        return 0;
    if (!is_anthropic(s->p) && strcmp(ev->data, "[DONE]") == 0) {
        s->done = true;
        return 0;
    }
    json_t *j = json_loadb(ev->data, ev->data_len, 0, NULL);
    if (!j)
        return 0;
    if (is_anthropic(s->p))
        anthropic_event(s, ev->event[0] ? ev->event : lg_json_str(j, "type", ""), j);
    else
        openai_event(s, j);
    json_decref(j);
    return s->oom ? -1 : 0;
}

int lg_prov_stream_finish(lg_prov_stream *s, lg_turn *out, lg_err *err)
{
    lg_turn_release(out);
    if (s->oom)
        return LG_ERR(err, LG_ENOMEM, "out of memory reading the model's stream");
    if (s->error)
        return LG_ERR(err, LG_EINPUT, "the model's stream carried an error: %s", s->errmsg);
    if (!s->done)
        return LG_ERR(err, LG_EINPUT, "the model's stream ended before its end marker (%s)",
                      is_anthropic(s->p) ? "message_stop" : "data: [DONE]");
    lg_buf text = LG_BUF_INIT;
    int rc = 0;
    if (!is_anthropic(s->p) && s->text.len && lg_buf_append(&text, s->text.data, s->text.len))
        rc = -1;
    for (size_t i = 0; !rc && i < s->nblocks; i++) {
        sblock *b = &s->blocks[i];
        if (b->tool)
            rc = add_call(out, b->id, b->name, b->text.data, b->text.len);
        else if (b->text.len)
            rc = lg_buf_append(&text, b->text.data, b->text.len);
    }
    if (!rc && text.len)
        rc = set_str(&out->text, text.data);
    lg_buf_release(&text);
    if (!rc && (set_str(&out->model, s->meta.model) || set_str(&out->stop, s->meta.stop)))
        rc = -1;
    out->in_tokens = s->meta.in_tokens;
    out->out_tokens = s->meta.out_tokens;
    if (rc)
        return LG_ERR(err, LG_ENOMEM, "out of memory reading the model's stream");
    return 0;
}

/* ---- the conversation ---- */

int lg_prov_add_user(lg_loop_provider p, json_t *messages, const char *text)
{
    json_t *m = is_anthropic(p)
                    ? json_pack("{s:s,s:[{s:s,s:s}]}", "role", "user", "content", "type", "text",
                                "text", text)
                    : json_pack("{s:s,s:s}", "role", "user", "content", text);
    return m && json_array_append_new(messages, m) == 0 ? 0 : LG_ENOMEM;
}

int lg_prov_add_assistant(lg_loop_provider p, json_t *messages, const lg_turn *turn)
{
    json_t *m = NULL, *calls = json_array();
    if (!calls)
        return LG_ENOMEM;
    if (is_anthropic(p)) {
        if (turn->text && json_array_append_new(calls, json_pack("{s:s,s:s}", "type", "text",
                                                                 "text", turn->text)))
            goto oom;
        for (size_t i = 0; i < turn->ncalls; i++) {
            const lg_tcall *c = &turn->calls[i];
            json_t *input = json_is_object(c->args) ? json_incref(c->args) : json_object();
            if (json_array_append_new(calls, json_pack("{s:s,s:s,s:s,s:o}", "type", "tool_use",
                                                       "id", c->id, "name", c->name, "input",
                                                       input)))
                goto oom;
        }
        m = json_pack("{s:s,s:o}", "role", "assistant", "content", calls);
    } else {
        for (size_t i = 0; i < turn->ncalls; i++) {
            const lg_tcall *c = &turn->calls[i];
            if (json_array_append_new(calls, json_pack("{s:s,s:s,s:{s:s,s:s}}", "id", c->id,
                                                       "type", "function", "function", "name",
                                                       c->name, "arguments", c->args_text)))
                goto oom;
        }
        m = json_pack("{s:s,s:o}", "role", "assistant", "content",
                      turn->text ? json_string(turn->text) : json_null());
        if (m && turn->ncalls && json_object_set(m, "tool_calls", calls))
            goto oom;
        json_decref(calls);
    }
    calls = NULL;
    if (!m || json_array_append_new(messages, m))
        return LG_ENOMEM;
    return 0;
oom:
    json_decref(calls);
    json_decref(m);
    return LG_ENOMEM;
}

int lg_prov_add_results(lg_loop_provider p, json_t *messages, const lg_turn *turn,
                        char *const *results, const bool *is_error, const char *user_text)
{
    if (is_anthropic(p)) {
        json_t *content = json_array();
        if (!content)
            return LG_ENOMEM;
        for (size_t i = 0; i < turn->ncalls; i++) {
            json_t *b = json_pack("{s:s,s:s,s:s}", "type", "tool_result", "tool_use_id",
                                  turn->calls[i].id, "content", results[i] ? results[i] : "");
            if (b && is_error && is_error[i])
                json_object_set_new(b, "is_error", json_true());
            if (!b || json_array_append_new(content, b)) {
                json_decref(content);
                return LG_ENOMEM;
            }
        }
        if (user_text && json_array_append_new(content, json_pack("{s:s,s:s}", "type", "text",
                                                                  "text", user_text))) {
            json_decref(content);
            return LG_ENOMEM;
        }
        json_t *m = json_pack("{s:s,s:o}", "role", "user", "content", content);
        return m && json_array_append_new(messages, m) == 0 ? 0 : LG_ENOMEM;
    }
    for (size_t i = 0; i < turn->ncalls; i++) {
        json_t *m = json_pack("{s:s,s:s,s:s}", "role", "tool", "tool_call_id", turn->calls[i].id,
                              "content", results[i] ? results[i] : "");
        if (!m || json_array_append_new(messages, m))
            return LG_ENOMEM;
    }
    return user_text ? lg_prov_add_user(p, messages, user_text) : 0;
}
