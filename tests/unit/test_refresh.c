/* test_refresh.c: token lifecycle: igraph_refresh (pure rules, and igraph_refresh_account against
 * a tiny in-process HTTP server) and the schema v2 store functions (migration from v1, leases,
 * claims, the due-query, conditional token updates, failure records), on a fresh SQLite file per
 * test (plain apr_dbd, no httpd). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_dbd.h>
#include <apr_general.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <curl/curl.h>

#include "igraph_crypto.h"
#include "igraph_graph.h"
#include "igraph_log.h"
#include "igraph_refresh.h"
#include "igraph_store.h"
#include "igraph_util.h"
#include "igraph_http.h"
#include "support.h"

#define DAY 86400

static const igraph_key_t g_other_key = {{0xff}};
/* igraph_store_account_refresh_failed() takes the new status by pointer (NULL keeps it) */
static const igraph_account_status_e reauth = IGRAPH_ACCOUNT_NEEDS_REAUTH;

/* ---- log capture: errors counted, nothing secret may ever reach the log ------------------- */

static void assert_logs_clean(void)
{
    static const char *const secrets[] = {"EAAJ",          "IGAA",          "fb-app-secret",
                                          "ig-app-secret", "access_token=", NULL};

    test_log_assert_clean(secrets);
}

typedef test_fixture_t fixture_t;

static igraph_account_t *make_ig(apr_pool_t *p, const char *owner, const char *ig_user_id,
                                 apr_int64_t issued, apr_int64_t expires)
{
    igraph_account_t *a = apr_pcalloc(p, sizeof(*a));

    a->login = IGRAPH_LOGIN_INSTAGRAM;
    a->owner = owner;
    a->ig_user_id = ig_user_id;
    a->username = apr_pstrcat(p, "ig_", ig_user_id, NULL);
    a->app_user_id = ig_user_id;
    a->scopes = "instagram_business_basic,instagram_business_content_publish";
    a->token_issued_at = issued;
    a->token_expires_at = expires;
    return a;
}

static igraph_account_t *make_fb(apr_pool_t *p, const char *owner, apr_int64_t issued,
                                 apr_int64_t expires)
{
    igraph_account_t *a = apr_pcalloc(p, sizeof(*a));

    a->login = IGRAPH_LOGIN_FACEBOOK;
    a->owner = owner;
    a->ig_user_id = "17841400000000001";
    a->username = "acme.bakery";
    a->name = "Acme Bakery";
    a->page_id = "108000000000001";
    a->page_name = "Acme Bakery Page";
    a->app_user_id = "10100000000000";
    a->scopes = "instagram_basic,instagram_content_publish,pages_show_list";
    a->token_issued_at = issued;
    a->token_expires_at = expires;
    return a;
}

static igraph_account_t *stored(fixture_t *f, apr_int64_t id)
{
    igraph_account_t *a = NULL;

    assert_int_equal(igraph_store_account_get_any(&f->db, f->pool, id, &a), APR_SUCCESS);
    return a;
}

static const char *tok_of(fixture_t *f, const igraph_account_t *a, igraph_token_kind_e kind)
{
    return igraph_store_account_token(f->pool, &test_key, a, kind);
}

/* ---- pure rules ---------------------------------------------------------------------------- */

static void test_decide(void **state)
{
    const apr_int64_t now = 1800000000, win = 10 * DAY;
    static const struct {
        igraph_login_e login;
        apr_int64_t issued_ago, expires_in; /* relative to now; expires_in 0 = "0" stored */
        int force;
        igraph_refresh_e want;
    } cases[] = {
        /* Instagram */
        {IGRAPH_LOGIN_INSTAGRAM, 50 * DAY, 5 * DAY, 0, IGRAPH_REFRESH_NOW},
        {IGRAPH_LOGIN_INSTAGRAM, 50 * DAY, 10 * DAY, 0,
         IGRAPH_REFRESH_NOW}, /* exactly at the window */
        {IGRAPH_LOGIN_INSTAGRAM, 40 * DAY, 10 * DAY + 1, 0, IGRAPH_REFRESH_SKIP},
        {IGRAPH_LOGIN_INSTAGRAM, 1 * DAY, 59 * DAY, 0, IGRAPH_REFRESH_SKIP},
        {IGRAPH_LOGIN_INSTAGRAM, 1 * DAY, 59 * DAY, 1,
         IGRAPH_REFRESH_NOW}, /* force ignores the window */
        {IGRAPH_LOGIN_INSTAGRAM, DAY - 1, 5 * DAY, 0, IGRAPH_REFRESH_TOO_YOUNG},
        {IGRAPH_LOGIN_INSTAGRAM, DAY - 1, 59 * DAY, 1, IGRAPH_REFRESH_TOO_YOUNG},
        {IGRAPH_LOGIN_INSTAGRAM, 3600, 1 * DAY, 0, IGRAPH_REFRESH_TOO_YOUNG},
        {IGRAPH_LOGIN_INSTAGRAM, 61 * DAY, -1, 0, IGRAPH_REFRESH_EXPIRED},
        {IGRAPH_LOGIN_INSTAGRAM, 60 * DAY, 0 + 0, 0, IGRAPH_REFRESH_SKIP}, /* expires_at 0 below */
        /* Facebook: no 24 h rule */
        {IGRAPH_LOGIN_FACEBOOK, 3600, 5 * DAY, 0, IGRAPH_REFRESH_NOW},
        {IGRAPH_LOGIN_FACEBOOK, 0, 5 * DAY, 0, IGRAPH_REFRESH_NOW},
        {IGRAPH_LOGIN_FACEBOOK, 3600, 30 * DAY, 0, IGRAPH_REFRESH_SKIP},
        {IGRAPH_LOGIN_FACEBOOK, 3600, 30 * DAY, 1, IGRAPH_REFRESH_NOW},
        {IGRAPH_LOGIN_FACEBOOK, 70 * DAY, -100, 1, IGRAPH_REFRESH_EXPIRED},
    };
    apr_size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        igraph_account_t a = {0};
        igraph_refresh_e got;

        a.login = cases[i].login;
        a.token_issued_at = now - cases[i].issued_ago;
        a.token_expires_at = cases[i].expires_in ? now + cases[i].expires_in : 0;
        got = igraph_refresh_decide(&a, now, win, cases[i].force);
        if (got != cases[i].want) {
            fail_msg("case %d: got %d, want %d", (int)i, got, cases[i].want);
        }
    }
    /* expiry exactly now counts as expired; 0 = never/unknown is skipped even when forced */
    {
        igraph_account_t a = {0};

        a.login = IGRAPH_LOGIN_INSTAGRAM;
        a.token_issued_at = now - 30 * DAY;
        a.token_expires_at = now;
        assert_int_equal(igraph_refresh_decide(&a, now, win, 0), IGRAPH_REFRESH_EXPIRED);
        a.token_expires_at = 0;
        assert_int_equal(igraph_refresh_decide(&a, now, win, 1), IGRAPH_REFRESH_SKIP);
        a.login = IGRAPH_LOGIN_FACEBOOK;
        assert_int_equal(igraph_refresh_decide(&a, now, win, 1), IGRAPH_REFRESH_SKIP);
        assert_int_equal(igraph_refresh_decide(NULL, now, win, 1), IGRAPH_REFRESH_SKIP);
    }
}

static void test_backoff(void **state)
{
    int i;

    /* no jitter at rnd 0.5: base * 2^(n-1), capped */
    assert_int_equal(igraph_refresh_backoff(1, 60, 21600, 0.5), 60);
    assert_int_equal(igraph_refresh_backoff(2, 60, 21600, 0.5), 120);
    assert_int_equal(igraph_refresh_backoff(3, 60, 21600, 0.5), 240);
    assert_int_equal(igraph_refresh_backoff(8, 60, 21600, 0.5), 7680);
    assert_int_equal(igraph_refresh_backoff(9, 60, 21600, 0.5), 15360);
    assert_int_equal(igraph_refresh_backoff(10, 60, 21600, 0.5), 21600);
    assert_int_equal(igraph_refresh_backoff(1000, 60, 21600, 0.5), 21600);
    assert_int_equal(igraph_refresh_backoff(INT32_MAX, 60, 21600, 0.5), 21600);
    /* 0 / negative failures behave like the first retry */
    assert_int_equal(igraph_refresh_backoff(0, 60, 21600, 0.5), 60);
    assert_int_equal(igraph_refresh_backoff(-3, 60, 21600, 0.5), 60);
    /* jitter bounds: [0.5, 1.5) of the capped delay */
    assert_int_equal(igraph_refresh_backoff(1, 60, 21600, 0.0), 30);
    assert_int_equal(igraph_refresh_backoff(2, 60, 21600, 0.0), 60);
    assert_true(igraph_refresh_backoff(1, 60, 21600, 0.999999) < 90);
    assert_true(igraph_refresh_backoff(1, 60, 21600, 0.999999) >= 89);
    assert_true(igraph_refresh_backoff(50, 60, 21600, 0.999999) < 32400);
    assert_int_equal(igraph_refresh_backoff(50, 60, 21600, 0.0), 10800);
    /* rnd outside [0, 1) is clamped */
    assert_int_equal(igraph_refresh_backoff(1, 60, 21600, -5.0), 30);
    assert_true(igraph_refresh_backoff(1, 60, 21600, 7.0) < 90);
    /* monotonic without jitter, always >= 1 */
    for (i = 1; i < 40; i++) {
        assert_true(igraph_refresh_backoff(i + 1, 60, 21600, 0.5) >=
                    igraph_refresh_backoff(i, 60, 21600, 0.5));
    }
    assert_true(igraph_refresh_backoff(1, 0, 0, 0.0) >= 1);
    /* a cap below base: the cap wins */
    assert_int_equal(igraph_refresh_backoff(3, 600, 100, 0.5), 600);
}

static void test_is_fatal(void **state)
{
    static const struct {
        igraph_err_class_e cls;
        int fatal;
    } cases[] = {
        {IGRAPH_ERR_REAUTH, 1},     {IGRAPH_ERR_PERMISSION, 1}, {IGRAPH_ERR_TRANSPORT, 0},
        {IGRAPH_ERR_SERVER, 0},     {IGRAPH_ERR_RATE_LIMIT, 0}, {IGRAPH_ERR_RETRY, 0},
        {IGRAPH_ERR_OAUTH, 0},      {IGRAPH_ERR_INVALID, 0},    {IGRAPH_ERR_PERMANENT, 0},
        {IGRAPH_ERR_RESTRICTED, 0}, {IGRAPH_ERR_NONE, 0},
    };
    apr_size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        igraph_gerr_t e = {0};

        e.cls = cases[i].cls;
        if (igraph_refresh_is_fatal(&e) != cases[i].fatal) {
            fail_msg("class %s: want fatal=%d", igraph_err_class_name(e.cls), cases[i].fatal);
        }
    }
    assert_int_equal(igraph_refresh_is_fatal(NULL), 0);
    assert_string_equal(igraph_refresh_result_name(IGRAPH_REFRESHED), "refreshed");
    assert_string_equal(igraph_refresh_result_name(IGRAPH_REFRESH_RETRY), "retry");
    assert_string_equal(igraph_refresh_result_name(IGRAPH_REFRESH_REAUTH), "reauth");
}

/* ---- store, schema v2 ------------------------------------------------------------------------ */

/* Schema version 1 exactly as released (igraph_store.c at 77c2dd1), with data in it. */
static const char *const v1_fixture[] = {
    TEST_SCHEMA_V1_DDL,
    "INSERT INTO schema_migrations (version, applied_at) VALUES (1, 1700000000)",
    "INSERT INTO oauth_states VALUES ('h1', 'alice', 'facebook', 1700000000, 4000000000)",
    NULL,
};

static void test_migrate_v1(void **state)
{
    fixture_t *f = *state;
    igraph_account_t *a;
    apr_array_header_t *list;
    const char *enc;
    int i;

    for (i = 0; v1_fixture[i]; i++) {
        test_db_exec(&f->db, v1_fixture[i]);
    }
    /* a v1 row with a token sealed under v1's associated data */
    enc = igraph_seal_str(f->pool, &test_key, "account:meta_ig:alice:111:access", "IGAAv1token");
    assert_non_null(enc);
    test_db_exec(&f->db,
                 apr_psprintf(f->pool,
                              "INSERT INTO accounts (login, ig_user_id, owner, username, "
                              "access_token_enc, token_expires_at, token_issued_at, status, "
                              "last_error, created_at, updated_at) VALUES ('instagram', '111', "
                              "'alice', 'v1user', '%s', 1900000000, 1700000000, 'needs_reauth', "
                              "'old error', 1700000000, 1700000001)",
                              enc));

    assert_int_equal(igraph_store_ready(&f->db, f->pool), APR_SUCCESS);
    assert_int_equal(test_db_count(&f->db, f->pool, "SELECT MAX(version) FROM schema_migrations"),
                     IGRAPH_SCHEMA_VERSION);
    assert_int_equal(test_db_count(&f->db, f->pool, "SELECT COUNT(*) FROM schema_migrations"),
                     IGRAPH_SCHEMA_VERSION);
    /* rows preserved, new columns at their defaults */
    assert_int_equal(igraph_store_accounts_list(&f->db, f->pool, "alice", &list), APR_SUCCESS);
    assert_int_equal(list->nelts, 1);
    a = APR_ARRAY_IDX(list, 0, igraph_account_t *);
    assert_string_equal(a->username, "v1user");
    assert_int_equal(a->status, IGRAPH_ACCOUNT_NEEDS_REAUTH);
    assert_string_equal(a->last_error, "old error");
    assert_int_equal(a->token_expires_at, 1900000000);
    assert_int_equal(a->next_refresh_at, 0);
    assert_int_equal(a->refresh_failures, 0);
    /* the token, which a list does not carry, opens under v1's associated data */
    assert_int_equal(igraph_store_account_get(&f->db, f->pool, "alice", a->id, &a), APR_SUCCESS);
    assert_string_equal(tok_of(f, a, IGRAPH_TOKEN_ACCESS), "IGAAv1token");
    assert_null(test_db_value(&f->db, f->pool, "SELECT claimed_by FROM accounts"));
    assert_int_equal(test_db_count(&f->db, f->pool, "SELECT claim_until FROM accounts"), 0);
    assert_int_equal(test_db_count(&f->db, f->pool, "SELECT COUNT(*) FROM oauth_states"), 1);
    assert_int_equal(test_db_count(&f->db, f->pool,
                                   "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' "
                                   "AND name = 'accounts_due'"),
                     1);
    assert_int_equal(test_db_count(&f->db, f->pool, "SELECT COUNT(*) FROM leases"), 0);

    /* the v2 functions work on the migrated row; a second connection does not migrate again */
    assert_int_equal(igraph_store_account_claim(&f->db, f->pool, a->id, "w1", 100, 200),
                     APR_SUCCESS);
    {
        igraph_db_t db2;

        test_db_open(f, &db2);
        assert_int_equal(igraph_store_ready(&db2, f->pool), APR_SUCCESS);
        assert_int_equal(test_db_count(&db2, f->pool, "SELECT COUNT(*) FROM schema_migrations"),
                         IGRAPH_SCHEMA_VERSION);
        assert_int_equal(igraph_store_account_claim(&db2, f->pool, a->id, "w2", 150, 250),
                         APR_EBUSY);
        test_db_close(&db2);
    }
    assert_int_equal(test_log_errors, 0);
}

static void test_lease(void **state)
{
    fixture_t *f = *state;
    igraph_db_t db2;

    test_db_open(f, &db2);
    assert_int_equal(igraph_store_lease(&f->db, f->pool, "refresh", "A", 1000, 60), APR_SUCCESS);
    assert_int_equal(igraph_store_lease(&db2, f->pool, "refresh", "B", 1010, 60), APR_EBUSY);
    /* other names are independent */
    assert_int_equal(igraph_store_lease(&db2, f->pool, "other", "B", 1010, 60), APR_SUCCESS);
    /* the holder renews */
    assert_int_equal(igraph_store_lease(&f->db, f->pool, "refresh", "A", 1020, 60), APR_SUCCESS);
    assert_int_equal(
        test_db_count(&f->db, f->pool, "SELECT expires_at FROM leases WHERE name = 'refresh'"),
        1080);
    assert_int_equal(igraph_store_lease(&db2, f->pool, "refresh", "B", 1080, 60), APR_EBUSY);
    /* expired: taken over */
    assert_int_equal(igraph_store_lease(&db2, f->pool, "refresh", "B", 1081, 60), APR_SUCCESS);
    assert_string_equal(test_db_value(&f->db, f->pool,
                                      "SELECT holder FROM leases WHERE name = "
                                      "'refresh'"),
                        "B");
    assert_int_equal(igraph_store_lease(&f->db, f->pool, "refresh", "A", 1082, 60), APR_EBUSY);
    /* release only by the holder */
    assert_int_equal(igraph_store_lease_release(&f->db, f->pool, "refresh", "A"), APR_SUCCESS);
    assert_int_equal(igraph_store_lease(&f->db, f->pool, "refresh", "A", 1083, 60), APR_EBUSY);
    assert_int_equal(igraph_store_lease_release(&db2, f->pool, "refresh", "B"), APR_SUCCESS);
    assert_int_equal(igraph_store_lease(&f->db, f->pool, "refresh", "A", 1084, 60), APR_SUCCESS);
    assert_int_equal(test_db_count(&f->db, f->pool, "SELECT COUNT(*) FROM leases"), 2);
    assert_int_equal(igraph_store_lease(&f->db, f->pool, "refresh", NULL, 1084, 60), APR_EINVAL);
    assert_int_equal(igraph_store_lease(&f->db, f->pool, "refresh", "A", 1084, 0), APR_EINVAL);
    test_db_close(&db2);
    assert_int_equal(test_log_errors, 0);
}

static void test_claim(void **state)
{
    fixture_t *f = *state;
    igraph_account_t *a = make_ig(f->pool, "alice", "111", 1700000000, 1900000000);
    igraph_db_t db2;

    assert_int_equal(igraph_store_account_upsert(&f->db, f->pool, &test_key, a, "IGAAx", NULL),
                     APR_SUCCESS);
    test_db_open(f, &db2);
    assert_int_equal(igraph_store_account_claim(&f->db, f->pool, a->id, "A", 1000, 1100),
                     APR_SUCCESS);
    assert_int_equal(igraph_store_account_claim(&db2, f->pool, a->id, "B", 1050, 1150), APR_EBUSY);
    assert_int_equal(igraph_store_account_claim(&f->db, f->pool, a->id, "A", 1060, 1160),
                     APR_SUCCESS);
    assert_int_equal(igraph_store_account_claim(&db2, f->pool, a->id, "B", 1160, 1260), APR_EBUSY);
    /* expired claim: taken over */
    assert_int_equal(igraph_store_account_claim(&db2, f->pool, a->id, "B", 1161, 1261),
                     APR_SUCCESS);
    assert_int_equal(igraph_store_account_claim(&f->db, f->pool, a->id, "A", 1162, 1262),
                     APR_EBUSY);
    /* unclaim only by the holder */
    assert_int_equal(igraph_store_account_unclaim(&f->db, f->pool, a->id, "A"), APR_SUCCESS);
    assert_int_equal(igraph_store_account_claim(&f->db, f->pool, a->id, "A", 1163, 1263),
                     APR_EBUSY);
    assert_int_equal(igraph_store_account_unclaim(&db2, f->pool, a->id, "B"), APR_SUCCESS);
    assert_null(test_db_value(&f->db, f->pool, "SELECT claimed_by FROM accounts"));
    assert_int_equal(igraph_store_account_claim(&f->db, f->pool, a->id, "A", 1164, 1264),
                     APR_SUCCESS);
    /* missing account */
    assert_int_equal(igraph_store_account_claim(&f->db, f->pool, a->id + 100, "A", 1, 2),
                     APR_EBUSY);
    /* a claim does not show up as a change of the account */
    assert_int_equal(stored(f, a->id)->updated_at, a->updated_at);
    test_db_close(&db2);
    assert_int_equal(test_log_errors, 0);
}

static void test_accounts_due(void **state)
{
    fixture_t *f = *state;
    const apr_int64_t now = igraph_now(), win = 30 * DAY;
    igraph_account_t *a1 = make_ig(f->pool, "alice", "1", now - 40 * DAY, now + 10 * DAY);
    igraph_account_t *a2 = make_ig(f->pool, "alice", "2", now - 10 * DAY, now + 40 * DAY);
    igraph_account_t *a3 = make_ig(f->pool, "bob", "3", now - 10 * DAY, 0);
    igraph_account_t *a4 = make_ig(f->pool, "bob", "4", now - 50 * DAY, now + 1 * DAY);
    igraph_account_t *a5 = make_ig(f->pool, "carol", "5", now - 50 * DAY, now + 5 * DAY);
    igraph_account_t *a6 = make_fb(f->pool, "carol", now - 70 * DAY, now - 10);
    igraph_account_t *a7 = make_ig(f->pool, "dave", "7", now - 40 * DAY, now + win);
    igraph_account_t *all[] = {a1, a2, a3, a4, a5, a6, a7};
    apr_array_header_t *due;
    size_t i;

    for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        assert_int_equal(
            igraph_store_account_upsert(&f->db, f->pool, &test_key, all[i], "IGAAt", NULL),
            APR_SUCCESS);
    }
    assert_int_equal(igraph_store_account_set_status(&f->db, f->pool, "bob", a4->id,
                                                     IGRAPH_ACCOUNT_NEEDS_REAUTH, "x"),
                     APR_SUCCESS);
    assert_int_equal(igraph_store_account_refresh_failed(&f->db, f->pool, a5->id, NULL,
                                                         "transport: timeout", now + 3600),
                     APR_SUCCESS);

    /* soonest expiry first: a6 (expired), a1, a7 (exactly at the window edge) */
    assert_int_equal(igraph_store_accounts_due(&f->db, f->pool, NULL, now, win, 10, &due),
                     APR_SUCCESS);
    assert_int_equal(due->nelts, 3);
    assert_int_equal(APR_ARRAY_IDX(due, 0, igraph_account_t *)->id, a6->id);
    assert_int_equal(APR_ARRAY_IDX(due, 1, igraph_account_t *)->id, a1->id);
    assert_int_equal(APR_ARRAY_IDX(due, 2, igraph_account_t *)->id, a7->id);
    /* every owner, full rows */
    assert_string_equal(APR_ARRAY_IDX(due, 0, igraph_account_t *)->owner, "carol");
    assert_string_equal(APR_ARRAY_IDX(due, 1, igraph_account_t *)->username, "ig_1");
    assert_string_equal(tok_of(f, APR_ARRAY_IDX(due, 1, igraph_account_t *), IGRAPH_TOKEN_ACCESS),
                        "IGAAt");

    /* limit */
    assert_int_equal(igraph_store_accounts_due(&f->db, f->pool, NULL, now, win, 2, &due),
                     APR_SUCCESS);
    assert_int_equal(due->nelts, 2);
    assert_int_equal(APR_ARRAY_IDX(due, 1, igraph_account_t *)->id, a1->id);

    /* after next_refresh_at, a5 is due again (and comes before a1) */
    assert_int_equal(igraph_store_accounts_due(&f->db, f->pool, NULL, now + 3600, win, 10, &due),
                     APR_SUCCESS);
    assert_int_equal(due->nelts, 4);
    assert_int_equal(APR_ARRAY_IDX(due, 1, igraph_account_t *)->id, a5->id);
    assert_int_equal(APR_ARRAY_IDX(due, 1, igraph_account_t *)->refresh_failures, 1);
    assert_int_equal(APR_ARRAY_IDX(due, 1, igraph_account_t *)->next_refresh_at, now + 3600);

    /* a smaller window */
    assert_int_equal(igraph_store_accounts_due(&f->db, f->pool, NULL, now, 0, 10, &due),
                     APR_SUCCESS);
    assert_int_equal(due->nelts, 1);
    assert_int_equal(APR_ARRAY_IDX(due, 0, igraph_account_t *)->id, a6->id);

    /* a wider one takes a2 too; a3 (never expires) and a4 (needs_reauth) never */
    assert_int_equal(
        igraph_store_accounts_due(&f->db, f->pool, NULL, now + 3600, 365 * DAY, 10, &due),
        APR_SUCCESS);
    assert_int_equal(due->nelts, 5);
    for (i = 0; i < (size_t)due->nelts; i++) {
        apr_int64_t id = APR_ARRAY_IDX(due, i, igraph_account_t *)->id;
        assert_true(id != a3->id && id != a4->id);
    }
    assert_int_equal(igraph_store_accounts_due(&f->db, f->pool, NULL, now, win, 0, &due),
                     APR_EINVAL);

    /* get_any reads any owner's account */
    assert_string_equal(stored(f, a4->id)->owner, "bob");
    {
        igraph_account_t *none;
        assert_int_equal(igraph_store_account_get_any(&f->db, f->pool, a7->id + 99, &none),
                         APR_NOTFOUND);
    }
    assert_int_equal(test_log_errors, 0);
}

/* Owner keys and the maintenance work of one realm: the same user name in two realms owns two
 * accounts; each realm's sweep sees only its own (the default realm: the bare keys). */
static void test_accounts_due_by_realm(void **state)
{
    fixture_t *f = *state;
    const apr_int64_t now = igraph_now(), win = 30 * DAY;
    const char *shop = igraph_owner_key(f->pool, "shop.example", "alice");
    igraph_account_t *a1 = make_ig(f->pool, "alice", "1", now - 40 * DAY, now + 1 * DAY);
    igraph_account_t *a2 = make_ig(f->pool, shop, "2", now - 40 * DAY, now + 2 * DAY);
    igraph_account_t *a3 = make_ig(f->pool, igraph_owner_key(f->pool, "shop", "bob"), "3",
                                   now - 40 * DAY, now + 3 * DAY);
    igraph_account_t *all[] = {a1, a2, a3};
    apr_array_header_t *due, *mine;
    size_t i;

    assert_string_equal(igraph_owner_key(f->pool, "", "alice"), "alice");
    assert_string_equal(igraph_owner_key(f->pool, NULL, "alice"), "alice");
    assert_string_equal(shop, "shop.example\x1f"
                              "alice");
    assert_string_equal(igraph_owner_realm(f->pool, shop), "shop.example");
    assert_string_equal(igraph_owner_realm(f->pool, "alice"), "");
    assert_string_equal(igraph_owner_user(shop), "alice");
    assert_string_equal(igraph_owner_user("alice"), "alice");
    assert_string_equal(igraph_owner_user(igraph_owner_key(f->pool, "r", "")), "");
    assert_true(igraph_realm_valid("shop.example:443"));
    assert_true(igraph_realm_valid("a_b-c"));
    assert_false(igraph_realm_valid(""));
    assert_false(igraph_realm_valid(NULL));
    assert_false(igraph_realm_valid("a b"));
    assert_false(igraph_realm_valid("a\x1f"
                                    "b"));
    assert_true(igraph_realm_valid("[::1]:8443"));
    assert_false(igraph_realm_valid("caf\xc3\xa9"));
    assert_true(igraph_user_valid("alice"));
    assert_true(igraph_user_valid(""));
    assert_true(igraph_user_valid("J\xc3\xbcrgen"));
    assert_false(igraph_user_valid("shop\x1f"
                                   "alice"));
    assert_false(igraph_user_valid("a\nb"));

    for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        assert_int_equal(
            igraph_store_account_upsert(&f->db, f->pool, &test_key, all[i], "IGAAt", NULL),
            APR_SUCCESS);
    }
    assert_int_equal(igraph_store_accounts_due(&f->db, f->pool, NULL, now, win, 10, &due),
                     APR_SUCCESS);
    assert_int_equal(due->nelts, 3);
    assert_int_equal(igraph_store_accounts_due(&f->db, f->pool, "", now, win, 10, &due),
                     APR_SUCCESS);
    assert_int_equal(due->nelts, 1);
    assert_int_equal(APR_ARRAY_IDX(due, 0, igraph_account_t *)->id, a1->id);
    assert_int_equal(igraph_store_accounts_due(&f->db, f->pool, "shop.example", now, win, 10, &due),
                     APR_SUCCESS);
    assert_int_equal(due->nelts, 1);
    assert_int_equal(APR_ARRAY_IDX(due, 0, igraph_account_t *)->id, a2->id);
    /* "shop" is not a prefix match of "shop.example" */
    assert_int_equal(igraph_store_accounts_due(&f->db, f->pool, "shop", now, win, 10, &due),
                     APR_SUCCESS);
    assert_int_equal(due->nelts, 1);
    assert_int_equal(APR_ARRAY_IDX(due, 0, igraph_account_t *)->id, a3->id);
    assert_int_equal(igraph_store_accounts_due(&f->db, f->pool, "other", now, win, 10, &due),
                     APR_SUCCESS);
    assert_int_equal(due->nelts, 0);
    /* the lists of one owner key never cross realms */
    assert_int_equal(igraph_store_accounts_list(&f->db, f->pool, "alice", &mine), APR_SUCCESS);
    assert_int_equal(mine->nelts, 1);
    assert_int_equal(APR_ARRAY_IDX(mine, 0, igraph_account_t *)->id, a1->id);
    assert_int_equal(igraph_store_accounts_list(&f->db, f->pool, shop, &mine), APR_SUCCESS);
    assert_int_equal(mine->nelts, 1);
    assert_int_equal(APR_ARRAY_IDX(mine, 0, igraph_account_t *)->id, a2->id);
    assert_logs_clean();
}

static void test_tokens_update(void **state)
{
    fixture_t *f = *state;
    igraph_account_t *a = make_fb(f->pool, "alice", 1700000000, 1705000000);
    igraph_account_t *got, upd;

    assert_int_equal(
        igraph_store_account_upsert(&f->db, f->pool, &test_key, a, "EAAJpage1", "EAAJuser1"),
        APR_SUCCESS);
    assert_int_equal(igraph_store_account_refresh_failed(&f->db, f->pool, a->id, NULL,
                                                         "server: HTTP 500", 1700000500),
                     APR_SUCCESS);

    /* older than what is stored: refused, nothing written */
    upd = *stored(f, a->id);
    assert_int_equal(igraph_store_account_tokens_update(&f->db, f->pool, &test_key, &upd, "EAAJold",
                                                        "EAAJolduser", 1800000000, 1699999999),
                     APR_EEXIST);
    got = stored(f, a->id);
    assert_string_equal(tok_of(f, got, IGRAPH_TOKEN_ACCESS), "EAAJpage1");
    assert_string_equal(tok_of(f, got, IGRAPH_TOKEN_USER), "EAAJuser1");
    assert_int_equal(got->token_expires_at, 1705000000);
    assert_int_equal(got->refresh_failures, 1);
    assert_string_equal(got->last_error, "server: HTTP 500");

    /* newer: stored; NULL user token keeps the stored one; NULL profile fields keep theirs */
    upd.username = "renamed";
    upd.name = NULL;
    upd.picture_url = NULL;
    assert_int_equal(igraph_store_account_tokens_update(&f->db, f->pool, &test_key, &upd,
                                                        "EAAJpage2", NULL, 1800000000, 1700000100),
                     APR_SUCCESS);
    got = stored(f, a->id);
    assert_string_equal(tok_of(f, got, IGRAPH_TOKEN_ACCESS), "EAAJpage2");
    assert_string_equal(tok_of(f, got, IGRAPH_TOKEN_USER), "EAAJuser1");
    assert_int_equal(got->token_expires_at, 1800000000);
    assert_int_equal(got->token_issued_at, 1700000100);
    assert_int_equal(got->refresh_failures, 0);
    assert_int_equal(got->next_refresh_at, 0);
    assert_null(got->last_error);
    assert_string_equal(got->username, "renamed");
    assert_string_equal(got->name, "Acme Bakery");
    assert_int_equal(got->status, IGRAPH_ACCOUNT_ACTIVE);

    /* same issue time is not older: accepted (both tokens are current) */
    assert_int_equal(igraph_store_account_tokens_update(&f->db, f->pool, &test_key, got, NULL,
                                                        "EAAJuser3", 1800000001, 1700000100),
                     APR_SUCCESS);
    got = stored(f, a->id);
    assert_string_equal(tok_of(f, got, IGRAPH_TOKEN_ACCESS), "EAAJpage2");
    assert_string_equal(tok_of(f, got, IGRAPH_TOKEN_USER), "EAAJuser3");

    /* the status changed since the refresh read the row: nothing written */
    assert_int_equal(
        igraph_store_account_refresh_failed(&f->db, f->pool, a->id, &reauth, "reauth: expired", 0),
        APR_SUCCESS);
    assert_int_equal(igraph_store_account_tokens_update(&f->db, f->pool, &test_key, got,
                                                        "EAAJpage4", NULL, 1800000002, 1700000200),
                     APR_EBUSY);
    assert_string_equal(tok_of(f, stored(f, a->id), IGRAPH_TOKEN_ACCESS), "EAAJpage2");
    /* a working token read as needs_reauth lifts needs_reauth, but never disabled */
    got = stored(f, a->id);
    assert_int_equal(got->status, IGRAPH_ACCOUNT_NEEDS_REAUTH);
    assert_int_equal(igraph_store_account_tokens_update(&f->db, f->pool, &test_key, got,
                                                        "EAAJpage4", NULL, 1800000002, 1700000200),
                     APR_SUCCESS);
    assert_int_equal(stored(f, a->id)->status, IGRAPH_ACCOUNT_ACTIVE);
    assert_int_equal(igraph_store_account_set_status(&f->db, f->pool, "alice", a->id,
                                                     IGRAPH_ACCOUNT_DISABLED, NULL),
                     APR_SUCCESS);
    assert_int_equal(igraph_store_account_tokens_update(&f->db, f->pool, &test_key, got,
                                                        "EAAJpage5", NULL, 1800000003, 1700000300),
                     APR_EBUSY);
    got = stored(f, a->id);
    assert_int_equal(got->status, IGRAPH_ACCOUNT_DISABLED);
    assert_string_equal(tok_of(f, got, IGRAPH_TOKEN_ACCESS), "EAAJpage4");
    /* not even when it was read disabled */
    assert_int_equal(igraph_store_account_tokens_update(&f->db, f->pool, &test_key, got,
                                                        "EAAJpage5", NULL, 1800000003, 1700000300),
                     APR_EBUSY);
    assert_string_equal(tok_of(f, stored(f, a->id), IGRAPH_TOKEN_ACCESS), "EAAJpage4");

    /* gone */
    upd.id = a->id + 99;
    assert_int_equal(igraph_store_account_tokens_update(&f->db, f->pool, &test_key, &upd, "EAAJx",
                                                        NULL, 1, 1800000000),
                     APR_NOTFOUND);
    assert_int_equal(test_log_errors, 0);
}

static void test_refresh_failed(void **state)
{
    fixture_t *f = *state;
    igraph_account_t *a = make_ig(f->pool, "alice", "111", 1700000000, 1705000000), *got;

    assert_int_equal(igraph_store_account_upsert(&f->db, f->pool, &test_key, a, "IGAAx", NULL),
                     APR_SUCCESS);
    assert_int_equal(
        igraph_store_account_refresh_failed(&f->db, f->pool, a->id, NULL, "first", 1700000100),
        APR_SUCCESS);
    assert_int_equal(
        igraph_store_account_refresh_failed(&f->db, f->pool, a->id, NULL, "second", 1700000300),
        APR_SUCCESS);
    got = stored(f, a->id);
    assert_int_equal(got->refresh_failures, 2);
    assert_int_equal(got->next_refresh_at, 1700000300);
    assert_string_equal(got->last_error, "second");
    assert_int_equal(got->status, IGRAPH_ACCOUNT_ACTIVE);
    assert_string_equal(tok_of(f, got, IGRAPH_TOKEN_ACCESS), "IGAAx");

    assert_int_equal(
        igraph_store_account_refresh_failed(&f->db, f->pool, a->id, &reauth, "reauth: gone", 0),
        APR_SUCCESS);
    got = stored(f, a->id);
    assert_int_equal(got->refresh_failures, 3);
    assert_int_equal(got->next_refresh_at, 0);
    assert_int_equal(got->status, IGRAPH_ACCOUNT_NEEDS_REAUTH);

    /* a new login resets the counters */
    a = make_ig(f->pool, "alice", "111", 1700001000, 1706000000);
    assert_int_equal(igraph_store_account_upsert(&f->db, f->pool, &test_key, a, "IGAAy", NULL),
                     APR_SUCCESS);
    got = stored(f, a->id);
    assert_int_equal(got->refresh_failures, 0);
    assert_int_equal(got->next_refresh_at, 0);
    assert_int_equal(got->status, IGRAPH_ACCOUNT_ACTIVE);

    assert_int_equal(igraph_store_account_refresh_failed(&f->db, f->pool, a->id + 5, NULL, "x", 0),
                     APR_NOTFOUND);
    assert_int_equal(test_log_errors, 0);
}

/* ---- igraph_refresh_account end to end ------------------------------------------------------ */

static igraph_graph_t *local_graph(const test_server_t *s, apr_pool_t *p)
{
    igraph_graph_t *g = test_graph_app(p);
    const char *base = s ? test_server_url(s, "") : "http://127.0.0.1:1";

    g->fb_graph_base = base;
    g->ig_api_base = base;
    g->ig_graph_base = base;
    g->timeout_ms = 5000;
    return g;
}

static void ctx_init(igraph_refresh_ctx_t *ctx, fixture_t *f, const igraph_graph_t *g)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->g = g;
    ctx->db = &f->db;
    ctx->key = &test_key;
    ctx->now = igraph_now();
    ctx->window = 30 * DAY;
    ctx->retry_base = 60;
    ctx->retry_cap = 6 * 3600;
}

static igraph_account_t *add_ig(fixture_t *f, apr_int64_t now, const char *token)
{
    igraph_account_t *a =
        make_ig(f->pool, "alice", "17841400000000009", now - 40 * DAY, now + 5 * DAY);

    assert_int_equal(igraph_store_account_upsert(&f->db, f->pool, &test_key, a, token, NULL),
                     APR_SUCCESS);
    return stored(f, a->id);
}

static igraph_account_t *add_fb(fixture_t *f, apr_int64_t now, apr_int64_t issued)
{
    igraph_account_t *a = make_fb(f->pool, "alice", issued, now + 5 * DAY);

    assert_int_equal(
        igraph_store_account_upsert(&f->db, f->pool, &test_key, a, "EAAJoldpage", "EAAJolduser"),
        APR_SUCCESS);
    return stored(f, a->id);
}

static void test_refresh_ig_success(void **state)
{
    fixture_t *f = *state;
    igraph_refresh_ctx_t ctx;
    igraph_account_t *a, *got;
    const char *detail;
    test_server_t s = {0};

    test_server_listen(&s, f->pool);
    s.resp[0] = test_http_resp(f->pool, "200 OK", NULL,
                               "{\"access_token\":\"IGAAnewtoken\",\"token_type\":\"bearer\","
                               "\"expires_in\":5184000}");
    s.nresp = 1;
    test_server_run(&s);
    ctx_init(&ctx, f, local_graph(&s, f->pool));
    a = add_ig(f, ctx.now, "IGAAoldtoken");
    /* earlier failures are forgotten on success */
    assert_int_equal(igraph_store_account_refresh_failed(&f->db, f->pool, a->id, NULL,
                                                         "transport: timeout", ctx.now - 1),
                     APR_SUCCESS);
    a = stored(f, a->id);

    assert_int_equal(igraph_refresh_account(&ctx, f->pool, a, &detail), IGRAPH_REFRESHED);
    test_server_stop(&s);
    assert_non_null(strstr(detail, "token refreshed"));
    assert_int_equal(s.nreq, 1);
    assert_string_equal(test_req_line(&s, 0),
                        "GET /refresh_access_token?grant_type=ig_refresh_token"
                        "&access_token=IGAAoldtoken HTTP/1.1");

    got = stored(f, a->id);
    assert_string_equal(tok_of(f, got, IGRAPH_TOKEN_ACCESS), "IGAAnewtoken");
    assert_null(tok_of(f, got, IGRAPH_TOKEN_USER));
    assert_int_equal(got->token_expires_at, ctx.now + 5184000);
    assert_int_equal(got->token_issued_at, ctx.now);
    assert_int_equal(got->refresh_failures, 0);
    assert_int_equal(got->next_refresh_at, 0);
    assert_null(got->last_error);
    assert_int_equal(got->status, IGRAPH_ACCOUNT_ACTIVE);
    assert_string_equal(got->username, a->username);
    assert_non_null(strstr(test_log_buf, "IG0501:"));
    assert_logs_clean();

    /* now it is young and outside the window: nothing to do, no request */
    assert_int_equal(igraph_refresh_account(&ctx, f->pool, got, &detail), IGRAPH_REFRESH_NOT_DUE);
    ctx.force = 1;
    assert_int_equal(igraph_refresh_account(&ctx, f->pool, got, &detail), IGRAPH_REFRESH_NOT_DUE);
    assert_non_null(strstr(detail, "24 hours"));
    assert_int_equal(test_log_errors, 0);
}

static void test_refresh_ig_no_expires_in(void **state)
{
    fixture_t *f = *state;
    igraph_refresh_ctx_t ctx;
    igraph_account_t *a;
    test_server_t s = {0};

    test_server_listen(&s, f->pool);
    s.resp[0] = test_http_resp(f->pool, "200 OK", NULL, "{\"access_token\":\"IGAAnew2\"}");
    s.nresp = 1;
    test_server_run(&s);
    ctx_init(&ctx, f, local_graph(&s, f->pool));
    a = add_ig(f, ctx.now, "IGAAold2");
    assert_int_equal(igraph_refresh_account(&ctx, f->pool, a, NULL), IGRAPH_REFRESHED);
    test_server_stop(&s);
    a = stored(f, a->id);
    assert_int_equal(a->token_expires_at, ctx.now + 60 * DAY);
}

static void test_refresh_ig_reauth(void **state)
{
    fixture_t *f = *state;
    igraph_refresh_ctx_t ctx;
    igraph_account_t *a, *got;
    apr_array_header_t *due;
    const char *detail;
    test_server_t s = {0};

    test_server_listen(&s, f->pool);
    s.resp[0] =
        test_http_resp(f->pool, "400 Bad Request", NULL,
                       "{\"error\":{\"message\":\"Error validating access token: Session has "
                       "expired.\",\"type\":\"OAuthException\",\"code\":190,"
                       "\"error_subcode\":463,\"fbtrace_id\":\"Ab1\"}}");
    s.nresp = 1;
    test_server_run(&s);
    ctx_init(&ctx, f, local_graph(&s, f->pool));
    a = add_ig(f, ctx.now, "IGAAoldtoken");

    assert_int_equal(igraph_refresh_account(&ctx, f->pool, a, &detail), IGRAPH_REFRESH_REAUTH);
    test_server_stop(&s);
    got = stored(f, a->id);
    assert_int_equal(got->status, IGRAPH_ACCOUNT_NEEDS_REAUTH);
    assert_non_null(got->last_error);
    assert_string_equal(detail, got->last_error);
    assert_non_null(strstr(got->last_error, "reauth"));
    assert_non_null(strstr(got->last_error, "Session has expired"));
    assert_non_null(strstr(got->last_error, "(code 190/463)"));
    assert_int_equal(got->next_refresh_at, 0);
    assert_int_equal(got->refresh_failures, 1);
    assert_string_equal(tok_of(f, got, IGRAPH_TOKEN_ACCESS), "IGAAoldtoken");
    /* not retried: the due-query no longer offers it */
    assert_int_equal(
        igraph_store_accounts_due(&f->db, f->pool, NULL, ctx.now + 7 * DAY, ctx.window, 10, &due),
        APR_SUCCESS);
    assert_int_equal(due->nelts, 0);
    assert_non_null(strstr(test_log_buf, "IG0502:"));
    assert_logs_clean();
    assert_int_equal(test_log_errors, 0);
}

static void test_refresh_ig_server_error(void **state)
{
    fixture_t *f = *state;
    igraph_refresh_ctx_t ctx;
    igraph_account_t *a, *got;
    apr_array_header_t *due;
    const char *detail;
    test_server_t s = {0};

    test_server_listen(&s, f->pool);
    s.resp[0] = "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/html\r\n"
                "Content-Length: 13\r\nConnection: close\r\n\r\n<h1>oops</h1>";
    s.resp[1] = test_http_resp(f->pool, "429 Too Many Requests", "Retry-After: 7200\r\n",
                               "{\"error\":{\"message\":\"limit\",\"code\":4}}");
    s.nresp = 2;
    test_server_run(&s);
    ctx_init(&ctx, f, local_graph(&s, f->pool));
    a = add_ig(f, ctx.now, "IGAAoldtoken");

    assert_int_equal(igraph_refresh_account(&ctx, f->pool, a, &detail), IGRAPH_REFRESH_RETRY);
    got = stored(f, a->id);
    assert_int_equal(got->status, IGRAPH_ACCOUNT_ACTIVE);
    assert_int_equal(got->refresh_failures, 1);
    /* first retry: base 60 with jitter in [0.5, 1.5) */
    assert_true(got->next_refresh_at >= ctx.now + 30);
    assert_true(got->next_refresh_at < ctx.now + 90);
    assert_non_null(strstr(got->last_error, "server"));
    assert_non_null(strstr(got->last_error, "HTTP 500"));
    assert_string_equal(tok_of(f, got, IGRAPH_TOKEN_ACCESS), "IGAAoldtoken");
    assert_int_equal(got->token_expires_at, a->token_expires_at);
    assert_non_null(strstr(test_log_buf, "IG0504:"));
    /* hidden from the due-query until then */
    assert_int_equal(
        igraph_store_accounts_due(&f->db, f->pool, NULL, ctx.now, ctx.window, 10, &due),
        APR_SUCCESS);
    assert_int_equal(due->nelts, 0);
    assert_int_equal(igraph_store_accounts_due(&f->db, f->pool, NULL, got->next_refresh_at,
                                               ctx.window, 10, &due),
                     APR_SUCCESS);
    assert_int_equal(due->nelts, 1);

    /* second failure: a rate limit whose Retry-After is longer than the backoff wins */
    assert_int_equal(igraph_refresh_account(&ctx, f->pool, got, &detail), IGRAPH_REFRESH_RETRY);
    test_server_stop(&s);
    got = stored(f, a->id);
    assert_int_equal(got->refresh_failures, 2);
    assert_int_equal(got->next_refresh_at, ctx.now + 7200);
    assert_non_null(strstr(got->last_error, "rate_limit"));
    assert_non_null(strstr(got->last_error, "(code 4/0)"));
    assert_logs_clean();
    assert_int_equal(test_log_errors, 0);
}

static void test_refresh_ig_transport(void **state)
{
    fixture_t *f = *state;
    igraph_refresh_ctx_t ctx;
    igraph_account_t *a, *got;
    const char *detail;
    igraph_graph_t *g;

    /* nothing listening: connection refused */
    g = local_graph(NULL, f->pool);
    g->ig_graph_base = apr_psprintf(f->pool, "http://127.0.0.1:%d", test_unused_port());
    ctx_init(&ctx, f, g);
    a = add_ig(f, ctx.now, "IGAAoldtoken");
    assert_int_equal(igraph_refresh_account(&ctx, f->pool, a, &detail), IGRAPH_REFRESH_RETRY);
    got = stored(f, a->id);
    assert_non_null(strstr(got->last_error, "transport"));
    assert_null(strstr(got->last_error, "(code"));
    assert_true(got->next_refresh_at > ctx.now);
    assert_logs_clean();
}

static const char *pages_body(apr_pool_t *p, const char *next, const char *entries)
{
    return next ? apr_psprintf(p, "{\"data\":[%s],\"paging\":{\"next\":\"%s\"}}", entries, next)
                : apr_psprintf(p, "{\"data\":[%s]}", entries);
}

#define OTHER_PAGE                                                                                 \
    "{\"id\":\"108000000000002\",\"name\":\"Side Project\",\"access_token\":\"EAAJother\","        \
    "\"tasks\":[\"ANALYZE\"]}"

static void test_refresh_fb_success(void **state)
{
    fixture_t *f = *state;
    igraph_refresh_ctx_t ctx;
    igraph_account_t *a, *got;
    const char *detail;
    test_server_t s = {0};

    test_server_listen(&s, f->pool);
    s.resp[0] = test_http_resp(f->pool, "200 OK", NULL,
                               "{\"access_token\":\"EAAJnewuser\",\"token_type\":\"bearer\","
                               "\"expires_in\":5183944}");
    /* the Page is on the second page of /me/accounts */
    s.resp[1] = test_http_resp(
        f->pool, "200 OK", NULL,
        pages_body(f->pool, test_server_url(&s, "/v26.0/10100000000000/accounts?after=c1"),
                   OTHER_PAGE));
    s.resp[2] = test_http_resp(
        f->pool, "200 OK", NULL,
        pages_body(f->pool, NULL,
                   "{\"id\":\"108000000000001\",\"name\":\"Acme Bakery Page\","
                   "\"access_token\":\"EAAJnewpage\",\"tasks\":[\"MANAGE\",\"CREATE_CONTENT\"],"
                   "\"instagram_business_account\":{\"id\":\"17841400000000001\","
                   "\"username\":\"acme.bakery.new\"}}"));
    s.nresp = 3;
    test_server_run(&s);
    ctx_init(&ctx, f, local_graph(&s, f->pool));
    a = add_fb(f, ctx.now, ctx.now - 3600); /* young: no 24 h rule on Facebook */

    assert_int_equal(igraph_refresh_account(&ctx, f->pool, a, &detail), IGRAPH_REFRESHED);
    test_server_stop(&s);
    assert_int_equal(s.nreq, 3);
    assert_non_null(strstr(test_req_line(&s, 0), "GET /v26.0/oauth/access_token?grant_type="
                                                 "fb_exchange_token&client_id=1234567890123456"
                                                 "&client_secret=fb-app-secret"
                                                 "&fb_exchange_token=EAAJolduser HTTP/1.1"));
    assert_non_null(strstr(test_req_line(&s, 1), "GET /v26.0/me/accounts?fields="));
    /* the new user token lists the Pages */
    assert_non_null(strstr(s.req[1], "\r\nAuthorization: Bearer EAAJnewuser\r\n"));
    assert_non_null(strstr(test_req_line(&s, 2), "GET /v26.0/10100000000000/accounts?after=c1"));

    got = stored(f, a->id);
    assert_string_equal(tok_of(f, got, IGRAPH_TOKEN_ACCESS), "EAAJnewpage");
    assert_string_equal(tok_of(f, got, IGRAPH_TOKEN_USER), "EAAJnewuser");
    assert_int_equal(got->token_expires_at, ctx.now + 5183944);
    assert_int_equal(got->token_issued_at, ctx.now);
    assert_string_equal(got->username, "acme.bakery.new");
    assert_string_equal(got->name, "Acme Bakery");
    assert_string_equal(got->page_name, "Acme Bakery Page");
    assert_int_equal(got->status, IGRAPH_ACCOUNT_ACTIVE);
    assert_logs_clean();
    assert_int_equal(test_log_errors, 0);
}

static void test_refresh_fb_page_missing(void **state)
{
    fixture_t *f = *state;
    igraph_refresh_ctx_t ctx;
    igraph_account_t *a, *got;
    const char *detail;
    test_server_t s = {0};

    test_server_listen(&s, f->pool);
    s.resp[0] = test_http_resp(f->pool, "200 OK", NULL,
                               "{\"access_token\":\"EAAJnewuser\",\"expires_in\":5183944}");
    s.resp[1] = test_http_resp(f->pool, "200 OK", NULL, pages_body(f->pool, NULL, OTHER_PAGE));
    /* second run: the Page is there but no longer linked to the Instagram account */
    s.resp[2] = s.resp[0];
    s.resp[3] =
        test_http_resp(f->pool, "200 OK", NULL,
                       pages_body(f->pool, NULL,
                                  "{\"id\":\"108000000000001\",\"name\":\"Acme Bakery Page\","
                                  "\"access_token\":\"EAAJnewpage\",\"tasks\":[\"MANAGE\"]}"));
    s.nresp = 4;
    test_server_run(&s);
    ctx_init(&ctx, f, local_graph(&s, f->pool));
    a = add_fb(f, ctx.now, ctx.now - 40 * DAY);

    assert_int_equal(igraph_refresh_account(&ctx, f->pool, a, &detail), IGRAPH_REFRESH_REAUTH);
    got = stored(f, a->id);
    assert_int_equal(got->status, IGRAPH_ACCOUNT_NEEDS_REAUTH);
    assert_string_equal(got->last_error,
                        "the Facebook Page Acme Bakery Page is no longer accessible with this "
                        "login");
    assert_int_equal(got->next_refresh_at, 0);
    /* nothing stored */
    assert_string_equal(tok_of(f, got, IGRAPH_TOKEN_ACCESS), "EAAJoldpage");
    assert_string_equal(tok_of(f, got, IGRAPH_TOKEN_USER), "EAAJolduser");
    assert_int_equal(got->token_expires_at, a->token_expires_at);

    ctx.force = 1;
    assert_int_equal(igraph_refresh_account(&ctx, f->pool, got, &detail), IGRAPH_REFRESH_REAUTH);
    test_server_stop(&s);
    got = stored(f, a->id);
    assert_string_equal(got->last_error,
                        "the Page Acme Bakery Page is no longer linked to @acme.bakery");
    assert_string_equal(tok_of(f, got, IGRAPH_TOKEN_ACCESS), "EAAJoldpage");
    assert_logs_clean();
    assert_int_equal(test_log_errors, 0);
}

static void test_refresh_fb_stale(void **state)
{
    fixture_t *f = *state;
    igraph_refresh_ctx_t ctx;
    igraph_account_t *a, *got;
    const char *detail;
    test_server_t s = {0};

    test_server_listen(&s, f->pool);
    s.resp[0] = test_http_resp(f->pool, "200 OK", NULL,
                               "{\"access_token\":\"EAAJnewuser\",\"expires_in\":5183944}");
    s.resp[1] =
        test_http_resp(f->pool, "200 OK", NULL,
                       pages_body(f->pool, NULL,
                                  "{\"id\":\"108000000000001\",\"name\":\"Acme Bakery Page\","
                                  "\"access_token\":\"EAAJnewpage\",\"instagram_business_account\":"
                                  "{\"id\":\"17841400000000001\"}}"));
    s.nresp = 2;
    test_server_run(&s);
    ctx_init(&ctx, f, local_graph(&s, f->pool));
    /* the user reconnected after this tick started: a newer token is stored */
    a = add_fb(f, ctx.now, ctx.now + 30);

    assert_int_equal(igraph_refresh_account(&ctx, f->pool, a, &detail), IGRAPH_REFRESH_STALE);
    test_server_stop(&s);
    got = stored(f, a->id);
    assert_string_equal(tok_of(f, got, IGRAPH_TOKEN_ACCESS), "EAAJoldpage");
    assert_string_equal(tok_of(f, got, IGRAPH_TOKEN_USER), "EAAJolduser");
    assert_int_equal(got->token_issued_at, ctx.now + 30);
    assert_logs_clean();
    assert_int_equal(test_log_errors, 0);
}

/* Cases decided without any request (the Graph base points at a closed port). */
static void test_refresh_offline(void **state)
{
    fixture_t *f = *state;
    igraph_refresh_ctx_t ctx;
    igraph_account_t *a, *got;
    const char *detail;

    ctx_init(&ctx, f, local_graph(NULL, f->pool));

    /* expired: reconnect needed, with the date */
    a = make_ig(f->pool, "alice", "1", ctx.now - 70 * DAY, 1800000000);
    assert_int_equal(igraph_store_account_upsert(&f->db, f->pool, &test_key, a, "IGAAa", NULL),
                     APR_SUCCESS);
    ctx.now = 1800000000 + 5;
    assert_int_equal(igraph_refresh_account(&ctx, f->pool, stored(f, a->id), &detail),
                     IGRAPH_REFRESH_REAUTH);
    got = stored(f, a->id);
    assert_int_equal(got->status, IGRAPH_ACCOUNT_NEEDS_REAUTH);
    assert_string_equal(got->last_error,
                        "token expired on 2027-01-15T08:00:00Z; reconnect the account");
    assert_string_equal(detail, got->last_error);
    ctx.now = igraph_now();

    /* too young (Instagram): nothing recorded */
    a = make_ig(f->pool, "alice", "2", ctx.now - 3600, ctx.now + 2 * DAY);
    assert_int_equal(igraph_store_account_upsert(&f->db, f->pool, &test_key, a, "IGAAb", NULL),
                     APR_SUCCESS);
    assert_int_equal(igraph_refresh_account(&ctx, f->pool, stored(f, a->id), &detail),
                     IGRAPH_REFRESH_NOT_DUE);
    got = stored(f, a->id);
    assert_int_equal(got->refresh_failures, 0);
    assert_int_equal(got->next_refresh_at, 0);
    assert_null(got->last_error);

    /* outside the window / never expires */
    a = make_ig(f->pool, "alice", "3", ctx.now - 3 * DAY, ctx.now + 50 * DAY);
    assert_int_equal(igraph_refresh_account(&ctx, f->pool, a, &detail), IGRAPH_REFRESH_NOT_DUE);
    a->token_expires_at = 0;
    assert_int_equal(igraph_refresh_account(&ctx, f->pool, a, &detail), IGRAPH_REFRESH_NOT_DUE);

    /* Facebook without a user token */
    a = make_fb(f->pool, "bob", ctx.now - 40 * DAY, ctx.now + 5 * DAY);
    assert_int_equal(igraph_store_account_upsert(&f->db, f->pool, &test_key, a, "EAAJp", NULL),
                     APR_SUCCESS);
    assert_int_equal(igraph_refresh_account(&ctx, f->pool, stored(f, a->id), &detail),
                     IGRAPH_REFRESH_REAUTH);
    got = stored(f, a->id);
    assert_int_equal(got->status, IGRAPH_ACCOUNT_NEEDS_REAUTH);
    assert_non_null(strstr(got->last_error, "no user token stored"));

    /* a token sealed under another key (key file replaced) */
    a = make_ig(f->pool, "carol", "4", ctx.now - 40 * DAY, ctx.now + 5 * DAY);
    assert_int_equal(igraph_store_account_upsert(&f->db, f->pool, &g_other_key, a, "IGAAc", NULL),
                     APR_SUCCESS);
    assert_int_equal(igraph_refresh_account(&ctx, f->pool, stored(f, a->id), &detail),
                     IGRAPH_REFRESH_REAUTH);
    got = stored(f, a->id);
    assert_int_equal(got->status, IGRAPH_ACCOUNT_NEEDS_REAUTH);
    assert_non_null(strstr(got->last_error, "stored token unreadable"));
    assert_int_equal(got->next_refresh_at, 0);

    assert_logs_clean();
    assert_int_equal(test_log_errors, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decide),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_is_fatal),
        cmocka_unit_test_setup_teardown(test_migrate_v1, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_lease, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_claim, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_accounts_due, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_accounts_due_by_realm, test_db_setup,
                                        test_db_teardown),
        cmocka_unit_test_setup_teardown(test_tokens_update, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_refresh_failed, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_refresh_ig_success, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_refresh_ig_no_expires_in, test_db_setup,
                                        test_db_teardown),
        cmocka_unit_test_setup_teardown(test_refresh_ig_reauth, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_refresh_ig_server_error, test_db_setup,
                                        test_db_teardown),
        cmocka_unit_test_setup_teardown(test_refresh_ig_transport, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_refresh_fb_success, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_refresh_fb_page_missing, test_db_setup,
                                        test_db_teardown),
        cmocka_unit_test_setup_teardown(test_refresh_fb_stale, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_refresh_offline, test_db_setup, test_db_teardown),
    };
    int failed;

    if (test_init() != 0 || test_db_init("test_refresh", NULL) != 0) {
        return 1;
    }
    igraph_http_global_init(NULL);
    test_log_capture(IGRAPH_LOG_DEBUG, "TEST_REFRESH_VERBOSE");
    failed = cmocka_run_group_tests(tests, NULL, NULL);
    igraph_http_global_cleanup();
    test_done();
    return failed;
}
