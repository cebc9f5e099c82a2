/*
 * harness/cli/cmd_exec.c - `loopgate exec [--name NAME] [--idem-key K]
 * [--approved] -- CMD ARGS...`: run a tool command so that a loopgate
 * session records it and replays it without running it.
 *
 * Inside a session (LOOPGATE_URL set by `loopgate run`) it asks the proxy
 * (POST $LOOPGATE_URL/tool, recorder/proxy.h) whether the call is in the
 * recording: when it is, the recorded stdout and stderr are printed and the
 * recorded exit status is returned, and the command does not run; when not
 * (recording), the command runs through core/proc.h, its output is passed
 * through once it has finished, and stdout, stderr, exit status and
 * duration are posted as a tool event. A repeated --idem-key returns the
 * first result in every mode. Outside a session it simply execs the command.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/proc.h"
#include "core/utf8.h"
#include "recorder/client.h"

const char cmd_exec_usage[] =
    "usage: loopgate exec [--name NAME] [--idem-key KEY] [--approved] -- CMD [ARGS...]\n"
    "\n"
    "Run a tool command as part of a loopgate session, so that it is recorded\n"
    "and replayed like the model calls.\n"
    "\n"
    "Inside a session (LOOPGATE_URL is set; `loopgate run` sets it for the loop):\n"
    "  recording  CMD runs (standard input inherited unless it is a terminal);\n"
    "             its stdout, stderr, exit status and duration are stored as a\n"
    "             tool event; its output is printed once it has finished, and\n"
    "             loopgate exec exits with its status;\n"
    "  replaying  CMD does NOT run: the recorded stdout and stderr are printed\n"
    "             and the recorded status returned. A call that is not in the\n"
    "             recording (another command or other arguments) is a\n"
    "             divergence: the message goes to stderr, the exit status is 1\n"
    "             and the trial ends as 'diverged'.\n"
    "Outside a session it just runs CMD (exec), passing its status through.\n"
    "\n"
    "Options:\n"
    "      --name NAME      tool name in the trace (default: the base name of CMD)\n"
    "      --idem-key KEY   idempotency key: a second call with the same KEY in the\n"
    "                       session returns the first call's result and does not\n"
    "                       run CMD again, in every mode\n"
    "      --approved       record an approval for NAME first (a note event\n"
    "                       {\"approve\": NAME}), for the approval_required invariant\n"
    "  -h, --help           show this help\n"
    "\n"
    "Exit status: that of CMD (or the recorded one; 128+N for signal N);\n"
    "1 replay diverged; 2 bad usage; 3 the session could not be reached;\n"
    "126/127 outside a session when CMD cannot be run.\n";

enum { O_NAME = 256, O_IDEM, O_APPROVED };

static int post(lg_client *cl, const char *path, json_t *body, lg_client_resp *resp,
                json_t **out, lg_err *err)
{
    int rc = lg_client_post_json(cl, path, body, resp, out, err);
    json_decref(body);
    if (rc)
        return rc;
    if (resp->status == 0)
        return LG_ERR(err, LG_EIO, "cannot reach the loopgate session at %s: %s",
                      lg_client_base_url(cl), resp->detail[0] ? resp->detail : "no response");
    return 0;
}

/* The error message of a JSON error body, or the body itself. */
static const char *error_text(const lg_client_resp *resp, const json_t *j)
{
    const char *m = lg_json_str(json_object_get(j, "error"), "message", NULL);
    return m ? m : lg_buf_cstr(&resp->body);
}

static void write_field(int fd, const json_t *j, const char *key)
{
    const json_t *v = json_object_get(j, key);
    if (json_is_string(v) && json_string_length(v))
        (void)!lg_fs_write_all(fd, json_string_value(v), json_string_length(v));
}

static int exit_status(long long code)
{
    if (code < 0)
        return 1;
    return (int)(code & 0xff);
}

int cmd_exec(int argc, char **argv)
{
    static const struct option opts[] = {
        {"name", required_argument, NULL, O_NAME},
        {"idem-key", required_argument, NULL, O_IDEM},
        {"approved", no_argument, NULL, O_APPROVED},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *name = NULL, *idem = NULL;
    bool approved = false;
    int c;
    while ((c = lg_cli_getopt(argc, argv, "+", opts, "exec", cmd_exec_usage)) != -1) {
        switch (c) {
        case LG_CLI_HELP: return 0;
        case O_NAME: name = optarg; break;
        case O_IDEM: idem = optarg; break;
        case O_APPROVED: approved = true; break;
        default: return LG_EXIT_USAGE;
        }
    }
    if (optind >= argc)
        return lg_cli_usage_error("exec", "missing the command to run: loopgate exec [OPTIONS] -- CMD [ARGS...]");
    char **cmd = argv + optind;
    int ncmd = argc - optind;
    if (!name) {
        const char *slash = strrchr(cmd[0], '/');
        name = slash ? slash + 1 : cmd[0];
    }
    if (!*name)
        return lg_cli_usage_error("exec", "--name must not be empty");
    if (idem && !*idem)
        return lg_cli_usage_error("exec", "--idem-key must not be empty");

    const char *url = getenv("LOOPGATE_URL");
    if (!url || !*url) {
        /* no session: be the command */
        fflush(NULL);
        execvp(cmd[0], cmd);
        int e = errno;
        fprintf(stderr, "loopgate exec: cannot run '%s': %s\n", cmd[0], strerror(e));
        return e == ENOENT ? 127 : 126;
    }

    /* the child reads our standard input through a copy on fd 3..9 (the
     * child runs in its own process group, so a terminal is not passed) */
    int in_fd = -1;
    if (!isatty(0)) {
        in_fd = fcntl(0, F_DUPFD, 3);
        if (in_fd > 9) {
            close(in_fd);
            in_fd = -1;
        }
    }

    lg_err err = LG_ERR_INIT;
    lg_client *cl = NULL;
    lg_client_resp resp;
    json_t *j = NULL, *args = json_array();
    lg_proc_result res;
    int status = LG_EXIT_INTERNAL;
    memset(&res, 0, sizeof res);
    lg_client_resp_init(&resp);
    for (int i = 0; args && i < ncmd; i++)
        if (json_array_append_new(args, lg_utf8_json_string(cmd[i], strlen(cmd[i]))))
            break;
    if (!args || json_array_size(args) != (size_t)ncmd) {
        LG_ERR(&err, LG_ENOMEM, "out of memory");
        goto fail;
    }
    lg_client_opts co = {0};
    co.base_url = url;
    co.timeout_ms = 60000;
    if (lg_client_new(&co, &cl, &err))
        goto fail;

    if (approved) {
        json_t *ev = json_pack("{s:s,s:s,s:{s:s}}", "type", "note", "text", "approval", "data",
                               "approve", name);
        if (!ev) {
            LG_ERR(&err, LG_ENOMEM, "out of memory");
            goto fail;
        }
        if (post(cl, "/event", ev, &resp, &j, &err))
            goto fail;
        if (resp.status != 200) {
            LG_ERR(&err, LG_EINPUT, "the session refused the approval note (HTTP %d): %s",
                   resp.status, error_text(&resp, j));
            goto fail;
        }
        json_decref(j);
        j = NULL;
    }

    json_t *ask = json_pack("{s:s,s:O,s:s?}", "name", name, "args", args, "idem_key", idem);
    if (!ask) {
        LG_ERR(&err, LG_ENOMEM, "out of memory");
        goto fail;
    }
    if (post(cl, "/tool", ask, &resp, &j, &err))
        goto fail;
    if (resp.status == 409) {
        fprintf(stderr, "loopgate exec: replay diverged: %s\n", error_text(&resp, j));
        status = LG_EXIT_GATE;
        goto out;
    }
    if (resp.status != 200 || !json_is_object(j)) {
        LG_ERR(&err, LG_EINPUT, "the session at %s answered HTTP %d to the tool call '%s': %s",
               url, resp.status, name, error_text(&resp, j));
        goto fail;
    }
    if (json_is_true(json_object_get(j, "replay"))) {
        write_field(1, j, "stdout");
        write_field(2, j, "stderr");
        status = exit_status(lg_json_int(j, "exit_code", 0));
        goto out;
    }

    /* record: run it */
    {
        char script[64];
        const char **av = calloc((size_t)ncmd + 5, sizeof *av);
        if (!av) {
            LG_ERR(&err, LG_ENOMEM, "out of memory");
            goto fail;
        }
        if (in_fd >= 0)
            snprintf(script, sizeof script, "exec \"$@\" <&%d %d<&-", in_fd, in_fd);
        else
            snprintf(script, sizeof script, "exec \"$@\"");
        av[0] = "/bin/sh";
        av[1] = "-c";
        av[2] = script;
        av[3] = "loopgate-exec";
        for (int i = 0; i < ncmd; i++)
            av[4 + i] = cmd[i];
        lg_proc_spec spec = {0};
        spec.argv = av;
        int rc = lg_proc_run(&spec, &res, &err);
        free(av);
        if (rc)
            goto fail;
    }
    (void)!lg_fs_write_all(1, res.out.data, res.out.len);
    (void)!lg_fs_write_all(2, res.err.data, res.err.len);
    status = lg_proc_status(&res);
    {
        json_t *ev = json_pack("{s:s,s:s,s:O,s:o,s:o,s:i,s:I,s:s?}", "type", "tool", "name", name,
                               "args", args, "stdout",
                               lg_utf8_json_string(res.out.data, res.out.len), "stderr",
                               lg_utf8_json_string(res.err.data, res.err.len), "exit_code", status,
                               "duration_us", (json_int_t)(res.duration_ns / 1000),
                               "idempotency_key", idem);
        json_decref(j);
        j = NULL;
        if (!ev) {
            LG_ERR(&err, LG_ENOMEM, "out of memory");
            goto fail;
        }
        if (post(cl, "/event", ev, &resp, &j, &err) == 0 && resp.status != 200)
            LG_ERR(&err, LG_EINPUT, "the session did not store the tool event (HTTP %d): %s",
                   resp.status, error_text(&resp, j));
        if (lg_err_isset(&err))
            fprintf(stderr, "loopgate exec: warning: %s\n", err.msg); /* the command ran: keep its status */
    }
    goto out;
fail:
    status = lg_cli_report(&err);
    if (status == LG_EXIT_USAGE || status == 0)
        status = LG_EXIT_INTERNAL;
out:
    if (in_fd >= 0)
        close(in_fd);
    lg_proc_result_release(&res);
    json_decref(j);
    json_decref(args);
    lg_client_resp_release(&resp);
    lg_client_free(cl);
    return status;
}
