/* mod_igraph_routes.c: the "igraph" handler: finds the route below the mount point, applies
 * the checks every route shares (user, configuration, storage), and dispatches. */
#include <string.h>

#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_file_io.h>
#include <http_protocol.h>
#include <http_request.h>

#include "mod_igraph_routes.h"
#include "mod_igraph_accounts.h"
#include "mod_igraph_oauth.h"
#include "mod_igraph_publish.h"
#include "mod_igraph_meta.h"
#include "igraph_util.h"

int mig_is_api(mig_req *q)
{
    const char *accept;
    if (!strncmp(q->route, "/api/", 5) || !strcmp(q->route, "/api") ||
        !strncmp(q->route, "/reels/", 7) || !strncmp(q->route, "/publish", 8)) {
        return 1;
    }
    accept = apr_table_get(q->r->headers_in, "Accept");
    return accept && strstr(accept, "application/json") && !strstr(accept, "text/html");
}

int mig_fail(mig_req *q, int status, const char *code, const char *title, const char *message)
{
    if (mig_is_api(q)) {
        return mig_json_error(q, status, code, message);
    }
    return mig_html_error(q, status, title,
                          apr_psprintf(q->r->pool, "%s (%s)", message, code));
}

static int method_not_allowed(mig_req *q, const char *allow)
{
    apr_table_setn(q->r->err_headers_out, "Allow", allow);
    return mig_fail(q, HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", "Method not allowed",
                    apr_psprintf(q->r->pool, "%s is not supported here; use %s", q->r->method,
                                 allow));
}

static int not_found(mig_req *q)
{
    return mig_fail(q, HTTP_NOT_FOUND, "not_found", "Not found", "No such page or resource");
}

/* "/12/disable" -> id 12 and verb "disable"; "/12" -> verb "". Ids are positive decimals. */
static int parse_id_route(const char *s, apr_int64_t *id, const char **verb)
{
    const char *slash;
    char buf[24];
    apr_size_t n;
    if (*s++ != '/') {
        return 0;
    }
    slash = strchr(s, '/');
    n = slash ? (apr_size_t)(slash - s) : strlen(s);
    if (n == 0 || n > 18) {
        return 0;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (!igraph_is_numeric_id(buf) || igraph_parse_int64(buf, id) != APR_SUCCESS || *id <= 0) {
        return 0;
    }
    *verb = slash ? slash + 1 : "";
    return strchr(*verb, '/') == NULL;
}

static int serve_asset(mig_req *q, const char *name)
{
    request_rec *r = q->r;
    const mig_asset *as = q->c->assets ? apr_hash_get(q->c->assets, name, APR_HASH_KEY_STRING)
                                       : NULL;
    if (!as) {
        return not_found(q);
    }
    ap_set_content_type(r, as->type);
    apr_table_setn(r->headers_out, "Cache-Control", "public, max-age=3600");
    apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
    ap_set_content_length(r, as->len);
    if (!r->header_only) {
        ap_rwrite(as->data, (int)as->len, r);
    }
    return OK;
}

static int dispatch(mig_req *q)
{
    request_rec *r = q->r;
    const char *route = q->route, *verb;
    int get = (r->method_number == M_GET);
    apr_int64_t id;

    if (!*route || !strcmp(route, "/") || !strcmp(route, "/accounts")) {
        return get ? mig_accounts_page(q) : method_not_allowed(q, "GET");
    }
    if (!strncmp(route, "/accounts/", 9) && parse_id_route(route + 9, &id, &verb)) {
        return r->method_number == M_POST ? mig_accounts_form(q, id, verb)
                                           : method_not_allowed(q, "POST");
    }
    if (!strcmp(route, "/oauth/start")) {
        return get ? mig_oauth_start(q) : method_not_allowed(q, "GET");
    }
    if (!strcmp(route, "/oauth/callback")) {
        return get ? mig_oauth_callback(q) : method_not_allowed(q, "GET");
    }
    if (!strcmp(route, "/oauth/pages")) {
        return (get || r->method_number == M_POST) ? mig_oauth_pages(q)
                                                   : method_not_allowed(q, "GET, POST");
    }
    if (!strcmp(route, "/api/events")) {
        return mig_api_events(q);
    }
    if (!strcmp(route, "/api/accounts")) {
        return get ? mig_api_accounts(q) : method_not_allowed(q, "GET");
    }
    if (!strncmp(route, "/api/accounts/", 13) && parse_id_route(route + 13, &id, &verb)) {
        return mig_api_account(q, id, verb);
    }
    if (!strcmp(route, "/reels/publish") || !strcmp(route, "/publish") ||
        !strncmp(route, "/publish/", 9)) {
        return mig_publish_route(q);
    }
    return not_found(q);
}

int mig_handler(request_rec *r)
{
    mig_req q;
    mig_dir_cfg *d;
    apr_size_t n;

    if (!r->handler || strcmp(r->handler, "igraph") != 0) {
        return DECLINED;
    }
    memset(&q, 0, sizeof(q));
    q.r = r;
    q.c = mig_srv(r->server);
    d = ap_get_module_config(r->per_dir_config, &igraph_module);
    q.base = (d && d->base) ? d->base : "";
    n = strlen(q.base);
    if (strncmp(r->uri, q.base, n) != 0 || (r->uri[n] != '\0' && r->uri[n] != '/')) {
        q.route = "/";
        return not_found(&q);
    }
    q.route = r->uri + n;
    q.args = igraph_form_parse(r->pool, r->args ? r->args : "");
    if (!q.args) {
        q.args = apr_table_make(r->pool, 1);
        return mig_fail(&q, HTTP_BAD_REQUEST, "bad_request", "Bad request",
                        "The query string is malformed");
    }

    if (r->method_number == M_GET && !strncmp(q.route, "/assets/", 8)) {
        return serve_asset(&q, q.route + 8);
    }

    /* Meta calls these without any user of ours; they accept nothing unsigned */
    if (!strncmp(q.route, "/meta/", 6)) {
        q.owner = "";
        return mig_meta_route(&q);
    }
    if (mig_require_user(r) && !r->user) {
        return mig_fail(&q, HTTP_UNAUTHORIZED, "authentication_required",
                        "Sign-in required",
                        "This page needs an authenticated user: configure an Apache "
                        "authentication module for this location, or set IGraphRequireUser Off");
    }
    q.owner = r->user ? r->user : "";
    if (!q.c->key && strcmp(q.route, "/reels/publish") != 0) {
        return mig_fail(&q, HTTP_SERVICE_UNAVAILABLE, "storage_unavailable", "Storage unavailable",
                        "The token encryption key could not be loaded; check "
                        "IGraphTokenKeyFile and the error log");
    }
    return dispatch(&q);
}
