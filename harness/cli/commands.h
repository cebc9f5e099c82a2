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
int cmd_report(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_compact(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_runs(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_exec(int argc, char **argv);

extern const char cmd_version_usage[];
extern const char cmd_cases_usage[];
extern const char cmd_sim_server_usage[];
extern const char cmd_proxy_usage[];
extern const char cmd_report_usage[];
extern const char cmd_compare_usage[];
extern const char cmd_show_usage[];
extern const char cmd_export_usage[];
extern const char cmd_import_usage[];
extern const char cmd_compact_usage[];
extern const char cmd_run_usage[];
extern const char cmd_runs_usage[];
extern const char cmd_merge_usage[];
extern const char cmd_exec_usage[];

#endif
