/*
 * harness/loop_config.h - the `loop: builtin:` block of a suite, parsed and
 * validated for the built-in loop engine (harness/loop.h).
 *
 * The suite loader (harness/suite.c) keeps the block as JSON and as
 * positioned YAML and calls lg_loop_config_check() on it, so a bad block is
 * refused when the suite loads, with FILE:LINE:COL and the key, like every
 * other suite error. The engine parses the block again (it is small) with
 * lg_loop_config_parse() to get the typed form below. docs/suite.md
 * ("Built-in loops") documents every key.
 *
 * Like lg_suite, the config is a plain documented struct: the engine reads
 * it field by field; everything is owned by the config and freed by
 * lg_loop_config_free(). It is immutable after parsing, so any number of
 * threads may read it (and render its templates) at once.
 */
#ifndef LG_LOOP_CONFIG_H
#define LG_LOOP_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "harness/cases.h"
#include "harness/template.h"
#include "harness/yamlnode.h"

typedef enum lg_loop_provider {
    LG_LOOP_OPENAI = 0,    /* chat completions with tools: POST /v1/chat/completions */
    LG_LOOP_ANTHROPIC = 1, /* messages with tools: POST /v1/messages */
    LG_LOOP_SIM = 2,       /* the OpenAI protocol against the simulated model */
} lg_loop_provider;

typedef enum lg_loop_verify_when {
    LG_VERIFY_FINAL_ANSWER = 0, /* only when the model gives its final answer */
    LG_VERIFY_EACH_ACTION = 1,  /* after every turn that ran tools, and on the final answer */
} lg_loop_verify_when;

typedef enum lg_loop_feed {
    LG_FEED_BOTH = 0, /* stdout then stderr */
    LG_FEED_STDOUT = 1,
    LG_FEED_STDERR = 2,
} lg_loop_feed;

typedef enum lg_loop_stdin {
    LG_STDIN_JSON = 0,     /* the arguments as JSON */
    LG_STDIN_NONE = 1,     /* /dev/null */
    LG_STDIN_TEMPLATE = 2, /* a template over the arguments */
} lg_loop_stdin;

/* A command of the engine: a tool or the verification gate. Exactly one of
 * argv (list form, run directly, argv[0] searched in PATH) and shell
 * (string form, /bin/sh -c) is set. A tool's command is a template over
 * the tool's arguments ({{path}}): argv_t / shell_t hold the parsed
 * templates (in the string form substituted values are shell-quoted). The
 * verification command is taken literally (argv_t and shell_t NULL). */
typedef struct lg_loop_cmd {
    char **argv;           /* NULL-terminated, or NULL */
    size_t argc;
    char *shell;           /* or NULL */
    lg_template **argv_t;  /* tools: one template per argv element, or NULL */
    lg_template *shell_t;  /* tools: the template of `shell`, or NULL */
    char **env;            /* "NAME=value" entries, NULL-terminated; NULL when none */
    double timeout_s;      /* > 0 */
    int line, col;         /* of the `command` value */
} lg_loop_cmd;

#define LG_LOOP_TOOL_TIMEOUT_S 60.0
#define LG_LOOP_VERIFY_TIMEOUT_S 120.0

typedef struct lg_loop_tool {
    char *name;             /* [A-Za-z0-9_-]{1,64}; never "final_answer" */
    char *description;      /* "" when absent */
    json_t *parameters;     /* JSON schema of the arguments: an object schema */
    lg_loop_cmd cmd;
    lg_loop_stdin stdin_mode;
    lg_template *stdin_t;   /* LG_STDIN_TEMPLATE */
    bool idempotent;        /* safe to run again with the same arguments (default false) */
    bool requires_approval; /* never runs without an approval (default false) */
    int line, col;          /* of the tool's mapping */
} lg_loop_tool;

typedef struct lg_loop_limits {
    uint64_t max_iterations;      /* 0 = the suite's limits.max_iterations (else 10) */
    double timeout_s;             /* 0 = the run's timeout */
    uint64_t max_tokens;          /* 0 = the suite's limits.max_tokens (else none) */
    double max_cost_usd;          /* 0 = the suite's limits.max_cost_usd (else none) */
    uint32_t repeated_action;     /* N >= 2 same tool+arguments in a row: stalled; 0 = off */
    uint32_t stall;               /* N >= 1 iterations without a new tool result; 0 = off */
    uint32_t max_verify_failures; /* verification failures in a row: escalated; default 3 */
    uint32_t max_corrections;     /* corrective re-prompts in a row; default 1 */
} lg_loop_limits;

typedef struct lg_loop_retry {
    uint32_t max_retries;     /* per model call; default 4 */
    double backoff_base_s;    /* default 0.5 */
    double backoff_cap_s;     /* default 30 */
    double request_timeout_s; /* one model call; default 120 */
} lg_loop_retry;

typedef struct lg_loop_config {
    lg_loop_provider provider;
    char *model;
    lg_template *system;     /* NULL when absent */
    lg_template *prompt;     /* the first user message; required */
    lg_template *feedback;   /* after a failed verification; a default when absent */
    bool stream;             /* streamed responses (default false) */
    uint32_t max_tokens;     /* per response; 0 = provider default (anthropic needs one: 1024) */
    bool has_temperature;
    double temperature;
    bool text_answer;        /* a reply without tool calls is the final answer (default true) */
    size_t max_output_bytes; /* of a tool's or the verifier's output fed back (default 16384) */
    lg_loop_tool *tools;
    size_t ntools;
    bool has_verify;
    lg_loop_cmd verify;
    lg_loop_verify_when verify_when;
    lg_loop_feed verify_feed;
    lg_loop_limits limits;
    lg_loop_retry retry;
    bool escalate_on_stall;      /* a stall or repeated action ends `escalated` (default false) */
    bool escalate_on_unapproved; /* an unapproved tool call ends `escalated` (default true) */
} lg_loop_config;

/* The loop-state names prompt templates may use besides case fields,
 * NULL-terminated: iteration, max_iterations, remaining_iterations,
 * remaining_budget, verify_output, verify_passed, verify_failures. */
extern const char *const lg_loop_state_vars[];

/*
 * Parses and validates the builtin block `node` (a mapping; borrowed) of
 * the suite `file` (borrowed, for messages). Templates are checked against
 * `cases` (borrowed; may be NULL: no case fields): a name must be a visible
 * case field or a loop-state variable; a hidden field is refused (the loop
 * must not see it). Returns 0 and *out (owned, free with
 * lg_loop_config_free), or LG_EINPUT "FILE:LINE:COL: ..." naming the key
 * (unknown keys with a "did you mean"), LG_ENOMEM. Thread-safe.
 */
int lg_loop_config_parse(const lg_ynode *node, const char *file, const lg_casegen *cases,
                         lg_loop_config **out, lg_err *err) LG_WUR;

/* Parses and frees: the suite loader's check. Same errors. */
int lg_loop_config_check(const lg_ynode *node, const char *file, const lg_casegen *cases,
                         lg_err *err) LG_WUR;

void lg_loop_config_free(lg_loop_config *c); /* accepts NULL */

/* "openai", "anthropic", "sim". */
const char *lg_loop_provider_name(lg_loop_provider p);

#endif
