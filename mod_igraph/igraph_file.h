/* igraph_file.h: opening files that root reads at start-up (the token key, secret files, the
 * UI assets) on paths that another user, such as the Apache user, may be able to change. */
#ifndef IGRAPH_FILE_H
#define IGRAPH_FILE_H

#include <sys/stat.h>

#include <apr_errno.h>
#include <apr_pools.h>

/* A file refused by the checks below (as opposed to one that cannot be opened at all). */
#define IGRAPH_EUNSAFE (APR_OS_START_USERERR + 101)

/* The last path component may not be a symbolic link at all. */
#define IGRAPH_FILE_NO_LINK 1
/* The file must be private to its owner: owned by the user we run as (root when started as
 * root), one link, no permission bits for group or others. */
#define IGRAPH_FILE_PRIVATE 2

/* Opens the directory at path instead (O_RDONLY | O_DIRECTORY), for the *at() calls that then
 * handle one entry of it (the SQLite files in the Apache user's directory). */
#define IGRAPH_FILE_DIRECTORY 4

/* Opens the regular file at the absolute path for reading (O_NONBLOCK, so that a FIFO cannot
 * hold the caller up) and puts the descriptor in *pfd, its fstat in *pst (when not NULL).
 *
 * When running as root the path is walked one component at a time, never letting the kernel
 * follow a link by itself. A symbolic link is followed only when the directory that holds it can
 * be changed by root alone (owned by root, not writable by a group other than root's, not
 * writable by others unless sticky with the entry owned by root): a user who can write that
 * directory could otherwise point root at any file. In a directory another user can change, a
 * symbolic link, or a regular file with more than one (hard) link, is refused; everything else is
 * opened without following anything. Not running as root, the path is opened as usual (every link
 * then leads only where that user may read anyway), but the checks of flags still apply.
 *
 * Returns APR_SUCCESS, IGRAPH_EUNSAFE (refused; *perr says why and what to do) or the error of
 * the failed system call (*perr says which). Messages name the path, never the content. */
apr_status_t igraph_file_open_trusted(const char *path, int flags, int *pfd, struct stat *pst,
                                      apr_pool_t *p, const char **perr);

#endif
