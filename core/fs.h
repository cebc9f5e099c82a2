/*
 * core/fs.h - small file-system helpers with lg_err messages that name the path.
 */
#ifndef LG_FS_H
#define LG_FS_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "err.h"

/* Appends the whole file to `out` (respecting its cap). A missing file is
 * LG_ENOENT ("cannot open 'PATH': No such file or directory"), other
 * failures LG_EIO, a file larger than the cap LG_ETOOBIG. */
int lg_fs_read_file(const char *path, lg_buf *out, lg_err *err) LG_WUR;

/* Writes `len` bytes to PATH atomically: a temporary file in the same
 * directory, fsync, rename. An existing file is replaced only on success. */
int lg_fs_write_file_atomic(const char *path, const void *data, size_t len, lg_err *err) LG_WUR;

/* mkdir -p with mode 0777 (minus umask). Existing directories are fine. */
int lg_fs_mkdir_p(const char *path, lg_err *err) LG_WUR;

/* Removes a directory tree (like rm -rf). Missing is fine. */
int lg_fs_rm_rf(const char *path, lg_err *err) LG_WUR;

bool lg_fs_exists(const char *path);

/* Writes all bytes to a file descriptor, retrying on EINTR and short writes.
 * Returns 0 or -1 with errno set. */
int lg_fs_write_all(int fd, const void *data, size_t len);

#endif
