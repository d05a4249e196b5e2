/* mod_igraph_accounts.c: the accounts page and the accounts API.
 *
 *   GET    /accounts (and /)                 HTML list with connect / reconnect / disable /
 *                                            enable / remove
 *   POST   /accounts/{id}/{disable|enable|remove}   the page's forms (CSRF token)
 *   GET    /assets/{name}                    the page's stylesheet and images (IGraphAssetsDir)
 *   GET    /api/accounts                     {"ok":true,"accounts":[...]}
 *   GET    /api/accounts/{id}                {"ok":true,"account":{...}}
 *   POST   /api/accounts/{id}/disable|enable {"ok":true,"account":{...}}
 *   DELETE /api/accounts/{id}                {"ok":true,"deleted":id}
 *
 * Accounts belong to the user who connected them; another owner's id answers 404 exactly like
 * an id that does not exist. The dispatcher (mod_igraph_routes.c) has checked the user, the
 * request's origin and body, the form's CSRF token, and acquired q->db before these run.
 */
#include <string.h>
#include <unistd.h>

#include <apr_strings.h>
#include <http_protocol.h>

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
    case IGRAPH_ACCOUNT_DEAUTHORIZED:
        return "Removed on Meta";
    }
    return igraph_account_status_name(status);
}

static const char *date_only(apr_pool_t *p, apr_int64_t t)
{
    return apr_pstrndup(p, igraph_iso8601(p, t), 10);
}

/* Applies the route's action (disable, enable, remove/delete) to the caller's account q->id;
 * shared by the page's forms and the API. MIG_GO_ON with *out (the account after the change;
 * NULL after a removal), or the answer given. */
static int change_account(mig_req *q, igraph_account_t **out)
{
    apr_pool_t *p = q->r->pool;
    const char *verb = q->route->arg;
    int removal = !strcmp(verb, "remove") || !strcmp(verb, "delete");
    igraph_account_t *a;
    apr_status_t rv;

    *out = NULL;
    if ((rv = igraph_store_account_get(q->db, p, q->owner, q->id, &a)) != APR_SUCCESS) {
        return mig_fail_lookup(q, rv, "no such account");
    }
    if (removal) {
        rv = igraph_store_account_delete(q->db, p, q->owner, q->id);
    }
    else if (a->status == IGRAPH_ACCOUNT_DEAUTHORIZED) {
        /* enable and disable alike: only a new connect brings it back */
        return mig_fail(q, HTTP_CONFLICT, "account_deauthorized", "Could not change the account",
                        "the app was removed from this account on Meta (its tokens are gone): "
                        "connect it again to use it");
    }
    else if (!strcmp(verb, "enable") && a->status == IGRAPH_ACCOUNT_NEEDS_REAUTH) {
        return mig_fail(q, HTTP_CONFLICT, "needs_reauth", "Could not change the account",
                        "this account must be reconnected before it can be enabled");
    }
    else {
        rv = igraph_store_account_set_status(q->db, p, q->owner, q->id,
                                             !strcmp(verb, "enable") ? IGRAPH_ACCOUNT_ACTIVE
                                                                     : IGRAPH_ACCOUNT_DISABLED,
                                             NULL);
    }
    if (rv == APR_EBUSY) {
        /* deauthorized by Meta between the read and the write */
        return mig_fail(q, HTTP_CONFLICT, "account_deauthorized", "Could not change the account",
                        "the app was removed from this account on Meta (its tokens are gone): "
                        "connect it again to use it");
    }
    if (rv != APR_SUCCESS) {
        return mig_fail_lookup(q, rv, "no such account");
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r,
                  "IG0040: account %" APR_INT64_T_FMT " (@%s): %s by '%s'", q->id,
                  a->username ? a->username : "?", verb, q->user);
    if (!removal &&
        (rv = igraph_store_account_get(q->db, p, q->owner, q->id, out)) != APR_SUCCESS) {
        return mig_fail_lookup(q, rv, "no such account");
    }
    return MIG_GO_ON;
}

static int account_reply(mig_req *q, const igraph_account_t *a)
{
    igraph_json_t *j = igraph_json_new_object(q->r->pool);
    igraph_json_setb(j, "ok", 1);
    igraph_json_setj(j, "account", mig_account_json(q, a));
    return mig_json(q, HTTP_OK, j);
}

int mig_accounts_form(mig_req *q)
{
    igraph_account_t *a;
    int rc = change_account(q, &a);

    return rc != MIG_GO_ON ? rc : mig_redirect(q, HTTP_SEE_OTHER, mig_url(q, "/accounts"));
}

int mig_api_accounts(mig_req *q)
{
    apr_pool_t *p = q->r->pool;
    apr_array_header_t *list;
    igraph_json_t *j, *arr;
    int i;

    if (igraph_store_accounts_list(q->db, p, q->owner, &list) != APR_SUCCESS) {
        return mig_fail_storage(q);
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

int mig_api_account(mig_req *q)
{
    igraph_account_t *a;
    apr_status_t rv = igraph_store_account_get(q->db, q->r->pool, q->owner, q->id, &a);

    return rv == APR_SUCCESS ? account_reply(q, a) : mig_fail_lookup(q, rv, "no such account");
}

int mig_api_account_change(mig_req *q)
{
    igraph_account_t *a;
    igraph_json_t *j;
    int rc = change_account(q, &a);

    if (rc != MIG_GO_ON) {
        return rc;
    }
    if (a) {
        return account_reply(q, a);
    }
    j = igraph_json_new_object(q->r->pool);
    igraph_json_setb(j, "ok", 1);
    igraph_json_setl(j, "deleted", q->id);
    return mig_json(q, HTTP_OK, j);
}

/* POST /api/accounts/{id}/refresh: refresh one account now, whatever the window says. */
int mig_api_account_refresh(mig_req *q)
{
    request_rec *r = q->r;
    igraph_db_t *db = q->db;
    igraph_account_t *a;
    igraph_refresh_result_e res;
    const char *holder, *detail = NULL;
    apr_status_t rv;
    igraph_json_t *j;
    int status = HTTP_OK;
    const char *code = NULL;

    if ((rv = igraph_store_account_get(db, r->pool, q->owner, q->id, &a)) != APR_SUCCESS) {
        return mig_fail_lookup(q, rv, "no such account");
    }
    if (a->status == IGRAPH_ACCOUNT_DISABLED) {
        return mig_fail(q, HTTP_CONFLICT, "account_disabled", NULL,
                        "enable the account before refreshing it");
    }
    if (a->status == IGRAPH_ACCOUNT_DEAUTHORIZED) {
        return mig_fail(q, HTTP_CONFLICT, "account_deauthorized", NULL,
                        "the app was removed from this account on Meta: connect it again");
    }
    holder = apr_psprintf(r->pool, "request:%" APR_PID_T_FMT ":%ld", getpid(),
                          (long)r->connection->id);
    if (igraph_store_account_claim(db, r->pool, q->id, holder, igraph_now(),
                                   igraph_now() + 120) != APR_SUCCESS) {
        return mig_fail(q, HTTP_CONFLICT, "refresh_in_progress", NULL,
                        "this account is being refreshed right now; try again shortly");
    }
    res = mig_refresh_one(r->server, db, r->pool, a, 1, NULL, &detail);
    igraph_store_account_unclaim(db, r->pool, q->id, holder);
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
    if (igraph_store_account_get(db, r->pool, q->owner, q->id, &a) != APR_SUCCESS) {
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

int mig_serve_asset(mig_req *q)
{
    request_rec *r = q->r;
    const mig_asset *as = q->c->assets ? apr_hash_get(q->c->assets, q->name,
                                                        APR_HASH_KEY_STRING)
                                         : NULL;
    if (!as) {
        return mig_fail(q, HTTP_NOT_FOUND, "not_found", "Not found", "No such file");
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
    else if (a->status != IGRAPH_ACCOUNT_DEAUTHORIZED) {
        /* a deauthorized account has no enable/disable: Reconnect above is the way back */
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
    apr_array_header_t *list = NULL;
    const char *csrf = mig_session_available(q) ? mig_csrf_token(q) : "";
    int i;

    if (igraph_store_accounts_list(q->db, r->pool, q->owner, &list) != APR_SUCCESS) {
        return mig_fail_storage(q);
    }
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
