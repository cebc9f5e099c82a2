#include "json.h"
#include "fs.h"

#include <string.h>

static int dump_cb(const char *buffer, size_t size, void *data)
{
    return lg_buf_append((lg_buf *)data, buffer, size) ? -1 : 0;
}

static int dump(const json_t *v, lg_buf *out, size_t flags, lg_err *err)
{
    size_t before = out->len;
    if (json_dump_callback(v, dump_cb, out, flags | JSON_SORT_KEYS | JSON_ENCODE_ANY) != 0) {
        lg_buf_truncate(out, before);
        return LG_ERR(err, LG_ENOMEM, "cannot serialise JSON (out of memory or buffer cap)");
    }
    return 0;
}

int lg_json_dump_canonical(const json_t *v, lg_buf *out, lg_err *err)
{
    return dump(v, out, JSON_COMPACT, err);
}

int lg_json_dump_pretty(const json_t *v, lg_buf *out, lg_err *err)
{
    return dump(v, out, JSON_INDENT(2), err);
}

json_t *lg_json_parse(const char *data, size_t len, const char *name, lg_err *err)
{
    json_error_t je;
    json_t *v = json_loadb(data, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!v) {
        LG_ERR(err, LG_EINPUT, "%s:%d:%d: invalid JSON: %s", name ? name : "<json>",
               je.line, je.column, je.text);
        return NULL;
    }
    return v;
}

json_t *lg_json_load_file(const char *path, lg_err *err)
{
    lg_buf b = LG_BUF_INIT;
    json_t *v;
    if (lg_fs_read_file(path, &b, err))
        return NULL;
    v = lg_json_parse(lg_buf_cstr(&b), b.len, path, err);
    lg_buf_release(&b);
    return v;
}

const char *lg_json_str(const json_t *obj, const char *key, const char *def)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : def;
}

long long lg_json_int(const json_t *obj, const char *key, long long def)
{
    const json_t *v = json_object_get(obj, key);
    if (json_is_integer(v))
        return json_integer_value(v);
    if (json_is_real(v))
        return (long long)json_real_value(v);
    return def;
}

double lg_json_num(const json_t *obj, const char *key, double def)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_number(v) ? json_number_value(v) : def;
}
