/* mod_igraph_publish.c: the publish API.
 *
 *   POST   /reels/publish     the seed contract: waits up to IGraphPublishWait for the result
 *   POST   /publish           any media type; 202 with the job (200 when done within "wait")
 *   GET    /publish           the caller's jobs (?status=&limit=)
 *   GET    /publish/{id}      one job
 *   DELETE /publish/{id}      cancels a job that cannot have been published yet
 *
 * A request only validates and records a job; the worker (mod_igraph_jobs.c) makes the Graph
 * calls. Waiting requests poll the job row with a database connection taken per look, so many
 * waiting clients do not pin mod_dbd's connection pool.
 */
#include <string.h>

#include <apr_strings.h>
#include <apr_optional.h>
#include <apr_lib.h>
#include <http_protocol.h>

#include "mod_igraph_routes.h"
#include "mod_igraph_publish.h"
#include "mod_igraph_storage.h"
#include "igraph_log.h"
#include "igraph_util.h"

/* Publish requests use connections of their own, closed before any wait: many waiting clients
 * must not pin mod_dbd's connection pool. */
static igraph_db_t *db_open(mig_req *q)
{
    return mig_storage_open(q->r->server, q->r->pool);
}

static void db_close(mig_req *q, igraph_db_t **db)
{
    mig_storage_close(q->r->server, *db);
    *db = NULL;
}

static int storage_unavailable(mig_req *q)
{
    return mig_json_error(q, HTTP_SERVICE_UNAVAILABLE, "storage_unavailable",
                          "the account database is not available");
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
    igraph_json_sets(o, "permalink", (j->permalink && *j->permalink) ? j->permalink : NULL);
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
        igraph_db_t *db = db_open(q);
        igraph_job_t *now = NULL;
        if (db && igraph_store_job_get(db, q->r->pool, q->owner, id, &now) == APR_SUCCESS) {
            j = now;
        }
        db_close(q, &db);
        if ((j && job_settled(j)) || apr_time_now() >= end || q->r->connection->aborted) {
            return j;
        }
        apr_sleep(step);
        if (step < apr_time_from_sec(1)) {
            step += apr_time_from_msec(100);
        }
    }
}

/* Which account: explicit reference, or the caller's only active account. Returns 0 with *out
 * set, or 1 when it has already answered the request (an error). */
static int pick_account(mig_req *q, igraph_db_t *db, const igraph_publish_req_t *req, int seed,
                        igraph_account_t **out)
{
    apr_array_header_t *list;
    apr_status_t rv;

    if (req->account_ref && *req->account_ref) {
        rv = igraph_store_account_find(db, q->r->pool, q->owner, req->account_ref, out);
        if (rv == APR_NOTFOUND) {
            if (seed) {
                mig_json_error(q, HTTP_BAD_REQUEST, "meta_ig_not_connected",
                               "no such connected Instagram account");
            }
            else {
                mig_json_error(q, HTTP_NOT_FOUND, "account_not_found",
                               "no such connected Instagram account");
            }
            return 1;
        }
        if (rv != APR_SUCCESS) {
            storage_unavailable(q);
            return 1;
        }
        return 0;
    }
    if (igraph_store_accounts_active(db, q->r->pool, q->owner, &list) != APR_SUCCESS) {
        storage_unavailable(q);
        return 1;
    }
    if (list->nelts == 0) {
        /* a single account that is disabled or needs reconnecting says so (409 below) */
        if (igraph_store_accounts_list(db, q->r->pool, q->owner, &list) == APR_SUCCESS &&
            list->nelts == 1) {
            *out = APR_ARRAY_IDX(list, 0, igraph_account_t *);
            return 0;
        }
        mig_json_error(q, HTTP_BAD_REQUEST, "meta_ig_not_connected",
                       "no connected Instagram account: connect one first");
        return 1;
    }
    if (list->nelts > 1) {
        mig_json_error(q, HTTP_BAD_REQUEST, "account_required",
                       "several accounts are connected: say which one with \"account\"");
        return 1;
    }
    *out = APR_ARRAY_IDX(list, 0, igraph_account_t *);
    return 0;
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
        igraph_json_sets(o, "permalink", (j->permalink && *j->permalink) ? j->permalink : NULL);
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

static int publish_post(mig_req *q, int seed)
{
    request_rec *r = q->r;
    apr_pool_t *p = r->pool;
    const char *ct = apr_table_get(r->headers_in, "Content-Type");
    const char *hkey = apr_table_get(r->headers_in, "Idempotency-Key");
    const char *field = NULL, *msg = NULL, *reason = NULL, *media_key;
    igraph_publish_rules_t rules;
    igraph_publish_req_t req;
    igraph_job_policy_t pol;
    igraph_account_t *acct = NULL;
    igraph_job_t *j, *old = NULL;
    igraph_json_t *body;
    igraph_db_t *db;
    char *text;
    apr_size_t len;
    int rc, published = 0;
    apr_status_t rv;

    if (mig_cross_site(q)) {
        return mig_json_error(q, HTTP_FORBIDDEN, "cross_site_refused",
                              "requests from other sites are refused");
    }
    if (!mig_fb_configured(q->c) && !mig_ig_configured(q->c)) {
        return mig_json_error(q, HTTP_BAD_REQUEST, "meta_ig_not_connected",
                              "no Instagram account is connected: no Meta app is configured on "
                              "this server");
    }
    if (!ct || strncasecmp(ct, "application/json", 16) != 0) {
        return mig_json_error(q, HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
                              "send the request as Content-Type: application/json");
    }
    rc = mig_read_body(q, MIG_MAX_BODY, &text, &len);
    if (rc == HTTP_REQUEST_ENTITY_TOO_LARGE) {
        return mig_json_error(q, rc, "body_too_large", "the request body exceeds 64 KiB");
    }
    if (rc != OK) {
        return mig_json_error(q, HTTP_BAD_REQUEST, "bad_request", "the body could not be read");
    }
    if (igraph_json_parse(&body, p, text, len, &msg) != APR_SUCCESS ||
        !igraph_json_is_object(body)) {
        return mig_json_error(q, HTTP_BAD_REQUEST, "invalid_json",
                              apr_psprintf(p, "the body must be a JSON object%s%s",
                                           msg ? ": " : "", msg ? msg : ""));
    }
    memset(&rules, 0, sizeof(rules));
    rules.now = igraph_now();
    rules.default_media_type = seed ? IGRAPH_MEDIA_REELS : IGRAPH_MEDIA_NONE;
    rules.default_wait = seed ? q->c->publish_wait : 0;
    rules.max_wait = q->c->publish_wait;
    rules.affiliate_hosts = q->c->affiliate_hosts;
    if (igraph_publish_validate(p, body, &rules, &req, &field, &msg) != APR_SUCCESS) {
        igraph_json_t *o = igraph_json_new_object(p);
        igraph_json_setb(o, "ok", 0);
        igraph_json_sets(o, "error", "invalid_request");
        igraph_json_sets(o, "field", field ? field : "body");
        igraph_json_sets(o, "message", apr_psprintf(p, "%s: %s", field ? field : "body",
                                                    msg ? msg : "invalid"));
        return mig_json(q, HTTP_BAD_REQUEST, o);
    }
    if (hkey) {
        if (!*hkey || strlen(hkey) > 128) {
            return mig_json_error(q, HTTP_BAD_REQUEST, "invalid_request",
                                  "Idempotency-Key must be 1 to 128 characters");
        }
        req.idempotency_key = hkey;
    }
    if (igraph_compliance_check(p, req.risk, req.license, q->c->max_risk,
                                q->c->require_license, &reason)) {
        return mig_json_error(q, HTTP_UNPROCESSABLE_ENTITY, "compliance_refused",
                              apr_psprintf(p, "refused by the compliance gate: %s", reason));
    }
    if (!(db = db_open(q))) {
        return storage_unavailable(q);
    }
    if (req.idempotency_key &&
        igraph_store_job_by_idempotency(db, p, q->owner, req.idempotency_key, &old) ==
            APR_SUCCESS) {
        db_close(q, &db);
        return job_reply(q, HTTP_OK, old, 1);
    }
    if (pick_account(q, db, &req, seed, &acct) != 0) {
        db_close(q, &db);
        return OK;
    }
    if (acct->status != IGRAPH_ACCOUNT_ACTIVE) {
        db_close(q, &db);
        return mig_json_error(q, HTTP_CONFLICT,
                              acct->status == IGRAPH_ACCOUNT_DISABLED ? "account_disabled"
                                                                      : "account_needs_reauth",
                              acct->status == IGRAPH_ACCOUNT_DISABLED
                                  ? "this account is disabled; enable it first"
                                  : "this account must be reconnected before it can publish");
    }
    if (!mig_account_can_publish(acct)) {
        db_close(q, &db);
        return mig_json_error(q, HTTP_FORBIDDEN, "permission_missing",
                              "the account did not grant the content publishing permission; "
                              "reconnect it and allow publishing");
    }
    media_key = igraph_publish_media_key(p, &req);
    if (!req.idempotency_key &&
        igraph_store_job_find_duplicate(db, p, acct->id, media_key, &old) == APR_SUCCESS) {
        db_close(q, &db);
        return job_reply(q, HTTP_OK, old, 1);
    }
    if (!req.publish_at &&
        igraph_store_jobs_published_since(db, p, acct->id, rules.now - 86400, &published) ==
            APR_SUCCESS &&
        published >= IGRAPH_QUOTA_DEFAULT) {
        db_close(q, &db);
        return mig_json_error(q, HTTP_TOO_MANY_REQUESTS, "quota_exhausted",
                              "this account reached Instagram's publishing limit for the last "
                              "24 hours; schedule the post with publish_at");
    }
    igraph_job_policy_default(&pol);
    pol.publish_timeout = q->c->publish_timeout;
    j = apr_pcalloc(p, sizeof(*j));
    igraph_job_init(p, j, &req, rules.now, &pol);
    j->id = igraph_random_token(p, 16);
    j->account_id = acct->id;
    j->owner = q->owner;
    j->login = acct->login;
    j->ig_user_id = acct->ig_user_id;
    rv = igraph_store_job_insert(db, p, j, req.idempotency_key, media_key);
    if (rv == APR_EEXIST && igraph_store_job_by_idempotency(db, p, q->owner, req.idempotency_key,
                                                            &old) == APR_SUCCESS) {
        db_close(q, &db);
        return job_reply(q, HTTP_OK, old, 1);
    }
    db_close(q, &db);
    if (rv != APR_SUCCESS) {
        return storage_unavailable(q);
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  "IG0070: job %s accepted: %s for @%s (account %" APR_INT64_T_FMT ")%s", j->id,
                  igraph_media_name(j->media_type), acct->username ? acct->username : "?",
                  acct->id, req.caption_attributed ? ", #ad added" : "");
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

static int publish_list(mig_req *q)
{
    apr_pool_t *p = q->r->pool;
    const char *status = apr_table_get(q->args, "status");
    const char *limit_s = apr_table_get(q->args, "limit");
    apr_int64_t limit = 50;
    igraph_job_status_e st;
    apr_array_header_t *list;
    igraph_json_t *o, *arr;
    igraph_db_t *db;
    int i;

    if (status && *status && igraph_job_status_parse(status, &st) != APR_SUCCESS) {
        return mig_json_error(q, HTTP_BAD_REQUEST, "invalid_request",
                              "status must be queued, processing, publishing, published, failed "
                              "or cancelled");
    }
    if (limit_s && (igraph_parse_int64(limit_s, &limit) != APR_SUCCESS || limit < 1 ||
                    limit > 200)) {
        return mig_json_error(q, HTTP_BAD_REQUEST, "invalid_request",
                              "limit must be a number from 1 to 200");
    }
    if (!(db = db_open(q))) {
        return storage_unavailable(q);
    }
    if (igraph_store_jobs_list(db, p, q->owner, (status && *status) ? status : NULL, 0,
                               (int)limit, &list) != APR_SUCCESS) {
        db_close(q, &db);
        return storage_unavailable(q);
    }
    db_close(q, &db);
    o = igraph_json_new_object(p);
    arr = igraph_json_new_array(p);
    for (i = 0; i < list->nelts; i++) {
        igraph_json_append(arr, job_json(q, APR_ARRAY_IDX(list, i, igraph_job_t *), NULL));
    }
    igraph_json_setb(o, "ok", 1);
    igraph_json_setj(o, "jobs", arr);
    return mig_json(q, HTTP_OK, o);
}

static int publish_one(mig_req *q, const char *id)
{
    request_rec *r = q->r;
    igraph_job_t *j;
    igraph_db_t *db;
    apr_status_t rv;
    const char *s;

    for (s = id; *s; s++) {
        if (!apr_isalnum(*s) && *s != '-' && *s != '_') {
            return mig_json_error(q, HTTP_NOT_FOUND, "not_found", "no such job");
        }
    }
    if (!*id || strlen(id) > 64) {
        return mig_json_error(q, HTTP_NOT_FOUND, "not_found", "no such job");
    }
    if (r->method_number != M_GET && r->method_number != M_DELETE) {
        apr_table_setn(r->err_headers_out, "Allow", "GET, DELETE");
        return mig_json_error(q, HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                              "use GET or DELETE on a job");
    }
    if (r->method_number == M_DELETE && mig_cross_site(q)) {
        return mig_json_error(q, HTTP_FORBIDDEN, "cross_site_refused",
                              "requests from other sites are refused");
    }
    if (!(db = db_open(q))) {
        return storage_unavailable(q);
    }
    if (r->method_number == M_DELETE) {
        rv = igraph_store_job_cancel(db, r->pool, q->owner, id, igraph_now());
        if (rv == APR_EBUSY) {
            db_close(q, &db);
            return mig_json_error(q, HTTP_CONFLICT, "too_late",
                                  "this job is being published or is already finished");
        }
        if (rv != APR_SUCCESS && rv != APR_NOTFOUND) {
            db_close(q, &db);
            return storage_unavailable(q);
        }
    }
    rv = igraph_store_job_get(db, r->pool, q->owner, id, &j);
    db_close(q, &db);
    if (rv == APR_NOTFOUND) {
        return mig_json_error(q, HTTP_NOT_FOUND, "not_found", "no such job");
    }
    if (rv != APR_SUCCESS) {
        return storage_unavailable(q);
    }
    if (r->method_number == M_DELETE) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "IG0071: job %s cancelled by '%s'", id,
                      q->owner);
    }
    return job_reply(q, HTTP_OK, j, 0);
}

int mig_publish_route(mig_req *q)
{
    request_rec *r = q->r;
    const char *route = q->route;

    if (!strcmp(route, "/reels/publish")) {
        if (r->method_number != M_POST) {
            apr_table_setn(r->err_headers_out, "Allow", "POST");
            return mig_json_error(q, HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                                  "use POST");
        }
        return publish_post(q, 1);
    }
    if (!strcmp(route, "/publish") || !strcmp(route, "/publish/")) {
        if (r->method_number == M_POST) {
            return publish_post(q, 0);
        }
        if (r->method_number == M_GET) {
            return publish_list(q);
        }
        apr_table_setn(r->err_headers_out, "Allow", "GET, POST");
        return mig_json_error(q, HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                              "use POST to publish or GET to list");
    }
    return publish_one(q, route + strlen("/publish/"));
}
