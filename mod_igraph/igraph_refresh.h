/* igraph_refresh.h: keeping stored tokens alive (Apache-independent; driven by the maintenance
 * thread and by POST /api/accounts/{id}/refresh).
 *
 * Rules (Meta's docs, see shared/meta-graph-api.md 1.4, 1.6, 2.5):
 *  - Instagram Login tokens (60 days) are refreshed with ig_refresh_token once they expire within
 *    the window and are at least 24 hours old; an expired one cannot be refreshed.
 *  - Facebook Login: the long-lived user token is re-exchanged (fb_exchange_token) within the
 *    window; the Page token used for publishing is re-read from /me/accounts with the new user
 *    token (Page tokens from a long-lived user token do not expire) and checked.
 *  - 190/102 (or a lost Page) -> the account needs_reauth, with the reason, and is not retried;
 *    transient failures (transport, 5xx, rate limits, code 1/2) -> retried later with backoff.
 */
#ifndef IGRAPH_REFRESH_H
#define IGRAPH_REFRESH_H

#include "igraph_graph.h"
#include "igraph_store.h"

#define IGRAPH_IG_MIN_TOKEN_AGE 86400 /* Instagram refuses to refresh younger tokens */

typedef enum {
    IGRAPH_REFRESH_SKIP = 0,  /* not in the window (or never expires) */
    IGRAPH_REFRESH_NOW,       /* refresh now */
    IGRAPH_REFRESH_TOO_YOUNG, /* in the window but younger than 24 h (Instagram): wait */
    IGRAPH_REFRESH_EXPIRED    /* already expired: cannot be refreshed, reconnect needed */
} igraph_refresh_e;

/* Pure decision for one account. window in seconds (IGraphRefreshBefore). force = 1 (API call)
 * refreshes any unexpired token old enough, ignoring the window. */
igraph_refresh_e igraph_refresh_decide(const igraph_account_t *a, apr_int64_t now,
                                       apr_int64_t window, int force);

/* Delay before retry number `failures` (1, 2, ...): base * 2^(failures-1), capped, then scaled
 * by a jitter factor in [0.5, 1.5) taken from rnd in [0, 1). */
apr_int64_t igraph_refresh_backoff(int failures, apr_int64_t base, apr_int64_t cap, double rnd);

/* 1 when the error means the token is unusable for good (reconnect needed). */
int igraph_refresh_is_fatal(const igraph_gerr_t *e);

typedef enum {
    IGRAPH_REFRESHED = 0,  /* new token stored */
    IGRAPH_REFRESH_NOT_DUE,/* nothing to do (SKIP / TOO_YOUNG; next_refresh_at may be set) */
    IGRAPH_REFRESH_STALE,  /* a newer token was already stored by someone else */
    IGRAPH_REFRESH_REAUTH, /* account marked needs_reauth */
    IGRAPH_REFRESH_RETRY,  /* transient failure recorded, retried after backoff */
    IGRAPH_REFRESH_DBFAIL  /* storage failure */
} igraph_refresh_result_e;

typedef struct igraph_refresh_ctx_t {
    const igraph_graph_t *g;
    igraph_db_t *db;
    const igraph_key_t *key;
    apr_int64_t now;
    apr_int64_t window;       /* seconds */
    apr_int64_t retry_base;   /* first retry delay, seconds (e.g. 60) */
    apr_int64_t retry_cap;    /* longest retry delay, seconds (e.g. 6 h) */
    int force;
} igraph_refresh_ctx_t;

/* Decides and, when due, refreshes one account: Graph calls, then the store update (or the
 * failure record). *detail gets a short human reason (never a token). */
igraph_refresh_result_e igraph_refresh_account(const igraph_refresh_ctx_t *ctx, apr_pool_t *p,
                                               const igraph_account_t *a, const char **detail);

const char *igraph_refresh_result_name(igraph_refresh_result_e r);

#endif
