#include "pricing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fs.h"
#include "core/suggest.h"
#include "harness/yamlnode.h"

typedef struct entry {
    char *model;
    lg_price price;
} entry;

struct lg_pricing {
    entry *items;
    size_t n, cap;
};

lg_pricing *lg_pricing_new(void)
{
    return calloc(1, sizeof(lg_pricing));
}

void lg_pricing_free(lg_pricing *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        free(p->items[i].model);
    free(p->items);
    free(p);
}

size_t lg_pricing_count(const lg_pricing *p)
{
    return p ? p->n : 0;
}

int lg_pricing_set(lg_pricing *p, const char *model, lg_price price)
{
    for (size_t i = 0; i < p->n; i++) {
        if (strcmp(p->items[i].model, model) == 0) {
            p->items[i].price = price;
            return 0;
        }
    }
    if (p->n == p->cap) {
        size_t nc = p->cap ? p->cap * 2 : 16;
        entry *ni = realloc(p->items, nc * sizeof *ni);
        if (!ni)
            return LG_ENOMEM;
        p->items = ni;
        p->cap = nc;
    }
    p->items[p->n].model = strdup(model);
    if (!p->items[p->n].model)
        return LG_ENOMEM;
    p->items[p->n].price = price;
    p->n++;
    return 0;
}

bool lg_pricing_lookup(const lg_pricing *p, const char *model, lg_price *out)
{
    const entry *best = NULL;
    size_t best_len = 0;

    if (!p || !model)
        return false;
    for (size_t i = 0; i < p->n; i++) {
        const char *m = p->items[i].model;
        size_t l = strlen(m);
        if (strcmp(m, model) == 0) {
            *out = p->items[i].price;
            return true;
        }
        if (l > best_len && strncmp(model, m, l) == 0 && model[l] == '-') {
            best = &p->items[i];
            best_len = l;
        }
    }
    if (!best)
        return false;
    *out = best->price;
    return true;
}

bool lg_pricing_cost(const lg_pricing *p, const char *model, int64_t in, int64_t out,
                     int64_t cached, double *usd)
{
    lg_price pr;
    if (!lg_pricing_lookup(p, model, &pr))
        return false;
    if (in < 0)
        in = 0;
    if (out < 0)
        out = 0;
    if (cached < 0)
        cached = 0;
    if (cached > in)
        cached = in;
    *usd = ((double)(in - cached) * pr.input + (double)cached * pr.cached_input +
            (double)out * pr.output) / 1e6;
    return true;
}

static int price_of(const lg_ynode *v, const char *file, const char *model, lg_price *pr,
                    lg_err *err)
{
    static const char *const keys[] = {"input", "output", "cached_input", NULL};
    double d;
    bool have_cached = false;
    int rc;

    if (!v || v->kind != LG_YMAP)
        return LG_ERR(err, LG_EINPUT,
                      "%s:%d:%d: price of '%s' must be a mapping with input, output and "
                      "cached_input (USD per 1M tokens)",
                      file, v ? v->line : 0, v ? v->col : 0, model);
    if ((rc = lg_ynode_check_keys(v, keys, file, model, err)))
        return rc;
    memset(pr, 0, sizeof *pr);
    for (size_t i = 0; i < v->n; i++) {
        const lg_ypair *kv = &v->pairs[i];
        const char *k = kv->key->text;
        if (!lg_ynode_num(kv->value, &d) || d < 0) {
            char buf[64];
            return LG_ERR(err, LG_EINPUT,
                          "%s:%d:%d: '%s' of '%s' must be a non-negative number (USD per 1M "
                          "tokens), got %s",
                          file, kv->value->line, kv->value->col, k, model,
                          lg_ynode_describe(kv->value, buf, sizeof buf));
        }
        if (!strcmp(k, "input"))
            pr->input = d;
        else if (!strcmp(k, "output"))
            pr->output = d;
        else {
            pr->cached_input = d;
            have_cached = true;
        }
    }
    if (!lg_ynode_get(v, "input") || !lg_ynode_get(v, "output"))
        return LG_ERR(err, LG_EINPUT, "%s:%d:%d: price of '%s' needs both 'input' and 'output'",
                      file, v->line, v->col, model);
    if (!have_cached)
        pr->cached_input = pr->input;
    return 0;
}

int lg_pricing_load_file(const char *path, lg_pricing **out, lg_err *err)
{
    static const char *const top[] = {"models", "currency", "unit", "updated", NULL};
    lg_ydoc *doc = NULL;
    lg_pricing *p = NULL;
    const lg_ynode *models;
    int rc;

    *out = NULL;
    if ((rc = lg_yaml_load_file(path, &doc, err)))
        return rc;
    if (!doc->root || doc->root->kind != LG_YMAP) {
        rc = LG_ERR(err, LG_EINPUT, "%s:1:1: a pricing file is a mapping with a 'models' key",
                    path);
        goto out;
    }
    if ((rc = lg_ynode_check_keys(doc->root, top, path, NULL, err)))
        goto out;
    models = lg_ynode_get(doc->root, "models");
    if (!models || models->kind != LG_YMAP) {
        rc = LG_ERR(err, LG_EINPUT, "%s:%d:%d: 'models' must be a mapping of model name to price",
                    path, models ? models->line : doc->root->line,
                    models ? models->col : doc->root->col);
        goto out;
    }
    if (!(p = lg_pricing_new())) {
        rc = LG_ERR(err, LG_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < models->n; i++) {
        lg_price pr;
        const char *name = models->pairs[i].key->text;
        if ((rc = price_of(models->pairs[i].value, path, name, &pr, err)))
            goto out;
        if (lg_pricing_set(p, name, pr)) {
            rc = LG_ERR(err, LG_ENOMEM, "out of memory");
            goto out;
        }
    }
    *out = p;
    p = NULL;
out:
    lg_pricing_free(p);
    lg_ydoc_free(doc);
    return rc;
}

int lg_pricing_load_for_suite(const lg_suite *s, lg_pricing **out, lg_err *err)
{
    lg_pricing *p = NULL;
    lg_buf def = LG_BUF_INIT;
    int rc = 0;

    *out = NULL;
    if (s->pricing.file) {
        rc = lg_pricing_load_file(s->pricing.file, &p, err);
    } else {
        if (lg_buf_appendf(&def, "%s/pricing.yaml", s->dir))
            return LG_ERR(err, LG_ENOMEM, "out of memory");
        if (lg_fs_exists(def.data))
            rc = lg_pricing_load_file(def.data, &p, err);
        else if (!(p = lg_pricing_new()))
            rc = LG_ERR(err, LG_ENOMEM, "out of memory");
    }
    lg_buf_release(&def);
    if (rc)
        return rc;
    for (size_t i = 0; i < s->pricing.nmodels; i++) {
        const lg_suite_price *sp = &s->pricing.models[i];
        lg_price pr = {sp->input, sp->output, sp->cached_input};
        if (lg_pricing_set(p, sp->model, pr)) {
            lg_pricing_free(p);
            return LG_ERR(err, LG_ENOMEM, "out of memory");
        }
    }
    *out = p;
    return 0;
}
