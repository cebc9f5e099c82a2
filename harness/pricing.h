/*
 * harness/pricing.h - model prices and the cost of a trial.
 *
 * Prices are USD per 1M tokens for input, output and cached input, per
 * model. They come from a pricing file (suites/pricing.yaml format, see
 * docs/suite.md) and a suite's inline `pricing.models` overrides, which win.
 * A model without a price has an unknown cost, never a zero one.
 *
 * Lookup: exact model name first, then the longest priced name that is a
 * prefix of the model followed by '-' (so "gpt-4o-2024-08-06" is priced as
 * "gpt-4o", but "gpt-4o-mini" keeps its own price when listed).
 *
 * An lg_pricing is immutable after loading: any number of threads may look
 * prices up at once.
 */
#ifndef LG_PRICING_H
#define LG_PRICING_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "harness/suite.h"

typedef struct lg_pricing lg_pricing;

typedef struct lg_price {
    double input, output, cached_input; /* USD per 1M tokens */
} lg_price;

/* Loads the pricing for a suite: the suite's `pricing.file` if given, else
 * `pricing.yaml` in the suite's directory if it exists, else none; then the
 * suite's inline models on top. A bad pricing file is LG_EINPUT with
 * FILE:LINE:COL. Returns an owned table (free with lg_pricing_free). */
int lg_pricing_load_for_suite(const lg_suite *s, lg_pricing **out, lg_err *err);

/* Loads one pricing file (borrowed path). `*out` owned. */
int lg_pricing_load_file(const char *path, lg_pricing **out, lg_err *err);

/* An empty table (every cost unknown). NULL on OOM. */
lg_pricing *lg_pricing_new(void);

/* Adds or replaces a model's price (copies the name). 0 or LG_ENOMEM. */
int lg_pricing_set(lg_pricing *p, const char *model, lg_price price);

/* Finds the price of `model`; false when unpriced or `model` is NULL. */
bool lg_pricing_lookup(const lg_pricing *p, const char *model, lg_price *out);

/* Cost in USD of one call: uncached input at `input`, cached input at
 * `cached_input`, output at `output`. Negative token counts are taken as 0.
 * Returns false (cost unknown) when the model has no price. */
bool lg_pricing_cost(const lg_pricing *p, const char *model, int64_t tokens_in,
                     int64_t tokens_out, int64_t tokens_cached, double *usd);

size_t lg_pricing_count(const lg_pricing *p);

void lg_pricing_free(lg_pricing *p); /* accepts NULL */

#endif
