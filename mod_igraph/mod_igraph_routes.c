/* mod_igraph_routes.c: the "igraph" handler: the route table and the one dispatch loop.
 *
 * Every route is one row below: path pattern (relative to the mount point), methods, handler,
 * what it needs, and an argument for the handler. mig_handler() finds the row (find_route),
 * answers 404 or 405 (with an Allow header built from the rows of that path) itself, applies the
 * row's needs in one order (apply_needs: user, same site, body type, key, Meta app, session,
 * form and CSRF, storage), each refusal in the client's format, and only then calls the
 * handler, which does its own work and nothing else.
 */
#include <string.h>

#include <apr_strings.h>
#include <apr_lib.h>
#include <http_protocol.h>
#include <http_request.h>

#include "mod_igraph_routes.h"
#include "mod_igraph_mount.h"
#include "mod_igraph_storage.h"
#include "mod_igraph_accounts.h"
#include "mod_igraph_oauth.h"
#include "mod_igraph_publish.h"
#include "mod_igraph_meta.h"
#include "igraph_util.h"

#define GET (AP_METHOD_BIT << M_GET)
#define POST (AP_METHOD_BIT << M_POST)
#define DELETE (AP_METHOD_BIT << M_DELETE)

/* Needs shared by many rows. */
#define PAGE (MIG_R_USER | MIG_R_KEY)                                    /* a browser page */
#define FORM (PAGE | MIG_R_SAME_SITE | MIG_R_SESSION | MIG_R_FORM)       /* a page's form */
#define API (MIG_R_JSON | MIG_R_USER | MIG_R_KEY)                        /* a JSON read */
#define API_CHANGE (API | MIG_R_SAME_SITE | MIG_R_NO_SIMPLE_BODY)        /* a JSON change */
#define CALLBACK (MIG_R_JSON | MIG_R_SIGNED)                             /* Meta calls it */

static const mig_route routes[] = {
    /* pattern                        methods  handler                  needs */
    {"/", GET, mig_accounts_page, PAGE | MIG_R_DB, NULL},
    {"/accounts", GET, mig_accounts_page, PAGE | MIG_R_DB, NULL},
    {"/accounts/{id}/disable", POST, mig_accounts_form, FORM | MIG_R_DB, "disable"},
    {"/accounts/{id}/enable", POST, mig_accounts_form, FORM | MIG_R_DB, "enable"},
    {"/accounts/{id}/remove", POST, mig_accounts_form, FORM | MIG_R_DB, "remove"},
    {"/assets/{name}", GET, mig_serve_asset, 0, NULL},

    {"/oauth/start", GET, mig_oauth_start, PAGE | MIG_R_META | MIG_R_SESSION | MIG_R_DB, NULL},
    {"/oauth/callback", GET, mig_oauth_callback, PAGE | MIG_R_DB, NULL},
    {"/oauth/pages", GET, mig_oauth_pages, PAGE | MIG_R_SESSION | MIG_R_DB, NULL},
    {"/oauth/pages", POST, mig_oauth_pages_choose, FORM | MIG_R_META | MIG_R_DB, NULL},

    {"/api/accounts", GET, mig_api_accounts, API | MIG_R_DB, NULL},
    {"/api/accounts/{id}", GET, mig_api_account, API | MIG_R_DB, NULL},
    {"/api/accounts/{id}", DELETE, mig_api_account_change, API_CHANGE | MIG_R_DB, "delete"},
    {"/api/accounts/{id}/disable", POST, mig_api_account_change, API_CHANGE | MIG_R_DB,
     "disable"},
    {"/api/accounts/{id}/enable", POST, mig_api_account_change, API_CHANGE | MIG_R_DB,
     "enable"},
    {"/api/accounts/{id}/refresh", POST, mig_api_account_refresh,
     API_CHANGE | MIG_R_META | MIG_R_DB, NULL},
    {"/api/events", GET, mig_api_events, API | MIG_R_DB, NULL},

    /* the seed contract answers meta_ig_not_connected itself when no app is configured */
    {"/reels/publish", POST, mig_publish_post, MIG_R_JSON | MIG_R_USER | MIG_R_SAME_SITE |
                                                   MIG_R_JSON_BODY | MIG_R_STORAGE, "reels"},
    {"/publish", POST, mig_publish_post,
     API | MIG_R_SAME_SITE | MIG_R_JSON_BODY | MIG_R_STORAGE, NULL},
    {"/publish", GET, mig_publish_list, API | MIG_R_DB, NULL},
    {"/publish/{job}", GET, mig_publish_get, API | MIG_R_DB, NULL},
    {"/publish/{job}", DELETE, mig_publish_cancel, API_CHANGE | MIG_R_DB, NULL},

    {"/meta/deauthorize", POST, mig_meta_deauthorize, CALLBACK | MIG_R_STORAGE, NULL},
    {"/meta/data-deletion", POST, mig_meta_data_deletion, CALLBACK | MIG_R_STORAGE, NULL},
    {"/meta/deletion", GET, mig_meta_deletion_status, MIG_R_SIGNED | MIG_R_DB, NULL},
    {"/meta/webhook", GET, mig_meta_webhook_verify, CALLBACK, NULL},
    /* the key: event payloads are sealed like tokens */
    {"/meta/webhook", POST, mig_meta_webhook_events, CALLBACK | MIG_R_KEY | MIG_R_STORAGE, NULL},
};

#define NROUTES (sizeof(routes) / sizeof(routes[0]))

/* ---- matching ------------------------------------------------------------------------------ */

/* One path segment against one pattern segment; fills q->id / q->name for placeholders. */
static int segment_matches(mig_req *q, const char *pat, apr_size_t plen, const char *seg,
                           apr_size_t slen)
{
    apr_size_t i;

    if (plen == 4 && !strncmp(pat, "{id}", 4)) {
        char buf[20];
        apr_int64_t id;
        if (slen == 0 || slen > 18) {
            return 0;
        }
        memcpy(buf, seg, slen);
        buf[slen] = '\0';
        if (!igraph_is_numeric_id(buf) || igraph_parse_int64(buf, &id) != APR_SUCCESS ||
            id <= 0) {
            return 0;
        }
        q->id = id;
        return 1;
    }
    if ((plen == 5 && !strncmp(pat, "{job}", 5)) || (plen == 6 && !strncmp(pat, "{name}", 6))) {
        int asset = (plen == 6);
        if (slen == 0 || slen > 64 || (asset && seg[0] == '.')) {
            return 0;
        }
        for (i = 0; i < slen; i++) {
            if (!apr_isalnum(seg[i]) && seg[i] != '-' && seg[i] != '_' &&
                !(asset && seg[i] == '.')) {
                return 0;
            }
        }
        q->name = apr_pstrmemdup(q->r->pool, seg, slen);
        return 1;
    }
    return plen == slen && !memcmp(pat, seg, slen);
}

static int path_matches(mig_req *q, const char *pattern, const char *path)
{
    const char *p = pattern, *s = path;

    while (*p && *s) {
        apr_size_t plen, slen;
        if (*p != '/' || *s != '/') {
            return 0;
        }
        p++;
        s++;
        plen = strcspn(p, "/");
        slen = strcspn(s, "/");
        if (!segment_matches(q, p, plen, s, slen)) {
            return 0;
        }
        p += plen;
        s += slen;
    }
    return !*p && !*s;
}

/* The row for path and method; *allowed collects the methods of the rows whose path matches
 * (for 405). NULL when none takes this method. */
static const mig_route *find_route(mig_req *q, apr_int64_t *allowed)
{
    apr_int64_t bit = AP_METHOD_BIT << q->r->method_number;
    const mig_route *found = NULL;
    apr_size_t i;

    *allowed = 0;
    for (i = 0; i < NROUTES; i++) {
        if (path_matches(q, routes[i].pattern, q->path)) {
            *allowed |= routes[i].methods;
            if (!found && (routes[i].methods & bit)) {
                found = &routes[i];
            }
        }
    }
    if (found) {
        path_matches(q, found->pattern, q->path); /* its placeholders, not a later row's */
    }
    return found;
}

static const char *allow_header(apr_pool_t *p, apr_int64_t allowed)
{
    static const struct {
        int m;
        const char *name;
    } names[] = {{M_GET, "GET, HEAD"}, {M_POST, "POST"}, {M_DELETE, "DELETE"}};
    const char *out = NULL;
    apr_size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (allowed & (AP_METHOD_BIT << names[i].m)) {
            out = out ? apr_pstrcat(p, out, ", ", names[i].name, NULL) : names[i].name;
        }
    }
    return out ? out : "";
}

/* A client that reads JSON: it says so, or (for paths no row has) it asked below an API path. */
static int client_wants_json(mig_req *q)
{
    const char *accept = apr_table_get(q->r->headers_in, "Accept");
    return accept && ap_strcasestr(accept, "application/json") &&
           !ap_strcasestr(accept, "text/html");
}

static int path_wants_json(mig_req *q)
{
    const char *p = q->path;
    return !strncmp(p, "/api/", 5) || !strcmp(p, "/api") || !strncmp(p, "/reels/", 7) ||
           !strcmp(p, "/publish") || !strncmp(p, "/publish/", 9) ||
           (!strncmp(p, "/meta/", 6) && strcmp(p, "/meta/deletion") != 0) ||
           client_wants_json(q);
}

/* ---- the needs ----------------------------------------------------------------------------- */

/* CORS-safelisted body types: a cross-site <form> (or a no-cors fetch) can send them without a
 * preflight, and old browsers without an Origin header. A JSON state change never takes them. */
static int simple_body_type(mig_req *q)
{
    return mig_content_type_is(q, "text/plain") ||
           mig_content_type_is(q, "application/x-www-form-urlencoded") ||
           mig_content_type_is(q, "multipart/form-data");
}

static int form_refused(mig_req *q, int status)
{
    switch (status) {
    case HTTP_UNSUPPORTED_MEDIA_TYPE:
        return mig_fail(q, status, "unsupported_media_type", "Invalid form",
                        "The form must be sent as application/x-www-form-urlencoded.");
    case HTTP_REQUEST_ENTITY_TOO_LARGE:
        return mig_fail(q, status, "body_too_large", "Form too large",
                        "The form is larger than this page accepts.");
    default:
        return mig_fail(q, HTTP_BAD_REQUEST, "bad_request", "Invalid form",
                        "The form could not be read. Please try again.");
    }
}

/* Applies the row's needs in order; MIG_GO_ON when the handler may run, else the answer given. */
static int apply_needs(mig_req *q)
{
    request_rec *r = q->r;
    unsigned needs = q->route->needs;
    int rc;

    if ((needs & MIG_R_USER) && !igraph_user_valid(q->user)) {
        return mig_fail(q, HTTP_FORBIDDEN, "invalid_user", "Request refused",
                        "This user name has control characters and cannot own accounts.");
    }
    if ((needs & MIG_R_USER) && mig_require_user(r) && !*q->user) {
        return mig_fail(q, HTTP_UNAUTHORIZED, "authentication_required", "Sign-in required",
                        "This page needs an authenticated user: configure an Apache "
                        "authentication module for this location, or set IGraphRequireUser "
                        "Off");
    }
    if ((needs & (MIG_R_SAME_SITE | MIG_R_FORM)) && mig_cross_site(q)) {
        return mig_fail(q, HTTP_FORBIDDEN, "cross_site_refused", "Request refused",
                        "State-changing requests from other sites are refused.");
    }
    if ((needs & MIG_R_NO_SIMPLE_BODY) && simple_body_type(q)) {
        return mig_fail(q, HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", NULL,
                        "send no body, or Content-Type: application/json");
    }
    if ((needs & MIG_R_JSON_BODY) && !mig_content_type_is(q, "application/json")) {
        return mig_fail(q, HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", NULL,
                        "send the request as Content-Type: application/json");
    }
    if ((needs & MIG_R_FORM) && !mig_content_type_is(q, "application/x-www-form-urlencoded")) {
        return form_refused(q, HTTP_UNSUPPORTED_MEDIA_TYPE);
    }
    if ((needs & MIG_R_KEY) && !q->c->key) {
        return mig_fail(q, HTTP_SERVICE_UNAVAILABLE, "storage_unavailable", "Storage unavailable",
                        "The token encryption key could not be loaded; check IGraphTokenKeyFile "
                        "and the error log");
    }
    if ((needs & MIG_R_META) && !mig_meta_configured(q->c)) {
        return mig_fail(q, HTTP_SERVICE_UNAVAILABLE, "meta_not_configured", "Not configured",
                        "No Meta app is configured on this server: set IGraphAppID, "
                        "IGraphAppSecret and IGraphRedirectURL (or IGraphInstagramAppID and "
                        "IGraphInstagramAppSecret)");
    }
    if ((needs & (MIG_R_SESSION | MIG_R_FORM)) && !mig_session_available(q)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "IG0020: mod_session is not enabled for %s: add Session On, "
                      "SessionCookieName and SessionCryptoPassphrase to the <Location>",
                      *q->base ? q->base : "/");
        return mig_fail(q, HTTP_SERVICE_UNAVAILABLE, "session_unavailable",
                        "Sessions unavailable",
                        "This page needs mod_session with an encrypted cookie on this location "
                        "(Session On, SessionCookieName, SessionCryptoPassphrase)");
    }
    if (needs & MIG_R_FORM) {
        if ((rc = mig_read_form(q, &q->form)) != OK) {
            return form_refused(q, rc);
        }
        if (!mig_csrf_ok(q, q->form)) {
            return mig_fail(q, HTTP_FORBIDDEN, "csrf_failed", "Form expired",
                            "This form is not valid for your session (CSRF check). Reload the "
                            "page and try again.");
        }
    }
    if ((needs & MIG_R_STORAGE) && !mig_storage_configured(r->server)) {
        return mig_fail_storage(q);
    }
    if ((needs & MIG_R_DB) && !(q->db = mig_storage_request(r))) {
        return mig_fail_storage(q);
    }
    return MIG_GO_ON;
}

/* ---- the handler ----------------------------------------------------------------------------- */

int mig_handler(request_rec *r)
{
    mig_req q;
    apr_int64_t allowed;
    const char *path;
    apr_size_t n;
    int rc;

    if (!r->handler || strcmp(r->handler, "igraph") != 0) {
        return DECLINED;
    }
    memset(&q, 0, sizeof(q));
    q.r = r;
    q.c = mig_srv(r->server);
    q.user = (r->user && *r->user) ? r->user : "";
    q.owner = igraph_owner_key(r->pool, q.c->realm_key, q.user);
    q.args = apr_table_make(r->pool, 1);
    if (!(q.base = mig_mount_of(r))) {
        /* SetHandler igraph somewhere start-up did not see (.htaccess, AddHandler ...) */
        q.base = "";
        q.path = r->uri;
        q.json = path_wants_json(&q);
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "IG0017: %s reached the igraph handler outside a known mount point: "
                      "mount mod_igraph with <Location /path> SetHandler igraph </Location> in "
                      "the server configuration",
                      r->uri);
        return mig_fail(&q, HTTP_INTERNAL_SERVER_ERROR, "not_mounted", "Not mounted",
                        "mod_igraph is not mounted here; see the error log.");
    }
    path = r->uri + strlen(q.base);
    n = strlen(path);
    if (n == 0) {
        path = "/";
    }
    else if (n > 1 && path[n - 1] == '/') {
        path = apr_pstrndup(r->pool, path, n - 1);
    }
    q.path = path;
    q.json = path_wants_json(&q);
    if (!(q.args = igraph_form_parse(r->pool, r->args ? r->args : ""))) {
        q.args = apr_table_make(r->pool, 1);
        return mig_fail(&q, HTTP_BAD_REQUEST, "bad_request", "Bad request",
                        "The query string is malformed");
    }

    if (!(q.route = find_route(&q, &allowed))) {
        if (allowed) {
            apr_table_setn(r->err_headers_out, "Allow", allow_header(r->pool, allowed));
            return mig_fail(&q, HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                            "Method not allowed",
                            apr_psprintf(r->pool, "%s is not supported here; use %s",
                                         r->method, allow_header(r->pool, allowed)));
        }
        return mig_fail(&q, HTTP_NOT_FOUND, "not_found", "Not found",
                        "No such page or resource");
    }
    q.json = (q.route->needs & MIG_R_JSON) || client_wants_json(&q);
    if (q.route->needs & MIG_R_SIGNED) {
        q.user = q.owner = ""; /* Meta carries no user of ours */
    }
    if ((rc = apply_needs(&q)) != MIG_GO_ON) {
        return rc;
    }
    return q.route->handler(&q);
}
