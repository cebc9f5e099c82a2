/*
 * core/suggest.h - "did you mean" suggestions.
 */
#ifndef LG_SUGGEST_H
#define LG_SUGGEST_H

#include <stddef.h>

/* Levenshtein distance between two strings (case-sensitive). */
size_t lg_edit_distance(const char *a, const char *b);

/* Returns the candidate closest to `word` if it is close enough to be a
 * likely typo (distance <= max(1, len/3) or a prefix match), else NULL.
 * `candidates` is NULL-terminated; the result is borrowed from it. */
const char *lg_suggest(const char *word, const char *const *candidates);

#endif
