#include "outcome.h"

#include <string.h>

const char *const lg_term_reason_names[LG_TERM_COUNT + 1] = {
    [LG_TERM_SUCCESS] = "success",
    [LG_TERM_VALIDATOR_FAILED] = "validator_failed",
    [LG_TERM_MAX_ITERATIONS] = "max_iterations",
    [LG_TERM_STALLED] = "stalled",
    [LG_TERM_BUDGET_EXCEEDED] = "budget_exceeded",
    [LG_TERM_FATAL_ERROR] = "fatal_error",
    [LG_TERM_ESCALATED] = "escalated",
    [LG_TERM_TIMEOUT] = "timeout",
    [LG_TERM_CRASHED] = "crashed",
    [LG_TERM_DIVERGED] = "diverged",
    [LG_TERM_COUNT] = NULL,
};

const char *lg_term_reason_name(lg_term_reason reason)
{
    if ((int)reason < 0 || reason >= LG_TERM_COUNT)
        return "unknown";
    return lg_term_reason_names[reason];
}

bool lg_term_reason_from_name(const char *name, lg_term_reason *out)
{
    if (!name)
        return false;
    for (int i = 0; i < LG_TERM_COUNT; i++) {
        if (strcmp(name, lg_term_reason_names[i]) == 0) {
            *out = (lg_term_reason)i;
            return true;
        }
    }
    return false;
}
