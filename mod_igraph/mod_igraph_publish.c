/* mod_igraph_publish.c: the publish API.
 *
 *   POST   /reels/publish     the seed contract: waits up to IGraphPublishWait for the result
 *   POST   /publish           any media type; 202 with the job (200 when done within "wait")
 *   GET    /publish           the caller's jobs (?status=&limit=)
 *   GET    /publish/{job}     one job
 *   DELETE /publish/{job}     cancels a job that cannot have been published yet
 *
 * A request only validates and records a job; the worker (mod_igraph_jobs.c) makes the Graph
 * calls. Accepting uses a connection of its own, closed before any wait; waiting requests poll
 * the job row with a connection taken per look, so many waiting clients do not pin mod_dbd's
 * connection pool. The dispatcher has checked the user, the request's origin and Content-Type,
 * and that storage is configured.
 */
#include <string.h>

#include <apr_strings.h>
#include <apr_lib.h>
#include <http_protocol.h>

#include "mod_igraph_publish.h"
#include "mod_igraph_storage.h"
#include "igraph_log.h"
#include "igraph_util.h"

static int invalid_request(mig_req *q, const char *field, const char *msg)
{
    igraph_json_t *o = igraph_json_new_object(q->r->pool);
    igraph_json_setb(o, "ok", 0);
    igraph_json_sets(o, "error", "invalid_request");
    igraph_json_sets(o, "field", field);
    igraph_json_sets(o, "message", apr_psprintf(q->r->pool, "%s: %s", field, msg ? msg : "invalid"));
    return mig_fail_json(q, HTTP_BAD_REQUEST, o, NULL);
}

static igraph_json_t *job_json(mig_req *q, const igraph_job_t *j, const char *username)
{
    apr_pool_t *p = q->r->pool;
    igraph_json_t *o = igraph_json_new_object(p);
    igraph_json_sets(o, "id", j->id);
    igraph_json_setl(o, "account", j->account_id);
    if (username) {
        igraph_json_sets(o, "username", username);
    }
    igraph_json_sets(o, "media_type", igraph_media_name(j->media_type));
    igraph_json_sets(o, "status", igraph_job_status_name(j->status));
    igraph_json_sets(o, "creation_id", j->creation_id);
    igraph_json_sets(o, "media_id", (j->media_id && *j->media_id) ? j->media_id : NULL);
    igraph_json_sets(o, "permalink", igraph_http_url_or_null(j->permalink));
    igraph_json_sets(o, "caption", j->caption);
    igraph_json_sets(o, "error", j->error);
    if (j->error_message) {
        igraph_json_sets(o, "error_message", j->error_message);
    }
    igraph_json_setl(o, "attempts", j->attempts);
    igraph_json_sets(o, "created_at", igraph_iso8601(p, j->created_at));
    igraph_json_sets(o, "updated_at", igraph_iso8601(p, j->updated_at));
    igraph_json_sets(o, "publish_at", j->publish_at ? igraph_iso8601(p, j->publish_at) : NULL);
    return o;
}

static int job_reply(mig_req *q, int status, const igraph_job_t *j, int duplicate)
{
    igraph_json_t *o = igraph_json_new_object(q->r->pool);
    igraph_json_setb(o, "ok", 1);
    if (duplicate) {
        igraph_json_setb(o, "duplicate", 1);
    }
    igraph_json_setj(o, "job", job_json(q, j, NULL));
    return mig_json(q, status, o);
}

/* Finished from the client's point of view: published (permalink read or given up) or final. */
static int job_settled(const igraph_job_t *j)
{
    return igraph_job_is_final(j) ||
           (j->status == IGRAPH_JOB_PUBLISHED && j->permalink != NULL);
}

/* Polls the row until settled or the deadline; returns the last row read (NULL on DB loss). */
static igraph_job_t *wait_for(mig_req *q, const char *id, apr_int64_t wait)
{
    apr_time_t end = apr_time_now() + apr_time_from_sec(wait);
    apr_interval_time_t step = apr_time_from_msec(200);
    igraph_job_t *j = NULL;

    for (;;) {
        igraph_db_t *db = mig_storage_open(q->r->server, q->r->pool);
        igraph_job_t *now = NULL;
        if (db && igraph_store_job_get(db, q->r->pool, q->owner, id, &now) == APR_SUCCESS) {
            j = now;
        }
        mig_storage_close(q->r->server, db);
        if ((j && job_settled(j)) || apr_time_now() >= end || q->r->connection->aborted) {
            return j;
        }
        apr_sleep(step);
        if (step < apr_time_from_sec(1)) {
            step += apr_time_from_msec(100);
        }
    }
}

/* Which account: explicit reference, or the caller's only active account. MIG_GO_ON with *out
 * set, or the answer given (an error). */
static int pick_account(mig_req *q, igraph_db_t *db, const igraph_publish_req_t *req, int seed,
                        igraph_account_t **out)
{
    apr_array_header_t *list;
    apr_status_t rv;

    if (req->account_ref && *req->account_ref) {
        rv = igraph_store_account_find(db, q->r->pool, q->owner, req->account_ref, out);
        if (rv == APR_NOTFOUND) {
            return seed ? mig_fail(q, HTTP_BAD_REQUEST, "meta_ig_not_connected", NULL,
                                   "no such connected Instagram account")
                        : mig_fail(q, HTTP_NOT_FOUND, "account_not_found", NULL,
                                   "no such connected Instagram account");
        }
        return rv == APR_SUCCESS ? MIG_GO_ON : mig_fail_storage(q);
    }
    if (igraph_store_accounts_active(db, q->r->pool, q->owner, &list) != APR_SUCCESS) {
        return mig_fail_storage(q);
    }
    if (list->nelts == 0) {
        /* a single account that is disabled or needs reconnecting says so (409 later) */
        if (igraph_store_accounts_list(db, q->r->pool, q->owner, &list) == APR_SUCCESS &&
            list->nelts == 1) {
            *out = APR_ARRAY_IDX(list, 0, igraph_account_t *);
            return MIG_GO_ON;
        }
        return mig_fail(q, HTTP_BAD_REQUEST, "meta_ig_not_connected", NULL,
                        "no connected Instagram account: connect one first");
    }
    if (list->nelts > 1) {
        return mig_fail(q, HTTP_BAD_REQUEST, "account_required", NULL,
                        "several accounts are connected: say which one with \"account\"");
    }
    *out = APR_ARRAY_IDX(list, 0, igraph_account_t *);
    return MIG_GO_ON;
}

/* The seed route's answers. */
static int seed_reply(mig_req *q, const igraph_job_t *j)
{
    apr_pool_t *p = q->r->pool;
    igraph_json_t *o = igraph_json_new_object(p);
    int status = HTTP_OK;

    igraph_json_sets(o, "job_id", j->id);
    igraph_json_sets(o, "creation_id", j->creation_id);
    if (j->status == IGRAPH_JOB_PUBLISHED) {
        igraph_json_setb(o, "ok", 1);
        igraph_json_sets(o, "media_id", j->media_id);
        igraph_json_sets(o, "permalink", igraph_http_url_or_null(j->permalink));
        return mig_json(q, HTTP_OK, o);
    }
    igraph_json_setb(o, "ok", 0);
    if (j->status == IGRAPH_JOB_FAILED || j->status == IGRAPH_JOB_CANCELLED) {
        status = HTTP_BAD_REQUEST;
        igraph_json_sets(o, "error", j->error ? j->error : igraph_job_status_name(j->status));
        igraph_json_sets(o, "status", j->error_message ? j->error_message
                                                        : igraph_job_status_name(j->status));
        if (j->error && !strcmp(j->error, IGRAPH_JOB_E_UNAVAILABLE)) {
            status = HTTP_BAD_GATEWAY;
        }
        else if (j->error && !strcmp(j->error, IGRAPH_JOB_E_QUOTA)) {
            status = HTTP_TOO_MANY_REQUESTS;
        }
        return mig_json(q, status, o);
    }
    /* not finished in time: the job goes on in the background */
    igraph_json_sets(o, "error", "timeout");
    igraph_json_sets(o, "status", igraph_job_status_name(j->status));
    igraph_json_sets(o, "message", "not published yet; the job continues, see GET /publish/{id}");
    return mig_json(q, HTTP_GATEWAY_TIME_OUT, o);
}

/* Reads and validates the request: MIG_GO_ON with *req filled, or the answer given. */
static int read_request(mig_req *q, int seed, igraph_publish_req_t *req,
                        igraph_publish_rules_t *rules)
{
    apr_pool_t *p = q->r->pool;
    const char *hkey = apr_table_get(q->r->headers_in, "Idempotency-Key");
    const char *field = NULL, *msg = NULL, *reason = NULL;
    igraph_json_t *body;
    char *text;
    apr_size_t len;
    int rc = mig_read_body(q, MIG_MAX_BODY, &text, &len);

    if (rc == HTTP_REQUEST_ENTITY_TOO_LARGE) {
        return mig_fail(q, rc, "body_too_large", NULL, "the request body exceeds 64 KiB");
    }
    if (rc != OK) {
        return mig_fail(q, HTTP_BAD_REQUEST, "bad_request", NULL, "the body could not be read");
    }
    if (igraph_json_parse(&body, p, text, len, &msg) != APR_SUCCESS ||
        !igraph_json_is_object(body)) {
        return mig_fail(q, HTTP_BAD_REQUEST, "invalid_json", NULL,
                        apr_psprintf(p, "the body must be a JSON object%s%s", msg ? ": " : "",
                                     msg ? msg : ""));
    }
    memset(rules, 0, sizeof(*rules));
    rules->now = igraph_now();
    rules->default_media_type = seed ? IGRAPH_MEDIA_REELS : IGRAPH_MEDIA_NONE;
    rules->default_wait = seed ? q->c->publish_wait : 0;
    rules->max_wait = q->c->publish_wait;
    rules->affiliate_hosts = q->c->affiliate_hosts;
    if (igraph_publish_validate(p, body, rules, req, &field, &msg) != APR_SUCCESS) {
        return invalid_request(q, field ? field : "body", msg);
    }
    if (hkey) {
        if (!igraph_is_idempotency_key(hkey)) {
            return invalid_request(q, "Idempotency-Key", IGRAPH_IDEMPOTENCY_RULE);
        }
        req->idempotency_key = hkey;
    }
    if (igraph_compliance_check(p, req->risk, req->license, q->c->max_risk,
                                q->c->require_license, &reason)) {
        return mig_fail(q, HTTP_UNPROCESSABLE_ENTITY, "compliance_refused", NULL,
                        apr_psprintf(p, "refused by the compliance gate: %s", reason));
    }
    return MIG_GO_ON;
}

/* Records the job, or finds the one it repeats (*duplicate). MIG_GO_ON with *out, or the
 * answer given. The connection is closed on every path. */
static int accept_job(mig_req *q, int seed, const igraph_publish_req_t *req,
                      const igraph_publish_rules_t *rules, igraph_job_t **out, int *duplicate)
{
    apr_pool_t *p = q->r->pool;
    igraph_db_t *db = mig_storage_open(q->r->server, p);
    igraph_account_t *acct = NULL;
    igraph_job_policy_t pol;
    igraph_job_t *j, *old = NULL;
    const char *media_key;
    int rc = MIG_GO_ON, published = 0;
    apr_status_t rv;

    *duplicate = 0;
    if (!db) {
        return mig_fail_storage(q);
    }
    if (req->idempotency_key &&
        igraph_store_job_by_idempotency(db, p, q->owner, req->idempotency_key, &old) ==
            APR_SUCCESS) {
        goto repeat;
    }
    if ((rc = pick_account(q, db, req, seed, &acct)) != MIG_GO_ON) {
        goto leave;
    }
    if (acct->status == IGRAPH_ACCOUNT_DISABLED) {
        rc = mig_fail(q, HTTP_CONFLICT, "account_disabled", NULL,
                      "this account is disabled; enable it first");
        goto leave;
    }
    if (acct->status == IGRAPH_ACCOUNT_DEAUTHORIZED) {
        rc = mig_fail(q, HTTP_CONFLICT, "account_deauthorized", NULL,
                      "the app was removed from this account on Meta; connect it again");
        goto leave;
    }
    if (acct->status != IGRAPH_ACCOUNT_ACTIVE) {
        rc = mig_fail(q, HTTP_CONFLICT, "account_needs_reauth", NULL,
                      "this account must be reconnected before it can publish");
        goto leave;
    }
    if (!mig_account_can_publish(acct)) {
        rc = mig_fail(q, HTTP_FORBIDDEN, "permission_missing", NULL,
                      "the account did not grant the content publishing permission; reconnect "
                      "it and allow publishing");
        goto leave;
    }
    media_key = igraph_publish_media_key(p, req);
    if (!req->idempotency_key &&
        igraph_store_job_find_duplicate(db, p, acct->id, media_key, &old) == APR_SUCCESS) {
        goto repeat;
    }
    if (!req->publish_at &&
        igraph_store_jobs_published_since(db, p, acct->id, rules->now - 86400, &published) ==
            APR_SUCCESS &&
        published >= IGRAPH_QUOTA_DEFAULT) {
        rc = mig_fail(q, HTTP_TOO_MANY_REQUESTS, "quota_exhausted", NULL,
                      "this account reached Instagram's publishing limit for the last 24 hours; "
                      "schedule the post with publish_at");
        goto leave;
    }
    mig_job_policy(q->c, &pol);
    j = apr_pcalloc(p, sizeof(*j));
    igraph_job_init(p, j, req, rules->now, &pol);
    j->id = igraph_random_token(p, 16);
    j->account_id = acct->id;
    j->owner = q->owner;
    j->login = acct->login;
    j->ig_user_id = acct->ig_user_id;
    rv = mig_storage_insert_job(db, p, j, req->idempotency_key, media_key);
    if (rv == APR_EEXIST && igraph_store_job_by_idempotency(db, p, q->owner,
                                                            req->idempotency_key,
                                                            &old) == APR_SUCCESS) {
        goto repeat;
    }
    if (rv != APR_SUCCESS) {
        rc = mig_fail_storage(q);
        goto leave;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r,
                  "IG0070: job %s accepted: %s for @%s (account %" APR_INT64_T_FMT ")%s", j->id,
                  igraph_media_name(j->media_type), acct->username ? acct->username : "?",
                  acct->id, req->caption_attributed ? ", #ad added" : "");
    *out = j;
    goto leave;
repeat:
    *out = old;
    *duplicate = 1;
leave:
    mig_storage_close(q->r->server, db);
    return rc;
}

int mig_publish_post(mig_req *q)
{
    int seed = q->route->arg != NULL; /* "reels": the seed contract */
    igraph_publish_rules_t rules;
    igraph_publish_req_t req;
    igraph_job_t *j = NULL;
    int rc, duplicate;

    if (!mig_meta_configured(q->c)) {
        return mig_fail(q, HTTP_BAD_REQUEST, "meta_ig_not_connected", NULL,
                        "no Instagram account is connected: no Meta app is configured on this "
                        "server");
    }
    if ((rc = read_request(q, seed, &req, &rules)) != MIG_GO_ON ||
        (rc = accept_job(q, seed, &req, &rules, &j, &duplicate)) != MIG_GO_ON) {
        return rc;
    }
    if (duplicate) {
        return job_reply(q, HTTP_OK, j, 1);
    }
    /* wait and answer: the job is recorded and goes on whatever happens to this request */
    if (req.wait > 0) {
        igraph_job_t *done = wait_for(q, j->id, req.wait);
        if (done) {
            j = done;
        }
    }
    if (seed) {
        return seed_reply(q, j);
    }
    return job_reply(q, job_settled(j) ? HTTP_OK : HTTP_ACCEPTED, j, 0);
}

int mig_publish_list(mig_req *q)
{
    apr_pool_t *p = q->r->pool;
    const char *status = apr_table_get(q->args, "status");
    const char *limit_s = apr_table_get(q->args, "limit");
    apr_int64_t limit = 50;
    igraph_job_status_e st;
    apr_array_header_t *list;
    igraph_json_t *o, *arr;
    int i;

    if (status && *status && igraph_job_status_parse(status, &st) != APR_SUCCESS) {
        return invalid_request(q, "status",
                               "must be queued, processing, publishing, published, failed or "
                               "cancelled");
    }
    if (limit_s && (igraph_parse_int64(limit_s, &limit) != APR_SUCCESS || limit < 1 ||
                    limit > 200)) {
        return invalid_request(q, "limit", "must be a number from 1 to 200");
    }
    if (igraph_store_jobs_list(q->db, p, q->owner, (status && *status) ? status : NULL, 0,
                               (int)limit, &list) != APR_SUCCESS) {
        return mig_fail_storage(q);
    }
    o = igraph_json_new_object(p);
    arr = igraph_json_new_array(p);
    for (i = 0; i < list->nelts; i++) {
        igraph_json_append(arr, job_json(q, APR_ARRAY_IDX(list, i, igraph_job_t *), NULL));
    }
    igraph_json_setb(o, "ok", 1);
    igraph_json_setj(o, "jobs", arr);
    return mig_json(q, HTTP_OK, o);
}

static int job_answer(mig_req *q)
{
    igraph_job_t *j;
    apr_status_t rv = igraph_store_job_get(q->db, q->r->pool, q->owner, q->name, &j);

    return rv == APR_SUCCESS ? job_reply(q, HTTP_OK, j, 0) : mig_fail_lookup(q, rv, "no such job");
}

int mig_publish_get(mig_req *q)
{
    return job_answer(q);
}

int mig_publish_cancel(mig_req *q)
{
    apr_status_t rv = igraph_store_job_cancel(q->db, q->r->pool, q->owner, q->name, igraph_now());

    if (rv == APR_EBUSY) {
        return mig_fail(q, HTTP_CONFLICT, "too_late", NULL,
                        "this job is being published or is already finished");
    }
    if (rv != APR_SUCCESS && rv != APR_NOTFOUND) {
        return mig_fail_storage(q);
    }
    if (rv == APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r, "IG0071: job %s cancelled by '%s'",
                      q->name, q->user);
    }
    return job_answer(q);
}
