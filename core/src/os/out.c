/* The files hakmem writes: HAKMEM_STATS_FILE, HAKMEM_ACE_TRACE and, under
 * HAKMEM_STATS=1, a duplicate of the stderr the process started with.
 *
 * Each is a descriptor of its own, close-on-exec and numbered high, so the
 * low numbers a program counts on (the next open() gives 3) stay free. A
 * program may still close it (daemons close every descriptor above 2) and
 * open something else under its number: every write first checks that the
 * descriptor is still the file it was opened on, so hakmem never writes
 * into a file of the program's. A write that fails (a full disk, a /proc
 * file that refuses the text, a closed descriptor) warns once, naming the
 * file and the reason, and nothing more is written to it. */
#include "os.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The lowest descriptor number hakmem's files take: far above the 0-9 that
 * shells and programs number by hand. Below it only when the descriptor
 * limit is lower. */
#define HIGH_FD 100

/* The C locale's text of the errors opening, writing and closing a file
 * can give. Not strerror: it translates through gettext, which takes the
 * locale lock, and a warning may come from inside malloc called by
 * setlocale with that lock held. */
#define ERRNO_TEXTS(X)                                                                            \
    X(EPERM, "Operation not permitted") X(ENOENT, "No such file or directory")                    \
    X(EINTR, "Interrupted system call") X(EIO, "Input/output error")                              \
    X(ENXIO, "No such device or address") X(EBADF, "Bad file descriptor")                         \
    X(EAGAIN, "Resource temporarily unavailable") X(ENOMEM, "Cannot allocate memory")             \
    X(EACCES, "Permission denied") X(EFAULT, "Bad address") X(EBUSY, "Device or resource busy")  \
    X(EEXIST, "File exists") X(ENODEV, "No such device") X(ENOTDIR, "Not a directory")            \
    X(EISDIR, "Is a directory") X(EINVAL, "Invalid argument")                                     \
    X(ENFILE, "Too many open files in system") X(EMFILE, "Too many open files")                   \
    X(ETXTBSY, "Text file busy") X(EFBIG, "File too large") X(ENOSPC, "No space left on device") \
    X(EROFS, "Read-only file system") X(EPIPE, "Broken pipe")                                     \
    X(ENAMETOOLONG, "File name too long") X(ELOOP, "Too many levels of symbolic links")           \
    X(EOVERFLOW, "Value too large for defined data type")                                         \
    X(EOPNOTSUPP, "Operation not supported") X(EDQUOT, "Disk quota exceeded")                     \
    X(ESTALE, "Stale file handle")

static const char *reason(int err, char *buf, size_t cap) {
    switch (err) {
#define ERRNO_CASE_(e, text) \
    case e: return text;
        ERRNO_TEXTS(ERRNO_CASE_)
#undef ERRNO_CASE_
    }
    snprintf(buf, cap, "errno %d", err);
    return buf;
}

/* Moves fd to a high close-on-exec number (a duplicate when keep is true,
 * else fd itself is closed); -1 with errno when it cannot. */
static int high_fd(int fd, bool keep) {
    int h = fcntl(fd, F_DUPFD_CLOEXEC, HIGH_FD);
    if (h < 0 && errno == EINVAL) h = fcntl(fd, F_DUPFD_CLOEXEC, 0); /* a low descriptor limit */
    int err = errno;
    if (!keep) close(fd);
    errno = err;
    return h;
}

/* Records which file fd is; false when it is not open. */
static bool remember(hak_out_t *o, int fd) {
    struct stat st;
    o->known = fstat(fd, &st) == 0;
    o->dev = o->known ? (uint64_t)st.st_dev : 0;
    o->ino = o->known ? (uint64_t)st.st_ino : 0;
    return o->known;
}

bool _hak_out_same(const hak_out_t *o, int fd) {
    struct stat st;
    return o->known && fd >= 0 && fstat(fd, &st) == 0 && (uint64_t)st.st_dev == o->dev &&
           (uint64_t)st.st_ino == o->ino;
}

/* Copies a path with each "%p" replaced by the process id, so each
 * process of a multi-process program writes its own file; false when the
 * result does not fit. */
static bool expand_pid(char *out, size_t cap, const char *in) {
    size_t n = 0;
    for (; *in; in++) {
        int w;
        if (in[0] == '%' && in[1] == 'p') {
            w = snprintf(out + n, cap - n, "%d", _hak_os_pid());
            in++;
        } else {
            w = snprintf(out + n, cap - n, "%c", *in);
        }
        if (w < 0 || (size_t)w >= cap - n) return false;
        n += (size_t)w;
    }
    out[n] = '\0';
    return true;
}

bool _hak_out_open(hak_out_t *o, hak_opt_id_t var, bool append, const char *what) {
    o->fd = -1;
    o->var = _hak_opt_env(var);
    o->what = what;
    const char *text = _hak_opt_str(var);
    if (!expand_pid(o->path, sizeof(o->path), text)) {
        _hak_warn("warning: %s=%s is too long once %%p is expanded (at most %zu bytes); no %s written",
                  o->var, text, sizeof(o->path) - 1, what);
        return false;
    }
    int fd = open(o->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | (append ? O_APPEND : 0), 0644);
    if (fd >= 0) fd = high_fd(fd, false);
    if (fd >= 0 && remember(o, fd)) o->fd = fd;
    if (o->fd < 0) {
        int err = errno;
        if (fd >= 0) close(fd);
        char why[128];
        _hak_warn("warning: %s=%s cannot be opened (%s); no %s written", o->var, o->path,
                  reason(err, why, sizeof(why)), what);
        return false;
    }
    return true;
}

bool _hak_out_keep(hak_out_t *o, int fd) {
    o->fd = -1;
    o->var = NULL;
    o->what = NULL;
    o->path[0] = '\0';
    if (!remember(o, fd)) return false; /* not open: nothing to keep */
    int h = high_fd(fd, true);
    if (h >= 0) o->fd = h;
    return o->fd >= 0;
}

static void give_up(hak_out_t *o, const char *why) {
    o->fd = -1;
    if (o->var != NULL)
        _hak_warn("warning: %s=%s cannot be written (%s); nothing more of the %s is written",
                  o->var, o->path, why, o->what);
}

bool _hak_out_write(hak_out_t *o, const char *s, size_t n) {
    if (o->fd < 0) return false;
    char why[128];
    if (!_hak_out_same(o, o->fd)) {
        /* not ours any more: left open, it is the program's now */
        snprintf(why, sizeof(why), "descriptor %d was closed or replaced by the program", o->fd);
        give_up(o, why);
        return false;
    }
    if (_hak_write_all(o->fd, s, n)) return true;
    int err = errno;
    close(o->fd);
    give_up(o, reason(err, why, sizeof(why)));
    return false;
}

void _hak_out_close(hak_out_t *o) {
    if (o->fd < 0) return;
    char why[128];
    /* a write the file system reports only now (NFS, a full quota) */
    if (close(o->fd) != 0 && errno != EINTR) give_up(o, reason(errno, why, sizeof(why)));
    o->fd = -1;
}
