/* mod_igraph_oauth.c: connecting accounts.
 *
 *   GET  /oauth/start?login=facebook|instagram  -> 302 to Meta's dialog with a fresh state
 *   GET  /oauth/callback                        -> verify state, exchange the code, store
 *   GET  /oauth/pages, POST /oauth/pages        -> choose among several Facebook Pages
 *
 * The state is random, bound to the browser (kept in the encrypted mod_session cookie) and to
 * the user, single use and short-lived (a hash of it is a row in oauth_states that the callback
 * deletes). Nothing reaches Meta before the state checks pass. Tokens waiting for the Page choice
 * stay server-side, sealed, in oauth_pending; the cookie only holds the row id.
 *
 * The dispatcher has checked the user, the Meta app (start), the session, the form and its CSRF
 * token (Page choice) and acquired q->db before these run.
 */
#include <string.h>

#include <apr_strings.h>
#include <http_protocol.h>

#include "mod_igraph_oauth.h"
#include "mod_igraph_storage.h"
#include "igraph_log.h"
#include "igraph_util.h"

#define SESS_STATE "igraph-state"
#define SESS_PENDING "igraph-pending"
#define SESS_RETURN "igraph-return"

/* Where to send the browser after a connect: the validated return_to given to /oauth/start, or
 * the accounts page. */
static const char *after_connect(mig_req *q, const char *query)
{
    const char *rt = mig_session_get(q, SESS_RETURN);
    mig_session_set(q, SESS_RETURN, NULL);
    if (rt && igraph_is_local_path(rt)) {
        return rt;
    }
    return apr_pstrcat(q->r->pool, mig_url(q, "/accounts"), query, NULL);
}

static const char *state_hash(mig_req *q, const char *state)
{
    return igraph_sha256_hex(q->r->pool, state, strlen(state));
}

static int login_configured(mig_req *q, igraph_login_e login)
{
    return login == IGRAPH_LOGIN_FACEBOOK ? mig_fb_configured(q->c) : mig_ig_configured(q->c);
}

int mig_oauth_start(mig_req *q)
{
    request_rec *r = q->r;
    const char *login = apr_table_get(q->args, "login");
    const char *rt = apr_table_get(q->args, "return_to");
    const char *state, *url;
    igraph_login_e kind;
    igraph_graph_t *g;

    if (igraph_table_count(q->args, "login") > 1) {
        return mig_fail(q, HTTP_BAD_REQUEST, "bad_request", "Bad request",
                        "The login parameter is given more than once");
    }
    if (!login || !*login) {
        if (mig_fb_configured(q->c) && mig_ig_configured(q->c)) {
            return mig_fail(q, HTTP_BAD_REQUEST, "login_required", "Choose a login",
                            "Say which login to use: login=facebook or login=instagram");
        }
        login = mig_fb_configured(q->c) ? "facebook" : "instagram";
    }
    if (igraph_login_parse(login, &kind) != APR_SUCCESS) {
        return mig_fail(q, HTTP_BAD_REQUEST, "bad_login", "Unknown login",
                        "login must be facebook or instagram");
    }
    if (!login_configured(q, kind)) {
        return mig_fail(q, HTTP_SERVICE_UNAVAILABLE, "meta_not_configured", "Not configured",
                        kind == IGRAPH_LOGIN_FACEBOOK
                            ? "Facebook Login is not configured on this server (IGraphAppID, "
                              "IGraphAppSecret, IGraphRedirectURL)"
                            : "Instagram Login is not configured on this server "
                              "(IGraphInstagramAppID, IGraphInstagramAppSecret, "
                              "IGraphRedirectURL)");
    }
    /* return-to: a same-host path only, whatever the parameter says */
    if (rt && (igraph_table_count(q->args, "return_to") > 1 || !igraph_is_local_path(rt))) {
        return mig_fail(q, HTTP_BAD_REQUEST, "bad_return_to", "Invalid return address",
                        apr_psprintf(r->pool, "return_to must be a path on this site, like %s",
                                     mig_url(q, "/accounts")));
    }
    mig_session_set(q, SESS_RETURN, rt);
    state = igraph_random_token(r->pool, 32);
    if (igraph_store_state_put(q->db, r->pool, state_hash(q, state), q->owner, kind,
                               igraph_now() + MIG_STATE_TTL) != APR_SUCCESS) {
        return mig_fail_storage(q);
    }
    mig_session_set(q, SESS_STATE, state);

    g = mig_graph(q->c, r->pool);
    if (kind == IGRAPH_LOGIN_FACEBOOK) {
        const char *reconnect = apr_table_get(q->args, "reconnect");
        url = igraph_fb_dialog_url(g, r->pool, q->c->redirect_url, state, q->c->fb_scopes,
                                   reconnect ? "rerequest" : NULL);
    }
    else {
        url = igraph_ig_authorize_url(g, r->pool, q->c->redirect_url, state, q->c->ig_scopes);
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "IG0021: %s login started", login);
    return mig_redirect(q, HTTP_MOVED_TEMPORARILY, url);
}

/* ---- storing ------------------------------------------------------------------------------ */

static void log_graph_error(mig_req *q, const char *step, const igraph_gerr_t *e)
{
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, q->r,
                  "IG0030: %s failed: %s (http %d, code %ld/%ld): %s", step,
                  igraph_err_class_name(e->cls), e->http_status, e->code, e->subcode,
                  e->message ? e->message : "-");
}

static int graph_failed(mig_req *q, const char *step, const igraph_gerr_t *e)
{
    const char *msg = e->user_msg ? e->user_msg : e->message;
    log_graph_error(q, step, e);
    if (e->cls == IGRAPH_ERR_OAUTH || e->cls == IGRAPH_ERR_REAUTH) {
        return mig_fail(q, HTTP_BAD_REQUEST, "login_failed", "Login failed",
                        apr_psprintf(q->r->pool,
                                     "Meta refused the sign-in (%s). Please start again.",
                                     msg ? msg : "no reason given"));
    }
    return mig_fail(q, HTTP_BAD_GATEWAY, "graph_unavailable", "Meta is not answering",
                    apr_psprintf(q->r->pool,
                                 "The sign-in could not be completed because Meta's API failed "
                                 "during %s (%s). Please try again in a moment.",
                                 step, msg ? msg : igraph_err_class_name(e->cls)));
}

typedef struct fb_grant {
    const char *user_token;
    const char *app_user_id;   /* app-scoped Facebook user id (deauthorize / deletion mapping) */
    apr_int64_t expires_at;
    const char *scopes;
} fb_grant;

/* Reads the IG profile and stores the account connected through one Facebook Page. */
static apr_status_t store_fb_page(mig_req *q, const igraph_graph_t *g, const fb_grant *gr,
                                  const igraph_page_t *pg, igraph_account_t **out)
{
    apr_pool_t *p = q->r->pool;
    igraph_account_t *a = apr_pcalloc(p, sizeof(*a));
    igraph_profile_t prof;
    igraph_gerr_t err;
    const char *token = pg->access_token ? pg->access_token : gr->user_token;

    memset(&prof, 0, sizeof(prof));
    if (igraph_fb_ig_profile(g, p, pg->ig_id, token, &prof, &err) != APR_SUCCESS) {
        /* the account is still usable; the profile fields fill in on a later refresh */
        log_graph_error(q, "profile read", &err);
    }
    a->platform = "meta_ig";
    a->login = IGRAPH_LOGIN_FACEBOOK;
    a->ig_user_id = pg->ig_id;
    a->owner = q->owner;
    a->username = prof.username ? prof.username : pg->ig_username;
    a->name = prof.name;
    a->picture_url = prof.picture_url;
    a->page_id = pg->id;
    a->page_name = pg->name;
    a->app_user_id = gr->app_user_id;
    a->scopes = gr->scopes;
    a->token_expires_at = gr->expires_at;
    a->token_issued_at = igraph_now();
    if (igraph_store_account_upsert(q->db, p, q->c->key, a, token, gr->user_token) !=
        APR_SUCCESS) {
        return APR_EGENERAL;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r,
                  "IG0031: account %" APR_INT64_T_FMT " @%s (ig %s, page %s) connected with "
                  "Facebook Login for '%s'",
                  a->id, a->username ? a->username : "?", a->ig_user_id, a->page_id, q->user);
    *out = a;
    return APR_SUCCESS;
}

static const char *pending_json(mig_req *q, const fb_grant *gr, apr_array_header_t *cands)
{
    apr_pool_t *p = q->r->pool;
    igraph_json_t *j = igraph_json_new_object(p), *arr = igraph_json_new_array(p);
    int i;
    igraph_json_sets(j, "user_token", gr->user_token);
    igraph_json_sets(j, "app_user_id", gr->app_user_id);
    igraph_json_setl(j, "expires_at", gr->expires_at);
    igraph_json_sets(j, "scopes", gr->scopes);
    for (i = 0; i < cands->nelts; i++) {
        const igraph_page_t *pg = APR_ARRAY_IDX(cands, i, const igraph_page_t *);
        igraph_json_t *o = igraph_json_new_object(p);
        igraph_json_sets(o, "id", pg->id);
        igraph_json_sets(o, "name", pg->name);
        igraph_json_sets(o, "token", pg->access_token);
        igraph_json_sets(o, "ig_id", pg->ig_id);
        igraph_json_sets(o, "ig_username", pg->ig_username);
        igraph_json_append(arr, o);
    }
    igraph_json_setj(j, "pages", arr);
    return igraph_json_dump(p, j);
}

static apr_status_t pending_parse(mig_req *q, const char *payload, fb_grant *gr,
                                  apr_array_header_t **cands)
{
    apr_pool_t *p = q->r->pool;
    igraph_json_t *j, *arr;
    apr_size_t i, n;

    if (igraph_json_parse(&j, p, payload, strlen(payload), NULL) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    gr->user_token = igraph_json_gets(j, "user_token", NULL);
    gr->app_user_id = igraph_json_gets(j, "app_user_id", NULL);
    gr->expires_at = igraph_json_getl(j, NULL, "expires_at", NULL);
    gr->scopes = igraph_json_gets(j, "scopes", NULL);
    arr = igraph_json_getj(p, j, "pages", NULL);
    n = arr ? igraph_json_array_size(arr) : 0;
    *cands = apr_array_make(p, (int)n + 1, sizeof(igraph_page_t *));
    for (i = 0; i < n; i++) {
        igraph_json_t *o = igraph_json_array_at(p, arr, i);
        igraph_page_t *pg = apr_pcalloc(p, sizeof(*pg));
        pg->id = igraph_json_gets(o, "id", NULL);
        pg->name = igraph_json_gets(o, "name", NULL);
        pg->access_token = igraph_json_gets(o, "token", NULL);
        pg->ig_id = igraph_json_gets(o, "ig_id", NULL);
        pg->ig_username = igraph_json_gets(o, "ig_username", NULL);
        if (pg->id && pg->ig_id) {
            APR_ARRAY_PUSH(*cands, igraph_page_t *) = pg;
        }
    }
    return gr->user_token ? APR_SUCCESS : APR_EINVAL;
}

static int connect_facebook(mig_req *q, const char *code)
{
    apr_pool_t *p = q->r->pool;
    igraph_graph_t *g = mig_graph(q->c, p);
    igraph_token_t st, lt;
    igraph_gerr_t err;
    apr_array_header_t *pages, *cands;
    const char *granted = NULL;
    fb_grant gr;
    int i;

    if (igraph_fb_exchange_code(g, p, code, q->c->redirect_url, &st, &err) != APR_SUCCESS) {
        return graph_failed(q, "code exchange", &err);
    }
    if (igraph_fb_long_lived(g, p, st.access_token, &lt, &err) != APR_SUCCESS) {
        return graph_failed(q, "long-lived token exchange", &err);
    }
    gr.user_token = lt.access_token;
    gr.expires_at = lt.expires_in > 0 ? igraph_now() + lt.expires_in : 0;
    gr.app_user_id = NULL;
    {
        const char *fb_name = NULL;
        if (igraph_fb_me(g, p, gr.user_token, &gr.app_user_id, &fb_name, &err) != APR_SUCCESS) {
            /* only needed to honour Meta's deauthorize callback; not fatal */
            log_graph_error(q, "user id read", &err);
            gr.app_user_id = NULL;
        }
    }
    if (igraph_fb_permissions(g, p, gr.user_token, &granted, &err) != APR_SUCCESS) {
        log_graph_error(q, "permission read", &err);
        granted = NULL;
    }
    gr.scopes = granted ? granted : "";
    if (igraph_fb_list_pages(g, p, gr.user_token, &pages, &err) != APR_SUCCESS) {
        return graph_failed(q, "Page listing", &err);
    }
    cands = apr_array_make(p, pages->nelts + 1, sizeof(igraph_page_t *));
    for (i = 0; i < pages->nelts; i++) {
        igraph_page_t *pg = APR_ARRAY_IDX(pages, i, igraph_page_t *);
        if (pg->id && pg->ig_id) {
            APR_ARRAY_PUSH(cands, igraph_page_t *) = pg;
        }
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, q->r,
                  "IG0032: Facebook Login: %d Page(s), %d with an Instagram professional account",
                  pages->nelts, cands->nelts);
    if (cands->nelts == 0) {
        return mig_fail(q, HTTP_BAD_REQUEST, "no_instagram_account", "No Instagram account found",
                        "No Facebook Page you shared is linked to an Instagram professional "
                        "(Business or Creator) account. Link one to a Page in Meta Business "
                        "Suite, then connect again and select that Page.");
    }
    if (cands->nelts == 1) {
        igraph_account_t *a;
        if (store_fb_page(q, g, &gr, APR_ARRAY_IDX(cands, 0, igraph_page_t *), &a) !=
            APR_SUCCESS) {
            return mig_fail_storage(q);
        }
        return mig_redirect(q, HTTP_MOVED_TEMPORARILY,
                            after_connect(q, apr_psprintf(p, "?connected=%" APR_INT64_T_FMT,
                                                          a->id)));
    }
    {
        const char *pid = igraph_random_token(p, 24);
        if (igraph_store_pending_put(q->db, p, q->c->key, pid, q->owner, "facebook-pages",
                                     pending_json(q, &gr, cands),
                                     igraph_now() + MIG_PENDING_TTL) != APR_SUCCESS) {
            return mig_fail_storage(q);
        }
        mig_session_set(q, SESS_PENDING, pid);
        return mig_redirect(q, HTTP_MOVED_TEMPORARILY, mig_url(q, "/oauth/pages"));
    }
}

static int connect_instagram(mig_req *q, const char *code)
{
    apr_pool_t *p = q->r->pool;
    igraph_graph_t *g = mig_graph(q->c, p);
    igraph_token_t st, lt;
    igraph_profile_t prof;
    igraph_gerr_t err;
    igraph_account_t *a = apr_pcalloc(p, sizeof(*a));

    if (igraph_ig_exchange_code(g, p, code, q->c->redirect_url, &st, &err) != APR_SUCCESS) {
        return graph_failed(q, "code exchange", &err);
    }
    if (igraph_ig_long_lived(g, p, st.access_token, &lt, &err) != APR_SUCCESS) {
        return graph_failed(q, "long-lived token exchange", &err);
    }
    memset(&prof, 0, sizeof(prof));
    if (igraph_ig_me(g, p, lt.access_token, &prof, &err) != APR_SUCCESS) {
        return graph_failed(q, "profile read", &err);
    }
    if (prof.account_type && strcmp(prof.account_type, "BUSINESS") != 0 &&
        strcmp(prof.account_type, "MEDIA_CREATOR") != 0) {
        return mig_fail(q, HTTP_BAD_REQUEST, "professional_account_required",
                        "Professional account needed",
                        "This Instagram account is a personal account. Only Business and "
                        "Creator accounts can be connected: switch it to a professional account "
                        "in the Instagram app, then connect again.");
    }
    if (!prof.user_id && !prof.id) {
        igraph_gerr_t e2;
        memset(&e2, 0, sizeof(e2));
        e2.cls = IGRAPH_ERR_SERVER;
        e2.message = "the profile answer has no user_id";
        return graph_failed(q, "profile read", &e2);
    }
    a->platform = "meta_ig";
    a->login = IGRAPH_LOGIN_INSTAGRAM;
    a->ig_user_id = prof.user_id ? prof.user_id : prof.id;
    a->owner = q->owner;
    a->username = prof.username;
    a->name = prof.name;
    a->picture_url = prof.picture_url;
    a->app_user_id = st.user_id;
    a->scopes = st.permissions ? st.permissions : "";
    a->token_expires_at = lt.expires_in > 0 ? igraph_now() + lt.expires_in : 0;
    a->token_issued_at = igraph_now();
    if (igraph_store_account_upsert(q->db, p, q->c->key, a, lt.access_token, NULL) !=
        APR_SUCCESS) {
        return mig_fail_storage(q);
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r,
                  "IG0033: account %" APR_INT64_T_FMT " @%s (ig %s) connected with Instagram "
                  "Login for '%s'",
                  a->id, a->username ? a->username : "?", a->ig_user_id, q->user);
    return mig_redirect(q, HTTP_MOVED_TEMPORARILY,
                        after_connect(q, apr_psprintf(p, "?connected=%" APR_INT64_T_FMT, a->id)));
}

/* Nothing of the callback's query is trusted, shown or sent anywhere before the state checks
 * out: it is this browser's, unexpired, unused, and this user's. */
int mig_oauth_callback(mig_req *q)
{
    request_rec *r = q->r;
    const char *state = apr_table_get(q->args, "state");
    const char *code = apr_table_get(q->args, "code");
    const char *error = apr_table_get(q->args, "error");
    const char *mine = mig_session_get(q, SESS_STATE);
    igraph_login_e login;
    int state_ok = 0;

    if (igraph_table_count(q->args, "state") > 1 || igraph_table_count(q->args, "code") > 1 ||
        igraph_table_count(q->args, "error") > 1) {
        return mig_fail(q, HTTP_BAD_REQUEST, "invalid_callback", "Invalid sign-in answer",
                        "The answer from Meta repeats a parameter. Please start again.");
    }
    if (!state || !mine) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "IG0023: callback rejected: %s",
                      !state ? "no state parameter" : "no state in this session");
        return mig_fail(q, HTTP_BAD_REQUEST, "invalid_state", "Invalid sign-in link",
                        "This sign-in answer does not belong to this browser session (or the "
                        "session cookie is missing). Please start again.");
    }
    if (strlen(state) == strlen(mine) && igraph_ct_equal(state, strlen(state), mine, strlen(mine))) {
        /* consume the state whatever happens next: it is single use */
        mig_session_set(q, SESS_STATE, NULL);
        state_ok = igraph_store_state_take(q->db, r->pool, state_hash(q, state), q->owner,
                                           igraph_now(), &login) == APR_SUCCESS;
    }
    if (!state_ok) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "IG0024: callback rejected: state mismatch, expired or already used");
        return mig_fail(q, HTTP_BAD_REQUEST, "invalid_state", "Invalid sign-in link",
                        "This sign-in answer is invalid, expired or was already used. Please "
                        "start again.");
    }
    if (error) {
        const char *desc = apr_table_get(q->args, "error_description");
        const char *reason = apr_table_get(q->args, "error_reason");
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "IG0022: login not completed: %s (%s)",
                      error, reason ? reason : "-");
        if (!strcmp(error, "access_denied")) {
            return mig_fail(q, HTTP_OK, "access_denied", "Connection cancelled",
                            "You did not allow access, so no account was connected. You can "
                            "connect again at any time.");
        }
        return mig_fail(q, HTTP_BAD_REQUEST, "oauth_error", "Login failed",
                        apr_psprintf(r->pool, "Meta reported: %s", desc ? desc : error));
    }
    if (!code || !*code) {
        return mig_fail(q, HTTP_BAD_REQUEST, "invalid_callback", "Invalid sign-in answer",
                        "Meta's answer carries no authorization code. Please start again.");
    }
    if (!login_configured(q, login)) {
        return mig_fail(q, HTTP_SERVICE_UNAVAILABLE, "meta_not_configured", "Not configured",
                        "This login is no longer configured on this server");
    }
    if (login == IGRAPH_LOGIN_FACEBOOK) {
        return connect_facebook(q, code);
    }
    return connect_instagram(q, igraph_strip_code_suffix(r->pool, code));
}

/* ---- Page selection ------------------------------------------------------------------------ */

/* The Page selection waiting for this browser and user: MIG_GO_ON, or the answer given when
 * there is none. */
static int pending_of(mig_req *q, const char **pid, fb_grant *gr, apr_array_header_t **cands)
{
    const char *kind = NULL, *payload = NULL;

    *pid = mig_session_get(q, SESS_PENDING);
    if (!*pid ||
        igraph_store_pending_get(q->db, q->r->pool, q->c->key, *pid, q->owner, igraph_now(),
                                 &kind, &payload) != APR_SUCCESS ||
        strcmp(kind, "facebook-pages") != 0 ||
        pending_parse(q, payload, gr, cands) != APR_SUCCESS) {
        return mig_fail(q, HTTP_BAD_REQUEST, "nothing_to_choose", "Nothing to choose",
                        "There is no Page selection waiting for this browser (it may have "
                        "expired after 15 minutes). Please connect again.");
    }
    return MIG_GO_ON;
}

int mig_oauth_pages(mig_req *q)
{
    request_rec *r = q->r;
    apr_array_header_t *cands;
    const char *pid, *csrf;
    fb_grant gr;
    int i, rc;

    if ((rc = pending_of(q, &pid, &gr, &cands)) != MIG_GO_ON) {
        return rc;
    }
    csrf = mig_csrf_token(q);
    mig_page_begin(q, "Choose Pages");
    if (r->header_only) {
        return OK;
    }
    mig_html(q,
             "<section class=\"card\"><h1>Choose the Instagram accounts to connect</h1>"
             "<p class=\"muted\">Several of your Facebook Pages are linked to an Instagram "
             "professional account. Pick the ones this server may publish to.</p>"
             "<form method=\"post\" action=\"%s\" class=\"pages\">"
             "<input type=\"hidden\" name=\"csrf\" value=\"%s\"><ul class=\"choices\">",
             mig_url(q, "/oauth/pages"), csrf);
    for (i = 0; i < cands->nelts; i++) {
        const igraph_page_t *pg = APR_ARRAY_IDX(cands, i, const igraph_page_t *);
        mig_html(q,
                 "<li><label><input type=\"checkbox\" name=\"page_id\" value=\"%s\"%R> "
                 "<span class=\"ig\">@%s</span> <span class=\"muted\">via Page "
                 "&ldquo;%s&rdquo;</span></label></li>",
                 pg->id, cands->nelts == 1 ? " checked" : "",
                 pg->ig_username ? pg->ig_username : pg->ig_id, pg->name ? pg->name : pg->id);
    }
    mig_html(q, "</ul><p><button type=\"submit\" id=\"connect-pages\" class=\"button "
                "primary\">Connect selected</button> <a class=\"button\" href=\"%s\">"
                "Cancel</a></p></form></section>\n",
             mig_url(q, "/accounts"));
    mig_page_end(q);
    return OK;
}

static int collect_values(void *rec, const char *key, const char *value)
{
    APR_ARRAY_PUSH((apr_array_header_t *)rec, const char *) = value;
    return 1;
}

static int chosen_contains(const apr_array_header_t *chosen, const char *id)
{
    int k;
    for (k = 0; k < chosen->nelts; k++) {
        if (!strcmp(id, APR_ARRAY_IDX(chosen, k, const char *))) {
            return 1;
        }
    }
    return 0;
}

int mig_oauth_pages_choose(mig_req *q)
{
    request_rec *r = q->r;
    apr_array_header_t *cands, *chosen, *ids;
    igraph_graph_t *g;
    const char *pid;
    fb_grant gr;
    int i, rc, stored = 0;

    if ((rc = pending_of(q, &pid, &gr, &cands)) != MIG_GO_ON) {
        return rc;
    }
    chosen = apr_array_make(r->pool, 4, sizeof(const char *));
    apr_table_do(collect_values, chosen, q->form, "page_id", NULL);
    if (chosen->nelts == 0) {
        return mig_fail(q, HTTP_BAD_REQUEST, "no_page_selected", "No Page selected",
                        "Select at least one Page to connect.");
    }
    ids = apr_array_make(r->pool, cands->nelts + 1, sizeof(const char *));
    for (i = 0; i < cands->nelts; i++) {
        APR_ARRAY_PUSH(ids, const char *) = APR_ARRAY_IDX(cands, i, igraph_page_t *)->id;
    }
    for (i = 0; i < chosen->nelts; i++) {
        if (!chosen_contains(ids, APR_ARRAY_IDX(chosen, i, const char *))) {
            return mig_fail(q, HTTP_BAD_REQUEST, "unknown_page", "Unknown Page",
                            "A selected Page is not among the Pages you shared.");
        }
    }
    g = mig_graph(q->c, r->pool);
    for (i = 0; i < cands->nelts; i++) {
        const igraph_page_t *pg = APR_ARRAY_IDX(cands, i, const igraph_page_t *);
        igraph_account_t *a;
        if (!chosen_contains(chosen, pg->id)) {
            continue;
        }
        if (store_fb_page(q, g, &gr, pg, &a) != APR_SUCCESS) {
            return mig_fail_storage(q);
        }
        stored++;
    }
    igraph_store_pending_delete(q->db, r->pool, pid);
    mig_session_set(q, SESS_PENDING, NULL);
    return mig_redirect(q, HTTP_SEE_OTHER,
                        after_connect(q, apr_psprintf(r->pool, "?connected=%d", stored)));
}
