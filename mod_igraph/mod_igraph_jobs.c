/* mod_igraph_jobs.c: the dispatcher of publish jobs in the worker child.
 *
 * The maintenance thread (mod_igraph_worker.c) calls mig_jobs_dispatch() about once a second.
 * It claims every due job in the database and hands each to a small thread pool
 * (mod_igraph_jobpool.c), one task per job (mod_igraph_step.c), so a slow or hanging call only
 * ties up its own thread. Before a queued job starts, the per-account table
 * (mod_igraph_pace.c) says whether its account has room and is not paused by a rate limit.
 */
#include <apr_strings.h>

#include "mod_igraph_jobs.h"
#include "mod_igraph_jobpool.h"
#include "mod_igraph_pace.h"
#include "mod_igraph_step.h"
#include "mod_igraph_storage.h"
#include "igraph_util.h"

#define JOB_THREADS 8 /* Graph steps in parallel (a hanging call holds one) */
#define JOB_BATCH 64  /* due jobs read per query (several queries per dispatch) */

static mig_jobpool_t *job_pool;
/* set by mig_jobs_stop: in-flight Graph calls abort, no further step starts */
static volatile int job_stop;

int mig_jobs_dispatch(const mig_site *site, apr_pool_t *p, igraph_db_t *db, const char *holder,
                      volatile int *stop)
{
    server_rec *s = site->s;
    apr_array_header_t *due;
    apr_int64_t now = igraph_now();
    int i, n = 0, round;

    if (!job_pool) {
        return 0;
    }
    /* a full batch means more may be due: read again (claimed rows drop out of the query) */
    for (round = 0; round < 8 && !*stop; round++) {
        int claimed = 0;
        if (igraph_store_jobs_due(db, p, site->realm, now, JOB_BATCH, &due) != APR_SUCCESS) {
            break;
        }
        for (i = 0; i < due->nelts && !*stop; i++) {
            const igraph_job_t *j = APR_ARRAY_IDX(due, i, const igraph_job_t *);
            int limit = mig_srv(s)->publish_concurrency;
            int starts = (j->status == IGRAPH_JOB_QUEUED);
            /* account ids are per database: the pace table keys them by store */
            apr_int64_t pace = MIG_PACE_KEY(site->store, j->account_id);
            mig_step_task_t *task;
            apr_pool_t *tp;

            if (mig_pace_paused(pace, now)) {
                igraph_store_job_postpone(db, p, j->id, now + 2, now);
                continue;
            }
            /* guardrail: a queued job starts only while its account has room; otherwise it
             * steps out of the due window so it never crowds out running posts */
            if (starts) {
                int inflight = 0;
                if (igraph_store_jobs_in_flight(db, p, j->account_id, &inflight) != APR_SUCCESS ||
                    inflight + mig_pace_starting(pace) >= limit) {
                    igraph_store_job_postpone(db, p, j->id, now + 1, now);
                    continue;
                }
            }
            if (igraph_store_job_claim(db, p, j->id, holder, now,
                                       now + MIG_STEP_CLAIM_TTL(mig_srv(s))) != APR_SUCCESS) {
                continue;
            }
            claimed++;
            if (starts && !mig_pace_starting_add(pace, +1)) {
                igraph_store_job_unclaim(db, p, j->id, holder);
                continue;
            }
            /* each task gets its own pool (and allocator): tasks run in parallel threads */
            if (apr_pool_create_unmanaged_ex(&tp, NULL, NULL) != APR_SUCCESS) {
                igraph_store_job_unclaim(db, p, j->id, holder);
                if (starts) {
                    mig_pace_starting_add(pace, -1);
                }
                continue;
            }
            task = apr_pcalloc(tp, sizeof(*task));
            task->pool = tp;
            task->s = s;
            task->id = apr_pstrdup(tp, j->id);
            task->holder = apr_pstrdup(tp, holder);
            task->starting = starts;
            task->pace = pace;
            task->stop = &job_stop;
            if (mig_jobpool_push(job_pool, mig_step_task_run, task) != APR_SUCCESS) {
                igraph_store_job_unclaim(db, p, j->id, holder);
                if (starts) {
                    mig_pace_starting_add(pace, -1);
                }
                apr_pool_destroy(tp);
                continue;
            }
            n++;
        }
        if (due->nelts < JOB_BATCH || claimed == 0) {
            break;
        }
    }
    return n;
}

apr_status_t mig_jobs_start(apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv;
    job_stop = 0;
    if ((rv = mig_pace_init(pchild)) != APR_SUCCESS) {
        return rv;
    }
    rv = mig_jobpool_create(&job_pool, JOB_THREADS);
    if (rv != APR_SUCCESS) {
        job_pool = NULL;
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, "IG0063: publish thread pool not created");
    }
    return rv;
}

/* From the worker's pre-cleanup: in-flight Graph calls abort, running steps finish (their rows
 * stay consistent: every step is saved or left to its claim timing out), queued tasks are
 * dropped and picked up again by the next worker. */
void mig_jobs_stop(const char *holder)
{
    const apr_array_header_t *sites = mig_sites();
    apr_pool_t *p;
    igraph_db_t *db;
    int i;

    job_stop = 1;
    if (job_pool) {
        mig_jobpool_destroy(job_pool);
        job_pool = NULL;
    }
    /* tasks dropped from the queue still hold claims: release them so the next worker (e.g.
     * after a graceful restart) picks those jobs up at once instead of after the claim TTL;
     * once per database */
    if (apr_pool_create_unmanaged_ex(&p, NULL, NULL) != APR_SUCCESS) {
        return;
    }
    for (i = 0; i < sites->nelts; i++) {
        const mig_site *site = &APR_ARRAY_IDX(sites, i, mig_site);
        if (!site->store_first || !mig_storage_configured(site->s)) {
            continue;
        }
        if ((db = mig_storage_open(site->s, p))) {
            igraph_store_jobs_release(db, p, holder);
            mig_storage_close(site->s, db);
        }
    }
    apr_pool_destroy(p);
}

apr_status_t mig_jobs_push(apr_thread_start_t fn, void *data)
{
    apr_pool_t *tp;
    mig_job_task_t *task;
    apr_status_t rv;

    if (!job_pool) {
        return APR_EINIT;
    }
    if ((rv = apr_pool_create_unmanaged_ex(&tp, NULL, NULL)) != APR_SUCCESS) {
        return rv;
    }
    task = apr_pcalloc(tp, sizeof(*task));
    task->pool = tp;
    task->data = data;
    if ((rv = mig_jobpool_push(job_pool, fn, task)) != APR_SUCCESS) {
        apr_pool_destroy(tp);
    }
    return rv;
}
