/*
 * harness/cli/cmd_sim_server.c - `loopgate sim-server`: the simulated model
 * over HTTP until SIGINT or SIGTERM.
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "harness/sim.h"
#include "harness/sim_model.h"
#include "harness/sim_server.h"
#include "harness/suite.h"

const char cmd_sim_server_usage[] =
    "usage: loopgate sim-server [--suite FILE] [--port P] [--seed S] [--faults SPEC]\n"
    "                           [--latency-ms N] [--chunk-gap-ms N] [--slow-ms N]\n"
    "                           [--retry-after-ms N] [--tool-turns N]\n"
    "\n"
    "Serve a deterministic OpenAI- and Anthropic-compatible model on 127.0.0.1:\n"
    "POST /v1/chat/completions, /v1/responses, /v1/embeddings, /v1/messages and\n"
    "GET /v1/models, streaming and not. While the request declares tools and has\n"
    "fewer than --tool-turns tool results, the model asks for the first tool with\n"
    "arguments taken from the first user message; then it answers with a text that\n"
    "names a hash of the request, so any change in what a loop sends shows.\n"
    "\n"
    "With --suite, the suite's `sim:` block is the model's behaviour (docs/suite.md):\n"
    "it reads each case's hidden answer and answers right or wrong with known\n"
    "probabilities, improving with feedback, with the latency, token counts and\n"
    "faults declared there. It learns the case and trial of a request from the\n"
    "X-Loopgate-Case and X-Loopgate-Trial headers (the loopgate proxy adds them),\n"
    "else from \"case=I:trial=T\" in the request's `user` field, else by finding\n"
    "a case's text in the first user message. Flags given here override the block.\n"
    "\n"
    "Prints 'listening on http://127.0.0.1:P' once ready; point a loop at it with\n"
    "  OPENAI_BASE_URL=http://127.0.0.1:P/v1  ANTHROPIC_BASE_URL=http://127.0.0.1:P\n"
    "Stops on SIGINT or SIGTERM.\n"
    "\n"
    "Options:\n"
    "  --suite FILE        answer the cases of this suite with its `sim:` behaviour\n"
    "  --port P            port to listen on (default 0: a random free port)\n"
    "  --seed S            seed of the fault draws (default 0)\n"
    "  --faults SPEC       fault rates, e.g. 429:0.05,500:0.02,cut:0.01,slow:0.1\n"
    "                      (429 with Retry-After, 500, a response cut mid-way,\n"
    "                      a response delayed by --slow-ms); drawn per request\n"
    "                      from PCG32, so a seed reproduces them\n"
    "  --latency-ms N      delay before every response (default 0)\n"
    "  --chunk-gap-ms N    delay between streamed chunks (default 0)\n"
    "  --slow-ms N         extra delay of a slow fault (default 2000)\n"
    "  --retry-after-ms N  advertised by 429 responses (default 1000)\n"
    "  --tool-turns N      tool results before the final answer (default 2)\n"
    "  -h, --help          show this help\n"
    "\n"
    "Exit status: 0 after a signal, 2 bad usage or the port is taken, 3 internal error.\n";

int cmd_sim_server(int argc, char **argv)
{
    static const struct option opts[] = {
        {"suite", required_argument, NULL, 'S'},
        {"port", required_argument, NULL, 'p'},
        {"seed", required_argument, NULL, 's'},
        {"faults", required_argument, NULL, 'f'},
        {"latency-ms", required_argument, NULL, 'l'},
        {"chunk-gap-ms", required_argument, NULL, 'g'},
        {"slow-ms", required_argument, NULL, 'w'},
        {"retry-after-ms", required_argument, NULL, 'r'},
        {"tool-turns", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "sim-server";
    lg_sim_config cfg, flags;
    unsigned long long port = 0, v;
    lg_err err = LG_ERR_INIT;
    const char *suite_path = NULL;
    bool have_seed = false, have_faults = false, have[5] = {false, false, false, false, false};
    lg_suite *suite = NULL;
    lg_sim_model *model = NULL;
    int c, rc = LG_EXIT_OK;

    lg_sim_config_init(&flags);
    while ((c = lg_cli_getopt(argc, argv, "", opts, cmd, cmd_sim_server_usage)) != -1) {
        if (c == LG_CLI_HELP)
            return LG_EXIT_OK;
        if (c == LG_CLI_BAD)
            return LG_EXIT_USAGE;
        switch (c) {
        case 'S':
            suite_path = optarg;
            break;
        case 'p':
            if (lg_cli_parse_u64(cmd, "--port", optarg, 65535, &port))
                return LG_EXIT_USAGE;
            break;
        case 's':
            if (lg_cli_parse_u64(cmd, "--seed", optarg, UINT64_MAX, &v))
                return LG_EXIT_USAGE;
            flags.seed = v;
            have_seed = true;
            break;
        case 'f':
            if (lg_sim_parse_faults(optarg, &flags, &err))
                return lg_cli_usage_error(cmd, "%s", err.msg);
            have_faults = true;
            break;
        case 'l':
        case 'g':
        case 'w':
        case 'r': {
            const char *flag = c == 'l' ? "--latency-ms" : c == 'g' ? "--chunk-gap-ms"
                               : c == 'w' ? "--slow-ms" : "--retry-after-ms";
            if (lg_cli_parse_u64(cmd, flag, optarg, 3600000, &v))
                return LG_EXIT_USAGE;
            unsigned *dst = c == 'l' ? &flags.latency_ms : c == 'g' ? &flags.chunk_gap_ms
                            : c == 'w' ? &flags.slow_ms : &flags.retry_after_ms;
            *dst = (unsigned)v;
            have[c == 'l' ? 0 : c == 'g' ? 1 : c == 'w' ? 2 : 3] = true;
            break;
        }
        case 't':
            if (lg_cli_parse_u64(cmd, "--tool-turns", optarg, 1000, &v))
                return LG_EXIT_USAGE;
            flags.tool_turns = (unsigned)v;
            have[4] = true;
            break;
        default:
            return LG_EXIT_USAGE;
        }
    }
    if (optind < argc)
        return lg_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);

    /* the suite's behaviour, then the flags on top */
    cfg = flags;
    if (suite_path) {
        if (lg_suite_load(suite_path, &suite, &err) ||
            lg_sim_model_from_suite(suite, &model, &err)) {
            rc = lg_cli_report(&err);
            goto out;
        }
        lg_sim_model_config(model, &cfg);
        if (have_seed)
            cfg.seed = flags.seed;
        if (have_faults) {
            cfg.p429 = flags.p429;
            cfg.p500 = flags.p500;
            cfg.pcut = flags.pcut;
            cfg.pslow = flags.pslow;
        }
        if (have[0])
            cfg.latency_ms = flags.latency_ms;
        if (have[1])
            cfg.chunk_gap_ms = flags.chunk_gap_ms;
        if (have[2])
            cfg.slow_ms = flags.slow_ms;
        if (have[3])
            cfg.retry_after_ms = flags.retry_after_ms;
        if (have[4])
            cfg.tool_turns = flags.tool_turns;
    }

    /* Block the stop signals before any thread exists, so every server thread
     * inherits the mask and only sigwait() below sees them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    lg_sim_server *srv = NULL;
    if (lg_sim_server_start(&cfg, (unsigned)port, &srv, &err)) {
        if (err.code == LG_EIO)
            err.code = LG_EUSAGE; /* a taken port is the user's to fix: exit 2 */
        rc = lg_cli_report(&err);
        goto out;
    }
    printf("listening on http://127.0.0.1:%u\n", lg_sim_server_port(srv));
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    lg_sim_server_stop(srv);
out:
    lg_sim_model_free(model);
    lg_suite_free(suite);
    return rc;
}
