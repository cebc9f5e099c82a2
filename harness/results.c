#include "results.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/json.h"
#include "core/pcg.h"

struct lg_results {
    sqlite3 *db;
    char *path;
    pthread_mutex_t mu;
};

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS runs("
    " id TEXT PRIMARY KEY, suite_name TEXT, suite_path TEXT, suite_hash TEXT, git_rev TEXT,"
    " mode TEXT, trace_path TEXT, seed INTEGER, trials INTEGER, case_from INTEGER,"
    " case_count INTEGER, shard_index INTEGER, shard_count INTEGER, started_ms INTEGER,"
    " finished_ms INTEGER, status TEXT, flags TEXT, metrics TEXT, gates TEXT);"
    "CREATE TABLE IF NOT EXISTS outcomes("
    " run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, case_index INTEGER NOT NULL,"
    " trial INTEGER NOT NULL, converged INTEGER NOT NULL, reason TEXT NOT NULL,"
    " iterations INTEGER, model_calls INTEGER, tokens_in INTEGER, tokens_out INTEGER,"
    " tokens_cached INTEGER, cost_usd REAL, cost_known INTEGER, wall_ms REAL,"
    " latencies TEXT, violations TEXT, detail TEXT, session_key TEXT, timeline TEXT,"
    " committed_ms INTEGER, PRIMARY KEY(run_id, case_index, trial));";

const char *lg_results_path(const lg_results *r)
{
    return r->path;
}

static int db_error(lg_results *r, lg_err *err, const char *what)
{
    int code = sqlite3_errcode(r->db);
    int lg = (code == SQLITE_CORRUPT || code == SQLITE_NOTADB) ? LG_EINPUT : LG_EIO;
    return LG_ERR(err, lg, "%s: %s: %s", r->path, what, sqlite3_errmsg(r->db));
}

static int exec(lg_results *r, const char *sql, lg_err *err)
{
    char *msg = NULL;
    if (sqlite3_exec(r->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int code = sqlite3_errcode(r->db);
        int lg = (code == SQLITE_CORRUPT || code == SQLITE_NOTADB) ? LG_EINPUT : LG_EIO;
        LG_ERR(err, lg, "%s: %s%s", r->path, msg ? msg : "database error",
               lg == LG_EINPUT ? " (not a loopgate results database, or damaged)" : "");
        sqlite3_free(msg);
        return lg;
    }
    return 0;
}

static char *xstrdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int ensure_parent_dir(const char *path, lg_err *err)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash || slash == path)
        return 0;
    if ((size_t)(slash - path) >= sizeof dir)
        return LG_ERR(err, LG_EINPUT, "path too long: '%s'", path);
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = '\0';
    return lg_fs_mkdir_p(dir, err);
}

int lg_results_open(const char *path, bool create, lg_results **out, lg_err *err)
{
    lg_results *r;
    int rc, version = 0;
    sqlite3_stmt *st;

    *out = NULL;
    if (!lg_fs_exists(path)) {
        if (!create)
            return LG_ERR(err, LG_ENOENT,
                          "no results database '%s'; run 'loopgate run' first or pass --results",
                          path);
        if ((rc = ensure_parent_dir(path, err)))
            return rc;
    }
    r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path))) {
        free(r);
        return LG_ERR(err, LG_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&r->mu, NULL);
    if (sqlite3_open_v2(path, &r->db,
                        (create ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READWRITE) |
                            SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        rc = LG_ERR(err, LG_EIO, "cannot open results database '%s': %s", path,
                    r->db ? sqlite3_errmsg(r->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(r->db, 10000);
    /* reading user_version is the first touch of the file: a non-SQLite
     * file fails here, before anything is written */
    if (sqlite3_prepare_v2(r->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK) {
        rc = LG_ERR(err, LG_EINPUT, "%s: not a loopgate results database (%s)", path,
                    sqlite3_errmsg(r->db));
        goto fail;
    }
    if (sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    else
        rc = sqlite3_errcode(r->db);
    sqlite3_finalize(st);
    if (version == 0 && sqlite3_errcode(r->db) != SQLITE_OK &&
        sqlite3_errcode(r->db) != SQLITE_DONE && sqlite3_errcode(r->db) != SQLITE_ROW) {
        rc = LG_ERR(err, LG_EINPUT, "%s: not a loopgate results database (%s)", path,
                    sqlite3_errmsg(r->db));
        goto fail;
    }
    if (version > LG_RESULTS_FORMAT) {
        rc = LG_ERR(err, LG_EFORMAT,
                    "%s: results format %d is newer than this loopgate (reads up to %d); "
                    "upgrade loopgate",
                    path, version, LG_RESULTS_FORMAT);
        goto fail;
    }
    if (version == 0) {
        /* a fresh file, or an SQLite file that is not ours */
        int tables = 0;
        if (sqlite3_prepare_v2(r->db, "SELECT count(*) FROM sqlite_master", -1, &st, NULL) ==
                SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            tables = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        if (tables > 0) {
            rc = LG_ERR(err, LG_EINPUT,
                        "%s: an SQLite database but not a loopgate results database; "
                        "pass another --results file",
                        path);
            goto fail;
        }
        if ((rc = exec(r, "PRAGMA journal_mode=WAL", err)) ||
            (rc = exec(r, "BEGIN IMMEDIATE", err)))
            goto fail;
        if ((rc = exec(r, schema_sql, err)) ||
            (rc = exec(r, "INSERT OR REPLACE INTO meta VALUES('format','1');"
                          "INSERT OR REPLACE INTO meta VALUES('creator','loopgate');"
                          "PRAGMA user_version=1; COMMIT",
                       err))) {
            exec(r, "ROLLBACK", NULL);
            goto fail;
        }
    } else if ((rc = exec(r, "PRAGMA journal_mode=WAL", err))) {
        goto fail;
    }
    exec(r, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON", NULL);
    *out = r;
    return 0;
fail:
    lg_results_close(r);
    return rc ? rc : LG_EIO;
}

void lg_results_close(lg_results *r)
{
    if (!r)
        return;
    sqlite3_close(r->db);
    pthread_mutex_destroy(&r->mu);
    free(r->path);
    free(r);
}

void lg_run_record_free(lg_run_record *i)
{
    if (!i)
        return;
    free(i->suite_name);
    free(i->suite_path);
    free(i->suite_hash);
    free(i->git_rev);
    free(i->mode);
    free(i->trace_path);
    free(i->status);
    json_decref(i->flags);
    free(i);
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

/* Binds a JSON value as canonical text, or NULL. Returns 0 or LG_ENOMEM. */
static int bind_json(sqlite3_stmt *st, int i, const json_t *v)
{
    lg_buf b = LG_BUF_INIT;
    if (!v) {
        sqlite3_bind_null(st, i);
        return 0;
    }
    if (lg_json_dump_canonical(v, &b, NULL))
        return LG_ENOMEM;
    sqlite3_bind_text(st, i, lg_buf_cstr(&b), (int)b.len, SQLITE_TRANSIENT);
    lg_buf_release(&b);
    return 0;
}

static void make_run_id(char id[LG_RUN_ID_MAX])
{
    int64_t now = lg_clock_wall_ms();
    char iso[25];
    lg_pcg32 rng;
    lg_clock_iso8601(now, iso);
    lg_pcg32_srandom(&rng, (uint64_t)lg_clock_mono_ns() ^ (uint64_t)now,
                     (uint64_t)getpid());
    /* 2026-11-21T15:01:27.123Z -> 20261121-150127-xxxx */
    snprintf(id, LG_RUN_ID_MAX, "%.4s%.2s%.2s-%.2s%.2s%.2s-%04x", iso, iso + 5, iso + 8,
             iso + 11, iso + 14, iso + 17, lg_pcg32_random(&rng) & 0xffff);
}

int lg_results_run_create(lg_results *r, lg_run_record *info, lg_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = 0;

    if (!info->id[0])
        make_run_id(info->id);
    if (!info->started_ms)
        info->started_ms = lg_clock_wall_ms();
    pthread_mutex_lock(&r->mu);
    if (sqlite3_prepare_v2(r->db,
                           "INSERT INTO runs(id, suite_name, suite_path, suite_hash, git_rev, mode,"
                           " trace_path, seed, trials, case_from, case_count, shard_index,"
                           " shard_count, started_ms, finished_ms, status, flags)"
                           " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
                           " ON CONFLICT(id) DO UPDATE SET status=excluded.status",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = db_error(r, err, "cannot record run");
        goto out;
    }
    bind_text(st, 1, info->id);
    bind_text(st, 2, info->suite_name);
    bind_text(st, 3, info->suite_path);
    bind_text(st, 4, info->suite_hash);
    bind_text(st, 5, info->git_rev);
    bind_text(st, 6, info->mode);
    bind_text(st, 7, info->trace_path);
    sqlite3_bind_int64(st, 8, (sqlite3_int64)info->seed);
    sqlite3_bind_int64(st, 9, info->trials);
    sqlite3_bind_int64(st, 10, (sqlite3_int64)info->case_from);
    sqlite3_bind_int64(st, 11, (sqlite3_int64)info->case_count);
    sqlite3_bind_int64(st, 12, info->shard_index);
    sqlite3_bind_int64(st, 13, info->shard_count ? info->shard_count : 1);
    sqlite3_bind_int64(st, 14, info->started_ms);
    sqlite3_bind_int64(st, 15, info->finished_ms);
    bind_text(st, 16, info->status ? info->status : "running");
    if (bind_json(st, 17, info->flags)) {
        rc = LG_ERR(err, LG_ENOMEM, "out of memory");
        goto out;
    }
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = db_error(r, err, "cannot record run");
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int lg_results_run_finish(lg_results *r, const char *run_id, const char *status,
                          const json_t *metrics, const json_t *gates, lg_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = 0;

    pthread_mutex_lock(&r->mu);
    if (sqlite3_prepare_v2(r->db,
                           "UPDATE runs SET status=?, finished_ms=?, metrics=?, gates=? WHERE id=?",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = db_error(r, err, "cannot finish run");
        goto out;
    }
    bind_text(st, 1, status);
    sqlite3_bind_int64(st, 2, lg_clock_wall_ms());
    if (bind_json(st, 3, metrics) || bind_json(st, 4, gates)) {
        rc = LG_ERR(err, LG_ENOMEM, "out of memory");
        goto out;
    }
    bind_text(st, 5, run_id);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = db_error(r, err, "cannot finish run");
    else if (sqlite3_changes(r->db) == 0)
        rc = LG_ERR(err, LG_ENOENT, "%s: no run '%s'", r->path, run_id);
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

static json_t *latencies_json(const lg_outcome *o)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < o->n_call_latency; i++)
        json_array_append_new(a, json_real(o->call_latency_ms[i]));
    return a;
}

static json_t *violations_json(const lg_outcome *o)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < o->n_violations; i++)
        json_array_append_new(a, json_pack("{s:s,s:i}", "name", o->violations[i].name, "count",
                                           (json_int_t)o->violations[i].count));
    return a;
}

static int put_outcome_locked(lg_results *r, const char *run_id, const lg_outcome *o,
                              const char *session_key, const json_t *timeline, int64_t committed,
                              lg_err *err)
{
    sqlite3_stmt *st = NULL;
    json_t *lat = latencies_json(o), *vio = violations_json(o);
    int rc = 0;

    if (!lat || !vio) {
        rc = LG_ERR(err, LG_ENOMEM, "out of memory");
        goto out;
    }
    if (sqlite3_prepare_v2(r->db,
                           "INSERT OR REPLACE INTO outcomes(run_id, case_index, trial, converged,"
                           " reason, iterations, model_calls, tokens_in, tokens_out, tokens_cached,"
                           " cost_usd, cost_known, wall_ms, latencies, violations, detail,"
                           " session_key, timeline, committed_ms)"
                           " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = db_error(r, err, "cannot store outcome");
        goto out;
    }
    bind_text(st, 1, run_id);
    sqlite3_bind_int64(st, 2, o->case_index);
    sqlite3_bind_int64(st, 3, o->trial);
    sqlite3_bind_int(st, 4, o->converged);
    bind_text(st, 5, lg_term_reason_name(o->reason));
    sqlite3_bind_int64(st, 6, o->iterations);
    sqlite3_bind_int64(st, 7, o->model_calls);
    sqlite3_bind_int64(st, 8, (sqlite3_int64)o->tokens_in);
    sqlite3_bind_int64(st, 9, (sqlite3_int64)o->tokens_out);
    sqlite3_bind_int64(st, 10, (sqlite3_int64)o->tokens_cached);
    sqlite3_bind_double(st, 11, o->cost_usd);
    sqlite3_bind_int(st, 12, o->cost_known);
    sqlite3_bind_double(st, 13, o->wall_ms);
    if (bind_json(st, 14, lat) || bind_json(st, 15, vio) || bind_json(st, 18, timeline)) {
        rc = LG_ERR(err, LG_ENOMEM, "out of memory");
        goto out;
    }
    bind_text(st, 16, o->detail);
    bind_text(st, 17, session_key);
    sqlite3_bind_int64(st, 19, committed ? committed : lg_clock_wall_ms());
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = db_error(r, err, "cannot store outcome");
out:
    sqlite3_finalize(st);
    json_decref(lat);
    json_decref(vio);
    return rc;
}

int lg_results_put_outcome(lg_results *r, const char *run_id, const lg_outcome *o,
                           const char *session_key, const json_t *timeline, lg_err *err)
{
    int rc;
    pthread_mutex_lock(&r->mu);
    /* autocommit: the single INSERT is its own transaction, durable at once */
    rc = put_outcome_locked(r, run_id, o, session_key, timeline, 0, err);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

static const char run_cols[] =
    "id, suite_name, suite_path, suite_hash, git_rev, mode, trace_path, seed, trials,"
    " case_from, case_count, shard_index, shard_count, started_ms, finished_ms, status, flags";

static lg_run_record *row_to_info(sqlite3_stmt *st)
{
    lg_run_record *i = calloc(1, sizeof *i);
    const char *flags;
    if (!i)
        return NULL;
    snprintf(i->id, sizeof i->id, "%s", (const char *)sqlite3_column_text(st, 0));
    i->suite_name = xstrdup((const char *)sqlite3_column_text(st, 1));
    i->suite_path = xstrdup((const char *)sqlite3_column_text(st, 2));
    i->suite_hash = xstrdup((const char *)sqlite3_column_text(st, 3));
    i->git_rev = xstrdup((const char *)sqlite3_column_text(st, 4));
    i->mode = xstrdup((const char *)sqlite3_column_text(st, 5));
    i->trace_path = xstrdup((const char *)sqlite3_column_text(st, 6));
    i->seed = (uint64_t)sqlite3_column_int64(st, 7);
    i->trials = (uint32_t)sqlite3_column_int64(st, 8);
    i->case_from = (uint64_t)sqlite3_column_int64(st, 9);
    i->case_count = (uint64_t)sqlite3_column_int64(st, 10);
    i->shard_index = (uint32_t)sqlite3_column_int64(st, 11);
    i->shard_count = (uint32_t)sqlite3_column_int64(st, 12);
    i->started_ms = sqlite3_column_int64(st, 13);
    i->finished_ms = sqlite3_column_int64(st, 14);
    i->status = xstrdup((const char *)sqlite3_column_text(st, 15));
    flags = (const char *)sqlite3_column_text(st, 16);
    i->flags = flags ? json_loads(flags, 0, NULL) : NULL;
    return i;
}

int lg_results_run_get(lg_results *r, const char *run_id, lg_run_record **out, lg_err *err)
{
    sqlite3_stmt *st = NULL;
    lg_buf sql = LG_BUF_INIT;
    int rc = 0, step, matches = 0;
    bool latest = strcmp(run_id, "latest") == 0;

    *out = NULL;
    if (lg_buf_appendf(&sql, "SELECT %s FROM runs %s ORDER BY started_ms DESC, id DESC LIMIT 2",
                       run_cols, latest ? "" : "WHERE id = ?1 OR id LIKE ?2"))
        return LG_ERR(err, LG_ENOMEM, "out of memory");
    pthread_mutex_lock(&r->mu);
    if (sqlite3_prepare_v2(r->db, sql.data, -1, &st, NULL) != SQLITE_OK) {
        rc = db_error(r, err, "cannot read runs");
        goto out;
    }
    if (!latest) {
        char like[LG_RUN_ID_MAX + 2];
        snprintf(like, sizeof like, "%s%%", run_id);
        bind_text(st, 1, run_id);
        bind_text(st, 2, like);
    }
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        matches++;
        if (!*out) {
            *out = row_to_info(st);
            if (!*out) {
                rc = LG_ERR(err, LG_ENOMEM, "out of memory");
                goto out;
            }
            if (latest || strcmp((*out)->id, run_id) == 0)
                break;
        }
    }
    if (step != SQLITE_ROW && step != SQLITE_DONE) {
        rc = db_error(r, err, "cannot read runs");
    } else if (!*out) {
        rc = latest ? LG_ERR(err, LG_ENOENT, "%s: no runs yet", r->path)
                    : LG_ERR(err, LG_ENOENT, "%s: no run '%s' (see 'loopgate runs')", r->path,
                             run_id);
    } else if (matches > 1 && !latest && strcmp((*out)->id, run_id) != 0) {
        rc = LG_ERR(err, LG_EUSAGE, "%s: run id prefix '%s' is ambiguous; give more of it",
                    r->path, run_id);
    }
out:
    if (rc) {
        lg_run_record_free(*out);
        *out = NULL;
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&r->mu);
    lg_buf_release(&sql);
    return rc;
}

int lg_results_run_json(lg_results *r, const char *run_id, json_t **metrics, json_t **gates,
                        lg_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = 0;

    *metrics = *gates = NULL;
    pthread_mutex_lock(&r->mu);
    if (sqlite3_prepare_v2(r->db, "SELECT metrics, gates FROM runs WHERE id=?", -1, &st, NULL) !=
        SQLITE_OK) {
        rc = db_error(r, err, "cannot read run");
        goto out;
    }
    bind_text(st, 1, run_id);
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *m = (const char *)sqlite3_column_text(st, 0);
        const char *g = (const char *)sqlite3_column_text(st, 1);
        *metrics = m ? json_loads(m, 0, NULL) : NULL;
        *gates = g ? json_loads(g, 0, NULL) : NULL;
    } else {
        rc = LG_ERR(err, LG_ENOENT, "%s: no run '%s'", r->path, run_id);
    }
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

/* storage behind an outcome set: per item its latencies, violations, strings */
struct set_storage {
    double **lat;
    lg_violation **vio;
    char ***vio_names;
    size_t *n_vio;
    char **detail;
};

void lg_outcome_set_free(lg_outcome_set *s)
{
    struct set_storage *ss;
    if (!s)
        return;
    ss = s->storage_;
    for (size_t i = 0; i < s->n; i++) {
        if (ss) {
            free(ss->lat[i]);
            for (size_t j = 0; ss->vio_names[i] && j < ss->n_vio[i]; j++)
                free(ss->vio_names[i][j]);
            free(ss->vio_names[i]);
            free(ss->vio[i]);
            free(ss->detail[i]);
        }
        free(s->session_keys[i]);
        json_decref(s->timelines[i]);
    }
    if (ss) {
        free(ss->lat);
        free(ss->vio);
        free(ss->vio_names);
        free(ss->n_vio);
        free(ss->detail);
        free(ss);
    }
    free(s->items);
    free(s->session_keys);
    free(s->timelines);
    free(s);
}

static int set_grow(lg_outcome_set *s, size_t *cap)
{
    struct set_storage *ss = s->storage_;
    size_t ncap = *cap ? *cap * 2 : 64;
#define GROW(p) do { void *np_ = realloc((p), ncap * sizeof *(p)); if (!np_) return -1; (p) = np_; } while (0)
    GROW(s->items);
    GROW(s->session_keys);
    GROW(s->timelines);
    GROW(ss->lat);
    GROW(ss->vio);
    GROW(ss->vio_names);
    GROW(ss->n_vio);
    GROW(ss->detail);
#undef GROW
    *cap = ncap;
    return 0;
}

static int fill_outcome(lg_outcome_set *s, size_t i, sqlite3_stmt *st)
{
    struct set_storage *ss = s->storage_;
    lg_outcome *o = &s->items[i];
    const char *reason = (const char *)sqlite3_column_text(st, 3);
    const char *lat = (const char *)sqlite3_column_text(st, 12);
    const char *vio = (const char *)sqlite3_column_text(st, 13);
    const char *tl = (const char *)sqlite3_column_text(st, 16);
    json_t *j;

    memset(o, 0, sizeof *o);
    s->session_keys[i] = NULL;
    s->timelines[i] = NULL;
    ss->lat[i] = NULL;
    ss->vio[i] = NULL;
    ss->vio_names[i] = NULL;
    ss->n_vio[i] = 0;
    ss->detail[i] = NULL;
    o->case_index = (uint32_t)sqlite3_column_int64(st, 0);
    o->trial = (uint32_t)sqlite3_column_int64(st, 1);
    o->converged = sqlite3_column_int(st, 2) != 0;
    if (!reason || !lg_term_reason_from_name(reason, &o->reason))
        o->reason = LG_TERM_CRASHED;
    o->iterations = (uint32_t)sqlite3_column_int64(st, 4);
    o->model_calls = (uint32_t)sqlite3_column_int64(st, 5);
    o->tokens_in = (uint64_t)sqlite3_column_int64(st, 6);
    o->tokens_out = (uint64_t)sqlite3_column_int64(st, 7);
    o->tokens_cached = (uint64_t)sqlite3_column_int64(st, 8);
    o->cost_usd = sqlite3_column_double(st, 9);
    o->cost_known = sqlite3_column_int(st, 10) != 0;
    o->wall_ms = sqlite3_column_double(st, 11);
    if (lat && (j = json_loads(lat, 0, NULL))) {
        size_t n = json_array_size(j);
        if (n && (ss->lat[i] = malloc(n * sizeof(double)))) {
            for (size_t k = 0; k < n; k++)
                ss->lat[i][k] = json_number_value(json_array_get(j, k));
            o->call_latency_ms = ss->lat[i];
            o->n_call_latency = n;
        }
        json_decref(j);
    }
    if (vio && (j = json_loads(vio, 0, NULL))) {
        size_t n = json_array_size(j);
        if (n && (ss->vio[i] = calloc(n, sizeof(lg_violation))) &&
            (ss->vio_names[i] = calloc(n, sizeof(char *)))) {
            for (size_t k = 0; k < n; k++) {
                json_t *v = json_array_get(j, k);
                ss->vio_names[i][k] = xstrdup(lg_json_str(v, "name", "?"));
                ss->vio[i][k].name = ss->vio_names[i][k];
                ss->vio[i][k].count = (uint32_t)lg_json_int(v, "count", 1);
            }
            ss->n_vio[i] = n;
            o->violations = ss->vio[i];
            o->n_violations = n;
        }
        json_decref(j);
    }
    ss->detail[i] = xstrdup((const char *)sqlite3_column_text(st, 14));
    o->detail = ss->detail[i];
    s->session_keys[i] = xstrdup((const char *)sqlite3_column_text(st, 15));
    s->timelines[i] = tl ? json_loads(tl, 0, NULL) : NULL;
    return 0;
}

int lg_results_outcomes(lg_results *r, const char *run_id, lg_outcome_set **out, lg_err *err)
{
    sqlite3_stmt *st = NULL;
    lg_outcome_set *s;
    size_t cap = 0;
    int rc = 0, step;

    *out = NULL;
    s = calloc(1, sizeof *s);
    if (!s || !(s->storage_ = calloc(1, sizeof(struct set_storage)))) {
        free(s);
        return LG_ERR(err, LG_ENOMEM, "out of memory");
    }
    pthread_mutex_lock(&r->mu);
    if (sqlite3_prepare_v2(r->db,
                           "SELECT case_index, trial, converged, reason, iterations, model_calls,"
                           " tokens_in, tokens_out, tokens_cached, cost_usd, cost_known, wall_ms,"
                           " latencies, violations, detail, session_key, timeline"
                           " FROM outcomes WHERE run_id=? ORDER BY case_index, trial",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = db_error(r, err, "cannot read outcomes");
        goto out;
    }
    bind_text(st, 1, run_id);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (s->n == cap && set_grow(s, &cap)) {
            rc = LG_ERR(err, LG_ENOMEM, "out of memory");
            goto out;
        }
        fill_outcome(s, s->n, st);
        s->n++;
    }
    if (step != SQLITE_DONE)
        rc = db_error(r, err, "cannot read outcomes");
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&r->mu);
    if (rc)
        lg_outcome_set_free(s);
    else
        *out = s;
    return rc;
}

int lg_results_has_outcome(lg_results *r, const char *run_id, uint32_t case_index,
                           uint32_t trial, bool *has, lg_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = 0, step;

    pthread_mutex_lock(&r->mu);
    if (sqlite3_prepare_v2(r->db,
                           "SELECT 1 FROM outcomes WHERE run_id=? AND case_index=? AND trial=?",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = db_error(r, err, "cannot read outcomes");
        goto out;
    }
    bind_text(st, 1, run_id);
    sqlite3_bind_int64(st, 2, case_index);
    sqlite3_bind_int64(st, 3, trial);
    step = sqlite3_step(st);
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = db_error(r, err, "cannot read outcomes");
    *has = step == SQLITE_ROW;
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int lg_results_list_runs(lg_results *r, size_t limit, lg_run_record ***out, size_t *n,
                         lg_err *err)
{
    sqlite3_stmt *st = NULL;
    lg_buf sql = LG_BUF_INIT;
    lg_run_record **list = NULL;
    size_t cap = 0, cnt = 0;
    int rc = 0, step;

    *out = NULL;
    *n = 0;
    if (lg_buf_appendf(&sql, "SELECT %s FROM runs ORDER BY started_ms DESC, id DESC", run_cols) ||
        (limit && lg_buf_appendf(&sql, " LIMIT %zu", limit)))
        return LG_ERR(err, LG_ENOMEM, "out of memory");
    pthread_mutex_lock(&r->mu);
    if (sqlite3_prepare_v2(r->db, sql.data, -1, &st, NULL) != SQLITE_OK) {
        rc = db_error(r, err, "cannot read runs");
        goto out;
    }
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            size_t nc = cap ? cap * 2 : 16;
            lg_run_record **nl = realloc(list, nc * sizeof *nl);
            if (!nl) {
                rc = LG_ERR(err, LG_ENOMEM, "out of memory");
                goto out;
            }
            list = nl;
            cap = nc;
        }
        if (!(list[cnt] = row_to_info(st))) {
            rc = LG_ERR(err, LG_ENOMEM, "out of memory");
            goto out;
        }
        cnt++;
    }
    if (step != SQLITE_DONE)
        rc = db_error(r, err, "cannot read runs");
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&r->mu);
    lg_buf_release(&sql);
    if (rc) {
        for (size_t i = 0; i < cnt; i++)
            lg_run_record_free(list[i]);
        free(list);
        return rc;
    }
    *out = list;
    *n = cnt;
    return 0;
}

/* Compares an outcome row of src with dst's row for the same key. */
static int outcome_conflict(lg_results *dst, const char *run_id, const lg_outcome *o,
                            bool *exists, lg_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = 0;
    *exists = false;
    if (sqlite3_prepare_v2(dst->db,
                           "SELECT reason, iterations, converged FROM outcomes"
                           " WHERE run_id=? AND case_index=? AND trial=?",
                           -1, &st, NULL) != SQLITE_OK)
        return db_error(dst, err, "cannot read outcomes");
    bind_text(st, 1, run_id);
    sqlite3_bind_int64(st, 2, o->case_index);
    sqlite3_bind_int64(st, 3, o->trial);
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *reason = (const char *)sqlite3_column_text(st, 0);
        *exists = true;
        if (!reason || strcmp(reason, lg_term_reason_name(o->reason)) ||
            (uint32_t)sqlite3_column_int64(st, 1) != o->iterations ||
            (sqlite3_column_int(st, 2) != 0) != o->converged)
            rc = LG_ERR(err, LG_EINPUT,
                        "run %s, case %u, trial %u: the two files disagree (%s vs %s); "
                        "they are not shards of one run",
                        run_id, o->case_index, o->trial, reason ? reason : "?",
                        lg_term_reason_name(o->reason));
    }
    sqlite3_finalize(st);
    return rc;
}

int lg_results_merge(lg_results *dst, lg_results *src, size_t *nruns, size_t *noutcomes,
                     lg_err *err)
{
    lg_run_record **runs = NULL;
    size_t n = 0, copied_runs = 0, copied = 0;
    int rc;

    if ((rc = lg_results_list_runs(src, 0, &runs, &n, err)))
        return rc;
    pthread_mutex_lock(&dst->mu);
    if ((rc = exec(dst, "BEGIN IMMEDIATE", err)))
        goto out_unlock;
    for (size_t i = 0; i < n && !rc; i++) {
        lg_outcome_set *set = NULL;
        sqlite3_stmt *st = NULL;

        /* the run row: insert, or widen an existing one (shards of one run) */
        if (sqlite3_prepare_v2(dst->db,
                               "INSERT INTO runs(id, suite_name, suite_path, suite_hash, git_rev,"
                               " mode, trace_path, seed, trials, case_from, case_count, shard_index,"
                               " shard_count, started_ms, finished_ms, status, flags)"
                               " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
                               " ON CONFLICT(id) DO UPDATE SET"
                               " started_ms=min(started_ms, excluded.started_ms),"
                               " finished_ms=max(finished_ms, excluded.finished_ms),"
                               " status=CASE WHEN status='finished' THEN excluded.status"
                               "   ELSE status END, metrics=NULL, gates=NULL",
                               -1, &st, NULL) != SQLITE_OK) {
            rc = db_error(dst, err, "cannot merge runs");
            break;
        }
        bind_text(st, 1, runs[i]->id);
        bind_text(st, 2, runs[i]->suite_name);
        bind_text(st, 3, runs[i]->suite_path);
        bind_text(st, 4, runs[i]->suite_hash);
        bind_text(st, 5, runs[i]->git_rev);
        bind_text(st, 6, runs[i]->mode);
        bind_text(st, 7, runs[i]->trace_path);
        sqlite3_bind_int64(st, 8, (sqlite3_int64)runs[i]->seed);
        sqlite3_bind_int64(st, 9, runs[i]->trials);
        sqlite3_bind_int64(st, 10, (sqlite3_int64)runs[i]->case_from);
        sqlite3_bind_int64(st, 11, (sqlite3_int64)runs[i]->case_count);
        sqlite3_bind_int64(st, 12, runs[i]->shard_index);
        sqlite3_bind_int64(st, 13, runs[i]->shard_count);
        sqlite3_bind_int64(st, 14, runs[i]->started_ms);
        sqlite3_bind_int64(st, 15, runs[i]->finished_ms);
        bind_text(st, 16, runs[i]->status);
        if (bind_json(st, 17, runs[i]->flags))
            rc = LG_ERR(err, LG_ENOMEM, "out of memory");
        if (!rc && sqlite3_step(st) != SQLITE_DONE)
            rc = db_error(dst, err, "cannot merge runs");
        sqlite3_finalize(st);
        if (rc)
            break;
        copied_runs++;
        pthread_mutex_unlock(&dst->mu);
        rc = lg_results_outcomes(src, runs[i]->id, &set, err);
        pthread_mutex_lock(&dst->mu);
        for (size_t k = 0; !rc && k < set->n; k++) {
            bool exists;
            rc = outcome_conflict(dst, runs[i]->id, &set->items[k], &exists, err);
            if (!rc && !exists) {
                rc = put_outcome_locked(dst, runs[i]->id, &set->items[k], set->session_keys[k],
                                        set->timelines[k], 0, err);
                copied++;
            }
        }
        lg_outcome_set_free(set);
    }
    if (rc)
        exec(dst, "ROLLBACK", NULL);
    else
        rc = exec(dst, "COMMIT", err);
out_unlock:
    pthread_mutex_unlock(&dst->mu);
    for (size_t i = 0; i < n; i++)
        lg_run_record_free(runs[i]);
    free(runs);
    if (!rc) {
        if (nruns)
            *nruns = copied_runs;
        if (noutcomes)
            *noutcomes = copied;
    }
    return rc;
}
