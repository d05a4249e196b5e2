/* support.c: helpers shared by the unit tests (see support.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_hash.h>
#include <apr_strings.h>

#include "igraph_log.h"
#include "support.h"

/* ---- process ---------------------------------------------------------------------------- */

apr_pool_t *test_root_pool;

int test_init(void)
{
    if (apr_initialize() != APR_SUCCESS || apr_pool_create(&test_root_pool, NULL) != APR_SUCCESS) {
        fprintf(stderr, "cannot initialize APR\n");
        return -1;
    }
    return 0;
}

void test_done(void)
{
    apr_pool_destroy(test_root_pool);
    test_root_pool = NULL;
    apr_terminate();
}

/* ---- pools ------------------------------------------------------------------------------ */

apr_pool_t *test_pool;

int test_pool_setup(void **state)
{
    if (apr_pool_create(&test_pool, NULL) != APR_SUCCESS) {
        return -1;
    }
    test_log_reset();
    *state = test_pool;
    return 0;
}

int test_pool_teardown(void **state)
{
    apr_pool_destroy(test_pool);
    test_pool = NULL;
    return 0;
}

/* ---- keys ------------------------------------------------------------------------------- */

const igraph_key_t test_key = {{0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
                                0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
                                0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f}};

/* ---- log capture ------------------------------------------------------------------------ */

char test_log_buf[TEST_LOG_MAX];
apr_size_t test_log_len;
int test_log_errors;
int test_log_migrations;
static const char *log_verbose_env;

static void log_sink(void *baton, int level, const char *file, int line, const char *msg)
{
    apr_size_t n = strlen(msg);

    if (level <= IGRAPH_LOG_ERR) {
        test_log_errors++;
    }
    if (strstr(msg, "IG0305:")) {
        test_log_migrations++;
    }
    if (test_log_len + n + 2 < sizeof(test_log_buf)) {
        memcpy(test_log_buf + test_log_len, msg, n);
        test_log_len += n;
        test_log_buf[test_log_len++] = '\n';
        test_log_buf[test_log_len] = '\0';
    }
    if (log_verbose_env && getenv(log_verbose_env)) {
        fprintf(stderr, "[%d] %s:%d %s\n", level, file, line, msg);
    }
}

void test_log_capture(int level, const char *verbose_env)
{
    log_verbose_env = verbose_env;
    test_log_reset();
    igraph_log_set_sink(log_sink, NULL, level);
}

void test_log_reset(void)
{
    test_log_len = 0;
    test_log_buf[0] = '\0';
    test_log_errors = 0;
    test_log_migrations = 0;
}

void test_log_assert_clean(const char *const *needles)
{
    for (; *needles; needles++) {
        if (strstr(test_log_buf, *needles)) {
            fail_msg("log contains \"%s\":\n%s", *needles, test_log_buf);
        }
    }
}

/* ---- database --------------------------------------------------------------------------- */

const apr_dbd_driver_t *test_dbd_driver;
const char *test_dbd_params;
static const char *db_name = "test_unit";

int test_db_init(const char *name, const char *pg_env)
{
    const char *drv;

    db_name = name;
    test_dbd_params = pg_env ? getenv(pg_env) : NULL;
    drv = test_dbd_params ? "pgsql" : "sqlite3";
    if (apr_dbd_init(test_root_pool) != APR_SUCCESS ||
        apr_dbd_get_driver(test_root_pool, drv, &test_dbd_driver) != APR_SUCCESS) {
        fprintf(stderr, "cannot load the apr_dbd %s driver\n", drv);
        return -1;
    }
    return 0;
}

void test_db_open(test_fixture_t *f, igraph_db_t *db)
{
    const char *err = NULL;

    memset(db, 0, sizeof(*db));
    db->driver = test_dbd_driver;
    db->pool = f->pool;
    db->prepared = apr_hash_make(f->pool);
    assert_int_equal(apr_dbd_open_ex(test_dbd_driver, f->pool,
                                     test_dbd_params ? test_dbd_params : f->path, &db->handle,
                                     &err),
                     APR_SUCCESS);
}

void test_db_close(igraph_db_t *db)
{
    if (db->handle) {
        apr_dbd_close(db->driver, db->handle);
        db->handle = NULL;
    }
}

int test_db_setup(void **state)
{
    test_fixture_t *f = calloc(1, sizeof(*f));
    char *tmpl;

    if (!f || apr_pool_create(&f->pool, test_root_pool) != APR_SUCCESS) {
        free(f);
        return -1;
    }
    tmpl = apr_pstrcat(f->pool, "/tmp/", db_name, ".XXXXXX", NULL);
    if (!mkdtemp(tmpl)) {
        apr_pool_destroy(f->pool);
        free(f);
        return -1;
    }
    f->dir = tmpl;
    f->path = apr_pstrcat(f->pool, f->dir, "/igraph.db", NULL);
    test_db_open(f, &f->db);
    if (test_dbd_params) {
        test_db_exec(&f->db, "DROP SCHEMA IF EXISTS public CASCADE");
        test_db_exec(&f->db, "CREATE SCHEMA public");
    }
    test_log_reset();
    *state = f;
    return 0;
}

int test_db_teardown(void **state)
{
    test_fixture_t *f = *state;
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    size_t i;

    test_db_close(&f->db);
    for (i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
        unlink(apr_pstrcat(f->pool, f->path, suffix[i], NULL));
    }
    rmdir(f->dir);
    apr_pool_destroy(f->pool);
    free(f);
    return 0;
}

const char *test_db_value(igraph_db_t *db, apr_pool_t *p, const char *sql)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    const char *out = NULL;
    char *s;
    int rows = 0;

    assert_int_equal(apr_dbd_select(db->driver, p, db->handle, &res, sql, 0), 0);
    while (apr_dbd_get_row(db->driver, p, res, &row, -1) == 0) {
        if (!rows++ && apr_dbd_datum_get(db->driver, row, 0, APR_DBD_TYPE_STRING, &s) == 0) {
            out = apr_pstrdup(p, s);
        }
    }
    return out;
}

long test_db_count(igraph_db_t *db, apr_pool_t *p, const char *sql)
{
    const char *v = test_db_value(db, p, sql);

    assert_non_null(v);
    return atol(v);
}

void test_db_exec(igraph_db_t *db, const char *sql)
{
    int nrows = 0;

    if (apr_dbd_query(db->driver, db->handle, &nrows, sql) != 0) {
        fail_msg("test_db_exec failed: %s: %s", sql, apr_dbd_error(db->driver, db->handle, 0));
    }
}

/* ---- Graph API client ------------------------------------------------------------------- */

igraph_graph_t *test_graph_app(apr_pool_t *p)
{
    igraph_graph_t *g = apr_pcalloc(p, sizeof(*g));

    g->version = "v26.0";
    g->app_id = "1234567890123456";
    g->app_secret = "fb-app-secret";
    g->ig_app_id = "990602627938098";
    g->ig_app_secret = "ig-app-secret";
    g->fb_appsecret_proof = 1;
    return g;
}

/* ---- in-process HTTP server ------------------------------------------------------------- */

/* Reads one request: the header block and Content-Length bytes of body (malloc'd). */
static char *server_read_request(int fd)
{
    apr_size_t cap = 65536, len = 0, want = 0;
    char *buf = malloc(cap), *hend = NULL;
    struct pollfd pfd;

    for (;;) {
        ssize_t n;

        pfd.fd = fd;
        pfd.events = POLLIN;
        if (poll(&pfd, 1, 5000) <= 0) {
            break;
        }
        n = recv(fd, buf + len, cap - len - 1, 0);
        if (n <= 0) {
            break;
        }
        len += (apr_size_t)n;
        buf[len] = '\0';
        if (!hend && (hend = strstr(buf, "\r\n\r\n")) != NULL) {
            const char *cl = strcasestr(buf, "\r\nContent-Length:");
            want =
                (apr_size_t)(hend - buf) + 4 + (cl && cl < hend ? strtoul(cl + 17, NULL, 10) : 0);
        }
        if (hend && len >= want) {
            break;
        }
        if (len + 1 >= cap) {
            break;
        }
    }
    buf[len] = '\0';
    return buf;
}

static void *server_main(void *baton)
{
    test_server_t *s = baton;
    int i, n = s->hang ? 1 : s->nresp;
    struct pollfd pfd;

    for (i = 0; i < n; i++) {
        int fd;

        pfd.fd = s->lfd;
        pfd.events = POLLIN;
        if (poll(&pfd, 1, 5000) <= 0) {
            break;
        }
        fd = accept(s->lfd, NULL, NULL);
        if (fd < 0) {
            break;
        }
        s->req[s->nreq++] = server_read_request(fd);
        if (s->hang) {
            char c;

            pfd.fd = fd;
            pfd.events = POLLIN;
            /* wait for the client to give up */
            while (poll(&pfd, 1, 5000) > 0 && recv(fd, &c, 1, 0) > 0) {
            }
        }
        else {
            const char *r = s->resp[i];
            apr_size_t off = 0, len = strlen(r);

            while (off < len) {
                ssize_t w = send(fd, r + off, len - off, MSG_NOSIGNAL);
                if (w <= 0) {
                    break;
                }
                off += (apr_size_t)w;
            }
            shutdown(fd, SHUT_WR);
        }
        close(fd);
    }
    return NULL;
}

static void loopback(struct sockaddr_in *sa, int port)
{
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa->sin_port = htons((unsigned short)port);
}

void test_server_listen(test_server_t *s, apr_pool_t *p)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    int one = 1;

    s->pool = p;
    s->nreq = 0;
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->lfd >= 0);
    setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    loopback(&sa, 0);
    assert_int_equal(bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(s->lfd, 8), 0);
    assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&sa, &sl), 0);
    s->port = ntohs(sa.sin_port);
}

void test_server_run(test_server_t *s)
{
    assert_int_equal(pthread_create(&s->th, NULL, server_main, s), 0);
}

void test_server_start(test_server_t *s, apr_pool_t *p)
{
    test_server_listen(s, p);
    test_server_run(s);
}

void test_server_stop(test_server_t *s)
{
    int i;

    pthread_join(s->th, NULL);
    close(s->lfd);
    for (i = 0; i < s->nreq; i++) {
        /* keep a pool copy for assertions after stop, free the malloc'd one */
        char *c = apr_pstrdup(s->pool, s->req[i]);

        free(s->req[i]);
        s->req[i] = c;
    }
}

void test_server_poke(const test_server_t *s)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    loopback(&sa, s->port);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        /* nothing listening any more */
    }
    close(fd);
}

const char *test_server_url(const test_server_t *s, const char *path)
{
    return apr_psprintf(s->pool, "http://127.0.0.1:%d%s", s->port, path);
}

const char *test_http_resp(apr_pool_t *p, const char *status, const char *headers, const char *body)
{
    return apr_psprintf(p,
                        "HTTP/1.1 %s\r\n%sContent-Type: application/json\r\nContent-Length: "
                        "%" APR_SIZE_T_FMT "\r\nConnection: close\r\n\r\n%s",
                        status, headers ? headers : "", strlen(body), body);
}

const char *test_req_line(const test_server_t *s, int i)
{
    const char *r = s->req[i];

    return apr_pstrmemdup(s->pool, r, strcspn(r, "\r\n"));
}

const char *test_req_body(const test_server_t *s, int i)
{
    const char *b = strstr(s->req[i], "\r\n\r\n");

    return b ? b + 4 : "";
}

int test_unused_port(void)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    loopback(&sa, 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    close(fd); /* bound but never listening: connections are refused */
    return ntohs(sa.sin_port);
}
