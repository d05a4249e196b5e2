/* igraph_store.c: accounts and publish jobs in SQL through apr_dbd (see igraph_store.h for the
 * contract).
 *
 * Layout: a dialect table (the few places sqlite3 and pgsql differ), the migrations (a static
 * list of versions, each a list of DDL statements), the labelled statements (one enum entry and
 * one SQL text per operation), then the small helpers every public function goes through
 * (igraph_store_query / igraph_store_select), then the public functions.
 *
 * All statement arguments travel as strings (apr_dbd's %s / %ld markers; integers are formatted
 * here), NULL arguments become SQL NULL on both drivers, and NULL columns are detected with
 * apr_dbd_datum_get() == APR_ENOENT because pgsql's apr_dbd_get_entry() returns "" for NULL.
 */
#include <limits.h>
#include <string.h>

#include <apr_atomic.h>
#include <apr_hash.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_time.h>

#include "igraph_crypto.h"
#include "igraph_log.h"
#include "igraph_store.h"
#include "igraph_util.h"

#define IGRAPH_PLATFORM_DEFAULT "meta_ig"

/* ---- dialects --------------------------------------------------------------------------- */

typedef struct igraph_dialect_t {
    const char *driver;   /* apr_dbd_name() */
    const char *auto_id;  /* replaces "@ID@" in DDL */
    const char *prepare;  /* run once before the migration transaction (outside it), or NULL */
    const char *begin;    /* starts a transaction that holds the write lock */
    const char *lock_sql; /* serialises migrators inside the transaction (a SELECT), or NULL */
} igraph_dialect_t;

static const igraph_dialect_t igraph_dialects[] = {
    /* WAL is a property of the database file: set once, before the first writer. The PRAGMA
     * returns a row, so apr_dbd_query() answers 100 (SQLITE_ROW); that is not an error. */
    {"sqlite3", "INTEGER PRIMARY KEY AUTOINCREMENT", "PRAGMA journal_mode=WAL", "BEGIN IMMEDIATE",
     NULL},
    /* Concurrent CREATE TABLE IF NOT EXISTS races on pg's catalog; the transaction-scoped
     * advisory lock ("igraph" + 1) makes the second migrator wait and then see the new version. */
    {"pgsql", "BIGSERIAL PRIMARY KEY", NULL, "BEGIN",
     "SELECT pg_advisory_xact_lock(7595165059406888961)"},
};

/* ---- schema ----------------------------------------------------------------------------- */

/* Created (idempotently) inside every migration transaction before the version is read, so the
 * read never fails on an empty database; it belongs to schema version 1. */
static const char igraph_schema_migrations_ddl[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)";

static const char *const igraph_schema_v1[] = {
    "CREATE TABLE IF NOT EXISTS accounts ("
    "id @ID@, "
    "platform TEXT NOT NULL DEFAULT 'meta_ig', "
    "login TEXT NOT NULL, "
    "ig_user_id TEXT NOT NULL, "
    "owner TEXT NOT NULL, "
    "username TEXT, name TEXT, picture_url TEXT, "
    "page_id TEXT, page_name TEXT, app_user_id TEXT, "
    "access_token_enc TEXT, user_token_enc TEXT, "
    "token_expires_at BIGINT NOT NULL DEFAULT 0, "
    "token_issued_at BIGINT NOT NULL DEFAULT 0, "
    "scopes TEXT, "
    "status TEXT NOT NULL DEFAULT 'active', "
    "last_error TEXT, "
    "created_at BIGINT NOT NULL, "
    "updated_at BIGINT NOT NULL, "
    "UNIQUE (owner, platform, ig_user_id))",
    "CREATE INDEX IF NOT EXISTS accounts_app_user_id ON accounts (app_user_id)",
    "CREATE TABLE IF NOT EXISTS oauth_states ("
    "state_hash TEXT PRIMARY KEY, "
    "owner TEXT NOT NULL, "
    "login TEXT NOT NULL, "
    "created_at BIGINT NOT NULL, "
    "expires_at BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS oauth_pending ("
    "id TEXT PRIMARY KEY, "
    "owner TEXT NOT NULL, "
    "kind TEXT NOT NULL, "
    "payload_enc TEXT NOT NULL, "
    "created_at BIGINT NOT NULL, "
    "expires_at BIGINT NOT NULL)",
    NULL,
};

/* Maintenance: refresh scheduling and claims on accounts, named leases. SQLite cannot add a
 * column "IF NOT EXISTS"; the version check in the same transaction makes that unnecessary. */
static const char *const igraph_schema_v2[] = {
    "ALTER TABLE accounts ADD COLUMN next_refresh_at BIGINT NOT NULL DEFAULT 0",
    "ALTER TABLE accounts ADD COLUMN refresh_failures INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE accounts ADD COLUMN claimed_by TEXT",
    "ALTER TABLE accounts ADD COLUMN claim_until BIGINT NOT NULL DEFAULT 0",
    "CREATE TABLE IF NOT EXISTS leases ("
    "name TEXT PRIMARY KEY, "
    "holder TEXT NOT NULL, "
    "expires_at BIGINT NOT NULL)",
    /* the due-query: status = 'active' AND token_expires_at BETWEEN ... ORDER BY expiry */
    "CREATE INDEX IF NOT EXISTS accounts_due ON accounts (status, token_expires_at)",
    NULL,
};

/* Publish jobs: one row per post, every igraph_job_t field plus what the store needs itself
 * (idempotency and duplicate keys, worker claims). Nullable text columns keep NULL apart from ""
 * (permalink NULL: not read yet, "": Meta gave none). UNIQUE allows many NULL keys on both
 * drivers. */
static const char *const igraph_schema_v3[] = {
    "CREATE TABLE IF NOT EXISTS jobs ("
    "id TEXT PRIMARY KEY, "
    "account_id BIGINT NOT NULL, "
    "owner TEXT NOT NULL, "
    "login TEXT, ig_user_id TEXT, "
    "media_type TEXT NOT NULL, "
    "status TEXT NOT NULL, "
    "request TEXT, "
    "creation_id TEXT, children TEXT, media_id TEXT, permalink TEXT, "
    "error TEXT, error_message TEXT, "
    "n_children_expected INTEGER NOT NULL DEFAULT 0, "
    "children_ready INTEGER NOT NULL DEFAULT 0, "
    "attempts INTEGER NOT NULL DEFAULT 0, "
    "polls INTEGER NOT NULL DEFAULT 0, "
    "publish_sent INTEGER NOT NULL DEFAULT 0, "
    "error_subcode BIGINT NOT NULL DEFAULT 0, "
    "created_at BIGINT NOT NULL, "
    "updated_at BIGINT NOT NULL, "
    "publish_at BIGINT NOT NULL DEFAULT 0, "
    "next_at BIGINT NOT NULL DEFAULT 0, "
    "container_created_at BIGINT NOT NULL DEFAULT 0, "
    "deadline BIGINT NOT NULL DEFAULT 0, "
    "caption TEXT, "
    "idempotency_key TEXT, "
    "media_key TEXT, "
    "claimed_by TEXT, "
    "claim_until BIGINT NOT NULL DEFAULT 0, "
    "UNIQUE (owner, idempotency_key))",
    /* the worker's due query and its wake-up time */
    "CREATE INDEX IF NOT EXISTS jobs_next_at ON jobs (next_at)",
    /* listing, newest first */
    "CREATE INDEX IF NOT EXISTS jobs_owner_created ON jobs (owner, created_at)",
    /* "same media as an earlier job" */
    "CREATE INDEX IF NOT EXISTS jobs_account_media ON jobs (account_id, media_key)",
    /* in-flight and published counts per account */
    "CREATE INDEX IF NOT EXISTS jobs_account_status ON jobs (account_id, status)",
    NULL,
};

/* Meta platform callbacks: data-deletion requests (kept for the public status page) and webhook
 * events (de-duplicated by a hash of their content, listed per account). */
static const char *const igraph_schema_v4[] = {
    "CREATE TABLE IF NOT EXISTS deletion_requests ("
    "code TEXT PRIMARY KEY, "
    "app_user_id TEXT NOT NULL, "
    "login TEXT, "
    "status TEXT NOT NULL, "
    "accounts_deleted INTEGER NOT NULL DEFAULT 0, "
    "created_at BIGINT NOT NULL, "
    "completed_at BIGINT NOT NULL DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS events ("
    "id @ID@, "
    "ig_user_id TEXT NOT NULL, "
    "field TEXT NOT NULL, "
    "payload TEXT NOT NULL, "
    "event_time BIGINT NOT NULL, "
    "received_at BIGINT NOT NULL, "
    "dedupe TEXT NOT NULL UNIQUE)",
    /* listing per account and deletion by account */
    "CREATE INDEX IF NOT EXISTS events_ig_user_id ON events (ig_user_id)",
    NULL,
};

/* Indexes for the reads every request makes: an owner's accounts oldest first without a sort
 * (the accounts page and API, the publish account pick), and an account's publishes of the last
 * 24 hours (the quota check on every accept) as a range instead of every published job of the
 * account; the new index serves the (account_id, status) lookups of the one it replaces. */
static const char *const igraph_schema_v5[] = {
    "CREATE INDEX IF NOT EXISTS accounts_owner_created ON accounts (owner, created_at, id)",
    "CREATE INDEX IF NOT EXISTS jobs_account_status_updated ON jobs (account_id, status, "
    "updated_at)",
    "DROP INDEX IF EXISTS jobs_account_status",
    NULL,
};

/* Webhook events are sealed from now on and kept only for connected accounts: the rows stored
 * before were neither, so they go (Meta's notifications are not resent; nothing else refers to
 * them). The retention purge reads events by received_at, the insert accounts by
 * ig_user_id. */
static const char *const igraph_schema_v6[] = {
    "DELETE FROM events WHERE payload NOT LIKE 'v1.%'",
    "CREATE INDEX IF NOT EXISTS events_received_at ON events (received_at, id)",
    /* every stored event first asks whether an account links its Instagram id */
    "CREATE INDEX IF NOT EXISTS accounts_ig_user_id ON accounts (ig_user_id)",
    NULL,
};

typedef struct igraph_migration_t {
    int version;
    const char *const *statements; /* NULL-terminated */
} igraph_migration_t;

/* Applied in order. A new version is one line here (plus its statement list above and
 * IGRAPH_SCHEMA_VERSION in igraph_store.h). Versions must ascend. */
static const igraph_migration_t igraph_migrations[] = {
    {1, igraph_schema_v1},
    {2, igraph_schema_v2},
    {3, igraph_schema_v3},
    {4, igraph_schema_v4},
    {5, igraph_schema_v5},
    {6, igraph_schema_v6},
};

#define IGRAPH_MIGRATE_TRIES 5

/* ---- labelled statements ---------------------------------------------------------------- */

/* Column order shared by every SELECT that fills an igraph_account_t (see igraph_account_read). */
#define IGRAPH_ACCOUNT_HEAD_COLS                                                                   \
    "id, platform, login, ig_user_id, owner, username, name, picture_url, page_id, page_name, "    \
    "app_user_id, scopes, status, last_error, token_expires_at, token_issued_at, created_at, "     \
    "updated_at, "
/* The rows of one realm (see igraph_account.h), for the maintenance work of one site; its
 * arguments come from igraph_realm_args(): for the default realm the first pair is the pattern
 * of a qualified key (which its rows must not match), for another realm the last three are the
 * key prefix "<realm>\x1f"; NULL arguments switch a test off (every realm: all of them). */
#define IGRAPH_REALM_FILTER                                                                   \
    "(%s IS NULL OR owner NOT LIKE %s) AND (%s IS NULL OR substr(owner, 1, length(%s)) = %s)"
#define IGRAPH_REALM_NARGS 5

#define IGRAPH_ACCOUNT_COLS                                                                        \
    IGRAPH_ACCOUNT_HEAD_COLS "access_token_enc, user_token_enc, next_refresh_at, refresh_failures"
/* Lists (the page, the API, the publish account pick) never need a token: the sealed columns
 * stay in the database instead of being copied out for every row of every request. */
#define IGRAPH_ACCOUNT_LIST_COLS                                                                   \
    IGRAPH_ACCOUNT_HEAD_COLS "NULL, NULL, next_refresh_at, refresh_failures"

enum {
    IGRAPH_COL_ID,
    IGRAPH_COL_PLATFORM,
    IGRAPH_COL_LOGIN,
    IGRAPH_COL_IG_USER_ID,
    IGRAPH_COL_OWNER,
    IGRAPH_COL_USERNAME,
    IGRAPH_COL_NAME,
    IGRAPH_COL_PICTURE_URL,
    IGRAPH_COL_PAGE_ID,
    IGRAPH_COL_PAGE_NAME,
    IGRAPH_COL_APP_USER_ID,
    IGRAPH_COL_SCOPES,
    IGRAPH_COL_STATUS,
    IGRAPH_COL_LAST_ERROR,
    IGRAPH_COL_TOKEN_EXPIRES_AT,
    IGRAPH_COL_TOKEN_ISSUED_AT,
    IGRAPH_COL_CREATED_AT,
    IGRAPH_COL_UPDATED_AT,
    IGRAPH_COL_ACCESS_TOKEN_ENC,
    IGRAPH_COL_USER_TOKEN_ENC,
    IGRAPH_COL_NEXT_REFRESH_AT,
    IGRAPH_COL_REFRESH_FAILURES,
};

/* Column order shared by every SELECT that fills an igraph_job_t (see igraph_job_read); the
 * INSERT lists the same columns in the same order. */
#define IGRAPH_JOB_COLS                                                                            \
    "id, account_id, owner, login, ig_user_id, media_type, status, request, creation_id, "         \
    "children, n_children_expected, children_ready, media_id, permalink, error, error_message, "   \
    "error_subcode, attempts, polls, publish_sent, created_at, updated_at, publish_at, next_at, "  \
    "container_created_at, deadline, caption"

enum {
    IGRAPH_JCOL_ID,
    IGRAPH_JCOL_ACCOUNT_ID,
    IGRAPH_JCOL_OWNER,
    IGRAPH_JCOL_LOGIN,
    IGRAPH_JCOL_IG_USER_ID,
    IGRAPH_JCOL_MEDIA_TYPE,
    IGRAPH_JCOL_STATUS,
    IGRAPH_JCOL_REQUEST,
    IGRAPH_JCOL_CREATION_ID,
    IGRAPH_JCOL_CHILDREN,
    IGRAPH_JCOL_N_CHILDREN_EXPECTED,
    IGRAPH_JCOL_CHILDREN_READY,
    IGRAPH_JCOL_MEDIA_ID,
    IGRAPH_JCOL_PERMALINK,
    IGRAPH_JCOL_ERROR,
    IGRAPH_JCOL_ERROR_MESSAGE,
    IGRAPH_JCOL_ERROR_SUBCODE,
    IGRAPH_JCOL_ATTEMPTS,
    IGRAPH_JCOL_POLLS,
    IGRAPH_JCOL_PUBLISH_SENT,
    IGRAPH_JCOL_CREATED_AT,
    IGRAPH_JCOL_UPDATED_AT,
    IGRAPH_JCOL_PUBLISH_AT,
    IGRAPH_JCOL_NEXT_AT,
    IGRAPH_JCOL_CONTAINER_CREATED_AT,
    IGRAPH_JCOL_DEADLINE,
    IGRAPH_JCOL_CAPTION,
};

typedef enum {
    IGRAPH_ST_ACCOUNT_UPSERT,
    IGRAPH_ST_ACCOUNT_LIST,
    IGRAPH_ST_ACCOUNT_GET,
    IGRAPH_ST_ACCOUNT_SET_STATUS,
    IGRAPH_ST_ACCOUNT_DELETE,
    IGRAPH_ST_STATE_PURGE,
    IGRAPH_ST_STATE_INSERT,
    IGRAPH_ST_STATE_SELECT,
    IGRAPH_ST_STATE_DELETE,
    IGRAPH_ST_PENDING_PURGE,
    IGRAPH_ST_PENDING_INSERT,
    IGRAPH_ST_PENDING_SELECT,
    IGRAPH_ST_PENDING_DELETE,
    IGRAPH_ST_LEASE_INSERT,
    IGRAPH_ST_LEASE_TAKE,
    IGRAPH_ST_LEASE_RELEASE,
    IGRAPH_ST_ACCOUNT_DUE,
    IGRAPH_ST_ACCOUNT_GET_ANY,
    IGRAPH_ST_ACCOUNT_CLAIM,
    IGRAPH_ST_ACCOUNT_UNCLAIM,
    IGRAPH_ST_ACCOUNT_TOKENS_UPDATE,
    IGRAPH_ST_ACCOUNT_REFRESH_FAILED,
    IGRAPH_ST_ACCOUNT_FIND_NUM,
    IGRAPH_ST_ACCOUNT_FIND_NAME,
    IGRAPH_ST_ACCOUNT_ACTIVE,
    IGRAPH_ST_JOB_INSERT,
    IGRAPH_ST_JOB_GET,
    IGRAPH_ST_JOB_GET_ANY,
    IGRAPH_ST_JOB_BY_IDEMPOTENCY,
    IGRAPH_ST_JOB_DUPLICATE,
    IGRAPH_ST_JOB_LIST,
    IGRAPH_ST_JOB_SAVE,
    IGRAPH_ST_JOB_CANCEL,
    IGRAPH_ST_JOB_DUE,
    IGRAPH_ST_JOB_NEXT_DUE,
    IGRAPH_ST_JOB_CLAIM,
    IGRAPH_ST_JOB_UNCLAIM,
    IGRAPH_ST_JOB_POSTPONE,
    IGRAPH_ST_JOB_RELEASE,
    IGRAPH_ST_JOB_IN_FLIGHT,
    IGRAPH_ST_JOB_PUBLISHED_SINCE,
    IGRAPH_ST_META_DEAUTHORIZE,
    IGRAPH_ST_META_DEL_JOBS,
    IGRAPH_ST_META_DEL_EVENTS,
    IGRAPH_ST_META_DEL_PENDING,
    IGRAPH_ST_META_DEL_ACCOUNTS,
    IGRAPH_ST_DELETION_INSERT,
    IGRAPH_ST_DELETION_GET,
    IGRAPH_ST_EVENT_INSERT,
    IGRAPH_ST_EVENT_ACCOUNT,
    IGRAPH_ST_EVENT_PURGE,
    IGRAPH_ST_EVENT_LIST,
    IGRAPH_ST_COUNT
} igraph_stmt_e;

typedef struct igraph_stmt_t {
    const char *label; /* key in db->prepared; must start with "igraph_" */
    const char *sql;   /* apr_dbd markers: %s text, %ld 64-bit integer, %d int (all passed as
                        * strings; pgsql declares them varchar / bigint / integer) */
} igraph_stmt_t;

static const igraph_stmt_t igraph_stmts[IGRAPH_ST_COUNT] = {
    [IGRAPH_ST_ACCOUNT_UPSERT] =
        {"igraph_account_upsert",
         "INSERT INTO accounts (platform, login, ig_user_id, owner, username, name, picture_url, "
         "page_id, page_name, app_user_id, access_token_enc, user_token_enc, token_expires_at, "
         "token_issued_at, scopes, status, last_error, created_at, updated_at) "
         "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %ld, %ld, %s, 'active', NULL, "
         "%ld, %ld) "
         "ON CONFLICT (owner, platform, ig_user_id) DO UPDATE SET "
         "login = excluded.login, username = excluded.username, name = excluded.name, "
         "picture_url = excluded.picture_url, page_id = excluded.page_id, "
         "page_name = excluded.page_name, app_user_id = excluded.app_user_id, "
         "access_token_enc = excluded.access_token_enc, "
         "user_token_enc = excluded.user_token_enc, "
         "token_expires_at = excluded.token_expires_at, "
         "token_issued_at = excluded.token_issued_at, scopes = excluded.scopes, "
         "status = 'active', last_error = NULL, refresh_failures = 0, next_refresh_at = 0, "
         "updated_at = excluded.updated_at "
         "RETURNING id, created_at, updated_at"},
    [IGRAPH_ST_ACCOUNT_LIST] = {"igraph_account_list",
                                "SELECT " IGRAPH_ACCOUNT_LIST_COLS " FROM accounts WHERE owner = "
                                "%s ORDER BY created_at, id"},
    [IGRAPH_ST_ACCOUNT_GET] = {"igraph_account_get",
                               "SELECT " IGRAPH_ACCOUNT_COLS
                               " FROM accounts WHERE id = %ld AND owner = %s"},
    /* A deauthorized account leaves that status only through a new connect (upsert): enable
     * or disable could otherwise turn it into an ordinary account again, here and in a race
     * with the deauthorize callback alike. */
    [IGRAPH_ST_ACCOUNT_SET_STATUS] = {"igraph_account_set_status",
                                      "UPDATE accounts SET status = %s, last_error = %s, "
                                      "updated_at = %ld WHERE id = %ld AND owner = %s "
                                      "AND status <> 'deauthorized'"},
    [IGRAPH_ST_ACCOUNT_DELETE] = {"igraph_account_delete",
                                  "DELETE FROM accounts WHERE id = %ld AND owner = %s"},
    [IGRAPH_ST_STATE_PURGE] = {"igraph_state_purge",
                               "DELETE FROM oauth_states WHERE expires_at < %ld"},
    [IGRAPH_ST_STATE_INSERT] = {"igraph_state_insert",
                                "INSERT INTO oauth_states (state_hash, owner, login, created_at, "
                                "expires_at) VALUES (%s, %s, %s, %ld, %ld)"},
    [IGRAPH_ST_STATE_SELECT] = {"igraph_state_select",
                                "SELECT login FROM oauth_states WHERE state_hash = %s "
                                "AND owner = %s AND expires_at > %ld"},
    [IGRAPH_ST_STATE_DELETE] = {"igraph_state_delete",
                                "DELETE FROM oauth_states WHERE state_hash = %s AND owner = %s "
                                "AND expires_at > %ld"},
    [IGRAPH_ST_PENDING_PURGE] = {"igraph_pending_purge",
                                 "DELETE FROM oauth_pending WHERE expires_at < %ld"},
    [IGRAPH_ST_PENDING_INSERT] = {"igraph_pending_insert",
                                  "INSERT INTO oauth_pending (id, owner, kind, payload_enc, "
                                  "created_at, expires_at) VALUES (%s, %s, %s, %s, %ld, %ld)"},
    [IGRAPH_ST_PENDING_SELECT] = {"igraph_pending_select",
                                  "SELECT kind, payload_enc FROM oauth_pending WHERE id = %s "
                                  "AND owner = %s AND expires_at > %ld"},
    [IGRAPH_ST_PENDING_DELETE] = {"igraph_pending_delete",
                                  "DELETE FROM oauth_pending WHERE id = %s"},
    /* A lease is taken by inserting it, or by updating it when it is ours or has expired; the
     * row count says who won (both statements are single atomic writes). */
    [IGRAPH_ST_LEASE_INSERT] =
        {"igraph_lease_insert",
         "INSERT INTO leases (name, holder, expires_at) VALUES (%s, %s, %ld) "
         "ON CONFLICT (name) DO NOTHING"},
    [IGRAPH_ST_LEASE_TAKE] = {"igraph_lease_take",
                              "UPDATE leases SET holder = %s, expires_at = %ld WHERE name = %s "
                              "AND (holder = %s OR expires_at < %ld)"},
    [IGRAPH_ST_LEASE_RELEASE] = {"igraph_lease_release",
                                 "DELETE FROM leases WHERE name = %s AND holder = %s"},
    [IGRAPH_ST_ACCOUNT_DUE] = {"igraph_account_due",
                               "SELECT " IGRAPH_ACCOUNT_COLS " FROM accounts "
                               "WHERE status = 'active' AND token_expires_at > 0 "
                               "AND token_expires_at <= %ld AND next_refresh_at <= %ld "
                               "AND " IGRAPH_REALM_FILTER " "
                               "ORDER BY token_expires_at, id LIMIT %ld"},
    [IGRAPH_ST_ACCOUNT_GET_ANY] = {"igraph_account_get_any",
                                   "SELECT " IGRAPH_ACCOUNT_COLS " FROM accounts WHERE id = %ld"},
    [IGRAPH_ST_ACCOUNT_CLAIM] = {"igraph_account_claim",
                                 "UPDATE accounts SET claimed_by = %s, claim_until = %ld "
                                 "WHERE id = %ld AND (claimed_by IS NULL OR claimed_by = %s "
                                 "OR claim_until < %ld)"},
    [IGRAPH_ST_ACCOUNT_UNCLAIM] = {"igraph_account_unclaim",
                                   "UPDATE accounts SET claimed_by = NULL, claim_until = 0 "
                                   "WHERE id = %ld AND claimed_by = %s"},
    /* The issued_at guard makes the write conditional in one statement: a token stored by a
     * newer login or refresh is never replaced by an older one. The status guard does the same
     * for a deauthorization, a disable or a reconnect-needed that came while Meta was asked:
     * the row must still have the status the refresh read, and never one that forbids tokens.
     * A successful refresh proves the token works, so needs_reauth becomes active again. */
    [IGRAPH_ST_ACCOUNT_TOKENS_UPDATE] =
        {"igraph_account_tokens_update",
         "UPDATE accounts SET access_token_enc = COALESCE(%s, access_token_enc), "
         "user_token_enc = COALESCE(%s, user_token_enc), token_expires_at = %ld, "
         "token_issued_at = %ld, username = COALESCE(%s, username), "
         "name = COALESCE(%s, name), picture_url = COALESCE(%s, picture_url), "
         "status = CASE WHEN status = 'needs_reauth' THEN 'active' ELSE status END, "
         "last_error = NULL, refresh_failures = 0, next_refresh_at = 0, updated_at = %ld "
         "WHERE id = %ld AND token_issued_at <= %ld AND status = %s "
         "AND status NOT IN ('deauthorized', 'disabled')"},
    /* a failure never turns a deauthorized or disabled account into needs_reauth */
    [IGRAPH_ST_ACCOUNT_REFRESH_FAILED] = {"igraph_account_refresh_failed",
                                          "UPDATE accounts SET status = CASE WHEN status IN "
                                          "('deauthorized', 'disabled') THEN status "
                                          "ELSE COALESCE(%s, status) END, "
                                          "last_error = %s, "
                                          "refresh_failures = refresh_failures + 1, "
                                          "next_refresh_at = %ld, updated_at = %ld WHERE id = %ld"},
    /* Publish request "account" references. A NULL id argument (digits beyond 64 bits) never
     * matches. LOWER() folds ASCII only on sqlite, which is what IG usernames use. */
    [IGRAPH_ST_ACCOUNT_FIND_NUM] = {"igraph_account_find_num",
                                    "SELECT " IGRAPH_ACCOUNT_COLS " FROM accounts "
                                    "WHERE owner = %s AND (id = %ld OR ig_user_id = %s) "
                                    "ORDER BY created_at, id"},
    [IGRAPH_ST_ACCOUNT_FIND_NAME] =
        {"igraph_account_find_name",
         "SELECT " IGRAPH_ACCOUNT_COLS " FROM accounts "
         "WHERE owner = %s AND LOWER(username) = LOWER(%s) "
         "ORDER BY CASE WHEN status = 'active' THEN 0 ELSE 1 END, updated_at DESC, id DESC"},
    [IGRAPH_ST_ACCOUNT_ACTIVE] = {"igraph_account_active",
                                  "SELECT " IGRAPH_ACCOUNT_LIST_COLS " FROM accounts "
                                  "WHERE owner = %s AND status = 'active' ORDER BY created_at, id"},
    /* The idempotency key decides in the INSERT itself: a concurrent request with the same key
     * inserts nothing (0 rows) instead of failing, on both drivers. */
    [IGRAPH_ST_JOB_INSERT] = {"igraph_job_insert",
                              "INSERT INTO jobs (" IGRAPH_JOB_COLS ", idempotency_key, media_key) "
                              "VALUES (%s, %ld, %s, %s, %s, %s, %s, %s, %s, %s, %d, %d, %s, %s, "
                              "%s, %s, %ld, %d, %d, %d, %ld, %ld, %ld, %ld, %ld, %ld, %s, %s, %s) "
                              "ON CONFLICT (owner, idempotency_key) DO NOTHING"},
    [IGRAPH_ST_JOB_GET] = {"igraph_job_get",
                           "SELECT " IGRAPH_JOB_COLS " FROM jobs WHERE id = %s AND owner = %s"},
    [IGRAPH_ST_JOB_GET_ANY] = {"igraph_job_get_any",
                               "SELECT " IGRAPH_JOB_COLS " FROM jobs WHERE id = %s"},
    [IGRAPH_ST_JOB_BY_IDEMPOTENCY] = {"igraph_job_by_idempotency",
                                      "SELECT " IGRAPH_JOB_COLS " FROM jobs "
                                      "WHERE owner = %s AND idempotency_key = %s"},
    [IGRAPH_ST_JOB_DUPLICATE] = {"igraph_job_duplicate",
                                 "SELECT " IGRAPH_JOB_COLS " FROM jobs "
                                 "WHERE account_id = %ld AND media_key = %s "
                                 "AND status NOT IN ('failed', 'cancelled') "
                                 "ORDER BY created_at DESC, id DESC LIMIT 1"},
    /* Optional filters as "arg IS NULL OR ...": the arguments are typed (pg declares them), and
     * no bound value is compared with a literal (sqlite would compare '0' with 0 as unequal). */
    [IGRAPH_ST_JOB_LIST] = {"igraph_job_list",
                            "SELECT " IGRAPH_JOB_COLS " FROM jobs WHERE owner = %s "
                            "AND (%s IS NULL OR status = %s) "
                            "AND (%ld IS NULL OR account_id = %ld) "
                            "ORDER BY created_at DESC, id DESC LIMIT %d"},
    [IGRAPH_ST_JOB_SAVE] = {"igraph_job_save",
                            "UPDATE jobs SET status = %s, creation_id = %s, children = %s, "
                            "n_children_expected = %d, children_ready = %d, media_id = %s, "
                            "permalink = %s, error = %s, error_message = %s, "
                            "error_subcode = %ld, attempts = %d, polls = %d, publish_sent = %d, "
                            "updated_at = %ld, publish_at = %ld, next_at = %ld, "
                            "container_created_at = %ld, deadline = %ld, caption = %s "
                            "WHERE id = %s AND claimed_by = %s"},
    /* One conditional write: a worker that claims the row at the same moment either sees the
     * cancelled status or makes this match nothing. An expired claim is dropped with it. */
    [IGRAPH_ST_JOB_CANCEL] =
        {"igraph_job_cancel",
         "UPDATE jobs SET status = 'cancelled', next_at = 0, updated_at = %ld, "
         "claimed_by = NULL, claim_until = 0 "
         "WHERE id = %s AND owner = %s "
         "AND status IN ('queued', 'processing', 'publishing') "
         "AND publish_sent = 0 AND (claimed_by IS NULL OR claim_until < %ld)"},
    [IGRAPH_ST_JOB_DUE] = {"igraph_job_due", "SELECT " IGRAPH_JOB_COLS " FROM jobs "
                                             "WHERE next_at > 0 AND next_at <= %ld "
                                             "AND (claimed_by IS NULL OR claim_until < %ld) "
                                             "AND " IGRAPH_REALM_FILTER " "
                                             /* running posts first: queued ones an account
                                              * cap holds back must never crowd them out */
                                             "ORDER BY CASE WHEN status = 'queued' THEN 1 "
                                             "ELSE 0 END, next_at, created_at, id LIMIT %d"},
    [IGRAPH_ST_JOB_POSTPONE] = {"igraph_job_postpone",
                                "UPDATE jobs SET next_at = %ld WHERE id = %s "
                                "AND status = 'queued' AND next_at > 0 "
                                "AND (claimed_by IS NULL OR claim_until < %ld)"},
    [IGRAPH_ST_JOB_NEXT_DUE] = {"igraph_job_next_due",
                                "SELECT MIN(next_at) FROM jobs WHERE next_at > 0"},
    [IGRAPH_ST_JOB_CLAIM] = {"igraph_job_claim",
                             "UPDATE jobs SET claimed_by = %s, claim_until = %ld "
                             "WHERE id = %s AND (claimed_by IS NULL OR claimed_by = %s "
                             "OR claim_until < %ld)"},
    [IGRAPH_ST_JOB_UNCLAIM] = {"igraph_job_unclaim",
                               "UPDATE jobs SET claimed_by = NULL, claim_until = 0 "
                               "WHERE id = %s AND claimed_by = %s"},
    [IGRAPH_ST_JOB_RELEASE] = {"igraph_job_release",
                               "UPDATE jobs SET claimed_by = NULL, claim_until = 0 "
                               "WHERE claimed_by = %s"},
    [IGRAPH_ST_JOB_IN_FLIGHT] = {"igraph_job_in_flight",
                                 "SELECT COUNT(*) FROM jobs WHERE account_id = %ld "
                                 "AND status IN ('processing', 'publishing')"},
    [IGRAPH_ST_JOB_PUBLISHED_SINCE] = {"igraph_job_published_since",
                                       "SELECT COUNT(*) FROM jobs WHERE account_id = %ld "
                                       "AND status = 'published' AND updated_at >= %ld"},
    /* Meta callbacks. The accounts of one Meta user are "app_user_id = $1 AND ($2 IS NULL OR
     * login = $3)" everywhere (login NULL: both logins); the filter repeats in every statement
     * because each one is a single prepared statement with its own arguments. */
    [IGRAPH_ST_META_DEAUTHORIZE] =
        {"igraph_meta_deauthorize",
         "UPDATE accounts SET status = 'deauthorized', access_token_enc = NULL, "
         "user_token_enc = NULL, last_error = 'access removed on Meta (deauthorized)', "
         "next_refresh_at = 0, updated_at = %ld "
         "WHERE app_user_id = %s AND (%s IS NULL OR login = %s)"},
    [IGRAPH_ST_META_DEL_JOBS] = {"igraph_meta_del_jobs",
                                 "DELETE FROM jobs WHERE account_id IN (SELECT id FROM accounts "
                                 "WHERE app_user_id = %s AND (%s IS NULL OR login = %s))"},
    /* Events belong to the Instagram account, which another remaining connection (the other
     * login, another owner) may still use: those are kept. */
    [IGRAPH_ST_META_DEL_EVENTS] =
        {"igraph_meta_del_events",
         "DELETE FROM events WHERE ig_user_id IN (SELECT ig_user_id FROM accounts "
         "WHERE app_user_id = %s AND (%s IS NULL OR login = %s)) "
         "AND ig_user_id NOT IN (SELECT ig_user_id FROM accounts "
         "WHERE app_user_id IS NULL OR app_user_id <> %s OR (%s IS NOT NULL AND login <> %s))"},
    [IGRAPH_ST_META_DEL_PENDING] = {"igraph_meta_del_pending",
                                    "DELETE FROM oauth_pending WHERE owner IN (SELECT owner FROM "
                                    "accounts WHERE app_user_id = %s AND (%s IS NULL OR "
                                    "login = %s))"},
    [IGRAPH_ST_META_DEL_ACCOUNTS] = {"igraph_meta_del_accounts",
                                     "DELETE FROM accounts "
                                     "WHERE app_user_id = %s AND (%s IS NULL OR login = %s)"},
    [IGRAPH_ST_DELETION_INSERT] =
        {"igraph_deletion_insert",
         "INSERT INTO deletion_requests (code, app_user_id, login, status, accounts_deleted, "
         "created_at, completed_at) VALUES (%s, %s, %s, %s, %d, %ld, %ld)"},
    [IGRAPH_ST_DELETION_GET] = {"igraph_deletion_get",
                                "SELECT status, accounts_deleted, created_at, completed_at "
                                "FROM deletion_requests WHERE code = %s"},
    /* Meta redelivers and duplicates: the same content inserts nothing (0 rows); nor does an
     * event about an Instagram account no connection links (the WHERE also keeps SQLite's
     * parser from reading ON CONFLICT as a join constraint). */
    [IGRAPH_ST_EVENT_INSERT] = {"igraph_event_insert",
                                "INSERT INTO events (ig_user_id, field, payload, event_time, "
                                "received_at, dedupe) SELECT %s, %s, %s, %ld, %ld, %s "
                                "WHERE EXISTS (SELECT 1 FROM accounts WHERE ig_user_id = %s) "
                                "ON CONFLICT (dedupe) DO NOTHING"},
    [IGRAPH_ST_EVENT_ACCOUNT] = {"igraph_event_account",
                                 "SELECT COUNT(*) FROM accounts WHERE ig_user_id = %s"},
    /* one bounded batch, oldest first (index events_received_at) */
    [IGRAPH_ST_EVENT_PURGE] = {"igraph_event_purge",
                               "DELETE FROM events WHERE id IN (SELECT id FROM events "
                               "WHERE received_at < %ld ORDER BY received_at, id LIMIT %d)"},
    [IGRAPH_ST_EVENT_LIST] = {"igraph_event_list",
                              "SELECT id, ig_user_id, field, payload, event_time, received_at, "
                              "dedupe FROM events WHERE ig_user_id IN "
                              "(SELECT ig_user_id FROM accounts WHERE owner = %s) "
                              "ORDER BY received_at DESC, id DESC LIMIT %d"},
};

/* Statements are prepared in table order and a failure stops the loop, so the presence of the
 * last label means the connection is ready. */
#define IGRAPH_STMT_MARKER (igraph_stmts[IGRAPH_ST_COUNT - 1].label)

#define IGRAPH_LABEL_PREFIX "igraph_"

/* Server-side statement names must be fresh per connection: after pg's PQreset the old hash
 * may still be in use while the session no longer knows the old names (or, in a live session,
 * still holds them). A process-wide counter never repeats. */
static apr_uint32_t igraph_stmt_gen;

/* ---- helpers ---------------------------------------------------------------------------- */

static const igraph_dialect_t *igraph_dialect(const igraph_db_t *db)
{
    const char *name = apr_dbd_name(db->driver);
    apr_size_t i;

    for (i = 0; i < sizeof(igraph_dialects) / sizeof(igraph_dialects[0]); i++) {
        if (name && !strcmp(name, igraph_dialects[i].driver)) {
            return &igraph_dialects[i];
        }
    }
    return NULL;
}

/* Driver error text, first line only: pg appends DETAIL lines that may quote key values. */
static const char *igraph_db_error(const igraph_db_t *db, apr_pool_t *p, int rv)
{
    const char *msg = apr_dbd_error(db->driver, db->handle, rv);
    const char *nl;

    if (!msg) {
        return "(no message)";
    }
    nl = strchr(msg, '\n');
    return nl ? apr_pstrmemdup(p, msg, nl - msg) : msg;
}

static const char *igraph_i64(apr_pool_t *p, apr_int64_t v)
{
    return apr_psprintf(p, "%" APR_INT64_T_FMT, v);
}

/* The stored text of a login or an account status, or NULL for a value outside the enum (never
 * written: the row could not be read back). */
static const char *igraph_login_str(igraph_login_e l)
{
    const char *name = igraph_login_name(l);
    igraph_login_e back;

    return igraph_login_parse(name, &back) == APR_SUCCESS ? name : NULL;
}

static const char *igraph_account_status_str(igraph_account_status_e s)
{
    const char *name = igraph_account_status_name(s);
    igraph_account_status_e back;

    return igraph_account_status_parse(name, &back) == APR_SUCCESS ? name : NULL;
}

/* Forgets every igraph_* statement of this connection, so the next igraph_store_ready()
 * prepares them again under fresh names. Deleting the current entry while iterating is safe
 * in apr_hash (the iterator has already stepped past it). */
static void igraph_store_drop(igraph_db_t *db)
{
    apr_hash_index_t *hi;
    const void *key;

    if (!db->prepared) {
        return;
    }
    for (hi = apr_hash_first(NULL, db->prepared); hi; hi = apr_hash_next(hi)) {
        apr_hash_this(hi, &key, NULL, NULL);
        if (!strncmp(key, IGRAPH_LABEL_PREFIX, sizeof(IGRAPH_LABEL_PREFIX) - 1)) {
            apr_hash_set(db->prepared, key, APR_HASH_KEY_STRING, NULL);
        }
    }
}

static apr_status_t igraph_store_fail(igraph_db_t *db, apr_pool_t *p, const char *what, int rv)
{
    igraph_log(IGRAPH_LOG_ERR, "IG0301: store: %s failed (%d): %s", what, rv,
               igraph_db_error(db, p, rv));
    igraph_store_drop(db);
    return APR_EGENERAL;
}

/* Number of apr_dbd markers ('%' + letter) in sql, as apr_dbd_prepare counts them. */
static int igraph_sql_nargs(const char *sql)
{
    int n = 0;

    for (; *sql; sql++) {
        if (sql[0] == '%') {
            if (apr_isalpha(sql[1])) {
                n++;
            }
            else if (sql[1] == '%') {
                sql++;
            }
        }
    }
    return n;
}

/* The prepared statement for st, checking that the caller passes as many arguments as the SQL
 * has markers (the drivers read exactly that many, whatever nargs says). */
/* The labelled statement st, prepared (with the schema made current) on first use on this
 * connection, so no public function needs its own igraph_store_ready() call. */
static apr_status_t igraph_stmt_get(igraph_db_t *db, apr_pool_t *p, igraph_stmt_e st, int nargs,
                                    apr_dbd_prepared_t **pstmt)
{
    const igraph_stmt_t *s = &igraph_stmts[st];
    apr_status_t rv;

    if (!db || !db->prepared) {
        return APR_EINVAL;
    }
    if (!apr_hash_get(db->prepared, IGRAPH_STMT_MARKER, APR_HASH_KEY_STRING) &&
        (rv = igraph_store_ready(db, p)) != APR_SUCCESS) {
        return rv;
    }

    if (nargs != igraph_sql_nargs(s->sql)) {
        igraph_log(IGRAPH_LOG_ERR, "IG0310: store: %s: %d arguments for %d markers", s->label,
                   nargs, igraph_sql_nargs(s->sql));
        return APR_EGENERAL;
    }
    *pstmt = apr_hash_get(db->prepared, s->label, APR_HASH_KEY_STRING);
    if (!*pstmt) {
        igraph_log(IGRAPH_LOG_ERR, "IG0312: store: statement %s is not prepared", s->label);
        igraph_store_drop(db);
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

#define IGRAPH_NARGS(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* The write gate (see igraph_write_gate_t), re-entrant per view. */
apr_status_t igraph_store_gate_enter(igraph_db_t *db)
{
    apr_status_t rv;

    if (!db->gate) {
        return APR_SUCCESS;
    }
    if (db->gate_depth == 0 && (rv = db->gate->enter(db->gate->baton)) != APR_SUCCESS) {
        return rv;
    }
    db->gate_depth++;
    return APR_SUCCESS;
}

void igraph_store_gate_leave(igraph_db_t *db)
{
    if (db->gate && db->gate_depth > 0 && --db->gate_depth == 0) {
        db->gate->leave(db->gate->baton);
    }
}

/* For one write: 1 when the gate was entered (leave it with igraph_gate_leave). A gate that
 * cannot be entered lets the write go on unqueued (SQLite's busy handler still protects it). */
static int igraph_gate_enter(igraph_db_t *db)
{
    return db->gate && igraph_store_gate_enter(db) == APR_SUCCESS;
}

static void igraph_gate_leave(igraph_db_t *db, int entered)
{
    if (entered) {
        igraph_store_gate_leave(db);
    }
}

/* Runs a labelled statement that returns no rows; *nrows = rows affected. */
static apr_status_t igraph_store_query(igraph_db_t *db, apr_pool_t *p, igraph_stmt_e st, int *nrows,
                                       const char **args, int nargs)
{
    apr_dbd_prepared_t *stmt;
    apr_status_t rv;
    int n = 0, dbrv;

    int gated;

    if ((rv = igraph_stmt_get(db, p, st, nargs, &stmt)) != APR_SUCCESS) {
        return rv;
    }
    gated = igraph_gate_enter(db);
    dbrv = apr_dbd_pquery(db->driver, p, db->handle, &n, stmt, nargs, args);
    igraph_gate_leave(db, gated);
    if (dbrv != 0) {
        return igraph_store_fail(db, p, igraph_stmts[st].label, dbrv);
    }
    if (nrows) {
        *nrows = n;
    }
    return APR_SUCCESS;
}

/* Runs a labelled statement that returns rows. Sequential results: the caller must read them
 * to the end (apr_dbd_get_row with -1 until it returns non-zero). */
static apr_status_t igraph_store_select(igraph_db_t *db, apr_pool_t *p, igraph_stmt_e st,
                                        apr_dbd_results_t **res, const char **args, int nargs)
{
    apr_dbd_prepared_t *stmt;
    apr_status_t rv;
    int dbrv;

    int gated = 0;

    if ((rv = igraph_stmt_get(db, p, st, nargs, &stmt)) != APR_SUCCESS) {
        return rv;
    }
    *res = NULL;
    /* INSERT ... RETURNING writes too (sequential results are read in full by pselect) */
    if (strncmp(igraph_stmts[st].sql, "SELECT", 6) != 0) {
        gated = igraph_gate_enter(db);
    }
    dbrv = apr_dbd_pselect(db->driver, p, db->handle, res, stmt, 0, nargs, args);
    igraph_gate_leave(db, gated);
    if (dbrv != 0) {
        return igraph_store_fail(db, p, igraph_stmts[st].label, dbrv);
    }
    return APR_SUCCESS;
}

/* A labelled statement with its parameters inline: IGRAPH_QUERY(db, p, st, &nrows, a, b, ...)
 * (nrows may be NULL), IGRAPH_SELECT(db, p, st, &res, a, b, ...). The parameters become a
 * compound-literal array whose length the statement table checks. */
#define IGRAPH_ARGV(...) ((const char *[]){__VA_ARGS__})
#define IGRAPH_QUERY(db, p, st, nrows, ...)                                                        \
    igraph_store_query(db, p, st, nrows, IGRAPH_ARGV(__VA_ARGS__),                                 \
                       IGRAPH_NARGS(IGRAPH_ARGV(__VA_ARGS__)))
#define IGRAPH_SELECT(db, p, st, res, ...)                                                         \
    igraph_store_select(db, p, st, res, IGRAPH_ARGV(__VA_ARGS__),                                  \
                        IGRAPH_NARGS(IGRAPH_ARGV(__VA_ARGS__)))

/* Column as a pool string; NULL for SQL NULL. */
static const char *igraph_col_str(igraph_db_t *db, apr_pool_t *p, apr_dbd_row_t *row, int col)
{
    char *s = NULL;

    if (apr_dbd_datum_get(db->driver, row, col, APR_DBD_TYPE_STRING, &s) != APR_SUCCESS || !s) {
        return NULL;
    }
    return apr_pstrdup(p, s);
}

/* Integer column; SQL NULL reads as 0. */
static apr_status_t igraph_col_i64(igraph_db_t *db, apr_dbd_row_t *row, int col, apr_int64_t *v)
{
    char *s = NULL;
    apr_status_t rv;

    *v = 0;
    rv = apr_dbd_datum_get(db->driver, row, col, APR_DBD_TYPE_STRING, &s);
    if (rv == APR_ENOENT) {
        return APR_SUCCESS;
    }
    if (rv != APR_SUCCESS || !s || igraph_parse_int64(s, v) != APR_SUCCESS) {
        igraph_log(IGRAPH_LOG_ERR, "IG0308: store: column %d is not an integer", col);
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

/* One account row. A login or status text we do not know makes the row unreadable (logged):
 * guessing would publish through the wrong host or with the wrong permission. */
static apr_status_t igraph_account_read(igraph_db_t *db, apr_pool_t *p, apr_dbd_row_t *row,
                                        igraph_account_t **out)
{
    igraph_account_t *a = apr_pcalloc(p, sizeof(*a));
    apr_int64_t failures = 0;
    const char *login, *status;
    apr_status_t rv;

    if ((rv = igraph_col_i64(db, row, IGRAPH_COL_ID, &a->id)) != APR_SUCCESS ||
        (rv = igraph_col_i64(db, row, IGRAPH_COL_TOKEN_EXPIRES_AT, &a->token_expires_at)) !=
            APR_SUCCESS ||
        (rv = igraph_col_i64(db, row, IGRAPH_COL_TOKEN_ISSUED_AT, &a->token_issued_at)) !=
            APR_SUCCESS ||
        (rv = igraph_col_i64(db, row, IGRAPH_COL_CREATED_AT, &a->created_at)) != APR_SUCCESS ||
        (rv = igraph_col_i64(db, row, IGRAPH_COL_UPDATED_AT, &a->updated_at)) != APR_SUCCESS ||
        (rv = igraph_col_i64(db, row, IGRAPH_COL_NEXT_REFRESH_AT, &a->next_refresh_at)) !=
            APR_SUCCESS ||
        (rv = igraph_col_i64(db, row, IGRAPH_COL_REFRESH_FAILURES, &failures)) != APR_SUCCESS) {
        return rv;
    }
    a->refresh_failures = failures > INT_MAX ? INT_MAX : (int)failures;
    login = igraph_col_str(db, p, row, IGRAPH_COL_LOGIN);
    status = igraph_col_str(db, p, row, IGRAPH_COL_STATUS);
    if (igraph_login_parse(login, &a->login) != APR_SUCCESS) {
        igraph_log(IGRAPH_LOG_ERR,
                   "IG0314: store: account %" APR_INT64_T_FMT ": unknown login '%s'", a->id,
                   login ? login : "(null)");
        return APR_EGENERAL;
    }
    if (igraph_account_status_parse(status, &a->status) != APR_SUCCESS) {
        igraph_log(IGRAPH_LOG_ERR,
                   "IG0314: store: account %" APR_INT64_T_FMT ": unknown status '%s'", a->id,
                   status ? status : "(null)");
        return APR_EGENERAL;
    }
    a->platform = igraph_col_str(db, p, row, IGRAPH_COL_PLATFORM);
    a->ig_user_id = igraph_col_str(db, p, row, IGRAPH_COL_IG_USER_ID);
    a->owner = igraph_col_str(db, p, row, IGRAPH_COL_OWNER);
    a->username = igraph_col_str(db, p, row, IGRAPH_COL_USERNAME);
    a->name = igraph_col_str(db, p, row, IGRAPH_COL_NAME);
    a->picture_url = igraph_col_str(db, p, row, IGRAPH_COL_PICTURE_URL);
    a->page_id = igraph_col_str(db, p, row, IGRAPH_COL_PAGE_ID);
    a->page_name = igraph_col_str(db, p, row, IGRAPH_COL_PAGE_NAME);
    a->app_user_id = igraph_col_str(db, p, row, IGRAPH_COL_APP_USER_ID);
    a->scopes = igraph_col_str(db, p, row, IGRAPH_COL_SCOPES);
    a->last_error = igraph_col_str(db, p, row, IGRAPH_COL_LAST_ERROR);
    a->access_token_enc = igraph_col_str(db, p, row, IGRAPH_COL_ACCESS_TOKEN_ENC);
    a->user_token_enc = igraph_col_str(db, p, row, IGRAPH_COL_USER_TOKEN_ENC);
    *out = a;
    return APR_SUCCESS;
}

/* Associated data binding a sealed token to its account row and field. */
static const char *igraph_account_aad(apr_pool_t *p, const char *platform, const char *owner,
                                      const char *ig_user_id, igraph_token_kind_e kind)
{
    return apr_psprintf(p, "account:%s:%s:%s:%s", platform ? platform : IGRAPH_PLATFORM_DEFAULT,
                        owner, ig_user_id, kind == IGRAPH_TOKEN_USER ? "user" : "access");
}

static const char *igraph_pending_aad(apr_pool_t *p, const char *id, const char *owner,
                                      const char *kind)
{
    return apr_psprintf(p, "pending:%s:%s:%s", id, owner, kind);
}

/* Associated data of a sealed event payload: its account and its (stored) de-duplication key,
 * which is UNIQUE, so a payload cannot be moved to another row. */
static const char *igraph_event_aad(apr_pool_t *p, const char *ig_user_id, const char *dedupe)
{
    return apr_psprintf(p, "event:%s:%s", ig_user_id, dedupe);
}

/* The stored de-duplication key: a keyed hash of the content hash, so that the plain SHA-256
 * of a guessed payload cannot be confirmed against the database. */
static const char *igraph_event_dedupe(apr_pool_t *p, const igraph_key_t *key, const char *dedupe)
{
    static const char label[] = "igraph event dedupe\n";
    char *msg = apr_pstrcat(p, label, dedupe, NULL);

    return igraph_hmac_sha256_hex(p, key->k, sizeof(key->k), msg, strlen(msg));
}

/* ---- migrations ------------------------------------------------------------------------- */

/* Runs a statement that may return rows (e.g. pg_advisory_xact_lock) and reads it to the end;
 * with pversion, the first column of the first row as an integer (NULL -> 0). */
static int igraph_db_select(igraph_db_t *db, apr_pool_t *p, const char *sql, apr_int64_t *pversion)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    int rv, seen = 0;

    rv = apr_dbd_select(db->driver, p, db->handle, &res, sql, 0);
    if (rv != 0) {
        return rv;
    }
    while (apr_dbd_get_row(db->driver, p, res, &row, -1) == 0) {
        if (!seen++ && pversion && igraph_col_i64(db, row, 0, pversion) != APR_SUCCESS) {
            rv = -1;
        }
    }
    if (pversion && !seen) {
        /* pgsql answers rv 0 without a row when the server has gone away */
        rv = -1;
    }
    return rv;
}

static int igraph_schema_latest(void)
{
    return igraph_migrations[sizeof(igraph_migrations) / sizeof(igraph_migrations[0]) - 1].version;
}

/* DDL with the dialect's auto-increment id column in place of "@ID@". */
static const char *igraph_ddl(apr_pool_t *p, const igraph_dialect_t *d, const char *sql)
{
    const char *mark = strstr(sql, "@ID@");

    if (!mark) {
        return sql;
    }
    return apr_pstrcat(p, apr_pstrmemdup(p, sql, mark - sql), d->auto_id, mark + 4, NULL);
}

/* One migration attempt, inside one transaction. *what names the failing step. */
static int igraph_migrate_once(igraph_db_t *db, apr_pool_t *p, const igraph_dialect_t *d,
                               const char **what, int *applied)
{
    apr_int64_t current = 0;
    const char *msg;
    apr_size_t i;
    int rv, nrows, j;

    *applied = 0;
    *what = d->begin;
    if ((rv = apr_dbd_query(db->driver, db->handle, &nrows, d->begin)) != 0) {
        return rv;
    }
    if (d->lock_sql) {
        *what = "migration lock";
        if ((rv = igraph_db_select(db, p, d->lock_sql, NULL)) != 0) {
            goto rollback;
        }
    }
    *what = "create schema_migrations";
    if ((rv = apr_dbd_query(db->driver, db->handle, &nrows, igraph_schema_migrations_ddl)) != 0) {
        goto rollback;
    }
    /* Re-read under the lock: another process may have migrated since the pre-check. */
    *what = "read schema version";
    rv = igraph_db_select(db, p, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                          &current);
    if (rv != 0) {
        goto rollback;
    }
    for (i = 0; i < sizeof(igraph_migrations) / sizeof(igraph_migrations[0]); i++) {
        const igraph_migration_t *m = &igraph_migrations[i];

        if (m->version <= current) {
            continue;
        }
        for (j = 0; m->statements[j]; j++) {
            *what = apr_psprintf(p, "schema version %d statement %d", m->version, j + 1);
            rv = apr_dbd_query(db->driver, db->handle, &nrows, igraph_ddl(p, d, m->statements[j]));
            if (rv != 0) {
                goto rollback;
            }
        }
        /* both numbers are ours, not outside data */
        *what = apr_psprintf(p, "record schema version %d", m->version);
        rv = apr_dbd_query(db->driver, db->handle, &nrows,
                           apr_psprintf(p,
                                        "INSERT INTO schema_migrations (version, applied_at) "
                                        "VALUES (%d, %" APR_INT64_T_FMT ")",
                                        m->version, igraph_now()));
        if (rv != 0) {
            goto rollback;
        }
        *applied = m->version;
    }
    *what = "COMMIT";
    if ((rv = apr_dbd_query(db->driver, db->handle, &nrows, "COMMIT")) == 0) {
        return 0;
    }

rollback:
    /* keep rv's message: ROLLBACK overwrites the driver's last error */
    msg = apr_pstrdup(p, igraph_db_error(db, p, rv));
    apr_dbd_query(db->driver, db->handle, &nrows, "ROLLBACK");
    *what = apr_psprintf(p, "%s: %s", *what, msg);
    *applied = 0;
    return rv;
}

static apr_status_t igraph_migrate(igraph_db_t *db, apr_pool_t *p)
{
    const igraph_dialect_t *d = igraph_dialect(db);
    apr_int64_t current = 0;
    const char *what = "";
    int rv = 0, tries, nrows, applied = 0;

    if (!d) {
        igraph_log(IGRAPH_LOG_ERR,
                   "IG0300: store: unsupported database driver '%s' "
                   "(use sqlite3 or pgsql)",
                   apr_dbd_name(db->driver));
        return APR_ENOTIMPL;
    }
    /* Cheap check without a write lock; it fails harmlessly (autocommit, no transaction open)
     * on a database without schema_migrations. */
    if (igraph_db_select(db, p, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                         &current) == 0 &&
        current >= igraph_schema_latest()) {
        return APR_SUCCESS;
    }
    if (d->prepare) {
        rv = apr_dbd_query(db->driver, db->handle, &nrows, d->prepare);
        if (rv != 0 && rv != 100) {
            igraph_log(IGRAPH_LOG_DEBUG, "IG0311: store: %s (%d): %s", d->prepare, rv,
                       igraph_db_error(db, p, rv));
        }
    }
    /* sqlite: a process that committed the DDL first makes our first statement fail with
     * "database schema has changed"; pg: the lock prevents catalog races, the retry covers
     * the rest. */
    for (tries = 1; tries <= IGRAPH_MIGRATE_TRIES; tries++) {
        int gated = igraph_gate_enter(db);
        rv = igraph_migrate_once(db, p, d, &what, &applied);
        igraph_gate_leave(db, gated);
        if (rv == 0) {
            if (applied) {
                igraph_log(IGRAPH_LOG_NOTICE, "IG0305: store: schema migrated to version %d",
                           applied);
            }
            return APR_SUCCESS;
        }
        igraph_log(IGRAPH_LOG_DEBUG, "IG0302: store: migration attempt %d failed (%d): %s", tries,
                   rv, what);
        if (tries < IGRAPH_MIGRATE_TRIES) {
            apr_sleep(apr_time_from_msec(50 * tries));
        }
    }
    igraph_log(IGRAPH_LOG_ERR, "IG0303: store: schema migration failed after %d attempts (%d): %s",
               IGRAPH_MIGRATE_TRIES, rv, what);
    return APR_EGENERAL;
}

/* ---- public ----------------------------------------------------------------------------- */

/* Several children and the maintenance thread write the same SQLite file. Without a busy
 * timeout the driver gives up after ~1.6 s with "database is locked"; when the administrator's
 * DBDInitSQL did not set one, give each new connection 5 s. */
static void igraph_sqlite_busy_default(igraph_db_t *db, apr_pool_t *p)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    const char *v = NULL;
    int nrows;

    if (apr_dbd_select(db->driver, p, db->handle, &res, "PRAGMA busy_timeout", 0) != 0) {
        return;
    }
    while (apr_dbd_get_row(db->driver, p, res, &row, -1) == 0) {
        if (!v) {
            v = apr_pstrdup(p, apr_dbd_get_entry(db->driver, row, 0));
        }
    }
    if (v && !strcmp(v, "0")) {
        apr_dbd_query(db->driver, db->handle, &nrows, "PRAGMA busy_timeout=5000");
    }
}

apr_status_t igraph_store_ready(igraph_db_t *db, apr_pool_t *p)
{
    apr_status_t rv;
    int i, dbrv;

    if (!db || !db->driver || !db->handle || !db->prepared || !db->pool) {
        return APR_EINVAL;
    }
    if (apr_hash_get(db->prepared, IGRAPH_STMT_MARKER, APR_HASH_KEY_STRING)) {
        return APR_SUCCESS;
    }
    if (!strcmp(apr_dbd_name(db->driver), "sqlite3")) {
        igraph_sqlite_busy_default(db, p);
    }
    if ((rv = igraph_migrate(db, p)) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < IGRAPH_ST_COUNT; i++) {
        const igraph_stmt_t *s = &igraph_stmts[i];
        apr_dbd_prepared_t *stmt = NULL;
        const char *name;

        if (apr_hash_get(db->prepared, s->label, APR_HASH_KEY_STRING)) {
            continue;
        }
        /* connection lifetime: statements live as long as the connection, not the request */
        name = apr_psprintf(db->pool, "%s_%u", s->label, apr_atomic_inc32(&igraph_stmt_gen));
        dbrv = apr_dbd_prepare(db->driver, db->pool, db->handle, s->sql, name, &stmt);
        if (dbrv != 0 || !stmt) {
            igraph_log(IGRAPH_LOG_ERR, "IG0304: store: preparing %s failed (%d): %s", s->label,
                       dbrv, igraph_db_error(db, p, dbrv));
            igraph_store_drop(db);
            return APR_EGENERAL;
        }
        apr_hash_set(db->prepared, s->label, APR_HASH_KEY_STRING, stmt);
    }
    return APR_SUCCESS;
}

apr_status_t igraph_store_account_upsert(igraph_db_t *db, apr_pool_t *p, const igraph_key_t *key,
                                         igraph_account_t *a, const char *access_token,
                                         const char *user_token)
{
    apr_dbd_results_t *res;
    apr_dbd_row_t *row = NULL;
    const char *platform, *login, *access_enc = NULL, *user_enc = NULL, *now;
    apr_int64_t id = 0, created = 0, updated = 0;
    apr_status_t rv;
    int rows = 0;

    if (!a || !key || !(login = igraph_login_str(a->login)) || !a->ig_user_id || !a->owner) {
        return APR_EINVAL;
    }
    platform = a->platform ? a->platform : IGRAPH_PLATFORM_DEFAULT;
    if (access_token) {
        access_enc = igraph_seal_str(
            p, key, igraph_account_aad(p, platform, a->owner, a->ig_user_id, IGRAPH_TOKEN_ACCESS),
            access_token);
    }
    if (user_token) {
        user_enc = igraph_seal_str(
            p, key, igraph_account_aad(p, platform, a->owner, a->ig_user_id, IGRAPH_TOKEN_USER),
            user_token);
    }
    if ((access_token && !access_enc) || (user_token && !user_enc)) {
        igraph_log(IGRAPH_LOG_ERR, "IG0306: store: account %s: sealing the token failed",
                   a->ig_user_id);
        return APR_EGENERAL;
    }

    now = igraph_i64(p, igraph_now());
    rv = IGRAPH_SELECT(db, p, IGRAPH_ST_ACCOUNT_UPSERT, &res, platform, login, a->ig_user_id,
                       a->owner, a->username, a->name, igraph_http_url_or_null(a->picture_url),
                       a->page_id, a->page_name, a->app_user_id, access_enc, user_enc,
                       igraph_i64(p, a->token_expires_at), igraph_i64(p, a->token_issued_at),
                       a->scopes, now, now);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    while (apr_dbd_get_row(db->driver, p, res, &row, -1) == 0) {
        if (rows++ == 0 && rv == APR_SUCCESS) {
            if ((rv = igraph_col_i64(db, row, 0, &id)) == APR_SUCCESS &&
                (rv = igraph_col_i64(db, row, 1, &created)) == APR_SUCCESS) {
                rv = igraph_col_i64(db, row, 2, &updated);
            }
        }
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (rows != 1) {
        igraph_log(IGRAPH_LOG_ERR, "IG0307: store: account upsert returned %d rows", rows);
        igraph_store_drop(db);
        return APR_EGENERAL;
    }
    a->id = id;
    a->created_at = created;
    a->updated_at = updated;
    a->platform = platform;
    a->picture_url = igraph_http_url_or_null(a->picture_url);
    a->status = IGRAPH_ACCOUNT_ACTIVE;
    a->last_error = NULL;
    a->access_token_enc = access_enc;
    a->user_token_enc = user_enc;
    return APR_SUCCESS;
}

apr_status_t igraph_store_accounts_list(igraph_db_t *db, apr_pool_t *p, const char *owner,
                                        apr_array_header_t **out)
{
    apr_dbd_results_t *res;
    apr_dbd_row_t *row = NULL;
    apr_array_header_t *list;
    igraph_account_t *a;
    apr_status_t rv, rrv = APR_SUCCESS;

    if (!owner || !out) {
        return APR_EINVAL;
    }
    rv = IGRAPH_SELECT(db, p, IGRAPH_ST_ACCOUNT_LIST, &res, owner);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    list = apr_array_make(p, 4, sizeof(igraph_account_t *));
    while (apr_dbd_get_row(db->driver, p, res, &row, -1) == 0) {
        if (rrv == APR_SUCCESS && (rrv = igraph_account_read(db, p, row, &a)) == APR_SUCCESS) {
            APR_ARRAY_PUSH(list, igraph_account_t *) = a;
        }
    }
    if (rrv != APR_SUCCESS) {
        return rrv;
    }
    *out = list;
    return APR_SUCCESS;
}

apr_status_t igraph_store_account_get(igraph_db_t *db, apr_pool_t *p, const char *owner,
                                      apr_int64_t id, igraph_account_t **out)
{
    apr_dbd_results_t *res;
    apr_dbd_row_t *row = NULL;
    igraph_account_t *a = NULL;
    apr_status_t rv, rrv = APR_NOTFOUND;

    if (!owner || !out) {
        return APR_EINVAL;
    }
    rv = IGRAPH_SELECT(db, p, IGRAPH_ST_ACCOUNT_GET, &res, igraph_i64(p, id), owner);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    while (apr_dbd_get_row(db->driver, p, res, &row, -1) == 0) {
        if (rrv == APR_NOTFOUND) {
            rrv = igraph_account_read(db, p, row, &a);
        }
    }
    if (rrv == APR_SUCCESS) {
        *out = a;
    }
    return rrv;
}

apr_status_t igraph_store_account_set_status(igraph_db_t *db, apr_pool_t *p, const char *owner,
                                             apr_int64_t id, igraph_account_status_e status,
                                             const char *last_error)
{
    igraph_account_t *cur;
    const char *st;
    apr_status_t rv;
    int nrows = 0;

    if (!owner || !(st = igraph_account_status_str(status))) {
        return APR_EINVAL;
    }
    rv = IGRAPH_QUERY(db, p, IGRAPH_ST_ACCOUNT_SET_STATUS, &nrows, st, last_error,
                      igraph_i64(p, igraph_now()), igraph_i64(p, id), owner);
    if (rv != APR_SUCCESS || nrows > 0) {
        return rv;
    }
    /* nothing changed: missing (or another owner's), or deauthorized */
    rv = igraph_store_account_get(db, p, owner, id, &cur);
    return rv == APR_SUCCESS ? APR_EBUSY : rv;
}

apr_status_t igraph_store_account_delete(igraph_db_t *db, apr_pool_t *p, const char *owner,
                                         apr_int64_t id)
{
    apr_status_t rv;
    int nrows = 0;

    if (!owner) {
        return APR_EINVAL;
    }
    rv = IGRAPH_QUERY(db, p, IGRAPH_ST_ACCOUNT_DELETE, &nrows, igraph_i64(p, id), owner);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    return nrows > 0 ? APR_SUCCESS : APR_NOTFOUND;
}

const char *igraph_store_account_token(apr_pool_t *p, const igraph_key_t *key,
                                       const igraph_account_t *a, igraph_token_kind_e kind)
{
    const char *enc;

    if (!a || !key || !a->owner || !a->ig_user_id) {
        return NULL;
    }
    enc = kind == IGRAPH_TOKEN_USER ? a->user_token_enc : a->access_token_enc;
    if (!enc || !*enc) {
        return NULL;
    }
    return igraph_unseal_str(
        p, key, igraph_account_aad(p, a->platform, a->owner, a->ig_user_id, kind), enc);
}

apr_status_t igraph_store_state_put(igraph_db_t *db, apr_pool_t *p, const char *state_hash,
                                    const char *owner, igraph_login_e login, apr_int64_t expires_at)
{
    const char *now, *slogin;
    apr_status_t rv;

    if (!state_hash || !owner || !(slogin = igraph_login_str(login))) {
        return APR_EINVAL;
    }
    now = igraph_i64(p, igraph_now());
    rv = IGRAPH_QUERY(db, p, IGRAPH_ST_STATE_PURGE, NULL, now);
    if (rv == APR_SUCCESS) {
        rv = IGRAPH_QUERY(db, p, IGRAPH_ST_STATE_INSERT, NULL, state_hash, owner, slogin, now,
                          igraph_i64(p, expires_at));
    }
    return rv;
}

apr_status_t igraph_store_state_take(igraph_db_t *db, apr_pool_t *p, const char *state_hash,
                                     const char *owner, apr_int64_t now, igraph_login_e *login)
{
    igraph_login_e kind;
    apr_dbd_results_t *res;
    apr_dbd_row_t *row = NULL;
    const char *found = NULL, *snow;
    apr_status_t rv;
    int rows = 0, nrows = 0;

    if (!state_hash || !owner) {
        return APR_EINVAL;
    }
    snow = igraph_i64(p, now);
    rv = IGRAPH_SELECT(db, p, IGRAPH_ST_STATE_SELECT, &res, state_hash, owner, snow);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    while (apr_dbd_get_row(db->driver, p, res, &row, -1) == 0) {
        if (rows++ == 0) {
            found = igraph_col_str(db, p, row, 0);
        }
    }
    if (!rows) {
        return APR_NOTFOUND;
    }
    /* The DELETE decides: of two concurrent takers only one removes the row. */
    rv = IGRAPH_QUERY(db, p, IGRAPH_ST_STATE_DELETE, &nrows, state_hash, owner, snow);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (nrows != 1) {
        return APR_NOTFOUND;
    }
    if (igraph_login_parse(found, &kind) != APR_SUCCESS) {
        igraph_log(IGRAPH_LOG_ERR, "IG0315: store: OAuth state with unknown login '%s'",
                   found ? found : "(null)");
        return APR_EGENERAL;
    }
    if (login) {
        *login = kind;
    }
    return APR_SUCCESS;
}

apr_status_t igraph_store_pending_put(igraph_db_t *db, apr_pool_t *p, const igraph_key_t *key,
                                      const char *id, const char *owner, const char *kind,
                                      const char *payload, apr_int64_t expires_at)
{
    const char *now, *enc;
    apr_status_t rv;

    if (!key || !id || !owner || !kind || !payload) {
        return APR_EINVAL;
    }
    enc = igraph_seal_str(p, key, igraph_pending_aad(p, id, owner, kind), payload);
    if (!enc) {
        igraph_log(IGRAPH_LOG_ERR, "IG0306: store: pending %s: sealing the payload failed", kind);
        return APR_EGENERAL;
    }
    now = igraph_i64(p, igraph_now());
    rv = IGRAPH_QUERY(db, p, IGRAPH_ST_PENDING_PURGE, NULL, now);
    if (rv == APR_SUCCESS) {
        rv = IGRAPH_QUERY(db, p, IGRAPH_ST_PENDING_INSERT, NULL, id, owner, kind, enc, now,
                          igraph_i64(p, expires_at));
    }
    return rv;
}

apr_status_t igraph_store_pending_get(igraph_db_t *db, apr_pool_t *p, const igraph_key_t *key,
                                      const char *id, const char *owner, apr_int64_t now,
                                      const char **kind, const char **payload)
{
    apr_dbd_results_t *res;
    apr_dbd_row_t *row = NULL;
    const char *k = NULL, *enc = NULL, *pt;
    apr_status_t rv;
    int rows = 0;

    if (!key || !id || !owner) {
        return APR_EINVAL;
    }
    rv = IGRAPH_SELECT(db, p, IGRAPH_ST_PENDING_SELECT, &res, id, owner, igraph_i64(p, now));
    if (rv != APR_SUCCESS) {
        return rv;
    }
    while (apr_dbd_get_row(db->driver, p, res, &row, -1) == 0) {
        if (rows++ == 0) {
            k = igraph_col_str(db, p, row, 0);
            enc = igraph_col_str(db, p, row, 1);
        }
    }
    if (!rows || !k || !enc) {
        return APR_NOTFOUND;
    }
    pt = igraph_unseal_str(p, key, igraph_pending_aad(p, id, owner, k), enc);
    if (!pt) {
        /* tampered, or sealed under another key: as good as gone; the user starts again */
        igraph_log(IGRAPH_LOG_WARNING, "IG0309: store: pending %s payload cannot be opened", k);
        return APR_NOTFOUND;
    }
    if (kind) {
        *kind = k;
    }
    if (payload) {
        *payload = pt;
    }
    return APR_SUCCESS;
}

apr_status_t igraph_store_pending_delete(igraph_db_t *db, apr_pool_t *p, const char *id)
{
    apr_status_t rv;

    if (!id) {
        return APR_EINVAL;
    }
    rv = IGRAPH_QUERY(db, p, IGRAPH_ST_PENDING_DELETE, NULL, id);
    return rv;
}

/* ---- maintenance (schema v2) ------------------------------------------------------------ */

apr_status_t igraph_store_lease(igraph_db_t *db, apr_pool_t *p, const char *name,
                                const char *holder, apr_int64_t now, apr_int64_t ttl)
{
    const char *until;
    apr_status_t rv;
    int nrows = 0;

    if (!name || !holder || ttl <= 0) {
        return APR_EINVAL;
    }
    until = igraph_i64(p, now + ttl);
    rv = IGRAPH_QUERY(db, p, IGRAPH_ST_LEASE_INSERT, &nrows, name, holder, until);
    if (rv != APR_SUCCESS || nrows == 1) {
        return rv;
    }
    /* The row exists: take it over only when it is ours (renewal) or has expired. */
    rv = IGRAPH_QUERY(db, p, IGRAPH_ST_LEASE_TAKE, &nrows, holder, until, name, holder,
                      igraph_i64(p, now));
    if (rv != APR_SUCCESS) {
        return rv;
    }
    return nrows == 1 ? APR_SUCCESS : APR_EBUSY;
}

apr_status_t igraph_store_lease_release(igraph_db_t *db, apr_pool_t *p, const char *name,
                                        const char *holder)
{
    apr_status_t rv;

    if (!name || !holder) {
        return APR_EINVAL;
    }
    rv = IGRAPH_QUERY(db, p, IGRAPH_ST_LEASE_RELEASE, NULL, name, holder);
    return rv;
}

/* Reads every row of an account SELECT into an array (igraph_account_t*). */
static apr_status_t igraph_accounts_read_all(igraph_db_t *db, apr_pool_t *p, apr_dbd_results_t *res,
                                             apr_array_header_t **out)
{
    apr_dbd_row_t *row = NULL;
    apr_array_header_t *list = apr_array_make(p, 4, sizeof(igraph_account_t *));
    igraph_account_t *a;
    apr_status_t rv = APR_SUCCESS;

    while (apr_dbd_get_row(db->driver, p, res, &row, -1) == 0) {
        if (rv == APR_SUCCESS && (rv = igraph_account_read(db, p, row, &a)) == APR_SUCCESS) {
            APR_ARRAY_PUSH(list, igraph_account_t *) = a;
        }
    }
    if (rv == APR_SUCCESS) {
        *out = list;
    }
    return rv;
}

/* Fills the IGRAPH_REALM_NARGS arguments of IGRAPH_REALM_FILTER into args. */
static void igraph_realm_args(apr_pool_t *p, const char *realm, const char **args)
{
    const char *pattern = (realm && !*realm) ? "%" IGRAPH_REALM_SEP "%" : NULL;
    const char *prefix = (realm && *realm) ? apr_pstrcat(p, realm, IGRAPH_REALM_SEP, NULL) : NULL;

    args[0] = args[1] = pattern;
    args[2] = args[3] = args[4] = prefix;
}

apr_status_t igraph_store_accounts_due(igraph_db_t *db, apr_pool_t *p, const char *realm,
                                       apr_int64_t now, apr_int64_t window, int limit,
                                       apr_array_header_t **out)
{
    apr_dbd_results_t *res;
    apr_status_t rv;
    const char *args[2 + IGRAPH_REALM_NARGS + 1];

    if (!out || limit <= 0 || window < 0) {
        return APR_EINVAL;
    }
    args[0] = igraph_i64(p, now + window);
    args[1] = igraph_i64(p, now);
    igraph_realm_args(p, realm, args + 2);
    args[2 + IGRAPH_REALM_NARGS] = igraph_i64(p, limit);
    rv = igraph_store_select(db, p, IGRAPH_ST_ACCOUNT_DUE, &res, args, IGRAPH_NARGS(args));
    if (rv != APR_SUCCESS) {
        return rv;
    }
    return igraph_accounts_read_all(db, p, res, out);
}

apr_status_t igraph_store_account_get_any(igraph_db_t *db, apr_pool_t *p, apr_int64_t id,
                                          igraph_account_t **out)
{
    apr_dbd_results_t *res;
    apr_array_header_t *list;
    apr_status_t rv;

    if (!out) {
        return APR_EINVAL;
    }
    rv = IGRAPH_SELECT(db, p, IGRAPH_ST_ACCOUNT_GET_ANY, &res, igraph_i64(p, id));
    if (rv != APR_SUCCESS || (rv = igraph_accounts_read_all(db, p, res, &list)) != APR_SUCCESS) {
        return rv;
    }
    if (list->nelts == 0) {
        return APR_NOTFOUND;
    }
    *out = APR_ARRAY_IDX(list, 0, igraph_account_t *);
    return APR_SUCCESS;
}

apr_status_t igraph_store_account_claim(igraph_db_t *db, apr_pool_t *p, apr_int64_t id,
                                        const char *holder, apr_int64_t now, apr_int64_t until)
{
    apr_status_t rv;
    int nrows = 0;

    if (!holder) {
        return APR_EINVAL;
    }
    rv = IGRAPH_QUERY(db, p, IGRAPH_ST_ACCOUNT_CLAIM, &nrows, holder, igraph_i64(p, until),
                      igraph_i64(p, id), holder, igraph_i64(p, now));
    if (rv != APR_SUCCESS) {
        return rv;
    }
    return nrows == 1 ? APR_SUCCESS : APR_EBUSY;
}

apr_status_t igraph_store_account_unclaim(igraph_db_t *db, apr_pool_t *p, apr_int64_t id,
                                          const char *holder)
{
    apr_status_t rv;

    if (!holder) {
        return APR_EINVAL;
    }
    rv = IGRAPH_QUERY(db, p, IGRAPH_ST_ACCOUNT_UNCLAIM, NULL, igraph_i64(p, id), holder);
    return rv;
}

apr_status_t igraph_store_account_tokens_update(igraph_db_t *db, apr_pool_t *p,
                                                const igraph_key_t *key, const igraph_account_t *a,
                                                const char *access_token, const char *user_token,
                                                apr_int64_t expires_at, apr_int64_t issued_at)
{
    const char *access_enc = NULL, *user_enc = NULL, *sid, *st;
    igraph_account_t *cur;
    apr_status_t rv;
    int nrows = 0;

    if (!a || !key || !a->owner || !a->ig_user_id) {
        return APR_EINVAL;
    }
    /* same associated data as upsert: (platform, owner, ig_user_id) never change for a row */
    if (access_token) {
        access_enc = igraph_seal_str(
            p, key,
            igraph_account_aad(p, a->platform, a->owner, a->ig_user_id, IGRAPH_TOKEN_ACCESS),
            access_token);
    }
    if (user_token) {
        user_enc = igraph_seal_str(
            p, key, igraph_account_aad(p, a->platform, a->owner, a->ig_user_id, IGRAPH_TOKEN_USER),
            user_token);
    }
    if ((access_token && !access_enc) || (user_token && !user_enc)) {
        igraph_log(IGRAPH_LOG_ERR, "IG0306: store: account %s: sealing the token failed",
                   a->ig_user_id);
        return APR_EGENERAL;
    }
    if (!(st = igraph_account_status_str(a->status))) {
        return APR_EINVAL;
    }
    sid = igraph_i64(p, a->id);
    rv = IGRAPH_QUERY(db, p, IGRAPH_ST_ACCOUNT_TOKENS_UPDATE, &nrows, access_enc, user_enc,
                      igraph_i64(p, expires_at), igraph_i64(p, issued_at), a->username, a->name,
                      igraph_http_url_or_null(a->picture_url), igraph_i64(p, igraph_now()), sid,
                      igraph_i64(p, issued_at), st);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (nrows > 0) {
        return APR_SUCCESS;
    }
    /* Nothing written: the status changed meanwhile, a newer token is stored, or the account
     * is gone. */
    rv = igraph_store_account_get_any(db, p, a->id, &cur);
    if (rv == APR_SUCCESS) {
        return (cur->status != a->status || cur->status == IGRAPH_ACCOUNT_DEAUTHORIZED ||
                cur->status == IGRAPH_ACCOUNT_DISABLED)
                   ? APR_EBUSY
                   : APR_EEXIST;
    }
    return rv;
}

apr_status_t igraph_store_account_refresh_failed(igraph_db_t *db, apr_pool_t *p, apr_int64_t id,
                                                 const igraph_account_status_e *status,
                                                 const char *last_error,
                                                 apr_int64_t next_refresh_at)
{
    const char *st = NULL; /* NULL: COALESCE keeps the status */
    apr_status_t rv;
    int nrows = 0;

    if (status && !(st = igraph_account_status_str(*status))) {
        return APR_EINVAL;
    }
    rv = IGRAPH_QUERY(db, p, IGRAPH_ST_ACCOUNT_REFRESH_FAILED, &nrows, st, last_error,
                      igraph_i64(p, next_refresh_at), igraph_i64(p, igraph_now()),
                      igraph_i64(p, id));
    if (rv != APR_SUCCESS) {
        return rv;
    }
    return nrows > 0 ? APR_SUCCESS : APR_NOTFOUND;
}

/* ---- accounts by reference -------------------------------------------------------------- */

/* First row of an account SELECT whose id is prefer_id, else the first row; APR_NOTFOUND when
 * there is none. */
static apr_status_t igraph_account_pick(igraph_db_t *db, apr_pool_t *p, apr_dbd_results_t *res,
                                        apr_int64_t prefer_id, igraph_account_t **out)
{
    apr_array_header_t *list;
    apr_status_t rv;
    int i;

    if ((rv = igraph_accounts_read_all(db, p, res, &list)) != APR_SUCCESS) {
        return rv;
    }
    if (list->nelts == 0) {
        return APR_NOTFOUND;
    }
    *out = APR_ARRAY_IDX(list, 0, igraph_account_t *);
    for (i = 0; prefer_id > 0 && i < list->nelts; i++) {
        if (APR_ARRAY_IDX(list, i, igraph_account_t *)->id == prefer_id) {
            *out = APR_ARRAY_IDX(list, i, igraph_account_t *);
            break;
        }
    }
    return APR_SUCCESS;
}

apr_status_t igraph_store_account_find(igraph_db_t *db, apr_pool_t *p, const char *owner,
                                       const char *ref, igraph_account_t **out)
{
    apr_dbd_results_t *res;
    apr_int64_t id = 0;
    apr_status_t rv;
    const char *c;
    int digits;

    if (!owner || !ref || !out) {
        return APR_EINVAL;
    }
    digits = *ref != '\0';
    for (c = ref; *c; c++) {
        if (!apr_isdigit(*c)) {
            digits = 0;
            break;
        }
    }
    if (digits) {
        /* an id beyond 64 bits can only be an ig_user_id: the NULL id argument matches nothing */
        const char *sid = NULL;

        if (igraph_parse_int64(ref, &id) == APR_SUCCESS && id > 0) {
            sid = igraph_i64(p, id);
        }
        else {
            id = 0;
        }
        rv = IGRAPH_SELECT(db, p, IGRAPH_ST_ACCOUNT_FIND_NUM, &res, owner, sid, ref);
    }
    else {
        const char *name = *ref == '@' ? ref + 1 : ref;

        if (!*name) {
            return APR_NOTFOUND;
        }
        rv = IGRAPH_SELECT(db, p, IGRAPH_ST_ACCOUNT_FIND_NAME, &res, owner, name);
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    return igraph_account_pick(db, p, res, id, out);
}

apr_status_t igraph_store_accounts_active(igraph_db_t *db, apr_pool_t *p, const char *owner,
                                          apr_array_header_t **out)
{
    apr_dbd_results_t *res;
    apr_status_t rv;

    if (!owner || !out) {
        return APR_EINVAL;
    }
    rv = IGRAPH_SELECT(db, p, IGRAPH_ST_ACCOUNT_ACTIVE, &res, owner);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    return igraph_accounts_read_all(db, p, res, out);
}

/* ---- publish jobs (schema v3) ----------------------------------------------------------- */

/* What is stored of a job's permalink: NULL (not read yet) and "" (Meta gave none) as they
 * are, a URL only when it is http(s); anything else ("javascript:...") counts as none. */
static const char *igraph_permalink_arg(const char *permalink)
{
    if (!permalink || !*permalink) {
        return permalink;
    }
    return igraph_is_http_url(permalink) ? permalink : "";
}

static int igraph_clamp_int(apr_int64_t v)
{
    return v > INT_MAX ? INT_MAX : v < INT_MIN ? INT_MIN : (int)v;
}

static const char *igraph_itoa(apr_pool_t *p, int v)
{
    return apr_psprintf(p, "%d", v);
}

/* The stored name of a status, or NULL for a value outside the enum (never written: a row the
 * store could not read back would stop the worker's due query). */
static const char *igraph_job_status_str(igraph_job_status_e s)
{
    const char *name = igraph_job_status_name(s);
    igraph_job_status_e back;

    return igraph_job_status_parse(name, &back) == APR_SUCCESS ? name : NULL;
}

static apr_status_t igraph_job_read(igraph_db_t *db, apr_pool_t *p, apr_dbd_row_t *row,
                                    igraph_job_t **out)
{
    igraph_job_t *j = apr_pcalloc(p, sizeof(*j));
    apr_int64_t n_children = 0, ready = 0, subcode = 0, attempts = 0, polls = 0, sent = 0;
    const char *status, *login;
    apr_status_t rv;

    if ((rv = igraph_col_i64(db, row, IGRAPH_JCOL_ACCOUNT_ID, &j->account_id)) != APR_SUCCESS ||
        (rv = igraph_col_i64(db, row, IGRAPH_JCOL_N_CHILDREN_EXPECTED, &n_children)) !=
            APR_SUCCESS ||
        (rv = igraph_col_i64(db, row, IGRAPH_JCOL_CHILDREN_READY, &ready)) != APR_SUCCESS ||
        (rv = igraph_col_i64(db, row, IGRAPH_JCOL_ERROR_SUBCODE, &subcode)) != APR_SUCCESS ||
        (rv = igraph_col_i64(db, row, IGRAPH_JCOL_ATTEMPTS, &attempts)) != APR_SUCCESS ||
        (rv = igraph_col_i64(db, row, IGRAPH_JCOL_POLLS, &polls)) != APR_SUCCESS ||
        (rv = igraph_col_i64(db, row, IGRAPH_JCOL_PUBLISH_SENT, &sent)) != APR_SUCCESS ||
        (rv = igraph_col_i64(db, row, IGRAPH_JCOL_CREATED_AT, &j->created_at)) != APR_SUCCESS ||
        (rv = igraph_col_i64(db, row, IGRAPH_JCOL_UPDATED_AT, &j->updated_at)) != APR_SUCCESS ||
        (rv = igraph_col_i64(db, row, IGRAPH_JCOL_PUBLISH_AT, &j->publish_at)) != APR_SUCCESS ||
        (rv = igraph_col_i64(db, row, IGRAPH_JCOL_NEXT_AT, &j->next_at)) != APR_SUCCESS ||
        (rv = igraph_col_i64(db, row, IGRAPH_JCOL_CONTAINER_CREATED_AT,
                             &j->container_created_at)) != APR_SUCCESS ||
        (rv = igraph_col_i64(db, row, IGRAPH_JCOL_DEADLINE, &j->deadline)) != APR_SUCCESS) {
        return rv;
    }
    j->id = igraph_col_str(db, p, row, IGRAPH_JCOL_ID);
    status = igraph_col_str(db, p, row, IGRAPH_JCOL_STATUS);
    if (igraph_job_status_parse(status, &j->status) != APR_SUCCESS) {
        igraph_log(IGRAPH_LOG_ERR, "IG0313: store: job %s: unknown status '%s'",
                   j->id ? j->id : "?", status ? status : "(null)");
        return APR_EGENERAL;
    }
    login = igraph_col_str(db, p, row, IGRAPH_JCOL_LOGIN);
    if (igraph_login_parse(login, &j->login) != APR_SUCCESS) {
        igraph_log(IGRAPH_LOG_ERR, "IG0313: store: job %s: unknown login '%s'", j->id ? j->id : "?",
                   login ? login : "(null)");
        return APR_EGENERAL;
    }
    j->n_children_expected = igraph_clamp_int(n_children);
    j->children_ready = igraph_clamp_int(ready);
    j->error_subcode = (long)subcode; /* written from a long */
    j->attempts = igraph_clamp_int(attempts);
    j->polls = igraph_clamp_int(polls);
    j->publish_sent = sent != 0;
    j->owner = igraph_col_str(db, p, row, IGRAPH_JCOL_OWNER);
    j->ig_user_id = igraph_col_str(db, p, row, IGRAPH_JCOL_IG_USER_ID);
    j->media_type = igraph_media_parse(igraph_col_str(db, p, row, IGRAPH_JCOL_MEDIA_TYPE));
    j->request = igraph_col_str(db, p, row, IGRAPH_JCOL_REQUEST);
    j->creation_id = igraph_col_str(db, p, row, IGRAPH_JCOL_CREATION_ID);
    j->children = igraph_col_str(db, p, row, IGRAPH_JCOL_CHILDREN);
    j->media_id = igraph_col_str(db, p, row, IGRAPH_JCOL_MEDIA_ID);
    j->permalink = igraph_col_str(db, p, row, IGRAPH_JCOL_PERMALINK);
    j->error = igraph_col_str(db, p, row, IGRAPH_JCOL_ERROR);
    j->error_message = igraph_col_str(db, p, row, IGRAPH_JCOL_ERROR_MESSAGE);
    j->caption = igraph_col_str(db, p, row, IGRAPH_JCOL_CAPTION);
    *out = j;
    return APR_SUCCESS;
}

/* Reads every row of a job SELECT into an array (igraph_job_t*). */
static apr_status_t igraph_jobs_read_all(igraph_db_t *db, apr_pool_t *p, apr_dbd_results_t *res,
                                         apr_array_header_t **out)
{
    apr_dbd_row_t *row = NULL;
    apr_array_header_t *list = apr_array_make(p, 8, sizeof(igraph_job_t *));
    igraph_job_t *j;
    apr_status_t rv = APR_SUCCESS;

    while (apr_dbd_get_row(db->driver, p, res, &row, -1) == 0) {
        if (rv == APR_SUCCESS && (rv = igraph_job_read(db, p, row, &j)) == APR_SUCCESS) {
            APR_ARRAY_PUSH(list, igraph_job_t *) = j;
        }
    }
    if (rv == APR_SUCCESS) {
        *out = list;
    }
    return rv;
}

/* Runs a job SELECT expected to match at most one row; APR_NOTFOUND when it matched none. */
static apr_status_t igraph_job_select_one(igraph_db_t *db, apr_pool_t *p, igraph_stmt_e st,
                                          const char **args, int nargs, igraph_job_t **out)
{
    apr_dbd_results_t *res;
    apr_array_header_t *list;
    apr_status_t rv;

    if ((rv = igraph_store_select(db, p, st, &res, args, nargs)) != APR_SUCCESS ||
        (rv = igraph_jobs_read_all(db, p, res, &list)) != APR_SUCCESS) {
        return rv;
    }
    if (list->nelts == 0) {
        return APR_NOTFOUND;
    }
    *out = APR_ARRAY_IDX(list, 0, igraph_job_t *);
    return APR_SUCCESS;
}

/* Runs a SELECT COUNT(*) statement. */
static apr_status_t igraph_store_count(igraph_db_t *db, apr_pool_t *p, igraph_stmt_e st,
                                       const char **args, int nargs, int *count)
{
    apr_dbd_results_t *res;
    apr_dbd_row_t *row = NULL;
    apr_int64_t n = 0;
    apr_status_t rv;
    int rows = 0;

    if ((rv = igraph_store_select(db, p, st, &res, args, nargs)) != APR_SUCCESS) {
        return rv;
    }
    while (apr_dbd_get_row(db->driver, p, res, &row, -1) == 0) {
        if (rows++ == 0) {
            rv = igraph_col_i64(db, row, 0, &n);
        }
    }
    if (rv == APR_SUCCESS && rows != 1) {
        /* pgsql answers without a row when the server has gone away */
        rv = igraph_store_fail(db, p, igraph_stmts[st].label, -1);
    }
    if (rv == APR_SUCCESS) {
        *count = igraph_clamp_int(n);
    }
    return rv;
}

#define IGRAPH_JOB_INSERT_NARGS 29
#define IGRAPH_GROUP_ROWS 16 /* rows per INSERT of a group: 464 parameters, well under limits */

/* The parameters of one jobs row (IGRAPH_ST_JOB_INSERT's markers, in order); APR_EINVAL for a
 * job that cannot be stored. */
static apr_status_t igraph_job_insert_args(apr_pool_t *p, const igraph_job_t *j,
                                           const char *idempotency_key, const char *media_key,
                                           const char **a)
{
    const char *status, *login;
    int i = 0;

    if (!j || !j->id || !*j->id || !j->owner || !(status = igraph_job_status_str(j->status)) ||
        !(login = igraph_login_str(j->login))) {
        return APR_EINVAL;
    }
    a[i++] = j->id;
    a[i++] = igraph_i64(p, j->account_id);
    a[i++] = j->owner;
    a[i++] = login;
    a[i++] = j->ig_user_id;
    a[i++] = igraph_media_name(j->media_type);
    a[i++] = status;
    a[i++] = j->request;
    a[i++] = j->creation_id;
    a[i++] = j->children;
    a[i++] = igraph_itoa(p, j->n_children_expected);
    a[i++] = igraph_itoa(p, j->children_ready);
    a[i++] = j->media_id;
    a[i++] = igraph_permalink_arg(j->permalink);
    a[i++] = j->error;
    a[i++] = j->error_message;
    a[i++] = igraph_i64(p, j->error_subcode);
    a[i++] = igraph_itoa(p, j->attempts);
    a[i++] = igraph_itoa(p, j->polls);
    a[i++] = igraph_itoa(p, j->publish_sent ? 1 : 0);
    a[i++] = igraph_i64(p, j->created_at);
    a[i++] = igraph_i64(p, j->updated_at);
    a[i++] = igraph_i64(p, j->publish_at);
    a[i++] = igraph_i64(p, j->next_at);
    a[i++] = igraph_i64(p, j->container_created_at);
    a[i++] = igraph_i64(p, j->deadline);
    a[i++] = j->caption;
    a[i++] = (idempotency_key && *idempotency_key) ? idempotency_key : NULL;
    a[i++] = media_key;
    return APR_SUCCESS;
}

apr_status_t igraph_store_job_insert(igraph_db_t *db, apr_pool_t *p, const igraph_job_t *j,
                                     const char *idempotency_key, const char *media_key)
{
    const char *args[IGRAPH_JOB_INSERT_NARGS];
    apr_status_t rv;
    int nrows = 0;

    if ((rv = igraph_job_insert_args(p, j, idempotency_key, media_key, args)) != APR_SUCCESS) {
        return rv;
    }
    rv = igraph_store_query(db, p, IGRAPH_ST_JOB_INSERT, &nrows, args, IGRAPH_NARGS(args));
    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* 0 rows: ON CONFLICT (owner, idempotency_key) skipped it (a NULL key never conflicts) */
    return nrows == 1 ? APR_SUCCESS : APR_EEXIST;
}

apr_status_t igraph_store_job_get(igraph_db_t *db, apr_pool_t *p, const char *owner, const char *id,
                                  igraph_job_t **out)
{

    if (!id || !out) {
        return APR_EINVAL;
    }
    if (!owner) {
        const char *args[] = {id};
        return igraph_job_select_one(db, p, IGRAPH_ST_JOB_GET_ANY, args, IGRAPH_NARGS(args), out);
    }
    {
        const char *args[] = {id, owner};
        return igraph_job_select_one(db, p, IGRAPH_ST_JOB_GET, args, IGRAPH_NARGS(args), out);
    }
}

apr_status_t igraph_store_job_by_idempotency(igraph_db_t *db, apr_pool_t *p, const char *owner,
                                             const char *key, igraph_job_t **out)
{

    if (!owner || !key || !out) {
        return APR_EINVAL;
    }
    {
        const char *args[] = {owner, key};
        return igraph_job_select_one(db, p, IGRAPH_ST_JOB_BY_IDEMPOTENCY, args, IGRAPH_NARGS(args),
                                     out);
    }
}

apr_status_t igraph_store_job_find_duplicate(igraph_db_t *db, apr_pool_t *p, apr_int64_t account_id,
                                             const char *media_key, igraph_job_t **out)
{

    if (!media_key || !out) {
        return APR_EINVAL;
    }
    {
        const char *args[] = {igraph_i64(p, account_id), media_key};
        return igraph_job_select_one(db, p, IGRAPH_ST_JOB_DUPLICATE, args, IGRAPH_NARGS(args), out);
    }
}

apr_status_t igraph_store_jobs_list(igraph_db_t *db, apr_pool_t *p, const char *owner,
                                    const char *status, apr_int64_t account_id, int limit,
                                    apr_array_header_t **out)
{
    apr_dbd_results_t *res;
    const char *sacc;
    apr_status_t rv;

    if (!owner || !out || limit <= 0) {
        return APR_EINVAL;
    }
    /* NULL arguments switch the filters off */
    sacc = account_id ? igraph_i64(p, account_id) : NULL;
    rv = IGRAPH_SELECT(db, p, IGRAPH_ST_JOB_LIST, &res, owner, status, status, sacc, sacc,
                       igraph_itoa(p, limit));
    if (rv != APR_SUCCESS) {
        return rv;
    }
    return igraph_jobs_read_all(db, p, res, out);
}

apr_status_t igraph_store_job_save(igraph_db_t *db, apr_pool_t *p, const igraph_job_t *j,
                                   const char *holder)
{
    const char *status;
    apr_status_t rv;
    int nrows = 0;

    if (!j || !j->id || !holder || !(status = igraph_job_status_str(j->status))) {
        return APR_EINVAL;
    }
    rv = IGRAPH_QUERY(db, p, IGRAPH_ST_JOB_SAVE, &nrows, status, j->creation_id, j->children,
                      igraph_itoa(p, j->n_children_expected), igraph_itoa(p, j->children_ready),
                      j->media_id, igraph_permalink_arg(j->permalink), j->error, j->error_message,
                      igraph_i64(p, j->error_subcode), igraph_itoa(p, j->attempts),
                      igraph_itoa(p, j->polls), igraph_itoa(p, j->publish_sent ? 1 : 0),
                      igraph_i64(p, j->updated_at), igraph_i64(p, j->publish_at),
                      igraph_i64(p, j->next_at), igraph_i64(p, j->container_created_at),
                      igraph_i64(p, j->deadline), j->caption, j->id, holder);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* 0 rows: the claim was lost (taken over after expiry, or dropped by a cancel), or the job
     * is gone */
    return nrows == 1 ? APR_SUCCESS : APR_EBUSY;
}

apr_status_t igraph_store_job_cancel(igraph_db_t *db, apr_pool_t *p, const char *owner,
                                     const char *id, apr_int64_t now)
{
    igraph_job_t *cur;
    apr_status_t rv;
    int nrows = 0;

    if (!owner || !id) {
        return APR_EINVAL;
    }
    {
        const char *snow = igraph_i64(p, now);
        const char *args[] = {snow, id, owner, snow};
        rv = igraph_store_query(db, p, IGRAPH_ST_JOB_CANCEL, &nrows, args, IGRAPH_NARGS(args));
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (nrows == 1) {
        return APR_SUCCESS;
    }
    /* Nothing written: say whether the job is missing or just not cancellable (now). */
    rv = igraph_store_job_get(db, p, owner, id, &cur);
    return rv == APR_SUCCESS ? APR_EBUSY : rv;
}

apr_status_t igraph_store_jobs_due(igraph_db_t *db, apr_pool_t *p, const char *realm,
                                   apr_int64_t now, int limit, apr_array_header_t **out)
{
    apr_dbd_results_t *res;
    apr_status_t rv;
    const char *args[2 + IGRAPH_REALM_NARGS + 1];

    if (!out || limit <= 0) {
        return APR_EINVAL;
    }
    args[0] = args[1] = igraph_i64(p, now);
    igraph_realm_args(p, realm, args + 2);
    args[2 + IGRAPH_REALM_NARGS] = igraph_itoa(p, limit);
    rv = igraph_store_select(db, p, IGRAPH_ST_JOB_DUE, &res, args, IGRAPH_NARGS(args));
    if (rv != APR_SUCCESS) {
        return rv;
    }
    return igraph_jobs_read_all(db, p, res, out);
}

apr_status_t igraph_store_jobs_next_due(igraph_db_t *db, apr_pool_t *p, apr_int64_t *next_at)
{
    apr_dbd_results_t *res;
    apr_dbd_row_t *row = NULL;
    apr_int64_t v = 0;
    apr_status_t rv;
    int rows = 0;

    if (!next_at) {
        return APR_EINVAL;
    }
    if ((rv = igraph_store_select(db, p, IGRAPH_ST_JOB_NEXT_DUE, &res, NULL, 0)) != APR_SUCCESS) {
        return rv;
    }
    while (apr_dbd_get_row(db->driver, p, res, &row, -1) == 0) {
        if (rows++ == 0) {
            rv = igraph_col_i64(db, row, 0, &v); /* MIN over no rows is NULL: 0 */
        }
    }
    if (rv == APR_SUCCESS && rows != 1) {
        rv = igraph_store_fail(db, p, igraph_stmts[IGRAPH_ST_JOB_NEXT_DUE].label, -1);
    }
    if (rv == APR_SUCCESS) {
        *next_at = v;
    }
    return rv;
}

apr_status_t igraph_store_job_claim(igraph_db_t *db, apr_pool_t *p, const char *id,
                                    const char *holder, apr_int64_t now, apr_int64_t until)
{
    apr_status_t rv;
    int nrows = 0;

    if (!id || !holder) {
        return APR_EINVAL;
    }
    rv = IGRAPH_QUERY(db, p, IGRAPH_ST_JOB_CLAIM, &nrows, holder, igraph_i64(p, until), id, holder,
                      igraph_i64(p, now));
    if (rv != APR_SUCCESS) {
        return rv;
    }
    return nrows == 1 ? APR_SUCCESS : APR_EBUSY;
}

apr_status_t igraph_store_job_unclaim(igraph_db_t *db, apr_pool_t *p, const char *id,
                                      const char *holder)
{
    apr_status_t rv;

    if (!id || !holder) {
        return APR_EINVAL;
    }
    rv = IGRAPH_QUERY(db, p, IGRAPH_ST_JOB_UNCLAIM, NULL, id, holder);
    return rv;
}

apr_status_t igraph_store_job_postpone(igraph_db_t *db, apr_pool_t *p, const char *id,
                                       apr_int64_t next_at, apr_int64_t now)
{
    apr_status_t rv;

    if (!id) {
        return APR_EINVAL;
    }
    rv = IGRAPH_QUERY(db, p, IGRAPH_ST_JOB_POSTPONE, NULL,
                      apr_psprintf(p, "%" APR_INT64_T_FMT, next_at), id,
                      apr_psprintf(p, "%" APR_INT64_T_FMT, now));
    return rv;
}

apr_status_t igraph_store_jobs_release(igraph_db_t *db, apr_pool_t *p, const char *holder)
{
    apr_status_t rv;

    if (!holder) {
        return APR_EINVAL;
    }
    rv = IGRAPH_QUERY(db, p, IGRAPH_ST_JOB_RELEASE, NULL, holder);
    return rv;
}

apr_status_t igraph_store_jobs_in_flight(igraph_db_t *db, apr_pool_t *p, apr_int64_t account_id,
                                         int *count)
{

    if (!count) {
        return APR_EINVAL;
    }
    {
        const char *args[] = {igraph_i64(p, account_id)};
        return igraph_store_count(db, p, IGRAPH_ST_JOB_IN_FLIGHT, args, IGRAPH_NARGS(args), count);
    }
}

apr_status_t igraph_store_jobs_published_since(igraph_db_t *db, apr_pool_t *p,
                                               apr_int64_t account_id, apr_int64_t since,
                                               int *count)
{

    if (!count) {
        return APR_EINVAL;
    }
    {
        const char *args[] = {igraph_i64(p, account_id), igraph_i64(p, since)};
        return igraph_store_count(db, p, IGRAPH_ST_JOB_PUBLISHED_SINCE, args, IGRAPH_NARGS(args),
                                  count);
    }
}

/* ---- Meta callbacks (schema v4) ---------------------------------------------------------- */

/* The login filter of the Meta callbacks as a statement argument: NULL (both logins) for a NULL
 * login, else its stored text; *ok = 0 for a login outside the enum. */
static const char *igraph_meta_login_arg(const igraph_login_e *login, int *ok)
{
    const char *s = login ? igraph_login_str(*login) : NULL;

    *ok = !login || s;
    return s;
}

apr_status_t igraph_store_deauthorize(igraph_db_t *db, apr_pool_t *p, const char *app_user_id,
                                      const igraph_login_e *login, int *count)
{
    const char *slogin;
    apr_status_t rv;
    int nrows = 0, ok;

    if (count) {
        *count = 0;
    }
    slogin = igraph_meta_login_arg(login, &ok);
    if (!app_user_id || !*app_user_id || !ok) {
        return APR_EINVAL;
    }
    {
        const char *args[] = {igraph_i64(p, igraph_now()), app_user_id, slogin, slogin};
        rv =
            igraph_store_query(db, p, IGRAPH_ST_META_DEAUTHORIZE, &nrows, args, IGRAPH_NARGS(args));
    }
    if (rv == APR_SUCCESS && count) {
        *count = nrows;
    }
    return rv;
}

/* Plain BEGIN/COMMIT through apr_dbd_query (not apr_dbd_transaction_*, see the platform notes);
 * on SQLite "BEGIN IMMEDIATE" takes the write lock at once, so the deletion never fails halfway
 * on a lock upgrade. */
static apr_status_t igraph_store_begin(igraph_db_t *db, apr_pool_t *p)
{
    const igraph_dialect_t *d = igraph_dialect(db);
    int nrows, dbrv;

    if (!d) {
        return APR_ENOTIMPL;
    }
    /* held until igraph_store_end (a gate that cannot be entered is not left there either) */
    if (db->gate && igraph_store_gate_enter(db) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    dbrv = apr_dbd_query(db->driver, db->handle, &nrows, d->begin);
    if (dbrv != 0) {
        igraph_store_gate_leave(db);
        return igraph_store_fail(db, p, d->begin, dbrv);
    }
    return APR_SUCCESS;
}

static apr_status_t igraph_store_end(igraph_db_t *db, apr_pool_t *p, apr_status_t rv)
{
    int nrows, dbrv;

    if (rv == APR_SUCCESS) {
        dbrv = apr_dbd_query(db->driver, db->handle, &nrows, "COMMIT");
        if (dbrv != 0) {
            rv = igraph_store_fail(db, p, "COMMIT", dbrv);
        }
    }
    if (rv != APR_SUCCESS) {
        apr_dbd_query(db->driver, db->handle, &nrows, "ROLLBACK");
    }
    igraph_store_gate_leave(db);
    return rv;
}

/* IGRAPH_ST_JOB_INSERT with n rows after VALUES, prepared on this connection at first use
 * (labels igraph_job_insert_rowsN, dropped with the others after a failure). */
static apr_status_t igraph_rows_stmt(igraph_db_t *db, apr_pool_t *p, int n,
                                     apr_dbd_prepared_t **out)
{
    const char *label = apr_psprintf(p, IGRAPH_LABEL_PREFIX "job_insert_rows%d", n);
    const char *sql = igraph_stmts[IGRAPH_ST_JOB_INSERT].sql;
    const char *values = strstr(sql, "VALUES (");
    const char *row_end = values ? strchr(values, ')') : NULL;
    char *row, *all;
    int i, dbrv;

    if ((*out = apr_hash_get(db->prepared, label, APR_HASH_KEY_STRING))) {
        return APR_SUCCESS;
    }
    if (!values || !row_end) {
        return APR_EGENERAL;
    }
    values += strlen("VALUES ");
    row = apr_pstrmemdup(p, values, (apr_size_t)(row_end + 1 - values));
    all = apr_pstrmemdup(p, sql, (apr_size_t)(values - sql));
    for (i = 0; i < n; i++) {
        all = apr_pstrcat(p, all, i ? ", " : "", row, NULL);
    }
    all = apr_pstrcat(p, all, row_end + 1, NULL);
    /* connection lifetime, like the labelled statements */
    dbrv = apr_dbd_prepare(db->driver, db->pool, db->handle, all,
                           apr_psprintf(db->pool, "%s_%u", label,
                                        apr_atomic_inc32(&igraph_stmt_gen)),
                           out);
    if (dbrv != 0 || !*out) {
        return igraph_store_fail(db, p, label, dbrv);
    }
    apr_hash_set(db->prepared, apr_pstrdup(db->pool, label), APR_HASH_KEY_STRING, *out);
    return APR_SUCCESS;
}

/* One multi-row INSERT for the storable items of a chunk: a single statement is a single commit
 * (and a single pass of the write gate). Items whose row ON CONFLICT skipped (a repeated
 * idempotency key, also within the chunk) are told apart by looking their id up. */
static apr_status_t igraph_insert_rows(igraph_db_t *db, apr_pool_t *p, igraph_job_insert_t **items,
                                       int n)
{
    const char **args = apr_palloc(p, (apr_size_t)n * IGRAPH_JOB_INSERT_NARGS * sizeof(*args));
    igraph_job_insert_t **rows = apr_palloc(p, (apr_size_t)n * sizeof(*rows));
    apr_dbd_prepared_t *stmt;
    apr_status_t rv;
    int i, k = 0, nrows = 0, dbrv, gated;

    for (i = 0; i < n; i++) {
        items[i]->rv = igraph_job_insert_args(p, items[i]->job, items[i]->idempotency_key,
                                              items[i]->media_key,
                                              args + k * IGRAPH_JOB_INSERT_NARGS);
        if (items[i]->rv == APR_SUCCESS) {
            rows[k++] = items[i];
        }
    }
    if (k == 0) {
        return APR_SUCCESS;
    }
    if ((rv = igraph_rows_stmt(db, p, k, &stmt)) != APR_SUCCESS) {
        return rv;
    }
    gated = igraph_gate_enter(db);
    dbrv = apr_dbd_pquery(db->driver, p, db->handle, &nrows, stmt, k * IGRAPH_JOB_INSERT_NARGS,
                          args);
    igraph_gate_leave(db, gated);
    if (dbrv != 0) {
        return igraph_store_fail(db, p, "igraph_job_insert_rows", dbrv);
    }
    for (i = 0; nrows < k && i < k; i++) {
        igraph_job_t *j;
        if (rows[i]->idempotency_key && *rows[i]->idempotency_key &&
            igraph_store_job_get(db, p, NULL, rows[i]->job->id, &j) == APR_NOTFOUND) {
            rows[i]->rv = APR_EEXIST;
        }
    }
    return APR_SUCCESS;
}

apr_status_t igraph_store_jobs_insert(igraph_db_t *db, apr_pool_t *p, igraph_job_insert_t **items,
                                      int n)
{
    apr_status_t rv = APR_SUCCESS;
    int i, first = 0;

    /* statements are prepared (and the schema migrated) before any row goes in */
    if (n > 0 && (rv = igraph_store_ready(db, p)) != APR_SUCCESS) {
        goto leave;
    }
    for (first = 0; first < n; first += IGRAPH_GROUP_ROWS) {
        int k = n - first < IGRAPH_GROUP_ROWS ? n - first : IGRAPH_GROUP_ROWS;
        if ((rv = igraph_insert_rows(db, p, items + first, k)) != APR_SUCCESS) {
            break;
        }
    }
leave:
    /* the chunk that failed, and every one after it, is not stored */
    for (i = first; rv != APR_SUCCESS && i < n; i++) {
        items[i]->rv = rv;
    }
    return rv;
}

apr_status_t igraph_store_data_deletion(igraph_db_t *db, apr_pool_t *p, const char *app_user_id,
                                        const igraph_login_e *login, const char *code, int *count)
{
    const char *now, *slogin;
    apr_status_t rv;
    int deleted = 0, ok;

    if (count) {
        *count = 0;
    }
    if ((rv = igraph_store_ready(db, p)) != APR_SUCCESS) {
        return rv;
    }
    slogin = igraph_meta_login_arg(login, &ok);
    if (!app_user_id || !*app_user_id || !code || !*code || !ok) {
        return APR_EINVAL;
    }
    if ((rv = igraph_store_begin(db, p)) != APR_SUCCESS) {
        return rv;
    }
    /* Everything that hangs off the accounts goes first, while the accounts still say whose it
     * is; the account rows (and with them the sealed tokens) last. */
    rv = IGRAPH_QUERY(db, p, IGRAPH_ST_META_DEL_JOBS, NULL, app_user_id, slogin, slogin);
    if (rv == APR_SUCCESS) {
        rv = IGRAPH_QUERY(db, p, IGRAPH_ST_META_DEL_EVENTS, NULL, app_user_id, slogin, slogin,
                          app_user_id, slogin, slogin);
    }
    if (rv == APR_SUCCESS) {
        rv = IGRAPH_QUERY(db, p, IGRAPH_ST_META_DEL_PENDING, NULL, app_user_id, slogin, slogin);
    }
    if (rv == APR_SUCCESS) {
        rv =
            IGRAPH_QUERY(db, p, IGRAPH_ST_META_DEL_ACCOUNTS, &deleted, app_user_id, slogin, slogin);
    }
    /* Recorded even when nothing matched: Meta may ask about ids we never stored, and the
     * status page must still answer for the code we give back. */
    if (rv == APR_SUCCESS) {
        now = igraph_i64(p, igraph_now());
        rv = IGRAPH_QUERY(db, p, IGRAPH_ST_DELETION_INSERT, NULL, code, app_user_id, slogin,
                          "completed", igraph_itoa(p, deleted), now, now);
    }
    rv = igraph_store_end(db, p, rv);
    if (rv == APR_SUCCESS && count) {
        *count = deleted;
    }
    return rv;
}

apr_status_t igraph_store_deletion_get(igraph_db_t *db, apr_pool_t *p, const char *code,
                                       const char **status, int *accounts_deleted,
                                       apr_int64_t *created_at, apr_int64_t *completed_at)
{
    apr_dbd_results_t *res;
    apr_dbd_row_t *row = NULL;
    apr_int64_t n = 0, created = 0, completed = 0;
    const char *st = NULL;
    apr_status_t rv, rrv = APR_NOTFOUND;

    if (!code) {
        return APR_EINVAL;
    }
    rv = IGRAPH_SELECT(db, p, IGRAPH_ST_DELETION_GET, &res, code);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    while (apr_dbd_get_row(db->driver, p, res, &row, -1) == 0) {
        if (rrv != APR_NOTFOUND) {
            continue;
        }
        st = igraph_col_str(db, p, row, 0);
        if ((rrv = igraph_col_i64(db, row, 1, &n)) == APR_SUCCESS &&
            (rrv = igraph_col_i64(db, row, 2, &created)) == APR_SUCCESS) {
            rrv = igraph_col_i64(db, row, 3, &completed);
        }
    }
    if (rrv != APR_SUCCESS) {
        return rrv;
    }
    if (status) {
        *status = st;
    }
    if (accounts_deleted) {
        *accounts_deleted = igraph_clamp_int(n);
    }
    if (created_at) {
        *created_at = created;
    }
    if (completed_at) {
        *completed_at = completed;
    }
    return APR_SUCCESS;
}

apr_status_t igraph_store_event_insert(igraph_db_t *db, apr_pool_t *p, const igraph_key_t *key,
                                       const igraph_webhook_event_t *e)
{
    const char *dedupe, *sealed;
    apr_dbd_results_t *res;
    apr_dbd_row_t *row = NULL;
    apr_int64_t linked = 0;
    apr_status_t rv;
    int nrows = 0;

    if (!key || !e || !e->ig_id || !*e->ig_id || !e->field || !*e->field || !e->value ||
        !e->dedupe || !*e->dedupe) {
        return APR_EINVAL;
    }
    dedupe = igraph_event_dedupe(p, key, e->dedupe);
    sealed = igraph_seal_str(p, key, igraph_event_aad(p, e->ig_id, dedupe), e->value);
    if (!sealed) {
        igraph_log(IGRAPH_LOG_ERR, "IG0316: store: event for %s: sealing the payload failed",
                   e->ig_id);
        return APR_EGENERAL;
    }
    rv = IGRAPH_QUERY(
        db, p, IGRAPH_ST_EVENT_INSERT, &nrows, e->ig_id, e->field, sealed, igraph_i64(p, e->time),
        igraph_i64(p, e->received_at > 0 ? e->received_at : igraph_now()), dedupe, e->ig_id);
    if (rv != APR_SUCCESS || nrows == 1) {
        return rv;
    }
    /* 0 rows: a delivery we already have, or nobody's account */
    rv = IGRAPH_SELECT(db, p, IGRAPH_ST_EVENT_ACCOUNT, &res, e->ig_id);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    while (apr_dbd_get_row(db->driver, p, res, &row, -1) == 0) {
        if (rv == APR_SUCCESS) {
            rv = igraph_col_i64(db, row, 0, &linked);
        }
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    return linked > 0 ? APR_EEXIST : APR_NOTFOUND;
}

apr_status_t igraph_store_events_purge(igraph_db_t *db, apr_pool_t *p, apr_int64_t before,
                                       int limit, int *count)
{
    apr_status_t rv;
    int nrows = 0;

    if (count) {
        *count = 0;
    }
    if (limit <= 0) {
        return APR_EINVAL;
    }
    rv = IGRAPH_QUERY(db, p, IGRAPH_ST_EVENT_PURGE, &nrows, igraph_i64(p, before),
                      igraph_itoa(p, limit));
    if (rv == APR_SUCCESS && count) {
        *count = nrows;
    }
    return rv;
}

apr_status_t igraph_store_events_list(igraph_db_t *db, apr_pool_t *p, const igraph_key_t *key,
                                      const char *owner, int limit, apr_array_header_t **out)
{
    apr_dbd_results_t *res;
    apr_dbd_row_t *row = NULL;
    apr_array_header_t *list;
    igraph_webhook_event_t *e;
    const char *sealed;
    apr_status_t rv, rrv = APR_SUCCESS;
    int unreadable = 0;

    if (!key || !owner || !out || limit <= 0) {
        return APR_EINVAL;
    }
    rv = IGRAPH_SELECT(db, p, IGRAPH_ST_EVENT_LIST, &res, owner, igraph_itoa(p, limit));
    if (rv != APR_SUCCESS) {
        return rv;
    }
    list = apr_array_make(p, 8, sizeof(igraph_webhook_event_t *));
    while (apr_dbd_get_row(db->driver, p, res, &row, -1) == 0) {
        if (rrv != APR_SUCCESS) {
            continue;
        }
        e = apr_pcalloc(p, sizeof(*e));
        if ((rrv = igraph_col_i64(db, row, 0, &e->id)) != APR_SUCCESS ||
            (rrv = igraph_col_i64(db, row, 4, &e->time)) != APR_SUCCESS ||
            (rrv = igraph_col_i64(db, row, 5, &e->received_at)) != APR_SUCCESS) {
            continue;
        }
        e->ig_id = igraph_col_str(db, p, row, 1);
        e->field = igraph_col_str(db, p, row, 2);
        sealed = igraph_col_str(db, p, row, 3);
        e->dedupe = igraph_col_str(db, p, row, 6);
        e->value = (e->ig_id && e->dedupe && sealed)
                       ? igraph_unseal_str(p, key, igraph_event_aad(p, e->ig_id, e->dedupe), sealed)
                       : NULL;
        if (!e->value) {
            /* tampered, moved, or sealed under another key: left out, like a lost delivery */
            unreadable++;
            continue;
        }
        APR_ARRAY_PUSH(list, igraph_webhook_event_t *) = e;
    }
    if (rrv != APR_SUCCESS) {
        return rrv;
    }
    if (unreadable) {
        igraph_log(IGRAPH_LOG_WARNING, "IG0317: store: %d event payload(s) cannot be opened",
                   unreadable);
    }
    *out = list;
    return APR_SUCCESS;
}
