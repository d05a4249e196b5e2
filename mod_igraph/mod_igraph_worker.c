/* mod_igraph_worker.c: the maintenance thread.
 *
 * Every child starts one thread in child_init. A global mutex (Mutex directive name
 * "igraph-worker") lets exactly one of them work at a time on this server; the holder keeps it
 * for the life of its child, so the others only try a non-blocking lock once per tick and idle.
 * Every sweep also takes a database lease, and every account it touches is claimed in the
 * database, so several Apache servers sharing one database never refresh an account twice.
 * One worker serves every site of the configuration (mod_igraph_sites.c): each virtual host's
 * accounts and jobs are refreshed and published with that host's settings and database.
 *
 * The thread has its own allocator and pool (cleared after each tick), its own mod_dbd
 * connection (ap_dbd_open/ap_dbd_close), and waits on a condition variable, so child_stopping
 * (graceful restart, stop) wakes it at once; Graph calls in flight are aborted through the
 * libcurl progress callback. A pre-cleanup on the child pool joins it before mod_dbd's pools go.
 */
#include <string.h>
#include <unistd.h>

#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <apr_thread_mutex.h>
#include <apr_thread_cond.h>
#include <apr_global_mutex.h>
#include <apr_optional.h>
#include <apr_atomic.h>
#include <http_core.h>
#include <ap_mpm.h>
#include <util_mutex.h>
#include <mpm_common.h>

#include "mod_igraph_worker.h"
#include "mod_igraph_jobs.h"
#include "mod_igraph_jobpool.h"
#include "mod_igraph_storage.h"
#include "mod_igraph_sites.h"
#include "igraph_log.h"
#include "igraph_util.h"

#define WORKER_MUTEX "igraph-worker"
#define WORKER_BATCH 50        /* accounts looked at per sweep */
#define CLAIM_TTL 300          /* seconds an account stays claimed by a refresh in progress */
#define EVENT_PURGE_BATCH 1000 /* webhook events deleted per sweep, at most */

static apr_global_mutex_t *worker_mutex;

typedef struct mig_worker {
    server_rec *s;
    apr_thread_t *thread;
    apr_thread_mutex_t *mx;
    apr_thread_cond_t *cv;
    volatile int stop;
    int leader;                     /* holds worker_mutex */
    volatile apr_uint32_t sweeping; /* a token sweep task is queued or running */
    const char *holder;             /* "host:pid" for leases and claims */
} mig_worker;

static mig_worker *the_worker;

igraph_refresh_result_e mig_refresh_one(server_rec *s, igraph_db_t *db, apr_pool_t *p,
                                        const igraph_account_t *a, int force,
                                        volatile int *abort_flag, const char **detail)
{
    mig_srv_cfg *c = mig_srv(s);
    igraph_graph_t *g = mig_graph(c, p);
    igraph_refresh_ctx_t ctx;

    g->abort_flag = abort_flag;
    memset(&ctx, 0, sizeof(ctx));
    ctx.g = g;
    ctx.db = db;
    ctx.key = c->key;
    ctx.now = igraph_now();
    ctx.window = c->refresh_before;
    ctx.retry_base = 60;
    ctx.retry_cap = 6 * 3600;
    ctx.force = force;
    *detail = NULL;
    if (!c->key) {
        *detail = "token key unavailable";
        return IGRAPH_REFRESH_DBFAIL;
    }
    return igraph_refresh_account(&ctx, p, a, detail);
}

static int worker_usable(server_rec *s)
{
    const mig_srv_cfg *c = mig_srv(s);
    return c->key && mig_storage_configured(s) && mig_meta_configured(c);
}

/* Webhook events of one site's database past its IGraphEventRetention, one bounded batch per
 * sweep: a backlog (a lowered retention, a long stop) is worked off over several sweeps instead
 * of in one long write. Sites sharing a database: the shortest retention among them wins. */
static void purge_events(apr_pool_t *p, igraph_db_t *db, server_rec *s, apr_int64_t now)
{
    mig_srv_cfg *c = mig_srv(s);
    int purged = 0;

    if (igraph_store_events_purge(db, p, now - c->event_retention, EVENT_PURGE_BATCH, &purged) ==
            APR_SUCCESS &&
        purged > 0) {
        ap_log_error(
            APLOG_MARK, APLOG_INFO, 0, s,
            "IG0088: maintenance: %d webhook event(s) older than %" APR_INT64_T_FMT "s deleted%s",
            purged, c->event_retention, purged == EVENT_PURGE_BATCH ? " (more next time)" : "");
    }
}

/* Whether background work has anything to do in this configuration: a site with storage. */
static int any_site_usable(void)
{
    const apr_array_header_t *sites = mig_sites();
    int i;

    for (i = 0; i < sites->nelts; i++) {
        if (mig_storage_configured(APR_ARRAY_IDX(sites, i, mig_site).s)) {
            return 1;
        }
    }
    return 0;
}

/* The lease of one site's sweep: several Apache servers sharing the database take turns. */
static const char *lease_name(apr_pool_t *p, const mig_site *site)
{
    return *site->realm ? apr_pstrcat(p, "maintenance:", site->realm, NULL) : "maintenance";
}

/* One sweep of one site with that site's settings: the event retention, then the accounts
 * whose tokens are due. */
static void sweep(mig_worker *w, apr_pool_t *p, igraph_db_t *db, const mig_site *site)
{
    server_rec *s = site->s;
    mig_srv_cfg *c = mig_srv(s);
    const char *lease = lease_name(p, site);
    apr_array_header_t *due;
    apr_int64_t now = igraph_now();
    int i, refreshed = 0, failed = 0, reauth = 0;

    if (igraph_store_lease(db, p, lease, w->holder, now, 3 * c->maintenance_interval + 30) !=
        APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s,
                     "IG0051: maintenance: another server holds the lease");
        return;
    }
    purge_events(p, db, s, now);
    if (igraph_store_accounts_due(db, p, site->realm, now, c->refresh_before, WORKER_BATCH, &due) !=
        APR_SUCCESS) {
        igraph_store_lease_release(db, p, lease, w->holder);
        return;
    }
    for (i = 0; i < due->nelts && !w->stop; i++) {
        const igraph_account_t *a = APR_ARRAY_IDX(due, i, const igraph_account_t *);
        const char *detail = NULL;
        igraph_refresh_result_e res;

        if (igraph_store_account_claim(db, p, a->id, w->holder, igraph_now(),
                                       igraph_now() + CLAIM_TTL) != APR_SUCCESS) {
            continue;
        }
        res = mig_refresh_one(s, db, p, a, 0, &w->stop, &detail);
        igraph_store_account_unclaim(db, p, a->id, w->holder);
        switch (res) {
        case IGRAPH_REFRESHED:
            refreshed++;
            break;
        case IGRAPH_REFRESH_REAUTH:
            reauth++;
            break;
        case IGRAPH_REFRESH_RETRY:
        case IGRAPH_REFRESH_DBFAIL:
            failed++;
            break;
        default:
            break;
        }
    }
    if (refreshed || failed || reauth) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                     "IG0052: maintenance: %d token(s) refreshed, %d failed (retried later), "
                     "%d need reconnecting",
                     refreshed, failed, reauth);
    }
    else {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s,
                     "IG0053: maintenance: nothing due (%d looked at)", due->nelts);
    }
    /* held only while sweeping: after a graceful restart the next generation's worker must
     * not wait for the lease to time out */
    igraph_store_lease_release(db, p, lease, w->holder);
}

/* The token sweep runs as a task of the job thread pool, so a slow refresh never delays
 * publish steps; w->sweeping keeps it to one at a time. It visits every site. */
static void *APR_THREAD_FUNC sweep_task(apr_thread_t *t, void *data)
{
    mig_job_task_t *task = data;
    mig_worker *w = task->data;
    const apr_array_header_t *sites = mig_sites();
    igraph_db_t *db;
    int i;

    for (i = 0; i < sites->nelts && !w->stop; i++) {
        const mig_site *site = &APR_ARRAY_IDX(sites, i, mig_site);
        if (worker_usable(site->s) && (db = mig_storage_open(site->s, task->pool))) {
            sweep(w, task->pool, db, site);
            mig_storage_close(site->s, db);
        }
    }
    apr_atomic_set32(&w->sweeping, 0);
    apr_pool_destroy(task->pool);
    return NULL;
}

/* Every second: hand every site's due publish steps to the pool; every
 * IGraphMaintenanceInterval (the main server's): a token sweep. */
static void tick(mig_worker *w, apr_pool_t *p, int sweep_due)
{
    const apr_array_header_t *sites = mig_sites();
    igraph_db_t *db;
    int i;

    if (sweep_due && apr_atomic_cas32(&w->sweeping, 1, 0) == 0) {
        if (mig_jobs_push(sweep_task, w) != APR_SUCCESS) {
            apr_atomic_set32(&w->sweeping, 0);
        }
    }
    for (i = 0; i < sites->nelts && !w->stop; i++) {
        const mig_site *site = &APR_ARRAY_IDX(sites, i, mig_site);
        if (!worker_usable(site->s)) {
            continue;
        }
        if (!(db = mig_storage_open(site->s, p))) {
            ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, site->s, "IG0050: maintenance: no database");
            continue;
        }
        mig_jobs_dispatch(site, p, db, w->holder, &w->stop);
        mig_storage_close(site->s, db);
    }
}

/* The shortest IGraphMaintenanceInterval of the sites that do background work: one sweep visits
 * them all. */
static apr_int64_t sweep_interval(server_rec *s)
{
    const apr_array_header_t *sites = mig_sites();
    apr_int64_t n = mig_srv(s)->maintenance_interval;
    int i, any = 0;

    for (i = 0; i < sites->nelts; i++) {
        server_rec *vs = APR_ARRAY_IDX(sites, i, mig_site).s;
        if (worker_usable(vs) && (!any || mig_srv(vs)->maintenance_interval < n)) {
            n = mig_srv(vs)->maintenance_interval;
            any = 1;
        }
    }
    return n > 0 ? n : 1;
}

static void *APR_THREAD_FUNC worker_main(apr_thread_t *t, void *data)
{
    mig_worker *w = data;
    apr_allocator_t *alloc;
    apr_pool_t *tp;
    apr_time_t next_sweep = apr_time_now() + apr_time_from_sec(1);

    /* own allocator: prefork's child allocator has no mutex */
    apr_allocator_create(&alloc);
    apr_pool_create_unmanaged_ex(&tp, NULL, alloc);
    apr_allocator_owner_set(alloc, tp);
    apr_pool_tag(tp, "igraph-worker");

    apr_thread_mutex_lock(w->mx);
    while (!w->stop) {
        /* a second: new jobs start within about a second whichever child accepted them */
        apr_thread_cond_timedwait(w->cv, w->mx, apr_time_from_sec(1));
        if (w->stop) {
            break;
        }
        apr_thread_mutex_unlock(w->mx);
        if (!w->leader) {
            w->leader = (apr_global_mutex_trylock(worker_mutex) == APR_SUCCESS);
            if (w->leader) {
                ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, w->s,
                             "IG0054: maintenance: this child (pid %d) is the worker",
                             (int)getpid());
            }
        }
        if (w->leader) {
            apr_time_t now = apr_time_now();
            int sweep_due = now >= next_sweep;
            if (sweep_due) {
                next_sweep = now + apr_time_from_sec(sweep_interval(w->s));
            }
            tick(w, tp, sweep_due);
        }
        apr_pool_clear(tp);
        apr_thread_mutex_lock(w->mx);
    }
    apr_thread_mutex_unlock(w->mx);
    if (w->leader) {
        /* unlocked by the thread that locked it (pthread-based mutexes insist) */
        apr_global_mutex_unlock(worker_mutex);
        w->leader = 0;
    }
    apr_pool_destroy(tp);
    /* return rather than apr_thread_exit(): APR's thread wrapper does the same after we return,
     * and pthread_exit() from this (instrumented) frame leaves ASan's use-after-scope poison on
     * the thread stack, which ASan then reports against itself at thread exit */
    return NULL;
}

static void worker_signal_stop(mig_worker *w)
{
    apr_thread_mutex_lock(w->mx);
    w->stop = 1;
    apr_thread_cond_signal(w->cv);
    apr_thread_mutex_unlock(w->mx);
}

static apr_status_t worker_cleanup(void *data)
{
    mig_worker *w = data;
    apr_status_t trv;
    worker_signal_stop(w);
    if (w->thread) {
        apr_thread_join(&trv, w->thread);
    }
    /* running steps finish (Graph calls abort), their claims are released */
    mig_jobs_stop(w->holder);
    the_worker = NULL;
    return APR_SUCCESS;
}

static void worker_child_stopping(apr_pool_t *pchild, int graceful)
{
    if (the_worker) {
        worker_signal_stop(the_worker);
    }
}

static int worker_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    return ap_mutex_register(pconf, WORKER_MUTEX, NULL, APR_LOCK_DEFAULT, 0);
}

static int worker_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    apr_status_t rv;
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    rv = ap_global_mutex_create(&worker_mutex, NULL, WORKER_MUTEX, NULL, s, pconf, 0);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "IG0055: cannot create the maintenance mutex");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

void mig_worker_child_init(apr_pool_t *pchild, server_rec *s)
{
    mig_worker *w;
    mig_signals_t held;
    apr_allocator_t *a = apr_pool_allocator_get(pchild);
    apr_status_t rv;
    char host[256];

    if (!worker_mutex || !any_site_usable()) {
        return;
    }
    rv =
        apr_global_mutex_child_init(&worker_mutex, apr_global_mutex_lockfile(worker_mutex), pchild);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, "IG0056: maintenance mutex child init");
        return;
    }
    /* mod_dbd builds connections in subpools of pchild; with the thread using them too, the
     * child allocator needs a mutex (prefork creates it without one). */
    if (a && !apr_allocator_mutex_get(a)) {
        apr_thread_mutex_t *am;
        if (apr_thread_mutex_create(&am, APR_THREAD_MUTEX_DEFAULT, pchild) == APR_SUCCESS) {
            apr_allocator_mutex_set(a, am);
        }
    }
    w = apr_pcalloc(pchild, sizeof(*w));
    w->s = s;
    if (gethostname(host, sizeof(host)) != 0) {
        apr_cpystrn(host, "localhost", sizeof(host));
    }
    host[sizeof(host) - 1] = '\0';
    w->holder = apr_psprintf(pchild, "%s:%d", host, (int)getpid());
    if (apr_thread_mutex_create(&w->mx, APR_THREAD_MUTEX_DEFAULT, pchild) != APR_SUCCESS ||
        apr_thread_cond_create(&w->cv, pchild) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, "IG0057: maintenance thread not started");
        return;
    }
    /* One critical section against the MPM's signals: prefork runs its whole exit path (pchild
     * destroyed, exit()) in the SIGTERM/SIGHUP handler, which may arrive while this child is
     * still starting (a stop right after a start). Were that to happen after the thread exists
     * but before the pre-cleanup that joins it, the thread would run on a freed pool, and at
     * exit in an unloaded module: a segfault. With the signals held until the cleanup is in
     * place, a pending stop is taken right after, with everything it must undo registered. */
    mig_signals_hold(&held);
    the_worker = w;
    /* a PRE-cleanup: join before pchild's subpools (mod_dbd's connections) are destroyed */
    apr_pool_pre_cleanup_register(pchild, w, worker_cleanup);
    rv = mig_thread_create(&w->thread, worker_main, w, pchild);
    if (rv != APR_SUCCESS) {
        w->thread = NULL;
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, "IG0057: maintenance thread not started");
    }
    else if (mig_jobs_start(pchild, s) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, "IG0057: publish workers not started");
    }
    mig_signals_release(&held);
}

void mig_worker_register_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(worker_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(worker_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_stopping(worker_child_stopping, NULL, NULL, APR_HOOK_MIDDLE);
}
