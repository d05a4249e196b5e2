/* test_graph.c: unit tests for igraph_graph.c (classification, parsers, login URLs) and
 * igraph_http.c, plus a few Graph calls against a tiny in-process HTTP server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <curl/curl.h>

#include "igraph_graph.h"
#include "igraph_http.h"
#include "igraph_json.h"
#include "igraph_log.h"
#include "support.h"

/* ---- log capture: nothing secret may ever reach the log ------------------------------------ */

static void assert_logs_clean(void)
{
    static const char *const secrets[] = {"EAAJ",
                                          "IGAA",
                                          "fb-app-secret",
                                          "ig-app-secret",
                                          "access_token=",
                                          "client_secret",
                                          "appsecret_proof",
                                          "AQDcode",
                                          "?",
                                          NULL};

    test_log_assert_clean(secrets);
}

static igraph_json_t *js(const char *s)
{
    igraph_json_t *j = NULL;
    assert_int_equal(igraph_json_parse(&j, test_pool, s, strlen(s), NULL), APR_SUCCESS);
    return j;
}

static igraph_err_class_e cls_of(int status, const char *body)
{
    igraph_gerr_t e;
    int is_err = igraph_graph_classify(&e, test_pool, status, body, body ? strlen(body) : 0);
    if (!is_err) {
        return IGRAPH_ERR_NONE;
    }
    assert_int_not_equal(e.cls, IGRAPH_ERR_NONE);
    assert_non_null(e.message);
    return e.cls;
}

/* {"error":{"code":C,"error_subcode":S,...}} */
static igraph_err_class_e cls_code(long code, long subcode)
{
    const char *body =
        subcode ? apr_psprintf(test_pool,
                               "{\"error\":{\"message\":\"m\",\"type\":\"OAuthException\","
                               "\"code\":%ld,\"error_subcode\":%ld,\"fbtrace_id\":\"x\"}}",
                               code, subcode)
                : apr_psprintf(test_pool, "{\"error\":{\"message\":\"m\",\"code\":%ld}}", code);
    return cls_of(400, body);
}

/* ---- classification -------------------------------------------------------------------------- */

static void test_class_names(void **state)
{
    assert_string_equal(igraph_err_class_name(IGRAPH_ERR_NONE), "none");
    assert_string_equal(igraph_err_class_name(IGRAPH_ERR_TRANSPORT), "transport");
    assert_string_equal(igraph_err_class_name(IGRAPH_ERR_REAUTH), "reauth");
    assert_string_equal(igraph_err_class_name(IGRAPH_ERR_RATE_LIMIT), "rate_limit");
    assert_string_equal(igraph_err_class_name(IGRAPH_ERR_NOT_READY), "not_ready");
    assert_string_equal(igraph_err_class_name(IGRAPH_ERR_PERMANENT), "permanent");
}

static void test_classify_success_and_transport(void **state)
{
    igraph_gerr_t e;

    assert_int_equal(cls_of(200, "{\"id\":\"17841400000000001\"}"), IGRAPH_ERR_NONE);
    assert_int_equal(cls_of(200, "{\"success\":true}"), IGRAPH_ERR_NONE);
    /* debug_token's nested error is data, not an error envelope */
    assert_int_equal(cls_of(200, "{\"data\":{\"is_valid\":false,\"error\":{\"code\":190}}}"),
                     IGRAPH_ERR_NONE);

    assert_int_equal(igraph_graph_classify(&e, test_pool, 0, NULL, 0), 1);
    assert_int_equal(e.cls, IGRAPH_ERR_TRANSPORT);
    assert_int_equal(e.http_status, 0);
}

static void test_classify_not_json(void **state)
{
    igraph_gerr_t e;
    const char *html = "<html><head><title>502 Bad Gateway</title></head><body>"
                       "<h1>Bad Gateway</h1></body></html>";

    assert_int_equal(igraph_graph_classify(&e, test_pool, 502, html, strlen(html)), 1);
    assert_int_equal(e.cls, IGRAPH_ERR_SERVER);
    assert_int_equal(e.http_status, 502);
    assert_string_equal(e.message, "HTTP 502");

    assert_int_equal(cls_of(500, ""), IGRAPH_ERR_SERVER);
    assert_int_equal(cls_of(503, NULL), IGRAPH_ERR_SERVER);
    assert_int_equal(cls_of(404, "<html>Not Found</html>"), IGRAPH_ERR_SERVER);
    assert_int_equal(cls_of(200, "<html>ok</html>"), IGRAPH_ERR_SERVER);
    assert_int_equal(cls_of(200, ""), IGRAPH_ERR_SERVER);
    assert_int_equal(cls_of(200, "[1,2]"), IGRAPH_ERR_SERVER);
    /* malformed JSON */
    assert_int_equal(cls_of(200, "{\"access_token\":"), IGRAPH_ERR_SERVER);
    assert_int_equal(cls_of(400, "{\"error\":{\"code\":190,"), IGRAPH_ERR_SERVER);
    /* JSON without any envelope on an error status */
    assert_int_equal(cls_of(400, "{\"foo\":1}"), IGRAPH_ERR_SERVER);
    assert_int_equal(cls_of(429, "too many"), IGRAPH_ERR_RATE_LIMIT);
    /* a 5xx with an envelope is classified by the envelope */
    assert_int_equal(cls_of(500, "{\"error\":{\"message\":\"x\",\"code\":2}}"), IGRAPH_ERR_RETRY);
}

static void test_classify_flat_ig(void **state)
{
    igraph_gerr_t e;
    const char *b = "{\"error_type\": \"OAuthException\", \"code\": 400, \"error_message\": "
                    "\"Matching code was not found or was already used\"}";

    assert_int_equal(igraph_graph_classify(&e, test_pool, 400, b, strlen(b)), 1);
    assert_int_equal(e.cls, IGRAPH_ERR_OAUTH);
    assert_int_equal(e.code, 400);
    assert_int_equal(e.http_status, 400);
    assert_string_equal(e.type, "OAuthException");
    assert_string_equal(e.message, "Matching code was not found or was already used");
}

static void test_classify_reauth(void **state)
{
    igraph_gerr_t e;
    const char *b = "{\"error\": {\"message\": \"Error validating access token: Session has "
                    "expired.\", \"type\": \"OAuthException\", \"code\": 190, \"error_subcode\": "
                    "463, \"is_transient\": false, \"error_user_title\": \"Session expired\", "
                    "\"error_user_msg\": \"Please log in again.\", \"fbtrace_id\": "
                    "\"AbCdEfGhIjK\"}}";

    assert_int_equal(igraph_graph_classify(&e, test_pool, 400, b, strlen(b)), 1);
    assert_int_equal(e.cls, IGRAPH_ERR_REAUTH);
    assert_int_equal(e.code, 190);
    assert_int_equal(e.subcode, 463);
    assert_int_equal(e.is_transient, 0);
    assert_string_equal(e.type, "OAuthException");
    assert_string_equal(e.message, "Error validating access token: Session has expired.");
    assert_string_equal(e.user_title, "Session expired");
    assert_string_equal(e.user_msg, "Please log in again.");
    assert_string_equal(e.fbtrace_id, "AbCdEfGhIjK");
    assert_int_equal(e.retry_after, 0);

    assert_int_equal(cls_code(190, 0), IGRAPH_ERR_REAUTH);
    assert_int_equal(cls_code(190, 458), IGRAPH_ERR_REAUTH);
    assert_int_equal(cls_code(190, 492), IGRAPH_ERR_REAUTH);
    assert_int_equal(cls_code(102, 0), IGRAPH_ERR_REAUTH);
    /* HTTP status does not matter, the body does */
    assert_int_equal(cls_of(200, "{\"error\":{\"code\":190}}"), IGRAPH_ERR_REAUTH);
}

static void test_classify_code_as_string(void **state)
{
    igraph_gerr_t e;
    const char *b = "{\"error\":{\"message\":\"x\",\"code\":\"9\",\"error_subcode\":\"2207042\"}}";

    assert_int_equal(igraph_graph_classify(&e, test_pool, 400, b, strlen(b)), 1);
    assert_int_equal(e.cls, IGRAPH_ERR_QUOTA);
    assert_int_equal(e.code, 9);
    assert_int_equal(e.subcode, 2207042);
    assert_int_equal(cls_of(400, "{\"error\":{\"code\":\"190\"}}"), IGRAPH_ERR_REAUTH);
    assert_int_equal(cls_of(400, "{\"error\":{\"code\":\"-2\",\"error_subcode\":2207003}}"),
                     IGRAPH_ERR_RETRY);
    assert_int_equal(cls_of(400, "{\"error\":{\"code\":\"INSTAGRAM_PLATFORM_API__PERMISSION\"}}"),
                     IGRAPH_ERR_PERMISSION);
    assert_int_equal(cls_of(400, "{\"error\":{\"code\":\"nonsense\"}}"), IGRAPH_ERR_PERMANENT);
}

static void test_classify_publishing(void **state)
{
    static const struct {
        long code, subcode;
        igraph_err_class_e cls;
    } cases[] = {
        {4, 2207051, IGRAPH_ERR_RESTRICTED},   {9, 2207042, IGRAPH_ERR_QUOTA},
        {9007, 2207027, IGRAPH_ERR_NOT_READY}, {9007, 0, IGRAPH_ERR_NOT_READY},
        {352, 2207026, IGRAPH_ERR_MEDIA},      {9004, 2207052, IGRAPH_ERR_MEDIA},
        {36000, 2207004, IGRAPH_ERR_MEDIA},    {36001, 2207005, IGRAPH_ERR_MEDIA},
        {36003, 2207009, IGRAPH_ERR_MEDIA},    {36004, 2207010, IGRAPH_ERR_MEDIA},
        {-2, 2207003, IGRAPH_ERR_RETRY},       {24, 2207008, IGRAPH_ERR_RETRY},
        {25, 2207050, IGRAPH_ERR_RESTRICTED},  {-2, 2207020, IGRAPH_ERR_MEDIA},
        {100, 2207023, IGRAPH_ERR_INVALID},    {100, 2207028, IGRAPH_ERR_INVALID},
        {100, 2207040, IGRAPH_ERR_INVALID},    {1, 2207057, IGRAPH_ERR_MEDIA},
    };
    apr_size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        igraph_err_class_e got = cls_code(cases[i].code, cases[i].subcode);
        if (got != cases[i].cls) {
            fail_msg("%ld/%ld: got %s, want %s", cases[i].code, cases[i].subcode,
                     igraph_err_class_name(got), igraph_err_class_name(cases[i].cls));
        }
    }
}

static void test_classify_generic(void **state)
{
    static const struct {
        long code, subcode;
        igraph_err_class_e cls;
    } cases[] = {
        {4, 0, IGRAPH_ERR_RATE_LIMIT},     {17, 0, IGRAPH_ERR_RATE_LIMIT},
        {32, 0, IGRAPH_ERR_RATE_LIMIT},    {613, 0, IGRAPH_ERR_RATE_LIMIT},
        {341, 0, IGRAPH_ERR_RATE_LIMIT},   {80001, 0, IGRAPH_ERR_RATE_LIMIT},
        {80002, 0, IGRAPH_ERR_RATE_LIMIT}, {80014, 0, IGRAPH_ERR_RATE_LIMIT},
        {80015, 0, IGRAPH_ERR_PERMANENT},  {4, 1234, IGRAPH_ERR_RATE_LIMIT},
        {10, 0, IGRAPH_ERR_PERMISSION},    {200, 0, IGRAPH_ERR_PERMISSION},
        {299, 0, IGRAPH_ERR_PERMISSION},   {3, 0, IGRAPH_ERR_PERMISSION},
        {300, 0, IGRAPH_ERR_PERMANENT},    {1, 0, IGRAPH_ERR_RETRY},
        {2, 0, IGRAPH_ERR_RETRY},          {100, 36007, IGRAPH_ERR_OAUTH},
        {100, 36008, IGRAPH_ERR_OAUTH},    {100, 36009, IGRAPH_ERR_OAUTH},
        {100, 33, IGRAPH_ERR_INVALID},     {100, 0, IGRAPH_ERR_INVALID},
        {368, 0, IGRAPH_ERR_RESTRICTED},   {506, 0, IGRAPH_ERR_PERMANENT},
        {9, 0, IGRAPH_ERR_PERMANENT},
    };
    apr_size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        igraph_err_class_e got = cls_code(cases[i].code, cases[i].subcode);
        if (got != cases[i].cls) {
            fail_msg("%ld/%ld: got %s, want %s", cases[i].code, cases[i].subcode,
                     igraph_err_class_name(got), igraph_err_class_name(cases[i].cls));
        }
    }
    assert_int_equal(cls_of(400, "{\"error\":{\"code\":9999,\"is_transient\":true}}"),
                     IGRAPH_ERR_RETRY);
    /* rate limits win over is_transient (section 5.7 order) */
    assert_int_equal(cls_of(400, "{\"error\":{\"code\":4,\"is_transient\":true}}"),
                     IGRAPH_ERR_RATE_LIMIT);
    assert_int_equal(cls_of(400, "{\"error\":{\"message\":\"no code\"}}"), IGRAPH_ERR_PERMANENT);
    assert_int_equal(cls_of(400, "{\"error\":\"invalid_request\",\"error_description\":\"x\"}"),
                     IGRAPH_ERR_OAUTH);
}

static void test_classify_message(void **state)
{
    igraph_gerr_t e;
    char *big = apr_palloc(test_pool, 1001), *body;

    memset(big, 'a', 1000);
    big[1000] = '\0';
    body = apr_psprintf(test_pool, "{\"error\":{\"code\":1,\"message\":\"%s\"}}", big);
    igraph_graph_classify(&e, test_pool, 400, body, strlen(body));
    assert_int_equal(strlen(e.message), 300);

    body = "{\"error\":{\"code\":1,\"message\":\"line1\\nline2\"}}";
    igraph_graph_classify(&e, test_pool, 400, body, strlen(body));
    assert_string_equal(e.message, "line1 line2");

    /* a multi-byte character is never cut in half */
    body = apr_psprintf(test_pool, "{\"error\":{\"code\":1,\"message\":\"%s\xc3\xa9\"}}",
                        apr_pstrmemdup(test_pool, big, 299));
    igraph_graph_classify(&e, test_pool, 400, body, strlen(body));
    assert_int_equal(strlen(e.message), 299);

    body = "{\"error\":{\"code\":100}}";
    igraph_graph_classify(&e, test_pool, 400, body, strlen(body));
    assert_string_equal(e.message, "HTTP 400");
    assert_null(e.user_msg);
    assert_null(e.fbtrace_id);
}

/* ---- parsers -----------------------------------------------------------------------------------
 */

static void test_parse_token_ig_shapes(void **state)
{
    igraph_token_t t;

    assert_int_equal(igraph_parse_token(test_pool,
                                        js("{\"data\":[{\"access_token\":\"IGAAx\",\"user_id\":"
                                           "\"17841400000000009\",\"permissions\":\"a,b\"}]}"),
                                        &t),
                     APR_SUCCESS);
    assert_string_equal(t.access_token, "IGAAx");
    assert_string_equal(t.user_id, "17841400000000009");
    assert_string_equal(t.permissions, "a,b");
    assert_int_equal(t.expires_in, 0);

    assert_int_equal(igraph_parse_token(test_pool,
                                        js("{\"access_token\":\"IGAAx\",\"user_id\":"
                                           "27640875392278831,\"permissions\":[\"a\",\"b\"]}"),
                                        &t),
                     APR_SUCCESS);
    assert_string_equal(t.access_token, "IGAAx");
    assert_string_equal(t.user_id, "27640875392278831");
    assert_string_equal(t.permissions, "a,b");

    /* spaces in a comma string are normalised away */
    assert_int_equal(igraph_parse_token(test_pool,
                                        js("{\"access_token\":\"IGAAx\",\"user_id\":123,"
                                           "\"permissions\":\" a , b ,\"}"),
                                        &t),
                     APR_SUCCESS);
    assert_string_equal(t.user_id, "123");
    assert_string_equal(t.permissions, "a,b");
}

static void test_parse_token_fb(void **state)
{
    igraph_token_t t;

    assert_int_equal(igraph_parse_token(test_pool,
                                        js("{\"access_token\": \"EAAJfakeLongUserToken\", "
                                           "\"token_type\": \"bearer\", \"expires_in\": 5183944}"),
                                        &t),
                     APR_SUCCESS);
    assert_string_equal(t.access_token, "EAAJfakeLongUserToken");
    assert_int_equal(t.expires_in, 5183944);
    assert_null(t.user_id);
    assert_null(t.permissions);

    assert_int_equal(
        igraph_parse_token(test_pool, js("{\"access_token\":\"EAAJx\",\"token_type\":\"bearer\"}"),
                           &t),
        APR_SUCCESS);
    assert_int_equal(t.expires_in, 0);

    assert_int_equal(igraph_parse_token(test_pool,
                                        js("{\"access_token\":\"EAAJx\",\"expires_in\":"
                                           "\"3600\"}"),
                                        &t),
                     APR_SUCCESS);
    assert_int_equal(t.expires_in, 3600);

    assert_int_equal(igraph_parse_token(test_pool, js("{\"token_type\":\"bearer\"}"), &t),
                     APR_EINVAL);
    assert_null(t.access_token);
    assert_int_equal(igraph_parse_token(test_pool, js("{\"access_token\":\"\"}"), &t), APR_EINVAL);
    assert_int_equal(igraph_parse_token(test_pool, js("{\"access_token\":42}"), &t), APR_EINVAL);
}

static const char *pages_json =
    "{\"data\": ["
    " {\"id\": \"108000000000001\", \"name\": \"Acme Bakery\", \"access_token\": \"EAAJpage1\","
    "  \"tasks\": [\"ANALYZE\", \"ADVERTISE\", \"MODERATE\", \"CREATE_CONTENT\", \"MANAGE\"],"
    "  \"instagram_business_account\": {\"id\": \"17841400000000001\", \"username\": "
    "\"acme.bakery\"}},"
    " {\"id\": \"108000000000002\", \"name\": \"Acme Side Project\","
    "  \"access_token\": \"EAAJpage2\", \"tasks\": [\"ANALYZE\"]}],"
    " \"paging\": {\"cursors\": {\"before\": \"QVFIUmZAfake1\", \"after\": \"QVFIUmZAfake2\"},"
    "  \"next\": "
    "\"https://graph.facebook.com/v26.0/10100000000000/accounts?access_token=x&after=y\""
    "}}";

static void test_parse_pages(void **state)
{
    apr_array_header_t *pages = apr_array_make(test_pool, 2, sizeof(igraph_page_t *));
    igraph_page_t *pg;
    const char *next;

    assert_int_equal(igraph_parse_pages(test_pool, js(pages_json), pages, &next), APR_SUCCESS);
    assert_int_equal(pages->nelts, 2);
    assert_string_equal(next, "https://graph.facebook.com/v26.0/10100000000000/accounts"
                              "?access_token=x&after=y");
    pg = APR_ARRAY_IDX(pages, 0, igraph_page_t *);
    assert_string_equal(pg->id, "108000000000001");
    assert_string_equal(pg->name, "Acme Bakery");
    assert_string_equal(pg->access_token, "EAAJpage1");
    assert_string_equal(pg->tasks, "ANALYZE,ADVERTISE,MODERATE,CREATE_CONTENT,MANAGE");
    assert_string_equal(pg->ig_id, "17841400000000001");
    assert_string_equal(pg->ig_username, "acme.bakery");
    pg = APR_ARRAY_IDX(pages, 1, igraph_page_t *);
    assert_string_equal(pg->id, "108000000000002");
    assert_string_equal(pg->tasks, "ANALYZE");
    assert_null(pg->ig_id);
    assert_null(pg->ig_username);

    /* last page: no next; numeric ids; appended to what is there */
    assert_int_equal(igraph_parse_pages(test_pool,
                                        js("{\"data\":[{\"id\":108000000000003,\"name\":\"C\"}],"
                                           "\"paging\":{\"cursors\":{}}}"),
                                        pages, &next),
                     APR_SUCCESS);
    assert_null(next);
    assert_int_equal(pages->nelts, 3);
    pg = APR_ARRAY_IDX(pages, 2, igraph_page_t *);
    assert_string_equal(pg->id, "108000000000003");
    assert_null(pg->tasks);
    assert_null(pg->access_token);

    /* empty page that still has a next link */
    assert_int_equal(igraph_parse_pages(test_pool, js("{\"data\":[],\"paging\":{\"next\":\"u\"}}"),
                                        pages, &next),
                     APR_SUCCESS);
    assert_string_equal(next, "u");
    assert_int_equal(pages->nelts, 3);

    assert_int_equal(igraph_parse_pages(test_pool, js("{\"id\":\"1\"}"), pages, &next), APR_EINVAL);
    assert_null(next);
}

static void test_parse_permissions(void **state)
{
    apr_array_header_t *g = apr_array_make(test_pool, 4, sizeof(char *));
    const char *next;

    assert_int_equal(
        igraph_parse_permissions(
            test_pool,
            js("{\"data\": [{\"permission\": \"instagram_basic\", \"status\": \"granted\"},"
               "{\"permission\": \"instagram_content_publish\", \"status\": \"declined\"},"
               "{\"permission\": \"pages_read_engagement\", \"status\": \"expired\"},"
               "{\"permission\": \"pages_show_list\", \"status\": \"granted\"}]}"),
            g, &next),
        APR_SUCCESS);
    assert_null(next);
    assert_int_equal(g->nelts, 2);
    assert_string_equal(APR_ARRAY_IDX(g, 0, char *), "instagram_basic");
    assert_string_equal(APR_ARRAY_IDX(g, 1, char *), "pages_show_list");

    assert_int_equal(igraph_parse_permissions(
                         test_pool, js("{\"data\":[],\"paging\":{\"next\":\"n\"}}"), g, &next),
                     APR_SUCCESS);
    assert_string_equal(next, "n");
    assert_int_equal(igraph_parse_permissions(test_pool, js("{}"), g, &next), APR_EINVAL);
}

static void test_parse_profile(void **state)
{
    igraph_profile_t pr;

    assert_int_equal(igraph_parse_profile(test_pool,
                                          js("{\"user_id\": \"17841400000000001\", \"username\": "
                                             "\"acme.bakery\", \"name\": \"Acme Bakery\", "
                                             "\"account_type\": \"BUSINESS\", "
                                             "\"profile_picture_url\": \"https://x/pp.jpg\", "
                                             "\"followers_count\": 1532, \"id\": "
                                             "\"9876543210987654\"}"),
                                          &pr),
                     APR_SUCCESS);
    assert_string_equal(pr.user_id, "17841400000000001");
    assert_string_equal(pr.id, "9876543210987654");
    assert_string_equal(pr.username, "acme.bakery");
    assert_string_equal(pr.name, "Acme Bakery");
    assert_string_equal(pr.account_type, "BUSINESS");
    assert_string_equal(pr.picture_url, "https://x/pp.jpg");

    assert_int_equal(igraph_parse_profile(test_pool,
                                          js("{\"data\":[{\"user_id\":17841400000000002,"
                                             "\"username\":\"b\",\"id\":9876543210987655}]}"),
                                          &pr),
                     APR_SUCCESS);
    assert_string_equal(pr.user_id, "17841400000000002");
    assert_string_equal(pr.id, "9876543210987655");
    assert_string_equal(pr.username, "b");
    assert_null(pr.name);
    assert_null(pr.picture_url);

    assert_int_equal(igraph_parse_profile(test_pool, js("{\"data\":[]}"), &pr), APR_EINVAL);
}

static void test_strip_code_suffix(void **state)
{
    assert_string_equal(igraph_strip_code_suffix(test_pool, "AQBxfakecode#_"), "AQBxfakecode");
    assert_string_equal(igraph_strip_code_suffix(test_pool, "AQBxfakecode%23_"), "AQBxfakecode");
    assert_string_equal(igraph_strip_code_suffix(test_pool, "AQBxfakecode"), "AQBxfakecode");
    assert_string_equal(igraph_strip_code_suffix(test_pool, "abc#_#_"), "abc#_");
    assert_string_equal(igraph_strip_code_suffix(test_pool, "abc_"), "abc_");
    assert_string_equal(igraph_strip_code_suffix(test_pool, "#_"), "");
    assert_null(igraph_strip_code_suffix(test_pool, NULL));
}

static igraph_graph_t *fixed_graph(void)
{
    igraph_graph_t *g = test_graph_app(test_pool);
    g->fb_dialog_base = "https://www.facebook.com";
    g->fb_graph_base = "https://graph.facebook.com";
    g->ig_authorize_base = "https://www.instagram.com/";
    g->ig_api_base = "https://api.instagram.com";
    g->ig_graph_base = "https://graph.instagram.com";
    return g;
}

static void test_login_urls(void **state)
{
    igraph_graph_t *g = fixed_graph();

    assert_string_equal(
        igraph_fb_dialog_url(g, test_pool, "https://example.org/meta/callback", "Zk3q9tV0c1yQ",
                             "instagram_basic,pages_show_list", NULL),
        "https://www.facebook.com/v26.0/dialog/oauth?client_id=1234567890123456"
        "&redirect_uri=https%3A%2F%2Fexample.org%2Fmeta%2Fcallback&state=Zk3q9tV0c1yQ"
        "&response_type=code&scope=instagram_basic%2Cpages_show_list");
    assert_string_equal(
        igraph_fb_dialog_url(g, test_pool, "https://example.org/cb", "s t", "a", "rerequest"),
        "https://www.facebook.com/v26.0/dialog/oauth?client_id=1234567890123456"
        "&redirect_uri=https%3A%2F%2Fexample.org%2Fcb&state=s%20t&response_type=code&scope=a"
        "&auth_type=rerequest");
    assert_string_equal(
        igraph_ig_authorize_url(g, test_pool, "https://example.org/ig/callback", "q8LxN2d5",
                                "instagram_business_basic,instagram_business_content_publish"),
        "https://www.instagram.com/oauth/authorize?client_id=990602627938098"
        "&redirect_uri=https%3A%2F%2Fexample.org%2Fig%2Fcallback&response_type=code"
        "&scope=instagram_business_basic%2Cinstagram_business_content_publish&state=q8LxN2d5");
}

/* ---- igraph_http_perform ----------------------------------------------------------------------
 */

static void test_http_basic(void **state)
{
    test_server_t s = {0};
    igraph_http_req_t req = {0};
    igraph_http_resp_t *resp;

    s.resp[0] = "HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n"
                "HTTP/1.1 200 OK\r\nX-App-Usage: {\"call_count\":28}\r\nX-Multi: a\r\n"
                "X-Multi: b\r\nContent-Length: 10\r\nConnection: close\r\n\r\n{\"id\":\"1\"}";
    s.nresp = 1;
    test_server_start(&s, test_pool);
    req.url = test_server_url(&s, "/v26.0/me?secret=1");
    req.headers = apr_table_make(test_pool, 1);
    apr_table_set(req.headers, "X-Test", "yes");
    assert_int_equal(igraph_http_perform(test_pool, &req, &resp), APR_SUCCESS);
    test_server_stop(&s);

    assert_int_equal(resp->status, 200);
    assert_int_equal(resp->len, 10);
    assert_string_equal(resp->body, "{\"id\":\"1\"}");
    assert_null(resp->error);
    assert_string_equal(apr_table_get(resp->headers, "x-app-usage"), "{\"call_count\":28}");
    assert_null(apr_table_get(resp->headers, "X-Interim"));
    assert_string_equal(apr_table_get(resp->headers, "Content-Length"), "10");
    assert_string_equal(test_req_line(&s, 0), "GET /v26.0/me?secret=1 HTTP/1.1");
    assert_non_null(strstr(s.req[0], "\r\nUser-Agent: mod_igraph/0.1\r\n"));
    assert_non_null(strstr(s.req[0], "\r\nX-Test: yes\r\n"));
    /* the debug line shows the path, never the query */
    assert_non_null(strstr(test_log_buf, "/v26.0/me -> 200"));
    assert_null(strstr(test_log_buf, "secret"));
}

static void test_http_post_and_status(void **state)
{
    test_server_t s = {0};
    igraph_http_req_t req = {0};
    igraph_http_resp_t *resp;

    s.resp[0] = test_http_resp(test_pool, "400 Bad Request", NULL, "{\"error\":{\"code\":100}}");
    s.resp[1] = "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/elsewhere\r\n"
                "Content-Length: 0\r\nConnection: close\r\n\r\n";
    s.resp[2] = "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
    s.nresp = 3;
    test_server_start(&s, test_pool);
    req.method = "POST";
    req.url = test_server_url(&s, "/oauth/access_token");
    req.body = "a=1&b=2";
    req.body_len = 7;
    assert_int_equal(igraph_http_perform(test_pool, &req, &resp), APR_SUCCESS);
    assert_int_equal(resp->status, 400);
    assert_string_equal(resp->body, "{\"error\":{\"code\":100}}");

    /* redirects are returned, not followed */
    memset(&req, 0, sizeof(req));
    req.url = test_server_url(&s, "/r");
    assert_int_equal(igraph_http_perform(test_pool, &req, &resp), APR_SUCCESS);
    assert_int_equal(resp->status, 302);
    assert_string_equal(apr_table_get(resp->headers, "Location"), "http://127.0.0.1:1/elsewhere");

    /* empty body: still a NUL-terminated string */
    req.method = "DELETE";
    req.url = test_server_url(&s, "/v26.0/me/permissions");
    assert_int_equal(igraph_http_perform(test_pool, &req, &resp), APR_SUCCESS);
    assert_int_equal(resp->status, 204);
    assert_non_null(resp->body);
    assert_int_equal(resp->len, 0);
    test_server_stop(&s);

    assert_string_equal(test_req_line(&s, 0), "POST /oauth/access_token HTTP/1.1");
    assert_non_null(strstr(s.req[0], "\r\nContent-Type: application/x-www-form-urlencoded\r\n"));
    assert_null(strstr(s.req[0], "Expect:"));
    assert_string_equal(test_req_body(&s, 0), "a=1&b=2");
    assert_string_equal(test_req_line(&s, 2), "DELETE /v26.0/me/permissions HTTP/1.1");
}

static void test_http_max_body(void **state)
{
    test_server_t s = {0};
    igraph_http_req_t req = {0};
    igraph_http_resp_t *resp;
    char body[201];

    memset(body, 'x', 200);
    body[200] = '\0';
    /* announced by Content-Length, and streamed without one */
    s.resp[0] = test_http_resp(test_pool, "200 OK", NULL, body);
    s.resp[1] = apr_pstrcat(test_pool, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", body, NULL);
    s.resp[2] = test_http_resp(test_pool, "200 OK", NULL, body);
    s.nresp = 3;
    test_server_start(&s, test_pool);
    req.url = test_server_url(&s, "/big");
    req.max_body = 100;
    assert_int_equal(igraph_http_perform(test_pool, &req, &resp), APR_ENOSPC);
    assert_int_equal(resp->status, 0);
    assert_non_null(resp->error);
    assert_non_null(resp->body);
    assert_int_equal(igraph_http_perform(test_pool, &req, &resp), APR_ENOSPC);
    assert_int_equal(resp->status, 0);
    req.max_body = 200; /* exactly at the limit is fine */
    assert_int_equal(igraph_http_perform(test_pool, &req, &resp), APR_SUCCESS);
    assert_int_equal(resp->len, 200);
    test_server_stop(&s);
}

static void test_http_refused(void **state)
{
    igraph_http_req_t req = {0};
    igraph_http_resp_t *resp;

    req.url = apr_psprintf(test_pool, "http://127.0.0.1:%d/x", test_unused_port());
    assert_int_equal(igraph_http_perform(test_pool, &req, &resp), APR_ECONNREFUSED);
    assert_int_equal(resp->status, 0);
    assert_non_null(resp->error);
    assert_non_null(resp->body);

    req.url = "ftp://127.0.0.1/x";
    assert_int_equal(igraph_http_perform(test_pool, &req, &resp), APR_EGENERAL);
    assert_int_equal(resp->status, 0);

    req.url = "http://127.0.0.1:1/x";
    req.headers = apr_table_make(test_pool, 1);
    apr_table_set(req.headers, "X-Evil", "a\r\nHost: b");
    assert_int_equal(igraph_http_perform(test_pool, &req, &resp), APR_EGENERAL);
}

static void test_http_timeout_and_abort(void **state)
{
    test_server_t s = {0};
    igraph_http_req_t req = {0};
    igraph_http_resp_t *resp;
    volatile int flag = 1;

    s.hang = 1;
    test_server_start(&s, test_pool);
    req.url = test_server_url(&s, "/slow");
    req.timeout_ms = 300;
    assert_int_equal(igraph_http_perform(test_pool, &req, &resp), APR_TIMEUP);
    assert_int_equal(resp->status, 0);
    test_server_stop(&s);

    memset(&s, 0, sizeof(s));
    s.hang = 1;
    test_server_start(&s, test_pool);
    req.url = test_server_url(&s, "/slow");
    req.timeout_ms = 5000;
    req.abort_flag = &flag;
    assert_int_equal(igraph_http_perform(test_pool, &req, &resp), APR_ECONNABORTED);
    assert_int_equal(resp->status, 0);
    test_server_poke(&s); /* curl may have given up before connecting */
    test_server_stop(&s);
}

/* ---- Graph calls over HTTP --------------------------------------------------------------------
 */

static igraph_graph_t *local_graph(const test_server_t *s)
{
    igraph_graph_t *g = fixed_graph();
    const char *base = test_server_url(s, "");
    g->fb_graph_base = base;
    g->ig_api_base = base;
    g->ig_graph_base = base;
    g->timeout_ms = 5000;
    return g;
}

/* hex HMAC-SHA256(key "fb-app-secret", "EAAJfakeUserToken") */
#define PROOF "8d2792f1164993c472181fec17c55460d5d685ac651a949770b06e3c69f475d4"

static void test_graph_list_pages_paging(void **state)
{
    test_server_t s = {0};
    igraph_graph_t *g;
    igraph_gerr_t err;
    apr_array_header_t *pages;
    const char *base;

    test_server_listen(&s, test_pool);
    base = test_server_url(&s, "");
    s.resp[0] =
        test_http_resp(test_pool, "200 OK", NULL,
                       apr_psprintf(test_pool,
                                    "{\"data\":[{\"id\":\"1\",\"name\":\"A\",\"access_token\":"
                                    "\"EAAJp1\",\"tasks\":[\"MANAGE\"],"
                                    "\"instagram_business_account\":{\"id\":"
                                    "17841400000000001,\"username\":\"a\"}}],"
                                    "\"paging\":{\"next\":\"%s/v26.0/100/accounts?access_"
                                    "token=EAAJfakeUserToken&limit=100&after=c1\"}}",
                                    base));
    /* an empty page that still has a next link, this time without a token in it */
    s.resp[1] = test_http_resp(
        test_pool, "200 OK", NULL,
        apr_psprintf(test_pool,
                     "{\"data\":[],\"paging\":{\"next\":\"%s/v26.0/100/accounts?after=c2\"}}",
                     base));
    s.resp[2] =
        test_http_resp(test_pool, "200 OK", NULL, "{\"data\":[{\"id\":\"2\",\"name\":\"B\"}]}");
    s.nresp = 3;
    test_server_run(&s);
    g = local_graph(&s);
    assert_int_equal(igraph_fb_list_pages(g, test_pool, "EAAJfakeUserToken", &pages, &err),
                     APR_SUCCESS);
    test_server_stop(&s);

    assert_int_equal(err.cls, IGRAPH_ERR_NONE);
    assert_int_equal(pages->nelts, 2);
    assert_string_equal(APR_ARRAY_IDX(pages, 0, igraph_page_t *)->ig_id, "17841400000000001");
    assert_string_equal(APR_ARRAY_IDX(pages, 1, igraph_page_t *)->id, "2");
    assert_int_equal(s.nreq, 3);
    /* first request: token in the header only, proof as parameter */
    assert_non_null(strstr(test_req_line(&s, 0), "GET /v26.0/me/accounts?fields="));
    assert_non_null(strstr(test_req_line(&s, 0), "&limit=100&appsecret_proof=" PROOF " HTTP/1.1"));
    assert_null(strstr(test_req_line(&s, 0), "access_token="));
    assert_non_null(strstr(s.req[0], "\r\nAuthorization: Bearer EAAJfakeUserToken\r\n"));
    /* second: Meta's link verbatim, no second copy of the token */
    assert_string_equal(test_req_line(&s, 1),
                        "GET /v26.0/100/accounts?access_token=EAAJfakeUserToken"
                        "&limit=100&after=c1 HTTP/1.1");
    assert_null(strstr(s.req[1], "Authorization:"));
    /* third: the link has no token, so header and proof are added */
    assert_string_equal(test_req_line(&s, 2),
                        "GET /v26.0/100/accounts?after=c2&appsecret_proof=" PROOF " HTTP/1.1");
    assert_non_null(strstr(s.req[2], "\r\nAuthorization: Bearer EAAJfakeUserToken\r\n"));
    assert_logs_clean();
}

static void test_graph_paging_limits(void **state)
{
    test_server_t s = {0};
    igraph_graph_t *g;
    igraph_gerr_t err;
    apr_array_header_t *pages;
    const char *base, *page;

    /* a next link to another host ends the list */
    test_server_listen(&s, test_pool);
    s.resp[0] = test_http_resp(test_pool, "200 OK", NULL,
                               apr_psprintf(test_pool,
                                            "{\"data\":[{\"id\":\"1\"}],\"paging\":{\"next\":"
                                            "\"%s.evil.example/v26.0/x?after=1\"}}",
                                            test_server_url(&s, "")));
    s.nresp = 1;
    test_server_run(&s);
    g = local_graph(&s);
    assert_int_equal(igraph_fb_list_pages(g, test_pool, "EAAJfakeUserToken", &pages, &err),
                     APR_SUCCESS);
    test_server_stop(&s);
    assert_int_equal(pages->nelts, 1);
    assert_int_equal(s.nreq, 1);

    /* max_pages bounds an endless list: 1 + 2 requests */
    memset(&s, 0, sizeof(s));
    test_server_listen(&s, test_pool);
    base = test_server_url(&s, "");
    page = test_http_resp(test_pool, "200 OK", NULL,
                          apr_psprintf(test_pool,
                                       "{\"data\":[{\"id\":\"1\"}],\"paging\":{\"next\":"
                                       "\"%s/v26.0/x?access_token=EAAJfakeUserToken&after=1\"}}",
                                       base));
    s.resp[0] = s.resp[1] = s.resp[2] = page;
    s.nresp = 3;
    test_server_run(&s);
    g = local_graph(&s);
    g->max_pages = 2;
    assert_int_equal(igraph_fb_list_pages(g, test_pool, "EAAJfakeUserToken", &pages, &err),
                     APR_SUCCESS);
    test_server_stop(&s);
    assert_int_equal(pages->nelts, 3);
    assert_int_equal(s.nreq, 3);
    assert_logs_clean();
}

static void test_graph_errors(void **state)
{
    test_server_t s = {0};
    igraph_graph_t *g;
    igraph_gerr_t err;
    igraph_token_t tok;
    const char *granted;

    test_server_listen(&s, test_pool);
    s.resp[0] = test_http_resp(test_pool, "400 Bad Request", NULL,
                               "{\"error\":{\"message\":\"This authorization code has been used.\","
                               "\"type\":\"OAuthException\",\"code\":100,\"error_subcode\":36009,"
                               "\"fbtrace_id\":\"Fx\"}}");
    s.resp[1] = test_http_resp(test_pool, "200 OK", NULL, "{\"token_type\":\"bearer\"}");
    s.resp[2] =
        test_http_resp(test_pool, "400 Bad Request",
                       "X-Business-Use-Case-Usage: {\"17841400000000001\":[{\"type\":\"instagram\","
                       "\"call_count\":100,\"total_cputime\":3,\"total_time\":4,"
                       "\"estimated_time_to_regain_access\":5}]}\r\n",
                       "{\"error\":{\"message\":\"limit\",\"code\":80002}}");
    s.resp[3] = test_http_resp(test_pool, "429 Too Many Requests",
                               "X-App-Usage: {broken\r\nRetry-After: 120\r\n",
                               "{\"error\":{\"message\":\"limit\",\"code\":4}}");
    s.resp[4] = "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\nContent-Length: 14\r\n"
                "Connection: close\r\n\r\n<h1>oops</h1>\n";
    s.nresp = 5;
    test_server_run(&s);
    g = local_graph(&s);

    assert_int_equal(
        igraph_fb_exchange_code(g, test_pool, "AQDcode#_", "https://example.org/cb", &tok, &err),
        APR_EGENERAL);
    assert_int_equal(err.cls, IGRAPH_ERR_OAUTH);
    assert_int_equal(err.http_status, 400);
    assert_int_equal(err.subcode, 36009);
    assert_null(tok.access_token);

    assert_int_equal(igraph_fb_long_lived(g, test_pool, "EAAJfakeUserToken", &tok, &err),
                     APR_EGENERAL);
    assert_int_equal(err.cls, IGRAPH_ERR_SERVER);
    assert_int_equal(err.http_status, 200);
    assert_string_equal(err.message, "unexpected response: missing access_token");

    assert_int_equal(igraph_fb_permissions(g, test_pool, "EAAJfakeUserToken", &granted, &err),
                     APR_EGENERAL);
    assert_int_equal(err.cls, IGRAPH_ERR_RATE_LIMIT);
    assert_int_equal(err.retry_after, 300);
    assert_null(granted);

    assert_int_equal(igraph_ig_refresh(g, test_pool, "IGAAlong", &tok, &err), APR_EGENERAL);
    assert_int_equal(err.cls, IGRAPH_ERR_RATE_LIMIT);
    assert_int_equal(err.http_status, 429);
    assert_int_equal(err.retry_after, 120);

    assert_int_equal(igraph_ig_refresh(g, test_pool, "IGAAlong", &tok, &err), APR_EGENERAL);
    assert_int_equal(err.cls, IGRAPH_ERR_SERVER);
    assert_string_equal(err.message, "HTTP 502");
    test_server_stop(&s);

    /* the code exchange sent the code without its "#_" and the secret as documented */
    assert_non_null(strstr(test_req_line(&s, 0), "GET /v26.0/oauth/access_token?client_id="
                                                 "1234567890123456&redirect_uri=https%3A%2F%2F"
                                                 "example.org%2Fcb&client_secret=fb-app-secret"
                                                 "&code=AQDcode HTTP/1.1"));
    assert_null(strstr(s.req[0], "appsecret_proof"));
    assert_null(strstr(s.req[0], "Authorization:"));
    assert_non_null(strstr(test_req_line(&s, 1), "grant_type=fb_exchange_token&client_id="
                                                 "1234567890123456&client_secret=fb-app-secret"
                                                 "&fb_exchange_token=EAAJfakeUserToken"));
    assert_string_equal(test_req_line(&s, 2),
                        "GET /v26.0/me/permissions?appsecret_proof=" PROOF " HTTP/1.1");
    assert_string_equal(test_req_line(&s, 3),
                        "GET /refresh_access_token?grant_type=ig_refresh_token"
                        "&access_token=IGAAlong HTTP/1.1");
    assert_logs_clean();

    /* transport */
    g->fb_graph_base = apr_psprintf(test_pool, "http://127.0.0.1:%d", test_unused_port());
    assert_int_equal(igraph_fb_permissions(g, test_pool, "EAAJfakeUserToken", &granted, &err),
                     APR_ECONNREFUSED);
    assert_int_equal(err.cls, IGRAPH_ERR_TRANSPORT);
    assert_int_equal(err.http_status, 0);
    assert_non_null(err.message);

    /* missing arguments never reach the network */
    assert_int_equal(igraph_ig_me(g, test_pool, NULL, &(igraph_profile_t){0}, &err), APR_EINVAL);
    assert_int_equal(err.cls, IGRAPH_ERR_INVALID);
}

static void test_graph_instagram_login(void **state)
{
    test_server_t s = {0};
    igraph_graph_t *g;
    igraph_gerr_t err;
    igraph_token_t tok;
    igraph_profile_t prof;

    test_server_listen(&s, test_pool);
    s.resp[0] =
        test_http_resp(test_pool, "200 OK", NULL,
                       "{\"access_token\": \"IGAAfakeShort\", \"user_id\": 27640875392278831, "
                       "\"permissions\": [\"instagram_business_basic\", "
                       "\"instagram_business_content_publish\"]}");
    s.resp[1] = test_http_resp(test_pool, "200 OK", NULL,
                               "{\"access_token\":\"IGAAfakeLong\",\"token_type\":\"bearer\","
                               "\"expires_in\":5183944}");
    s.resp[2] =
        test_http_resp(test_pool, "200 OK", NULL,
                       "{\"data\":[{\"user_id\":\"17841400000000001\",\"username\":\"acme\","
                       "\"account_type\":\"BUSINESS\",\"id\":\"9876543210987654\"}]}");
    s.nresp = 3;
    test_server_run(&s);
    g = local_graph(&s);

    assert_int_equal(igraph_ig_exchange_code(g, test_pool, "AQDcodeX%23_",
                                             "https://example.org/ig/cb", &tok, &err),
                     APR_SUCCESS);
    assert_int_equal(err.cls, IGRAPH_ERR_NONE);
    assert_string_equal(tok.access_token, "IGAAfakeShort");
    assert_string_equal(tok.user_id, "27640875392278831");
    assert_string_equal(tok.permissions,
                        "instagram_business_basic,instagram_business_content_publish");

    assert_int_equal(igraph_ig_long_lived(g, test_pool, tok.access_token, &tok, &err), APR_SUCCESS);
    assert_string_equal(tok.access_token, "IGAAfakeLong");
    assert_int_equal(tok.expires_in, 5183944);

    assert_int_equal(igraph_ig_me(g, test_pool, tok.access_token, &prof, &err), APR_SUCCESS);
    assert_string_equal(prof.user_id, "17841400000000001");
    assert_string_equal(prof.id, "9876543210987654");
    assert_string_equal(prof.account_type, "BUSINESS");
    test_server_stop(&s);

    assert_string_equal(test_req_line(&s, 0), "POST /oauth/access_token HTTP/1.1");
    assert_string_equal(test_req_body(&s, 0),
                        "client_id=990602627938098&client_secret=ig-app-secret"
                        "&grant_type=authorization_code"
                        "&redirect_uri=https%3A%2F%2Fexample.org%2Fig%2Fcb&code=AQDcodeX");
    assert_string_equal(test_req_line(&s, 1),
                        "GET /access_token?grant_type=ig_exchange_token"
                        "&client_secret=ig-app-secret&access_token=IGAAfakeShort"
                        " HTTP/1.1");
    assert_string_equal(test_req_line(&s, 2), "GET /v26.0/me?fields=user_id%2Cusername%2Cname%2C"
                                              "account_type%2Cprofile_picture_url HTTP/1.1");
    assert_non_null(strstr(s.req[2], "\r\nAuthorization: Bearer IGAAfakeLong\r\n"));
    assert_null(strstr(s.req[2], "appsecret_proof"));
    assert_logs_clean();
}

static void test_graph_page_account_and_profile(void **state)
{
    test_server_t s = {0};
    igraph_graph_t *g;
    igraph_gerr_t err;
    igraph_profile_t prof;
    const char *ig_id, *ig_user;

    test_server_listen(&s, test_pool);
    s.resp[0] = test_http_resp(test_pool, "200 OK", NULL,
                               "{\"instagram_business_account\":{\"id\":\"17841400000000001\","
                               "\"username\":\"acme.bakery\"},\"id\":\"108000000000001\"}");
    s.resp[1] = test_http_resp(test_pool, "200 OK", NULL, "{\"id\":\"108000000000002\"}");
    s.resp[2] = test_http_resp(test_pool, "200 OK", NULL,
                               "{\"username\":\"acme.bakery\",\"name\":\"Acme Bakery\","
                               "\"id\":\"17841400000000001\"}");
    s.resp[3] = test_http_resp(test_pool, "200 OK", NULL, "{\"username\":\"acme.bakery\"}");
    s.nresp = 4;
    test_server_run(&s);
    g = local_graph(&s);
    g->fb_appsecret_proof = 0;

    assert_int_equal(igraph_fb_page_ig_account(g, test_pool, "108000000000001", "EAAJpage1", &ig_id,
                                               &ig_user, &err),
                     APR_SUCCESS);
    assert_string_equal(ig_id, "17841400000000001");
    assert_string_equal(ig_user, "acme.bakery");
    assert_int_equal(igraph_fb_page_ig_account(g, test_pool, "108000000000002", "EAAJpage2", &ig_id,
                                               &ig_user, &err),
                     APR_SUCCESS);
    assert_null(ig_id);
    assert_null(ig_user);

    assert_int_equal(
        igraph_fb_ig_profile(g, test_pool, "17841400000000001", "EAAJpage1", &prof, &err),
        APR_SUCCESS);
    assert_string_equal(prof.id, "17841400000000001");
    assert_string_equal(prof.name, "Acme Bakery");
    assert_null(prof.picture_url);
    /* a success body without the required id */
    assert_int_equal(
        igraph_fb_ig_profile(g, test_pool, "17841400000000001", "EAAJpage1", &prof, &err),
        APR_EGENERAL);
    assert_int_equal(err.cls, IGRAPH_ERR_SERVER);
    assert_string_equal(err.message, "unexpected response: missing id");
    test_server_stop(&s);

    assert_string_equal(test_req_line(&s, 0),
                        "GET /v26.0/108000000000001?fields="
                        "instagram_business_account%7Bid%2Cusername%7D HTTP/1.1");
    assert_non_null(strstr(s.req[0], "\r\nAuthorization: Bearer EAAJpage1\r\n"));
    assert_string_equal(test_req_line(&s, 2), "GET /v26.0/17841400000000001?fields=id%2Cusername%2C"
                                              "name%2Cprofile_picture_url HTTP/1.1");
    assert_logs_clean();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_class_names, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_classify_success_and_transport, test_pool_setup,
                                        test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_classify_not_json, test_pool_setup,
                                        test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_classify_flat_ig, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_classify_reauth, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_classify_code_as_string, test_pool_setup,
                                        test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_classify_publishing, test_pool_setup,
                                        test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_classify_generic, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_classify_message, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_parse_token_ig_shapes, test_pool_setup,
                                        test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_parse_token_fb, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_parse_pages, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_parse_permissions, test_pool_setup,
                                        test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_parse_profile, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_strip_code_suffix, test_pool_setup,
                                        test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_login_urls, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_http_basic, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_http_post_and_status, test_pool_setup,
                                        test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_http_max_body, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_http_refused, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_http_timeout_and_abort, test_pool_setup,
                                        test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_graph_list_pages_paging, test_pool_setup,
                                        test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_graph_paging_limits, test_pool_setup,
                                        test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_graph_errors, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_graph_instagram_login, test_pool_setup,
                                        test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_graph_page_account_and_profile, test_pool_setup,
                                        test_pool_teardown),
    };
    int rc;

    apr_initialize();
    igraph_http_global_init(NULL);
    test_log_capture(IGRAPH_LOG_TRACE1, NULL);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    igraph_http_global_cleanup();
    apr_terminate();
    return rc;
}
