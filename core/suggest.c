#include "suggest.h"

#include <stdlib.h>
#include <string.h>

size_t lg_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), *row, result;

    if (la > 256 || lb > 256)
        return la > lb ? la : lb; /* not a typo of anything we know */
    row = malloc((lb + 1) * sizeof *row);
    if (!row)
        return (size_t)-1;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = diag + cost;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            if (up + 1 < best)
                best = up + 1;
            row[j] = best;
            diag = up;
        }
    }
    result = row[lb];
    free(row);
    return result;
}

const char *lg_suggest(const char *word, const char *const *candidates)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1, wl = strlen(word);
    size_t limit = wl / 3 > 1 ? wl / 3 : 1;

    if (wl == 0)
        return NULL;
    if (limit < 2 && wl >= 4)
        limit = 2;
    for (const char *const *c = candidates; *c; c++) {
        size_t d = lg_edit_distance(word, *c);
        if (d < best_d) {
            best_d = d;
            best = *c;
        }
    }
    if (best && best_d <= limit)
        return best;
    /* a unique prefix ("--cou" for "--count") is also a good guess */
    best = NULL;
    for (const char *const *c = candidates; *c; c++) {
        if (wl >= 3 && strncmp(*c, word, wl) == 0) {
            if (best)
                return NULL;
            best = *c;
        }
    }
    return best;
}
