/* igraph_refresh.c: keeping stored tokens alive (see igraph_refresh.h for the rules).
 *
 * One account per call: decide (pure), read the stored token, ask Meta, then either store the new
 * token (conditional on issue time, so a newer login is never overwritten) or record the failure
 * (needs_reauth for good, or a retry time with backoff). Nothing here logs a token.
 */
#include <string.h>

#include <apr_strings.h>

#include "igraph_crypto.h"
#include "igraph_graph.h"
#include "igraph_log.h"
#include "igraph_refresh.h"
#include "igraph_store.h"
#include "igraph_util.h"

/* Lifetime assumed when Meta leaves out expires_in (long-lived tokens live about 60 days). */
#define IGRAPH_REFRESH_DEFAULT_LIFE (60 * 86400)

static const igraph_account_status_e igraph_status_reauth = IGRAPH_ACCOUNT_NEEDS_REAUTH;

igraph_refresh_e igraph_refresh_decide(const igraph_account_t *a, apr_int64_t now,
                                       apr_int64_t window, int force)
{
    if (!a || a->token_expires_at == 0) {
        return IGRAPH_REFRESH_SKIP;
    }
    if (a->token_expires_at <= now) {
        return IGRAPH_REFRESH_EXPIRED;
    }
    if (!force && a->token_expires_at > now + window) {
        return IGRAPH_REFRESH_SKIP;
    }
    /* Instagram refuses to refresh a token younger than 24 h; Facebook has no such rule. */
    if (a->login == IGRAPH_LOGIN_INSTAGRAM && now - a->token_issued_at < IGRAPH_IG_MIN_TOKEN_AGE) {
        return IGRAPH_REFRESH_TOO_YOUNG;
    }
    return IGRAPH_REFRESH_NOW;
}

apr_int64_t igraph_refresh_backoff(int failures, apr_int64_t base, apr_int64_t cap, double rnd)
{
    apr_int64_t d;
    int i;

    if (base < 1) {
        base = 1;
    }
    if (cap < base) {
        cap = base;
    }
    d = base;
    /* doubling stops at the cap, so no overflow whatever failures is */
    for (i = 1; i < failures && d < cap; i++) {
        d *= 2;
    }
    if (d > cap) {
        d = cap;
    }
    if (!(rnd >= 0.0)) { /* also NaN */
        rnd = 0.0;
    }
    if (rnd >= 1.0) {
        rnd = 0.999999;
    }
    d = (apr_int64_t)((double)d * (0.5 + rnd));
    return d < 1 ? 1 : d;
}

int igraph_refresh_is_fatal(const igraph_gerr_t *e)
{
    return e && (e->cls == IGRAPH_ERR_REAUTH || e->cls == IGRAPH_ERR_PERMISSION);
}

const char *igraph_refresh_result_name(igraph_refresh_result_e r)
{
    switch (r) {
    case IGRAPH_REFRESHED:
        return "refreshed";
    case IGRAPH_REFRESH_NOT_DUE:
        return "not_due";
    case IGRAPH_REFRESH_STALE:
        return "stale";
    case IGRAPH_REFRESH_REAUTH:
        return "reauth";
    case IGRAPH_REFRESH_RETRY:
        return "retry";
    case IGRAPH_REFRESH_DBFAIL:
        return "dbfail";
    }
    return "unknown";
}

/* ---- outcomes --------------------------------------------------------------------------- */

static const char *igraph_refresh_who(const igraph_account_t *a)
{
    return a->username ? a->username : a->ig_user_id;
}

/* Random factor in [0, 1) for the jitter; 0.5 (no jitter) if the RNG fails. */
static double igraph_refresh_rnd(void)
{
    apr_uint32_t u;

    if (igraph_random_bytes(&u, sizeof(u)) != APR_SUCCESS) {
        return 0.5;
    }
    return (double)u / 4294967296.0;
}

/* The account needs a reconnect: recorded with the reason, never retried automatically. */
static igraph_refresh_result_e igraph_refresh_reauth(const igraph_refresh_ctx_t *ctx, apr_pool_t *p,
                                                     const igraph_account_t *a, const char *why,
                                                     const char **detail)
{
    apr_status_t rv;

    *detail = why;
    rv = igraph_store_account_refresh_failed(ctx->db, p, a->id, &igraph_status_reauth, why, 0);
    if (rv != APR_SUCCESS && rv != APR_NOTFOUND) {
        igraph_log(IGRAPH_LOG_ERR,
                   "IG0503: account %" APR_INT64_T_FMT " (@%s): recording needs_reauth failed",
                   a->id, igraph_refresh_who(a));
        return IGRAPH_REFRESH_DBFAIL;
    }
    igraph_log(IGRAPH_LOG_INFO,
               "IG0502: account %" APR_INT64_T_FMT " (@%s): token refresh impossible, "
               "reconnect needed: %s",
               a->id, igraph_refresh_who(a), why);
    return IGRAPH_REFRESH_REAUTH;
}

static const char *igraph_refresh_errtext(apr_pool_t *p, const char *step, const igraph_gerr_t *e)
{
    const char *msg = e->message ? e->message : "no details";
    const char *s = apr_psprintf(p, "%s: %s: %s", step, igraph_err_class_name(e->cls), msg);

    if (e->code) {
        s = apr_psprintf(p, "%s (code %ld/%ld)", s, e->code, e->subcode);
    }
    return s;
}

/* A Graph call failed: fatal errors need a reconnect, the rest is retried with backoff. */
static igraph_refresh_result_e igraph_refresh_graph_failed(const igraph_refresh_ctx_t *ctx,
                                                           apr_pool_t *p, const igraph_account_t *a,
                                                           const char *step, const igraph_gerr_t *e,
                                                           const char **detail)
{
    const char *why = igraph_refresh_errtext(p, step, e);
    apr_int64_t delay, next;
    apr_status_t rv;

    if (igraph_refresh_is_fatal(e)) {
        return igraph_refresh_reauth(ctx, p, a, why, detail);
    }
    delay = igraph_refresh_backoff(a->refresh_failures + 1, ctx->retry_base, ctx->retry_cap,
                                   igraph_refresh_rnd());
    if (e->retry_after > delay) {
        delay = e->retry_after;
    }
    next = ctx->now + delay;
    *detail = why;
    rv = igraph_store_account_refresh_failed(ctx->db, p, a->id, NULL, why, next);
    if (rv != APR_SUCCESS && rv != APR_NOTFOUND) {
        igraph_log(IGRAPH_LOG_ERR,
                   "IG0503: account %" APR_INT64_T_FMT " (@%s): recording the failure failed",
                   a->id, igraph_refresh_who(a));
        return IGRAPH_REFRESH_DBFAIL;
    }
    igraph_log(IGRAPH_LOG_WARNING,
               "IG0504: account %" APR_INT64_T_FMT " (@%s): token refresh failed (attempt %d), "
               "retry at %s: %s",
               a->id, igraph_refresh_who(a), a->refresh_failures + 1, igraph_iso8601(p, next), why);
    return IGRAPH_REFRESH_RETRY;
}

static igraph_refresh_result_e igraph_refresh_store(const igraph_refresh_ctx_t *ctx, apr_pool_t *p,
                                                    const igraph_account_t *a, const char *username,
                                                    const char *access, const char *user,
                                                    apr_int64_t expires_in, const char **detail)
{
    igraph_account_t upd = *a;
    apr_int64_t expires_at =
        ctx->now + (expires_in > 0 ? expires_in : (apr_int64_t)IGRAPH_REFRESH_DEFAULT_LIFE);
    apr_status_t rv;

    /* only fresh profile data goes in: stale copies must not overwrite concurrent changes */
    upd.username = username;
    upd.name = NULL;
    upd.picture_url = NULL;
    rv = igraph_store_account_tokens_update(ctx->db, p, ctx->key, &upd, access, user, expires_at,
                                            ctx->now);
    if (rv == APR_EEXIST || rv == APR_NOTFOUND || rv == APR_EBUSY) {
        *detail = rv == APR_EEXIST  ? "a newer token was stored meanwhile"
                  : rv == APR_EBUSY ? "the account was deauthorized, disabled or changed "
                                      "meanwhile"
                                    : "the account was removed meanwhile";
        igraph_log(IGRAPH_LOG_INFO,
                   "IG0505: account %" APR_INT64_T_FMT " (@%s): refreshed token not stored: %s",
                   a->id, igraph_refresh_who(a), *detail);
        return IGRAPH_REFRESH_STALE;
    }
    if (rv != APR_SUCCESS) {
        *detail = "storing the refreshed token failed";
        igraph_log(IGRAPH_LOG_ERR, "IG0503: account %" APR_INT64_T_FMT " (@%s): %s", a->id,
                   igraph_refresh_who(a), *detail);
        return IGRAPH_REFRESH_DBFAIL;
    }
    *detail = apr_psprintf(p, "token refreshed, valid until %s", igraph_iso8601(p, expires_at));
    igraph_log(IGRAPH_LOG_INFO, "IG0501: account %" APR_INT64_T_FMT " (@%s): %s", a->id,
               igraph_refresh_who(a), *detail);
    return IGRAPH_REFRESHED;
}

/* The stored token of that kind, or NULL with *why set. */
static const char *igraph_refresh_token(const igraph_refresh_ctx_t *ctx, apr_pool_t *p,
                                        const igraph_account_t *a, igraph_token_kind_e kind,
                                        const char **why)
{
    const char *enc = kind == IGRAPH_TOKEN_USER ? a->user_token_enc : a->access_token_enc;
    const char *tok;

    if (!enc || !*enc) {
        *why = kind == IGRAPH_TOKEN_USER ? "no user token stored; reconnect the account"
                                         : "no token stored; reconnect the account";
        return NULL;
    }
    tok = igraph_store_account_token(p, ctx->key, a, kind);
    if (!tok) {
        /* key changed or value tampered with: only a new login helps */
        *why = "stored token unreadable; reconnect the account";
    }
    return tok;
}

/* Instagram Login: ig_refresh_token gives a new 60-day token. */
static igraph_refresh_result_e igraph_refresh_ig(const igraph_refresh_ctx_t *ctx, apr_pool_t *p,
                                                 const igraph_account_t *a, const char **detail)
{
    igraph_token_t tok;
    igraph_gerr_t err;
    const char *token, *why = NULL;

    token = igraph_refresh_token(ctx, p, a, IGRAPH_TOKEN_ACCESS, &why);
    if (!token) {
        return igraph_refresh_reauth(ctx, p, a, why, detail);
    }
    if (igraph_ig_refresh(ctx->g, p, token, &tok, &err) != APR_SUCCESS) {
        return igraph_refresh_graph_failed(ctx, p, a, "ig refresh", &err, detail);
    }
    return igraph_refresh_store(ctx, p, a, NULL, tok.access_token, NULL, tok.expires_in, detail);
}

/* Facebook Login: re-exchange the user token, then re-read the Page token with it and check that
 * the Page is still there and still linked to this Instagram account. */
static igraph_refresh_result_e igraph_refresh_fb(const igraph_refresh_ctx_t *ctx, apr_pool_t *p,
                                                 const igraph_account_t *a, const char **detail)
{
    igraph_token_t tok;
    igraph_gerr_t err;
    apr_array_header_t *pages;
    const igraph_page_t *page = NULL;
    const char *user, *why = NULL, *page_name;
    int i;

    if (!a->page_id || !*a->page_id) {
        return igraph_refresh_reauth(ctx, p, a, "no Facebook Page stored; reconnect the account",
                                     detail);
    }
    user = igraph_refresh_token(ctx, p, a, IGRAPH_TOKEN_USER, &why);
    if (!user) {
        return igraph_refresh_reauth(ctx, p, a, why, detail);
    }
    if (igraph_fb_long_lived(ctx->g, p, user, &tok, &err) != APR_SUCCESS) {
        return igraph_refresh_graph_failed(ctx, p, a, "fb token exchange", &err, detail);
    }
    if (igraph_fb_list_pages(ctx->g, p, tok.access_token, &pages, &err) != APR_SUCCESS) {
        return igraph_refresh_graph_failed(ctx, p, a, "fb pages", &err, detail);
    }
    for (i = 0; i < pages->nelts; i++) {
        const igraph_page_t *pg = APR_ARRAY_IDX(pages, i, const igraph_page_t *);

        if (pg->id && !strcmp(pg->id, a->page_id)) {
            page = pg;
            break;
        }
    }
    page_name = a->page_name ? a->page_name : a->page_id;
    if (!page) {
        return igraph_refresh_reauth(
            ctx, p, a,
            apr_psprintf(p, "the Facebook Page %s is no longer accessible with this login",
                         page_name),
            detail);
    }
    if (!page->ig_id || strcmp(page->ig_id, a->ig_user_id) != 0) {
        return igraph_refresh_reauth(ctx, p, a,
                                     apr_psprintf(p, "the Page %s is no longer linked to @%s",
                                                  page_name, igraph_refresh_who(a)),
                                     detail);
    }
    if (!page->access_token || !*page->access_token) {
        return igraph_refresh_reauth(
            ctx, p, a,
            apr_psprintf(p, "no Page token for %s with this login (missing Page role?)", page_name),
            detail);
    }
    return igraph_refresh_store(ctx, p, a, page->ig_username, page->access_token, tok.access_token,
                                tok.expires_in, detail);
}

igraph_refresh_result_e igraph_refresh_account(const igraph_refresh_ctx_t *ctx, apr_pool_t *p,
                                               const igraph_account_t *a, const char **detail)
{
    const char *dummy;

    if (!detail) {
        detail = &dummy;
    }
    *detail = NULL;
    if (!ctx || !ctx->g || !ctx->db || !ctx->key || !a) {
        *detail = "invalid arguments";
        return IGRAPH_REFRESH_DBFAIL;
    }
    switch (igraph_refresh_decide(a, ctx->now, ctx->window, ctx->force)) {
    case IGRAPH_REFRESH_SKIP:
        *detail = a->token_expires_at ? "token not yet due for refresh" : "token does not expire";
        return IGRAPH_REFRESH_NOT_DUE;
    case IGRAPH_REFRESH_TOO_YOUNG:
        /* not a failure: the due-query offers it again on a later tick, when it is 24 h old */
        *detail = "token younger than 24 hours; Instagram refuses to refresh it yet";
        return IGRAPH_REFRESH_NOT_DUE;
    case IGRAPH_REFRESH_EXPIRED:
        return igraph_refresh_reauth(ctx, p, a,
                                     apr_psprintf(p, "token expired on %s; reconnect the account",
                                                  igraph_iso8601(p, a->token_expires_at)),
                                     detail);
    case IGRAPH_REFRESH_NOW:
        break;
    }
    switch (a->login) {
    case IGRAPH_LOGIN_INSTAGRAM:
        return igraph_refresh_ig(ctx, p, a, detail);
    case IGRAPH_LOGIN_FACEBOOK:
        return igraph_refresh_fb(ctx, p, a, detail);
    }
    return igraph_refresh_reauth(
        ctx, p, a, apr_psprintf(p, "unknown login type '%s'", igraph_login_name(a->login)), detail);
}
