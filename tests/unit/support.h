/* support.h: helpers shared by the cmocka unit tests in tests/unit/test_*.c.
 *
 * Makefile.apxs links tests/unit/support.c into every unit test binary. Include this header
 * after <cmocka.h> (and its prerequisites <setjmp.h>, <stdarg.h>, <stddef.h>, <stdint.h>):
 * the helpers fail the running test with cmocka's assertions.
 *
 *   process     test_init() / test_done(): APR up and down, the root pool test_root_pool;
 *               test_db_init(): the apr_dbd driver (SQLite, or PostgreSQL when asked for).
 *   pools       test_pool_setup / test_pool_teardown: cmocka setup and teardown of a fresh pool
 *               per test, test_pool (also in *state).
 *   keys        test_key: the fixed token key 00 01 .. 1f.
 *   log         test_log_capture() installs a sink that keeps every message in test_log_buf and
 *               counts errors and schema migrations; test_log_reset() clears it (the DB fixture
 *               does so on setup); test_log_assert_clean() fails when a needle was logged.
 *   database    test_db_setup / test_db_teardown: cmocka setup and teardown with a fresh SQLite
 *               file in a temporary directory, as a test_fixture_t in *state; test_db_open/close
 *               for a second connection; test_db_value/count/exec for raw SQL.
 *   schemas     TEST_SCHEMA_V1_DDL, TEST_SCHEMA_V2_DDL: released schemas for migration tests.
 *   Graph       test_graph_app(): a Graph API client for the fixed test apps.
 *   HTTP server test_server_t: an in-process HTTP/1.1 server on an ephemeral loopback port that
 *               answers each connection, in order, with a canned response and records the
 *               requests (test_server_listen/run/start/stop/poke, test_server_url,
 *               test_http_resp, test_req_line, test_req_body, test_unused_port).
 */
#ifndef TEST_SUPPORT_H
#define TEST_SUPPORT_H

#include <pthread.h>

#include <apr_dbd.h>
#include <apr_pools.h>

#include "igraph_crypto.h"
#include "igraph_graph.h"
#include "igraph_store.h"

/* ---- process ---------------------------------------------------------------------------- */

/* The root pool, created by test_init(), destroyed by test_done(). */
extern apr_pool_t *test_root_pool;

/* apr_initialize() and test_root_pool. 0, or -1 after a message on stderr. */
int test_init(void);

/* Destroys test_root_pool and terminates APR. */
void test_done(void);

/* ---- pools ------------------------------------------------------------------------------ */

/* The pool of the running test: created by test_pool_setup, destroyed by test_pool_teardown. */
extern apr_pool_t *test_pool;

/* cmocka setup: a new top-level test_pool, also put in *state; resets the log capture. */
int test_pool_setup(void **state);

/* cmocka teardown: destroys test_pool. */
int test_pool_teardown(void **state);

/* ---- keys ------------------------------------------------------------------------------- */

/* The fixed key {0x00, 0x01, ..., 0x1f}. */
extern const igraph_key_t test_key;

/* ---- log capture ------------------------------------------------------------------------ */

#define TEST_LOG_MAX 65536

extern char test_log_buf[TEST_LOG_MAX]; /* every captured message, one a line */
extern apr_size_t test_log_len;
extern int test_log_errors;     /* messages at IGRAPH_LOG_ERR or worse */
extern int test_log_migrations; /* "schema migrated" notices (IG0305) */

/* Installs the capturing sink for messages up to `level`. When the environment variable named
 * verbose_env (may be NULL) is set, messages are also printed to stderr. */
void test_log_capture(int level, const char *verbose_env);

/* Empties test_log_buf and zeroes the counters. */
void test_log_reset(void);

/* Fails the test when any of the NULL-terminated needles occurs in the captured log. */
void test_log_assert_clean(const char *const *needles);

/* ---- database --------------------------------------------------------------------------- */

/* The driver loaded by test_db_init(), and the PostgreSQL connection parameters (NULL: SQLite,
 * one file per test). */
extern const apr_dbd_driver_t *test_dbd_driver;
extern const char *test_dbd_params;

/* Loads the apr_dbd driver (after test_init): "pgsql" with the parameters from the environment
 * variable pg_env when that is set (pg_env may be NULL), otherwise "sqlite3". `name` prefixes the
 * temporary directories (/tmp/<name>.XXXXXX). 0, or -1 after a message on stderr. */
int test_db_init(const char *name, const char *pg_env);

/* A fresh database per test. */
typedef struct test_fixture_t {
    apr_pool_t *pool; /* per test, child of test_root_pool */
    char *dir;        /* the temporary directory */
    char *path;       /* <dir>/igraph.db */
    igraph_db_t db;   /* an open connection to it */
} test_fixture_t;

/* cmocka setup: *state = a new test_fixture_t with an empty database (on PostgreSQL the public
 * schema is dropped and made again); resets the log capture. */
int test_db_setup(void **state);

/* cmocka teardown: closes the connection, removes the database files and the directory. */
int test_db_teardown(void **state);

/* Opens another connection to f's database into *db (a filled igraph_db_t). */
void test_db_open(test_fixture_t *f, igraph_db_t *db);

/* Closes a connection opened by test_db_open (again is a no-op). */
void test_db_close(igraph_db_t *db);

/* First column of the first row, or NULL (also for SQL NULL). */
const char *test_db_value(igraph_db_t *db, apr_pool_t *p, const char *sql);

/* test_db_value() as a number; fails on NULL. */
long test_db_count(igraph_db_t *db, apr_pool_t *p, const char *sql);

/* Runs a statement; fails the test when it fails. */
void test_db_exec(igraph_db_t *db, const char *sql);

/* ---- released schemas ------------------------------------------------------------------- */

/* The tables of schema versions 1 and 2 exactly as released (igraph_store.c at 77c2dd1 and
 * 7693b9c), as lists of SQL statements for an array initializer; the migration tests follow them
 * with their own rows (and later versions' tables). */
/* clang-format off */
#define TEST_SCHEMA_V1_DDL                                                                         \
    "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)",    \
    "CREATE TABLE accounts (id INTEGER PRIMARY KEY AUTOINCREMENT, "                                \
    "platform TEXT NOT NULL DEFAULT 'meta_ig', login TEXT NOT NULL, ig_user_id TEXT NOT NULL, "    \
    "owner TEXT NOT NULL, username TEXT, name TEXT, picture_url TEXT, page_id TEXT, "              \
    "page_name TEXT, app_user_id TEXT, access_token_enc TEXT, user_token_enc TEXT, "               \
    "token_expires_at BIGINT NOT NULL DEFAULT 0, token_issued_at BIGINT NOT NULL DEFAULT 0, "      \
    "scopes TEXT, status TEXT NOT NULL DEFAULT 'active', last_error TEXT, "                        \
    "created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, "                                     \
    "UNIQUE (owner, platform, ig_user_id))",                                                       \
    "CREATE INDEX accounts_app_user_id ON accounts (app_user_id)",                                 \
    "CREATE TABLE oauth_states (state_hash TEXT PRIMARY KEY, owner TEXT NOT NULL, "                \
    "login TEXT NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL)",                \
    "CREATE TABLE oauth_pending (id TEXT PRIMARY KEY, owner TEXT NOT NULL, kind TEXT NOT NULL, "   \
    "payload_enc TEXT NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL)"

#define TEST_SCHEMA_V2_DDL                                                                         \
    TEST_SCHEMA_V1_DDL,                                                                            \
    "ALTER TABLE accounts ADD COLUMN next_refresh_at BIGINT NOT NULL DEFAULT 0",                   \
    "ALTER TABLE accounts ADD COLUMN refresh_failures INTEGER NOT NULL DEFAULT 0",                 \
    "ALTER TABLE accounts ADD COLUMN claimed_by TEXT",                                             \
    "ALTER TABLE accounts ADD COLUMN claim_until BIGINT NOT NULL DEFAULT 0",                       \
    "CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, "                           \
    "expires_at BIGINT NOT NULL)",                                                                 \
    "CREATE INDEX accounts_due ON accounts (status, token_expires_at)"
/* clang-format on */

/* ---- Graph API client ------------------------------------------------------------------- */

/* A client for the fixed test apps, without base URLs: version v26.0, Facebook app
 * 1234567890123456 with secret "fb-app-secret" (appsecret_proof on), Instagram app
 * 990602627938098 with secret "ig-app-secret". */
igraph_graph_t *test_graph_app(apr_pool_t *p);

/* ---- in-process HTTP server ------------------------------------------------------------- */

#define TEST_SERVER_MAX 8

/* Zero it, set resp[]/nresp (or hang), then test_server_start(); or test_server_listen() first
 * when the answers need the port, then test_server_run(). */
typedef struct test_server_t {
    int lfd, port;
    const char *resp[TEST_SERVER_MAX]; /* one canned answer per connection, in order */
    int nresp;
    int hang;                   /* accept one connection, read, never answer */
    char *req[TEST_SERVER_MAX]; /* what was received (pool strings after test_server_stop) */
    int nreq;
    pthread_t th;
    apr_pool_t *pool; /* for test_server_url, test_req_line and the captured requests */
} test_server_t;

/* Listens on an ephemeral loopback port (s->port); does not touch resp, nresp or hang. */
void test_server_listen(test_server_t *s, apr_pool_t *p);

/* Serves s->resp in a thread. */
void test_server_run(test_server_t *s);

/* test_server_listen() and test_server_run(). */
void test_server_start(test_server_t *s, apr_pool_t *p);

/* Joins the thread and closes the socket; the captured requests become pool strings. */
void test_server_stop(test_server_t *s);

/* Connects and hangs up, so that a server still waiting in accept() finishes. */
void test_server_poke(const test_server_t *s);

/* "http://127.0.0.1:<port><path>" */
const char *test_server_url(const test_server_t *s, const char *path);

/* "HTTP/1.1 <status>\r\n<headers>Content-Type: application/json\r\nContent-Length: n\r\n
 * Connection: close\r\n\r\n<body>"; headers may be NULL, else each ends in "\r\n". */
const char *test_http_resp(apr_pool_t *p, const char *status, const char *headers,
                           const char *body);

/* The request line of captured request i, and its body ("" when none). */
const char *test_req_line(const test_server_t *s, int i);
const char *test_req_body(const test_server_t *s, int i);

/* A loopback port that is bound once and then released: connections to it are refused. */
int test_unused_port(void);

#endif
