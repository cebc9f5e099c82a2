/*
 * harness/cli/cmd_show.c - `loopgate show`: what a trace file holds, for people.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "core/buf.h"
#include "core/hash.h"
#include "core/json.h"
#include "core/suggest.h"
#include "recorder/store.h"

const char cmd_show_usage[] =
    "usage: loopgate show FILE [--run ID] [--suite NAME]\n"
    "       loopgate show FILE --session KEY [--call N | --diff]\n"
    "\n"
    "Without --session, list the sessions of the trace file FILE: key, case,\n"
    "trial, model calls, tool runs, outcome and tokens, with the file's totals.\n"
    "\n"
    "Options:\n"
    "  --session KEY  print that session's timeline, one line per event (KEY is\n"
    "                 CASE.TRIAL for sessions recorded by 'loopgate run')\n"
    "  --call N       with --session: print model call N (from 0) in full:\n"
    "                 endpoint, status, usage, headers, request and response\n"
    "  --diff         with --session: print for each request only what it adds\n"
    "                 to the previous one (JSON paths, e.g. + messages[5])\n"
    "  --run ID       list only the sessions of run ID\n"
    "  --suite NAME   list only the sessions of suite NAME\n"
    "  -h, --help     show this help\n"
    "\n"
    "The file is opened read-only and never changed. Exit status: 0 ok, 2 bad\n"
    "usage, an unknown session or call, or a missing, damaged or foreign file,\n"
    "3 internal error.\n";

static void human_bytes(uint64_t n, char out[32])
{
    if (n < 10000)
        snprintf(out, 32, "%llu B", (unsigned long long)n);
    else if (n < 10000000)
        snprintf(out, 32, "%.1f KB", (double)n / 1e3);
    else
        snprintf(out, 32, "%.1f MB", (double)n / 1e6);
}

static int list_sessions(lg_store *st, const lg_session_filter *f, lg_err *err)
{
    lg_session_list *l;
    lg_store_stats s;
    char a[32], b[32];
    int rc;

    if ((rc = lg_store_get_stats(st, &s, err)) || (rc = lg_store_list_sessions(st, f, &l, err)))
        return rc;
    human_bytes(s.file_bytes, a);
    human_bytes(s.raw_bytes, b);
    printf("%s: trace format %d, %llu sessions, %llu model calls, %s (bodies %s raw)\n",
           lg_store_path(st), lg_store_file_format(st), (unsigned long long)s.sessions,
           (unsigned long long)s.calls, a, b);
    if (!l->n) {
        printf("no sessions%s\n", f->run || f->suite ? " match" : "");
        lg_session_list_free(l);
        return 0;
    }
    printf("%-14s %5s %5s %6s %5s %5s  %-24s %10s %10s  %s\n", "SESSION", "CASE", "TRIAL", "CALLS",
           "TOOLS", "ITER", "OUTCOME", "TOKENS IN", "TOKENS OUT", "RUN");
    for (size_t i = 0; i < l->n; i++) {
        const lg_session_info *in = &l->items[i];
        char cs[24] = "-", tr[24] = "-", outcome[64];
        if (in->case_index >= 0)
            snprintf(cs, sizeof cs, "%lld", (long long)in->case_index);
        if (in->trial >= 0)
            snprintf(tr, sizeof tr, "%lld", (long long)in->trial);
        if (in->reason)
            snprintf(outcome, sizeof outcome, "%s%s", in->reason,
                     in->converged == 1 ? " (converged)" : "");
        else
            snprintf(outcome, sizeof outcome, "(no end)");
        printf("%-14s %5s %5s %6u %5u %5u  %-24s %10lld %10lld  %s\n", in->key, cs, tr, in->n_calls,
               in->n_tools, in->n_iterations, outcome, (long long)in->tokens.in,
               (long long)in->tokens.out, in->run ? in->run : "-");
    }
    lg_session_list_free(l);
    return 0;
}

/* Finds a session by key, suggesting a near one when there is none. */
static int find_session(lg_store *st, const char *key, int64_t *id, lg_err *err)
{
    lg_session_list *l;
    const char *keys[201];
    size_t n = 0;
    lg_err e = LG_ERR_INIT;

    if (lg_store_find_session(st, key, id, &e) == 0)
        return 0;
    if (e.code != LG_ENOENT || lg_store_list_sessions(st, NULL, &l, NULL) != 0) {
        *err = e;
        return e.code;
    }
    for (size_t i = 0; i < l->n && n < 200; i++)
        keys[n++] = l->items[i].key;
    keys[n] = NULL;
    const char *guess = lg_suggest(key, keys);
    if (guess)
        LG_ERR(err, LG_EINPUT, "%s: no session '%s' (did you mean '%s'?)", lg_store_path(st), key,
               guess);
    else
        LG_ERR(err, LG_EINPUT, "%s: no session '%s'; 'loopgate show %s' lists them",
               lg_store_path(st), key, lg_store_path(st));
    lg_session_list_free(l);
    return LG_EINPUT;
}

static void print_event(const lg_event *ev)
{
    char a[32], b[32], t[32];
    snprintf(t, sizeof t, "+%.3fs", (double)ev->t_us / 1e6);
    printf("%5u  %10s  ", (unsigned)ev->seq, t);
    switch (ev->kind) {
    case LG_EVENT_MODEL: {
        const lg_model_event *m = &ev->model;
        human_bytes(m->request.len, a);
        human_bytes(m->response.len, b);
        printf("model #%lld  %s %s%s%s", (long long)ev->call, m->method, m->path,
               m->model ? "  " : "", m->model ? m->model : "");
        if (m->fault)
            printf("  fault %s", m->fault);
        if (m->status)
            printf("  %d", m->status);
        if (m->usage.in >= 0 || m->usage.out >= 0)
            printf("  %lld in / %lld out tokens", (long long)m->usage.in, (long long)m->usage.out);
        printf("  %.1f ms  request %s  response %s", (double)m->latency_us / 1e3, a, b);
        if (m->n_chunks)
            printf(" (streamed, %zu chunks)", m->n_chunks);
        break;
    }
    case LG_EVENT_TOOL:
        human_bytes(ev->tool.out.len, a);
        human_bytes(ev->tool.err.len, b);
        printf("tool %s", ev->tool.name);
        if (ev->tool.exit_code >= 0)
            printf("  exit %d", ev->tool.exit_code);
        printf("  %.1f ms  stdout %s  stderr %s", (double)ev->tool.duration_us / 1e3, a, b);
        if (ev->tool.idem_key)
            printf("  key %s", ev->tool.idem_key);
        break;
    case LG_EVENT_ITERATION:
        printf("iteration %lld%s%s", (long long)ev->iteration.index, ev->iteration.state ? "  " : "",
               ev->iteration.state ? ev->iteration.state : "");
        break;
    case LG_EVENT_INVARIANT:
        printf("invariant %s %s%s%s", ev->invariant.name, ev->invariant.pass ? "pass" : "FAIL",
               ev->invariant.detail ? ": " : "", ev->invariant.detail ? ev->invariant.detail : "");
        break;
    case LG_EVENT_VERIFY:
        printf("verify %s%s%s", ev->verify.pass ? "pass" : "FAIL", ev->verify.message ? ": " : "",
               ev->verify.message ? ev->verify.message : "");
        break;
    case LG_EVENT_DIVERGENCE:
        printf("divergence at call %lld: %s", (long long)ev->divergence.call, ev->divergence.path);
        break;
    case LG_EVENT_NOTE:
        printf("note: %s", ev->note.text);
        break;
    case LG_EVENT_END:
        printf("end %s (%s)%s%s", ev->end.reason, ev->end.converged ? "converged" : "not converged",
               ev->end.error ? ": " : "", ev->end.error ? ev->end.error : "");
        break;
    default:
        printf("%s", lg_event_kind_name(ev->kind));
    }
    putchar('\n');
}

static void print_header(const lg_session_info *in)
{
    printf("session %s", in->key);
    if (in->suite)
        printf("  suite %s", in->suite);
    if (in->case_index >= 0)
        printf("  case %lld", (long long)in->case_index);
    if (in->trial >= 0)
        printf("  trial %lld", (long long)in->trial);
    if (in->run)
        printf("  run %s", in->run);
    printf("\n%u events, %u model calls, %u tool runs, %lld in / %lld out tokens, %s\n",
           in->n_events, in->n_calls, in->n_tools, (long long)in->tokens.in,
           (long long)in->tokens.out, in->reason ? in->reason : "no end event");
}

static int timeline(lg_session_reader *r, lg_err *err)
{
    print_header(lg_session_reader_info(r));
    printf("  seq        time  event\n");
    for (size_t i = 0; i < lg_session_reader_count(r); i++) {
        const lg_event *ev;
        int rc = lg_session_reader_event(r, i, &ev, err);
        if (rc)
            return rc;
        print_event(ev);
    }
    return 0;
}

/* Prints a body: pretty JSON when it parses, else the bytes (non-text as a note). */
static void print_body(const char *what, lg_bytes b)
{
    json_t *v;
    if (!b.len) {
        printf("%s: (empty)\n", what);
        return;
    }
    printf("%s (%zu bytes):\n", what, b.len);
    v = json_loadb(b.data, b.len, JSON_ALLOW_NUL, NULL);
    if (v) { /* in its own key order, for people */
        char *s = json_dumps(v, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
        puts(s ? s : "(out of memory)");
        free(s);
    } else if (!memchr(b.data, '\0', b.len)) {
        fwrite(b.data, 1, b.len, stdout);
        if (b.data[b.len - 1] != '\n')
            putchar('\n');
    } else {
        printf("(%zu bytes of binary data; 'loopgate export' shows them as base64)\n", b.len);
    }
    json_decref(v);
}

static int show_call(const char *file, lg_session_reader *r, unsigned long long n, lg_err *err)
{
    const lg_event *ev;
    const lg_model_event *m;
    char hex[LG_HASH_HEX_LEN];
    int rc;

    if (n >= lg_session_reader_calls(r))
        return LG_ERR(err, LG_EINPUT, "%s: session '%s' has %zu model calls (0 to %zu); no call %llu",
                      file, lg_session_reader_info(r)->key, lg_session_reader_calls(r),
                      lg_session_reader_calls(r) ? lg_session_reader_calls(r) - 1 : 0, n);
    if ((rc = lg_session_reader_call(r, (size_t)n, &ev, err)))
        return rc;
    m = &ev->model;
    lg_hash_hex(m->fingerprint, hex);
    printf("call %llu of session %s (event %u, +%.3fs)\n", n, lg_session_reader_info(r)->key,
           (unsigned)ev->seq, (double)ev->t_us / 1e6);
    printf("endpoint:    %s %s (%s%s%s)\n", m->method, m->path, m->provider,
           m->model ? ", model " : "", m->model ? m->model : "");
    printf("fingerprint: %s\n", hex);
    printf("status:      %d%s%s\n", m->status, m->fault ? ", fault " : "", m->fault ? m->fault : "");
    printf("latency:     %.1f ms\n", (double)m->latency_us / 1e3);
    printf("usage:       %lld in, %lld out, %lld cached (-1: not reported)\n",
           (long long)m->usage.in, (long long)m->usage.out, (long long)m->usage.cached);
    printf("headers:     %s\n", m->headers ? m->headers : "(none kept)");
    print_body("request", m->request);
    if (m->n_chunks) {
        size_t off = 0;
        printf("response (%zu bytes, streamed in %zu chunks):\n", m->response.len, m->n_chunks);
        for (size_t i = 0; i < m->n_chunks; i++) {
            printf("  chunk %zu  +%.1f ms  %zu bytes: ", i, (double)m->chunks[i].t_us / 1e3,
                   m->chunks[i].len);
            for (size_t k = 0; k < m->chunks[i].len; k++) {
                unsigned char ch = (unsigned char)m->response.data[off + k];
                if (ch == '\n')
                    fputs("\\n", stdout);
                else if (ch < 0x20 || ch == 0x7f)
                    printf("\\x%02x", ch);
                else
                    putchar(ch);
            }
            putchar('\n');
            off += m->chunks[i].len;
        }
    } else {
        print_body("response", m->response);
    }
    return 0;
}

static void dump_compact(const json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    fputs(s ? s : "?", stdout);
    free(s);
}

/* Prints what `cur` adds to or changes in `prev`, path by path. */
static void json_delta(const json_t *prev, const json_t *cur, lg_buf *path)
{
    size_t mark = path->len;
    if (json_is_object(prev) && json_is_object(cur)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)cur, k, v) {
            json_t *p = json_object_get(prev, k);
            if (lg_buf_appendf(path, "%s%s", path->len ? "." : "", k))
                return;
            if (!p) {
                printf("  + %s: ", lg_buf_cstr(path));
                dump_compact(v);
                putchar('\n');
            } else if (!json_equal(p, v)) {
                json_delta(p, v, path);
            }
            lg_buf_truncate(path, mark);
        }
        json_object_foreach((json_t *)prev, k, v) {
            if (!json_object_get(cur, k))
                printf("  - %s%s%s\n", lg_buf_cstr(path), path->len ? "." : "", k);
        }
        return;
    }
    if (json_is_array(prev) && json_is_array(cur)) {
        size_t np = json_array_size(prev), nc = json_array_size(cur);
        for (size_t i = 0; i < nc || i < np; i++) {
            if (lg_buf_appendf(path, "[%zu]", i))
                return;
            if (i >= np) {
                printf("  + %s: ", lg_buf_cstr(path));
                dump_compact(json_array_get(cur, i));
                putchar('\n');
            } else if (i >= nc) {
                printf("  - %s\n", lg_buf_cstr(path));
            } else if (!json_equal(json_array_get(prev, i), json_array_get(cur, i))) {
                json_delta(json_array_get(prev, i), json_array_get(cur, i), path);
            }
            lg_buf_truncate(path, mark);
        }
        return;
    }
    printf("  ~ %s: ", path->len ? lg_buf_cstr(path) : "(whole body)");
    dump_compact(cur);
    putchar('\n');
}

static int show_diff(lg_session_reader *r, lg_err *err)
{
    lg_bytes prev = {NULL, 0};
    print_header(lg_session_reader_info(r));
    for (size_t c = 0; c < lg_session_reader_calls(r); c++) {
        const lg_event *ev;
        json_t *a = NULL, *b;
        int rc = lg_session_reader_call(r, c, &ev, err);
        if (rc)
            return rc;
        lg_bytes cur = ev->model.request;
        printf("call %zu (%zu bytes):\n", c, cur.len);
        b = cur.len ? json_loadb(cur.data, cur.len, JSON_ALLOW_NUL, NULL) : NULL;
        if (c > 0 && prev.len)
            a = json_loadb(prev.data, prev.len, JSON_ALLOW_NUL, NULL);
        if (c == 0 || !prev.len) {
            printf("  (first request) ");
            if (b)
                dump_compact(b);
            else
                fwrite(cur.data ? cur.data : "", 1, cur.len, stdout);
            putchar('\n');
        } else if (a && b) {
            lg_buf path = LG_BUF_INIT;
            if (json_equal(a, b))
                printf("  (same as call %zu)\n", c - 1);
            else
                json_delta(a, b, &path);
            lg_buf_release(&path);
        } else {
            /* not JSON: the bytes between what both share at start and end */
            size_t p = 0, q = 0, lim = cur.len < prev.len ? cur.len : prev.len;
            while (p < lim && cur.data[p] == prev.data[p])
                p++;
            while (q < lim - p && cur.data[cur.len - 1 - q] == prev.data[prev.len - 1 - q])
                q++;
            printf("  + at byte %zu: ", p);
            fwrite(cur.data + p, 1, cur.len - p - q, stdout);
            putchar('\n');
        }
        json_decref(a);
        json_decref(b);
        prev = cur;
    }
    return 0;
}

int cmd_show(int argc, char **argv)
{
    static const struct option opts[] = {
        {"session", required_argument, NULL, 'S'}, {"call", required_argument, NULL, 'c'},
        {"diff", no_argument, NULL, 'd'},          {"run", required_argument, NULL, 'r'},
        {"suite", required_argument, NULL, 's'},   {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    lg_session_filter filter = LG_SESSION_FILTER_ANY;
    const char *file = NULL, *session = NULL;
    unsigned long long call = 0;
    bool have_call = false, diff = false;
    lg_err err = LG_ERR_INIT;
    lg_store *st = NULL;
    lg_session_reader *r = NULL;
    int64_t id;
    int c, rc;

    while ((c = lg_cli_getopt_operand(argc, argv, "", opts, "show", cmd_show_usage, &file)) !=
           -1) {
        switch (c) {
        case LG_CLI_HELP:
            return LG_EXIT_OK;
        case 'S':
            session = optarg;
            break;
        case 'c':
            if (lg_cli_parse_u64("show", "--call", optarg, UINT32_MAX, &call))
                return LG_EXIT_USAGE;
            have_call = true;
            break;
        case 'd':
            diff = true;
            break;
        case 'r':
            filter.run = optarg;
            break;
        case 's':
            filter.suite = optarg;
            break;
        default:
            return LG_EXIT_USAGE;
        }
    }
    if (!file)
        return lg_cli_usage_error("show", "which trace file? (loopgate show FILE)");
    if ((have_call || diff) && !session)
        return lg_cli_usage_error("show", "%s needs --session KEY", have_call ? "--call" : "--diff");
    if (have_call && diff)
        return lg_cli_usage_error("show", "give --call N or --diff, not both");
    if ((rc = lg_store_open(file, LG_STORE_READ, &st, &err)))
        goto out;
    if (!session) {
        if (!(rc = lg_store_check(st, &err)))
            rc = list_sessions(st, &filter, &err);
        goto out;
    }
    if ((rc = find_session(st, session, &id, &err)) ||
        (rc = lg_store_session_read(st, id, &r, &err)))
        goto out;
    rc = have_call ? show_call(file, r, call, &err) : diff ? show_diff(r, &err) : timeline(r, &err);
out:
    lg_session_reader_free(r);
    lg_store_close(st);
    if (!rc && fflush(stdout) != 0)
        rc = LG_ERR(&err, LG_EIO, "cannot write to stdout");
    return rc ? lg_cli_report(&err) : LG_EXIT_OK;
}
