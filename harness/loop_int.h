/*
 * harness/loop_int.h - private to the loop engine (loop.c, loop_provider.c):
 * the model protocols behind one small interface.
 *
 * The conversation is kept as the provider's own `messages` JSON array, so
 * what is sent is exactly what a hand-written loop would send (and what the
 * proxy records and matches). The system prompt is kept apart and placed
 * where the provider wants it when the request is built.
 *
 * Not thread-safe: one conversation, one thread.
 */
#ifndef LG_LOOP_INT_H
#define LG_LOOP_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "harness/loop_config.h"
#include "recorder/sse.h"

#define LG_FINAL_ANSWER "final_answer"

/* One tool call the model asked for. */
typedef struct lg_tcall {
    char *id;        /* the provider's call id ("" when it gave none) */
    char *name;
    char *args_text; /* the arguments as sent (OpenAI: raw text; Anthropic: canonical JSON) */
    json_t *args;    /* parsed arguments, or NULL when they are not JSON */
} lg_tcall;

/* One model reply. */
typedef struct lg_turn {
    char *text;        /* assistant text, NULL when none */
    lg_tcall *calls;
    size_t ncalls;
    int64_t in_tokens; /* -1 when unknown */
    int64_t out_tokens;
    char *model;       /* the model the reply names, or NULL */
    char *stop;        /* finish / stop reason, or NULL */
} lg_turn;

void lg_turn_init(lg_turn *t);
void lg_turn_release(lg_turn *t);

/* The request path of a provider ("/v1/chat/completions", "/v1/messages"). */
const char *lg_prov_path(lg_loop_provider p);

/* Builds the request body: model, system, messages (borrowed), the tools
 * of `cfg` plus final_answer, stream and limits. Owned result or NULL with
 * LG_ENOMEM. */
json_t *lg_prov_request(const lg_loop_config *cfg, const char *system, const json_t *messages,
                        lg_err *err);

/* Parses a whole (non-streamed) reply. LG_EINPUT "the model's reply is not
 * ... " when it does not have the provider's shape. */
int lg_prov_parse(lg_loop_provider p, const char *body, size_t len, lg_turn *out, lg_err *err);

/* Assembles a streamed reply event by event. */
typedef struct lg_prov_stream lg_prov_stream;
lg_prov_stream *lg_prov_stream_new(lg_loop_provider p); /* NULL on OOM */
void lg_prov_stream_free(lg_prov_stream *s);            /* accepts NULL */
/* Feeds one server-sent event; 0, or -1 on OOM. Bad events are skipped. */
int lg_prov_stream_event(lg_prov_stream *s, const lg_sse_event *ev);
/* The assembled reply. LG_EINPUT when the stream did not end properly (no
 * [DONE] / message_stop: a cut) or carried an error event. */
int lg_prov_stream_finish(lg_prov_stream *s, lg_turn *out, lg_err *err);

/* Conversation building: a user text; the assistant's reply as it was
 * (text and tool calls); the results of that reply's tool calls (results[i]
 * answers turn->calls[i]; is_error marks failed ones) followed by an
 * optional user text. 0 or LG_ENOMEM. */
int lg_prov_add_user(lg_loop_provider p, json_t *messages, const char *text);
int lg_prov_add_assistant(lg_loop_provider p, json_t *messages, const lg_turn *turn);
int lg_prov_add_results(lg_loop_provider p, json_t *messages, const lg_turn *turn,
                        char *const *results, const bool *is_error, const char *user_text);

#endif
