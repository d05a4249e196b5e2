/* test_util.c: unit tests for igraph_util.c and igraph_log.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "igraph_log.h"
#include "igraph_util.h"
#include "support.h"

static void test_duration_valid(void **state)
{
    apr_int64_t s = 0;

    assert_int_equal(igraph_parse_duration("90", &s), APR_SUCCESS);
    assert_int_equal(s, 90);
    assert_int_equal(igraph_parse_duration("90s", &s), APR_SUCCESS);
    assert_int_equal(s, 90);
    assert_int_equal(igraph_parse_duration("15m", &s), APR_SUCCESS);
    assert_int_equal(s, 900);
    assert_int_equal(igraph_parse_duration("2h", &s), APR_SUCCESS);
    assert_int_equal(s, 7200);
    assert_int_equal(igraph_parse_duration("15d", &s), APR_SUCCESS);
    assert_int_equal(s, 15 * 86400);
    assert_int_equal(igraph_parse_duration("3650d", &s), APR_SUCCESS);
    assert_int_equal(s, (apr_int64_t)3650 * 86400);
}

static void test_duration_invalid(void **state)
{
    static const char *bad[] = {"",  "-1", "0",     "1x",  "1.5h",  " 5", "5 ", "99999999999d",
                                "d", "0s", "1d12h", "5ss", "4000d", "+5"};
    apr_int64_t s = 42;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        if (igraph_parse_duration(bad[i], &s) != APR_EINVAL) {
            fail_msg("accepted \"%s\"", bad[i]);
        }
    }
    assert_int_equal(igraph_parse_duration(NULL, &s), APR_EINVAL);
    assert_int_equal(s, 42);
}

static void test_url_coding(void **state)
{
    apr_pool_t *p = *state;
    static const char *samples[] = {"",
                                    "abc",
                                    "A-Z a-z 0-9 -._~",
                                    "a=b&c=d+e%f",
                                    "https://example.com/cb?x=1&y=2#frag",
                                    "\xc3\xa9t\xc3\xa9 \xe2\x9c\x93",
                                    "\x01\x7f\xff"};
    const char *enc;
    size_t i;

    assert_string_equal(igraph_url_encode(p, "a b&c=d/~_.-"), "a%20b%26c%3Dd%2F~_.-");
    assert_string_equal(igraph_url_encode(p, "\xc3\xa9"), "%C3%A9");
    for (i = 0; i < sizeof(samples) / sizeof(samples[0]); ++i) {
        enc = igraph_url_encode(p, samples[i]);
        assert_string_equal(igraph_url_decode(p, enc, strlen(enc)), samples[i]);
    }
    assert_string_equal(igraph_url_decode(p, "a+b%2bc%2Fd", 11), "a b+c/d");
    /* Only len bytes are decoded. */
    assert_string_equal(igraph_url_decode(p, "abcdef", 3), "abc");
    assert_null(igraph_url_decode(p, "%zz", 3));
    assert_null(igraph_url_decode(p, "%4", 2));
    assert_null(igraph_url_decode(p, "%00", 3));
    assert_null(igraph_url_decode(p, "ab%", 3));
    assert_null(igraph_url_decode(p, "%4g", 3));
    /* "%41" cut after 2 bytes is truncated. */
    assert_null(igraph_url_decode(p, "%41", 2));
}

static void test_form_parse(void **state)
{
    apr_pool_t *p = *state;
    const apr_array_header_t *arr;
    const apr_table_entry_t *e;
    apr_table_t *t;

    t = igraph_form_parse(p, "a=1&&b=x+y&a=3&flag&c=%26%3D&&=v&");
    assert_non_null(t);
    arr = apr_table_elts(t);
    assert_int_equal(arr->nelts, 6);
    e = (const apr_table_entry_t *)arr->elts;
    assert_string_equal(e[0].key, "a");
    assert_string_equal(e[0].val, "1");
    assert_string_equal(e[1].key, "b");
    assert_string_equal(e[1].val, "x y");
    assert_string_equal(e[2].key, "a");
    assert_string_equal(e[2].val, "3");
    assert_string_equal(e[3].key, "flag");
    assert_string_equal(e[3].val, "");
    assert_string_equal(e[4].key, "c");
    assert_string_equal(e[4].val, "&=");
    assert_string_equal(e[5].key, "");
    assert_string_equal(e[5].val, "v");
    assert_int_equal(igraph_table_count(t, "a"), 2);
    assert_int_equal(igraph_table_count(t, "b"), 1);
    assert_int_equal(igraph_table_count(t, "zz"), 0);
    assert_string_equal(apr_table_get(t, "a"), "1");

    t = igraph_form_parse(p, "");
    assert_non_null(t);
    assert_int_equal(apr_table_elts(t)->nelts, 0);
    t = igraph_form_parse(p, "&&&");
    assert_non_null(t);
    assert_int_equal(apr_table_elts(t)->nelts, 0);

    assert_null(igraph_form_parse(p, "a=%zz"));
    assert_null(igraph_form_parse(p, "a=1&b%=2"));
    assert_null(igraph_form_parse(p, "state=%00x"));
}

static void test_form_build(void **state)
{
    apr_pool_t *p = *state;

    assert_string_equal(igraph_form_build(p, "a", "1", "b", "x y&z", NULL), "a=1&b=x%20y%26z");
    assert_string_equal(igraph_form_build(p, "a", NULL, "b", "2", "c", NULL, NULL), "b=2");
    assert_string_equal(igraph_form_build(p, "k=", "v", NULL), "k%3D=v");
    assert_string_equal(igraph_form_build(p, NULL), "");
    assert_string_equal(igraph_form_build(p, "e", "", NULL), "e=");
}

static void test_html_escape(void **state)
{
    apr_pool_t *p = *state;

    assert_string_equal(igraph_html_escape(p, "<a href=\"x\">Tom & Jerry's</a>"),
                        "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;");
    assert_string_equal(igraph_html_escape(p, "&<>\"'"), "&amp;&lt;&gt;&quot;&#39;");
    assert_string_equal(igraph_html_escape(p, "plain"), "plain");
    assert_string_equal(igraph_html_escape(p, ""), "");
    assert_string_equal(igraph_html_escape(p, NULL), "");
}

static void test_iso8601(void **state)
{
    apr_pool_t *p = *state;
    apr_int64_t now = igraph_now();

    assert_string_equal(igraph_iso8601(p, 0), "1970-01-01T00:00:00Z");
    assert_string_equal(igraph_iso8601(p, 1793000800), "2026-10-26T07:46:40Z");
    assert_string_equal(igraph_iso8601(p, 951782400), "2000-02-29T00:00:00Z");
    assert_int_equal(strlen(igraph_iso8601(p, APR_INT64_MAX)), 20);
    assert_true(now > 1700000000);
}

static void test_graph_version(void **state)
{
    assert_true(igraph_is_graph_version("v26.0"));
    assert_true(igraph_is_graph_version("v1.0"));
    assert_true(igraph_is_graph_version("v123.45"));
    assert_false(igraph_is_graph_version("26.0"));
    assert_false(igraph_is_graph_version("v26"));
    assert_false(igraph_is_graph_version("v26.0.1"));
    assert_false(igraph_is_graph_version("vx.y"));
    assert_false(igraph_is_graph_version("v1234.0"));
    assert_false(igraph_is_graph_version("v1.123"));
    assert_false(igraph_is_graph_version("v26."));
    assert_false(igraph_is_graph_version("v.0"));
    assert_false(igraph_is_graph_version(""));
    assert_false(igraph_is_graph_version(NULL));
}

static void test_http_url(void **state)
{
    static const char *good[] = {"http://127.0.0.1:8080/x",
                                 "https://a.b",
                                 "https://graph.instagram.com/v26.0/me?fields=id",
                                 "http://localhost:1/",
                                 "https://[::1]:8443/cb",
                                 "HTTPS://a.b/#x"};
    static const char *bad[] = {"ftp://x",
                                "http://",
                                "//x",
                                "http:// x",
                                "javascript:alert(1)",
                                "https://a.b/\x01",
                                "https://a.b/ x",
                                "https://a.b\\@evil",
                                "https://good@evil.example/",
                                "https://a.b:/",
                                "https://a.b:0/",
                                "https://a.b:65536/",
                                "https://a.b:80x/",
                                "https://:80/",
                                "https://[]/",
                                "https://a.b/\xc3\xa9",
                                "https:/a.b",
                                "",
                                NULL};
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); ++i) {
        if (!igraph_is_http_url(good[i])) {
            fail_msg("rejected \"%s\"", good[i]);
        }
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        if (igraph_is_http_url(bad[i])) {
            fail_msg("accepted \"%s\"", bad[i]);
        }
    }
}

/* What is kept of a display URL from Meta: the URL itself when http(s), else nothing. */
static void test_http_url_or_null(void **state)
{
    static const char *const dropped[] = {"javascript:alert(document.domain)",
                                          "JavaScript:alert(1)//https://x.example/",
                                          " javascript:alert(1)",
                                          "data:image/svg+xml;base64,PHN2Zz4=",
                                          "vbscript:msgbox(1)",
                                          "//scontent.example/pp.jpg",
                                          "/static/pp.jpg",
                                          "https://good@evil.example/pp.jpg",
                                          "",
                                          NULL};
    const char *kept = "https://scontent.example.invalid/v/t51/pp.jpg?a=1&b=2";
    size_t i;

    assert_ptr_equal(igraph_http_url_or_null(kept), kept);
    assert_string_equal(igraph_http_url_or_null("http://127.0.0.1:8081/static/pp/a.svg"),
                        "http://127.0.0.1:8081/static/pp/a.svg");
    for (i = 0; i < sizeof(dropped) / sizeof(dropped[0]); ++i) {
        if (igraph_http_url_or_null(dropped[i])) {
            fail_msg("kept \"%s\"", dropped[i] ? dropped[i] : "(null)");
        }
    }
}

static void test_scopes(void **state)
{
    apr_pool_t *p = *state;
    const char *err = NULL;
    apr_array_header_t *arr;

    assert_string_equal(igraph_scopes_normalize(p, "a, b,,a c", &err), "a,b,c");
    assert_string_equal(igraph_scopes_normalize(p, " instagram_business_basic\t", &err),
                        "instagram_business_basic");
    assert_null(igraph_scopes_normalize(p, "A", &err));
    assert_non_null(err);
    err = NULL;
    assert_null(igraph_scopes_normalize(p, "", &err));
    assert_non_null(err);
    assert_null(igraph_scopes_normalize(p, " , ,", NULL));
    assert_null(igraph_scopes_normalize(p, "a;b", NULL));
    assert_null(igraph_scopes_normalize(p, NULL, NULL));

    assert_true(igraph_scopes_contains("a,b,c", "b"));
    assert_true(igraph_scopes_contains("a, b ,c", "b"));
    assert_true(igraph_scopes_contains("a", "a"));
    assert_false(igraph_scopes_contains("ab,c", "a"));
    assert_false(igraph_scopes_contains("a,bc", "b"));
    assert_false(igraph_scopes_contains("a,b", ""));
    assert_false(igraph_scopes_contains("", "a"));
    assert_false(igraph_scopes_contains(NULL, "a"));

    arr = igraph_split_csv(p, " x, ,y ,,z");
    assert_int_equal(arr->nelts, 3);
    assert_string_equal(APR_ARRAY_IDX(arr, 0, char *), "x");
    assert_string_equal(APR_ARRAY_IDX(arr, 1, char *), "y");
    assert_string_equal(APR_ARRAY_IDX(arr, 2, char *), "z");
    assert_int_equal(igraph_split_csv(p, NULL)->nelts, 0);
}

static void test_parse_int64(void **state)
{
    static const char *bad[] = {"",
                                "-",
                                "+1",
                                " 1",
                                "1 ",
                                "1a",
                                "0x10",
                                "--1",
                                "9223372036854775808",
                                "-9223372036854775809",
                                "99999999999999999999",
                                "1.0"};
    apr_int64_t v = 0;
    size_t i;

    assert_int_equal(igraph_parse_int64("0", &v), APR_SUCCESS);
    assert_int_equal(v, 0);
    assert_int_equal(igraph_parse_int64("-0", &v), APR_SUCCESS);
    assert_int_equal(v, 0);
    assert_int_equal(igraph_parse_int64("007", &v), APR_SUCCESS);
    assert_int_equal(v, 7);
    assert_int_equal(igraph_parse_int64("-42", &v), APR_SUCCESS);
    assert_int_equal(v, -42);
    assert_int_equal(igraph_parse_int64("9223372036854775807", &v), APR_SUCCESS);
    assert_true(v == APR_INT64_MAX);
    assert_int_equal(igraph_parse_int64("-9223372036854775808", &v), APR_SUCCESS);
    assert_true(v == APR_INT64_MIN);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        if (igraph_parse_int64(bad[i], &v) != APR_EINVAL) {
            fail_msg("accepted \"%s\"", bad[i]);
        }
    }
    assert_int_equal(igraph_parse_int64(NULL, &v), APR_EINVAL);
}

static void test_numeric_id(void **state)
{
    assert_true(igraph_is_numeric_id("17841400000000001"));
    assert_true(igraph_is_numeric_id("0"));
    assert_true(igraph_is_numeric_id("12345678901234567890123456789012"));
    assert_false(igraph_is_numeric_id("123456789012345678901234567890123"));
    assert_false(igraph_is_numeric_id(""));
    assert_false(igraph_is_numeric_id("-1"));
    assert_false(igraph_is_numeric_id("12a"));
    assert_false(igraph_is_numeric_id(NULL));
}

static void test_cookie_attr(void **state)
{
    (void)state;
    assert_true(igraph_cookie_has_attr("s=1; path=/ig;HttpOnly;Secure", "Secure"));
    assert_true(igraph_cookie_has_attr("s=1;secure", "Secure"));
    assert_true(igraph_cookie_has_attr("s=1; Secure ; SameSite=Lax", "secure"));
    assert_true(igraph_cookie_has_attr("s=1;SameSite=Lax", "SameSite"));
    /* the word in a name or a value is not the attribute */
    assert_false(igraph_cookie_has_attr("secure_igraph=1;path=/ig;HttpOnly", "Secure"));
    assert_false(igraph_cookie_has_attr("s=secure;path=/secure", "Secure"));
    assert_false(igraph_cookie_has_attr("s=1;Securely", "Secure"));
    assert_false(igraph_cookie_has_attr("s=1", "Secure"));
    assert_false(igraph_cookie_has_attr("", "Secure"));
    assert_false(igraph_cookie_has_attr(NULL, "Secure"));
}

static void test_utf8(void **state)
{
    static const char *good[] = {"",
                                 "ascii",
                                 "\xc3\xa9",
                                 "\xe2\x82\xac",
                                 "\xf0\x9f\x98\x80",
                                 "\xed\x9f\xbf",
                                 "\xf4\x8f\xbf\xbf",
                                 "\xee\x80\x80"};
    static const char *bad[] = {
        "\xc0\xaf",                                             /* overlong '/' */
        "\xc1\xbf",                                             /* overlong */
        "\xe0\x80\xaf",                                         /* overlong 3-byte */
        "\xf0\x80\x80\xaf",                                     /* overlong 4-byte */
        "\xed\xa0\x80",                                         /* surrogate U+D800 */
        "\xed\xbf\xbf",                                         /* surrogate U+DFFF */
        "\xf4\x90\x80\x80",                                     /* above U+10FFFF */
        "\xf5\x80\x80\x80", "\xff", "\x80", "\xc3", "\xe2\x82", /* truncated */
        "\xf0\x9f\x98",                                         /* truncated */
        "\xc3\x28",                                             /* bad continuation */
        "a\xe2\x28\xa1",
    };
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); ++i) {
        if (!igraph_is_utf8(good[i], strlen(good[i]))) {
            fail_msg("rejected good[%d]", (int)i);
        }
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        if (igraph_is_utf8(bad[i], strlen(bad[i]))) {
            fail_msg("accepted bad[%d]", (int)i);
        }
    }
    /* Truncation by length, not by NUL. */
    assert_false(igraph_is_utf8("\xe2\x82\xac", 2));
    assert_true(igraph_is_utf8(NULL, 0));
}

static int log_calls;
static int log_last_level;
static char log_last[64];

static void test_sink(void *baton, int level, const char *file, int line, const char *msg)
{
    ++log_calls;
    log_last_level = level;
    apr_cpystrn(log_last, msg, sizeof(log_last));
}

static void test_log(void **state)
{
    char big[6000];

    log_calls = 0;
    igraph_log_set_sink(NULL, NULL, IGRAPH_LOG_DEBUG);
    igraph_log(IGRAPH_LOG_ERR, "dropped %d", 1);
    assert_int_equal(log_calls, 0);
    assert_false(igraph_log_is_level(IGRAPH_LOG_ERR));

    igraph_log_set_sink(test_sink, NULL, IGRAPH_LOG_INFO);
    assert_true(igraph_log_is_level(IGRAPH_LOG_INFO));
    assert_false(igraph_log_is_level(IGRAPH_LOG_DEBUG));
    igraph_log(IGRAPH_LOG_DEBUG, "too verbose");
    assert_int_equal(log_calls, 0);
    igraph_log(IGRAPH_LOG_WARNING, "IG%04d: %s", 7, "hello");
    assert_int_equal(log_calls, 1);
    assert_int_equal(log_last_level, IGRAPH_LOG_WARNING);
    assert_string_equal(log_last, "IG0007: hello");
    /* Longer than the formatting buffer: truncated, not overflowed. */
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    igraph_log(IGRAPH_LOG_ERR, "%s", big);
    assert_int_equal(log_calls, 2);
    igraph_log_set_sink(NULL, NULL, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duration_valid),
        cmocka_unit_test(test_duration_invalid),
        cmocka_unit_test_setup_teardown(test_url_coding, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_form_parse, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_form_build, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_html_escape, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_iso8601, test_pool_setup, test_pool_teardown),
        cmocka_unit_test(test_graph_version),
        cmocka_unit_test(test_http_url),
        cmocka_unit_test(test_http_url_or_null),
        cmocka_unit_test_setup_teardown(test_scopes, test_pool_setup, test_pool_teardown),
        cmocka_unit_test(test_parse_int64),
        cmocka_unit_test(test_numeric_id),
        cmocka_unit_test(test_cookie_attr),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_log),
    };
    int rc;

    apr_initialize();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    apr_terminate();
    return rc;
}
