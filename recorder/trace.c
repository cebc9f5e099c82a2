#include "trace.h"

#include <string.h>

static const char *const kind_names[] = {
    [LG_EVENT_MODEL] = "model",         [LG_EVENT_TOOL] = "tool",
    [LG_EVENT_ITERATION] = "iteration", [LG_EVENT_INVARIANT] = "invariant",
    [LG_EVENT_VERIFY] = "verify",       [LG_EVENT_DIVERGENCE] = "divergence",
    [LG_EVENT_NOTE] = "note",           [LG_EVENT_END] = "end",
};

const char *lg_event_kind_name(int kind)
{
    if (kind < LG_EVENT_KIND_MIN || kind > LG_EVENT_KIND_MAX)
        return "unknown";
    return kind_names[kind];
}

int lg_event_kind_parse(const char *name)
{
    for (int k = LG_EVENT_KIND_MIN; name && k <= LG_EVENT_KIND_MAX; k++)
        if (strcmp(kind_names[k], name) == 0)
            return k;
    return 0;
}

lg_event lg_event_make(lg_event_kind kind)
{
    lg_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = kind;
    ev.call = -1;
    if (kind == LG_EVENT_MODEL)
        ev.model.usage = LG_USAGE_UNKNOWN;
    else if (kind == LG_EVENT_TOOL)
        ev.tool.exit_code = -1;
    return ev;
}
