/* tests/test_proc.c - core/proc.c: spawn, capture, timeouts, process groups. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/proc.h"

static void ignore_sigpipe(void)
{
    signal(SIGPIPE, SIG_IGN);
}

TestSuite(proc, .init = ignore_sigpipe, .timeout = 60);

Test(proc, captures_stdout_stderr_and_exit_code)
{
    lg_proc_spec s = {.shell = "echo out; echo err >&2; exit 7"};
    lg_proc_result r;
    lg_err e = LG_ERR_INIT;
    cr_assert_eq(lg_proc_run(&s, &r, &e), 0, "%s", e.msg);
    cr_expect_str_eq(lg_buf_cstr(&r.out), "out\n");
    cr_expect_str_eq(lg_buf_cstr(&r.err), "err\n");
    cr_expect(r.exited);
    cr_expect_eq(r.exit_code, 7);
    cr_expect_eq(lg_proc_status(&r), 7);
    cr_expect_not(r.timed_out);
    lg_proc_result_release(&r);
}

Test(proc, argv_env_cwd_and_stdin)
{
    const char *argv[] = {"sh", "-c", "pwd; echo \"$LG_X/$HOME_UNSET\"; cat", NULL};
    const char *env[] = {"LG_X=forty-two", "HOME_UNSET", NULL};
    lg_proc_spec s = {.argv = argv, .env = env, .cwd = "/tmp", .stdin_data = "piped in", .stdin_len = 8};
    lg_proc_result r;
    lg_err e = LG_ERR_INIT;
    setenv("HOME_UNSET", "should-not-appear", 1);
    cr_assert_eq(lg_proc_run(&s, &r, &e), 0, "%s", e.msg);
    cr_expect_str_eq(lg_buf_cstr(&r.out), "/tmp\nforty-two/\npiped in");
    lg_proc_result_release(&r);
}

Test(proc, large_stdin_and_stdout_do_not_deadlock)
{
    static char big[1 << 20];
    memset(big, 'x', sizeof big);
    lg_proc_spec s = {.shell = "cat; cat /dev/null", .stdin_data = big, .stdin_len = sizeof big};
    lg_proc_result r;
    lg_err e = LG_ERR_INIT;
    cr_assert_eq(lg_proc_run(&s, &r, &e), 0, "%s", e.msg);
    cr_expect_eq(r.out.len, sizeof big);
    lg_proc_result_release(&r);
}

Test(proc, crash_is_a_signal_not_an_error)
{
    lg_proc_spec s = {.shell = "kill -SEGV $$"};
    lg_proc_result r;
    lg_err e = LG_ERR_INIT;
    cr_assert_eq(lg_proc_run(&s, &r, &e), 0);
    cr_expect_not(r.exited);
    cr_expect_eq(r.term_signal, SIGSEGV);
    cr_expect_eq(lg_proc_status(&r), 128 + SIGSEGV);
    lg_proc_result_release(&r);
}

Test(proc, timeout_kills_the_whole_group)
{
    /* the grandchild would hold stdout open for 30 s if not killed */
    char marker[64];
    snprintf(marker, sizeof marker, "/tmp/lg_proc_grandchild_%d", (int)getpid());
    char cmd[256];
    snprintf(cmd, sizeof cmd, "(sleep 30; touch %s) & sleep 30", marker);
    lg_proc_spec s = {.shell = cmd, .timeout_ms = 200, .grace_ms = 200};
    lg_proc_result r;
    lg_err e = LG_ERR_INIT;
    uint64_t t0 = lg_clock_mono_ns();
    cr_assert_eq(lg_proc_run(&s, &r, &e), 0);
    cr_expect(r.timed_out);
    cr_expect_not(r.exited);
    cr_expect_lt((lg_clock_mono_ns() - t0) / 1000000, 10000u);
    lg_proc_result_release(&r);
    cr_expect_eq(access(marker, F_OK), -1, "grandchild survived the group kill");
}

Test(proc, term_ignored_then_killed)
{
    lg_proc_spec s = {.shell = "trap '' TERM; sleep 30", .timeout_ms = 100, .grace_ms = 100};
    lg_proc_result r;
    lg_err e = LG_ERR_INIT;
    cr_assert_eq(lg_proc_run(&s, &r, &e), 0);
    cr_expect(r.timed_out);
    cr_expect_eq(r.term_signal, SIGKILL);
    lg_proc_result_release(&r);
}

Test(proc, exited_child_with_stray_grandchild_returns)
{
    lg_proc_spec s = {.shell = "sleep 30 & echo done"};
    lg_proc_result r;
    lg_err e = LG_ERR_INIT;
    uint64_t t0 = lg_clock_mono_ns();
    cr_assert_eq(lg_proc_run(&s, &r, &e), 0);
    cr_expect(r.exited);
    cr_expect_str_eq(lg_buf_cstr(&r.out), "done\n");
    cr_expect_lt((lg_clock_mono_ns() - t0) / 1000000, 10000u);
    lg_proc_result_release(&r);
}

Test(proc, output_cap_truncates)
{
    lg_proc_spec s = {.shell = "head -c 100000 /dev/zero", .out_cap = 1000};
    lg_proc_result r;
    lg_err e = LG_ERR_INIT;
    cr_assert_eq(lg_proc_run(&s, &r, &e), 0);
    cr_expect_eq(r.out.len, 1000u);
    cr_expect(r.out_truncated);
    cr_expect_eq(r.exit_code, 0);
    lg_proc_result_release(&r);
}

Test(proc, missing_command_names_it)
{
    const char *argv[] = {"lg-no-such-command", NULL};
    lg_proc_spec s = {.argv = argv};
    lg_proc_result r;
    lg_err e = LG_ERR_INIT;
    cr_expect_eq(lg_proc_run(&s, &r, &e), LG_EINPUT);
    cr_expect_str_eq(e.msg, "cannot run 'lg-no-such-command': command not found");
    lg_proc_result_release(&r);
}

Test(proc, cancel_flag_stops_child)
{
    volatile sig_atomic_t cancel = 1;
    lg_proc_spec s = {.shell = "sleep 30", .cancel = &cancel, .grace_ms = 100};
    lg_proc_result r;
    lg_err e = LG_ERR_INIT;
    cr_assert_eq(lg_proc_run(&s, &r, &e), 0);
    cr_expect(r.cancelled);
    cr_expect_not(r.timed_out);
    cr_expect_eq(r.term_signal, SIGTERM);
    lg_proc_result_release(&r);
}
