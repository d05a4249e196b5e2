/* mod_igraph_jobpool.h: a fixed set of threads fed from a queue (mod_igraph_jobpool.c), on
 * which the worker child runs publish steps and token sweeps. */
#ifndef MOD_IGRAPH_JOBPOOL_H
#define MOD_IGRAPH_JOBPOOL_H

#include <signal.h>

#include <apr_thread_proc.h>

#define MIG_JOBPOOL_THREADS_MAX 16

/* apr_thread_create for the module's background threads: they start with every asynchronous
 * signal blocked, so the MPM's signals (prefork's SIGTERM/SIGHUP run its exit path in the
 * handler, graceful restarts wake the accept loop with SIGUSR1, event's main thread waits for
 * SIGTERM) always reach the MPM's own thread. A signal handled on one of ours would destroy
 * the child's pool and exit under the MPM's feet (a segfault at stop), or never wake the
 * thread that must stop (a slow graceful restart). Threads these threads create (libcurl's
 * resolver) inherit the mask. */
apr_status_t mig_thread_create(apr_thread_t **t, apr_thread_start_t fn, void *data, apr_pool_t *p);

/* Holds the calling thread's asynchronous signals until mig_signals_release (which delivers
 * what arrived meanwhile): for set-up that a signal handler must not interrupt half-way. */
typedef struct mig_signals_t {
    sigset_t old;
    int held;
} mig_signals_t;
void mig_signals_hold(mig_signals_t *h);
void mig_signals_release(mig_signals_t *h);

typedef struct mig_jobpool_t mig_jobpool_t;

/* Starts n threads (at most MIG_JOBPOOL_THREADS_MAX; fewer when some cannot be created). The
 * pool has its own allocator. APR_EGENERAL when not even one thread started. */
apr_status_t mig_jobpool_create(mig_jobpool_t **out, int n);

/* Queues fn(thread, data). data must point at a task whose first member is the task's own
 * apr_pool_t *: fn destroys that pool when it ends, mig_jobpool_destroy() when the task is
 * dropped unrun. APR_EINIT once the pool is being destroyed. */
apr_status_t mig_jobpool_push(mig_jobpool_t *jp, apr_thread_start_t fn, void *data);

/* Running tasks finish (make their Graph calls abort first); queued ones are dropped, their
 * pools destroyed (claims they held are the caller's to release); every thread is joined
 * before anything goes away. */
void mig_jobpool_destroy(mig_jobpool_t *jp);

#endif
