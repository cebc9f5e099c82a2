/*
 * harness/cli/commands.h - one entry point per subcommand (cmd_NAME.c).
 * Add the declaration here and the row in main.c's table.
 */
#ifndef LG_COMMANDS_H
#define LG_COMMANDS_H

int cmd_version(int argc, char **argv);
int cmd_cases(int argc, char **argv);
int cmd_sim_server(int argc, char **argv);
int cmd_proxy(int argc, char **argv);

extern const char cmd_version_usage[];
extern const char cmd_cases_usage[];
extern const char cmd_sim_server_usage[];
extern const char cmd_proxy_usage[];

#endif
