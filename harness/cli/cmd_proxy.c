/*
 * harness/cli/cmd_proxy.c - `loopgate proxy`: the record/replay proxy,
 * standalone, until SIGINT or SIGTERM.
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "core/suggest.h"
#include "recorder/match.h"
#include "recorder/proxy.h"
#include "recorder/redact.h"
#include "recorder/store.h"

const char cmd_proxy_usage[] =
    "usage: loopgate proxy --mode MODE --store FILE [--upstream URL] [--port P]\n"
    "                      [--pace recorded|fast] [--on-divergence fail|live]\n"
    "                      [--fail-on-unused] [--session KEY] [--ignore PATH]...\n"
    "                      [--redact NAME]... [--redact-path PATH[=NAME]]...\n"
    "                      [--redact-pattern NAME=REGEX]... [--no-env-key]\n"
    "\n"
    "Record or replay the model API calls of any program that takes a base URL.\n"
    "The URL root maps to the upstream root, so point the program at it with\n"
    "  OPENAI_BASE_URL=http://127.0.0.1:P/v1  ANTHROPIC_BASE_URL=http://127.0.0.1:P\n"
    "Prints 'listening on http://127.0.0.1:P' once ready; stops on SIGINT or\n"
    "SIGTERM, stores the sessions and prints a summary on stderr.\n"
    "\n"
    "Modes:\n"
    "  record          forward to --upstream and store every call\n"
    "  replay          answer from --store without any network; a request that\n"
    "                  differs from the recording gets HTTP 409 naming the call,\n"
    "                  the JSON path of the first difference and a diff\n"
    "  record-missing  replay what matches, forward and store the rest\n"
    "  passthrough     forward only, store nothing\n"
    "\n"
    "Options:\n"
    "  --store FILE            trace file (.lgt); created when recording\n"
    "  --upstream URL          the real API, e.g. https://api.openai.com\n"
    "  --port P                port on 127.0.0.1 (default 0: a random free port)\n"
    "  --pace recorded|fast    replay streams at the recorded pace (default fast)\n"
    "  --on-divergence fail|live\n"
    "                          in replay: answer 409 (default), or go upstream from\n"
    "                          the first difference and record the new branch\n"
    "  --fail-on-unused        exit 1 when recorded calls were never requested\n"
    "  --session KEY           session key when a request has no X-Loopgate-Session\n"
    "                          header (default 'default')\n"
    "  --ignore PATH           a volatile request field left out of matching,\n"
    "                          e.g. metadata.request_id or messages[*].id\n"
    "  --redact NAME           a built-in pattern to redact before storing: email,\n"
    "                          api_key\n"
    "  --redact-path PATH[=NAME]  replace this request field by <redacted:NAME>\n"
    "  --redact-pattern NAME=REGEX  replace matches (POSIX ERE) by <redacted:NAME>\n"
    "  --no-env-key            do not add OPENAI_API_KEY / ANTHROPIC_API_KEY from\n"
    "                          the environment to requests that carry no key\n"
    "  -h, --help              show this help\n"
    "\n"
    "Credentials (authorization, x-api-key, api-key, cookies) are never stored.\n"
    "\n"
    "Exit status: 0 ok; 1 a replay diverged, or unused recorded calls with\n"
    "--fail-on-unused; 2 bad usage or trace file; 3 internal error.\n";

static int parse_choice(const char *cmd, const char *flag, const char *arg,
                        const char *const *names, int *out)
{
    for (int i = 0; names[i]; i++) {
        if (strcmp(arg, names[i]) == 0) {
            *out = i;
            return 0;
        }
    }
    const char *guess = lg_suggest(arg, names);
    if (guess)
        lg_cli_usage_error(cmd, "%s: unknown value '%s' (did you mean '%s'?)", flag, arg, guess);
    else
        lg_cli_usage_error(cmd, "%s: unknown value '%s'", flag, arg);
    return LG_CLI_BAD;
}

int cmd_proxy(int argc, char **argv)
{
    static const struct option opts[] = {
        {"mode", required_argument, NULL, 'm'},
        {"store", required_argument, NULL, 's'},
        {"upstream", required_argument, NULL, 'u'},
        {"port", required_argument, NULL, 'p'},
        {"pace", required_argument, NULL, 'P'},
        {"on-divergence", required_argument, NULL, 'd'},
        {"fail-on-unused", no_argument, NULL, 'U'},
        {"session", required_argument, NULL, 'S'},
        {"ignore", required_argument, NULL, 'i'},
        {"redact", required_argument, NULL, 'r'},
        {"redact-path", required_argument, NULL, 'R'},
        {"redact-pattern", required_argument, NULL, 'x'},
        {"no-env-key", no_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const char *const modes[] = {"record", "replay", "record-missing", "passthrough", NULL};
    static const char *const paces[] = {"fast", "recorded", NULL};
    static const char *const divs[] = {"fail", "live", NULL};
    const char *cmd = "proxy";
    lg_proxy_opts po;
    const char *store_path = NULL;
    int mode = -1, c, rc = LG_EXIT_OK;
    bool fail_unused = false;
    unsigned long long port = 0;
    lg_err err = LG_ERR_INIT;
    lg_match_config *mc = lg_match_config_new();
    lg_redact *rd = lg_redact_new();
    lg_store *st = NULL;
    lg_proxy *px = NULL;

    memset(&po, 0, sizeof po);
    po.standalone = true;
    po.env_credentials = true;
    if (!mc || !rd) {
        LG_ERR(&err, LG_ENOMEM, "out of memory");
        rc = lg_cli_report(&err);
        goto out;
    }
    while ((c = lg_cli_getopt(argc, argv, "", opts, cmd, cmd_proxy_usage)) != -1) {
        int bad = 0;
        switch (c) {
        case LG_CLI_HELP: rc = LG_EXIT_OK; goto out;
        case 'm': bad = parse_choice(cmd, "--mode", optarg, modes, &mode); break;
        case 's': store_path = optarg; break;
        case 'u': po.upstream = optarg; break;
        case 'p': bad = lg_cli_parse_u64(cmd, "--port", optarg, 65535, &port); break;
        case 'P': bad = parse_choice(cmd, "--pace", optarg, paces, &po.pace); break;
        case 'd': bad = parse_choice(cmd, "--on-divergence", optarg, divs, &po.on_divergence); break;
        case 'U': fail_unused = true; break;
        case 'S': po.default_session = optarg; break;
        case 'n': po.env_credentials = false; break;
        case 'i':
            if (lg_match_config_ignore(mc, optarg, &err)) {
                bad = lg_cli_usage_error(cmd, "--ignore '%s': %s", optarg, err.msg);
                lg_err_clear(&err);
            }
            break;
        case 'r':
            if (lg_redact_add_builtin(rd, optarg, &err)) {
                bad = lg_cli_usage_error(cmd, "--redact: %s", err.msg);
                lg_err_clear(&err);
            }
            break;
        case 'R': {
            char *eq = strchr(optarg, '=');
            if (eq)
                *eq = 0;
            if (lg_redact_add_path(rd, optarg, eq ? eq + 1 : NULL, &err)) {
                bad = lg_cli_usage_error(cmd, "--redact-path '%s': %s", optarg, err.msg);
                lg_err_clear(&err);
            }
            break;
        }
        case 'x': {
            char *eq = strchr(optarg, '=');
            if (!eq) {
                bad = lg_cli_usage_error(cmd, "--redact-pattern expects NAME=REGEX, got '%s'", optarg);
                break;
            }
            *eq = 0;
            if (lg_redact_add_pattern(rd, optarg, eq + 1, false, &err)) {
                bad = lg_cli_usage_error(cmd, "--redact-pattern '%s': %s", optarg, err.msg);
                lg_err_clear(&err);
            }
            break;
        }
        default: bad = LG_CLI_BAD; break;
        }
        if (bad) {
            rc = LG_EXIT_USAGE;
            goto out;
        }
    }
    if (optind < argc) {
        rc = lg_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
        goto out;
    }
    if (mode < 0) {
        rc = lg_cli_usage_error(cmd, "--mode is required (record, replay, record-missing or "
                                     "passthrough)");
        goto out;
    }
    if (!store_path && mode != LG_PROXY_PASSTHROUGH) {
        rc = lg_cli_usage_error(cmd, "--store FILE is required in %s mode", modes[mode]);
        goto out;
    }
    /* the upstream key itself must never be stored, whatever the body says */
    const char *envs[] = {"OPENAI_API_KEY", "ANTHROPIC_API_KEY"};
    for (int i = 0; i < 2; i++) {
        const char *k = getenv(envs[i]);
        if (k && strlen(k) >= 4 && lg_redact_add_literal(rd, "api_key", k, strlen(k), &err)) {
            rc = lg_cli_report(&err);
            goto out;
        }
    }
    if (store_path) {
        bool writes = mode != LG_PROXY_REPLAY || po.on_divergence == LG_PROXY_DIVERGE_LIVE;
        if (lg_store_open(store_path, writes ? LG_STORE_WRITE : LG_STORE_READ, &st, &err)) {
            rc = lg_cli_report(&err);
            goto out;
        }
    }
    po.mode = mode;
    po.store = st;
    po.port = (unsigned)port;
    po.match = mc;
    po.redact = rd;

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (lg_proxy_start(&po, &px, &err)) {
        if (err.code == LG_EIO)
            err.code = LG_EUSAGE; /* the port: the user's to fix */
        rc = lg_cli_report(&err);
        goto out;
    }
    printf("listening on http://127.0.0.1:%u\n", lg_proxy_port(px));
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);

    lg_proxy_report total;
    int src = lg_proxy_stop(px, &total, &err);
    px = NULL;
    if (total.message)
        fputs(total.message, stderr);
    fprintf(stderr,
            "loopgate proxy: %zu calls (%zu replayed, %zu upstream), %zu divergences, "
            "%zu unused recorded calls, %zu loop events\n",
            total.calls, total.replayed, total.upstream, total.divergences, total.unused,
            total.events);
    if (src) {
        rc = lg_cli_report(&err);
    } else if (total.divergences && mode == LG_PROXY_REPLAY &&
               po.on_divergence == LG_PROXY_DIVERGE_FAIL) {
        rc = LG_EXIT_GATE;
    } else if (fail_unused && total.unused) {
        fprintf(stderr, "loopgate proxy: --fail-on-unused: %zu recorded calls were never "
                        "requested\n", total.unused);
        rc = LG_EXIT_GATE;
    }
    lg_proxy_report_release(&total);
out:
    if (px)
        (void)lg_proxy_stop(px, NULL, NULL);
    lg_store_close(st);
    lg_redact_free(rd);
    lg_match_config_free(mc);
    return rc;
}
