/* tests/test_sim.c - harness/sim.c (the pure planner) and harness/sim_server.c (over HTTP). */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "harness/sim.h"
#include "harness/sim_server.h"

static const char chat_tools[] =
    "{\"model\":\"gpt-test\",\"messages\":[{\"role\":\"user\",\"content\":\"Weather in Paris?\"}],"
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"parameters\":"
    "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"},\"days\":{\"type\":"
    "\"integer\"},\"unit\":{\"type\":\"string\",\"enum\":[\"c\",\"f\"]}}}}},"
    "{\"type\":\"function\",\"function\":{\"name\":\"other\"}}]%s}";

static void plan(const lg_sim_config *cfg, const char *path, const char *body, uint64_t occ,
                 lg_sim_plan *p)
{
    lg_err err = LG_ERR_INIT;
    cr_assert_eq(lg_sim_plan_request(cfg, "POST", path, body, strlen(body), occ, p, &err), 0,
                 "%s", err.msg);
}

static json_t *body_json(const lg_sim_plan *p)
{
    json_error_t je;
    json_t *j = json_loadb(p->body.data, p->body.len, 0, &je);
    cr_assert_not_null(j, "body is not JSON: %s: %s", je.text, lg_buf_cstr(&p->body));
    return j;
}

/* chat body with the tool messages of `turns` completed tool calls appended */
static void chat_body(lg_buf *b, int turns, const char *extra)
{
    lg_buf msgs = LG_BUF_INIT;
    for (int i = 0; i < turns; i++)
        cr_assert_eq(lg_buf_appendf(&msgs,
                                    ",{\"role\":\"assistant\",\"content\":null,\"tool_calls\":"
                                    "[{\"id\":\"c%d\",\"type\":\"function\",\"function\":{\"name\":"
                                    "\"get_weather\",\"arguments\":\"{}\"}}]},{\"role\":\"tool\","
                                    "\"tool_call_id\":\"c%d\",\"content\":\"sunny %d\"}",
                                    i, i, i),
                     0);
    lg_buf_reset(b);
    /* splice the extra messages into the messages array */
    char tail[512];
    snprintf(tail, sizeof tail, "%s", extra);
    cr_assert_eq(lg_buf_appendf(b,
                                "{\"model\":\"gpt-test\",\"messages\":[{\"role\":\"user\",\"content\":"
                                "\"Weather in Paris?\"}%s],\"tools\":[{\"type\":\"function\","
                                "\"function\":{\"name\":\"get_weather\",\"parameters\":{\"type\":"
                                "\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}}}]%s}",
                                lg_buf_cstr(&msgs), tail),
                 0);
    lg_buf_release(&msgs);
}

Test(sim, chat_asks_for_first_tool_with_derived_arguments)
{
    lg_sim_config cfg;
    lg_sim_plan p;
    char body[2048];
    lg_sim_config_init(&cfg);
    lg_sim_plan_init(&p);
    snprintf(body, sizeof body, chat_tools, "");
    plan(&cfg, "/v1/chat/completions", body, 0, &p);
    cr_expect_eq(p.status, 200);
    cr_expect(p.tool_call);
    cr_expect(!p.stream);
    json_t *j = body_json(&p);
    json_t *choice = json_array_get(json_object_get(j, "choices"), 0);
    cr_expect_str_eq(json_string_value(json_object_get(choice, "finish_reason")), "tool_calls");
    json_t *call = json_array_get(json_object_get(json_object_get(choice, "message"), "tool_calls"), 0);
    json_t *fn = json_object_get(call, "function");
    cr_expect_str_eq(json_string_value(json_object_get(fn, "name")), "get_weather");
    json_t *args = json_loads(json_string_value(json_object_get(fn, "arguments")), 0, NULL);
    cr_assert_not_null(args);
    cr_expect_str_eq(json_string_value(json_object_get(args, "city")), "Weather in Paris?");
    cr_expect_eq(json_integer_value(json_object_get(args, "days")), 17);
    cr_expect_str_eq(json_string_value(json_object_get(args, "unit")), "c");
    cr_expect(strncmp(json_string_value(json_object_get(call, "id")), "call_", 5) == 0);
    json_t *usage = json_object_get(j, "usage");
    cr_expect_eq(json_integer_value(json_object_get(usage, "prompt_tokens")), p.in_tokens);
    cr_expect_eq(json_integer_value(json_object_get(usage, "completion_tokens")), p.out_tokens);
    cr_expect_gt(p.in_tokens, 10);
    cr_expect(lg_http_headers_get(&p.headers, "x-request-id"));
    cr_expect_str_eq(lg_http_headers_get(&p.headers, "content-type"), "application/json");
    json_decref(args);
    json_decref(j);
    lg_sim_plan_release(&p);
}

Test(sim, answers_after_tool_turns_and_answer_depends_on_request)
{
    lg_sim_config cfg;
    lg_sim_plan p, q;
    lg_buf b = LG_BUF_INIT;
    lg_sim_config_init(&cfg);
    lg_sim_plan_init(&p);
    lg_sim_plan_init(&q);
    chat_body(&b, 1, "");
    plan(&cfg, "/v1/chat/completions", b.data, 0, &p);
    cr_expect(p.tool_call, "one tool result of two: still asking");
    json_t *j = body_json(&p);
    const char *args = json_string_value(json_object_get(json_object_get(json_array_get(
        json_object_get(json_object_get(json_array_get(json_object_get(j, "choices"), 0), "message"),
                        "tool_calls"), 0), "function"), "arguments"));
    cr_expect(strstr(args, "(step 2)"), "%s", args);
    json_decref(j);

    chat_body(&b, 2, "");
    plan(&cfg, "/v1/chat/completions", b.data, 0, &p);
    cr_expect(!p.tool_call);
    j = body_json(&p);
    json_t *choice = json_array_get(json_object_get(j, "choices"), 0);
    const char *text = json_string_value(json_object_get(json_object_get(choice, "message"), "content"));
    cr_assert_not_null(text);
    cr_expect(strstr(text, "after 2 tool results") && strstr(text, "sunny 1"), "%s", text);
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx",
             (unsigned long long)lg_sim_request_hash("POST", "/v1/chat/completions", b.data, b.len));
    cr_expect(strstr(text, (char[9]){hex[0], hex[1], hex[2], hex[3], hex[4], hex[5], hex[6], hex[7], 0}),
              "answer must name the request hash %s: %s", hex, text);
    cr_expect_str_eq(json_string_value(json_object_get(choice, "finish_reason")), "stop");

    /* same request: byte-identical plan; a changed request: a changed answer */
    plan(&cfg, "/v1/chat/completions", b.data, 0, &q);
    cr_expect_eq(p.body.len, q.body.len);
    cr_expect(memcmp(p.body.data, q.body.data, p.body.len) == 0);
    chat_body(&b, 2, ",\"temperature\":0.5");
    plan(&cfg, "/v1/chat/completions", b.data, 0, &q);
    json_t *k = body_json(&q);
    const char *text2 = json_string_value(json_object_get(json_object_get(
        json_array_get(json_object_get(k, "choices"), 0), "message"), "content"));
    cr_expect_str_neq(text, text2);
    json_decref(k);
    json_decref(j);

    /* tool_turns 0: answers at once; tool_choice none: no tool */
    cfg.tool_turns = 0;
    chat_body(&b, 0, "");
    plan(&cfg, "/v1/chat/completions", b.data, 0, &p);
    cr_expect(!p.tool_call);
    cfg.tool_turns = 2;
    chat_body(&b, 0, ",\"tool_choice\":\"none\"");
    plan(&cfg, "/v1/chat/completions", b.data, 0, &p);
    cr_expect(!p.tool_call);
    lg_buf_release(&b);
    lg_sim_plan_release(&p);
    lg_sim_plan_release(&q);
}

Test(sim, hash_ignores_key_order_and_query)
{
    const char *x = "{\"a\":1,\"b\":[1,2]}", *y = "{ \"b\":[1,2], \"a\":1 }",
               *z = "{\"a\":2,\"b\":[1,2]}";
    uint64_t a = lg_sim_request_hash("POST", "/v1/x", x, strlen(x));
    uint64_t b = lg_sim_request_hash("POST", "/v1/x?beta=true", y, strlen(y));
    uint64_t c = lg_sim_request_hash("POST", "/v1/x", z, strlen(z));
    cr_expect_eq(a, b);
    cr_expect_neq(a, c);
}

/* Splits the stream into its chunks and checks the framing. */
static size_t check_chunks(const lg_sim_plan *p, json_t **events, size_t max)
{
    size_t start = 0, n = 0;
    cr_assert(p->stream);
    cr_assert_gt(p->nchunks, 2u);
    cr_expect_eq(p->chunk_end[p->nchunks - 1], p->body.len);
    for (size_t i = 0; i < p->nchunks; i++) {
        const char *c = p->body.data + start;
        size_t len = p->chunk_end[i] - start;
        cr_assert_gt(len, 2u);
        cr_expect(c[len - 1] == '\n' && c[len - 2] == '\n', "chunk %zu not terminated", i);
        const char *data = strstr(c, "data: ");
        cr_assert(data && data < c + len, "chunk %zu has no data line", i);
        if (strncmp(data + 6, "[DONE]", 6) != 0 && n < max) {
            events[n] = json_loadb(data + 6, (size_t)(c + len - data - 6), 0, NULL);
            cr_assert_not_null(events[n], "chunk %zu: bad JSON", i);
            n++;
        }
        start = p->chunk_end[i];
    }
    return n;
}

Test(sim, chat_stream_framing_and_final_usage_chunk)
{
    lg_sim_config cfg;
    lg_sim_plan p;
    lg_buf b = LG_BUF_INIT;
    json_t *ev[64];
    lg_sim_config_init(&cfg);
    lg_sim_plan_init(&p);
    chat_body(&b, 2, ",\"stream\":true,\"stream_options\":{\"include_usage\":true}");
    plan(&cfg, "/v1/chat/completions", b.data, 0, &p);
    cr_expect_str_eq(lg_http_headers_get(&p.headers, "content-type"), "text/event-stream; charset=utf-8");
    size_t n = check_chunks(&p, ev, 64);
    const char *last = p.body.data + p.chunk_end[p.nchunks - 2];
    cr_expect_str_eq(last, "data: [DONE]\n\n");
    lg_buf text = LG_BUF_INIT;
    for (size_t i = 0; i + 1 < n; i++) {
        json_t *delta = json_object_get(json_array_get(json_object_get(ev[i], "choices"), 0), "delta");
        const char *t = json_string_value(json_object_get(delta, "content"));
        if (t)
            cr_assert_eq(lg_buf_append_str(&text, t), 0);
        cr_expect(json_is_null(json_object_get(ev[i], "usage")));
    }
    cr_expect(strstr(lg_buf_cstr(&text), "after 2 tool results"), "%s", lg_buf_cstr(&text));
    json_t *u = json_object_get(ev[n - 1], "usage");
    cr_expect_eq(json_array_size(json_object_get(ev[n - 1], "choices")), 0u);
    cr_expect_eq(json_integer_value(json_object_get(u, "completion_tokens")), p.out_tokens);
    cr_expect_eq(json_integer_value(json_object_get(u, "prompt_tokens")), p.in_tokens);
    for (size_t i = 0; i < n; i++)
        json_decref(ev[i]);

    /* without include_usage there is no usage chunk */
    chat_body(&b, 0, ",\"stream\":true");
    plan(&cfg, "/v1/chat/completions", b.data, 0, &p);
    n = check_chunks(&p, ev, 64);
    cr_expect(!strstr(p.body.data, "\"usage\""));
    json_t *tc = json_array_get(json_object_get(json_object_get(json_array_get(
        json_object_get(ev[0], "choices"), 0), "delta"), "tool_calls"), 0);
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(tc, "function"), "name")),
                     "get_weather");
    for (size_t i = 0; i < n; i++)
        json_decref(ev[i]);
    lg_buf_release(&text);
    lg_buf_release(&b);
    lg_sim_plan_release(&p);
}

static const char anth_first[] =
    "{\"model\":\"claude-test\",\"max_tokens\":256,%s\"messages\":[{\"role\":\"user\",\"content\":"
    "\"Find order 42\"}%s],\"tools\":[{\"name\":\"lookup\",\"description\":\"d\",\"input_schema\":"
    "{\"type\":\"object\",\"properties\":{\"order\":{\"type\":\"integer\"},\"q\":{\"type\":\"string\"}}}}]}";
static const char anth_turn[] =
    ",{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"t%d\",\"name\":\"lookup\","
    "\"input\":{}}]},{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":"
    "\"t%d\",\"content\":\"order %d shipped\"}]}";

static void anth_body(char *out, size_t cap, int turns, bool stream)
{
    char turns_s[1024] = "";
    for (int i = 0; i < turns; i++) {
        char t[256];
        snprintf(t, sizeof t, anth_turn, i, i, i);
        strncat(turns_s, t, sizeof turns_s - strlen(turns_s) - 1);
    }
    snprintf(out, cap, anth_first, stream ? "\"stream\":true," : "", turns_s);
}

Test(sim, anthropic_messages_tool_use_and_stream_events)
{
    lg_sim_config cfg;
    lg_sim_plan p;
    char body[4096];
    json_t *ev[64];
    lg_sim_config_init(&cfg);
    lg_sim_plan_init(&p);
    anth_body(body, sizeof body, 0, false);
    plan(&cfg, "/v1/messages", body, 0, &p);
    cr_expect(p.tool_call);
    json_t *j = body_json(&p);
    cr_expect_str_eq(json_string_value(json_object_get(j, "stop_reason")), "tool_use");
    json_t *tu = json_array_get(json_object_get(j, "content"), 1);
    cr_expect_str_eq(json_string_value(json_object_get(tu, "type")), "tool_use");
    cr_expect_eq(json_integer_value(json_object_get(json_object_get(tu, "input"), "order")), 13);
    cr_expect(lg_http_headers_get(&p.headers, "request-id"));
    cr_expect_eq(json_integer_value(json_object_get(json_object_get(j, "usage"), "input_tokens")), p.in_tokens);
    json_decref(j);

    anth_body(body, sizeof body, 2, true);
    plan(&cfg, "/v1/messages", body, 0, &p);
    cr_expect(!p.tool_call);
    size_t n = check_chunks(&p, ev, 64);
    const char *order[] = {"message_start", "content_block_start", "ping"};
    for (size_t i = 0; i < 3; i++)
        cr_expect_str_eq(json_string_value(json_object_get(ev[i], "type")), order[i]);
    cr_expect_str_eq(json_string_value(json_object_get(ev[n - 2], "type")), "message_delta");
    cr_expect_str_eq(json_string_value(json_object_get(ev[n - 1], "type")), "message_stop");
    cr_expect(strncmp(p.body.data, "event: message_start\ndata: ", 27) == 0);
    cr_expect_eq(json_integer_value(json_object_get(json_object_get(json_object_get(ev[0], "message"),
                                                                    "usage"), "input_tokens")), p.in_tokens);
    cr_expect_eq(json_integer_value(json_object_get(json_object_get(ev[n - 2], "usage"), "output_tokens")),
                 p.out_tokens);
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(ev[n - 2], "delta"), "stop_reason")),
                     "end_turn");
    lg_buf text = LG_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        json_t *d = json_object_get(ev[i], "delta");
        if (!strcmp(json_string_value(json_object_get(ev[i], "type")), "content_block_delta"))
            cr_assert_eq(lg_buf_append_str(&text, json_string_value(json_object_get(d, "text"))), 0);
        json_decref(ev[i]);
    }
    cr_expect(strstr(lg_buf_cstr(&text), "order 1 shipped"), "%s", lg_buf_cstr(&text));
    lg_buf_release(&text);
    lg_sim_plan_release(&p);
}

Test(sim, responses_and_embeddings_and_errors)
{
    lg_sim_config cfg;
    lg_sim_plan p;
    lg_sim_config_init(&cfg);
    lg_sim_plan_init(&p);
    const char *r1 = "{\"model\":\"m\",\"input\":\"look it up\",\"tools\":[{\"type\":\"function\","
                     "\"name\":\"search\",\"parameters\":{\"type\":\"object\",\"properties\":"
                     "{\"q\":{\"type\":\"string\"}}}}]}";
    plan(&cfg, "/v1/responses", r1, 0, &p);
    json_t *j = body_json(&p);
    json_t *out = json_array_get(json_object_get(j, "output"), 0);
    cr_expect_str_eq(json_string_value(json_object_get(out, "type")), "function_call");
    cr_expect_str_eq(json_string_value(json_object_get(out, "arguments")), "{\"q\":\"look it up\"}");
    json_decref(j);
    cfg.tool_turns = 1;
    const char *r2 = "{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":\"look it up\"},"
                     "{\"type\":\"function_call\",\"call_id\":\"c\",\"name\":\"search\",\"arguments\":\"{}\"},"
                     "{\"type\":\"function_call_output\",\"call_id\":\"c\",\"output\":\"found it\"}],"
                     "\"tools\":[{\"type\":\"function\",\"name\":\"search\"}]}";
    plan(&cfg, "/v1/responses", r2, 0, &p);
    j = body_json(&p);
    out = json_array_get(json_object_get(j, "output"), 0);
    cr_expect_str_eq(json_string_value(json_object_get(out, "type")), "message");
    const char *t = json_string_value(json_object_get(json_array_get(json_object_get(out, "content"), 0), "text"));
    cr_expect(t && strstr(t, "found it"), "%s", t ? t : "(null)");
    cr_expect_eq(json_integer_value(json_object_get(json_object_get(j, "usage"), "output_tokens")), p.out_tokens);
    json_decref(j);

    plan(&cfg, "/v1/embeddings", "{\"model\":\"e\",\"input\":[\"a\",\"b\"],\"dimensions\":4}", 0, &p);
    j = body_json(&p);
    json_t *emb = json_object_get(json_array_get(json_object_get(j, "data"), 1), "embedding");
    cr_expect_eq(json_array_size(emb), 4u);
    double norm = 0;
    for (size_t i = 0; i < 4; i++)
        norm += pow(json_real_value(json_array_get(emb, i)), 2);
    cr_expect(fabs(norm - 1.0) < 1e-5, "norm %f", norm);
    json_decref(j);
    plan(&cfg, "/v1/embeddings", "{\"input\":\"a\",\"encoding_format\":\"base64\"}", 0, &p);
    j = body_json(&p);
    const char *b64 = json_string_value(json_object_get(json_array_get(json_object_get(j, "data"), 0), "embedding"));
    cr_expect_eq(strlen(b64), 44u, "8 floats = 32 bytes = 44 base64 chars: %s", b64);
    json_decref(j);

    plan(&cfg, "/v1/chat/completions", "{not json", 0, &p);
    cr_expect_eq(p.status, 400);
    cr_expect(strstr(p.body.data, "invalid JSON"), "%s", p.body.data);
    plan(&cfg, "/v1/messages", "{\"model\":\"x\"}", 0, &p);
    cr_expect_eq(p.status, 400);
    cr_expect(strstr(p.body.data, "\"type\":\"error\""), "anthropic error shape: %s", p.body.data);
    plan(&cfg, "/v2/nothing", "{}", 0, &p);
    cr_expect_eq(p.status, 404);
    lg_err err = LG_ERR_INIT;
    cr_assert_eq(lg_sim_plan_request(&cfg, "GET", "/v1/chat/completions", NULL, 0, 0, &p, &err), 0);
    cr_expect_eq(p.status, 405);
    cr_assert_eq(lg_sim_plan_request(&cfg, "GET", "/v1/models", NULL, 0, 0, &p, &err), 0);
    cr_expect_eq(p.status, 200);
    lg_sim_plan_release(&p);
}

Test(sim, fault_rates_follow_the_config_and_are_deterministic)
{
    lg_sim_config cfg;
    lg_err err = LG_ERR_INIT;
    lg_sim_plan p;
    char body[2048];
    int counts[5] = {0};
    lg_sim_config_init(&cfg);
    lg_sim_plan_init(&p);
    cr_assert_eq(lg_sim_parse_faults("429:0.1,500:0.05,cut:0.05,slow:0.2", &cfg, &err), 0, "%s", err.msg);
    cfg.seed = 7;
    snprintf(body, sizeof body, chat_tools, ",\"stream\":true");
    for (uint64_t occ = 0; occ < 4000; occ++) {
        plan(&cfg, "/v1/chat/completions", body, occ, &p);
        counts[p.fault]++;
        if (p.fault == LG_SIM_FAULT_429) {
            cr_assert_eq(p.status, 429);
            cr_assert_str_eq(lg_http_headers_get(&p.headers, "retry-after"), "1");
            cr_assert_str_eq(lg_http_headers_get(&p.headers, "retry-after-ms"), "1000");
        } else if (p.fault == LG_SIM_FAULT_500) {
            cr_assert_eq(p.status, 500);
        } else if (p.fault == LG_SIM_FAULT_CUT) {
            cr_assert(p.cut && p.cut_at > 0 && p.cut_at < p.nchunks);
        } else if (p.fault == LG_SIM_FAULT_SLOW) {
            cr_assert_eq(p.delay_ms, 2000u);
        } else {
            cr_assert(!p.cut && p.status == 200 && p.delay_ms == 0);
        }
    }
    /* within 4 standard deviations of the configured rates */
    double want[5] = {0.6, 0.1, 0.05, 0.05, 0.2};
    for (int k = 0; k < 5; k++) {
        double sd = sqrt(4000 * want[k] * (1 - want[k]));
        cr_expect(fabs(counts[k] - 4000 * want[k]) < 4 * sd, "fault %s: %d of 4000",
                  lg_sim_fault_name(k), counts[k]);
    }
    /* the same (seed, request, occurrence) draws the same fault; another seed differs somewhere */
    lg_sim_plan q;
    lg_sim_plan_init(&q);
    int differ = 0;
    for (uint64_t occ = 0; occ < 50; occ++) {
        plan(&cfg, "/v1/chat/completions", body, occ, &p);
        plan(&cfg, "/v1/chat/completions", body, occ, &q);
        cr_assert_eq(p.fault, q.fault);
        cfg.seed = 8;
        plan(&cfg, "/v1/chat/completions", body, occ, &q);
        cfg.seed = 7;
        differ += p.fault != q.fault;
    }
    cr_expect_gt(differ, 0);
    lg_sim_plan_release(&p);
    lg_sim_plan_release(&q);
}

Test(sim, parse_faults_errors)
{
    lg_sim_config cfg;
    lg_err err = LG_ERR_INIT;
    lg_sim_config_init(&cfg);
    cr_expect_eq(lg_sim_parse_faults("429:0.5,timeout:0.1", &cfg, &err), LG_EUSAGE);
    cr_expect(strstr(err.msg, "unknown fault 'timeout'"), "%s", err.msg);
    lg_err_clear(&err);
    cr_expect_eq(lg_sim_parse_faults("429:2", &cfg, &err), LG_EUSAGE);
    cr_expect(strstr(err.msg, "[0, 1]"), "%s", err.msg);
    lg_err_clear(&err);
    cr_expect_eq(lg_sim_parse_faults("429:0.6,500:0.6", &cfg, &err), LG_EUSAGE);
    cr_expect(strstr(err.msg, "more than 1"), "%s", err.msg);
    lg_err_clear(&err);
    cr_expect_eq(lg_sim_parse_faults("429", &cfg, &err), LG_EUSAGE);
    cr_expect_eq(cfg.p429, 0.0, "a failed parse leaves the config alone");
}

/* ------------------------------------------------------------ over HTTP */

typedef struct resp {
    lg_buf body, hdrs;
    long status;
    CURLcode rc;
    double t[64];
    int n;
    uint64_t t0;
} resp;

static size_t w_body(char *p, size_t s, size_t n, void *ud)
{
    resp *r = ud;
    if (r->n < 64)
        r->t[r->n++] = (double)(lg_clock_mono_ns() - r->t0) / 1e6;
    return lg_buf_append(&r->body, p, s * n) ? 0 : s * n;
}
static size_t w_hdr(char *p, size_t s, size_t n, void *ud)
{
    resp *r = ud;
    return lg_buf_append(&r->hdrs, p, s * n) ? 0 : s * n;
}

static void post(unsigned port, const char *path, const char *body, resp *r)
{
    char url[128];
    memset(r, 0, sizeof *r);
    lg_buf_init(&r->body);
    lg_buf_init(&r->hdrs);
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", port, path);
    CURL *c = curl_easy_init();
    struct curl_slist *sl = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, sl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, w_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, w_hdr);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    r->t0 = lg_clock_mono_ns();
    r->rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(sl);
    curl_easy_cleanup(c);
}

static void resp_release(resp *r)
{
    lg_buf_release(&r->body);
    lg_buf_release(&r->hdrs);
}

Test(sim_server, serves_plans_with_faults_gaps_and_cuts)
{
    lg_sim_config cfg;
    lg_sim_server *s;
    lg_err err = LG_ERR_INIT;
    char body[2048];
    lg_sim_config_init(&cfg);
    cfg.chunk_gap_ms = 30;
    cr_assert_eq(lg_sim_server_start(&cfg, 0, &s, &err), 0, "%s", err.msg);
    unsigned port = lg_sim_server_port(s);
    resp r;

    /* streamed with gaps: the chunks arrive spread out, as planned */
    snprintf(body, sizeof body, chat_tools, ",\"stream\":true");
    post(port, "/v1/chat/completions", body, &r);
    cr_assert_eq(r.rc, CURLE_OK);
    cr_expect_eq(r.status, 200);
    lg_sim_plan p;
    lg_sim_plan_init(&p);
    plan(&cfg, "/v1/chat/completions", body, 0, &p);
    cr_expect_eq(r.body.len, p.body.len);
    cr_expect(memcmp(r.body.data, p.body.data, p.body.len) == 0, "served bytes differ from the plan");
    cr_expect_geq(r.n, (int)p.nchunks - 1, "%d arrivals for %zu chunks", r.n, p.nchunks);
    cr_expect_gt(r.t[r.n - 1] - r.t[0], 30.0 * (double)(p.nchunks - 2));
    resp_release(&r);
    cr_expect_eq(lg_sim_server_requests(s), 1u);
    lg_sim_server_stop(s);

    /* all 429 at first; occurrence counting gives a retried request a new draw */
    lg_sim_config_init(&cfg);
    cfg.p429 = 0.5;
    cfg.seed = 3;
    cr_assert_eq(lg_sim_server_start(&cfg, 0, &s, &err), 0, "%s", err.msg);
    port = lg_sim_server_port(s);
    snprintf(body, sizeof body, chat_tools, "");
    int got429 = 0, got200 = 0;
    for (int i = 0; i < 40; i++) {
        post(port, "/v1/chat/completions", body, &r);
        if (r.status == 429) {
            got429++;
            cr_expect(strstr(lg_buf_cstr(&r.hdrs), "retry-after: 1\r\n"), "%s", lg_buf_cstr(&r.hdrs));
        } else if (r.status == 200) {
            got200++;
        }
        /* the n-th identical request gets exactly the plan for occurrence n */
        plan(&cfg, "/v1/chat/completions", body, (uint64_t)i, &p);
        cr_expect_eq(r.status, p.status, "request %d", i);
        resp_release(&r);
    }
    cr_expect(got429 > 5 && got200 > 5, "429: %d, 200: %d", got429, got200);
    lg_sim_server_stop(s);

    /* cut: the client sees a broken stream */
    lg_sim_config_init(&cfg);
    cfg.pcut = 1.0;
    cr_assert_eq(lg_sim_server_start(&cfg, 0, &s, &err), 0, "%s", err.msg);
    snprintf(body, sizeof body, chat_tools, ",\"stream\":true");
    post(lg_sim_server_port(s), "/v1/chat/completions", body, &r);
    cr_expect_neq(r.rc, CURLE_OK, "a cut stream must fail on the client");
    plan(&cfg, "/v1/chat/completions", body, 0, &p);
    cr_expect_eq(r.body.len, p.chunk_end[p.cut_at - 1]);
    resp_release(&r);
    snprintf(body, sizeof body, chat_tools, "");
    post(lg_sim_server_port(s), "/v1/chat/completions", body, &r);
    cr_expect_neq(r.rc, CURLE_OK, "a cut body must fail on the client");
    resp_release(&r);
    lg_sim_server_stop(s);
    lg_sim_plan_release(&p);
}
