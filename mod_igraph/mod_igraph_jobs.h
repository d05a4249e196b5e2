/* mod_igraph_jobs.h: dispatching publish jobs in the worker child (mod_igraph_jobs.c), and its
 * thread pool for other background work. */
#ifndef MOD_IGRAPH_JOBS_H
#define MOD_IGRAPH_JOBS_H

#include <apr_thread_proc.h>

#include "mod_igraph.h"
#include "mod_igraph_sites.h"

/* Runs every due job step of one site (its realm's jobs on its database, with its server's
 * settings); returns the number of steps dispatched. */
int mig_jobs_dispatch(const mig_site *site, apr_pool_t *p, igraph_db_t *db, const char *holder,
                      volatile int *stop);
apr_status_t mig_jobs_start(apr_pool_t *pchild, server_rec *s);
/* Stops the pool (running steps finish) and releases holder's job claims in every database. */
void mig_jobs_stop(const char *holder);
/* Runs fn on the job thread pool with a task {own pool, data}; fn destroys task->pool. */
typedef struct mig_job_task_t {
    apr_pool_t *pool;
    void *data;
} mig_job_task_t;
apr_status_t mig_jobs_push(apr_thread_start_t fn, void *data);

#endif
