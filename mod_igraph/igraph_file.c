/* igraph_file.c: opening files that root reads at start-up (see igraph_file.h). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <apr_strings.h>

#include "igraph_file.h"

#define MAX_LINKS 40

/* 1 when a user other than root can replace (or retarget) the entry est of the directory dst. */
static int others_can_change(const struct stat *dst, const struct stat *est)
{
    if (dst->st_uid != 0) {
        return 1;
    }
    if ((dst->st_mode & S_IWGRP) && dst->st_gid != 0) {
        return 1;
    }
    /* a sticky directory (/tmp) lets others add names, but not replace an entry root owns */
    return (dst->st_mode & S_IWOTH) && !((dst->st_mode & S_ISVTX) && est->st_uid == 0);
}

static const char *os_error(apr_pool_t *p, int err_no)
{
    return apr_strerror(APR_FROM_OS_ERROR(err_no), apr_palloc(p, 128), 128);
}

static const char *join(apr_pool_t *p, const char *dir, const char *name)
{
    return apr_pstrcat(p, strcmp(dir, "/") ? dir : "", "/", name, NULL);
}

/* The walk as root (see the header); on success *pfd is open on the regular file at path. */
static apr_status_t walk(const char *path, int flags, int *pfd, struct stat *fst, apr_pool_t *p,
                         const char **perr)
{
    char target[4096];
    char *rest = apr_pstrdup(p, path);
    const char *at = "/";
    struct stat dst, est;
    apr_status_t rv;
    int dfd, links = 0;

    dfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fstat(dfd, &dst) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
        *perr = apr_psprintf(p, "cannot open %s: %s", path, os_error(p, errno));
        goto leave;
    }
    for (;;) {
        char *comp = rest, *end;
        int last, nfd;
        ssize_t n;

        while (*comp == '/') {
            comp++;
        }
        end = comp + strcspn(comp, "/");
        rest = end;
        if (*rest) {
            *rest++ = '\0';
            while (*rest == '/') {
                rest++;
            }
        }
        last = (*rest == '\0');
        if (!*comp || (!strcmp(comp, ".") && last)) {
            rv = APR_EINVAL;
            *perr = apr_psprintf(p, "%s is not a regular file", path);
            goto leave;
        }
        if (!strcmp(comp, ".")) {
            continue;
        }
        if (fstatat(dfd, comp, &est, AT_SYMLINK_NOFOLLOW) != 0) {
            rv = APR_FROM_OS_ERROR(errno);
            *perr = apr_psprintf(p, "cannot open %s: %s", path, os_error(p, errno));
            goto leave;
        }
        if (S_ISLNK(est.st_mode)) {
            if (last && (flags & IGRAPH_FILE_NO_LINK)) {
                rv = IGRAPH_EUNSAFE;
                *perr = apr_psprintf(p,
                                     "%s is a symbolic link; it must be the file itself (replace "
                                     "the link with the file it points to)",
                                     path);
                goto leave;
            }
            if (others_can_change(&dst, &est)) {
                rv = IGRAPH_EUNSAFE;
                *perr = apr_psprintf(p,
                                     "%s leads through the symbolic link %s, in a directory that "
                                     "a user other than root can change (such as the Apache "
                                     "user), and root does not follow such links: name the file "
                                     "itself, or keep the link in a directory only root can write",
                                     path, join(p, at, comp));
                goto leave;
            }
            n = readlinkat(dfd, comp, target, sizeof(target) - 1);
            if (n <= 0 || ++links > MAX_LINKS) {
                rv = n < 0 ? APR_FROM_OS_ERROR(errno) : APR_FROM_OS_ERROR(ELOOP);
                *perr =
                    apr_psprintf(p, "cannot open %s: %s", path, os_error(p, n < 0 ? errno : ELOOP));
                goto leave;
            }
            target[n] = '\0';
            rest = last ? apr_pstrdup(p, target) : apr_pstrcat(p, target, "/", rest, NULL);
            if (target[0] == '/') {
                nfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                at = "/";
                if (nfd < 0 || fstat(nfd, &dst) != 0) {
                    rv = APR_FROM_OS_ERROR(errno);
                    *perr = apr_psprintf(p, "cannot open %s: %s", path, os_error(p, errno));
                    if (nfd >= 0) {
                        close(nfd);
                    }
                    goto leave;
                }
                close(dfd);
                dfd = nfd;
            }
            continue;
        }
        if (S_ISDIR(est.st_mode) && (!last || (flags & IGRAPH_FILE_DIRECTORY))) {
            struct stat nst;
            nfd = openat(dfd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (nfd < 0 || fstat(nfd, &nst) != 0 || nst.st_dev != est.st_dev ||
                nst.st_ino != est.st_ino) {
                rv = nfd < 0 ? APR_FROM_OS_ERROR(errno) : IGRAPH_EUNSAFE;
                *perr =
                    apr_psprintf(p, "cannot open %s: %s", path,
                                 nfd < 0 ? os_error(p, errno) : "it changed while it was checked");
                if (nfd >= 0) {
                    close(nfd);
                }
                goto leave;
            }
            close(dfd);
            dfd = nfd;
            dst = nst;
            at = !strcmp(comp, "..") ? apr_pstrndup(p, at, (apr_size_t)(strrchr(at, '/') - at))
                                     : join(p, at, comp);
            if (!*at) {
                at = "/";
            }
            if (last) {
                *pfd = dfd;
                *fst = dst;
                dfd = -1;
                rv = APR_SUCCESS;
                break;
            }
            continue;
        }
        if (!last || (flags & IGRAPH_FILE_DIRECTORY)) {
            rv = APR_FROM_OS_ERROR(ENOTDIR);
            *perr = apr_psprintf(p, "cannot open %s: %s", path, os_error(p, ENOTDIR));
            goto leave;
        }
        if (!S_ISREG(est.st_mode)) {
            rv = APR_EINVAL;
            *perr = apr_psprintf(p, "%s is not a regular file", path);
            goto leave;
        }
        if (est.st_nlink != 1 && others_can_change(&dst, &est)) {
            rv = IGRAPH_EUNSAFE;
            *perr = apr_psprintf(p,
                                 "%s has %lu (hard) links and lies in %s, a directory that a "
                                 "user other than root can change: root does not read it (copy "
                                 "the file instead of linking it)",
                                 path, (unsigned long)est.st_nlink, at);
            goto leave;
        }
        *pfd = openat(dfd, comp, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (*pfd < 0) {
            rv = APR_FROM_OS_ERROR(errno);
            *perr = apr_psprintf(p, "cannot open %s: %s", path, os_error(p, errno));
            goto leave;
        }
        if (fstat(*pfd, fst) != 0 || fst->st_dev != est.st_dev || fst->st_ino != est.st_ino ||
            !S_ISREG(fst->st_mode)) {
            rv = IGRAPH_EUNSAFE;
            *perr = apr_psprintf(p, "cannot open %s: it changed while it was checked", path);
            goto leave;
        }
        rv = APR_SUCCESS;
        break;
    }
leave:
    if (dfd >= 0) {
        close(dfd);
    }
    return rv;
}

apr_status_t igraph_file_open_trusted(const char *path, int flags, int *pfd, struct stat *pst,
                                      apr_pool_t *p, const char **perr)
{
    const char *err = NULL;
    struct stat st;
    apr_status_t rv;

    *pfd = -1;
    if (!path || path[0] != '/') {
        rv = APR_EINVAL;
        err = apr_psprintf(p, "%s is not an absolute path", path ? path : "(none)");
        goto leave;
    }
    if (geteuid() == 0) {
        rv = walk(path, flags, pfd, &st, p, &err);
    }
    else {
        *pfd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC |
                              ((flags & IGRAPH_FILE_NO_LINK) ? O_NOFOLLOW : 0) |
                              ((flags & IGRAPH_FILE_DIRECTORY) ? O_DIRECTORY : 0));
        if (*pfd < 0 && errno == ELOOP && (flags & IGRAPH_FILE_NO_LINK)) {
            rv = IGRAPH_EUNSAFE;
            err = apr_psprintf(p,
                               "%s is a symbolic link; it must be the file itself (replace the "
                               "link with the file it points to)",
                               path);
        }
        else if (*pfd < 0) {
            rv = APR_FROM_OS_ERROR(errno);
            err = apr_psprintf(p, "cannot open %s: %s", path, os_error(p, errno));
        }
        else if (fstat(*pfd, &st) != 0 ||
                 !((flags & IGRAPH_FILE_DIRECTORY) ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode))) {
            rv = APR_EINVAL;
            err = apr_psprintf(p, "%s is not a regular file", path);
        }
        else {
            rv = APR_SUCCESS;
        }
    }
    if (rv != APR_SUCCESS || !(flags & IGRAPH_FILE_PRIVATE)) {
        goto leave;
    }
    rv = IGRAPH_EUNSAFE;
    if (st.st_uid != geteuid()) {
        err = apr_psprintf(p, "%s is owned by uid %lu, not by %s: chown %s %s", path,
                           (unsigned long)st.st_uid, geteuid() == 0 ? "root" : "this user",
                           geteuid() == 0 ? "root:root" : "<the user that starts Apache>", path);
    }
    else if (st.st_nlink != 1) {
        err = apr_psprintf(p, "%s has %lu (hard) links: keep exactly one", path,
                           (unsigned long)st.st_nlink);
    }
    else if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        err = apr_psprintf(p,
                           "%s can be read or written by group or others (mode %04o): chmod "
                           "600 %s",
                           path, (unsigned)(st.st_mode & 07777), path);
    }
    else {
        rv = APR_SUCCESS;
    }
leave:
    if (rv != APR_SUCCESS && *pfd >= 0) {
        close(*pfd);
        *pfd = -1;
    }
    if (rv == APR_SUCCESS && pst) {
        *pst = st;
    }
    if (perr) {
        *perr = err;
    }
    return rv;
}
