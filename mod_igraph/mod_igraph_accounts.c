/* mod_igraph_accounts.c: the accounts page and the accounts API.
 *
 *   GET    /accounts (and /)                 HTML list with connect / reconnect / disable /
 *                                            enable / remove
 *   POST   /accounts/{id}/{disable|enable|remove}   the page's forms (CSRF token)
 *   GET    /api/accounts                     {"ok":true,"accounts":[...]}
 *   GET    /api/accounts/{id}                {"ok":true,"account":{...}}
 *   POST   /api/accounts/{id}/disable|enable {"ok":true,"account":{...}}
 *   DELETE /api/accounts/{id}                {"ok":true,"deleted":id}
 *
 * Accounts belong to the user who connected them; another owner's id answers 404 exactly like
 * an id that does not exist.
 */
#include <string.h>
#include <unistd.h>

#include <apr_strings.h>
#include <http_protocol.h>

#include "mod_igraph_routes.h"
#include "mod_igraph_accounts.h"
#include "mod_igraph_worker.h"
#include "igraph_util.h"

static const char *status_label(igraph_account_status_e status)
{
    switch (status) {
    case IGRAPH_ACCOUNT_ACTIVE:
        return "Active";
    case IGRAPH_ACCOUNT_NEEDS_REAUTH:
        return "Needs reconnect";
    case IGRAPH_ACCOUNT_DISABLED:
        return "Disabled";
    }
    return igraph_account_status_name(status);
}

static const char *date_only(apr_pool_t *p, apr_int64_t t)
{
    return apr_pstrndup(p, igraph_iso8601(p, t), 10);
}

/* Changes an account; shared by the form and the API. Returns an HTTP status (OK = done) and
 * sets code and msg for failures. */
static int change_account(mig_req *q, apr_int64_t id, const char *verb, igraph_account_t **out,
                          const char **code, const char **msg)
{
    apr_pool_t *p = q->r->pool;
    igraph_db_t *db = mig_db(q);
    igraph_account_t *a;
    apr_status_t rv;

    *code = "storage_unavailable";
    *msg = "the account database is not available";
    if (!db) {
        return HTTP_SERVICE_UNAVAILABLE;
    }
    rv = igraph_store_account_get(db, p, q->owner, id, &a);
    if (rv == APR_NOTFOUND) {
        *code = "not_found";
        *msg = "no such account";
        return HTTP_NOT_FOUND;
    }
    if (rv != APR_SUCCESS) {
        return HTTP_SERVICE_UNAVAILABLE;
    }
    if (!strcmp(verb, "remove") || !strcmp(verb, "delete")) {
        rv = igraph_store_account_delete(db, p, q->owner, id);
    }
    else if (!strcmp(verb, "disable")) {
        rv = igraph_store_account_set_status(db, p, q->owner, id, IGRAPH_ACCOUNT_DISABLED, NULL);
    }
    else if (!strcmp(verb, "enable")) {
        if (a->status == IGRAPH_ACCOUNT_NEEDS_REAUTH) {
            *code = "needs_reauth";
            *msg = "this account must be reconnected before it can be enabled";
            return HTTP_CONFLICT;
        }
        rv = igraph_store_account_set_status(db, p, q->owner, id, IGRAPH_ACCOUNT_ACTIVE, NULL);
    }
    else {
        *code = "not_found";
        *msg = "unknown account action";
        return HTTP_NOT_FOUND;
    }
    if (rv == APR_NOTFOUND) {
        *code = "not_found";
        *msg = "no such account";
        return HTTP_NOT_FOUND;
    }
    if (rv != APR_SUCCESS) {
        return HTTP_SERVICE_UNAVAILABLE;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r,
                  "IG0040: account %" APR_INT64_T_FMT " (@%s): %s by '%s'", id,
                  a->username ? a->username : "?", verb, q->owner);
    *out = NULL;
    if (strcmp(verb, "remove") != 0 && strcmp(verb, "delete") != 0) {
        if (igraph_store_account_get(db, p, q->owner, id, out) != APR_SUCCESS) {
            *out = NULL;
        }
    }
    return OK;
}

int mig_accounts_form(mig_req *q, apr_int64_t id, const char *verb)
{
    int status;
    apr_table_t *form = mig_read_form(q, &status);
    igraph_account_t *a;
    const char *code, *msg;

    if (!form) {
        return mig_html_error(q, status == OK ? HTTP_BAD_REQUEST : status, "Invalid form",
                              "The form could not be read. Please try again.");
    }
    if (!mig_csrf_ok(q, form)) {
        return mig_html_error(q, HTTP_FORBIDDEN, "Form expired",
                              "This form is not valid for your session (CSRF check). Reload "
                              "the page and try again.");
    }
    if (strcmp(verb, "disable") != 0 && strcmp(verb, "enable") != 0 &&
        strcmp(verb, "remove") != 0) {
        return mig_html_error(q, HTTP_NOT_FOUND, "Not found", "Unknown account action.");
    }
    status = change_account(q, id, verb, &a, &code, &msg);
    if (status != OK) {
        return mig_fail(q, status, code, "Could not change the account", msg);
    }
    return mig_redirect(q, HTTP_SEE_OTHER, mig_url(q, "/accounts"));
}

int mig_api_accounts(mig_req *q)
{
    apr_pool_t *p = q->r->pool;
    igraph_db_t *db = mig_db(q);
    apr_array_header_t *list;
    igraph_json_t *j, *arr;
    int i;

    if (!db || igraph_store_accounts_list(db, p, q->owner, &list) != APR_SUCCESS) {
        return mig_json_error(q, HTTP_SERVICE_UNAVAILABLE, "storage_unavailable",
                              "the account database is not available");
    }
    j = igraph_json_new_object(p);
    arr = igraph_json_new_array(p);
    for (i = 0; i < list->nelts; i++) {
        igraph_json_append(arr, mig_account_json(q, APR_ARRAY_IDX(list, i, igraph_account_t *)));
    }
    igraph_json_setb(j, "ok", 1);
    igraph_json_setj(j, "accounts", arr);
    return mig_json(q, HTTP_OK, j);
}

/* POST /api/accounts/{id}/refresh: refresh one account now, whatever the window says. */
static int api_refresh(mig_req *q, apr_int64_t id)
{
    request_rec *r = q->r;
    igraph_db_t *db = mig_db(q);
    igraph_account_t *a;
    igraph_refresh_result_e res;
    const char *holder, *detail = NULL;
    apr_status_t rv;
    igraph_json_t *j;
    int status = HTTP_OK;
    const char *code = NULL;

    if (!db) {
        return mig_json_error(q, HTTP_SERVICE_UNAVAILABLE, "storage_unavailable",
                              "the account database is not available");
    }
    rv = igraph_store_account_get(db, r->pool, q->owner, id, &a);
    if (rv == APR_NOTFOUND) {
        return mig_json_error(q, HTTP_NOT_FOUND, "not_found", "no such account");
    }
    if (rv != APR_SUCCESS) {
        return mig_json_error(q, HTTP_SERVICE_UNAVAILABLE, "storage_unavailable",
                              "the account database is not available");
    }
    if (a->status == IGRAPH_ACCOUNT_DISABLED) {
        return mig_json_error(q, HTTP_CONFLICT, "account_disabled",
                              "enable the account before refreshing it");
    }
    if (!mig_fb_configured(q->c) && !mig_ig_configured(q->c)) {
        return mig_json_error(q, HTTP_SERVICE_UNAVAILABLE, "meta_not_configured",
                              "no Meta app is configured on this server");
    }
    holder = apr_psprintf(r->pool, "request:%" APR_PID_T_FMT ":%ld", getpid(),
                          (long)r->connection->id);
    if (igraph_store_account_claim(db, r->pool, id, holder, igraph_now(),
                                   igraph_now() + 120) != APR_SUCCESS) {
        return mig_json_error(q, HTTP_CONFLICT, "refresh_in_progress",
                              "this account is being refreshed right now; try again shortly");
    }
    res = mig_refresh_one(r->server, db, r->pool, a, 1, NULL, &detail);
    igraph_store_account_unclaim(db, r->pool, id, holder);
    switch (res) {
    case IGRAPH_REFRESHED:
    case IGRAPH_REFRESH_STALE:
    case IGRAPH_REFRESH_NOT_DUE:
        break;
    case IGRAPH_REFRESH_REAUTH:
        status = HTTP_CONFLICT;
        code = "needs_reauth";
        break;
    case IGRAPH_REFRESH_RETRY:
        status = HTTP_BAD_GATEWAY;
        code = "graph_unavailable";
        break;
    default:
        status = HTTP_SERVICE_UNAVAILABLE;
        code = "storage_unavailable";
        break;
    }
    if (igraph_store_account_get(db, r->pool, q->owner, id, &a) != APR_SUCCESS) {
        a = NULL;
    }
    j = igraph_json_new_object(r->pool);
    igraph_json_setb(j, "ok", code == NULL);
    if (code) {
        igraph_json_sets(j, "error", code);
        igraph_json_sets(j, "message", detail ? detail : code);
    }
    igraph_json_sets(j, "result", igraph_refresh_result_name(res));
    if (detail && !code) {
        igraph_json_sets(j, "detail", detail);
    }
    if (a) {
        igraph_json_setj(j, "account", mig_account_json(q, a));
    }
    return mig_json(q, status, j);
}

int mig_api_account(mig_req *q, apr_int64_t id, const char *verb)
{
    request_rec *r = q->r;
    igraph_account_t *a = NULL;
    igraph_json_t *j;
    const char *code, *msg;
    int status;

    if (!*verb && r->method_number == M_GET) {
        igraph_db_t *db = mig_db(q);
        apr_status_t rv;
        if (!db) {
            return mig_json_error(q, HTTP_SERVICE_UNAVAILABLE, "storage_unavailable",
                                  "the account database is not available");
        }
        rv = igraph_store_account_get(db, r->pool, q->owner, id, &a);
        if (rv == APR_NOTFOUND) {
            return mig_json_error(q, HTTP_NOT_FOUND, "not_found", "no such account");
        }
        if (rv != APR_SUCCESS) {
            return mig_json_error(q, HTTP_SERVICE_UNAVAILABLE, "storage_unavailable",
                                  "the account database is not available");
        }
    }
    else {
        if (!*verb) {
            if (r->method_number != M_DELETE) {
                apr_table_setn(r->err_headers_out, "Allow", "GET, DELETE");
                return mig_json_error(q, HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                                      "use GET or DELETE on an account");
            }
            verb = "delete";
        }
        else if (strcmp(verb, "disable") != 0 && strcmp(verb, "enable") != 0 &&
                 strcmp(verb, "refresh") != 0) {
            return mig_json_error(q, HTTP_NOT_FOUND, "not_found", "unknown account action");
        }
        else if (r->method_number != M_POST) {
            apr_table_setn(r->err_headers_out, "Allow", "POST");
            return mig_json_error(q, HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                                  "use POST for account actions");
        }
        if (mig_cross_site(q)) {
            return mig_json_error(q, HTTP_FORBIDDEN, "cross_site_refused",
                                  "state-changing requests from other sites are refused");
        }
        if (!strcmp(verb, "refresh")) {
            return api_refresh(q, id);
        }
        status = change_account(q, id, verb, &a, &code, &msg);
        if (status != OK) {
            return mig_json_error(q, status, code, msg);
        }
    }
    j = igraph_json_new_object(r->pool);
    igraph_json_setb(j, "ok", 1);
    if (!strcmp(verb, "delete")) {
        igraph_json_setl(j, "deleted", id);
    }
    else if (a) {
        igraph_json_setj(j, "account", mig_account_json(q, a));
    }
    return mig_json(q, HTTP_OK, j);
}

/* ---- the page ----------------------------------------------------------------------------- */

static void action_form(mig_req *q, const igraph_account_t *a, const char *verb,
                        const char *label, const char *cls, const char *csrf)
{
    mig_html(q,
             "<form method=\"post\" action=\"%s\"><input type=\"hidden\" name=\"csrf\" "
             "value=\"%s\"><button type=\"submit\" class=\"button %s\" data-action=\"%s\">%s"
             "</button></form>",
             mig_url(q, apr_psprintf(q->r->pool, "/accounts/%" APR_INT64_T_FMT "/%s", a->id,
                                     verb)),
             csrf, cls, verb, label);
}

/* At most n bytes of s, cut on a UTF-8 character boundary. */
static const char *utf8_prefix(apr_pool_t *p, const char *s, apr_size_t n)
{
    apr_size_t len = strlen(s);
    if (len <= n) {
        return s;
    }
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) {
        n--;
    }
    return apr_pstrcat(p, apr_pstrndup(p, s, n), "\xe2\x80\xa6", NULL);
}

/* The account's last few posts, newest first. */
static void recent_jobs(mig_req *q, const igraph_account_t *a)
{
    apr_array_header_t *jobs;
    int i;

    if (!q->db || igraph_store_jobs_list(q->db, q->r->pool, q->owner, NULL, a->id, 5, &jobs) !=
                      APR_SUCCESS ||
        jobs->nelts == 0) {
        return;
    }
    mig_html(q, "<ul class=\"jobs\">");
    for (i = 0; i < jobs->nelts; i++) {
        const igraph_job_t *j = APR_ARRAY_IDX(jobs, i, const igraph_job_t *);
        const char *st = igraph_job_status_name(j->status);
        mig_html(q, "<li class=\"job\" data-job=\"%s\"><span class=\"badge job-%s\">%s</span> "
                    "<span class=\"kind\">%s</span> <span class=\"muted\">%s</span>",
                 j->id, st, st, igraph_media_name(j->media_type),
                 apr_pstrndup(q->r->pool, igraph_iso8601(q->r->pool, j->created_at), 16));
        if (j->permalink && igraph_is_http_url(j->permalink)) {
            mig_html(q, " <a href=\"%s\" rel=\"noopener noreferrer\">view post</a>",
                     j->permalink);
        }
        if (j->error) {
            mig_html(q, " <span class=\"last-error\">%s</span>", j->error);
        }
        if (j->caption && *j->caption) {
            mig_html(q, "<div class=\"caption\">%s</div>",
                     utf8_prefix(q->r->pool, j->caption, 120));
        }
        mig_html(q, "</li>");
    }
    mig_html(q, "</ul>");
}

static void account_card(mig_req *q, const igraph_account_t *a, const char *csrf)
{
    apr_pool_t *p = q->r->pool;
    const char *kind = a->login == IGRAPH_LOGIN_INSTAGRAM ? "Instagram Login" : "Facebook Login";
    const char *uname = a->username ? a->username : a->ig_user_id;

    mig_html(q, "<li class=\"account status-%s\" data-username=\"%s\">",
             igraph_account_status_name(a->status), uname);
    if (a->picture_url && igraph_is_http_url(a->picture_url)) {
        mig_html(q, "<img class=\"avatar\" src=\"%s\" alt=\"\" referrerpolicy=\"no-referrer\">",
                 a->picture_url);
    }
    else {
        mig_html(q, "<span class=\"avatar placeholder\" aria-hidden=\"true\">%s</span>",
                 apr_pstrndup(p, uname, 1));
    }
    mig_html(q, "<div class=\"who\"><span class=\"username\">@%s</span>", uname);
    if (a->name && *a->name) {
        mig_html(q, " <span class=\"name\">%s</span>", a->name);
    }
    mig_html(q, "<div class=\"meta\"><span class=\"login\">%s</span>", kind);
    if (a->page_name && *a->page_name) {
        mig_html(q, " &middot; Page &ldquo;%s&rdquo;", a->page_name);
    }
    if (a->token_expires_at > 0) {
        mig_html(q, " &middot; token valid until %s", date_only(p, a->token_expires_at));
    }
    else {
        mig_html(q, " &middot; token does not expire");
    }
    mig_html(q, "</div>");
    if (a->last_error && *a->last_error && a->status != IGRAPH_ACCOUNT_ACTIVE) {
        mig_html(q, "<div class=\"last-error\">%s</div>", a->last_error);
    }
    mig_html(q, "</div><span class=\"badge %s\">%s</span><div class=\"actions\">",
             igraph_account_status_name(a->status), status_label(a->status));
    if (a->status != IGRAPH_ACCOUNT_ACTIVE) {
        mig_html(q, "<a class=\"button primary\" href=\"%s\">Reconnect</a>",
                 mig_url(q, apr_psprintf(p, "/oauth/start?login=%s%s", igraph_login_name(a->login),
                                         a->login == IGRAPH_LOGIN_FACEBOOK ? "&reconnect=1" : "")));
    }
    if (a->status == IGRAPH_ACCOUNT_DISABLED) {
        action_form(q, a, "enable", "Enable", "", csrf);
    }
    else {
        action_form(q, a, "disable", "Disable", "", csrf);
    }
    action_form(q, a, "remove", "Remove", "danger", csrf);
    mig_html(q, "</div>");
    recent_jobs(q, a);
    mig_html(q, "</li>\n");
}

int mig_accounts_page(mig_req *q)
{
    request_rec *r = q->r;
    int fb = mig_fb_configured(q->c), ig = mig_ig_configured(q->c);
    igraph_db_t *db = mig_db(q);
    apr_array_header_t *list = NULL;
    const char *csrf = mig_session_available(q) ? mig_csrf_token(q) : "";
    int i;

    if (db && igraph_store_accounts_list(db, r->pool, q->owner, &list) != APR_SUCCESS) {
        list = NULL;
    }
    r->status = list ? HTTP_OK : HTTP_SERVICE_UNAVAILABLE;
    mig_page_begin(q, "Instagram accounts");
    if (r->header_only) {
        return OK;
    }
    mig_html(q, "<section class=\"intro\"><h1>Instagram accounts</h1>"
                "<p class=\"muted\">Connect Instagram professional accounts that this server "
                "may publish to.</p><div class=\"connect\">");
    if (fb) {
        mig_html(q, "<a class=\"button primary fb\" id=\"connect-facebook\" href=\"%s\">"
                    "Connect with Facebook</a>",
                 mig_url(q, "/oauth/start?login=facebook"));
    }
    if (ig) {
        mig_html(q, "<a class=\"button primary ig\" id=\"connect-instagram\" href=\"%s\">"
                    "Connect with Instagram</a>",
                 mig_url(q, "/oauth/start?login=instagram"));
    }
    mig_html(q, "</div></section>\n");

    if (!fb && !ig) {
        mig_html(q, "<section class=\"card notice\" id=\"not-configured\"><h2>Not configured yet"
                    "</h2><p>No Meta app is configured on this server (meta_not_configured). "
                    "Add to the server configuration:</p><pre>IGraphAppID          "
                    "&lt;Facebook app id&gt;\nIGraphAppSecretFile  /etc/apache2/igraph-app."
                    "secret\nIGraphRedirectURL    https://&lt;this host&gt;%s/oauth/callback"
                    "</pre><p>and for Instagram Login <code>IGraphInstagramAppID</code> and "
                    "<code>IGraphInstagramAppSecretFile</code>. The environment variables "
                    "META_APP_ID, META_APP_SECRET and META_REDIRECT_URL work too. Then "
                    "restart Apache.</p></section>\n",
                 q->base);
    }
    if (!list) {
        mig_html(q, "<section class=\"card error\" id=\"storage-unavailable\"><h2>Storage "
                    "unavailable</h2><p>The account database cannot be used "
                    "(storage_unavailable). Configure mod_dbd (<code>DBDriver sqlite3</code>, "
                    "<code>DBDParams /var/lib/apache2/igraph/igraph.db</code>) and make the "
                    "directory writable by the Apache user; see the error log.</p>"
                    "</section>\n");
        mig_page_end(q);
        return OK;
    }
    if (list->nelts == 0) {
        mig_html(q, "<section class=\"card empty\" id=\"no-accounts\"><p>No account connected "
                    "yet.%R</p></section>\n",
                 (fb || ig) ? " Use a button above to connect one." : "");
    }
    else {
        mig_html(q, "<ul class=\"accounts\" id=\"accounts\">\n");
        for (i = 0; i < list->nelts; i++) {
            account_card(q, APR_ARRAY_IDX(list, i, igraph_account_t *), csrf);
        }
        mig_html(q, "</ul>\n");
    }
    mig_page_end(q);
    return OK;
}
