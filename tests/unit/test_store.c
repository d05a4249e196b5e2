/* test_store.c: igraph_store against a fresh SQLite file per test (plain apr_dbd, no httpd). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <apr_dbd.h>
#include <apr_general.h>
#include <apr_hash.h>
#include <apr_strings.h>

#include "igraph_crypto.h"
#include "igraph_log.h"
#include "igraph_store.h"
#include "igraph_util.h"
#include "support.h"

typedef test_fixture_t fixture_t;

static int igraph_labels(igraph_db_t *db)
{
    apr_hash_index_t *hi;
    const void *key;
    int n = 0;

    for (hi = apr_hash_first(NULL, db->prepared); hi; hi = apr_hash_next(hi)) {
        apr_hash_this(hi, &key, NULL, NULL);
        n += !strncmp(key, "igraph_", 7);
    }
    return n;
}

static igraph_account_t *make_account(apr_pool_t *p, const char *owner, const char *ig_user_id,
                                      const char *username)
{
    igraph_account_t *a = apr_pcalloc(p, sizeof(*a));

    a->login = IGRAPH_LOGIN_FACEBOOK;
    a->owner = owner;
    a->ig_user_id = ig_user_id;
    a->username = username;
    a->name = "Some Name";
    a->picture_url = "https://example.com/p.jpg";
    a->page_id = "1122334455";
    a->page_name = "A Page";
    a->app_user_id = "998877";
    a->scopes = "instagram_basic,instagram_content_publish";
    a->token_expires_at = 1900000000;
    a->token_issued_at = 1700000000;
    return a;
}

/* 1 when needle occurs in the file (missing file: 0). */
static int file_contains(const char *path, const char *needle)
{
    FILE *fp = fopen(path, "rb");
    char *buf;
    long len;
    int found = 0;

    if (!fp) {
        return 0;
    }
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    len = ftell(fp);
    assert_true(len >= 0);
    rewind(fp);
    buf = malloc((size_t)len + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)len, fp), (size_t)len);
    fclose(fp);
    found = memmem(buf, (size_t)len, needle, strlen(needle)) != NULL;
    free(buf);
    return found;
}

/* ---- tests ------------------------------------------------------------------------------ */

static void test_ready_idempotent(void **state)
{
    fixture_t *f = *state;
    int labels;

    assert_int_equal(igraph_store_ready(&f->db, f->pool), APR_SUCCESS);
    labels = igraph_labels(&f->db);
    assert_true(labels > 0);
    assert_int_equal(igraph_store_ready(&f->db, f->pool), APR_SUCCESS);
    assert_int_equal(igraph_labels(&f->db), labels);

    assert_int_equal(test_db_count(&f->db, f->pool, "SELECT MAX(version) FROM schema_migrations"),
                     IGRAPH_SCHEMA_VERSION);
    assert_int_equal(test_db_count(&f->db, f->pool, "SELECT COUNT(*) FROM schema_migrations"),
                     IGRAPH_SCHEMA_VERSION);
    assert_int_equal(
        test_db_count(&f->db, f->pool, "SELECT COUNT(*) FROM schema_migrations WHERE version = 1"),
        1);
    assert_string_equal(test_db_value(&f->db, f->pool, "PRAGMA journal_mode"), "wal");
    assert_int_equal(test_log_migrations, 1);
    assert_int_equal(test_log_errors, 0);
}

static void test_upsert_insert_update(void **state)
{
    fixture_t *f = *state;
    igraph_account_t *a = make_account(f->pool, "alice", "17841400000000001", "first_name");
    igraph_account_t *b, *got;
    apr_array_header_t *list;
    apr_int64_t id;

    assert_int_equal(igraph_store_account_upsert(&f->db, f->pool, &test_key, a, "tokA1", "tokU1"),
                     APR_SUCCESS);
    assert_true(a->id > 0);
    assert_true(a->created_at > 0);
    assert_int_equal(a->created_at, a->updated_at);
    assert_string_equal(a->platform, "meta_ig");
    id = a->id;

    assert_int_equal(igraph_store_account_set_status(&f->db, f->pool, "alice", id,
                                                     IGRAPH_ACCOUNT_NEEDS_REAUTH, "token expired"),
                     APR_SUCCESS);

    /* same (owner, platform, ig_user_id): update in place; NULL fields stay NULL */
    b = make_account(f->pool, "alice", "17841400000000001", "second_name");
    b->login = IGRAPH_LOGIN_INSTAGRAM;
    b->name = NULL;
    b->page_id = NULL;
    b->page_name = NULL;
    b->scopes = "instagram_business_basic";
    b->token_expires_at = 1950000000;
    assert_int_equal(igraph_store_account_upsert(&f->db, f->pool, &test_key, b, "tokA2", NULL),
                     APR_SUCCESS);
    assert_int_equal(b->id, id);
    assert_int_equal(b->created_at, a->created_at);

    assert_int_equal(igraph_store_account_get(&f->db, f->pool, "alice", id, &got), APR_SUCCESS);
    assert_int_equal(got->id, id);
    assert_string_equal(got->platform, "meta_ig");
    assert_int_equal(got->login, IGRAPH_LOGIN_INSTAGRAM);
    assert_string_equal(got->ig_user_id, "17841400000000001");
    assert_string_equal(got->owner, "alice");
    assert_string_equal(got->username, "second_name");
    assert_null(got->name);
    assert_null(got->page_id);
    assert_null(got->page_name);
    assert_string_equal(got->picture_url, "https://example.com/p.jpg");
    assert_string_equal(got->app_user_id, "998877");
    assert_string_equal(got->scopes, "instagram_business_basic");
    assert_int_equal(got->status, IGRAPH_ACCOUNT_ACTIVE);
    assert_null(got->last_error);
    assert_int_equal(got->token_expires_at, 1950000000);
    assert_int_equal(got->token_issued_at, 1700000000);
    assert_int_equal(got->created_at, a->created_at);
    assert_true(got->updated_at >= got->created_at);
    assert_non_null(got->access_token_enc);
    assert_null(got->user_token_enc);
    assert_string_equal(igraph_store_account_token(f->pool, &test_key, got, IGRAPH_TOKEN_ACCESS),
                        "tokA2");
    assert_null(igraph_store_account_token(f->pool, &test_key, got, IGRAPH_TOKEN_USER));

    assert_int_equal(igraph_store_accounts_list(&f->db, f->pool, "alice", &list), APR_SUCCESS);
    assert_int_equal(list->nelts, 1);
    /* a list carries no token */
    assert_null(APR_ARRAY_IDX(list, 0, igraph_account_t *)->access_token_enc);
    assert_null(APR_ARRAY_IDX(list, 0, igraph_account_t *)->user_token_enc);
    assert_int_equal(test_db_count(&f->db, f->pool, "SELECT COUNT(*) FROM accounts"), 1);
    assert_int_equal(test_log_errors, 0);
}

/* Display URLs from Meta are stored only when they are http(s) (Meta has sent javascript:). */
static void test_picture_url_only_http(void **state)
{
    fixture_t *f = *state;
    igraph_account_t *a = make_account(f->pool, "alice", "17841400000000001", "pic");
    igraph_account_t *got;

    a->picture_url = "javascript:alert(document.domain)";
    assert_int_equal(igraph_store_account_upsert(&f->db, f->pool, &test_key, a, "tokA1", NULL),
                     APR_SUCCESS);
    assert_null(a->picture_url);
    assert_null(test_db_value(&f->db, f->pool, "SELECT picture_url FROM accounts"));
    /* a refresh's profile data goes through the same rule */
    assert_int_equal(igraph_store_account_get(&f->db, f->pool, "alice", a->id, &got), APR_SUCCESS);
    got->picture_url = "https://scontent.example.invalid/pp.jpg";
    assert_int_equal(igraph_store_account_tokens_update(&f->db, f->pool, &test_key, got, "tokA2",
                                                        NULL, 1950000000, 1700000100),
                     APR_SUCCESS);
    assert_string_equal(test_db_value(&f->db, f->pool, "SELECT picture_url FROM accounts"),
                        "https://scontent.example.invalid/pp.jpg");
    got->picture_url = "data:image/svg+xml,<svg onload=alert(1)>";
    assert_int_equal(igraph_store_account_tokens_update(&f->db, f->pool, &test_key, got, "tokA3",
                                                        NULL, 1950000000, 1700000200),
                     APR_SUCCESS);
    /* NULL keeps what is stored (COALESCE): the https one stays */
    assert_string_equal(test_db_value(&f->db, f->pool, "SELECT picture_url FROM accounts"),
                        "https://scontent.example.invalid/pp.jpg");
    assert_int_equal(test_log_errors, 0);
}

static void test_owner_isolation(void **state)
{
    fixture_t *f = *state;
    igraph_account_t *a1 = make_account(f->pool, "alice", "111", "a_one");
    igraph_account_t *a2 = make_account(f->pool, "alice", "222", "a_two");
    igraph_account_t *b1 = make_account(f->pool, "bob", "111", "b_one");
    igraph_account_t *anon = make_account(f->pool, "", "333", "anon");
    igraph_account_t *got;
    apr_array_header_t *list;

    assert_int_equal(igraph_store_account_upsert(&f->db, f->pool, &test_key, a1, "t1", NULL),
                     APR_SUCCESS);
    assert_int_equal(igraph_store_account_upsert(&f->db, f->pool, &test_key, a2, "t2", NULL),
                     APR_SUCCESS);
    assert_int_equal(igraph_store_account_upsert(&f->db, f->pool, &test_key, b1, "t3", NULL),
                     APR_SUCCESS);
    assert_int_equal(igraph_store_account_upsert(&f->db, f->pool, &test_key, anon, "t4", NULL),
                     APR_SUCCESS);
    assert_true(b1->id != a1->id);
    assert_true(a2->id != a1->id);

    assert_int_equal(igraph_store_accounts_list(&f->db, f->pool, "alice", &list), APR_SUCCESS);
    assert_int_equal(list->nelts, 2);
    assert_int_equal(APR_ARRAY_IDX(list, 0, igraph_account_t *)->id, a1->id); /* oldest first */
    assert_int_equal(APR_ARRAY_IDX(list, 1, igraph_account_t *)->id, a2->id);
    assert_string_equal(APR_ARRAY_IDX(list, 0, igraph_account_t *)->owner, "alice");

    assert_int_equal(igraph_store_accounts_list(&f->db, f->pool, "bob", &list), APR_SUCCESS);
    assert_int_equal(list->nelts, 1);
    assert_string_equal(APR_ARRAY_IDX(list, 0, igraph_account_t *)->username, "b_one");

    assert_int_equal(igraph_store_accounts_list(&f->db, f->pool, "", &list), APR_SUCCESS);
    assert_int_equal(list->nelts, 1);
    assert_int_equal(igraph_store_accounts_list(&f->db, f->pool, "carol", &list), APR_SUCCESS);
    assert_int_equal(list->nelts, 0);

    assert_int_equal(igraph_store_account_get(&f->db, f->pool, "alice", b1->id, &got),
                     APR_NOTFOUND);
    assert_int_equal(igraph_store_account_get(&f->db, f->pool, "bob", b1->id, &got), APR_SUCCESS);
    assert_int_equal(igraph_store_account_get(&f->db, f->pool, "alice", 987654, &got),
                     APR_NOTFOUND);
    assert_int_equal(igraph_store_account_set_status(&f->db, f->pool, "alice", b1->id,
                                                     IGRAPH_ACCOUNT_DISABLED, NULL),
                     APR_NOTFOUND);
    assert_int_equal(igraph_store_account_delete(&f->db, f->pool, "alice", b1->id), APR_NOTFOUND);
    assert_int_equal(igraph_store_account_get(&f->db, f->pool, "bob", b1->id, &got), APR_SUCCESS);
    assert_int_equal(got->status, IGRAPH_ACCOUNT_ACTIVE);
    assert_int_equal(test_log_errors, 0);
}

static void test_set_status_delete(void **state)
{
    fixture_t *f = *state;
    igraph_account_t *a = make_account(f->pool, "alice", "555", "u");
    igraph_account_t *got;

    assert_int_equal(igraph_store_account_upsert(&f->db, f->pool, &test_key, a, "t", "u"),
                     APR_SUCCESS);
    assert_int_equal(igraph_store_account_set_status(&f->db, f->pool, "alice", a->id,
                                                     IGRAPH_ACCOUNT_NEEDS_REAUTH,
                                                     "Error validating token"),
                     APR_SUCCESS);
    assert_int_equal(igraph_store_account_get(&f->db, f->pool, "alice", a->id, &got), APR_SUCCESS);
    assert_int_equal(got->status, IGRAPH_ACCOUNT_NEEDS_REAUTH);
    assert_string_equal(got->last_error, "Error validating token");

    assert_int_equal(igraph_store_account_set_status(&f->db, f->pool, "alice", a->id,
                                                     IGRAPH_ACCOUNT_DISABLED, NULL),
                     APR_SUCCESS);
    assert_int_equal(igraph_store_account_get(&f->db, f->pool, "alice", a->id, &got), APR_SUCCESS);
    assert_int_equal(got->status, IGRAPH_ACCOUNT_DISABLED);
    assert_null(got->last_error);

    assert_int_equal(igraph_store_account_delete(&f->db, f->pool, "alice", a->id), APR_SUCCESS);
    assert_int_equal(igraph_store_account_get(&f->db, f->pool, "alice", a->id, &got), APR_NOTFOUND);
    assert_int_equal(igraph_store_account_delete(&f->db, f->pool, "alice", a->id), APR_NOTFOUND);
    assert_int_equal(igraph_store_account_set_status(&f->db, f->pool, "alice", a->id,
                                                     IGRAPH_ACCOUNT_ACTIVE, NULL),
                     APR_NOTFOUND);
    assert_int_equal(test_log_errors, 0);
}

/* The text forms, each one table: names round-trip, anything else is refused. */
static void test_account_names(void **state)
{
    static const char *const logins[] = {"facebook", "instagram"};
    static const char *const statuses[] = {"active", "needs_reauth", "disabled", "deauthorized"};
    igraph_account_status_e st = IGRAPH_ACCOUNT_DISABLED;
    igraph_login_e l = IGRAPH_LOGIN_INSTAGRAM;
    int i;

    for (i = 0; i < 2; i++) {
        assert_int_equal(igraph_login_parse(logins[i], &l), APR_SUCCESS);
        assert_int_equal(l, i);
        assert_string_equal(igraph_login_name(l), logins[i]);
    }
    assert_int_equal(IGRAPH_LOGIN_FACEBOOK, 0);
    for (i = 0; i < 4; i++) {
        assert_int_equal(igraph_account_status_parse(statuses[i], &st), APR_SUCCESS);
        assert_int_equal(st, i);
        assert_string_equal(igraph_account_status_name(st), statuses[i]);
    }
    assert_int_equal(IGRAPH_ACCOUNT_ACTIVE, 0);
    assert_string_equal(igraph_login_name((igraph_login_e)2), "unknown");
    assert_string_equal(igraph_login_name((igraph_login_e)-1), "unknown");
    assert_string_equal(igraph_account_status_name((igraph_account_status_e)4), "unknown");
    assert_string_equal(igraph_account_status_name((igraph_account_status_e)-1), "unknown");
    /* exact names only; *out untouched on failure */
    l = IGRAPH_LOGIN_INSTAGRAM;
    assert_int_equal(igraph_login_parse("Facebook", &l), APR_EINVAL);
    assert_int_equal(igraph_login_parse("facebook ", &l), APR_EINVAL);
    assert_int_equal(igraph_login_parse("", &l), APR_EINVAL);
    assert_int_equal(igraph_login_parse("unknown", &l), APR_EINVAL);
    assert_int_equal(igraph_login_parse(NULL, &l), APR_EINVAL);
    assert_int_equal(l, IGRAPH_LOGIN_INSTAGRAM);
    st = IGRAPH_ACCOUNT_DISABLED;
    assert_int_equal(igraph_account_status_parse("ACTIVE", &st), APR_EINVAL);
    assert_int_equal(igraph_account_status_parse("needs-reauth", &st), APR_EINVAL);
    assert_int_equal(igraph_account_status_parse("unknown", &st), APR_EINVAL);
    assert_int_equal(igraph_account_status_parse(NULL, &st), APR_EINVAL);
    assert_int_equal(st, IGRAPH_ACCOUNT_DISABLED);
}

/* Texts the store does not know in an account row: that row cannot be read (logged with its id)
 * instead of being guessed at, and reads again once it is repaired. */
static void test_account_unknown_names(void **state)
{
    fixture_t *f = *state;
    igraph_account_t *a = make_account(f->pool, "alice", "556", "u");
    igraph_account_t *got = NULL;
    apr_array_header_t *list;
    const char *sql;

    assert_int_equal(igraph_store_account_upsert(&f->db, f->pool, &test_key, a, "t", NULL),
                     APR_SUCCESS);
    test_db_exec(&f->db, "UPDATE accounts SET status = 'suspended'");
    assert_int_equal(igraph_store_account_get(&f->db, f->pool, "alice", a->id, &got), APR_EGENERAL);
    assert_null(got);
    assert_int_equal(test_log_errors, 1);
    assert_non_null(strstr(test_log_buf, apr_psprintf(f->pool,
                                                      "IG0314: store: account %" APR_INT64_T_FMT
                                                      ": unknown status 'suspended'",
                                                      a->id)));
    assert_int_equal(igraph_store_accounts_list(&f->db, f->pool, "alice", &list), APR_EGENERAL);
    assert_int_equal(igraph_store_account_get_any(&f->db, f->pool, a->id, &got), APR_EGENERAL);

    test_db_exec(&f->db, "UPDATE accounts SET status = 'active', login = 'Instagram'");
    assert_int_equal(igraph_store_account_get(&f->db, f->pool, "alice", a->id, &got), APR_EGENERAL);
    assert_non_null(strstr(test_log_buf, "unknown login 'Instagram'"));

    test_db_exec(&f->db, "UPDATE accounts SET login = 'instagram'");
    assert_int_equal(igraph_store_account_get(&f->db, f->pool, "alice", a->id, &got), APR_SUCCESS);
    assert_int_equal(got->login, IGRAPH_LOGIN_INSTAGRAM);
    assert_int_equal(got->status, IGRAPH_ACCOUNT_ACTIVE);

    /* and the store never writes a value outside the enums */
    assert_int_equal(igraph_store_account_set_status(&f->db, f->pool, "alice", a->id,
                                                     (igraph_account_status_e)4, NULL),
                     APR_EINVAL);
    {
        igraph_account_status_e bad = (igraph_account_status_e)-1;
        assert_int_equal(igraph_store_account_refresh_failed(&f->db, f->pool, a->id, &bad, "x", 0),
                         APR_EINVAL);
    }
    a->login = (igraph_login_e)2;
    assert_int_equal(igraph_store_account_upsert(&f->db, f->pool, &test_key, a, "t", NULL),
                     APR_EINVAL);
    assert_int_equal(
        igraph_store_state_put(&f->db, f->pool, "h", "alice", (igraph_login_e)2, igraph_now() + 60),
        APR_EINVAL);
    sql = "SELECT login || '/' || status FROM accounts";
    assert_string_equal(test_db_value(&f->db, f->pool, sql), "instagram/active");
}

static void test_tokens_at_rest(void **state)
{
    fixture_t *f = *state;
    const char *access = "EAAGplaintextACCESStoken0123456789abcdef";
    const char *user = "EAAGplaintextUSERtoken9876543210fedcba";
    igraph_account_t *a = make_account(f->pool, "alice", "17841499999999999", "visible_username");
    igraph_account_t *got;
    const char *wal;

    assert_int_equal(igraph_store_account_upsert(&f->db, f->pool, &test_key, a, access, user),
                     APR_SUCCESS);
    /* usable straight from the upserted struct and from a fresh read */
    assert_string_equal(igraph_store_account_token(f->pool, &test_key, a, IGRAPH_TOKEN_ACCESS),
                        access);
    assert_int_equal(igraph_store_account_get(&f->db, f->pool, "alice", a->id, &got), APR_SUCCESS);
    assert_string_equal(igraph_store_account_token(f->pool, &test_key, got, IGRAPH_TOKEN_ACCESS),
                        access);
    assert_string_equal(igraph_store_account_token(f->pool, &test_key, got, IGRAPH_TOKEN_USER),
                        user);
    assert_null(strstr(got->access_token_enc, access));
    assert_string_not_equal(got->access_token_enc, got->user_token_enc);

    /* another key cannot open it */
    {
        igraph_key_t other = test_key;

        other.k[0] ^= 1;
        assert_null(igraph_store_account_token(f->pool, &other, got, IGRAPH_TOKEN_ACCESS));
    }

    /* while open, the -wal file holds the latest pages */
    wal = apr_pstrcat(f->pool, f->path, "-wal", NULL);
    assert_false(file_contains(wal, access));
    assert_false(file_contains(wal, user));
    test_db_close(&f->db);
    assert_false(file_contains(f->path, access));
    assert_false(file_contains(f->path, user));
    assert_false(file_contains(wal, access));
    assert_false(file_contains(wal, user));
    /* the search itself works: non-secret fields are in the file */
    assert_true(file_contains(f->path, "visible_username") ||
                file_contains(wal, "visible_username"));
    assert_int_equal(test_log_errors, 0);
}

static void test_token_tamper(void **state)
{
    fixture_t *f = *state;
    igraph_account_t *a = make_account(f->pool, "alice", "777", "x");
    igraph_account_t *b = make_account(f->pool, "alice", "888", "y");
    igraph_account_t *got;
    char *enc;
    size_t mid;

    assert_int_equal(igraph_store_account_upsert(&f->db, f->pool, &test_key, a, "secretA", "userA"),
                     APR_SUCCESS);
    assert_int_equal(igraph_store_account_upsert(&f->db, f->pool, &test_key, b, "secretB", NULL),
                     APR_SUCCESS);

    /* flip one character of the ciphertext */
    enc = apr_pstrdup(f->pool, a->access_token_enc);
    mid = strlen(enc) / 2;
    enc[mid] = enc[mid] == 'A' ? 'B' : 'A';
    test_db_exec(&f->db,
                 apr_psprintf(f->pool, "UPDATE accounts SET access_token_enc = '%s' WHERE id = %ld",
                              enc, (long)a->id));
    assert_int_equal(igraph_store_account_get(&f->db, f->pool, "alice", a->id, &got), APR_SUCCESS);
    assert_null(igraph_store_account_token(f->pool, &test_key, got, IGRAPH_TOKEN_ACCESS));
    assert_string_equal(igraph_store_account_token(f->pool, &test_key, got, IGRAPH_TOKEN_USER),
                        "userA");

    /* a sealed value moved to another row or field does not open there */
    test_db_exec(&f->db, apr_psprintf(f->pool,
                                      "UPDATE accounts SET access_token_enc = "
                                      "(SELECT access_token_enc FROM accounts WHERE id = %ld) "
                                      "WHERE id = %ld",
                                      (long)b->id, (long)a->id));
    assert_int_equal(igraph_store_account_get(&f->db, f->pool, "alice", a->id, &got), APR_SUCCESS);
    assert_null(igraph_store_account_token(f->pool, &test_key, got, IGRAPH_TOKEN_ACCESS));
    test_db_exec(&f->db, apr_psprintf(f->pool,
                                      "UPDATE accounts SET access_token_enc = user_token_enc "
                                      "WHERE id = %ld",
                                      (long)a->id));
    assert_int_equal(igraph_store_account_get(&f->db, f->pool, "alice", a->id, &got), APR_SUCCESS);
    assert_null(igraph_store_account_token(f->pool, &test_key, got, IGRAPH_TOKEN_ACCESS));
    assert_int_equal(test_log_errors, 0);
}

static void test_state_single_use(void **state)
{
    fixture_t *f = *state;
    apr_int64_t now = igraph_now();
    igraph_login_e login = IGRAPH_LOGIN_INSTAGRAM;

    assert_int_equal(
        igraph_store_state_put(&f->db, f->pool, "hash1", "alice", IGRAPH_LOGIN_FACEBOOK, now + 300),
        APR_SUCCESS);
    /* another owner can neither take nor burn it */
    assert_int_equal(igraph_store_state_take(&f->db, f->pool, "hash1", "bob", now, &login),
                     APR_NOTFOUND);
    assert_int_equal(igraph_store_state_take(&f->db, f->pool, "hash1", "alice", now, &login),
                     APR_SUCCESS);
    assert_int_equal(login, IGRAPH_LOGIN_FACEBOOK);
    login = IGRAPH_LOGIN_INSTAGRAM;
    assert_int_equal(igraph_store_state_take(&f->db, f->pool, "hash1", "alice", now, &login),
                     APR_NOTFOUND);
    assert_int_equal(login, IGRAPH_LOGIN_INSTAGRAM); /* untouched */
    login = IGRAPH_LOGIN_FACEBOOK;
    assert_int_equal(igraph_store_state_take(&f->db, f->pool, "nosuch", "alice", now, &login),
                     APR_NOTFOUND);

    /* expired (as seen by the caller's clock) */
    assert_int_equal(
        igraph_store_state_put(&f->db, f->pool, "hash2", "", IGRAPH_LOGIN_INSTAGRAM, now + 300),
        APR_SUCCESS);
    assert_int_equal(igraph_store_state_take(&f->db, f->pool, "hash2", "", now + 301, &login),
                     APR_NOTFOUND);
    assert_int_equal(igraph_store_state_take(&f->db, f->pool, "hash2", "", now + 300, &login),
                     APR_NOTFOUND);
    assert_int_equal(igraph_store_state_take(&f->db, f->pool, "hash2", "", now + 299, &login),
                     APR_SUCCESS);
    assert_int_equal(login, IGRAPH_LOGIN_INSTAGRAM);

    /* put purges rows that have already expired */
    test_db_exec(&f->db,
                 apr_psprintf(f->pool,
                              "INSERT INTO oauth_states VALUES ('old', 'alice', 'facebook', "
                              "%ld, %ld)",
                              (long)(now - 600), (long)(now - 10)));
    assert_int_equal(test_db_count(&f->db, f->pool,
                                   "SELECT COUNT(*) FROM oauth_states WHERE state_hash = 'old'"),
                     1);
    assert_int_equal(
        igraph_store_state_put(&f->db, f->pool, "hash3", "alice", IGRAPH_LOGIN_FACEBOOK, now + 300),
        APR_SUCCESS);
    assert_int_equal(test_db_count(&f->db, f->pool,
                                   "SELECT COUNT(*) FROM oauth_states WHERE state_hash = 'old'"),
                     0);
    assert_int_equal(test_db_count(&f->db, f->pool, "SELECT COUNT(*) FROM oauth_states"), 1);
    assert_int_equal(test_log_errors, 0);

    /* a row whose login is not one we know is used up and refused (logged), never guessed */
    test_db_exec(&f->db, apr_psprintf(f->pool,
                                      "INSERT INTO oauth_states VALUES ('odd', 'alice', 'myspace', "
                                      "%ld, %ld)",
                                      (long)now, (long)(now + 300)));
    login = IGRAPH_LOGIN_INSTAGRAM;
    assert_int_equal(igraph_store_state_take(&f->db, f->pool, "odd", "alice", now, &login),
                     APR_EGENERAL);
    assert_int_equal(login, IGRAPH_LOGIN_INSTAGRAM);
    assert_int_equal(test_log_errors, 1);
    assert_non_null(
        strstr(test_log_buf, "IG0315: store: OAuth state with unknown login 'myspace'"));
    assert_int_equal(test_db_count(&f->db, f->pool,
                                   "SELECT COUNT(*) FROM oauth_states WHERE state_hash = 'odd'"),
                     0);
}

static void test_pending(void **state)
{
    fixture_t *f = *state;
    apr_int64_t now = igraph_now();
    const char *payload = "{\"user_token\":\"EAAGpendingSECRET\",\"pages\":[1,2]}";
    const char *kind = NULL, *got = NULL;
    char *enc;

    assert_int_equal(igraph_store_pending_put(&f->db, f->pool, &test_key, "pid1", "alice",
                                              "fb_pages", payload, now + 600),
                     APR_SUCCESS);
    assert_int_equal(
        igraph_store_pending_get(&f->db, f->pool, &test_key, "pid1", "alice", now, &kind, &got),
        APR_SUCCESS);
    assert_string_equal(kind, "fb_pages");
    assert_string_equal(got, payload);
    /* reading does not consume */
    assert_int_equal(
        igraph_store_pending_get(&f->db, f->pool, &test_key, "pid1", "alice", now, &kind, &got),
        APR_SUCCESS);
    assert_int_equal(
        test_db_count(&f->db, f->pool,
                      "SELECT COUNT(*) FROM oauth_pending WHERE payload_enc LIKE '%EAAG%'"),
        0);

    assert_int_equal(
        igraph_store_pending_get(&f->db, f->pool, &test_key, "pid1", "bob", now, &kind, &got),
        APR_NOTFOUND);
    assert_int_equal(igraph_store_pending_get(&f->db, f->pool, &test_key, "pid1", "alice",
                                              now + 600, &kind, &got),
                     APR_NOTFOUND);
    assert_int_equal(
        igraph_store_pending_get(&f->db, f->pool, &test_key, "nosuch", "alice", now, &kind, &got),
        APR_NOTFOUND);

    /* the payload is bound to its row: a changed kind does not open */
    test_db_exec(&f->db, "UPDATE oauth_pending SET kind = 'other' WHERE id = 'pid1'");
    assert_int_equal(
        igraph_store_pending_get(&f->db, f->pool, &test_key, "pid1", "alice", now, &kind, &got),
        APR_NOTFOUND);
    test_db_exec(&f->db, "UPDATE oauth_pending SET kind = 'fb_pages' WHERE id = 'pid1'");
    enc = apr_pstrdup(
        f->pool,
        test_db_value(&f->db, f->pool, "SELECT payload_enc FROM oauth_pending WHERE id = 'pid1'"));
    enc[strlen(enc) - 3] = enc[strlen(enc) - 3] == 'x' ? 'y' : 'x';
    test_db_exec(
        &f->db, apr_psprintf(f->pool,
                             "UPDATE oauth_pending SET payload_enc = '%s' WHERE id = 'pid1'", enc));
    assert_int_equal(
        igraph_store_pending_get(&f->db, f->pool, &test_key, "pid1", "alice", now, &kind, &got),
        APR_NOTFOUND);

    assert_int_equal(igraph_store_pending_delete(&f->db, f->pool, "pid1"), APR_SUCCESS);
    assert_int_equal(test_db_count(&f->db, f->pool, "SELECT COUNT(*) FROM oauth_pending"), 0);
    assert_int_equal(igraph_store_pending_delete(&f->db, f->pool, "pid1"), APR_SUCCESS);

    /* put purges expired rows */
    assert_int_equal(
        igraph_store_pending_put(&f->db, f->pool, &test_key, "old", "alice", "k", "x", now - 1),
        APR_SUCCESS);
    assert_int_equal(
        igraph_store_pending_put(&f->db, f->pool, &test_key, "new", "alice", "k", "y", now + 60),
        APR_SUCCESS);
    assert_int_equal(test_db_count(&f->db, f->pool, "SELECT COUNT(*) FROM oauth_pending"), 1);
    assert_int_equal(
        igraph_store_pending_get(&f->db, f->pool, &test_key, "new", "alice", now, &kind, &got),
        APR_SUCCESS);
    assert_string_equal(got, "y");
}

static void test_second_connection(void **state)
{
    fixture_t *f = *state;
    igraph_db_t db2;
    igraph_account_t *a = make_account(f->pool, "alice", "4242", "one");
    igraph_account_t *b, *got;
    apr_array_header_t *list;
    const char *applied;

    assert_int_equal(igraph_store_account_upsert(&f->db, f->pool, &test_key, a, "tok", NULL),
                     APR_SUCCESS);
    assert_int_equal(test_log_migrations, 1);
    applied = test_db_value(&f->db, f->pool, "SELECT applied_at FROM schema_migrations");
    assert_non_null(applied);

    test_db_open(f, &db2);
    assert_int_equal(igraph_labels(&db2), 0);
    assert_int_equal(igraph_store_ready(&db2, f->pool), APR_SUCCESS);
    assert_int_equal(test_log_migrations, 1); /* nothing applied again */
    assert_int_equal(test_db_count(&db2, f->pool, "SELECT COUNT(*) FROM schema_migrations"),
                     IGRAPH_SCHEMA_VERSION);
    assert_string_equal(test_db_value(&db2, f->pool, "SELECT applied_at FROM schema_migrations"),
                        applied);

    assert_int_equal(igraph_store_accounts_list(&db2, f->pool, "alice", &list), APR_SUCCESS);
    assert_int_equal(list->nelts, 1);
    got = APR_ARRAY_IDX(list, 0, igraph_account_t *);
    assert_int_equal(got->id, a->id);
    assert_int_equal(igraph_store_account_get(&db2, f->pool, "alice", a->id, &got), APR_SUCCESS);
    assert_string_equal(igraph_store_account_token(f->pool, &test_key, got, IGRAPH_TOKEN_ACCESS),
                        "tok");

    /* writes through one connection are seen by the other */
    b = make_account(f->pool, "alice", "4242", "two");
    assert_int_equal(igraph_store_account_upsert(&db2, f->pool, &test_key, b, "tok2", NULL),
                     APR_SUCCESS);
    assert_int_equal(b->id, a->id);
    assert_int_equal(igraph_store_account_get(&f->db, f->pool, "alice", a->id, &got), APR_SUCCESS);
    assert_string_equal(got->username, "two");
    assert_int_equal(igraph_store_state_put(&f->db, f->pool, "h", "alice", IGRAPH_LOGIN_FACEBOOK,
                                            igraph_now() + 60),
                     APR_SUCCESS);
    assert_int_equal(igraph_store_state_take(&db2, f->pool, "h", "alice", igraph_now(), NULL),
                     APR_SUCCESS);
    assert_int_equal(igraph_store_state_take(&f->db, f->pool, "h", "alice", igraph_now(), NULL),
                     APR_NOTFOUND);
    test_db_close(&db2);
    assert_int_equal(test_log_errors, 0);
}

static void test_big_ids(void **state)
{
    fixture_t *f = *state;
    /* 2^53 + 1, its neighbour (a double cannot tell them apart), int64 max, and beyond int64 */
    const char *ids[] = {"9007199254740993", "9007199254740992", "9223372036854775807",
                         "18446744073709551617123"};
    apr_int64_t got_ids[4];
    igraph_account_t *got;
    apr_array_header_t *list;
    size_t i;

    for (i = 0; i < 4; i++) {
        igraph_account_t *a = make_account(f->pool, "alice", ids[i], "big");

        a->app_user_id = ids[i];
        a->page_id = ids[i];
        assert_int_equal(igraph_store_account_upsert(&f->db, f->pool, &test_key, a, "t", NULL),
                         APR_SUCCESS);
        got_ids[i] = a->id;
    }
    assert_true(got_ids[0] != got_ids[1]);
    assert_int_equal(igraph_store_accounts_list(&f->db, f->pool, "alice", &list), APR_SUCCESS);
    assert_int_equal(list->nelts, 4);
    for (i = 0; i < 4; i++) {
        assert_int_equal(igraph_store_account_get(&f->db, f->pool, "alice", got_ids[i], &got),
                         APR_SUCCESS);
        assert_string_equal(got->ig_user_id, ids[i]);
        assert_string_equal(got->app_user_id, ids[i]);
        assert_string_equal(got->page_id, ids[i]);
        assert_string_equal(APR_ARRAY_IDX(list, i, igraph_account_t *)->ig_user_id, ids[i]);
        /* the token's associated data uses the exact id too */
        assert_string_equal(
            igraph_store_account_token(f->pool, &test_key, got, IGRAPH_TOKEN_ACCESS), "t");
    }
    /* large 64-bit times survive */
    {
        igraph_account_t *a = make_account(f->pool, "alice", "1", "t");

        a->token_expires_at = APR_INT64_C(9007199254740993);
        assert_int_equal(igraph_store_account_upsert(&f->db, f->pool, &test_key, a, "t", NULL),
                         APR_SUCCESS);
        assert_int_equal(igraph_store_account_get(&f->db, f->pool, "alice", a->id, &got),
                         APR_SUCCESS);
        assert_true(got->token_expires_at == APR_INT64_C(9007199254740993));
    }
    assert_int_equal(test_log_errors, 0);
}

static void test_error_drops_statements(void **state)
{
    fixture_t *f = *state;
    apr_int64_t now = igraph_now();
    const char *kind, *got;

    assert_int_equal(
        igraph_store_pending_put(&f->db, f->pool, &test_key, "dup", "alice", "k", "v", now + 60),
        APR_SUCCESS);
    assert_true(igraph_labels(&f->db) > 0);
    /* duplicate primary key: the statement fails, is logged, and the cache is dropped */
    assert_int_equal(
        igraph_store_pending_put(&f->db, f->pool, &test_key, "dup", "alice", "k", "w", now + 60),
        APR_EGENERAL);
    assert_int_equal(test_log_errors, 1);
    assert_int_equal(igraph_labels(&f->db), 0);
    /* the next call prepares again and works, without migrating again */
    assert_int_equal(
        igraph_store_pending_get(&f->db, f->pool, &test_key, "dup", "alice", now, &kind, &got),
        APR_SUCCESS);
    assert_string_equal(got, "v");
    assert_true(igraph_labels(&f->db) > 0);
    assert_int_equal(test_log_migrations, 1);
}

static void test_schema_change_elsewhere(void **state)
{
    fixture_t *f = *state;
    igraph_db_t db2;
    apr_array_header_t *list;
    apr_status_t rv;

    assert_int_equal(igraph_store_accounts_list(&f->db, f->pool, "alice", &list), APR_SUCCESS);
    /* another connection changes the schema: our cached statements may go stale */
    test_db_open(f, &db2);
    test_db_exec(&db2, "CREATE INDEX IF NOT EXISTS test_extra ON oauth_states (expires_at)");
    test_db_close(&db2);

    rv = igraph_store_accounts_list(&f->db, f->pool, "alice", &list);
    if (rv != APR_SUCCESS) {
        assert_int_equal(rv, APR_EGENERAL);
        assert_int_equal(igraph_labels(&f->db), 0);
    }
    assert_int_equal(igraph_store_accounts_list(&f->db, f->pool, "alice", &list), APR_SUCCESS);
}

/* Several processes open a fresh database at once: every ready() succeeds (BEGIN IMMEDIATE
 * plus retries), the schema is applied exactly once. */
static void test_concurrent_migration(void **state)
{
    fixture_t *f = *state;
    pid_t pids[6];
    size_t i;
    int status;

    for (i = 0; i < sizeof(pids) / sizeof(pids[0]); i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            apr_pool_t *cp;
            igraph_db_t db;
            const char *err = NULL;
            int ok;

            apr_pool_create(&cp, NULL);
            memset(&db, 0, sizeof(db));
            db.driver = test_dbd_driver;
            db.pool = cp;
            db.prepared = apr_hash_make(cp);
            ok = apr_dbd_open_ex(test_dbd_driver, cp, f->path, &db.handle, &err) == APR_SUCCESS &&
                 igraph_store_ready(&db, cp) == APR_SUCCESS &&
                 igraph_store_state_put(&db, cp, apr_psprintf(cp, "h%d", (int)getpid()), "o",
                                        IGRAPH_LOGIN_FACEBOOK, igraph_now() + 60) == APR_SUCCESS;
            if (db.handle) {
                apr_dbd_close(test_dbd_driver, db.handle);
            }
            _exit(ok ? 0 : 1);
        }
    }
    for (i = 0; i < sizeof(pids) / sizeof(pids[0]); i++) {
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    assert_int_equal(igraph_store_ready(&f->db, f->pool), APR_SUCCESS);
    assert_int_equal(test_db_count(&f->db, f->pool, "SELECT COUNT(*) FROM schema_migrations"),
                     IGRAPH_SCHEMA_VERSION);
    assert_int_equal(test_db_count(&f->db, f->pool, "SELECT COUNT(*) FROM oauth_states"), 6);
}

/* SQLite's plan for sql, its details joined with " | ". */
static const char *query_plan(fixture_t *f, const char *sql)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    const char *plan = "";

    assert_int_equal(apr_dbd_select(f->db.driver, f->pool, f->db.handle, &res,
                                    apr_pstrcat(f->pool, "EXPLAIN QUERY PLAN ", sql, NULL), 0),
                     0);
    while (apr_dbd_get_row(f->db.driver, f->pool, res, &row, -1) == 0) {
        plan = apr_pstrcat(f->pool, plan, apr_dbd_get_entry(f->db.driver, row, 3), " | ", NULL);
    }
    return plan;
}

/* The reads every request makes use indexes: an owner's accounts in order without a sort (the
 * page, the API, the publish account pick), the quota count as a 24-hour range. */
static void test_hot_reads_use_indexes(void **state)
{
    fixture_t *f = *state;
    const char *plan;

    if (test_dbd_params) {
        skip(); /* SQLite's plans */
    }
    assert_int_equal(igraph_store_ready(&f->db, f->pool), APR_SUCCESS);
    plan = query_plan(f, "SELECT id FROM accounts WHERE owner = 'a' AND status = 'active' "
                         "ORDER BY created_at, id");
    assert_non_null(strstr(plan, "accounts_owner_created"));
    assert_null(strstr(plan, "TEMP B-TREE"));
    plan = query_plan(f, "SELECT COUNT(*) FROM jobs WHERE account_id = 1 AND status = "
                         "'published' AND updated_at >= 5");
    assert_non_null(strstr(plan, "jobs_account_status_updated"));
    assert_non_null(strstr(plan, "updated_at>?"));
}

static void test_bad_arguments(void **state)
{
    fixture_t *f = *state;
    igraph_account_t *a = make_account(f->pool, "alice", "1", "x");
    igraph_db_t empty;

    a->ig_user_id = NULL;
    assert_int_equal(igraph_store_account_upsert(&f->db, f->pool, &test_key, a, "t", NULL),
                     APR_EINVAL);
    memset(&empty, 0, sizeof(empty));
    assert_int_equal(igraph_store_ready(&empty, f->pool), APR_EINVAL);
    assert_null(igraph_store_account_token(f->pool, &test_key, NULL, IGRAPH_TOKEN_ACCESS));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ready_idempotent, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_upsert_insert_update, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_picture_url_only_http, test_db_setup,
                                        test_db_teardown),
        cmocka_unit_test_setup_teardown(test_owner_isolation, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_set_status_delete, test_db_setup, test_db_teardown),
        cmocka_unit_test(test_account_names),
        cmocka_unit_test_setup_teardown(test_account_unknown_names, test_db_setup,
                                        test_db_teardown),
        cmocka_unit_test_setup_teardown(test_tokens_at_rest, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_token_tamper, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_state_single_use, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_pending, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_second_connection, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_big_ids, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_error_drops_statements, test_db_setup,
                                        test_db_teardown),
        cmocka_unit_test_setup_teardown(test_schema_change_elsewhere, test_db_setup,
                                        test_db_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_migration, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_hot_reads_use_indexes, test_db_setup,
                                        test_db_teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, test_db_setup, test_db_teardown),
    };
    int failed;

    if (test_init() != 0 || test_db_init("test_store", NULL) != 0) {
        return 1;
    }
    test_log_capture(IGRAPH_LOG_DEBUG, "TEST_STORE_VERBOSE");
    failed = cmocka_run_group_tests(tests, NULL, NULL);
    test_done();
    return failed;
}
