/* mod_igraph_jobpool.c: the job thread pool (see mod_igraph_jobpool.h).
 *
 * Not apr-util's apr_thread_pool: its destroy returns while exiting threads still run
 * apr_thread_exit() on pools it then frees, which crashed children at exit now and then. Here
 * every thread is joined before anything goes away.
 */
#include <pthread.h>

#include <apr_pools.h>
#include <apr_thread_mutex.h>
#include <apr_thread_cond.h>

#include "mod_igraph_jobpool.h"

typedef struct job_item {
    struct job_item *next;
    apr_thread_start_t fn;
    void *data;
} job_item;

/* Every signal but the faults, which stay deliverable to the thread that causes them. */
static void async_signals(sigset_t *set)
{
    static const int synchronous[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT};
    size_t i;

    sigfillset(set);
    for (i = 0; i < sizeof(synchronous) / sizeof(synchronous[0]); i++) {
        sigdelset(set, synchronous[i]);
    }
}

void mig_signals_hold(mig_signals_t *h)
{
    sigset_t all;

    async_signals(&all);
    h->held = (pthread_sigmask(SIG_BLOCK, &all, &h->old) == 0);
}

void mig_signals_release(mig_signals_t *h)
{
    if (h->held) {
        pthread_sigmask(SIG_SETMASK, &h->old, NULL);
        h->held = 0;
    }
}

apr_status_t mig_thread_create(apr_thread_t **t, apr_thread_start_t fn, void *data, apr_pool_t *p)
{
    mig_signals_t h;
    apr_status_t rv;

    /* the new thread inherits the mask in force while it is created */
    mig_signals_hold(&h);
    if (!h.held) {
        return APR_EGENERAL;
    }
    rv = apr_thread_create(t, NULL, fn, data, p);
    mig_signals_release(&h);
    return rv;
}

struct mig_jobpool_t {
    apr_pool_t *pool; /* own allocator: threads and queue nodes */
    apr_thread_mutex_t *mx;
    apr_thread_cond_t *cv;
    apr_thread_t *threads[MIG_JOBPOOL_THREADS_MAX];
    int nthreads;
    job_item *head, *tail, *free_items;
    int stopping;
};

static void *APR_THREAD_FUNC pool_thread(apr_thread_t *t, void *data)
{
    mig_jobpool_t *jp = data;
    apr_thread_mutex_lock(jp->mx);
    for (;;) {
        job_item *it;
        while (!jp->head && !jp->stopping) {
            apr_thread_cond_wait(jp->cv, jp->mx);
        }
        if (jp->stopping) {
            break;
        }
        it = jp->head;
        jp->head = it->next;
        if (!jp->head) {
            jp->tail = NULL;
        }
        apr_thread_mutex_unlock(jp->mx);
        it->fn(t, it->data);
        apr_thread_mutex_lock(jp->mx);
        it->next = jp->free_items;
        jp->free_items = it;
    }
    apr_thread_mutex_unlock(jp->mx);
    return NULL;
}

apr_status_t mig_jobpool_push(mig_jobpool_t *jp, apr_thread_start_t fn, void *data)
{
    job_item *it;
    apr_status_t rv = APR_SUCCESS;

    apr_thread_mutex_lock(jp->mx);
    if (jp->stopping) {
        rv = APR_EINIT;
    }
    else {
        if ((it = jp->free_items)) {
            jp->free_items = it->next;
        }
        else {
            it = apr_palloc(jp->pool, sizeof(*it));
        }
        it->fn = fn;
        it->data = data;
        it->next = NULL;
        if (jp->tail) {
            jp->tail->next = it;
        }
        else {
            jp->head = it;
        }
        jp->tail = it;
        apr_thread_cond_signal(jp->cv);
    }
    apr_thread_mutex_unlock(jp->mx);
    return rv;
}

apr_status_t mig_jobpool_create(mig_jobpool_t **out, int n)
{
    apr_allocator_t *alloc;
    apr_pool_t *p;
    mig_jobpool_t *jp;
    apr_status_t rv;
    int i;

    if ((rv = apr_allocator_create(&alloc)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = apr_pool_create_unmanaged_ex(&p, NULL, alloc)) != APR_SUCCESS) {
        apr_allocator_destroy(alloc);
        return rv;
    }
    apr_allocator_owner_set(alloc, p);
    jp = apr_pcalloc(p, sizeof(*jp));
    jp->pool = p;
    {
        /* the threads' own pools are subpools of p and go away concurrently at exit */
        apr_thread_mutex_t *am;
        if ((rv = apr_thread_mutex_create(&am, APR_THREAD_MUTEX_DEFAULT, p)) != APR_SUCCESS) {
            apr_pool_destroy(p);
            return rv;
        }
        apr_allocator_mutex_set(alloc, am);
    }
    if ((rv = apr_thread_mutex_create(&jp->mx, APR_THREAD_MUTEX_DEFAULT, p)) != APR_SUCCESS ||
        (rv = apr_thread_cond_create(&jp->cv, p)) != APR_SUCCESS) {
        apr_pool_destroy(p);
        return rv;
    }
    for (i = 0; i < n && i < MIG_JOBPOOL_THREADS_MAX; i++) {
        if (mig_thread_create(&jp->threads[i], pool_thread, jp, p) != APR_SUCCESS) {
            break;
        }
        jp->nthreads++;
    }
    if (jp->nthreads == 0) {
        apr_pool_destroy(p);
        return APR_EGENERAL;
    }
    *out = jp;
    return APR_SUCCESS;
}

void mig_jobpool_destroy(mig_jobpool_t *jp)
{
    apr_status_t trv;
    job_item *it;
    int i;

    apr_thread_mutex_lock(jp->mx);
    jp->stopping = 1;
    apr_thread_cond_broadcast(jp->cv);
    apr_thread_mutex_unlock(jp->mx);
    for (i = 0; i < jp->nthreads; i++) {
        apr_thread_join(&trv, jp->threads[i]);
    }
    /* queued tasks never ran: their own pools go with them */
    for (it = jp->head; it; it = it->next) {
        if (it->data) {
            /* every task starts with its own pool (see mig_jobpool_push) */
            apr_pool_destroy(*(apr_pool_t **)it->data);
        }
    }
    apr_pool_destroy(jp->pool);
}
