#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int lg_fs_read_file(const char *path, lg_buf *out, lg_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    char chunk[65536];
    ssize_t n;
    int rc = 0;

    if (fd < 0)
        return LG_ERR(err, errno == ENOENT ? LG_ENOENT : LG_EIO, "cannot open '%s': %s",
                      path, strerror(errno));
    for (;;) {
        n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = LG_ERR(err, errno == EISDIR ? LG_EINPUT : LG_EIO, "cannot read '%s': %s",
                        path, strerror(errno));
            break;
        }
        if (n == 0)
            break;
        rc = lg_buf_append(out, chunk, (size_t)n);
        if (rc) {
            rc = LG_ERR(err, rc, "cannot read '%s': file larger than %zu bytes", path, out->max);
            break;
        }
    }
    close(fd);
    if (!rc && !out->data && lg_buf_append(out, "", 0))
        rc = LG_ERR(err, LG_ENOMEM, "out of memory");
    return rc;
}

int lg_fs_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int lg_fs_write_file_atomic(const char *path, const void *data, size_t len, lg_err *err)
{
    lg_buf tmp = LG_BUF_INIT;
    int fd, rc = 0;

    if (lg_buf_appendf(&tmp, "%s.tmp.XXXXXX", path))
        return LG_ERR(err, LG_ENOMEM, "out of memory");
    fd = mkstemp(tmp.data);
    if (fd < 0) {
        rc = LG_ERR(err, LG_EIO, "cannot create '%s': %s", tmp.data, strerror(errno));
        goto out_free;
    }
    if (lg_fs_write_all(fd, data, len) || fsync(fd)) {
        rc = LG_ERR(err, LG_EIO, "cannot write '%s': %s", tmp.data, strerror(errno));
        close(fd);
        unlink(tmp.data);
        goto out_free;
    }
    fchmod(fd, 0644);
    close(fd);
    if (rename(tmp.data, path)) {
        rc = LG_ERR(err, LG_EIO, "cannot rename '%s' to '%s': %s", tmp.data, path,
                    strerror(errno));
        unlink(tmp.data);
    }
out_free:
    lg_buf_release(&tmp);
    return rc;
}

int lg_fs_mkdir_p(const char *path, lg_err *err)
{
    lg_buf b = LG_BUF_INIT;
    int rc = 0;

    if (lg_buf_append_str(&b, path))
        return LG_ERR(err, LG_ENOMEM, "out of memory");
    for (char *p = b.data + 1; ; p++) {
        char c = *p;
        if (c == '/' || c == '\0') {
            *p = '\0';
            if (mkdir(b.data, 0777) && errno != EEXIST) {
                rc = LG_ERR(err, LG_EIO, "cannot create directory '%s': %s", b.data,
                            strerror(errno));
                break;
            }
            *p = c;
            if (c == '\0')
                break;
        }
    }
    lg_buf_release(&b);
    return rc;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

int lg_fs_rm_rf(const char *path, lg_err *err)
{
    if (!lg_fs_exists(path))
        return 0;
    if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS))
        return LG_ERR(err, LG_EIO, "cannot remove '%s': %s", path, strerror(errno));
    return 0;
}

bool lg_fs_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}
