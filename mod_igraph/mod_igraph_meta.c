/* mod_igraph_meta.c: the routes Meta calls (no Apache user; nothing unsigned is accepted).
 *
 *   POST /meta/deauthorize     signed_request: the user removed the app -> accounts disabled,
 *                              tokens erased
 *   POST /meta/data-deletion   signed_request: delete the user's data ->
 *                              {"url","confirmation_code"}
 *   GET  /meta/deletion?code=  public status page of a deletion request
 *   GET  /meta/webhook         subscription check (hub.mode, hub.verify_token, hub.challenge)
 *   POST /meta/webhook         events, X-Hub-Signature-256 over the raw body (at most 1 MiB;
 *                              header and secret checked before the body is read)
 *   GET  /api/events           the caller's accounts' events (ordinary API route)
 *
 * signed_request and webhook signatures are checked against the Instagram app secret and the
 * Facebook app secret (Meta's documents disagree on which one Instagram Login uses). Storage is
 * only touched once a signature checked out.
 */
#include <string.h>

#include <apr_strings.h>
#include <apr_lib.h>
#include <http_protocol.h>
#include <http_core.h>

#include "mod_igraph_meta.h"
#include "mod_igraph_storage.h"
#include "igraph_meta.h"
#include "igraph_util.h"

#define SIGNED_MAX_AGE 3600 /* issued_at older than this is refused (replays) */

/* The secrets to try, in order; *logins gets the login kind each one belongs to. */
static const char *const *secrets(mig_req *q, int ig_first, const igraph_login_e **logins)
{
    const char **s = apr_pcalloc(q->r->pool, 3 * sizeof(*s));
    igraph_login_e *l = apr_pcalloc(q->r->pool, 3 * sizeof(*l));
    int n = 0, pass;
    for (pass = 0; pass < 2; pass++) {
        int ig = (pass == 0) == (ig_first != 0);
        const char *sec = ig ? q->c->ig_app_secret : q->c->app_secret;
        if (sec) {
            s[n] = sec;
            l[n++] = ig ? IGRAPH_LOGIN_INSTAGRAM : IGRAPH_LOGIN_FACEBOOK;
        }
    }
    *logins = l;
    return s;
}

static const char *public_base(mig_req *q)
{
    /* the origin Meta knows us by: the registered redirect URL's */
    const char *ru = q->c->redirect_url;
    if (ru) {
        const char *p = strstr(ru, "://");
        const char *slash = p ? strchr(p + 3, '/') : NULL;
        if (slash) {
            return apr_pstrcat(q->r->pool, apr_pstrndup(q->r->pool, ru, slash - ru), q->base, NULL);
        }
    }
    return ap_construct_url(q->r->pool, q->base, q->r);
}

static int signed_callback(mig_req *q, int deletion)
{
    request_rec *r = q->r;
    const igraph_login_e *logins, *login;
    const char *const *secs = secrets(q, 1, &logins);
    const char *sr, *why = NULL, *user_id;
    igraph_json_t *payload;
    apr_table_t *form;
    igraph_db_t *db;
    int status, which = -1, count = 0;

    if (!secs[0]) {
        return mig_fail(q, HTTP_SERVICE_UNAVAILABLE, "meta_not_configured", NULL,
                        "no app secret is configured to verify Meta's signature");
    }
    if ((status = mig_read_form(q, &form)) != OK) {
        return mig_fail(q, status,
                        status == HTTP_REQUEST_ENTITY_TOO_LARGE ? "body_too_large"
                        : status == HTTP_UNSUPPORTED_MEDIA_TYPE ? "unsupported_media_type"
                                                                : "bad_request",
                        NULL, "expected a form with signed_request");
    }
    sr = apr_table_get(form, "signed_request");
    if (!sr || igraph_table_count(form, "signed_request") != 1 ||
        igraph_signed_request_verify(r->pool, sr, secs, igraph_now(), SIGNED_MAX_AGE, &payload,
                                     &which, &why) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "IG0080: %s callback refused: %s",
                      deletion ? "data deletion" : "deauthorize",
                      sr ? (why ? why : "invalid signed_request") : "no signed_request");
        return mig_fail(q, HTTP_BAD_REQUEST, "invalid_signed_request", NULL,
                        "the signed_request is missing, malformed or not signed by Meta");
    }
    user_id = igraph_json_get_id(r->pool, payload, "user_id", NULL);
    login = &logins[which];
    if (q->c->app_secret && q->c->ig_app_secret && !strcmp(q->c->app_secret, q->c->ig_app_secret)) {
        login = NULL; /* one secret for both logins: the signature cannot tell them apart */
    }
    if (!(db = mig_storage_request(r))) {
        return mig_fail_storage(q);
    }
    if (!deletion) {
        if (igraph_store_deauthorize(db, r->pool, user_id, login, &count) != APR_SUCCESS) {
            return mig_fail_storage(q);
        }
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r,
                      "IG0081: deauthorized by Meta for %s user %s: %d account(s) "
                      "deauthorized, tokens erased",
                      login ? igraph_login_name(*login) : "any", user_id, count);
        {
            igraph_json_t *o = igraph_json_new_object(r->pool);
            igraph_json_setb(o, "ok", 1);
            igraph_json_setl(o, "accounts_deauthorized", count);
            return mig_json(q, HTTP_OK, o);
        }
    }
    {
        const char *code = igraph_deletion_code(r->pool);
        igraph_json_t *o;
        if (igraph_store_data_deletion(db, r->pool, user_id, login, code, &count) != APR_SUCCESS) {
            return mig_fail_storage(q);
        }
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r,
                      "IG0082: data deletion for %s user %s: %d account(s) deleted, "
                      "confirmation %s",
                      login ? igraph_login_name(*login) : "any", user_id, count, code);
        o = igraph_json_new_object(r->pool);
        igraph_json_sets(o, "url",
                         apr_psprintf(r->pool, "%s/meta/deletion?code=%s", public_base(q), code));
        igraph_json_sets(o, "confirmation_code", code);
        return mig_json(q, HTTP_OK, o);
    }
}

int mig_meta_deletion_status(mig_req *q)
{
    request_rec *r = q->r;
    const char *code = apr_table_get(q->args, "code"), *s, *status = NULL;
    apr_int64_t created = 0, completed = 0;
    int deleted = 0;

    for (s = code; s && *s; s++) {
        if (!apr_isalnum(*s)) {
            code = NULL;
            break;
        }
    }
    if (!code || !igraph_is_deletion_code(code) ||
        igraph_store_deletion_get(q->db, r->pool, code, &status, &deleted, &created, &completed) !=
            APR_SUCCESS) {
        return mig_fail(q, HTTP_NOT_FOUND, "not_found", "Unknown request",
                        "There is no data deletion request with this code.");
    }
    mig_page_begin(q, "Data deletion request");
    if (!r->header_only) {
        mig_html(q,
                 "<section class=\"card\" id=\"deletion\"><h1>Data deletion request</h1>"
                 "<p>Confirmation code <code>%s</code></p><p>Received %s UTC.</p>",
                 code, igraph_iso8601(r->pool, created));
        if (!strcmp(status, "completed")) {
            mig_html(q,
                     "<p class=\"status\"><b>Completed</b> on %s UTC: %d connected account(s) "
                     "and their tokens, posts in progress and events were deleted.</p>",
                     igraph_iso8601(r->pool, completed), deleted);
        }
        else {
            mig_html(q, "<p class=\"status\"><b>%s</b></p>", status);
        }
        mig_html(q, "</section>\n");
    }
    mig_page_end(q);
    return OK;
}

int mig_meta_webhook_verify(mig_req *q)
{
    request_rec *r = q->r;
    const char *mode = apr_table_get(q->args, "hub.mode");
    const char *token = apr_table_get(q->args, "hub.verify_token");
    const char *challenge = apr_table_get(q->args, "hub.challenge"), *s;
    const char *want = q->c->webhook_verify_token;
    int ok = want && mode && token && challenge && !strcmp(mode, "subscribe") &&
             igraph_ct_equal(want, strlen(want), token, strlen(token)) && strlen(challenge) <= 256;

    for (s = challenge; ok && *s; s++) {
        if (!apr_isalnum(*s) && *s != '-' && *s != '_' && *s != '.') {
            ok = 0;
        }
    }
    if (!ok) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "IG0083: webhook verification refused%s",
                      want ? "" : " (IGraphWebhookVerifyToken is not set)");
        return mig_fail(q, HTTP_FORBIDDEN, "verification_failed", NULL,
                        "hub.mode, hub.verify_token or hub.challenge is wrong");
    }
    ap_set_content_type(r, "text/plain");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    ap_rputs(challenge, r);
    return OK;
}

int mig_meta_webhook_events(mig_req *q)
{
    request_rec *r = q->r;
    const igraph_login_e *logins;
    const char *const *secs = secrets(q, 0, &logins);
    const char *sig = apr_table_get(r->headers_in, "X-Hub-Signature-256");
    apr_array_header_t *events;
    igraph_json_t *body, *o;
    igraph_db_t *db;
    char *raw;
    apr_size_t len;
    int rc, i, stored = 0, dup = 0, ignored = 0;

    /* Everything that can be refused without the body is refused before it is read, and
     * the connection is closed so that httpd does not drain what the client still sends. */
    if (!secs[0]) {
        r->connection->keepalive = AP_CONN_CLOSE;
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      "IG0086: webhook refused: no app secret is configured to verify it");
        return mig_fail(q, HTTP_SERVICE_UNAVAILABLE, "meta_not_configured", NULL,
                        "no app secret is configured to verify Meta's signature");
    }
    if (!igraph_hub_signature_wellformed(sig)) {
        r->connection->keepalive = AP_CONN_CLOSE;
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "IG0084: webhook refused: %s",
                      !sig ? "no X-Hub-Signature-256" : "malformed X-Hub-Signature-256");
        return mig_fail(q, HTTP_FORBIDDEN, "invalid_signature", NULL,
                        "X-Hub-Signature-256 is missing or does not match");
    }
    /* sized from Content-Length (a chunked body grows up to the cap) */
    rc = mig_read_body(q, IGRAPH_WEBHOOK_MAX_BODY, &raw, &len);
    if (rc != OK) {
        r->connection->keepalive = AP_CONN_CLOSE;
        if (rc == HTTP_REQUEST_ENTITY_TOO_LARGE) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                          "IG0087: webhook refused: the body is larger than %d bytes",
                          IGRAPH_WEBHOOK_MAX_BODY);
            return mig_fail(q, rc, "body_too_large", NULL,
                            apr_psprintf(r->pool, "a webhook body may be at most %d bytes",
                                         IGRAPH_WEBHOOK_MAX_BODY));
        }
        return mig_fail(q, HTTP_BAD_REQUEST, "bad_request", NULL, "the body could not be read");
    }
    if (!igraph_hub_signature_ok(sig, raw, len, secs)) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "IG0084: webhook refused: bad signature");
        return mig_fail(q, HTTP_FORBIDDEN, "invalid_signature", NULL,
                        "X-Hub-Signature-256 is missing or does not match");
    }
    if (igraph_json_parse(&body, r->pool, raw, len, NULL) != APR_SUCCESS ||
        igraph_webhook_events(r->pool, body, &events) != APR_SUCCESS) {
        return mig_fail(q, HTTP_BAD_REQUEST, "invalid_json", NULL,
                        "the body is not a webhook notification");
    }
    /* a 503 is fine for Meta: it retries failed deliveries for 36 hours */
    if (!(db = mig_storage_request(r))) {
        return mig_fail_storage(q);
    }
    for (i = 0; i < events->nelts; i++) {
        apr_status_t rv = igraph_store_event_insert(
            db, r->pool, q->c->key, APR_ARRAY_IDX(events, i, igraph_webhook_event_t *));
        if (rv == APR_SUCCESS) {
            stored++;
        }
        else if (rv == APR_EEXIST) {
            dup++;
        }
        else if (rv == APR_NOTFOUND) {
            ignored++; /* no account of ours: nothing of it is kept */
        }
        else {
            return mig_fail_storage(q);
        }
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  "IG0085: webhook: %d event(s) stored, %d duplicate(s), %d for no connected "
                  "account (dropped)",
                  stored, dup, ignored);
    o = igraph_json_new_object(r->pool);
    igraph_json_setb(o, "ok", 1);
    igraph_json_setl(o, "received", stored);
    igraph_json_setl(o, "duplicates", dup);
    igraph_json_setl(o, "ignored", ignored);
    return mig_json(q, HTTP_OK, o);
}

int mig_meta_deauthorize(mig_req *q)
{
    return signed_callback(q, 0);
}

int mig_meta_data_deletion(mig_req *q)
{
    return signed_callback(q, 1);
}

int mig_api_events(mig_req *q)
{
    apr_pool_t *p = q->r->pool;
    const char *limit_s = apr_table_get(q->args, "limit");
    apr_int64_t limit = 50;
    apr_array_header_t *list;
    igraph_json_t *o, *arr;
    int i;

    if (limit_s &&
        (igraph_parse_int64(limit_s, &limit) != APR_SUCCESS || limit < 1 || limit > 500)) {
        return mig_fail(q, HTTP_BAD_REQUEST, "invalid_request", NULL,
                        "limit must be a number from 1 to 500");
    }
    if (igraph_store_events_list(q->db, p, q->c->key, q->owner, (int)limit, &list) != APR_SUCCESS) {
        return mig_fail_storage(q);
    }
    o = igraph_json_new_object(p);
    arr = igraph_json_new_array(p);
    for (i = 0; i < list->nelts; i++) {
        const igraph_webhook_event_t *e = APR_ARRAY_IDX(list, i, const igraph_webhook_event_t *);
        igraph_json_t *ev = igraph_json_new_object(p), *val = NULL;
        igraph_json_setl(ev, "id", e->id);
        igraph_json_sets(ev, "ig_user_id", e->ig_id);
        igraph_json_sets(ev, "field", e->field);
        igraph_json_sets(ev, "time", e->time ? igraph_iso8601(p, e->time) : NULL);
        igraph_json_sets(ev, "received_at", igraph_iso8601(p, e->received_at));
        if (e->value &&
            igraph_json_parse(&val, p, e->value, strlen(e->value), NULL) == APR_SUCCESS) {
            igraph_json_setj(ev, "value", val);
        }
        igraph_json_append(arr, ev);
    }
    igraph_json_setb(o, "ok", 1);
    igraph_json_setj(o, "events", arr);
    return mig_json(q, HTTP_OK, o);
}
