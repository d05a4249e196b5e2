/* mod_igraph_jobs.c: runs publish jobs in the worker child.
 *
 * The maintenance thread (mod_igraph_worker.c) calls mig_jobs_dispatch() about once a second.
 * It claims every due job in the database and hands each to a small thread pool, one Graph step
 * per task, so a slow or hanging call only ties up its own thread. A task: load the job and its
 * account, ask igraph_job_next() what to do, make that one Graph call, igraph_job_apply() the
 * outcome, save the row, release the claim. The state machine itself is pure (igraph_job.c);
 * this file is the I/O around it.
 *
 * Crash safety: before media_publish the row is saved with publish_sent set; a job resumed
 * after a crash then checks the container's status instead of publishing again.
 */
#include <string.h>
#include <unistd.h>

#include <apr_strings.h>
#include <apr_optional.h>
#include <apr_thread_proc.h>
#include <apr_thread_cond.h>
#include <http_core.h>

#include "mod_igraph_jobs.h"
#include "mod_igraph_storage.h"
#include "igraph_log.h"
#include "igraph_util.h"

#define JOB_THREADS 8       /* Graph steps in parallel (a hanging call holds one) */
#define JOB_THREADS_MAX 16
/* a claim outlives the step it covers: a step makes at most two Graph calls (45 s by default) */
#define JOB_CLAIM_TTL(c) (2 * (c)->graph_timeout + 5)
#define JOB_BATCH 64        /* due jobs read per query (several queries per dispatch) */
#define JOB_CHAIN 4         /* steps one task may run back to back when they are due */

/* A fixed set of threads fed from a queue. Not apr-util's apr_thread_pool: its destroy returns
 * while exiting threads still run apr_thread_exit() on pools it then frees, which crashed
 * children at exit now and then. Here every thread is joined before anything goes away. */
typedef struct job_item {
    struct job_item *next;
    apr_thread_start_t fn;
    void *data;
} job_item;

typedef struct job_pool_t {
    apr_pool_t *pool;           /* own allocator: threads and queue nodes */
    apr_thread_mutex_t *mx;
    apr_thread_cond_t *cv;
    apr_thread_t *threads[JOB_THREADS_MAX];
    int nthreads;
    job_item *head, *tail, *free_items;
    int stopping;
} job_pool_t;

static job_pool_t *job_pool;

static void *APR_THREAD_FUNC pool_thread(apr_thread_t *t, void *data)
{
    job_pool_t *jp = data;
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

static apr_status_t pool_push(job_pool_t *jp, apr_thread_start_t fn, void *data)
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

static apr_status_t pool_create(job_pool_t **out, int n)
{
    apr_allocator_t *alloc;
    apr_pool_t *p;
    job_pool_t *jp;
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
    for (i = 0; i < n && i < JOB_THREADS_MAX; i++) {
        if (apr_thread_create(&jp->threads[i], NULL, pool_thread, jp, p) != APR_SUCCESS) {
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

/* Running tasks finish (their Graph calls abort through job_stop); queued ones are dropped
 * (their claims are released by the caller); every thread is joined. */
static void pool_destroy(job_pool_t *jp)
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
            /* both task kinds (job_task, mig_job_task_t) start with their pool */
            apr_pool_destroy(*(apr_pool_t **)it->data);
        }
    }
    apr_pool_destroy(jp->pool);
}
static volatile int *job_stop;
static volatile int job_stop_flag;

/* Posts being started right now (queued jobs handed to the pool whose first step has not run
 * yet), per account: together with the database's in-flight count this keeps an account at
 * IGraphPublishConcurrency even when several of its jobs become due in the same second. Only
 * the worker child dispatches, so process memory is the right place. */
#define STARTING_SLOTS 128
static struct {
    apr_int64_t account_id;
    int n;                   /* posts being started */
    apr_int64_t paused_until; /* rate-limited: no calls for this account before */
} starting[STARTING_SLOTS];
static apr_thread_mutex_t *starting_mx;

static int slot_used(int i, apr_int64_t now)
{
    return starting[i].n > 0 || starting[i].paused_until > now;
}

static int starting_get(apr_int64_t account_id)
{
    int i, n = 0;
    apr_thread_mutex_lock(starting_mx);
    for (i = 0; i < STARTING_SLOTS; i++) {
        if (starting[i].n > 0 && starting[i].account_id == account_id) {
            n = starting[i].n;
        }
    }
    apr_thread_mutex_unlock(starting_mx);
    return n;
}

/* A rate limit pauses the whole account (Meta counts calls per app and account), not only the
 * job that met it. */
static void account_pause(apr_int64_t account_id, apr_int64_t until)
{
    apr_int64_t now = igraph_now();
    int i, free_slot = -1;
    apr_thread_mutex_lock(starting_mx);
    for (i = 0; i < STARTING_SLOTS; i++) {
        if (slot_used(i, now) && starting[i].account_id == account_id) {
            if (until > starting[i].paused_until) {
                starting[i].paused_until = until;
            }
            apr_thread_mutex_unlock(starting_mx);
            return;
        }
        if (!slot_used(i, now) && free_slot < 0) {
            free_slot = i;
        }
    }
    if (free_slot >= 0) {
        starting[free_slot].account_id = account_id;
        starting[free_slot].n = 0;
        starting[free_slot].paused_until = until;
    }
    apr_thread_mutex_unlock(starting_mx);
}

static int account_paused(apr_int64_t account_id, apr_int64_t now)
{
    int i, paused = 0;
    apr_thread_mutex_lock(starting_mx);
    for (i = 0; i < STARTING_SLOTS; i++) {
        if (starting[i].account_id == account_id && starting[i].paused_until > now) {
            paused = 1;
        }
    }
    apr_thread_mutex_unlock(starting_mx);
    return paused;
}

/* delta +1 / -1; returns 0 when no slot was free (the job then waits for the next tick) */
static int starting_add(apr_int64_t account_id, int delta)
{
    apr_int64_t now = igraph_now();
    int i, free_slot = -1, done = 0;
    apr_thread_mutex_lock(starting_mx);
    for (i = 0; i < STARTING_SLOTS && !done; i++) {
        if (slot_used(i, now) && starting[i].account_id == account_id) {
            starting[i].n += delta;
            done = 1;
        }
        else if (!slot_used(i, now) && free_slot < 0) {
            free_slot = i;
        }
    }
    if (!done && delta > 0 && free_slot >= 0) {
        starting[free_slot].account_id = account_id;
        starting[free_slot].n = delta;
        starting[free_slot].paused_until = 0;
        done = 1;
    }
    apr_thread_mutex_unlock(starting_mx);
    return done;
}

typedef struct job_task {
    apr_pool_t *pool;   /* the task's own pool, destroyed when it ends */
    apr_int64_t starting_account; /* > 0: counted in starting[] until the task ends */
    server_rec *s;
    const char *id;
    const char *holder;
} job_task;

static void job_policy(const mig_srv_cfg *c, igraph_job_policy_t *pol)
{
    igraph_job_policy_default(pol);
    pol->publish_timeout = c->publish_timeout;
}

/* The single Graph call for step a. Fills res; never logs a token. */
static void run_step(server_rec *s, apr_pool_t *p, igraph_db_t *db, igraph_job_t *j,
                     igraph_step_e a, const igraph_account_t *acct, const char *token,
                     const char *holder, igraph_step_result_t *res)
{
    mig_srv_cfg *c = mig_srv(s);
    igraph_graph_t *g = mig_graph(c, p);
    igraph_publish_req_t req;
    apr_status_t rv = APR_SUCCESS;
    const char *target = igraph_job_step_target(p, j, a);

    g->abort_flag = job_stop;
    memset(res, 0, sizeof(*res));
    memset(&req, 0, sizeof(req));
    if ((a == IGRAPH_STEP_CREATE_CHILD || a == IGRAPH_STEP_CREATE_CONTAINER) &&
        igraph_publish_req_from_json(p, j->request, &req) != APR_SUCCESS) {
        res->err.cls = IGRAPH_ERR_INVALID;
        res->err.message = "stored request unreadable";
        return;
    }
    switch (a) {
    case IGRAPH_STEP_CREATE_CHILD:
    case IGRAPH_STEP_CREATE_CONTAINER: {
        int child = (a == IGRAPH_STEP_CREATE_CHILD) ? igraph_job_step_index(j, a) : -1;
        /* the quota is checked before the first container of a post */
        if (child <= 0) {
            apr_int64_t usage = 0, total = 0;
            if (igraph_publishing_limit(g, p, acct->login, acct->ig_user_id, token, &usage,
                                        &total, &res->err) == APR_SUCCESS) {
                if (total <= 0) {
                    total = IGRAPH_QUOTA_DEFAULT;
                }
                if (usage >= total) {
                    res->err.cls = IGRAPH_ERR_QUOTA;
                    res->err.code = 9;
                    res->err.subcode = 2207042;
                    res->err.message = apr_psprintf(p, "publishing limit reached (%" APR_INT64_T_FMT
                                                       " of %" APR_INT64_T_FMT " in 24 h)",
                                                    usage, total);
                    return;
                }
            }
            else if (res->err.cls == IGRAPH_ERR_REAUTH || res->err.cls == IGRAPH_ERR_RATE_LIMIT) {
                return;
            }
            memset(&res->err, 0, sizeof(res->err));
        }
        rv = igraph_create_container(g, p, acct->login, acct->ig_user_id, token,
                                     igraph_job_container_params(p, &req, child, j->children),
                                     &res->id, &res->err);
        break;
    }
    case IGRAPH_STEP_POLL_CHILD:
    case IGRAPH_STEP_POLL_CONTAINER:
    case IGRAPH_STEP_CHECK_BEFORE_PUBLISH:
        rv = igraph_container_status(g, p, acct->login, target, token, &res->status_code,
                                     &res->status_text, &res->err);
        break;
    case IGRAPH_STEP_PUBLISH:
        /* stored BEFORE the call: a crash from here on is resolved by a status check */
        igraph_job_begin_publish(j, igraph_now());
        if (igraph_store_job_save(db, p, j, holder) != APR_SUCCESS) {
            res->err.cls = IGRAPH_ERR_RETRY;
            res->err.message = "job row could not be saved before publishing";
            j->publish_sent = 0;
            return;
        }
        rv = igraph_media_publish(g, p, acct->login, acct->ig_user_id, token, target, &res->id,
                                  &res->err);
        break;
    case IGRAPH_STEP_READ_BACK: {
        const char *product = NULL;
        rv = igraph_media_read(g, p, acct->login, target, token, &res->permalink, &product,
                               &res->err);
        break;
    }
    default:
        return;
    }
    res->ok = (rv == APR_SUCCESS);
}

/* One step of one job, in a pool thread. */
static void *APR_THREAD_FUNC job_task_run(apr_thread_t *t, void *data)
{
    job_task *task = data;
    server_rec *s = task->s;
    mig_srv_cfg *c = mig_srv(s);
    apr_pool_t *p = task->pool;
    igraph_db_t *db;
    igraph_job_t *j;
    igraph_account_t *acct = NULL;
    igraph_job_policy_t pol;
    igraph_step_result_t res;
    igraph_step_e a;
    const char *token = NULL;
    apr_int64_t now = igraph_now();
    igraph_job_status_e before;
    int steps;

    if (*job_stop || !(db = mig_storage_open(s, p))) {
        /* the claim runs out and the job is picked up again */
        if (task->starting_account > 0) {
            starting_add(task->starting_account, -1);
        }
        apr_pool_destroy(p);
        return NULL;
    }
    if (igraph_store_job_get(db, p, NULL, task->id, &j) != APR_SUCCESS) {
        goto leave;
    }
    job_policy(c, &pol);
    a = igraph_job_next(j, now);
    if (a == IGRAPH_STEP_WAIT || a == IGRAPH_STEP_DONE) {
        goto unclaim;
    }
    before = j->status;
    if (igraph_store_account_get_any(db, p, j->account_id, &acct) != APR_SUCCESS ||
        acct->status != IGRAPH_ACCOUNT_ACTIVE ||
        !(token = igraph_store_account_token(p, c->key, acct, IGRAPH_TOKEN_ACCESS))) {
        /* the account was removed, disabled or needs reconnecting: nothing can go out */
        memset(&res, 0, sizeof(res));
        res.err.cls = (acct && acct->status == IGRAPH_ACCOUNT_DISABLED) ? IGRAPH_ERR_PERMANENT
                                                                        : IGRAPH_ERR_REAUTH;
        res.err.message = !acct ? "the account was removed"
                          : acct->status == IGRAPH_ACCOUNT_DISABLED
                              ? "the account is disabled"
                              : "the account needs reconnecting";
        if (a == IGRAPH_STEP_PUBLISH || a == IGRAPH_STEP_READ_BACK ||
            a == IGRAPH_STEP_CHECK_BEFORE_PUBLISH) {
            /* never leave a possibly published job hanging: retry later */
            res.err.cls = IGRAPH_ERR_RETRY;
        }
        igraph_job_apply(p, j, a, &res, now, &pol);
        igraph_store_job_save(db, p, j, task->holder);
        goto unclaim;
    }
    /* Steps that are due at once follow each other in this task (the poll that sees FINISHED,
     * then media_publish, then the read-back) instead of waiting for the next dispatch. */
    for (steps = 0; steps < JOB_CHAIN; steps++) {
        if (steps > 0) {
            now = igraph_now();
            a = igraph_job_next(j, now);
            if (a == IGRAPH_STEP_WAIT || a == IGRAPH_STEP_DONE || *job_stop ||
                igraph_store_job_claim(db, p, j->id, task->holder, now,
                                       now + JOB_CLAIM_TTL(c)) != APR_SUCCESS) {
                break;
            }
            before = j->status;
        }
        run_step(s, p, db, j, a, acct, token, task->holder, &res);
        igraph_job_apply(p, j, a, &res, igraph_now(), &pol);
        if (igraph_store_job_save(db, p, j, task->holder) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                         "IG0061: job %s: state after %s could not be saved; it resumes from the "
                         "last saved step", j->id, igraph_step_name(a));
        }
        if (!res.ok && res.err.cls == IGRAPH_ERR_RATE_LIMIT) {
            account_pause(acct->id, j->next_at);
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                         "IG0064: account %" APR_INT64_T_FMT " (@%s): rate limited by Meta, paused "
                         "until %s", acct->id, acct->username ? acct->username : "?",
                         igraph_iso8601(p, j->next_at));
        }
        if (!res.ok && res.err.cls == IGRAPH_ERR_REAUTH) {
            static const igraph_account_status_e reauth = IGRAPH_ACCOUNT_NEEDS_REAUTH;
            igraph_store_account_refresh_failed(
                db, p, acct->id, &reauth,
                apr_psprintf(p, "publishing: %s",
                             res.err.message ? res.err.message : "token invalid"),
                0);
        }
        if (j->status != before || igraph_job_is_final(j)) {
            int lvl = (j->status == IGRAPH_JOB_FAILED) ? APLOG_WARNING : APLOG_INFO;
            ap_log_error(APLOG_MARK, lvl, 0, s,
                         "IG0060: job %s (@%s, %s): %s -> %s%s%s", j->id,
                         acct->username ? acct->username : "?", igraph_media_name(j->media_type),
                         igraph_step_name(a), igraph_job_status_name(j->status),
                         j->error ? ": " : "", j->error ? j->error : "");
        }
        else {
            ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, "IG0062: job %s: %s -> %s", j->id,
                         igraph_step_name(a), res.ok ? "ok" : igraph_err_class_name(res.err.cls));
        }
        if (!res.ok) {
            break;
        }
    }
unclaim:
    igraph_store_job_unclaim(db, p, task->id, task->holder);
leave:
    mig_storage_close(s, db);
    if (task->starting_account > 0) {
        starting_add(task->starting_account, -1);
    }
    apr_pool_destroy(p);
    return NULL;
}

int mig_jobs_dispatch(server_rec *s, apr_pool_t *p, igraph_db_t *db, const char *holder,
                      volatile int *stop)
{
    apr_array_header_t *due;
    apr_int64_t now = igraph_now();
    int i, n = 0, round;

    if (!job_pool) {
        return 0;
    }
    /* a full batch means more may be due: read again (claimed rows drop out of the query) */
    for (round = 0; round < 8 && !*stop; round++) {
        int claimed = 0;
        if (igraph_store_jobs_due(db, p, now, JOB_BATCH, &due) != APR_SUCCESS) {
            break;
        }
        for (i = 0; i < due->nelts && !*stop; i++) {
            const igraph_job_t *j = APR_ARRAY_IDX(due, i, const igraph_job_t *);
            int limit = mig_srv(s)->publish_concurrency;
            int starts = (j->status == IGRAPH_JOB_QUEUED);
            job_task *task;
            apr_pool_t *tp;

            if (account_paused(j->account_id, now)) {
                igraph_store_job_postpone(db, p, j->id, now + 2, now);
                continue;
            }
            /* guardrail: a queued job starts only while its account has room; otherwise it
             * steps out of the due window so it never crowds out running posts */
            if (starts) {
                int inflight = 0;
                if (igraph_store_jobs_in_flight(db, p, j->account_id, &inflight) != APR_SUCCESS ||
                    inflight + starting_get(j->account_id) >= limit) {
                    igraph_store_job_postpone(db, p, j->id, now + 1, now);
                    continue;
                }
            }
            if (igraph_store_job_claim(db, p, j->id, holder, now,
                                       now + JOB_CLAIM_TTL(mig_srv(s))) !=
                APR_SUCCESS) {
                continue;
            }
            claimed++;
            if (starts && !starting_add(j->account_id, +1)) {
                igraph_store_job_unclaim(db, p, j->id, holder);
                continue;
            }
            /* each task gets its own pool (and allocator): tasks run in parallel threads */
            if (apr_pool_create_unmanaged_ex(&tp, NULL, NULL) != APR_SUCCESS) {
                igraph_store_job_unclaim(db, p, j->id, holder);
                if (starts) {
                    starting_add(j->account_id, -1);
                }
                continue;
            }
            task = apr_pcalloc(tp, sizeof(*task));
            task->pool = tp;
            task->s = s;
            task->id = apr_pstrdup(tp, j->id);
            task->holder = apr_pstrdup(tp, holder);
            task->starting_account = starts ? j->account_id : 0;
            if (pool_push(job_pool, job_task_run, task) != APR_SUCCESS) {
                igraph_store_job_unclaim(db, p, j->id, holder);
                if (starts) {
                    starting_add(j->account_id, -1);
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
    job_stop_flag = 0;
    job_stop = &job_stop_flag;
    if (!mig_storage_configured(s)) {
        return APR_ENOTIMPL;
    }
    memset(starting, 0, sizeof(starting));
    if ((rv = apr_thread_mutex_create(&starting_mx, APR_THREAD_MUTEX_DEFAULT, pchild)) !=
        APR_SUCCESS) {
        return rv;
    }
    rv = pool_create(&job_pool, JOB_THREADS);
    if (rv != APR_SUCCESS) {
        job_pool = NULL;
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, "IG0063: publish thread pool not created");
    }
    return rv;
}

/* From the worker's pre-cleanup: in-flight Graph calls abort, running steps finish (their rows
 * stay consistent: every step is saved or left to its claim timing out), queued tasks are
 * dropped and picked up again by the next worker. */
void mig_jobs_stop(server_rec *s, const char *holder)
{
    apr_pool_t *p;
    igraph_db_t *db;

    job_stop_flag = 1;
    if (job_pool) {
        pool_destroy(job_pool);
        job_pool = NULL;
    }
    /* tasks dropped from the queue still hold claims: release them so the next worker (e.g.
     * after a graceful restart) picks those jobs up at once instead of after the claim TTL */
    if (mig_storage_configured(s) && apr_pool_create_unmanaged_ex(&p, NULL, NULL) == APR_SUCCESS) {
        if ((db = mig_storage_open(s, p))) {
            igraph_store_jobs_release(db, p, holder);
            mig_storage_close(s, db);
        }
        apr_pool_destroy(p);
    }
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
    if ((rv = pool_push(job_pool, fn, task)) != APR_SUCCESS) {
        apr_pool_destroy(tp);
    }
    return rv;
}
