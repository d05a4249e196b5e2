/* test_jobs_store.c: the publish job store (schema v3) and account references, against a fresh
 * SQLite file per test (plain apr_dbd, no httpd).
 *
 * TEST_JOBS_PGSQL="host=... dbname=... user=..." runs the same tests against PostgreSQL instead
 * (each test empties the public schema first; the v2 migration test is SQLite only).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <apr_dbd.h>
#include <apr_general.h>
#include <apr_hash.h>
#include <apr_strings.h>

#include "igraph_crypto.h"
#include "igraph_job.h"
#include "igraph_log.h"
#include "igraph_store.h"
#include "igraph_util.h"
#include "support.h"

typedef test_fixture_t fixture_t;

/* ---- helpers ---------------------------------------------------------------------------- */

static const char *claimed_by(fixture_t *f, const char *id)
{
    return test_db_value(&f->db, f->pool,
                         apr_psprintf(f->pool, "SELECT claimed_by FROM jobs WHERE id = '%s'", id));
}

static long claim_until(fixture_t *f, const char *id)
{
    return test_db_count(&f->db, f->pool,
                         apr_psprintf(f->pool, "SELECT claim_until FROM jobs WHERE id = '%s'", id));
}

/* A queued REELS job created at `created`, due at once. */
static igraph_job_t *make_job(apr_pool_t *p, const char *id, const char *owner,
                              apr_int64_t account_id, apr_int64_t created)
{
    igraph_job_t *j = apr_pcalloc(p, sizeof(*j));

    j->id = id;
    j->account_id = account_id;
    j->owner = owner;
    j->login = IGRAPH_LOGIN_FACEBOOK;
    j->ig_user_id = "17841400000000001";
    j->media_type = IGRAPH_MEDIA_REELS;
    j->status = IGRAPH_JOB_QUEUED;
    j->request = "{\"video_url\":\"https://cdn.example.com/v.mp4\"}";
    j->created_at = j->updated_at = created;
    j->next_at = created;
    return j;
}

static void insert(fixture_t *f, const igraph_job_t *j)
{
    assert_int_equal(igraph_store_job_insert(&f->db, f->pool, j, NULL, NULL), APR_SUCCESS);
}

static igraph_job_t *get(fixture_t *f, const char *id)
{
    igraph_job_t *j = NULL;

    assert_int_equal(igraph_store_job_get(&f->db, f->pool, NULL, id, &j), APR_SUCCESS);
    assert_non_null(j);
    return j;
}

/* Ids of a job array, comma separated. */
static const char *ids_of(apr_pool_t *p, const apr_array_header_t *list)
{
    const char *s = "";
    int i;

    for (i = 0; i < list->nelts; i++) {
        s = apr_pstrcat(p, s, i ? "," : "", APR_ARRAY_IDX(list, i, igraph_job_t *)->id, NULL);
    }
    return s;
}

static void assert_str_or_null(const char *got, const char *want)
{
    if (!want) {
        assert_null(got);
    }
    else {
        assert_non_null(got);
        assert_string_equal(got, want);
    }
}

static void assert_job_equal(const igraph_job_t *got, const igraph_job_t *want)
{
    assert_str_or_null(got->id, want->id);
    assert_true(got->account_id == want->account_id);
    assert_str_or_null(got->owner, want->owner);
    assert_int_equal(got->login, want->login);
    assert_str_or_null(got->ig_user_id, want->ig_user_id);
    assert_int_equal(got->media_type, want->media_type);
    assert_int_equal(got->status, want->status);
    assert_str_or_null(got->request, want->request);
    assert_str_or_null(got->creation_id, want->creation_id);
    assert_str_or_null(got->children, want->children);
    assert_int_equal(got->n_children_expected, want->n_children_expected);
    assert_int_equal(got->children_ready, want->children_ready);
    assert_str_or_null(got->media_id, want->media_id);
    assert_str_or_null(got->permalink, want->permalink);
    assert_str_or_null(got->error, want->error);
    assert_str_or_null(got->error_message, want->error_message);
    assert_int_equal(got->error_subcode, want->error_subcode);
    assert_int_equal(got->attempts, want->attempts);
    assert_int_equal(got->polls, want->polls);
    assert_int_equal(got->publish_sent, want->publish_sent);
    assert_true(got->created_at == want->created_at);
    assert_true(got->updated_at == want->updated_at);
    assert_true(got->publish_at == want->publish_at);
    assert_true(got->next_at == want->next_at);
    assert_true(got->container_created_at == want->container_created_at);
    assert_true(got->deadline == want->deadline);
    assert_str_or_null(got->caption, want->caption);
}

static igraph_account_t *add_account(fixture_t *f, const char *owner, const char *ig_user_id,
                                     const char *username)
{
    igraph_account_t *a = apr_pcalloc(f->pool, sizeof(*a));

    a->login = IGRAPH_LOGIN_FACEBOOK;
    a->owner = owner;
    a->ig_user_id = ig_user_id;
    a->username = username;
    a->token_expires_at = 1900000000;
    a->token_issued_at = 1700000000;
    assert_int_equal(igraph_store_account_upsert(&f->db, f->pool, &test_key, a, "tok", NULL),
                     APR_SUCCESS);
    return a;
}

/* ---- schema ----------------------------------------------------------------------------- */

/* Schema version 2 exactly as released (igraph_store.c at 7693b9c), with data in it. */
static const char *const v2_fixture[] = {
    TEST_SCHEMA_V2_DDL,
    "INSERT INTO schema_migrations (version, applied_at) VALUES (1, 1700000000)",
    "INSERT INTO schema_migrations (version, applied_at) VALUES (2, 1700000001)",
    "INSERT INTO accounts (login, ig_user_id, owner, username, token_expires_at, "
    "token_issued_at, status, created_at, updated_at, next_refresh_at, refresh_failures) "
    "VALUES ('instagram', '111', 'alice', 'v2user', 1900000000, 1700000000, 'active', "
    "1700000000, 1700000001, 1800000000, 2)",
    "INSERT INTO leases VALUES ('maintenance', 'pid1', 1700000100)",
    NULL,
};

static void test_migrate_v2(void **state)
{
    fixture_t *f = *state;
    apr_array_header_t *list;
    igraph_account_t *a;
    igraph_job_t *j;
    int i;

    if (test_dbd_params) {
        skip();
    }
    for (i = 0; v2_fixture[i]; i++) {
        test_db_exec(&f->db, v2_fixture[i]);
    }
    assert_int_equal(igraph_store_ready(&f->db, f->pool), APR_SUCCESS);
    assert_int_equal(test_log_migrations, 1);
    /* v3 and every later version are applied in one go */
    assert_int_equal(test_db_count(&f->db, f->pool, "SELECT MAX(version) FROM schema_migrations"),
                     IGRAPH_SCHEMA_VERSION);
    assert_int_equal(test_db_count(&f->db, f->pool, "SELECT COUNT(*) FROM schema_migrations"),
                     IGRAPH_SCHEMA_VERSION);
    /* the v2 data is untouched */
    assert_int_equal(igraph_store_accounts_list(&f->db, f->pool, "alice", &list), APR_SUCCESS);
    assert_int_equal(list->nelts, 1);
    a = APR_ARRAY_IDX(list, 0, igraph_account_t *);
    assert_string_equal(a->username, "v2user");
    assert_int_equal(a->next_refresh_at, 1800000000);
    assert_int_equal(a->refresh_failures, 2);
    assert_int_equal(test_db_count(&f->db, f->pool, "SELECT COUNT(*) FROM leases"), 1);
    /* the new table and its indexes */
    assert_int_equal(test_db_count(&f->db, f->pool, "SELECT COUNT(*) FROM jobs"), 0);
    assert_int_equal(
        test_db_count(&f->db, f->pool,
                      "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name "
                      "IN ('jobs_next_at', 'jobs_owner_created', 'jobs_account_media', "
                      "'jobs_account_status_updated')"),
        4);
    /* and it works */
    insert(f, make_job(f->pool, "j1", "alice", a->id, 1700000000));
    j = get(f, "j1");
    assert_int_equal(j->account_id, a->id);
    /* a second connection does not migrate again */
    {
        igraph_db_t db2;

        test_db_open(f, &db2);
        assert_int_equal(igraph_store_ready(&db2, f->pool), APR_SUCCESS);
        assert_int_equal(igraph_store_job_get(&db2, f->pool, "alice", "j1", &j), APR_SUCCESS);
        test_db_close(&db2);
    }
    assert_int_equal(test_log_migrations, 1);
    assert_int_equal(test_log_errors, 0);
}

/* ---- jobs ------------------------------------------------------------------------------- */

static void test_job_roundtrip(void **state)
{
    fixture_t *f = *state;
    igraph_job_t *full = make_job(f->pool, "jFull", "alice", 7, 1700000000);
    igraph_job_t *bare = make_job(f->pool, "jBare", "alice", 7, 1700000001);
    igraph_job_t *empty = make_job(f->pool, "jEmpty", "", 9, 1700000002);
    igraph_job_t *got;

    /* every field away from its default; media_id and permalink "" (published, Meta gave none) */
    full->login = IGRAPH_LOGIN_INSTAGRAM;
    full->media_type = IGRAPH_MEDIA_CAROUSEL;
    full->status = IGRAPH_JOB_PUBLISHING;
    full->request = "{\"children\":[{\"image_url\":\"https://x/1.jpg\"}],\"caption\":\"it's\"}";
    full->creation_id = "17900000000000001";
    full->children = "17900000000000002,17900000000000003,17900000000000004";
    full->n_children_expected = 3;
    full->children_ready = 2;
    full->media_id = "";
    full->permalink = "";
    full->error = IGRAPH_JOB_E_GRAPH;
    full->error_message = "Meta's \"text\"; DROP TABLE jobs; --";
    full->error_subcode = 2207026;
    full->attempts = 4;
    full->polls = 9;
    full->publish_sent = 1;
    full->updated_at = 1700000100;
    full->publish_at = APR_INT64_C(9007199254740993);
    full->next_at = 1700000200;
    full->container_created_at = 1700000050;
    full->deadline = 1700000650;
    full->caption = "h\xc3\xa9llo \xf0\x9f\x98\x80 #ad 'quoted'";
    assert_int_equal(igraph_store_job_insert(&f->db, f->pool, full, "key-full", "mk-full"),
                     APR_SUCCESS);

    /* every nullable field NULL (the login is an enum: always written) */
    bare->ig_user_id = NULL;
    bare->request = NULL;
    bare->media_type = IGRAPH_MEDIA_NONE;
    bare->next_at = 0;
    insert(f, bare);

    /* owner "" (anonymous use) */
    empty->status = IGRAPH_JOB_PUBLISHED;
    empty->media_type = IGRAPH_MEDIA_STORIES;
    empty->media_id = "17950000000000001";
    empty->permalink = "https://www.instagram.com/p/abc/";
    insert(f, empty);

    assert_int_equal(igraph_store_job_get(&f->db, f->pool, "alice", "jFull", &got), APR_SUCCESS);
    assert_job_equal(got, full);
    assert_job_equal(get(f, "jFull"), full);
    assert_job_equal(get(f, "jBare"), bare);
    assert_null(get(f, "jBare")->permalink);
    assert_null(get(f, "jBare")->media_id);
    assert_string_equal(get(f, "jFull")->permalink, "");
    assert_string_equal(get(f, "jFull")->media_id, "");
    assert_int_equal(igraph_store_job_get(&f->db, f->pool, "", "jEmpty", &got), APR_SUCCESS);
    assert_job_equal(got, empty);

    /* names at rest, and the store's own columns */
    assert_string_equal(
        test_db_value(&f->db, f->pool, "SELECT media_type FROM jobs WHERE id = 'jFull'"),
        "CAROUSEL");
    assert_string_equal(
        test_db_value(&f->db, f->pool, "SELECT status FROM jobs WHERE id = 'jFull'"), "publishing");
    assert_string_equal(
        test_db_value(&f->db, f->pool, "SELECT idempotency_key FROM jobs WHERE id = 'jFull'"),
        "key-full");
    assert_string_equal(
        test_db_value(&f->db, f->pool, "SELECT media_key FROM jobs WHERE id = 'jFull'"), "mk-full");
    assert_null(claimed_by(f, "jFull"));
    assert_int_equal(claim_until(f, "jFull"), 0);

    /* owner isolation */
    assert_int_equal(igraph_store_job_get(&f->db, f->pool, "bob", "jFull", &got), APR_NOTFOUND);
    assert_int_equal(igraph_store_job_get(&f->db, f->pool, "", "jFull", &got), APR_NOTFOUND);
    assert_int_equal(igraph_store_job_get(&f->db, f->pool, "alice", "jEmpty", &got), APR_NOTFOUND);
    assert_int_equal(igraph_store_job_get(&f->db, f->pool, NULL, "nosuch", &got), APR_NOTFOUND);
    assert_int_equal(igraph_store_job_get(&f->db, f->pool, "alice", "nosuch", &got), APR_NOTFOUND);
    assert_int_equal(test_log_errors, 0);

    /* a duplicate id is an error, not an idempotent replay */
    assert_int_equal(igraph_store_job_insert(&f->db, f->pool,
                                             make_job(f->pool, "jFull", "bob", 1, 1700000003), NULL,
                                             NULL),
                     APR_EGENERAL);
    assert_int_equal(test_log_errors, 1);
    assert_job_equal(get(f, "jFull"), full);
}

/* Texts the store does not know in a job row: that row cannot be read (logged with its id), the
 * process goes on, and the row reads again once it is repaired. */
static void test_job_unknown_names(void **state)
{
    fixture_t *f = *state;
    igraph_job_t *got = NULL;
    apr_array_header_t *list;

    insert(f, make_job(f->pool, "jOdd", "alice", 7, 1700000000));
    test_db_exec(&f->db, "UPDATE jobs SET login = 'myspace' WHERE id = 'jOdd'");
    assert_int_equal(igraph_store_job_get(&f->db, f->pool, NULL, "jOdd", &got), APR_EGENERAL);
    assert_null(got);
    assert_int_equal(test_log_errors, 1);
    assert_non_null(strstr(test_log_buf, "IG0313: store: job jOdd: unknown login 'myspace'"));
    assert_int_equal(igraph_store_jobs_list(&f->db, f->pool, "alice", NULL, 0, 10, &list),
                     APR_EGENERAL);

    test_db_exec(&f->db, "UPDATE jobs SET login = NULL WHERE id = 'jOdd'");
    assert_int_equal(igraph_store_job_get(&f->db, f->pool, NULL, "jOdd", &got), APR_EGENERAL);
    assert_non_null(strstr(test_log_buf, "IG0313: store: job jOdd: unknown login '(null)'"));

    test_db_exec(&f->db, "UPDATE jobs SET login = 'instagram', status = 'paused' "
                         "WHERE id = 'jOdd'");
    assert_int_equal(igraph_store_job_get(&f->db, f->pool, NULL, "jOdd", &got), APR_EGENERAL);
    assert_non_null(strstr(test_log_buf, "IG0313: store: job jOdd: unknown status 'paused'"));

    test_db_exec(&f->db, "UPDATE jobs SET status = 'queued' WHERE id = 'jOdd'");
    assert_int_equal(get(f, "jOdd")->login, IGRAPH_LOGIN_INSTAGRAM);
}

static void test_job_idempotency(void **state)
{
    fixture_t *f = *state;
    igraph_job_t *got;

    assert_int_equal(igraph_store_job_insert(&f->db, f->pool,
                                             make_job(f->pool, "j1", "alice", 1, 100), "k1", "m"),
                     APR_SUCCESS);
    /* same owner, same key: nothing inserted, no error logged */
    assert_int_equal(igraph_store_job_insert(&f->db, f->pool,
                                             make_job(f->pool, "j2", "alice", 2, 200), "k1", "m"),
                     APR_EEXIST);
    assert_int_equal(igraph_store_job_get(&f->db, f->pool, NULL, "j2", &got), APR_NOTFOUND);
    assert_int_equal(igraph_store_job_by_idempotency(&f->db, f->pool, "alice", "k1", &got),
                     APR_SUCCESS);
    assert_string_equal(got->id, "j1");
    assert_int_equal(got->account_id, 1);
    /* the statements still work (nothing was dropped) */
    assert_int_equal(test_log_errors, 0);

    /* another owner may use the same key */
    assert_int_equal(
        igraph_store_job_insert(&f->db, f->pool, make_job(f->pool, "j3", "bob", 3, 300), "k1", "m"),
        APR_SUCCESS);
    assert_int_equal(igraph_store_job_by_idempotency(&f->db, f->pool, "bob", "k1", &got),
                     APR_SUCCESS);
    assert_string_equal(got->id, "j3");
    assert_int_equal(igraph_store_job_by_idempotency(&f->db, f->pool, "alice", "k2", &got),
                     APR_NOTFOUND);
    assert_int_equal(igraph_store_job_by_idempotency(&f->db, f->pool, "carol", "k1", &got),
                     APR_NOTFOUND);

    /* no key (NULL or ""): as many as you like */
    assert_int_equal(igraph_store_job_insert(&f->db, f->pool,
                                             make_job(f->pool, "j4", "alice", 1, 400), NULL, "m"),
                     APR_SUCCESS);
    assert_int_equal(igraph_store_job_insert(&f->db, f->pool,
                                             make_job(f->pool, "j5", "alice", 1, 500), NULL, "m"),
                     APR_SUCCESS);
    assert_int_equal(
        igraph_store_job_insert(&f->db, f->pool, make_job(f->pool, "j6", "alice", 1, 600), "", "m"),
        APR_SUCCESS);
    assert_int_equal(
        igraph_store_job_insert(&f->db, f->pool, make_job(f->pool, "j7", "alice", 1, 700), "", "m"),
        APR_SUCCESS);
    assert_null(test_db_value(&f->db, f->pool, "SELECT idempotency_key FROM jobs WHERE id = 'j7'"));
    assert_int_equal(igraph_store_job_by_idempotency(&f->db, f->pool, "alice", "", &got),
                     APR_NOTFOUND);
    assert_int_equal(test_db_count(&f->db, f->pool, "SELECT COUNT(*) FROM jobs"), 6);
    assert_int_equal(test_log_errors, 0);
}

/* A write gate that counts: the group goes through it once, as one transaction. */
static int gate_entered, gate_depth, gate_max_depth;
static apr_status_t gate_enter(void *baton)
{
    gate_entered++;
    if (++gate_depth > gate_max_depth) {
        gate_max_depth = gate_depth;
    }
    return APR_SUCCESS;
}
static void gate_leave(void *baton)
{
    gate_depth--;
}

static void test_jobs_group_insert(void **state)
{
    fixture_t *f = *state;
    igraph_write_gate_t gate = {gate_enter, gate_leave, NULL};
    igraph_job_insert_t a = {make_job(f->pool, "g1", "alice", 1, 100), "k1", "m1", -1};
    igraph_job_insert_t b = {make_job(f->pool, "g2", "alice", 1, 101), NULL, "m2", -1};
    igraph_job_insert_t c = {make_job(f->pool, "g3", "alice", 1, 102), "k1", "m3", -1};
    igraph_job_insert_t d = {make_job(f->pool, "g4", "bob", 2, 103), "k1", "m4", -1};
    igraph_job_insert_t *items[] = {&a, &b, &c, &d};
    igraph_job_insert_t bad = {make_job(f->pool, "", "alice", 1, 104), NULL, NULL, -1};
    igraph_job_insert_t e = {make_job(f->pool, "g5", "alice", 1, 105), NULL, NULL, -1};
    igraph_job_insert_t *mixed[] = {&bad, &e};
    igraph_job_insert_t x = {make_job(f->pool, "g6", "alice", 1, 106), NULL, NULL, -1};
    igraph_job_insert_t y = {make_job(f->pool, "g7", "alice", 1, 107), NULL, NULL, -1};
    igraph_job_insert_t *lost[] = {&x, &y};

    assert_int_equal(igraph_store_ready(&f->db, f->pool), APR_SUCCESS);
    f->db.gate = &gate;
    gate_entered = gate_depth = gate_max_depth = 0;
    assert_int_equal(igraph_store_jobs_insert(&f->db, f->pool, items, 4), APR_SUCCESS);
    assert_int_equal(a.rv, APR_SUCCESS);
    assert_int_equal(b.rv, APR_SUCCESS);
    assert_int_equal(c.rv, APR_EEXIST);  /* alice's k1 is g1 */
    assert_int_equal(d.rv, APR_SUCCESS); /* bob's own k1 */
    assert_int_equal(gate_entered, 1);
    assert_int_equal(gate_max_depth, 1);
    assert_int_equal(gate_depth, 0);
    assert_int_equal(test_db_count(&f->db, f->pool, "SELECT COUNT(*) FROM jobs"), 3);
    /* reads never pass the gate; every write outside a transaction does, once */
    assert_string_equal(get(f, "g2")->id, "g2");
    assert_int_equal(gate_entered, 1);
    assert_int_equal(igraph_store_job_claim(&f->db, f->pool, "g2", "w", 200, 260), APR_SUCCESS);
    assert_int_equal(gate_entered, 2);
    assert_int_equal(gate_depth, 0);
    /* a group larger than one statement's rows, with one idempotency key repeated across it */
    {
        enum { BIG = 40 };
        igraph_job_insert_t big[BIG], *bigp[BIG];
        int i, stored = 0, repeats = 0;
        for (i = 0; i < BIG; i++) {
            big[i].job = make_job(f->pool, apr_psprintf(f->pool, "big%d", i), "carol", 3, 300 + i);
            big[i].idempotency_key = (i % 7 == 3) ? "same" : NULL;
            big[i].media_key = apr_psprintf(f->pool, "mk%d", i);
            big[i].rv = -1;
            bigp[i] = &big[i];
        }
        assert_int_equal(igraph_store_jobs_insert(&f->db, f->pool, bigp, BIG), APR_SUCCESS);
        for (i = 0; i < BIG; i++) {
            stored += big[i].rv == APR_SUCCESS;
            repeats += big[i].rv == APR_EEXIST;
        }
        assert_int_equal(big[3].rv, APR_SUCCESS); /* the first with the key */
        assert_int_equal(repeats, 5);             /* 10, 17, 24, 31, 38 */
        assert_int_equal(stored, BIG - 5);
        assert_int_equal(
            test_db_count(&f->db, f->pool, "SELECT COUNT(*) FROM jobs WHERE owner = 'carol'"),
            BIG - 5);
    }
    /* a bad item is refused on its own; the others are stored */
    assert_int_equal(igraph_store_jobs_insert(&f->db, f->pool, mixed, 2), APR_SUCCESS);
    assert_int_equal(bad.rv, APR_EINVAL);
    assert_int_equal(e.rv, APR_SUCCESS);
    /* the database failing loses the whole group, and says so for every item */
    f->db.gate = NULL;
    test_db_exec(&f->db, "DROP TABLE jobs");
    assert_int_not_equal(igraph_store_jobs_insert(&f->db, f->pool, lost, 2), APR_SUCCESS);
    assert_int_not_equal(x.rv, APR_SUCCESS);
    assert_int_not_equal(y.rv, APR_SUCCESS);
    assert_int_not_equal(x.rv, APR_EEXIST);
}

static void test_job_find_duplicate(void **state)
{
    fixture_t *f = *state;
    const struct {
        const char *id;
        apr_int64_t account;
        const char *media_key;
        igraph_job_status_e status;
        apr_int64_t created;
    } rows[] = {
        {"old", 1, "M", IGRAPH_JOB_PUBLISHED, 100},     {"queued", 1, "M", IGRAPH_JOB_QUEUED, 200},
        {"newest", 1, "M", IGRAPH_JOB_PROCESSING, 300}, {"failed", 1, "M", IGRAPH_JOB_FAILED, 400},
        {"cancel", 1, "M", IGRAPH_JOB_CANCELLED, 500},  {"other", 2, "M", IGRAPH_JOB_QUEUED, 600},
        {"media", 1, "N", IGRAPH_JOB_QUEUED, 700},
    };
    igraph_job_t *got;
    size_t i;

    assert_int_equal(igraph_store_job_find_duplicate(&f->db, f->pool, 1, "M", &got), APR_NOTFOUND);
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        igraph_job_t *j = make_job(f->pool, rows[i].id, "alice", rows[i].account, rows[i].created);

        j->status = rows[i].status;
        assert_int_equal(igraph_store_job_insert(&f->db, f->pool, j, NULL, rows[i].media_key),
                         APR_SUCCESS);
    }
    assert_int_equal(igraph_store_job_find_duplicate(&f->db, f->pool, 1, "M", &got), APR_SUCCESS);
    assert_string_equal(got->id, "newest");
    assert_int_equal(igraph_store_job_find_duplicate(&f->db, f->pool, 2, "M", &got), APR_SUCCESS);
    assert_string_equal(got->id, "other");
    assert_int_equal(igraph_store_job_find_duplicate(&f->db, f->pool, 1, "N", &got), APR_SUCCESS);
    assert_string_equal(got->id, "media");
    assert_int_equal(igraph_store_job_find_duplicate(&f->db, f->pool, 3, "M", &got), APR_NOTFOUND);
    assert_int_equal(igraph_store_job_find_duplicate(&f->db, f->pool, 1, "X", &got), APR_NOTFOUND);

    /* only failed / cancelled ones left: none */
    test_db_exec(&f->db,
                 "UPDATE jobs SET status = 'failed' WHERE id IN ('old', 'queued', 'newest')");
    assert_int_equal(igraph_store_job_find_duplicate(&f->db, f->pool, 1, "M", &got), APR_NOTFOUND);
    assert_int_equal(test_log_errors, 0);
}

static void test_jobs_list(void **state)
{
    fixture_t *f = *state;
    const struct {
        const char *id, *owner;
        apr_int64_t account;
        igraph_job_status_e status;
        apr_int64_t created;
    } rows[] = {
        {"a100", "alice", 1, IGRAPH_JOB_QUEUED, 100},
        {"a200", "alice", 2, IGRAPH_JOB_PUBLISHED, 200},
        {"a300", "alice", 1, IGRAPH_JOB_FAILED, 300},
        {"a400", "alice", 1, IGRAPH_JOB_PUBLISHED, 400},
        {"b500", "bob", 1, IGRAPH_JOB_PUBLISHED, 500},
    };
    apr_array_header_t *list;
    size_t i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        igraph_job_t *j =
            make_job(f->pool, rows[i].id, rows[i].owner, rows[i].account, rows[i].created);

        j->status = rows[i].status;
        insert(f, j);
    }
    assert_int_equal(igraph_store_jobs_list(&f->db, f->pool, "alice", NULL, 0, 50, &list),
                     APR_SUCCESS);
    assert_string_equal(ids_of(f->pool, list), "a400,a300,a200,a100");
    assert_int_equal(igraph_store_jobs_list(&f->db, f->pool, "alice", "published", 0, 50, &list),
                     APR_SUCCESS);
    assert_string_equal(ids_of(f->pool, list), "a400,a200");
    assert_int_equal(igraph_store_jobs_list(&f->db, f->pool, "alice", NULL, 1, 50, &list),
                     APR_SUCCESS);
    assert_string_equal(ids_of(f->pool, list), "a400,a300,a100");
    assert_int_equal(igraph_store_jobs_list(&f->db, f->pool, "alice", "published", 1, 50, &list),
                     APR_SUCCESS);
    assert_string_equal(ids_of(f->pool, list), "a400");
    assert_int_equal(igraph_store_jobs_list(&f->db, f->pool, "alice", "cancelled", 0, 50, &list),
                     APR_SUCCESS);
    assert_int_equal(list->nelts, 0);
    assert_int_equal(igraph_store_jobs_list(&f->db, f->pool, "alice", NULL, 0, 2, &list),
                     APR_SUCCESS);
    assert_string_equal(ids_of(f->pool, list), "a400,a300");
    assert_int_equal(igraph_store_jobs_list(&f->db, f->pool, "alice", NULL, 0, 1, &list),
                     APR_SUCCESS);
    assert_string_equal(ids_of(f->pool, list), "a400");
    /* owners never see each other's jobs, even for the same account id */
    assert_int_equal(igraph_store_jobs_list(&f->db, f->pool, "bob", NULL, 1, 50, &list),
                     APR_SUCCESS);
    assert_string_equal(ids_of(f->pool, list), "b500");
    assert_int_equal(igraph_store_jobs_list(&f->db, f->pool, "carol", NULL, 0, 50, &list),
                     APR_SUCCESS);
    assert_int_equal(list->nelts, 0);
    assert_int_equal(igraph_store_jobs_list(&f->db, f->pool, "alice", NULL, 0, 0, &list),
                     APR_EINVAL);
    assert_int_equal(test_log_errors, 0);
}

static void test_job_claim_save(void **state)
{
    fixture_t *f = *state;
    igraph_job_t *orig = make_job(f->pool, "J", "alice", 5, 1000);
    igraph_job_t *j, *got;

    orig->caption = "first";
    insert(f, orig);
    j = get(f, "J");

    /* the worker's step: every mutable field changes */
    j->status = IGRAPH_JOB_PUBLISHING;
    j->creation_id = "c1";
    j->children = "x,y";
    j->n_children_expected = 2;
    j->children_ready = 1;
    j->media_id = "m1";
    j->permalink = "";
    j->error = IGRAPH_JOB_E_UNAVAILABLE;
    j->error_message = "try later";
    j->error_subcode = 2207001;
    j->attempts = 2;
    j->polls = 3;
    j->publish_sent = 1;
    j->updated_at = 1010;
    j->publish_at = 5000;
    j->next_at = 1020;
    j->container_created_at = 1005;
    j->deadline = 1605;
    j->caption = NULL;
    /* ... and fixed ones are not written even if the struct says otherwise */
    j->request = "changed";
    j->media_type = IGRAPH_MEDIA_IMAGE;
    j->account_id = 99;
    j->created_at = 1;

    /* no claim: nothing written */
    assert_int_equal(igraph_store_job_save(&f->db, f->pool, j, "w1"), APR_EBUSY);
    assert_job_equal(get(f, "J"), orig);

    assert_int_equal(igraph_store_job_claim(&f->db, f->pool, "J", "w1", 1000, 1060), APR_SUCCESS);
    assert_string_equal(claimed_by(f, "J"), "w1");
    assert_int_equal(claim_until(f, "J"), 1060);
    /* live claim: others lose, the holder renews */
    assert_int_equal(igraph_store_job_claim(&f->db, f->pool, "J", "w2", 1010, 1070), APR_EBUSY);
    assert_int_equal(igraph_store_job_claim(&f->db, f->pool, "J", "w1", 1020, 1080), APR_SUCCESS);
    assert_int_equal(claim_until(f, "J"), 1080);
    assert_int_equal(igraph_store_job_save(&f->db, f->pool, j, "w2"), APR_EBUSY);
    assert_job_equal(get(f, "J"), orig);

    assert_int_equal(igraph_store_job_save(&f->db, f->pool, j, "w1"), APR_SUCCESS);
    got = get(f, "J");
    assert_int_equal(got->status, IGRAPH_JOB_PUBLISHING);
    assert_string_equal(got->creation_id, "c1");
    assert_string_equal(got->children, "x,y");
    assert_int_equal(got->n_children_expected, 2);
    assert_int_equal(got->children_ready, 1);
    assert_string_equal(got->media_id, "m1");
    assert_string_equal(got->permalink, "");
    assert_string_equal(got->error, IGRAPH_JOB_E_UNAVAILABLE);
    assert_string_equal(got->error_message, "try later");
    assert_int_equal(got->error_subcode, 2207001);
    assert_int_equal(got->attempts, 2);
    assert_int_equal(got->polls, 3);
    assert_int_equal(got->publish_sent, 1);
    assert_int_equal(got->updated_at, 1010);
    assert_int_equal(got->publish_at, 5000);
    assert_int_equal(got->next_at, 1020);
    assert_int_equal(got->container_created_at, 1005);
    assert_int_equal(got->deadline, 1605);
    assert_null(got->caption);
    assert_string_equal(got->request, orig->request);
    assert_int_equal(got->media_type, IGRAPH_MEDIA_REELS);
    assert_int_equal(got->account_id, 5);
    assert_int_equal(got->created_at, 1000);
    assert_string_equal(got->owner, "alice");
    /* saving keeps the claim */
    assert_string_equal(claimed_by(f, "J"), "w1");

    /* a permalink that is not http(s) is stored as "none given" */
    j->permalink = "javascript:alert(document.domain)//https://www.instagram.com/p/x/";
    assert_int_equal(igraph_store_job_save(&f->db, f->pool, j, "w1"), APR_SUCCESS);
    assert_string_equal(get(f, "J")->permalink, "");
    j->permalink = "https://www.instagram.com/p/DAbc/";
    assert_int_equal(igraph_store_job_save(&f->db, f->pool, j, "w1"), APR_SUCCESS);
    assert_string_equal(get(f, "J")->permalink, "https://www.instagram.com/p/DAbc/");

    /* back to NULL */
    j->permalink = NULL;
    j->media_id = NULL;
    j->error = NULL;
    j->error_message = NULL;
    assert_int_equal(igraph_store_job_save(&f->db, f->pool, j, "w1"), APR_SUCCESS);
    got = get(f, "J");
    assert_null(got->permalink);
    assert_null(got->media_id);
    assert_null(got->error);
    assert_null(got->error_message);

    /* the claim expired and w2 took over: w1 can no longer write */
    assert_int_equal(igraph_store_job_claim(&f->db, f->pool, "J", "w2", 1081, 1140), APR_SUCCESS);
    j->polls = 42;
    assert_int_equal(igraph_store_job_save(&f->db, f->pool, j, "w1"), APR_EBUSY);
    assert_int_equal(get(f, "J")->polls, 3);
    /* unclaim only by the holder */
    assert_int_equal(igraph_store_job_unclaim(&f->db, f->pool, "J", "w1"), APR_SUCCESS);
    assert_string_equal(claimed_by(f, "J"), "w2");
    assert_int_equal(igraph_store_job_unclaim(&f->db, f->pool, "J", "w2"), APR_SUCCESS);
    assert_null(claimed_by(f, "J"));
    assert_int_equal(claim_until(f, "J"), 0);
    assert_int_equal(igraph_store_job_save(&f->db, f->pool, j, "w2"), APR_EBUSY);

    /* a stopping worker releases all its claims, and only its own */
    insert(f, make_job(f->pool, "K1", "alice", 5, 1000));
    insert(f, make_job(f->pool, "K2", "bob", 6, 1000));
    insert(f, make_job(f->pool, "K3", "alice", 5, 1000));
    assert_int_equal(igraph_store_job_claim(&f->db, f->pool, "K1", "w3", 2000, 2060), APR_SUCCESS);
    assert_int_equal(igraph_store_job_claim(&f->db, f->pool, "K2", "w3", 2000, 2060), APR_SUCCESS);
    assert_int_equal(igraph_store_job_claim(&f->db, f->pool, "K3", "w4", 2000, 2060), APR_SUCCESS);
    assert_int_equal(igraph_store_jobs_release(&f->db, f->pool, "w3"), APR_SUCCESS);
    assert_null(claimed_by(f, "K1"));
    assert_int_equal(claim_until(f, "K1"), 0);
    assert_null(claimed_by(f, "K2"));
    assert_string_equal(claimed_by(f, "K3"), "w4");
    assert_int_equal(claim_until(f, "K3"), 2060);
    assert_int_equal(igraph_store_jobs_release(&f->db, f->pool, "nobody"), APR_SUCCESS);
    assert_int_equal(igraph_store_jobs_release(&f->db, f->pool, NULL), APR_EINVAL);

    /* a missing job cannot be claimed or saved */
    assert_int_equal(igraph_store_job_claim(&f->db, f->pool, "nosuch", "w1", 1, 2), APR_EBUSY);
    j->id = "nosuch";
    assert_int_equal(igraph_store_job_save(&f->db, f->pool, j, "w1"), APR_EBUSY);
    assert_int_equal(test_log_errors, 0);
}

static void test_job_cancel(void **state)
{
    fixture_t *f = *state;
    const apr_int64_t now = 2000;
    igraph_job_t *j, *got;

    /* queued, nobody on it: cancelled */
    insert(f, make_job(f->pool, "queued", "alice", 1, 1000));
    assert_int_equal(igraph_store_job_cancel(&f->db, f->pool, "alice", "queued", now), APR_SUCCESS);
    got = get(f, "queued");
    assert_int_equal(got->status, IGRAPH_JOB_CANCELLED);
    assert_int_equal(got->next_at, 0);
    assert_int_equal(got->updated_at, now);
    /* cancelled is final */
    assert_int_equal(igraph_store_job_cancel(&f->db, f->pool, "alice", "queued", now), APR_EBUSY);

    /* publishing without publish_sent: still cancellable */
    j = make_job(f->pool, "publishing", "alice", 1, 1000);
    j->status = IGRAPH_JOB_PUBLISHING;
    insert(f, j);
    assert_int_equal(igraph_store_job_cancel(&f->db, f->pool, "alice", "publishing", now),
                     APR_SUCCESS);

    /* a publish may have reached Meta: too late */
    j = make_job(f->pool, "sent", "alice", 1, 1000);
    j->status = IGRAPH_JOB_PUBLISHING;
    j->publish_sent = 1;
    insert(f, j);
    assert_int_equal(igraph_store_job_cancel(&f->db, f->pool, "alice", "sent", now), APR_EBUSY);
    assert_int_equal(get(f, "sent")->status, IGRAPH_JOB_PUBLISHING);
    assert_int_equal(get(f, "sent")->next_at, 1000);

    /* final */
    j = make_job(f->pool, "published", "alice", 1, 1000);
    j->status = IGRAPH_JOB_PUBLISHED;
    insert(f, j);
    assert_int_equal(igraph_store_job_cancel(&f->db, f->pool, "alice", "published", now),
                     APR_EBUSY);
    assert_int_equal(get(f, "published")->status, IGRAPH_JOB_PUBLISHED);
    j = make_job(f->pool, "failed", "alice", 1, 1000);
    j->status = IGRAPH_JOB_FAILED;
    insert(f, j);
    assert_int_equal(igraph_store_job_cancel(&f->db, f->pool, "alice", "failed", now), APR_EBUSY);

    /* a worker holds it right now: busy; once its claim has expired: cancelled, claim dropped,
     * and the late worker cannot undo it */
    j = make_job(f->pool, "claimed", "alice", 1, 1000);
    j->status = IGRAPH_JOB_PROCESSING;
    insert(f, j);
    assert_int_equal(igraph_store_job_claim(&f->db, f->pool, "claimed", "w1", now, now + 60),
                     APR_SUCCESS);
    assert_int_equal(igraph_store_job_cancel(&f->db, f->pool, "alice", "claimed", now + 60),
                     APR_EBUSY);
    assert_int_equal(get(f, "claimed")->status, IGRAPH_JOB_PROCESSING);
    assert_int_equal(igraph_store_job_cancel(&f->db, f->pool, "alice", "claimed", now + 61),
                     APR_SUCCESS);
    assert_int_equal(get(f, "claimed")->status, IGRAPH_JOB_CANCELLED);
    assert_null(claimed_by(f, "claimed"));
    assert_int_equal(igraph_store_job_save(&f->db, f->pool, j, "w1"), APR_EBUSY);
    assert_int_equal(get(f, "claimed")->status, IGRAPH_JOB_CANCELLED);

    /* another owner's job, or none: not found, and untouched */
    insert(f, make_job(f->pool, "bobs", "bob", 2, 1000));
    assert_int_equal(igraph_store_job_cancel(&f->db, f->pool, "alice", "bobs", now), APR_NOTFOUND);
    assert_int_equal(get(f, "bobs")->status, IGRAPH_JOB_QUEUED);
    assert_int_equal(igraph_store_job_cancel(&f->db, f->pool, "alice", "nosuch", now),
                     APR_NOTFOUND);
    assert_int_equal(igraph_store_job_cancel(&f->db, f->pool, "bob", "bobs", now), APR_SUCCESS);
    assert_int_equal(test_log_errors, 0);
}

static void test_jobs_due(void **state)
{
    fixture_t *f = *state;
    const struct {
        const char *id;
        apr_int64_t next_at, created;
        const char *holder;
        apr_int64_t until;
    } rows[] = {
        {"a", 100, 1, NULL, 0},   /* due */
        {"b", 50, 2, NULL, 0},    /* due first */
        {"c", 0, 3, NULL, 0},     /* nothing left to do */
        {"d", 200, 4, NULL, 0},   /* later */
        {"e", 120, 5, "w1", 300}, /* claimed */
        {"f", 130, 6, "w1", 140}, /* claim expired */
        {"g", 50, 7, NULL, 0},    /* same time as b, created after it */
        {"h", 150, 8, NULL, 0},   /* due exactly now */
    };
    apr_array_header_t *list;
    apr_int64_t next = -1;
    size_t i;

    assert_int_equal(igraph_store_jobs_next_due(&f->db, f->pool, &next), APR_SUCCESS);
    assert_int_equal(next, 0);
    assert_int_equal(igraph_store_jobs_due(&f->db, f->pool, NULL, 150, 10, &list), APR_SUCCESS);
    assert_int_equal(list->nelts, 0);

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        igraph_job_t *j =
            make_job(f->pool, rows[i].id, i % 2 ? "alice" : "bob", 1, rows[i].created);

        j->next_at = rows[i].next_at;
        insert(f, j);
        if (rows[i].holder) {
            assert_int_equal(igraph_store_job_claim(&f->db, f->pool, rows[i].id, rows[i].holder,
                                                    rows[i].created, rows[i].until),
                             APR_SUCCESS);
        }
    }
    assert_int_equal(igraph_store_jobs_due(&f->db, f->pool, NULL, 150, 10, &list), APR_SUCCESS);
    assert_string_equal(ids_of(f->pool, list), "b,g,a,f,h");
    assert_int_equal(igraph_store_jobs_due(&f->db, f->pool, NULL, 150, 2, &list), APR_SUCCESS);
    assert_string_equal(ids_of(f->pool, list), "b,g");
    assert_int_equal(igraph_store_jobs_due(&f->db, f->pool, NULL, 49, 10, &list), APR_SUCCESS);
    assert_int_equal(list->nelts, 0);
    /* later on, e's claim has expired too */
    assert_int_equal(igraph_store_jobs_due(&f->db, f->pool, NULL, 1000, 10, &list), APR_SUCCESS);
    assert_string_equal(ids_of(f->pool, list), "b,g,a,e,f,h,d");
    assert_int_equal(igraph_store_jobs_due(&f->db, f->pool, NULL, 150, 0, &list), APR_EINVAL);

    /* a claim taken now hides the job until it expires */
    assert_int_equal(igraph_store_job_claim(&f->db, f->pool, "b", "w2", 150, 160), APR_SUCCESS);
    assert_int_equal(igraph_store_jobs_due(&f->db, f->pool, NULL, 150, 10, &list), APR_SUCCESS);
    assert_string_equal(ids_of(f->pool, list), "g,a,f,h");
    assert_int_equal(igraph_store_jobs_due(&f->db, f->pool, NULL, 161, 10, &list), APR_SUCCESS);
    assert_string_equal(ids_of(f->pool, list), "b,g,a,f,h");

    /* the wake-up time counts every job with something to do */
    assert_int_equal(igraph_store_jobs_next_due(&f->db, f->pool, &next), APR_SUCCESS);
    assert_int_equal(next, 50);
    test_db_exec(&f->db, "UPDATE jobs SET next_at = 0 WHERE id IN ('b', 'g', 'a')");
    assert_int_equal(igraph_store_jobs_next_due(&f->db, f->pool, &next), APR_SUCCESS);
    assert_int_equal(next, 120);
    test_db_exec(&f->db, "UPDATE jobs SET next_at = 0");
    assert_int_equal(igraph_store_jobs_next_due(&f->db, f->pool, &next), APR_SUCCESS);
    assert_int_equal(next, 0);
    assert_int_equal(test_log_errors, 0);
}

static void test_jobs_counts(void **state)
{
    fixture_t *f = *state;
    const struct {
        const char *id;
        apr_int64_t account;
        igraph_job_status_e status;
        apr_int64_t updated;
    } rows[] = {
        {"q", 1, IGRAPH_JOB_QUEUED, 100},      {"p1", 1, IGRAPH_JOB_PROCESSING, 100},
        {"p2", 1, IGRAPH_JOB_PUBLISHING, 100}, {"d1", 1, IGRAPH_JOB_PUBLISHED, 100},
        {"d2", 1, IGRAPH_JOB_PUBLISHED, 200},  {"d3", 1, IGRAPH_JOB_PUBLISHED, 300},
        {"f", 1, IGRAPH_JOB_FAILED, 250},      {"x", 1, IGRAPH_JOB_CANCELLED, 260},
        {"o1", 2, IGRAPH_JOB_PUBLISHED, 300},  {"o2", 2, IGRAPH_JOB_QUEUED, 300},
    };
    size_t i;
    int n = -1;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        igraph_job_t *j = make_job(f->pool, rows[i].id, "alice", rows[i].account, 10);

        j->status = rows[i].status;
        j->updated_at = rows[i].updated;
        insert(f, j);
    }
    assert_int_equal(igraph_store_jobs_in_flight(&f->db, f->pool, 1, &n), APR_SUCCESS);
    assert_int_equal(n, 2);
    assert_int_equal(igraph_store_jobs_in_flight(&f->db, f->pool, 2, &n), APR_SUCCESS);
    assert_int_equal(n, 0);
    assert_int_equal(igraph_store_jobs_in_flight(&f->db, f->pool, 3, &n), APR_SUCCESS);
    assert_int_equal(n, 0);
    assert_int_equal(igraph_store_jobs_published_since(&f->db, f->pool, 1, 0, &n), APR_SUCCESS);
    assert_int_equal(n, 3);
    assert_int_equal(igraph_store_jobs_published_since(&f->db, f->pool, 1, 200, &n), APR_SUCCESS);
    assert_int_equal(n, 2);
    assert_int_equal(igraph_store_jobs_published_since(&f->db, f->pool, 1, 301, &n), APR_SUCCESS);
    assert_int_equal(n, 0);
    assert_int_equal(igraph_store_jobs_published_since(&f->db, f->pool, 2, 0, &n), APR_SUCCESS);
    assert_int_equal(n, 1);
    assert_int_equal(test_log_errors, 0);
}

/* ---- account references ----------------------------------------------------------------- */

static void test_account_find(void **state)
{
    fixture_t *f = *state;
    igraph_account_t *a1 = add_account(f, "alice", "17841400000000001", "Shop.Name");
    igraph_account_t *a2 = add_account(f, "alice", "17841400000000002", "other");
    igraph_account_t *b1 = add_account(f, "bob", "17841400000000003", "bobshop");
    igraph_account_t *big = add_account(f, "alice", "18446744073709551617123", "big");
    igraph_account_t *numeric = add_account(f, "alice", "666", "12345");
    igraph_account_t *clash, *twin, *got;
    apr_array_header_t *list;
    const char *sid;

    /* our id, or the ig_user_id */
    sid = apr_psprintf(f->pool, "%" APR_INT64_T_FMT, a1->id);
    assert_int_equal(igraph_store_account_find(&f->db, f->pool, "alice", sid, &got), APR_SUCCESS);
    assert_int_equal(got->id, a1->id);
    assert_int_equal(igraph_store_account_find(&f->db, f->pool, "alice", "17841400000000002", &got),
                     APR_SUCCESS);
    assert_int_equal(got->id, a2->id);
    assert_int_equal(
        igraph_store_account_find(&f->db, f->pool, "alice", "18446744073709551617123", &got),
        APR_SUCCESS);
    assert_int_equal(got->id, big->id);
    /* usernames: case-insensitive, '@' optional */
    assert_int_equal(igraph_store_account_find(&f->db, f->pool, "alice", "@Shop.Name", &got),
                     APR_SUCCESS);
    assert_int_equal(got->id, a1->id);
    assert_int_equal(igraph_store_account_find(&f->db, f->pool, "alice", "shop.name", &got),
                     APR_SUCCESS);
    assert_int_equal(got->id, a1->id);
    assert_int_equal(igraph_store_account_find(&f->db, f->pool, "alice", "@SHOP.NAME", &got),
                     APR_SUCCESS);
    assert_int_equal(got->id, a1->id);
    assert_string_equal(got->owner, "alice");
    /* digits are never a username; "@digits" is */
    assert_int_equal(igraph_store_account_find(&f->db, f->pool, "alice", "12345", &got),
                     APR_NOTFOUND);
    assert_int_equal(igraph_store_account_find(&f->db, f->pool, "alice", "@12345", &got),
                     APR_SUCCESS);
    assert_int_equal(got->id, numeric->id);

    /* other owners' accounts are invisible, whatever the reference */
    assert_int_equal(igraph_store_account_find(&f->db, f->pool, "alice", "bobshop", &got),
                     APR_NOTFOUND);
    assert_int_equal(igraph_store_account_find(&f->db, f->pool, "alice", "17841400000000003", &got),
                     APR_NOTFOUND);
    assert_int_equal(igraph_store_account_find(&f->db, f->pool, "alice",
                                               apr_psprintf(f->pool, "%" APR_INT64_T_FMT, b1->id),
                                               &got),
                     APR_NOTFOUND);
    assert_int_equal(igraph_store_account_find(&f->db, f->pool, "bob", "@bobshop", &got),
                     APR_SUCCESS);
    assert_int_equal(got->id, b1->id);
    assert_int_equal(igraph_store_account_find(&f->db, f->pool, "carol", "bobshop", &got),
                     APR_NOTFOUND);

    /* unknown */
    assert_int_equal(igraph_store_account_find(&f->db, f->pool, "alice", "nosuch", &got),
                     APR_NOTFOUND);
    assert_int_equal(igraph_store_account_find(&f->db, f->pool, "alice", "999999", &got),
                     APR_NOTFOUND);
    assert_int_equal(igraph_store_account_find(&f->db, f->pool, "alice", "@", &got), APR_NOTFOUND);
    assert_int_equal(igraph_store_account_find(&f->db, f->pool, "alice", "", &got), APR_NOTFOUND);
    assert_int_equal(igraph_store_account_find(&f->db, f->pool, "alice", NULL, &got), APR_EINVAL);

    /* an ig_user_id that equals one of our ids: our id wins */
    clash = add_account(f, "alice", sid, "clash");
    assert_int_equal(igraph_store_account_find(&f->db, f->pool, "alice", sid, &got), APR_SUCCESS);
    assert_int_equal(got->id, a1->id);
    assert_int_equal(igraph_store_account_delete(&f->db, f->pool, "alice", a1->id), APR_SUCCESS);
    assert_int_equal(igraph_store_account_find(&f->db, f->pool, "alice", sid, &got), APR_SUCCESS);
    assert_int_equal(got->id, clash->id);

    /* one username, two rows: the active one */
    twin = add_account(f, "alice", "17841400000000009", "other");
    assert_int_equal(igraph_store_account_set_status(&f->db, f->pool, "alice", twin->id,
                                                     IGRAPH_ACCOUNT_NEEDS_REAUTH, NULL),
                     APR_SUCCESS);
    assert_int_equal(igraph_store_account_find(&f->db, f->pool, "alice", "other", &got),
                     APR_SUCCESS);
    assert_int_equal(got->id, a2->id);

    /* active accounts, oldest first */
    assert_int_equal(igraph_store_accounts_active(&f->db, f->pool, "alice", &list), APR_SUCCESS);
    assert_int_equal(list->nelts, 4);
    assert_int_equal(APR_ARRAY_IDX(list, 0, igraph_account_t *)->id, a2->id);
    assert_int_equal(APR_ARRAY_IDX(list, 1, igraph_account_t *)->id, big->id);
    assert_int_equal(APR_ARRAY_IDX(list, 2, igraph_account_t *)->id, numeric->id);
    assert_int_equal(APR_ARRAY_IDX(list, 3, igraph_account_t *)->id, clash->id);
    assert_int_equal(igraph_store_account_set_status(&f->db, f->pool, "alice", big->id,
                                                     IGRAPH_ACCOUNT_DISABLED, NULL),
                     APR_SUCCESS);
    assert_int_equal(igraph_store_accounts_active(&f->db, f->pool, "alice", &list), APR_SUCCESS);
    assert_int_equal(list->nelts, 3);
    assert_int_equal(igraph_store_accounts_active(&f->db, f->pool, "bob", &list), APR_SUCCESS);
    assert_int_equal(list->nelts, 1);
    assert_int_equal(igraph_store_accounts_active(&f->db, f->pool, "carol", &list), APR_SUCCESS);
    assert_int_equal(list->nelts, 0);
    assert_int_equal(test_log_errors, 0);
}

static void test_bad_arguments(void **state)
{
    fixture_t *f = *state;
    igraph_job_t *j = make_job(f->pool, "j", "alice", 1, 100);
    igraph_job_t *got;
    apr_array_header_t *list;
    apr_int64_t next;
    int n;

    j->status = (igraph_job_status_e)42;
    assert_int_equal(igraph_store_job_insert(&f->db, f->pool, j, NULL, NULL), APR_EINVAL);
    j->status = IGRAPH_JOB_QUEUED;
    j->login = (igraph_login_e)2;
    assert_int_equal(igraph_store_job_insert(&f->db, f->pool, j, NULL, NULL), APR_EINVAL);
    j->login = IGRAPH_LOGIN_FACEBOOK;
    j->owner = NULL;
    assert_int_equal(igraph_store_job_insert(&f->db, f->pool, j, NULL, NULL), APR_EINVAL);
    j->owner = "alice";
    j->id = "";
    assert_int_equal(igraph_store_job_insert(&f->db, f->pool, j, NULL, NULL), APR_EINVAL);
    j->id = "j";
    insert(f, j);
    assert_int_equal(igraph_store_job_claim(&f->db, f->pool, "j", "w", 1, 2), APR_SUCCESS);
    j->status = (igraph_job_status_e)-1;
    assert_int_equal(igraph_store_job_save(&f->db, f->pool, j, "w"), APR_EINVAL);
    assert_int_equal(get(f, "j")->status, IGRAPH_JOB_QUEUED);
    assert_int_equal(igraph_store_job_save(&f->db, f->pool, j, NULL), APR_EINVAL);
    assert_int_equal(igraph_store_job_get(&f->db, f->pool, NULL, NULL, &got), APR_EINVAL);
    assert_int_equal(igraph_store_job_by_idempotency(&f->db, f->pool, "alice", NULL, &got),
                     APR_EINVAL);
    assert_int_equal(igraph_store_job_find_duplicate(&f->db, f->pool, 1, NULL, &got), APR_EINVAL);
    assert_int_equal(igraph_store_jobs_list(&f->db, f->pool, NULL, NULL, 0, 10, &list), APR_EINVAL);
    assert_int_equal(igraph_store_job_cancel(&f->db, f->pool, NULL, "j", 1), APR_EINVAL);
    assert_int_equal(igraph_store_job_claim(&f->db, f->pool, "j", NULL, 1, 2), APR_EINVAL);
    assert_int_equal(igraph_store_job_unclaim(&f->db, f->pool, NULL, "w"), APR_EINVAL);
    assert_int_equal(igraph_store_jobs_due(&f->db, f->pool, NULL, 1, 10, NULL), APR_EINVAL);
    assert_int_equal(igraph_store_jobs_next_due(&f->db, f->pool, NULL), APR_EINVAL);
    assert_int_equal(igraph_store_jobs_in_flight(&f->db, f->pool, 1, NULL), APR_EINVAL);
    assert_int_equal(igraph_store_jobs_published_since(&f->db, f->pool, 1, 0, NULL), APR_EINVAL);
    assert_int_equal(igraph_store_accounts_active(&f->db, f->pool, NULL, &list), APR_EINVAL);
    /* a store that is not ready says so */
    {
        igraph_db_t empty;

        memset(&empty, 0, sizeof(empty));
        assert_int_equal(igraph_store_jobs_next_due(&empty, f->pool, &next), APR_EINVAL);
        assert_int_equal(igraph_store_jobs_in_flight(&empty, f->pool, 1, &n), APR_EINVAL);
    }
    assert_int_equal(test_log_errors, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_migrate_v2, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_job_roundtrip, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_job_unknown_names, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_job_idempotency, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_jobs_group_insert, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_job_find_duplicate, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_jobs_list, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_job_claim_save, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_job_cancel, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_jobs_due, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_jobs_counts, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_account_find, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, test_db_setup, test_db_teardown),
    };
    int failed;

    if (test_init() != 0 || test_db_init("test_jobs_store", "TEST_JOBS_PGSQL") != 0) {
        return 1;
    }
    test_log_capture(IGRAPH_LOG_DEBUG, "TEST_STORE_VERBOSE");
    failed = cmocka_run_group_tests(tests, NULL, NULL);
    test_done();
    return failed;
}
