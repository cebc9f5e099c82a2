/*
 * harness/cli/cli.h - shared plumbing for the loopgate subcommands.
 *
 * Each subcommand lives in its own cmd_NAME.c and exports one
 * `int cmd_NAME(int argc, char **argv)` returning the process exit status
 * (0 ok, 1 a gate failed, 2 bad usage or input, 3 internal error). It owns
 * its option table and a single usage text used for --help and bad flags.
 * This is the only layer that prints errors and decides exit codes.
 */
#ifndef LG_CLI_H
#define LG_CLI_H

#include <getopt.h>
#include <stdbool.h>

#include "core/err.h"

enum { LG_EXIT_OK = 0, LG_EXIT_GATE = 1, LG_EXIT_USAGE = 2, LG_EXIT_INTERNAL = 3 };

typedef struct lg_cli_cmd {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary; /* one line for `loopgate --help` */
    const char *usage;   /* full text for `loopgate CMD --help` */
} lg_cli_cmd;

/* The command table (main.c). NULL-name terminated. */
extern const lg_cli_cmd lg_cli_commands[];

/* Returned by lg_cli_getopt when --help was printed: the command returns 0. */
#define LG_CLI_HELP (-100)
/* Returned by lg_cli_getopt after printing a usage error: return 2. */
#define LG_CLI_BAD (-101)

/*
 * getopt_long for subcommands. Like getopt_long, but: handles --help/-h
 * (prints `usage` to stdout, returns LG_CLI_HELP); on an unknown option or a
 * missing argument prints "loopgate CMD: unknown option '--cuont' (did you
 * mean '--count'?)" plus a pointer to --help, and returns LG_CLI_BAD.
 * Returns -1 at the end of options. main() sets optind = 0 before running a
 * subcommand, so each subcommand parses its argv afresh (argv[0] is its name).
 * Without a leading '+' in `shortopts` options and operands may mix (GNU
 * permutation: collect operands from argv[optind..] after -1). With '+',
 * parsing stops at each operand: the caller takes argv[optind++] and calls
 * again, which also allows `exec -- CMD -x`.
 */
int lg_cli_getopt(int argc, char **argv, const char *shortopts,
                  const struct option *longopts, const char *cmd, const char *usage);

/* lg_cli_getopt() for a command that takes one operand among its options
 * (`loopgate show FILE --session K`, `loopgate show --session K FILE`):
 * the operand goes to *operand, a second one is a usage error (returns
 * LG_CLI_BAD). Options may come before or after it; `shortopts` is given
 * without the leading '+', which this adds. */
int lg_cli_getopt_operand(int argc, char **argv, const char *shortopts,
                          const struct option *longopts, const char *cmd, const char *usage,
                          const char **operand);

/* Prints "loopgate CMD: MESSAGE" and the --help hint; returns 2. */
int lg_cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints "loopgate: MESSAGE" for a recorded error and returns its exit code. */
int lg_cli_report(const lg_err *err);

/* Parses a non-negative integer flag value; prints a usage error naming
 * the flag on failure. Returns 0 or LG_CLI_BAD. */
int lg_cli_parse_u64(const char *cmd, const char *flag, const char *arg, unsigned long long max,
                     unsigned long long *out);
/* Parses a double flag value in [min, max]. Returns 0 or LG_CLI_BAD. */
int lg_cli_parse_double(const char *cmd, const char *flag, const char *arg, double min,
                        double max, double *out);

/* True when stdout is a terminal and NO_COLOR is unset or empty. */
bool lg_cli_color(int fd);

#endif
