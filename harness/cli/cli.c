#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/suggest.h"

int lg_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "loopgate %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'loopgate %s --help' for usage.\n", cmd);
    return LG_EXIT_USAGE;
}

int lg_cli_report(const lg_err *err)
{
    if (!lg_err_isset(err))
        return 0;
    fprintf(stderr, "loopgate: %s\n", err->msg);
    if (getenv("LOOPGATE_DEBUG") && err->file)
        fprintf(stderr, "loopgate: (set at %s:%d)\n", err->file, err->line);
    return lg_err_exit_code(err->code);
}

static void unknown_option(const char *cmd, const char *arg, const struct option *longopts)
{
    const char *names[128];
    char storage[128][64];
    size_t n = 0;
    const char *guess;
    char word[64];

    /* compare "--name" forms, ignoring any "=value" */
    snprintf(word, sizeof word, "%s", arg);
    char *eq = strchr(word, '=');
    if (eq)
        *eq = '\0';
    for (const struct option *o = longopts; o && o->name && n < 127; o++, n++) {
        snprintf(storage[n], sizeof storage[n], "--%s", o->name);
        names[n] = storage[n];
    }
    names[n] = NULL;
    guess = strncmp(word, "--", 2) == 0 ? lg_suggest(word, names) : NULL;
    if (guess)
        lg_cli_usage_error(cmd, "unknown option '%s' (did you mean '%s'?)", word, guess);
    else
        lg_cli_usage_error(cmd, "unknown option '%s'", word);
}

int lg_cli_getopt(int argc, char **argv, const char *shortopts,
                  const struct option *longopts, const char *cmd, const char *usage)
{
    char spec[128];
    int c, prev_optind = optind ? optind : 1;

    /* leading ':' tells missing arguments from unknown options. Options may
     * follow operands (GNU permutation) unless shortopts starts with '+'
     * (`loopgate exec -- CMD -x` must leave -x alone). */
    if (shortopts[0] == '+')
        snprintf(spec, sizeof spec, "+:%sh", shortopts + 1);
    else
        snprintf(spec, sizeof spec, ":%sh", shortopts);
    opterr = 0;
    c = getopt_long(argc, argv, spec, longopts, NULL);
    if (c == 'h') {
        fputs(usage, stdout);
        return LG_CLI_HELP;
    }
    if (c == '?') {
        const char *arg = argv[optind - 1 >= prev_optind ? optind - 1 : prev_optind];
        if (optopt && !(arg[0] == '-' && arg[1] == '-')) {
            char s[3] = {'-', (char)optopt, 0};
            unknown_option(cmd, s, longopts);
        } else {
            unknown_option(cmd, arg, longopts);
        }
        return LG_CLI_BAD;
    }
    if (c == ':') {
        const char *arg = argv[optind - 1];
        lg_cli_usage_error(cmd, "option '%s' needs a value", arg);
        return LG_CLI_BAD;
    }
    return c;
}

int lg_cli_getopt_operand(int argc, char **argv, const char *shortopts,
                          const struct option *longopts, const char *cmd, const char *usage,
                          const char **operand)
{
    char spec[128];
    int c;

    /* stop at each operand ('+'), take it and carry on */
    snprintf(spec, sizeof spec, "+%s", shortopts);
    while ((c = lg_cli_getopt(argc, argv, spec, longopts, cmd, usage)) == -1 && optind < argc) {
        if (*operand) {
            lg_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
            return LG_CLI_BAD;
        }
        *operand = argv[optind++];
    }
    return c;
}

int lg_cli_parse_u64(const char *cmd, const char *flag, const char *arg, unsigned long long max,
                     unsigned long long *out)
{
    char *end;
    unsigned long long v;

    errno = 0;
    if (!arg || !*arg || *arg == '-' || *arg == '+')
        goto bad;
    v = strtoull(arg, &end, 10);
    if (errno || *end || v > max)
        goto bad;
    *out = v;
    return 0;
bad:
    lg_cli_usage_error(cmd, "%s expects an integer from 0 to %llu, got '%s'", flag, max,
                       arg ? arg : "");
    return LG_CLI_BAD;
}

int lg_cli_parse_double(const char *cmd, const char *flag, const char *arg, double min,
                        double max, double *out)
{
    char *end;
    double v;

    errno = 0;
    if (!arg || !*arg)
        goto bad;
    v = strtod(arg, &end);
    if (errno || *end || !isfinite(v) || v < min || v > max)
        goto bad;
    *out = v;
    return 0;
bad:
    lg_cli_usage_error(cmd, "%s expects a number from %g to %g, got '%s'", flag, min, max,
                       arg ? arg : "");
    return LG_CLI_BAD;
}

bool lg_cli_color(int fd)
{
    const char *nc = getenv("NO_COLOR");
    if (nc && *nc)
        return false;
    return isatty(fd);
}
