/* mod_igraph_step.c: one publish job's steps, on a pool thread (see mod_igraph_step.h).
 *
 * A task: load the job and its account, ask igraph_job_next() what to do, make that one Graph
 * call, igraph_job_apply() the outcome, save the row, release the claim. The state machine
 * itself is pure (igraph_job.c); this file is the I/O around it.
 *
 * Crash safety: before media_publish the row is saved with publish_sent set; a job resumed
 * after a crash then checks the container's status instead of publishing again.
 */
#include <string.h>

#include <apr_strings.h>

#include "mod_igraph_step.h"
#include "mod_igraph_pace.h"
#include "mod_igraph_storage.h"
#include "igraph_util.h"

#define JOB_CHAIN 4 /* steps one task may run back to back when they are due */

/* The single Graph call for step a. Fills res; never logs a token. */
static void run_step(server_rec *s, apr_pool_t *p, igraph_db_t *db, igraph_job_t *j,
                     igraph_step_e a, const igraph_account_t *acct, const char *token,
                     const char *holder, volatile int *stop, igraph_step_result_t *res)
{
    mig_srv_cfg *c = mig_srv(s);
    igraph_graph_t *g = mig_graph(c, p);
    igraph_publish_req_t req;
    apr_status_t rv = APR_SUCCESS;
    const char *target = igraph_job_step_target(p, j, a);

    g->abort_flag = stop;
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
            if (igraph_publishing_limit(g, p, acct->login, acct->ig_user_id, token, &usage, &total,
                                        &res->err) == APR_SUCCESS) {
                if (igraph_job_quota_reached(p, usage, total, &res->err)) {
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

void *APR_THREAD_FUNC mig_step_task_run(apr_thread_t *t, void *data)
{
    mig_step_task_t *task = data;
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

    if (*task->stop || !(db = mig_storage_open(s, p))) {
        /* the claim runs out and the job is picked up again */
        if (task->starting) {
            mig_pace_starting_add(task->pace, -1);
        }
        apr_pool_destroy(p);
        return NULL;
    }
    if (igraph_store_job_get(db, p, NULL, task->id, &j) != APR_SUCCESS) {
        goto leave;
    }
    mig_job_policy(c, &pol);
    a = igraph_job_next(j, now);
    if (a == IGRAPH_STEP_WAIT || a == IGRAPH_STEP_DONE) {
        goto unclaim;
    }
    before = j->status;
    if (igraph_store_account_get_any(db, p, j->account_id, &acct) != APR_SUCCESS) {
        acct = NULL;
    }
    /* the token is opened only for an account that may use it */
    if (acct && acct->status == IGRAPH_ACCOUNT_ACTIVE) {
        token = igraph_store_account_token(p, c->key, acct, IGRAPH_TOKEN_ACCESS);
    }
    if (igraph_job_account_unusable(acct != NULL, acct ? acct->status : IGRAPH_ACCOUNT_ACTIVE,
                                    token != NULL, a, &res)) {
        /* removed, disabled or needs reconnecting: nothing can go out, the outcome says why */
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
            if (a == IGRAPH_STEP_WAIT || a == IGRAPH_STEP_DONE || *task->stop ||
                igraph_store_job_claim(db, p, j->id, task->holder, now,
                                       now + MIG_STEP_CLAIM_TTL(c)) != APR_SUCCESS) {
                break;
            }
            before = j->status;
        }
        run_step(s, p, db, j, a, acct, token, task->holder, task->stop, &res);
        igraph_job_apply(p, j, a, &res, igraph_now(), &pol);
        if (igraph_store_job_save(db, p, j, task->holder) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                         "IG0061: job %s: state after %s could not be saved; it resumes from the "
                         "last saved step",
                         j->id, igraph_step_name(a));
        }
        if (!res.ok && res.err.cls == IGRAPH_ERR_RATE_LIMIT) {
            mig_pace_pause(task->pace, j->next_at);
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                         "IG0064: account %" APR_INT64_T_FMT " (@%s): rate limited by Meta, paused "
                         "until %s",
                         acct->id, acct->username ? acct->username : "?",
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
            ap_log_error(APLOG_MARK, lvl, 0, s, "IG0060: job %s (@%s, %s): %s -> %s%s%s", j->id,
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
    if (task->starting) {
        mig_pace_starting_add(task->pace, -1);
    }
    apr_pool_destroy(p);
    return NULL;
}
