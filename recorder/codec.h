/*
 * recorder/codec.h - zstd coding of trace bodies: plain, with a trained
 * dictionary, or against a reference prefix (a delta).
 *
 * The store (recorder/store.c) decides which coding a body gets; this module
 * only turns bytes into frames and back, byte-exact. Frames are zstd frames
 * in the magicless format without content size, checksum or dictionary id:
 * the store keeps the raw length, the XXH3-128 of the raw bytes (checked
 * after every decode) and which dictionary or prefix was used, so repeating
 * them in every frame would only cost bytes.
 *
 * Two objects:
 *  - lg_dict: an immutable trained dictionary with its digested forms for
 *    compressing and decompressing. Safe to share between threads.
 *  - lg_codec: compression and decompression contexts. Not thread-safe:
 *    one codec per thread at a time (they are cheap to keep in a pool).
 */
#ifndef LG_CODEC_H
#define LG_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

/* How a body is coded; the numbers are stored in trace files. */
enum lg_codec_kind {
    LG_CODEC_RAW = 0,    /* bytes as they are (used when zstd would not save) */
    LG_CODEC_ZSTD = 1,   /* zstd, no dictionary */
    LG_CODEC_DICT = 2,   /* zstd with a trained dictionary */
    LG_CODEC_PREFIX = 3, /* zstd with a reference prefix (delta against earlier bytes) */
};

/* Levels: standalone bodies and deltas written while recording (chosen by
 * bench/bench_store: the best size for the time on chat traffic), and
 * `compact`. */
#define LG_CODEC_LEVEL_FAST 4
#define LG_CODEC_LEVEL_DELTA 4
#define LG_CODEC_LEVEL_MAX 19

typedef struct lg_dict lg_dict;
typedef struct lg_codec lg_codec;

/*
 * Trains a dictionary of at most `max_size` bytes from `n` samples laid end
 * to end in `samples` (sizes in `sizes`) with ZDICT_trainFromBuffer, and
 * appends it to `out`. Needs enough material: LG_EINPUT when zstd finds the
 * samples too few or too small ("not enough samples to train a dictionary").
 * Borrows everything. Thread-safe (no shared state).
 */
int lg_dict_train(const void *samples, const size_t *sizes, size_t n, size_t max_size,
                  lg_buf *out, lg_err *err) LG_WUR;

/*
 * Builds a dictionary from trained bytes for compression at `level` (1..19)
 * and for decompression. `id` is the caller's name for it (the store's row
 * id). Copies the bytes. Returns owned (free with lg_dict_free) or NULL with
 * `err` set (LG_ENOMEM, or LG_EINPUT for bytes zstd rejects).
 */
lg_dict *lg_dict_new(const void *data, size_t len, int level, int64_t id, lg_err *err);
void lg_dict_free(lg_dict *d); /* accepts NULL */
int64_t lg_dict_id(const lg_dict *d);
/* The dictionary bytes (borrowed, valid until lg_dict_free). */
const void *lg_dict_bytes(const lg_dict *d, size_t *len);
/* Its content part without the zstd header and entropy tables: the bytes
 * worth putting in front of a reference prefix (borrowed). */
const void *lg_dict_content(const lg_dict *d, size_t *len);

/* Returns owned contexts (free with lg_codec_free), or NULL on OOM. */
lg_codec *lg_codec_new(void);
void lg_codec_free(lg_codec *c); /* accepts NULL */

/* A buffer that goes with the contexts, for callers' temporary bytes (such
 * as a prefix being assembled), so that hot paths do not allocate. Borrowed;
 * valid until lg_codec_free; the codec functions never touch it. */
lg_buf *lg_codec_scratch(lg_codec *c);

/*
 * Compresses `len` bytes of `src` at `level` and appends the frame to `out`.
 * With `prefix` (plen > 0) the bytes are coded against it (LG_CODEC_PREFIX);
 * else with `dict` when not NULL (LG_CODEC_DICT, at the dictionary's level);
 * else plainly
 * (LG_CODEC_ZSTD). When the frame would not be smaller than the input, the
 * input is appended as is and the kind is LG_CODEC_RAW. `*kind` receives the
 * coding used. Returns 0, or LG_ENOMEM / LG_ETOOBIG (out's cap) /
 * LG_EINTERNAL (a zstd error) with `err` set; `out` is unchanged on error.
 * Borrows everything.
 */
int lg_codec_compress(lg_codec *c, int level, const void *src, size_t len, const lg_dict *dict,
                      const void *prefix, size_t plen, lg_buf *out, int *kind,
                      lg_err *err) LG_WUR;

/*
 * Decodes a body coded as `kind` and appends exactly `raw_len` bytes to
 * `out`. LG_CODEC_DICT needs the same `dict`, LG_CODEC_PREFIX the same
 * prefix bytes. A frame that does not decode to exactly `raw_len` bytes is
 * LG_EINPUT ("corrupt frame: ..."); callers add which body it was.
 * `out` is unchanged on error. Borrows everything.
 */
int lg_codec_decompress(lg_codec *c, int kind, const void *src, size_t len, size_t raw_len,
                        const lg_dict *dict, const void *prefix, size_t plen, lg_buf *out,
                        lg_err *err) LG_WUR;

#endif
