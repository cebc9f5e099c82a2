/* tests/test_compare.c - harness/compare.c: pairing cases, the McNemar
 * verdict, flipped cases, case rules and the power note. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "harness/compare.h"

Test(compare, names)
{
    lg_case_rule r = LG_CASE_ANY;
    cr_expect_str_eq(lg_case_rule_name(LG_CASE_MAJORITY), "majority");
    cr_expect_str_eq(lg_case_rule_name((lg_case_rule)7), "unknown");
    cr_expect(lg_case_rule_from_name("all", &r));
    cr_expect_eq(r, LG_CASE_ALL);
    cr_expect_not(lg_case_rule_from_name("most", &r));
    cr_expect_eq(r, LG_CASE_ALL);
    cr_expect_str_eq(lg_verdict_name(LG_VERDICT_REGRESSED), "regressed");
    cr_expect_str_eq(lg_verdict_name(LG_VERDICT_IMPROVED), "improved");
    cr_expect_str_eq(lg_verdict_name(LG_VERDICT_NO_CHANGE), "no significant change");
}

Test(compare, case_rules)
{
    lg_case_tally two_of_three = {0, 3, 2}, one_of_two = {0, 2, 1}, none = {0, 0, 0};
    cr_expect(lg_case_passes(&two_of_three, LG_CASE_MAJORITY));
    cr_expect_not(lg_case_passes(&one_of_two, LG_CASE_MAJORITY)); /* a tie is not a majority */
    cr_expect_not(lg_case_passes(&two_of_three, LG_CASE_ALL));
    cr_expect(lg_case_passes(&one_of_two, LG_CASE_ANY));
    cr_expect_not(lg_case_passes(&none, LG_CASE_ANY));
}

Test(compare, regression_with_flipped_cases)
{
    /* baseline cases 0..9 and 20; candidate 0..9 and 30.
     * case:   0    1    2    3    4    5    6    7    8    9
     * base:  3/3  3/3  3/3  3/3  3/3  3/3  2/3  0/3  1/3  0/3
     * cand:  0/3  1/3  0/3  3/3  3/3  3/3  3/3  0/3  2/3  0/3
     * majority: base P P P P P P P F F F ; cand F F F P P P P F P F
     * b (P->F) = cases 0 1 2 = 3 ; c (F->P) = case 8 = 1
     * both pass 3,4,5,6 = 4 ; both fail 7,9 = 2 ; p = 2*(1+4)/16 = 0.625 */
    lg_case_tally base[11], cand[11];
    static const uint32_t bc[10] = {3, 3, 3, 3, 3, 3, 2, 0, 1, 0};
    static const uint32_t cc[10] = {0, 1, 0, 3, 3, 3, 3, 0, 2, 0};
    lg_compare c;
    lg_err err = LG_ERR_INIT;
    for (uint32_t i = 0; i < 10; i++) {
        base[i] = (lg_case_tally){i, 3, bc[i]};
        cand[i] = (lg_case_tally){i, 3, cc[i]};
    }
    base[10] = (lg_case_tally){20, 3, 3};
    cand[10] = (lg_case_tally){30, 3, 0};
    cr_assert_eq(lg_compare_cases(base, 11, cand, 11, LG_CASE_MAJORITY, 0.05, &c, &err), 0, "%s",
                 err.msg);
    cr_expect_eq(c.shared, 10);
    cr_expect_eq(c.base_only, 1);
    cr_expect_eq(c.cand_only, 1);
    cr_expect_eq(c.both_pass, 4);
    cr_expect_eq(c.both_fail, 2);
    cr_expect_eq(c.b, 3);
    cr_expect_eq(c.c, 1);
    cr_expect_eq(c.regressed[0], 0);
    cr_expect_eq(c.regressed[2], 2);
    cr_expect_eq(c.improved[0], 8);
    cr_expect_eq(c.base_rate, 0.7);
    cr_expect_eq(c.cand_rate, 0.5);
    cr_expect(fabs(c.p_value - 0.625) < 1e-13, "p %g", c.p_value);
    cr_expect_eq(c.verdict, LG_VERDICT_NO_CHANGE);
    lg_compare_release(&c);
    lg_compare_release(&c); /* twice is fine */

    /* under "all", case 6 (2/3 -> 3/3) flips to pass and case 8 (1/3 ->
     * 2/3) fails in both: c = 1, the improved case is 6 */
    cr_assert_eq(lg_compare_cases(base, 11, cand, 11, LG_CASE_ALL, 0.05, &c, &err), 0);
    cr_expect_eq(c.b, 3);
    cr_expect_eq(c.c, 1);
    cr_expect_eq(c.improved[0], 6);
    cr_expect_eq(c.both_fail, 3);
    lg_compare_release(&c);
}

Test(compare, significant_regression_and_improvement)
{
    /* 12 cases all passing in the baseline; 9 fail in the candidate:
     * b = 9, c = 0, p = 2/512 = 0.00390625 < 0.05: regressed */
    lg_case_tally base[12], cand[12];
    lg_compare c;
    lg_err err = LG_ERR_INIT;
    for (uint32_t i = 0; i < 12; i++) {
        base[i] = (lg_case_tally){i, 1, 1};
        cand[i] = (lg_case_tally){i, 1, i >= 9};
    }
    cr_assert_eq(lg_compare_cases(base, 12, cand, 12, LG_CASE_MAJORITY, 0.05, &c, &err), 0);
    cr_expect_eq(c.b, 9);
    cr_expect(fabs(c.p_value - 0.00390625) < 1e-15);
    cr_expect_eq(c.verdict, LG_VERDICT_REGRESSED);
    lg_compare_release(&c);
    cr_assert_eq(lg_compare_cases(cand, 12, base, 12, LG_CASE_MAJORITY, 0.05, &c, &err), 0);
    cr_expect_eq(c.verdict, LG_VERDICT_IMPROVED);
    lg_compare_release(&c);
    /* at alpha 0.001 the same data is no significant change */
    cr_assert_eq(lg_compare_cases(base, 12, cand, 12, LG_CASE_MAJORITY, 0.001, &c, &err), 0);
    cr_expect_eq(c.verdict, LG_VERDICT_NO_CHANGE);
    lg_compare_release(&c);
}

Test(compare, bad_input)
{
    lg_case_tally a[2] = {{3, 1, 1}, {2, 1, 1}}, ok[1] = {{1, 1, 1}};
    lg_compare c;
    lg_err err = LG_ERR_INIT;
    cr_expect_eq(lg_compare_cases(a, 2, ok, 1, LG_CASE_MAJORITY, 0.05, &c, &err), LG_EINPUT);
    cr_expect_str_eq(err.msg, "compare: baseline cases are not in ascending order without "
                              "duplicates (case 2 after case 3)");
    lg_err_clear(&err);
    cr_expect_eq(lg_compare_cases(ok, 1, ok, 1, LG_CASE_MAJORITY, 0.0, &c, &err), LG_EINPUT);
    cr_expect_str_eq(err.msg, "compare: alpha 0 is not in (0, 1)");
    cr_expect_null(c.regressed);
}

Test(compare, power_note)
{
    /* 20 shared cases, 18 passing in the baseline: rate 0.9. A drop of
     * 0.05: psi = 0.9*0.15 + 0.85*0.1 = 0.22, n = 688.34 -> 689 (see
     * test_stats.c power.connor_formula) */
    lg_case_tally base[20];
    lg_compare c;
    lg_err err = LG_ERR_INIT;
    lg_buf b = LG_BUF_INIT;
    for (uint32_t i = 0; i < 20; i++)
        base[i] = (lg_case_tally){i, 1, i < 18};
    cr_assert_eq(lg_compare_cases(base, 20, base, 20, LG_CASE_MAJORITY, 0.05, &c, &err), 0);
    cr_assert_eq(lg_compare_power_note(&c, 0.05, &b, &err), 0, "%s", err.msg);
    cr_expect_str_eq(lg_buf_cstr(&b), "Detecting a drop of 0.05 from 0.9 (alpha 0.05, power 0.8) "
                                      "needs about 689 shared cases; this comparison has 20.");
    lg_buf_reset(&b);
    cr_assert_eq(lg_compare_power_note(&c, 0.95, &b, &err), 0);
    cr_expect_str_eq(lg_buf_cstr(&b), "The baseline passes 0.9 of the shared cases, so a drop of "
                                      "0.95 cannot be detected.");
    lg_buf_reset(&b);
    cr_expect_eq(lg_compare_power_note(&c, 0, &b, &err), LG_EINPUT);
    cr_expect_str_eq(err.msg, "power note: drop 0 is not in (0, 1)");
    lg_compare_release(&c);
    cr_assert_eq(lg_compare_cases(base, 0, base, 20, LG_CASE_MAJORITY, 0.05, &c, &err), 0);
    cr_assert_eq(lg_compare_power_note(&c, 0.05, &b, &err), 0);
    cr_expect_str_eq(lg_buf_cstr(&b), "No case is in both runs, so no drop can be detected.");
    lg_compare_release(&c);
    lg_buf_release(&b);
}
