/* mod_igraph_web.c: answers (JSON, HTML, errors in the client's format), request bodies,
 * sessions and CSRF for the route handlers. */
#include <string.h>

#include <apr_strings.h>
#include <apr_optional.h>
#include <http_protocol.h>
#include <http_request.h>
#include <util_filter.h>
#include <mod_session.h>

#include "mod_igraph_web.h"
#include "igraph_crypto.h"
#include "igraph_log.h"
#include "igraph_util.h"

static APR_OPTIONAL_FN_TYPE(ap_session_load) *sess_load;
static APR_OPTIONAL_FN_TYPE(ap_session_get) *sess_get;
static APR_OPTIONAL_FN_TYPE(ap_session_set) *sess_set;

/* Session cookies get "Secure" when the request came over https: mod_session writes its
 * Set-Cookie in its own output filter, so ours runs right after it (before the headers go out)
 * and adds the attribute when the administrator's SessionCookieName line has none. */
static int secure_cookie(void *rec, const char *key, const char *val)
{
    apr_array_header_t *out = rec;
    const char *v = val;
    if (!igraph_cookie_has_attr(val, "Secure")) {
        v = apr_pstrcat(out->pool, val, ";Secure", NULL);
    }
    APR_ARRAY_PUSH(out, const char *) = v;
    return 1;
}

static apr_status_t mig_cookie_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    request_rec *r = f->r;
    apr_table_t *tables[2] = {r->err_headers_out, r->headers_out};
    int t, i;

    for (t = 0; t < 2; t++) {
        apr_array_header_t *vals = apr_array_make(r->pool, 2, sizeof(const char *));
        apr_table_do(secure_cookie, vals, tables[t], "Set-Cookie", NULL);
        if (vals->nelts) {
            apr_table_unset(tables[t], "Set-Cookie");
            for (i = 0; i < vals->nelts; i++) {
                apr_table_addn(tables[t], "Set-Cookie", APR_ARRAY_IDX(vals, i, const char *));
            }
        }
    }
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

void mig_web_register_filters(void)
{
    ap_register_output_filter("IGRAPH_SECURE_COOKIE", mig_cookie_filter, NULL,
                              AP_FTYPE_CONTENT_SET + 5);
}

void mig_web_insert_filters(request_rec *r)
{
    if (r->handler && !strcmp(r->handler, "igraph") && !strcasecmp(ap_http_scheme(r), "https")) {
        ap_add_output_filter("IGRAPH_SECURE_COOKIE", NULL, r, r->connection);
    }
}

void mig_web_optional_fns(void)
{
    sess_load = APR_RETRIEVE_OPTIONAL_FN(ap_session_load);
    sess_get = APR_RETRIEVE_OPTIONAL_FN(ap_session_get);
    sess_set = APR_RETRIEVE_OPTIONAL_FN(ap_session_set);
}

/* ---- answers ----------------------------------------------------------------------------- */

static void common_headers(request_rec *r)
{
    apr_table_setn(r->err_headers_out, "X-Content-Type-Options", "nosniff");
    /* not "no-referrer": with it browsers send "Origin: null" on our own form posts */
    apr_table_setn(r->err_headers_out, "Referrer-Policy", "same-origin");
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
}

static int write_piece(const char *buf, apr_size_t len, void *baton)
{
    return ap_rwrite(buf, (int)len, baton) < 0;
}

int mig_json(mig_req *q, int status, igraph_json_t *body)
{
    request_rec *r = q->r;
    common_headers(r);
    r->status = status;
    ap_set_content_type(r, "application/json");
    if (!r->header_only) {
        /* answers never hold a token: written straight out, one pass, no copy */
        igraph_json_write(body, write_piece, r);
        ap_rputc('\n', r);
    }
    return OK;
}

static const char *status_title(int status)
{
    const char *line = ap_get_status_line(status); /* "404 Not Found" */
    return (line && strlen(line) > 4) ? line + 4 : "Error";
}

static int error_page(mig_req *q, int status, const char *title, const char *message,
                      const char *code)
{
    q->r->status = status;
    mig_page_begin(q, title);
    if (!q->r->header_only) {
        mig_html(q,
                 "<section class=\"card error\" data-error=\"%s\"><h1>%s</h1><p>%s</p>"
                 "<p class=\"muted\">(%s)</p>"
                 "<p><a class=\"button\" href=\"%s\">Back to accounts</a></p></section>\n",
                 code, title, message, code, mig_url(q, "/accounts"));
    }
    mig_page_end(q);
    return OK;
}

int mig_fail(mig_req *q, int status, const char *code, const char *title, const char *message)
{
    if (q->json) {
        igraph_json_t *j = igraph_json_new_object(q->r->pool);
        igraph_json_setb(j, "ok", 0);
        igraph_json_sets(j, "error", code);
        igraph_json_sets(j, "message", message);
        return mig_json(q, status, j);
    }
    return error_page(q, status, title ? title : status_title(status), message, code);
}

int mig_fail_json(mig_req *q, int status, igraph_json_t *body, const char *title)
{
    if (q->json) {
        return mig_json(q, status, body);
    }
    return error_page(q, status, title ? title : status_title(status),
                      igraph_json_gets(body, "message", NULL),
                      igraph_json_gets(body, "error", NULL));
}

int mig_fail_storage(mig_req *q)
{
    return mig_fail(q, HTTP_SERVICE_UNAVAILABLE, "storage_unavailable", "Storage unavailable",
                    "The account database cannot be used right now. Administrators: configure "
                    "mod_dbd (DBDriver sqlite3, DBDParams /var/lib/apache2/igraph/igraph.db) "
                    "with a directory the Apache user can write, and see the error log.");
}

int mig_fail_lookup(mig_req *q, apr_status_t rv, const char *what)
{
    if (rv == APR_NOTFOUND) {
        return mig_fail(q, HTTP_NOT_FOUND, "not_found", "Not found", what);
    }
    return mig_fail_storage(q);
}

int mig_redirect(mig_req *q, int status, const char *location)
{
    common_headers(q->r);
    apr_table_setn(q->r->headers_out, "Location", location);
    return status;
}

const char *mig_url(mig_req *q, const char *route)
{
    return apr_pstrcat(q->r->pool, q->base, route, NULL);
}

void mig_html(mig_req *q, const char *fmt, ...)
{
    request_rec *r = q->r;
    const char *f = fmt, *lit = fmt;
    va_list ap;

    va_start(ap, fmt);
    while (*f) {
        if (f[0] != '%' || !f[1]) {
            f++;
            continue;
        }
        if (f > lit) {
            ap_rwrite(lit, (int)(f - lit), r);
        }
        switch (f[1]) {
        case 's':
            ap_rputs(igraph_html_escape(r->pool, va_arg(ap, const char *)), r);
            break;
        case 'd':
            ap_rprintf(r, "%d", va_arg(ap, int));
            break;
        case 'L':
            ap_rprintf(r, "%" APR_INT64_T_FMT, va_arg(ap, apr_int64_t));
            break;
        case 'R':
            ap_rputs(va_arg(ap, const char *), r);
            break;
        default:
            ap_rputc(f[1], r);
            break;
        }
        f += 2;
        lit = f;
    }
    if (f > lit) {
        ap_rwrite(lit, (int)(f - lit), r);
    }
    va_end(ap);
}

void mig_page_begin(mig_req *q, const char *title)
{
    request_rec *r = q->r;
    common_headers(r);
    /* no inline script anywhere; forms post to ourselves only */
    apr_table_setn(r->err_headers_out, "Content-Security-Policy",
                   "default-src 'none'; style-src 'self'; img-src 'self' https: http: data:; "
                   "form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
    apr_table_setn(r->err_headers_out, "X-Frame-Options", "DENY");
    ap_set_content_type(r, "text/html; charset=utf-8");
    if (r->header_only) {
        return;
    }
    mig_html(q,
             "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
             "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
             "<title>%s &middot; mod_igraph</title>"
             "<link rel=\"stylesheet\" href=\"%s\"></head>\n<body>"
             "<header class=\"top\"><a class=\"brand\" href=\"%s\">"
             "<span class=\"logo\" aria-hidden=\"true\"></span>Instagram accounts</a>",
             title, mig_url(q, "/assets/igraph.css"), mig_url(q, "/accounts"));
    if (q->user && *q->user) {
        mig_html(q, "<span class=\"who\">Signed in as <b>%s</b></span>", q->user);
    }
    mig_html(q, "</header>\n");
    if (q->c->sandbox) {
        mig_html(q, "<div class=\"sandbox\" id=\"sandbox-banner\"><b>Sandbox</b> &mdash; this "
                    "server talks to a local Meta simulator, not to Facebook or Instagram. "
                    "Nothing you do here reaches a real account.</div>\n");
    }
    mig_html(q, "<main>\n");
}

void mig_page_end(mig_req *q)
{
    if (q->r->header_only) {
        return;
    }
    mig_html(q, "</main>\n<footer>mod_igraph &middot; Instagram publishing for Apache httpd"
                "</footer>\n</body></html>\n");
}

/* ---- input ------------------------------------------------------------------------------- */

int mig_read_body(mig_req *q, apr_size_t max, char **body, apr_size_t *len)
{
    request_rec *r = q->r;
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    apr_size_t n = 0, size = 8192;
    char *buf;
    long got = 0;
    int rc;

    *body = "";
    *len = 0;
    if (cl) {
        apr_int64_t v;
        if (igraph_parse_int64(cl, &v) != APR_SUCCESS || v < 0) {
            return HTTP_BAD_REQUEST;
        }
        if ((apr_uint64_t)v > max) {
            return HTTP_REQUEST_ENTITY_TOO_LARGE;
        }
        size = (apr_size_t)v; /* what the client announced; a chunked body grows as it comes */
    }
    if ((rc = ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK)) != OK) {
        return rc;
    }
    if (size > max) {
        size = max;
    }
    buf = apr_palloc(r->pool, size + 1);
    if (ap_should_client_block(r)) {
        for (;;) {
            if (n == size) {
                char *bigger;
                if (cl) {
                    break; /* all it announced (httpd reads no further than Content-Length) */
                }
                if (size == max) {
                    /* one byte more than allowed: drain nothing more, the connection closes */
                    got = ap_get_client_block(r, buf + n, 1);
                    if (got > 0) {
                        r->connection->keepalive = AP_CONN_CLOSE;
                        return HTTP_REQUEST_ENTITY_TOO_LARGE;
                    }
                    break;
                }
                size = (size * 2 < max && size * 2 > size) ? size * 2 : max;
                bigger = apr_palloc(r->pool, size + 1);
                memcpy(bigger, buf, n);
                buf = bigger;
            }
            if ((got = ap_get_client_block(r, buf + n, size - n)) <= 0) {
                break;
            }
            n += (apr_size_t)got;
        }
        if (got < 0) {
            return HTTP_BAD_REQUEST;
        }
    }
    buf[n] = '\0';
    *body = buf;
    *len = n;
    return OK;
}

int mig_content_type_is(mig_req *q, const char *type)
{
    const char *ct = apr_table_get(q->r->headers_in, "Content-Type");
    apr_size_t n = strlen(type);
    if (!ct) {
        return 0;
    }
    while (*ct == ' ' || *ct == '\t') {
        ct++;
    }
    return !strncasecmp(ct, type, n) && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' ||
                                          ct[n] == '\t');
}

int mig_read_form(mig_req *q, apr_table_t **form)
{
    char *body;
    apr_size_t len;
    int rc;

    *form = NULL;
    if (!mig_content_type_is(q, "application/x-www-form-urlencoded")) {
        return HTTP_UNSUPPORTED_MEDIA_TYPE;
    }
    if ((rc = mig_read_body(q, MIG_MAX_BODY, &body, &len)) != OK) {
        return rc;
    }
    if (strlen(body) != len || !(*form = igraph_form_parse(q->r->pool, body))) {
        return HTTP_BAD_REQUEST;
    }
    return OK;
}

/* ---- session ----------------------------------------------------------------------------- */

static session_rec *session(mig_req *q)
{
    session_rec *z = NULL;
    if (!sess_load || !sess_get || !sess_set) {
        return NULL;
    }
    /* Session Off gives APR_SUCCESS with no session */
    if (sess_load(q->r, &z) != APR_SUCCESS) {
        return NULL;
    }
    return z;
}

int mig_session_available(mig_req *q)
{
    return session(q) != NULL;
}

const char *mig_session_get(mig_req *q, const char *key)
{
    session_rec *z = session(q);
    const char *v = NULL;
    if (z && sess_get(q->r, z, key, &v) == APR_SUCCESS && v && *v) {
        return v;
    }
    return NULL;
}

void mig_session_set(mig_req *q, const char *key, const char *value)
{
    session_rec *z = session(q);
    if (z) {
        sess_set(q->r, z, key, value);
    }
}

#define SESS_CSRF "igraph-csrf"

/* HMAC(session secret, owner): the same browser session signed in as another Apache user gets
 * another token, so a token lifted from someone else's session is worth nothing. */
static const char *csrf_for(mig_req *q, const char *secret)
{
    unsigned char mac[32];
    const char *msg = apr_pstrcat(q->r->pool, "csrf\n", q->owner, NULL);
    igraph_hmac_sha256(secret, strlen(secret), msg, strlen(msg), mac);
    return igraph_b64url_encode(q->r->pool, mac, sizeof(mac));
}

const char *mig_csrf_token(mig_req *q)
{
    const char *secret = mig_session_get(q, SESS_CSRF);
    if (!secret || strlen(secret) != 43) {
        secret = igraph_random_token(q->r->pool, 32);
        mig_session_set(q, SESS_CSRF, secret);
    }
    return csrf_for(q, secret);
}

int mig_csrf_ok(mig_req *q, apr_table_t *form)
{
    const char *secret = mig_session_get(q, SESS_CSRF);
    const char *got = form ? apr_table_get(form, "csrf") : NULL;
    const char *want;
    if (!secret || strlen(secret) != 43 || !got || igraph_table_count(form, "csrf") != 1) {
        return 0;
    }
    want = csrf_for(q, secret);
    return igraph_ct_equal(want, strlen(want), got, strlen(got));
}

/* Sec-Fetch-Site, when the browser sends it, is the answer (scripts cannot set it). Older
 * browsers send only Origin, which must then be ours ("null" is not). A request with neither is
 * not from a browser's cross-site form or script: the 415 rule and CSRF tokens cover those. */
int mig_cross_site(mig_req *q)
{
    request_rec *r = q->r;
    const char *site = apr_table_get(r->headers_in, "Sec-Fetch-Site");
    const char *origin = apr_table_get(r->headers_in, "Origin");
    const char *host = apr_table_get(r->headers_in, "Host");

    if (site) {
        return strcasecmp(site, "same-origin") != 0 && strcasecmp(site, "none") != 0;
    }
    if (origin) {
        return !host ||
               strcasecmp(origin, apr_pstrcat(r->pool, ap_http_scheme(r), "://", host, NULL));
    }
    return 0;
}

/* ---- accounts ---------------------------------------------------------------------------- */

int mig_account_can_publish(const igraph_account_t *a)
{
    const char *need = a->login == IGRAPH_LOGIN_INSTAGRAM ? "instagram_business_content_publish"
                                                          : "instagram_content_publish";
    return a->status == IGRAPH_ACCOUNT_ACTIVE && a->scopes &&
           igraph_scopes_contains(a->scopes, need);
}

igraph_json_t *mig_account_json(mig_req *q, const igraph_account_t *a)
{
    apr_pool_t *p = q->r->pool;
    igraph_json_t *j = igraph_json_new_object(p);
    igraph_json_t *scopes = igraph_json_new_array(p);
    apr_array_header_t *list = igraph_split_csv(p, a->scopes ? a->scopes : "");
    int i;

    for (i = 0; i < list->nelts; i++) {
        igraph_json_appends(scopes, APR_ARRAY_IDX(list, i, const char *));
    }
    igraph_json_setl(j, "id", a->id);
    igraph_json_sets(j, "platform", a->platform);
    igraph_json_sets(j, "login", igraph_login_name(a->login));
    igraph_json_sets(j, "ig_user_id", a->ig_user_id);
    igraph_json_sets(j, "username", a->username);
    igraph_json_sets(j, "name", a->name);
    /* rows stored before URLs were checked may hold anything */
    igraph_json_sets(j, "profile_picture_url", igraph_http_url_or_null(a->picture_url));
    igraph_json_sets(j, "page_id", a->page_id);
    igraph_json_sets(j, "page_name", a->page_name);
    igraph_json_sets(j, "status", igraph_account_status_name(a->status));
    igraph_json_sets(j, "token_expires_at",
                     a->token_expires_at > 0 ? igraph_iso8601(p, a->token_expires_at) : NULL);
    igraph_json_setj(j, "scopes", scopes);
    igraph_json_setb(j, "can_publish", mig_account_can_publish(a));
    igraph_json_sets(j, "last_error", a->last_error);
    igraph_json_sets(j, "created_at", igraph_iso8601(p, a->created_at));
    igraph_json_sets(j, "updated_at", igraph_iso8601(p, a->updated_at));
    return j;
}
