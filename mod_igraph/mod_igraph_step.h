/* mod_igraph_step.h: running the steps of one publish job on a pool thread
 * (mod_igraph_step.c). */
#ifndef MOD_IGRAPH_STEP_H
#define MOD_IGRAPH_STEP_H

#include <apr_thread_proc.h>

#include "mod_igraph.h"

/* How long a job claim lasts: it outlives the step it covers, and a step makes at most two Graph
 * calls (45 s by default). */
#define MIG_STEP_CLAIM_TTL(c) (2 * (c)->graph_timeout + 5)

/* One job handed to the thread pool; the dispatcher holds its claim for holder. */
typedef struct mig_step_task_t {
    apr_pool_t *pool; /* the task's own pool, destroyed when it ends (first member:
                       * see mig_jobpool_push) */
    apr_int64_t pace; /* the account's key in the pace table (MIG_PACE_KEY) */
    int starting;     /* counted in mig_pace_starting(pace) until the task ends */
    server_rec *s;
    const char *id;
    const char *holder;
    volatile int *stop; /* set: the child stops (Graph calls abort, no new step) */
} mig_step_task_t;

/* Thread pool function (data: mig_step_task_t): loads the job and its account, runs the step
 * that is due and those that follow at once (a few at most), saving the row after each, then
 * releases the claim, the starting count and the task's pool. */
void *APR_THREAD_FUNC mig_step_task_run(apr_thread_t *t, void *data);

#endif
