/* igraph_store.c: account state in SQL through apr_dbd (see igraph_store.h for the contract).
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

typedef struct igraph_migration_t {
    int version;
    const char *const *statements; /* NULL-terminated */
} igraph_migration_t;

/* Applied in order. A new version is one line here (plus its statement list above and
 * IGRAPH_SCHEMA_VERSION in igraph_store.h). Versions must ascend. */
static const igraph_migration_t igraph_migrations[] = {
    {1, igraph_schema_v1},
    {2, igraph_schema_v2},
};

#define IGRAPH_MIGRATE_TRIES 5

/* ---- labelled statements ---------------------------------------------------------------- */

/* Column order shared by every SELECT that fills an igraph_account_t (see igraph_account_read). */
#define IGRAPH_ACCOUNT_COLS                                                                        \
    "id, platform, login, ig_user_id, owner, username, name, picture_url, page_id, page_name, "    \
    "app_user_id, scopes, status, last_error, token_expires_at, token_issued_at, created_at, "     \
    "updated_at, access_token_enc, user_token_enc, next_refresh_at, refresh_failures"

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
    IGRAPH_ST_COUNT
} igraph_stmt_e;

typedef struct igraph_stmt_t {
    const char *label; /* key in db->prepared; must start with "igraph_" */
    const char *sql;   /* apr_dbd markers: %s text, %ld 64-bit integer (passed as a string) */
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
                                "SELECT " IGRAPH_ACCOUNT_COLS " FROM accounts WHERE owner = %s "
                                "ORDER BY created_at, id"},
    [IGRAPH_ST_ACCOUNT_GET] = {"igraph_account_get",
                               "SELECT " IGRAPH_ACCOUNT_COLS
                               " FROM accounts WHERE id = %ld AND owner = %s"},
    [IGRAPH_ST_ACCOUNT_SET_STATUS] = {"igraph_account_set_status",
                                      "UPDATE accounts SET status = %s, last_error = %s, "
                                      "updated_at = %ld WHERE id = %ld AND owner = %s"},
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
     * newer login or refresh is never replaced by an older one. A successful refresh proves the
     * token works, so needs_reauth (not disabled) becomes active again. */
    [IGRAPH_ST_ACCOUNT_TOKENS_UPDATE] =
        {"igraph_account_tokens_update",
         "UPDATE accounts SET access_token_enc = COALESCE(%s, access_token_enc), "
         "user_token_enc = COALESCE(%s, user_token_enc), token_expires_at = %ld, "
         "token_issued_at = %ld, username = COALESCE(%s, username), "
         "name = COALESCE(%s, name), picture_url = COALESCE(%s, picture_url), "
         "status = CASE WHEN status = 'needs_reauth' THEN 'active' ELSE status END, "
         "last_error = NULL, refresh_failures = 0, next_refresh_at = 0, updated_at = %ld "
         "WHERE id = %ld AND token_issued_at <= %ld"},
    [IGRAPH_ST_ACCOUNT_REFRESH_FAILED] = {"igraph_account_refresh_failed",
                                          "UPDATE accounts SET status = COALESCE(%s, status), "
                                          "last_error = %s, "
                                          "refresh_failures = refresh_failures + 1, "
                                          "next_refresh_at = %ld, updated_at = %ld WHERE id = %ld"},
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
static apr_status_t igraph_stmt_get(igraph_db_t *db, igraph_stmt_e st, int nargs,
                                    apr_dbd_prepared_t **pstmt)
{
    const igraph_stmt_t *s = &igraph_stmts[st];

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

/* Runs a labelled statement that returns no rows; *nrows = rows affected. */
static apr_status_t igraph_store_query(igraph_db_t *db, apr_pool_t *p, igraph_stmt_e st, int *nrows,
                                       const char **args, int nargs)
{
    apr_dbd_prepared_t *stmt;
    apr_status_t rv;
    int n = 0, dbrv;

    if ((rv = igraph_stmt_get(db, st, nargs, &stmt)) != APR_SUCCESS) {
        return rv;
    }
    dbrv = apr_dbd_pquery(db->driver, p, db->handle, &n, stmt, nargs, args);
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

    if ((rv = igraph_stmt_get(db, st, nargs, &stmt)) != APR_SUCCESS) {
        return rv;
    }
    *res = NULL;
    dbrv = apr_dbd_pselect(db->driver, p, db->handle, res, stmt, 0, nargs, args);
    if (dbrv != 0) {
        return igraph_store_fail(db, p, igraph_stmts[st].label, dbrv);
    }
    return APR_SUCCESS;
}

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

static apr_status_t igraph_account_read(igraph_db_t *db, apr_pool_t *p, apr_dbd_row_t *row,
                                        igraph_account_t **out)
{
    igraph_account_t *a = apr_pcalloc(p, sizeof(*a));
    apr_int64_t failures = 0;
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
    a->platform = igraph_col_str(db, p, row, IGRAPH_COL_PLATFORM);
    a->login = igraph_col_str(db, p, row, IGRAPH_COL_LOGIN);
    a->ig_user_id = igraph_col_str(db, p, row, IGRAPH_COL_IG_USER_ID);
    a->owner = igraph_col_str(db, p, row, IGRAPH_COL_OWNER);
    a->username = igraph_col_str(db, p, row, IGRAPH_COL_USERNAME);
    a->name = igraph_col_str(db, p, row, IGRAPH_COL_NAME);
    a->picture_url = igraph_col_str(db, p, row, IGRAPH_COL_PICTURE_URL);
    a->page_id = igraph_col_str(db, p, row, IGRAPH_COL_PAGE_ID);
    a->page_name = igraph_col_str(db, p, row, IGRAPH_COL_PAGE_NAME);
    a->app_user_id = igraph_col_str(db, p, row, IGRAPH_COL_APP_USER_ID);
    a->scopes = igraph_col_str(db, p, row, IGRAPH_COL_SCOPES);
    a->status = igraph_col_str(db, p, row, IGRAPH_COL_STATUS);
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
        rv = igraph_migrate_once(db, p, d, &what, &applied);
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
    const char *platform, *access_enc = NULL, *user_enc = NULL, *now;
    apr_int64_t id = 0, created = 0, updated = 0;
    apr_status_t rv;
    int rows = 0;

    if ((rv = igraph_store_ready(db, p)) != APR_SUCCESS) {
        return rv;
    }
    if (!a || !key || !a->login || !a->ig_user_id || !a->owner) {
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
    {
        const char *args[] = {
            platform,
            a->login,
            a->ig_user_id,
            a->owner,
            a->username,
            a->name,
            a->picture_url,
            a->page_id,
            a->page_name,
            a->app_user_id,
            access_enc,
            user_enc,
            igraph_i64(p, a->token_expires_at),
            igraph_i64(p, a->token_issued_at),
            a->scopes,
            now,
            now,
        };
        rv = igraph_store_select(db, p, IGRAPH_ST_ACCOUNT_UPSERT, &res, args, IGRAPH_NARGS(args));
    }
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
    a->status = "active";
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

    if ((rv = igraph_store_ready(db, p)) != APR_SUCCESS) {
        return rv;
    }
    if (!owner || !out) {
        return APR_EINVAL;
    }
    {
        const char *args[] = {owner};
        rv = igraph_store_select(db, p, IGRAPH_ST_ACCOUNT_LIST, &res, args, IGRAPH_NARGS(args));
    }
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

    if ((rv = igraph_store_ready(db, p)) != APR_SUCCESS) {
        return rv;
    }
    if (!owner || !out) {
        return APR_EINVAL;
    }
    {
        const char *args[] = {igraph_i64(p, id), owner};
        rv = igraph_store_select(db, p, IGRAPH_ST_ACCOUNT_GET, &res, args, IGRAPH_NARGS(args));
    }
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
                                             apr_int64_t id, const char *status,
                                             const char *last_error)
{
    apr_status_t rv;
    int nrows = 0;

    if ((rv = igraph_store_ready(db, p)) != APR_SUCCESS) {
        return rv;
    }
    if (!owner || !status) {
        return APR_EINVAL;
    }
    {
        const char *args[] = {status, last_error, igraph_i64(p, igraph_now()), igraph_i64(p, id),
                              owner};
        rv = igraph_store_query(db, p, IGRAPH_ST_ACCOUNT_SET_STATUS, &nrows, args,
                                IGRAPH_NARGS(args));
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    return nrows > 0 ? APR_SUCCESS : APR_NOTFOUND;
}

apr_status_t igraph_store_account_delete(igraph_db_t *db, apr_pool_t *p, const char *owner,
                                         apr_int64_t id)
{
    apr_status_t rv;
    int nrows = 0;

    if ((rv = igraph_store_ready(db, p)) != APR_SUCCESS) {
        return rv;
    }
    if (!owner) {
        return APR_EINVAL;
    }
    {
        const char *args[] = {igraph_i64(p, id), owner};
        rv = igraph_store_query(db, p, IGRAPH_ST_ACCOUNT_DELETE, &nrows, args, IGRAPH_NARGS(args));
    }
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
                                    const char *owner, const char *login, apr_int64_t expires_at)
{
    const char *now;
    apr_status_t rv;

    if ((rv = igraph_store_ready(db, p)) != APR_SUCCESS) {
        return rv;
    }
    if (!state_hash || !owner || !login) {
        return APR_EINVAL;
    }
    now = igraph_i64(p, igraph_now());
    {
        const char *args[] = {now};
        rv = igraph_store_query(db, p, IGRAPH_ST_STATE_PURGE, NULL, args, IGRAPH_NARGS(args));
    }
    if (rv == APR_SUCCESS) {
        const char *args[] = {state_hash, owner, login, now, igraph_i64(p, expires_at)};
        rv = igraph_store_query(db, p, IGRAPH_ST_STATE_INSERT, NULL, args, IGRAPH_NARGS(args));
    }
    return rv;
}

apr_status_t igraph_store_state_take(igraph_db_t *db, apr_pool_t *p, const char *state_hash,
                                     const char *owner, apr_int64_t now, const char **login)
{
    apr_dbd_results_t *res;
    apr_dbd_row_t *row = NULL;
    const char *found = NULL, *snow;
    apr_status_t rv;
    int rows = 0, nrows = 0;

    if ((rv = igraph_store_ready(db, p)) != APR_SUCCESS) {
        return rv;
    }
    if (!state_hash || !owner) {
        return APR_EINVAL;
    }
    snow = igraph_i64(p, now);
    {
        const char *args[] = {state_hash, owner, snow};
        rv = igraph_store_select(db, p, IGRAPH_ST_STATE_SELECT, &res, args, IGRAPH_NARGS(args));
    }
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
    {
        const char *args[] = {state_hash, owner, snow};
        rv = igraph_store_query(db, p, IGRAPH_ST_STATE_DELETE, &nrows, args, IGRAPH_NARGS(args));
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (nrows != 1) {
        return APR_NOTFOUND;
    }
    if (login) {
        *login = found;
    }
    return APR_SUCCESS;
}

apr_status_t igraph_store_pending_put(igraph_db_t *db, apr_pool_t *p, const igraph_key_t *key,
                                      const char *id, const char *owner, const char *kind,
                                      const char *payload, apr_int64_t expires_at)
{
    const char *now, *enc;
    apr_status_t rv;

    if ((rv = igraph_store_ready(db, p)) != APR_SUCCESS) {
        return rv;
    }
    if (!key || !id || !owner || !kind || !payload) {
        return APR_EINVAL;
    }
    enc = igraph_seal_str(p, key, igraph_pending_aad(p, id, owner, kind), payload);
    if (!enc) {
        igraph_log(IGRAPH_LOG_ERR, "IG0306: store: pending %s: sealing the payload failed", kind);
        return APR_EGENERAL;
    }
    now = igraph_i64(p, igraph_now());
    {
        const char *args[] = {now};
        rv = igraph_store_query(db, p, IGRAPH_ST_PENDING_PURGE, NULL, args, IGRAPH_NARGS(args));
    }
    if (rv == APR_SUCCESS) {
        const char *args[] = {id, owner, kind, enc, now, igraph_i64(p, expires_at)};
        rv = igraph_store_query(db, p, IGRAPH_ST_PENDING_INSERT, NULL, args, IGRAPH_NARGS(args));
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

    if ((rv = igraph_store_ready(db, p)) != APR_SUCCESS) {
        return rv;
    }
    if (!key || !id || !owner) {
        return APR_EINVAL;
    }
    {
        const char *args[] = {id, owner, igraph_i64(p, now)};
        rv = igraph_store_select(db, p, IGRAPH_ST_PENDING_SELECT, &res, args, IGRAPH_NARGS(args));
    }
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

    if ((rv = igraph_store_ready(db, p)) != APR_SUCCESS) {
        return rv;
    }
    if (!id) {
        return APR_EINVAL;
    }
    {
        const char *args[] = {id};
        rv = igraph_store_query(db, p, IGRAPH_ST_PENDING_DELETE, NULL, args, IGRAPH_NARGS(args));
    }
    return rv;
}

/* ---- maintenance (schema v2) ------------------------------------------------------------ */

apr_status_t igraph_store_lease(igraph_db_t *db, apr_pool_t *p, const char *name,
                                const char *holder, apr_int64_t now, apr_int64_t ttl)
{
    const char *until;
    apr_status_t rv;
    int nrows = 0;

    if ((rv = igraph_store_ready(db, p)) != APR_SUCCESS) {
        return rv;
    }
    if (!name || !holder || ttl <= 0) {
        return APR_EINVAL;
    }
    until = igraph_i64(p, now + ttl);
    {
        const char *args[] = {name, holder, until};
        rv = igraph_store_query(db, p, IGRAPH_ST_LEASE_INSERT, &nrows, args, IGRAPH_NARGS(args));
    }
    if (rv != APR_SUCCESS || nrows == 1) {
        return rv;
    }
    /* The row exists: take it over only when it is ours (renewal) or has expired. */
    {
        const char *args[] = {holder, until, name, holder, igraph_i64(p, now)};
        rv = igraph_store_query(db, p, IGRAPH_ST_LEASE_TAKE, &nrows, args, IGRAPH_NARGS(args));
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    return nrows == 1 ? APR_SUCCESS : APR_EBUSY;
}

apr_status_t igraph_store_lease_release(igraph_db_t *db, apr_pool_t *p, const char *name,
                                        const char *holder)
{
    apr_status_t rv;

    if ((rv = igraph_store_ready(db, p)) != APR_SUCCESS) {
        return rv;
    }
    if (!name || !holder) {
        return APR_EINVAL;
    }
    {
        const char *args[] = {name, holder};
        rv = igraph_store_query(db, p, IGRAPH_ST_LEASE_RELEASE, NULL, args, IGRAPH_NARGS(args));
    }
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

apr_status_t igraph_store_accounts_due(igraph_db_t *db, apr_pool_t *p, apr_int64_t now,
                                       apr_int64_t window, int limit, apr_array_header_t **out)
{
    apr_dbd_results_t *res;
    apr_status_t rv;

    if ((rv = igraph_store_ready(db, p)) != APR_SUCCESS) {
        return rv;
    }
    if (!out || limit <= 0 || window < 0) {
        return APR_EINVAL;
    }
    {
        const char *args[] = {igraph_i64(p, now + window), igraph_i64(p, now),
                              igraph_i64(p, limit)};
        rv = igraph_store_select(db, p, IGRAPH_ST_ACCOUNT_DUE, &res, args, IGRAPH_NARGS(args));
    }
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

    if ((rv = igraph_store_ready(db, p)) != APR_SUCCESS) {
        return rv;
    }
    if (!out) {
        return APR_EINVAL;
    }
    {
        const char *args[] = {igraph_i64(p, id)};
        rv = igraph_store_select(db, p, IGRAPH_ST_ACCOUNT_GET_ANY, &res, args, IGRAPH_NARGS(args));
    }
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

    if ((rv = igraph_store_ready(db, p)) != APR_SUCCESS) {
        return rv;
    }
    if (!holder) {
        return APR_EINVAL;
    }
    {
        const char *args[] = {holder, igraph_i64(p, until), igraph_i64(p, id), holder,
                              igraph_i64(p, now)};
        rv = igraph_store_query(db, p, IGRAPH_ST_ACCOUNT_CLAIM, &nrows, args, IGRAPH_NARGS(args));
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    return nrows == 1 ? APR_SUCCESS : APR_EBUSY;
}

apr_status_t igraph_store_account_unclaim(igraph_db_t *db, apr_pool_t *p, apr_int64_t id,
                                          const char *holder)
{
    apr_status_t rv;

    if ((rv = igraph_store_ready(db, p)) != APR_SUCCESS) {
        return rv;
    }
    if (!holder) {
        return APR_EINVAL;
    }
    {
        const char *args[] = {igraph_i64(p, id), holder};
        rv = igraph_store_query(db, p, IGRAPH_ST_ACCOUNT_UNCLAIM, NULL, args, IGRAPH_NARGS(args));
    }
    return rv;
}

apr_status_t igraph_store_account_tokens_update(igraph_db_t *db, apr_pool_t *p,
                                                const igraph_key_t *key, const igraph_account_t *a,
                                                const char *access_token, const char *user_token,
                                                apr_int64_t expires_at, apr_int64_t issued_at)
{
    const char *access_enc = NULL, *user_enc = NULL, *sid;
    igraph_account_t *cur;
    apr_status_t rv;
    int nrows = 0;

    if ((rv = igraph_store_ready(db, p)) != APR_SUCCESS) {
        return rv;
    }
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
    sid = igraph_i64(p, a->id);
    {
        const char *args[] = {access_enc,
                              user_enc,
                              igraph_i64(p, expires_at),
                              igraph_i64(p, issued_at),
                              a->username,
                              a->name,
                              a->picture_url,
                              igraph_i64(p, igraph_now()),
                              sid,
                              igraph_i64(p, issued_at)};
        rv = igraph_store_query(db, p, IGRAPH_ST_ACCOUNT_TOKENS_UPDATE, &nrows, args,
                                IGRAPH_NARGS(args));
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (nrows > 0) {
        return APR_SUCCESS;
    }
    /* Nothing written: a newer token is stored, or the account is gone. */
    rv = igraph_store_account_get_any(db, p, a->id, &cur);
    if (rv == APR_SUCCESS) {
        return APR_EEXIST;
    }
    return rv;
}

apr_status_t igraph_store_account_refresh_failed(igraph_db_t *db, apr_pool_t *p, apr_int64_t id,
                                                 const char *status, const char *last_error,
                                                 apr_int64_t next_refresh_at)
{
    apr_status_t rv;
    int nrows = 0;

    if ((rv = igraph_store_ready(db, p)) != APR_SUCCESS) {
        return rv;
    }
    {
        const char *args[] = {status, last_error, igraph_i64(p, next_refresh_at),
                              igraph_i64(p, igraph_now()), igraph_i64(p, id)};
        rv = igraph_store_query(db, p, IGRAPH_ST_ACCOUNT_REFRESH_FAILED, &nrows, args,
                                IGRAPH_NARGS(args));
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    return nrows > 0 ? APR_SUCCESS : APR_NOTFOUND;
}
