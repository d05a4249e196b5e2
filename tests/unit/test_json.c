/* test_json.c: unit tests for igraph_json.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "igraph_json.h"
#include "support.h"

static igraph_json_t *parse_ok(apr_pool_t *p, const char *s)
{
    igraph_json_t *j = NULL;
    const char *err = "unset";

    if (igraph_json_parse(&j, p, s, strlen(s), &err) != APR_SUCCESS) {
        fail_msg("parse failed: %s (input %s)", err ? err : "?", s);
    }
    assert_null(err);
    assert_non_null(j);
    return j;
}

static void parse_bad(apr_pool_t *p, const char *s, apr_size_t len)
{
    igraph_json_t *j = (igraph_json_t *)1;
    const char *err = NULL;

    if (igraph_json_parse(&j, p, s, len, &err) != APR_EINVAL) {
        fail_msg("accepted: %.*s", (int)len, s);
    }
    assert_null(j);
    assert_non_null(err);
}

struct piece_buf {
    char buf[256];
    apr_size_t len;
    int fail_after; /* 0: never */
    int calls;
};

static int collect_piece(const char *s, apr_size_t n, void *baton)
{
    struct piece_buf *b = baton;
    b->calls++;
    if (b->fail_after && b->calls >= b->fail_after) {
        return 1;
    }
    assert_true(b->len + n < sizeof(b->buf));
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
    return 0;
}

static void test_parse_paths(void **state)
{
    apr_pool_t *p = *state;
    igraph_json_t *j, *e, *arr;
    int found = -1;

    j = parse_ok(p,
                 "{\"error\":{\"message\":\"Invalid token\",\"code\":190,\"is_transient\":false},"
                 "\"data\":[{\"id\":\"1\"},{\"id\":\"2\"}],\"ok\":true,\"n\":null,"
                 "\"r\":3.0,\"r2\":3.5,\"s\":\"123\",\"bs\":\"true\",\"bi\":1}");
    assert_true(igraph_json_is_object(j));
    assert_false(igraph_json_is_array(j));
    assert_string_equal(igraph_json_gets(j, "error", "message", NULL), "Invalid token");
    assert_null(igraph_json_gets(j, "error", "code", NULL));
    assert_null(igraph_json_gets(j, "error", "nope", NULL));
    assert_null(igraph_json_gets(j, "error", "message", "deeper", NULL));
    assert_int_equal(igraph_json_getl(j, &found, "error", "code", NULL), 190);
    assert_int_equal(found, 1);
    assert_int_equal(igraph_json_getl(j, &found, "r", NULL), 3);
    assert_int_equal(found, 1);
    assert_int_equal(igraph_json_getl(j, &found, "r2", NULL), 0);
    assert_int_equal(found, 0);
    assert_int_equal(igraph_json_getl(j, &found, "s", NULL), 123);
    assert_int_equal(found, 1);
    assert_int_equal(igraph_json_getl(j, &found, "missing", NULL), 0);
    assert_int_equal(found, 0);
    assert_int_equal(igraph_json_getl(j, NULL, "error", "message", NULL), 0);
    assert_false(igraph_json_getb(j, 1, "error", "is_transient", NULL));
    assert_true(igraph_json_getb(j, 0, "ok", NULL));
    assert_true(igraph_json_getb(j, 0, "bs", NULL));
    assert_true(igraph_json_getb(j, 0, "bi", NULL));
    assert_int_equal(igraph_json_getb(j, 7, "missing", NULL), 7);
    assert_int_equal(igraph_json_getb(j, 7, "s", NULL), 7);
    assert_true(igraph_json_has(j, "n", NULL));
    assert_true(igraph_json_has(j, "error", "code", NULL));
    assert_false(igraph_json_has(j, "nope", NULL));

    arr = igraph_json_getj(p, j, "data", NULL);
    assert_true(igraph_json_is_array(arr));
    assert_int_equal(igraph_json_array_size(arr), 2);
    e = igraph_json_array_at(p, arr, 1);
    assert_string_equal(igraph_json_gets(e, "id", NULL), "2");
    assert_null(igraph_json_array_at(p, arr, 2));
    assert_null(igraph_json_array_at(p, j, 0));
    assert_int_equal(igraph_json_array_size(j), 0);
    assert_null(igraph_json_getj(p, j, "nope", NULL));
    /* NULL handles are tolerated everywhere. */
    assert_null(igraph_json_gets(NULL, "a", NULL));
    assert_false(igraph_json_has(NULL, NULL));
    assert_int_equal(igraph_json_array_size(NULL), 0);
}

static void test_big_ids(void **state)
{
    apr_pool_t *p = *state;
    igraph_json_t *j, *arr;
    int found = 0;

    j = parse_ok(p, "{\"id\":17841400000000001,\"ig\":27640875392278831,"
                    "\"huge\":12345678901234567890,\"neg\":-17841400000000001,"
                    "\"small\":5183944,\"expires_in\":5183944,\"fifteen\":123456789012345,"
                    "\"real\":12345678901234567.0,\"exp\":12345678901234567e0}");
    assert_string_equal(igraph_json_get_id(p, j, "id", NULL), "17841400000000001");
    assert_string_equal(igraph_json_get_id(p, j, "ig", NULL), "27640875392278831");
    assert_string_equal(igraph_json_get_id(p, j, "huge", NULL), "12345678901234567890");
    assert_string_equal(igraph_json_get_id(p, j, "neg", NULL), "-17841400000000001");
    /* Small numbers stay integers. */
    assert_true(json_is_integer(json_object_get(igraph_json_raw(j), "expires_in")));
    assert_int_equal(igraph_json_getl(j, &found, "expires_in", NULL), 5183944);
    assert_int_equal(found, 1);
    assert_string_equal(igraph_json_get_id(p, j, "small", NULL), "5183944");
    assert_true(json_is_integer(json_object_get(igraph_json_raw(j), "fifteen")));
    /* Big but exact in int64: the tolerant getter still gives a number. */
    assert_int_equal(igraph_json_getl(j, &found, "id", NULL), 17841400000000001LL);
    assert_int_equal(found, 1);
    assert_int_equal(igraph_json_getl(j, &found, "huge", NULL), 0);
    assert_int_equal(found, 0);
    /* Numbers with fraction or exponent are left to jansson. */
    assert_true(json_is_real(json_object_get(igraph_json_raw(j), "real")));
    assert_true(json_is_real(json_object_get(igraph_json_raw(j), "exp")));
    assert_null(igraph_json_get_id(p, j, "real", NULL));

    arr = parse_ok(p, "[17841400000000001, -27640875392278831,1]");
    assert_string_equal(igraph_json_dump(p, arr),
                        "[\"17841400000000001\",\"-27640875392278831\",1]");
    j = parse_ok(p, "12345678901234567890");
    assert_string_equal(json_string_value(igraph_json_raw(j)), "12345678901234567890");
}

static void test_strings_untouched(void **state)
{
    apr_pool_t *p = *state;
    igraph_json_t *j;

    j = parse_ok(p, "{\"a\":\"a 12345678901234567 b\",\"q\":\"x\\\"12345678901234567\\\\\","
                    "\"n\":12345678901234567,\"e\":\"\\\\\",\"m\":98765432109876543,"
                    "\"br\":\"[[[{{{\"}");
    assert_string_equal(igraph_json_gets(j, "a", NULL), "a 12345678901234567 b");
    assert_string_equal(igraph_json_gets(j, "q", NULL), "x\"12345678901234567\\");
    assert_string_equal(igraph_json_gets(j, "n", NULL), "12345678901234567");
    assert_string_equal(igraph_json_gets(j, "e", NULL), "\\");
    assert_string_equal(igraph_json_gets(j, "m", NULL), "98765432109876543");
    assert_string_equal(igraph_json_gets(j, "br", NULL), "[[[{{{");
    /* A big number as a key is invalid JSON and must stay invalid. */
    parse_bad(p, "{12345678901234567:1}", 21);
    parse_bad(p, "{\"a\":1,12345678901234567:1}", 27);
    /* Leading zeros stay invalid too. */
    parse_bad(p, "[01234567890123456]", 19);
    parse_bad(p, "[\"a\" 12345678901234567]", 23);
}

static void test_depth(void **state)
{
    apr_pool_t *p = *state;
    char buf[256];
    const char *err = NULL;
    igraph_json_t *j = NULL;
    int i;

    for (i = 0; i < 32; ++i) {
        buf[i] = '[';
        buf[32 + i] = ']';
    }
    assert_int_equal(igraph_json_parse(&j, p, buf, 64, &err), APR_SUCCESS);
    for (i = 0; i < 33; ++i) {
        buf[i] = '[';
        buf[33 + i] = ']';
    }
    parse_bad(p, buf, 66);
    /* Mixed objects and arrays count alike. */
    memset(buf, 0, sizeof(buf));
    for (i = 0; i < 16; ++i) {
        strcat(buf, "{\"a\":[");
    }
    strcat(buf, "1");
    for (i = 0; i < 16; ++i) {
        strcat(buf, "]}");
    }
    parse_ok(p, buf);
    /* Brackets inside strings do not count. */
    parse_ok(p, "[\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"]");
}

static void test_invalid(void **state)
{
    apr_pool_t *p = *state;
    igraph_json_t *j;
    const char *err = NULL;

    parse_bad(p, "", 0);
    parse_bad(p, "{", 1);
    parse_bad(p, "{\"a\":", 5);
    parse_bad(p, "{\"a\":\"unterminated}", 19);
    parse_bad(p, "{\"a\":12345678901234567", 22);
    parse_bad(p, "[1,]", 4);
    parse_bad(p, "{\"a\" 1}", 7);
    parse_bad(p, "nul", 3);
    parse_bad(p, "[1] [2]", 7);
    parse_bad(p, "[\"\xc3\x28\"]", 6);
    parse_bad(p, "[\"\xed\xa0\x80\"]", 7);
    parse_bad(p, "[\"a\0b\"]", 7);
    parse_bad(p, "[-]", 3);
    /* The error never quotes the offending text (it may be a token). */
    assert_int_equal(igraph_json_parse(&j, p, "{\"t\":EAABsecret}", 16, &err), APR_EINVAL);
    assert_non_null(err);
    assert_null(strstr(err, "EAAB"));
    assert_int_equal(igraph_json_parse(&j, p, NULL, 0, NULL), APR_EINVAL);
    /* Any top-level value is accepted; callers check the type. */
    j = parse_ok(p, "\"str\"");
    assert_false(igraph_json_is_object(j));
    j = parse_ok(p, " 42 ");
    assert_int_equal(json_integer_value(igraph_json_raw(j)), 42);
    /* Duplicates are tolerated, the last wins. */
    j = parse_ok(p, "{\"a\":1,\"a\":2}");
    assert_int_equal(igraph_json_getl(j, NULL, "a", NULL), 2);
}

static void test_build_dump(void **state)
{
    apr_pool_t *p = *state;
    igraph_json_t *o, *arr, *inner;

    o = igraph_json_new_object(p);
    igraph_json_sets(o, "name", "caf\xc3\xa9 \"q\"");
    igraph_json_setl(o, "n", -5);
    igraph_json_setl(o, "big", APR_INT64_C(9007199254740993));
    igraph_json_setb(o, "t", 1);
    igraph_json_setb(o, "f", 0);
    igraph_json_setnull(o, "z");
    igraph_json_sets(o, "nullstr", NULL);
    igraph_json_sets(o, "bad", "\xff");
    arr = igraph_json_new_array(p);
    igraph_json_appends(arr, "x");
    inner = igraph_json_new_object(p);
    igraph_json_sets(inner, "k", "v");
    igraph_json_append(arr, inner);
    igraph_json_append(arr, NULL);
    igraph_json_setj(o, "arr", arr);
    assert_string_equal(igraph_json_dump(p, o),
                        "{\"name\":\"caf\xc3\xa9 \\\"q\\\"\",\"n\":-5,\"big\":9007199254740993,"
                        "\"t\":true,\"f\":false,\"z\":null,\"nullstr\":null,\"bad\":null,"
                        "\"arr\":[\"x\",{\"k\":\"v\"},null]}");
    /* Setting replaces in place. */
    igraph_json_setl(o, "n", 6);
    assert_int_equal(igraph_json_getl(o, NULL, "n", NULL), 6);
    /* Setters on a non-object are ignored. */
    igraph_json_sets(arr, "k", "v");
    igraph_json_appends(o, "v");
    assert_int_equal(igraph_json_array_size(arr), 3);
    assert_null(igraph_json_dump(p, NULL));

    /* A parsed and re-dumped document round-trips. */
    o = parse_ok(p, "{\"b\":[1,2,{\"c\":\"d\"}],\"a\":\"x\"}");
    assert_string_equal(igraph_json_dump(p, o), "{\"b\":[1,2,{\"c\":\"d\"}],\"a\":\"x\"}");

    /* written out in pieces, the same text; an output that fails stops the writer */
    {
        struct piece_buf b = {{0}, 0, 0, 0};
        assert_int_equal(igraph_json_write(o, collect_piece, &b), APR_SUCCESS);
        assert_string_equal(b.buf, "{\"b\":[1,2,{\"c\":\"d\"}],\"a\":\"x\"}");
        b.fail_after = 1;
        b.len = 0;
        b.calls = 0;
        assert_int_not_equal(igraph_json_write(o, collect_piece, &b), APR_SUCCESS);
        assert_int_equal(b.calls, 1);
        assert_int_equal(igraph_json_write(NULL, collect_piece, &b), APR_EINVAL);
    }
}

static void test_pool_lifetime(void **state)
{
    apr_pool_t *p = *state, *sub;
    igraph_json_t *o, *w;
    json_t *raw;

    o = igraph_json_new_object(p);
    igraph_json_sets(o, "k", "v");
    raw = igraph_json_raw(o);
    apr_pool_create(&sub, p);
    w = igraph_json_wrap(sub, raw);
    assert_int_equal(raw->refcount, 2);
    assert_string_equal(igraph_json_gets(w, "k", NULL), "v");
    apr_pool_destroy(sub);
    assert_int_equal(raw->refcount, 1);
    assert_null(igraph_json_wrap(p, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_parse_paths, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_big_ids, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_strings_untouched, test_pool_setup,
                                        test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_depth, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_invalid, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_build_dump, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_pool_lifetime, test_pool_setup, test_pool_teardown),
    };
    int rc;

    apr_initialize();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    apr_terminate();
    return rc;
}
