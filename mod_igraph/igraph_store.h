/* igraph_store.h: account state and publish jobs in SQL through apr_dbd (SQLite by default,
 * PostgreSQL too).
 *
 * The store owns the schema (created and migrated on first use of every new connection, under
 * BEGIN IMMEDIATE on SQLite / an advisory transaction lock on PostgreSQL, retried when another
 * process migrates concurrently) and its prepared statements, which it prepares lazily into the
 * connection's own hash (labels "igraph_*", fresh server-side names), so a fresh empty database
 * works and mod_dbd needs no DBDPrepareSQL. Any failed statement drops the cached statements of
 * that connection so they are prepared again next time.
 *
 * Secrets at rest: tokens, pending OAuth payloads and webhook event payloads are sealed with
 * AES-256-GCM (igraph_crypto) before they reach SQL, with the row identity as associated data.
 * They leave the store only through igraph_store_account_token(), igraph_store_pending_get()
 * and igraph_store_events_list().
 *
 * All times are Unix seconds (BIGINT). SQL is portable between sqlite3 and pgsql.
 */
#ifndef IGRAPH_STORE_H
#define IGRAPH_STORE_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_hash.h>
#include <apr_dbd.h>

#include "igraph_account.h"
#include "igraph_crypto.h"
#include "igraph_job.h"
#include "igraph_meta.h"

#define IGRAPH_SCHEMA_VERSION 6

/* An optional gate every write passes (a statement that changes rows, or a whole transaction):
 * enter() before, leave() after. The glue sets one for SQLite, so that writers from several
 * processes queue on a lock of the glue's own instead of in SQLite's busy handler (which sleeps
 * up to 100 ms at a time, and apr_dbd's sqlite3 driver keeps a process-wide mutex while it
 * does). Re-entrant per view: a transaction holds it once for all its statements. */
typedef struct igraph_write_gate_t {
    apr_status_t (*enter)(void *baton);
    void (*leave)(void *baton);
    void *baton;
} igraph_write_gate_t;

/* Mirrors mod_dbd's ap_dbd_t (same members) so the glue can hand one in without the core
 * depending on mod_dbd.h; unit tests fill it from apr_dbd_open directly. */
typedef struct igraph_db_t {
    apr_dbd_t *handle;
    const apr_dbd_driver_t *driver;
    apr_hash_t *prepared;   /* per connection; the store adds its statements here */
    apr_pool_t *pool;       /* connection lifetime pool (statements are allocated from it) */
    const igraph_write_gate_t *gate; /* NULL: none */
    int gate_depth;         /* how many times this view holds the gate */
} igraph_db_t;

/* Holds db's write gate (if it has one) across several store calls, e.g. while a group of
 * inserts is collected; the store's own writes inside do not wait for it again. APR_SUCCESS or
 * the gate's error (then nothing is held). Every successful enter needs one leave. */
apr_status_t igraph_store_gate_enter(igraph_db_t *db);
void igraph_store_gate_leave(igraph_db_t *db);

typedef struct igraph_account_t {
    apr_int64_t id;
    const char *platform;      /* "meta_ig" */
    igraph_login_e login;      /* how it was connected (stored as "facebook" | "instagram") */
    const char *ig_user_id;    /* Instagram professional account id (decimal string) */
    const char *owner;         /* Apache user ("" when anonymous use is allowed) */
    const char *username, *name, *picture_url;
    const char *page_id, *page_name;  /* Facebook Login only */
    const char *app_user_id;   /* app-scoped user id (FB user id / IG-scoped id): deauth mapping */
    const char *scopes;        /* granted scopes, comma list */
    igraph_account_status_e status; /* stored as "active" | "needs_reauth" | "disabled" |
                                     * "deauthorized" */
    const char *last_error;
    apr_int64_t token_expires_at; /* expiry of the user token; 0 = never/unknown */
    apr_int64_t token_issued_at;
    apr_int64_t created_at, updated_at;
    apr_int64_t next_refresh_at;  /* maintenance: do not look at the token before (0 = any time) */
    int refresh_failures;         /* consecutive failed refresh attempts */
    /* sealed values as stored; use igraph_store_account_token() to read them */
    const char *access_token_enc; /* token used for publishing (Page token / IG user token) */
    const char *user_token_enc;   /* long-lived user token (Facebook Login), or NULL */
} igraph_account_t;

typedef enum { IGRAPH_TOKEN_ACCESS, IGRAPH_TOKEN_USER } igraph_token_kind_e;

/* Makes sure the schema is current and this connection's statements are prepared. Cheap after
 * the first call on a connection. APR_SUCCESS or an error (logged through igraph_log). */
apr_status_t igraph_store_ready(igraph_db_t *db, apr_pool_t *p);

/* Inserts or (same owner, platform, ig_user_id) updates the account: profile fields, login,
 * tokens (plaintext in, sealed here; a NULL user_token keeps no user token), expiry, scopes; the
 * status becomes active and last_error is cleared. A picture_url that is not an http(s) URL
 * (igraph_http_url_or_null) is stored as NULL, here, in igraph_store_account_tokens_update() and
 * for a job's permalink ("" then) in the job writes. a->id, created_at, updated_at are set on
 * return. */
apr_status_t igraph_store_account_upsert(igraph_db_t *db, apr_pool_t *p, const igraph_key_t *key,
                                         igraph_account_t *a, const char *access_token,
                                         const char *user_token);

/* All accounts of owner, oldest first (array of igraph_account_t*). Lists carry no sealed
 * tokens (access_token_enc and user_token_enc are NULL): read one account for those. */
apr_status_t igraph_store_accounts_list(igraph_db_t *db, apr_pool_t *p, const char *owner,
                                        apr_array_header_t **out);
/* APR_NOTFOUND when the id does not exist or belongs to another owner. */
apr_status_t igraph_store_account_get(igraph_db_t *db, apr_pool_t *p, const char *owner,
                                      apr_int64_t id, igraph_account_t **out);
/* Sets status (and last_error, NULL clears it). APR_NOTFOUND as above; APR_EINVAL for a status
 * outside the enum; APR_EBUSY (nothing written) when the account is deauthorized: only a new
 * connect (igraph_store_account_upsert) makes such an account active again. */
apr_status_t igraph_store_account_set_status(igraph_db_t *db, apr_pool_t *p, const char *owner,
                                             apr_int64_t id, igraph_account_status_e status,
                                             const char *last_error);
apr_status_t igraph_store_account_delete(igraph_db_t *db, apr_pool_t *p, const char *owner,
                                         apr_int64_t id);
/* Resolves the "account" of a publish request among owner's accounts. ref all digits: our id
 * (when it fits in 64 bits) or the ig_user_id (our id wins if both match); otherwise a username,
 * case-insensitively (ASCII), a leading '@' ignored ("@123" is the username "123"). When one
 * username matches several rows (the same IG account linked through both logins), an active one
 * is preferred, then the most recently updated. APR_NOTFOUND when none. */
apr_status_t igraph_store_account_find(igraph_db_t *db, apr_pool_t *p, const char *owner,
                                       const char *ref, igraph_account_t **out);
/* owner's active accounts, oldest first (array of igraph_account_t*). */
apr_status_t igraph_store_accounts_active(igraph_db_t *db, apr_pool_t *p, const char *owner,
                                          apr_array_header_t **out);
/* Decrypts one of the account's tokens; NULL when absent or when it cannot be opened. */
const char *igraph_store_account_token(apr_pool_t *p, const igraph_key_t *key,
                                       const igraph_account_t *a, igraph_token_kind_e kind);

/* OAuth state: only a hash of the state value is stored. put() also purges expired rows. */
apr_status_t igraph_store_state_put(igraph_db_t *db, apr_pool_t *p, const char *state_hash,
                                    const char *owner, igraph_login_e login,
                                    apr_int64_t expires_at);
/* Single use: deletes the row; APR_SUCCESS (and *login, which may be NULL) only when this call
 * removed an unexpired row for that owner; APR_NOTFOUND when missing, used, expired or another
 * owner's; APR_EGENERAL (row deleted, logged) when its login is not one we know. */
apr_status_t igraph_store_state_take(igraph_db_t *db, apr_pool_t *p, const char *state_hash,
                                     const char *owner, apr_int64_t now, igraph_login_e *login);

/* Pending OAuth results (e.g. tokens waiting for Page selection): payload sealed at rest. */
apr_status_t igraph_store_pending_put(igraph_db_t *db, apr_pool_t *p, const igraph_key_t *key,
                                      const char *id, const char *owner, const char *kind,
                                      const char *payload, apr_int64_t expires_at);
/* Reads without consuming (APR_NOTFOUND when missing/expired/other owner). */
apr_status_t igraph_store_pending_get(igraph_db_t *db, apr_pool_t *p, const igraph_key_t *key,
                                      const char *id, const char *owner, apr_int64_t now,
                                      const char **kind, const char **payload);
apr_status_t igraph_store_pending_delete(igraph_db_t *db, apr_pool_t *p, const char *id);

/* ---- maintenance (schema v2) ------------------------------------------------------------- */

/* Named lease shared by every process and server using this database (table leases). Succeeds
 * (APR_SUCCESS) when the lease was free, expired or already held by holder, and is now held until
 * now + ttl; APR_EBUSY when someone else holds it. */
apr_status_t igraph_store_lease(igraph_db_t *db, apr_pool_t *p, const char *name,
                                const char *holder, apr_int64_t now, apr_int64_t ttl);
/* Gives the lease up if holder has it. */
apr_status_t igraph_store_lease_release(igraph_db_t *db, apr_pool_t *p, const char *name,
                                        const char *holder);

/* Accounts whose token needs attention: active, token_expires_at > 0,
 * token_expires_at <= now + window, next_refresh_at <= now; soonest expiry first, at most
 * limit rows (array of igraph_account_t*). Only those of realm ("": the default realm; NULL:
 * every realm; see igraph_owner_key). */
apr_status_t igraph_store_accounts_due(igraph_db_t *db, apr_pool_t *p, const char *realm,
                                       apr_int64_t now, apr_int64_t window, int limit,
                                       apr_array_header_t **out);
/* Reads one account by id whatever its owner (maintenance only). APR_NOTFOUND when missing. */
apr_status_t igraph_store_account_get_any(igraph_db_t *db, apr_pool_t *p, apr_int64_t id,
                                          igraph_account_t **out);

/* Per-account claim, so two workers never refresh one account at once: APR_SUCCESS when the
 * claim was free/expired/ours and is now holder's until `until`; APR_EBUSY otherwise. */
apr_status_t igraph_store_account_claim(igraph_db_t *db, apr_pool_t *p, apr_int64_t id,
                                        const char *holder, apr_int64_t now, apr_int64_t until);
apr_status_t igraph_store_account_unclaim(igraph_db_t *db, apr_pool_t *p, apr_int64_t id,
                                          const char *holder);

/* Stores refreshed tokens (sealed like upsert; a NULL token leaves that column unchanged) with
 * their expiry and issue time, only while the row still has a->status (what the refresh read)
 * and that status is neither deauthorized nor disabled: otherwise nothing is written and
 * APR_EBUSY is returned (a refresh racing with a deauthorization never writes a token back).
 * Nothing is written either when the row already holds a token issued after issued_at:
 * APR_EEXIST (a refresh never stores an older token over a newer one; APR_NOTFOUND when the
 * account is gone). On success last_error is cleared,
 * refresh_failures = 0, next_refresh_at = 0, a needs_reauth status becomes active again (the
 * new token works; disabled stays), and profile fields given non-NULL in a (username, name,
 * picture_url) are updated too. */
apr_status_t igraph_store_account_tokens_update(igraph_db_t *db, apr_pool_t *p,
                                                const igraph_key_t *key,
                                                const igraph_account_t *a,
                                                const char *access_token, const char *user_token,
                                                apr_int64_t expires_at, apr_int64_t issued_at);
/* Records a failed refresh: status (NULL keeps the current one; a deauthorized or disabled
 * account keeps its status whatever is given), last_error, refresh_failures + 1 and
 * next_refresh_at. APR_EINVAL for a status outside the enum. */
apr_status_t igraph_store_account_refresh_failed(igraph_db_t *db, apr_pool_t *p, apr_int64_t id,
                                                 const igraph_account_status_e *status,
                                                 const char *last_error,
                                                 apr_int64_t next_refresh_at);

/* ---- publish jobs (schema v3) ----------------------------------------------------------- */
/* Table jobs: every igraph_job_t field, plus idempotency_key, media_key (duplicate detection),
 * claimed_by / claim_until (worker claims). UNIQUE(owner, idempotency_key) (NULL keys allowed
 * many times). Indexes for the due query (next_at), per-account listing and duplicates. */

/* Inserts a new job (j->id set by the caller: an unguessable token). APR_EEXIST when the owner
 * already has a job with that idempotency_key (nothing inserted). A NULL or "" key is no key. */
apr_status_t igraph_store_job_insert(igraph_db_t *db, apr_pool_t *p, const igraph_job_t *j,
                                     const char *idempotency_key, const char *media_key);
/* One job of a group insert: in job, idempotency_key, media_key as for igraph_store_job_insert();
 * out rv, what igraph_store_job_insert() would have returned for it. */
typedef struct igraph_job_insert_t {
    const igraph_job_t *job;
    const char *idempotency_key, *media_key;
    apr_status_t rv;
} igraph_job_insert_t;
/* Inserts n jobs with one multi-row statement per 16: one commit (one fsync on SQLite) for all
 * of them, the way concurrent accepts are made durable together. Each item gets its own rv
 * (APR_SUCCESS, APR_EEXIST for a repeated idempotency key, also within the group, APR_EINVAL);
 * a database failure gives that error to every item not stored, so nothing is reported stored
 * that is not. */
apr_status_t igraph_store_jobs_insert(igraph_db_t *db, apr_pool_t *p, igraph_job_insert_t **items,
                                      int n);
/* owner NULL: any owner (worker). APR_NOTFOUND when missing or another owner's. */
apr_status_t igraph_store_job_get(igraph_db_t *db, apr_pool_t *p, const char *owner,
                                  const char *id, igraph_job_t **out);
apr_status_t igraph_store_job_by_idempotency(igraph_db_t *db, apr_pool_t *p, const char *owner,
                                             const char *key, igraph_job_t **out);
/* The newest job of that account with that media_key whose status is not failed or cancelled;
 * APR_NOTFOUND when none. */
apr_status_t igraph_store_job_find_duplicate(igraph_db_t *db, apr_pool_t *p,
                                             apr_int64_t account_id, const char *media_key,
                                             igraph_job_t **out);
/* owner's jobs, newest first; status NULL = any, account_id 0 = any; at most limit. */
apr_status_t igraph_store_jobs_list(igraph_db_t *db, apr_pool_t *p, const char *owner,
                                    const char *status, apr_int64_t account_id, int limit,
                                    apr_array_header_t **out);
/* Writes every mutable field of j back (status, ids, counters, times, error, caption ...), only
 * while holder holds the claim: APR_EBUSY otherwise (nothing written). Not written (fixed at
 * insert): id, account_id, owner, login, ig_user_id, media_type, request, created_at. updated_at
 * is written as j has it. */
apr_status_t igraph_store_job_save(igraph_db_t *db, apr_pool_t *p, const igraph_job_t *j,
                                   const char *holder);
/* Cancels owner's job if it is not final, has publish_sent = 0 and nobody holds a live claim:
 * APR_SUCCESS; APR_NOTFOUND (missing / other owner); APR_EBUSY (claimed right now, or too late:
 * published, publishing with publish_sent, failed, cancelled). Cancelling also drops an expired
 * claim, so a late save by that worker gets APR_EBUSY instead of undoing the cancel. */
apr_status_t igraph_store_job_cancel(igraph_db_t *db, apr_pool_t *p, const char *owner,
                                     const char *id, apr_int64_t now);
/* Jobs with 0 < next_at <= now and no live claim, soonest first, at most limit; only those
 * of realm (as for igraph_store_accounts_due). */
apr_status_t igraph_store_jobs_due(igraph_db_t *db, apr_pool_t *p, const char *realm,
                                   apr_int64_t now, int limit, apr_array_header_t **out);
/* Smallest next_at > 0 over all jobs (0 when none): when the worker must wake next. */
apr_status_t igraph_store_jobs_next_due(igraph_db_t *db, apr_pool_t *p, apr_int64_t *next_at);
/* Same claim semantics as accounts (APR_EBUSY when someone else holds a live claim). */
apr_status_t igraph_store_job_claim(igraph_db_t *db, apr_pool_t *p, const char *id,
                                    const char *holder, apr_int64_t now, apr_int64_t until);
apr_status_t igraph_store_job_unclaim(igraph_db_t *db, apr_pool_t *p, const char *id,
                                      const char *holder);
/* Moves an unclaimed queued job's next_at (a start the account cap holds back), so it leaves
 * the due window instead of filling it. */
apr_status_t igraph_store_job_postpone(igraph_db_t *db, apr_pool_t *p, const char *id,
                                       apr_int64_t next_at, apr_int64_t now);
/* Releases every job claim held by holder (a stopping worker). */
apr_status_t igraph_store_jobs_release(igraph_db_t *db, apr_pool_t *p, const char *holder);
/* Jobs of the account in flight (status processing or publishing). */
apr_status_t igraph_store_jobs_in_flight(igraph_db_t *db, apr_pool_t *p, apr_int64_t account_id,
                                         int *count);
/* Successful publishes of the account since `since` (status published, updated_at >= since). */
apr_status_t igraph_store_jobs_published_since(igraph_db_t *db, apr_pool_t *p,
                                               apr_int64_t account_id, apr_int64_t since,
                                               int *count);

/* ---- Meta callbacks (schema v4) --------------------------------------------------------- */
/* Tables deletion_requests (one row per data-deletion callback, keyed by its confirmation code)
 * and events (webhook updates; UNIQUE dedupe, indexed by ig_user_id). A Meta user's accounts are
 * those with that app_user_id, and with that login when login is given (NULL = both logins; a
 * value outside the enum is APR_EINVAL). */

/* Deauthorize callback: the matching accounts become deauthorized, both sealed tokens are
 * erased (igraph_store_account_token() returns NULL afterwards), last_error says why. *count
 * (may be NULL) = accounts changed; 0 is a success too. Only a later connect (upsert) makes them
 * active; igraph_store_account_set_status() refuses them. */
apr_status_t igraph_store_deauthorize(igraph_db_t *db, apr_pool_t *p, const char *app_user_id,
                                      const igraph_login_e *login, int *count);
/* Data-deletion callback, in one transaction: deletes the jobs of the matching accounts, the
 * events of their Instagram accounts (except events of an Instagram account that another,
 * non-matching connection still links), every pending OAuth row of the owners of those accounts,
 * then the accounts themselves (tokens included), and records the request under code with
 * status "completed", accounts_deleted = *count and completed_at = now, also when nothing matched.
 * Any failure rolls everything back (the code is not recorded then). */
apr_status_t igraph_store_data_deletion(igraph_db_t *db, apr_pool_t *p, const char *app_user_id,
                                        const igraph_login_e *login, const char *code, int *count);
/* Status of a deletion request (every output may be NULL). APR_NOTFOUND for an unknown code. */
apr_status_t igraph_store_deletion_get(igraph_db_t *db, apr_pool_t *p, const char *code,
                                       const char **status, int *accounts_deleted,
                                       apr_int64_t *created_at, apr_int64_t *completed_at);
/* Stores one webhook event (ig_id, field, time as event_time; received_at = e->received_at, or
 * now when 0) if an account (any owner, any status) links ig_id. The payload (e->value) is
 * sealed with key like the tokens (associated data: the row's ig_user_id and stored dedupe), and
 * the stored de-duplication key is an HMAC under key of e->dedupe. APR_EEXIST when the same event
 * is already stored, APR_NOTFOUND when no account links ig_id (nothing written either way). */
apr_status_t igraph_store_event_insert(igraph_db_t *db, apr_pool_t *p, const igraph_key_t *key,
                                       const igraph_webhook_event_t *e);
/* Events of owner's accounts (any status), newest first (received_at, then id), at most limit
 * (igraph_webhook_event_t*, with id, received_at and the opened payload as value; object is
 * NULL: it is not stored). Rows whose payload cannot be opened with key are left out (one
 * warning). */
apr_status_t igraph_store_events_list(igraph_db_t *db, apr_pool_t *p, const igraph_key_t *key,
                                      const char *owner, int limit, apr_array_header_t **out);
/* Retention (schema v6): deletes at most limit events received before `before`, oldest first;
 * *count (may be NULL) = rows deleted. APR_EINVAL for limit <= 0. */
apr_status_t igraph_store_events_purge(igraph_db_t *db, apr_pool_t *p, apr_int64_t before,
                                       int limit, int *count);

#endif
