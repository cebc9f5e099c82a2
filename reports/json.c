/*
 * reports/json.c - the JSON format: the run report document itself,
 * pretty-printed (2 spaces, keys sorted, so the order is stable), with a
 * final newline. docs/report-schema.md documents it.
 */
#include "render_int.h"

#include "core/json.h"

int rr_json_render(const lg_rundoc *doc, lg_buf *out, lg_err *err)
{
    json_t *j = lg_rundoc_to_json(doc, err);
    int rc;

    if (!j)
        return err && err->code ? err->code : LG_ENOMEM;
    rc = lg_json_dump_pretty(j, out, err);
    json_decref(j);
    if (!rc && (rc = lg_buf_append_byte(out, '\n')))
        return LG_ERR(err, rc, "json report: the output would exceed its size cap");
    return rc;
}
