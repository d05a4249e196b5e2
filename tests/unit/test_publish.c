/* test_publish.c: unit tests for the content-publishing calls of igraph_graph.c (container
 * creation, status, media_publish, read-back, publishing limit) against a tiny in-process HTTP
 * server, and the pure igraph_status_error_subcode(). */
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
#include "igraph_log.h"
#include "igraph_http.h"
#include "support.h"

/* ---- log capture: no token may reach the log ---------------------------------------------- */

static void assert_logs_clean(void)
{
    static const char *const secrets[] = {
        "EAAJ", "IGAA", "fb-app-secret", "appsecret_proof", "access_token", "?", NULL};

    test_log_assert_clean(secrets);
}

/* ---- the calls ------------------------------------------------------------------------------ */

/* fb_graph_base and ig_graph_base on the same server, told apart by a path prefix. */
static igraph_graph_t *local_graph(const test_server_t *s)
{
    igraph_graph_t *g = apr_pcalloc(test_pool, sizeof(*g));
    g->fb_graph_base = test_server_url(s, "/fb/");
    g->ig_graph_base = test_server_url(s, "/ig");
    g->version = "v26.0";
    g->app_id = "1234567890123456";
    g->app_secret = "fb-app-secret";
    g->fb_appsecret_proof = 1;
    g->timeout_ms = 5000;
    return g;
}

/* hex HMAC-SHA256(key "fb-app-secret", "EAAJpage") */
#define PROOF_PAGE "d08e02bd3c4b9bc7c78f88caa9b19d4061c56241113c1189c1430570e7097cac"

#define IGU "17841400000000001"
#define CONT "17889455560051445"

static void test_create_container(void **state)
{
    test_server_t s = {0};
    igraph_graph_t *g;
    igraph_gerr_t err;
    apr_table_t *params;
    const char *id, *body;

    test_server_listen(&s, test_pool);
    s.resp[0] = test_http_resp(test_pool, "200 OK", NULL, "{\"id\":\"" CONT "\"}");
    s.resp[1] = test_http_resp(test_pool, "200 OK", NULL, "{\"id\":17889455560051446}");
    s.resp[2] = test_http_resp(test_pool, "200 OK", NULL, "{\"uri\":\"x\"}");
    s.resp[3] =
        test_http_resp(test_pool, "400 Bad Request", NULL,
                       "{\"error\":{\"message\":\"Only photo or video can be accepted as media "
                       "type.\",\"type\":\"OAuthException\",\"code\":9004,\"error_subcode\":"
                       "2207052,\"fbtrace_id\":\"A1\"}}");
    s.nresp = 4;
    test_server_run(&s);
    g = local_graph(&s);

    params = apr_table_make(test_pool, 8);
    apr_table_set(params, "media_type", "REELS");
    apr_table_set(params, "video_url", "https://cdn.example.org/v/7.mp4");
    apr_table_set(params, "caption", "Behind the oven #acme");
    apr_table_set(params, "share_to_feed", "true");
    apr_table_set(params, "cover_url", ""); /* empty values are not sent */
    apr_table_set(params, "collaborators", "[\"friend.shop\"]");
    assert_int_equal(igraph_create_container(g, test_pool, IGRAPH_LOGIN_FACEBOOK, IGU, "EAAJpage",
                                             params, &id, &err),
                     APR_SUCCESS);
    assert_string_equal(id, CONT);
    assert_int_equal(err.cls, IGRAPH_ERR_NONE);

    /* Instagram Login: graph.instagram.com, no proof; a numeric id is accepted */
    params = apr_table_make(test_pool, 2);
    apr_table_set(params, "image_url", "https://cdn.example.org/p/42.jpg");
    assert_int_equal(igraph_create_container(g, test_pool, IGRAPH_LOGIN_INSTAGRAM, IGU, "IGAAtoken",
                                             params, &id, &err),
                     APR_SUCCESS);
    assert_string_equal(id, "17889455560051446");

    /* a 200 without an id */
    assert_int_equal(igraph_create_container(g, test_pool, IGRAPH_LOGIN_INSTAGRAM, IGU, "IGAAtoken",
                                             params, &id, &err),
                     APR_EGENERAL);
    assert_int_equal(err.cls, IGRAPH_ERR_SERVER);
    assert_null(id);

    assert_int_equal(igraph_create_container(g, test_pool, IGRAPH_LOGIN_INSTAGRAM, IGU, "IGAAtoken",
                                             params, &id, &err),
                     APR_EGENERAL);
    assert_int_equal(err.cls, IGRAPH_ERR_MEDIA);
    assert_int_equal(err.code, 9004);
    assert_int_equal(err.subcode, 2207052);
    test_server_stop(&s);

    assert_string_equal(test_req_line(&s, 0), "POST /fb/v26.0/" IGU "/media HTTP/1.1");
    body = test_req_body(&s, 0);
    assert_string_equal(body, "media_type=REELS&video_url=https%3A%2F%2Fcdn.example.org%2Fv%2F7.mp4"
                              "&caption=Behind%20the%20oven%20%23acme&share_to_feed=true"
                              "&collaborators=%5B%22friend.shop%22%5D"
                              "&appsecret_proof=" PROOF_PAGE);
    assert_non_null(strstr(s.req[0], "\r\nAuthorization: Bearer EAAJpage\r\n"));
    assert_non_null(strstr(s.req[0], "\r\nContent-Type: application/x-www-form-urlencoded\r\n"));
    assert_string_equal(test_req_line(&s, 1), "POST /ig/v26.0/" IGU "/media HTTP/1.1");
    assert_string_equal(test_req_body(&s, 1),
                        "image_url=https%3A%2F%2Fcdn.example.org%2Fp%2F42.jpg");
    assert_null(strstr(s.req[1], "appsecret_proof"));
    assert_non_null(strstr(s.req[1], "\r\nAuthorization: Bearer IGAAtoken\r\n"));
    assert_logs_clean();
}

static void test_container_status(void **state)
{
    test_server_t s = {0};
    igraph_graph_t *g;
    igraph_gerr_t err;
    const char *code, *text;

    test_server_listen(&s, test_pool);
    s.resp[0] =
        test_http_resp(test_pool, "200 OK", NULL,
                       "{\"status_code\": \"IN_PROGRESS\", \"status\": \"In Progress: Media is "
                       "still being processed.\", \"id\": \"" CONT "\"}");
    s.resp[1] = test_http_resp(test_pool, "200 OK", NULL,
                               "{\"status_code\": \"ERROR\", \"status\": \"Error: Media upload has "
                               "failed with error code 2207026\", \"id\": \"" CONT "\"}");
    s.resp[2] = test_http_resp(test_pool, "200 OK", NULL,
                               "{\"status_code\":\"FINISHED\",\"id\":\"" CONT "\"}");
    s.resp[3] = test_http_resp(test_pool, "200 OK", NULL, "{\"id\":\"" CONT "\"}");
    s.resp[4] = test_http_resp(test_pool, "400 Bad Request", NULL,
                               "{\"error\":{\"message\":\"Error validating access token\","
                               "\"type\":\"OAuthException\",\"code\":190,\"error_subcode\":463}}");
    s.nresp = 5;
    test_server_run(&s);
    g = local_graph(&s);

    assert_int_equal(igraph_container_status(g, test_pool, IGRAPH_LOGIN_FACEBOOK, CONT, "EAAJpage",
                                             &code, &text, &err),
                     APR_SUCCESS);
    assert_string_equal(code, "IN_PROGRESS");
    assert_string_equal(text, "In Progress: Media is still being processed.");

    assert_int_equal(igraph_container_status(g, test_pool, IGRAPH_LOGIN_INSTAGRAM, CONT,
                                             "IGAAtoken", &code, &text, &err),
                     APR_SUCCESS);
    assert_string_equal(code, "ERROR");
    assert_int_equal(igraph_status_error_subcode(text), 2207026);

    assert_int_equal(igraph_container_status(g, test_pool, IGRAPH_LOGIN_INSTAGRAM, CONT,
                                             "IGAAtoken", &code, &text, &err),
                     APR_SUCCESS);
    assert_string_equal(code, "FINISHED");
    assert_null(text);

    assert_int_equal(igraph_container_status(g, test_pool, IGRAPH_LOGIN_INSTAGRAM, CONT,
                                             "IGAAtoken", &code, &text, &err),
                     APR_EGENERAL);
    assert_int_equal(err.cls, IGRAPH_ERR_SERVER);
    assert_string_equal(err.message, "unexpected response: missing status_code");
    assert_null(code);

    assert_int_equal(igraph_container_status(g, test_pool, IGRAPH_LOGIN_INSTAGRAM, CONT,
                                             "IGAAtoken", &code, &text, &err),
                     APR_EGENERAL);
    assert_int_equal(err.cls, IGRAPH_ERR_REAUTH);
    test_server_stop(&s);

    assert_string_equal(test_req_line(&s, 0), "GET /fb/v26.0/" CONT "?fields=status_code%2Cstatus"
                                              "&appsecret_proof=" PROOF_PAGE " HTTP/1.1");
    assert_non_null(strstr(s.req[0], "\r\nAuthorization: Bearer EAAJpage\r\n"));
    assert_string_equal(test_req_line(&s, 1),
                        "GET /ig/v26.0/" CONT "?fields=status_code%2Cstatus HTTP/1.1");
    assert_logs_clean();
}

static void test_media_publish(void **state)
{
    test_server_t s = {0};
    igraph_graph_t *g;
    igraph_gerr_t err;
    const char *media;

    test_server_listen(&s, test_pool);
    s.resp[0] = test_http_resp(test_pool, "200 OK", NULL, "{\"id\": \"17918920912340654\"}");
    s.resp[1] =
        test_http_resp(test_pool, "400 Bad Request", NULL,
                       "{\"error\":{\"message\":\"The media is not ready for publishing, please "
                       "wait for a moment\",\"type\":\"OAuthException\",\"code\":9007,"
                       "\"error_subcode\":2207027,\"is_transient\":false}}");
    s.resp[2] = test_http_resp(test_pool, "400 Bad Request", NULL,
                               "{\"error\":{\"message\":\"Application request limit reached\","
                               "\"code\":9,\"error_subcode\":2207042}}");
    s.resp[3] =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    s.resp[4] = test_http_resp(test_pool, "200 OK", NULL, "{\"success\":true}");
    s.nresp = 5;
    test_server_run(&s);
    g = local_graph(&s);

    assert_int_equal(igraph_media_publish(g, test_pool, IGRAPH_LOGIN_FACEBOOK, IGU, "EAAJpage",
                                          CONT, &media, &err),
                     APR_SUCCESS);
    assert_string_equal(media, "17918920912340654");
    assert_int_equal(igraph_media_publish(g, test_pool, IGRAPH_LOGIN_INSTAGRAM, IGU, "IGAAtoken",
                                          CONT, &media, &err),
                     APR_EGENERAL);
    assert_int_equal(err.cls, IGRAPH_ERR_NOT_READY);
    assert_null(media);
    assert_int_equal(igraph_media_publish(g, test_pool, IGRAPH_LOGIN_INSTAGRAM, IGU, "IGAAtoken",
                                          CONT, &media, &err),
                     APR_EGENERAL);
    assert_int_equal(err.cls, IGRAPH_ERR_QUOTA);
    assert_int_equal(igraph_media_publish(g, test_pool, IGRAPH_LOGIN_INSTAGRAM, IGU, "IGAAtoken",
                                          CONT, &media, &err),
                     APR_EGENERAL);
    assert_int_equal(err.cls, IGRAPH_ERR_SERVER);
    assert_int_equal(err.http_status, 503);
    /* a 2xx without a media id is not a success the caller could trust */
    assert_int_equal(igraph_media_publish(g, test_pool, IGRAPH_LOGIN_INSTAGRAM, IGU, "IGAAtoken",
                                          CONT, &media, &err),
                     APR_EGENERAL);
    assert_int_equal(err.cls, IGRAPH_ERR_SERVER);
    test_server_stop(&s);

    assert_string_equal(test_req_line(&s, 0), "POST /fb/v26.0/" IGU "/media_publish HTTP/1.1");
    assert_string_equal(test_req_body(&s, 0), "creation_id=" CONT "&appsecret_proof=" PROOF_PAGE);
    assert_string_equal(test_req_line(&s, 1), "POST /ig/v26.0/" IGU "/media_publish HTTP/1.1");
    assert_string_equal(test_req_body(&s, 1), "creation_id=" CONT);
    assert_logs_clean();

    /* no HTTP answer at all */
    g->ig_graph_base = apr_psprintf(test_pool, "http://127.0.0.1:%d", test_unused_port());
    assert_int_equal(igraph_media_publish(g, test_pool, IGRAPH_LOGIN_INSTAGRAM, IGU, "IGAAtoken",
                                          CONT, &media, &err),
                     APR_ECONNREFUSED);
    assert_int_equal(err.cls, IGRAPH_ERR_TRANSPORT);
    assert_int_equal(err.http_status, 0);
}

static void test_media_read(void **state)
{
    test_server_t s = {0};
    igraph_graph_t *g;
    igraph_gerr_t err;
    const char *link, *type;

    test_server_listen(&s, test_pool);
    s.resp[0] = test_http_resp(test_pool, "200 OK", NULL,
                               "{\"id\": \"17918920912340654\", \"permalink\": "
                               "\"https://www.instagram.com/reel/DAbCdEfGhIj/\", \"shortcode\": "
                               "\"DAbCdEfGhIj\", \"timestamp\": \"2026-11-02T17:05:11+0000\", "
                               "\"media_type\": \"VIDEO\", \"media_product_type\": \"REELS\"}");
    s.resp[1] =
        test_http_resp(test_pool, "200 OK", NULL,
                       "{\"id\":\"17918920912340655\",\"permalink\":\"javascript:alert(1)\"}");
    s.nresp = 2;
    test_server_run(&s);
    g = local_graph(&s);

    assert_int_equal(igraph_media_read(g, test_pool, IGRAPH_LOGIN_INSTAGRAM, "17918920912340654",
                                       "IGAAtoken", &link, &type, &err),
                     APR_SUCCESS);
    assert_string_equal(link, "https://www.instagram.com/reel/DAbCdEfGhIj/");
    assert_string_equal(type, "REELS");
    assert_int_equal(igraph_media_read(g, test_pool, IGRAPH_LOGIN_FACEBOOK, "17918920912340655",
                                       "EAAJpage", &link, &type, &err),
                     APR_SUCCESS);
    assert_null(link); /* only http(s) links are kept */
    assert_null(type);
    test_server_stop(&s);

    assert_string_equal(test_req_line(&s, 0),
                        "GET /ig/v26.0/17918920912340654?fields=id%2Cpermalink%2Cshortcode%2C"
                        "timestamp%2Cmedia_type%2Cmedia_product_type HTTP/1.1");
    assert_string_equal(test_req_line(&s, 1),
                        "GET /fb/v26.0/17918920912340655?fields=id%2Cpermalink%2Cshortcode%2C"
                        "timestamp%2Cmedia_type%2Cmedia_product_type&appsecret_proof=" PROOF_PAGE
                        " HTTP/1.1");
    assert_logs_clean();
}

static void test_publishing_limit(void **state)
{
    test_server_t s = {0};
    igraph_graph_t *g;
    igraph_gerr_t err;
    apr_int64_t usage, total;

    test_server_listen(&s, test_pool);
    s.resp[0] =
        test_http_resp(test_pool, "200 OK", NULL,
                       "{\"data\": [{\"quota_usage\": 2, \"config\": {\"quota_total\": 100, "
                       "\"quota_duration\": 86400}}]}");
    s.resp[1] = test_http_resp(test_pool, "200 OK", NULL, "{\"data\":[{\"quota_usage\":\"7\"}]}");
    s.resp[2] = test_http_resp(test_pool, "200 OK", NULL, "{\"data\":[]}");
    s.resp[3] = test_http_resp(test_pool, "200 OK", NULL, "{\"quota_usage\":1}");
    s.nresp = 4;
    test_server_run(&s);
    g = local_graph(&s);

    assert_int_equal(igraph_publishing_limit(g, test_pool, IGRAPH_LOGIN_FACEBOOK, IGU, "EAAJpage",
                                             &usage, &total, &err),
                     APR_SUCCESS);
    assert_int_equal(usage, 2);
    assert_int_equal(total, 100);
    assert_int_equal(igraph_publishing_limit(g, test_pool, IGRAPH_LOGIN_INSTAGRAM, IGU, "IGAAtoken",
                                             &usage, &total, &err),
                     APR_SUCCESS);
    assert_int_equal(usage, 7);
    assert_int_equal(total, 0); /* absent: the caller assumes IGRAPH_QUOTA_DEFAULT */
    assert_int_equal(igraph_publishing_limit(g, test_pool, IGRAPH_LOGIN_INSTAGRAM, IGU, "IGAAtoken",
                                             &usage, &total, &err),
                     APR_SUCCESS);
    assert_int_equal(usage, 0);
    assert_int_equal(total, 0);
    assert_int_equal(igraph_publishing_limit(g, test_pool, IGRAPH_LOGIN_INSTAGRAM, IGU, "IGAAtoken",
                                             &usage, &total, &err),
                     APR_EGENERAL);
    assert_int_equal(err.cls, IGRAPH_ERR_SERVER);
    test_server_stop(&s);

    assert_string_equal(test_req_line(&s, 0),
                        "GET /fb/v26.0/" IGU "/content_publishing_limit?fields=quota_usage%2Cconfig"
                        "&appsecret_proof=" PROOF_PAGE " HTTP/1.1");
    assert_string_equal(test_req_line(&s, 1), "GET /ig/v26.0/" IGU "/content_publishing_limit"
                                              "?fields=quota_usage%2Cconfig HTTP/1.1");
    assert_int_equal(IGRAPH_QUOTA_DEFAULT, 50);
    assert_logs_clean();
}

/* Logins outside the enum and bad ids never reach the network (nothing listens on the base). */
static void test_publish_bad_args(void **state)
{
    igraph_graph_t g = {0};
    igraph_gerr_t err;
    apr_table_t *params = apr_table_make(test_pool, 1);
    const char *id, *code, *text, *link, *type;
    apr_int64_t usage, total;

    g.fb_graph_base = "http://127.0.0.1:1";
    g.ig_graph_base = "http://127.0.0.1:1";
    g.version = "v26.0";
    assert_int_equal(
        igraph_create_container(&g, test_pool, (igraph_login_e)2, IGU, "t", params, &id, &err),
        APR_EINVAL);
    assert_int_equal(err.cls, IGRAPH_ERR_INVALID);
    assert_int_equal(
        igraph_create_container(&g, test_pool, (igraph_login_e)-1, IGU, "t", params, &id, &err),
        APR_EINVAL);
    assert_int_equal(igraph_create_container(&g, test_pool, IGRAPH_LOGIN_INSTAGRAM, "../me", "t",
                                             params, &id, &err),
                     APR_EINVAL);
    assert_int_equal(
        igraph_create_container(&g, test_pool, IGRAPH_LOGIN_INSTAGRAM, IGU, "", params, &id, &err),
        APR_EINVAL);
    assert_int_equal(igraph_container_status(&g, test_pool, IGRAPH_LOGIN_INSTAGRAM, "1?x=1", "t",
                                             &code, &text, &err),
                     APR_EINVAL);
    assert_int_equal(
        igraph_media_publish(&g, test_pool, IGRAPH_LOGIN_INSTAGRAM, IGU, "t", "", &id, &err),
        APR_EINVAL);
    assert_int_equal(
        igraph_media_publish(&g, test_pool, IGRAPH_LOGIN_INSTAGRAM, "abc", "t", CONT, &id, &err),
        APR_EINVAL);
    assert_int_equal(
        igraph_media_read(&g, test_pool, IGRAPH_LOGIN_INSTAGRAM, NULL, "t", &link, &type, &err),
        APR_EINVAL);
    assert_int_equal(igraph_publishing_limit(&g, test_pool, IGRAPH_LOGIN_INSTAGRAM, "1/2", "t",
                                             &usage, &total, &err),
                     APR_EINVAL);
    assert_int_equal(err.cls, IGRAPH_ERR_INVALID);
}

static void test_status_error_subcode(void **state)
{
    assert_int_equal(
        igraph_status_error_subcode("Error: Media upload has failed with error code 2207026"),
        2207026);
    assert_int_equal(igraph_status_error_subcode("Error: Media upload has failed with error code "
                                                 "2207076."),
                     2207076);
    assert_int_equal(igraph_status_error_subcode("ERROR: error code: 2207082 (video)"), 2207082);
    assert_int_equal(igraph_status_error_subcode("Error #2207085"), 2207085);
    assert_int_equal(igraph_status_error_subcode("code 9004 subcode 2207052"), 2207052);
    assert_int_equal(igraph_status_error_subcode("2207003"), 2207003);
    /* the last one wins */
    assert_int_equal(igraph_status_error_subcode("2207001 then 2207057"), 2207057);
    /* no 7-digit number, or one glued to letters, or longer ids */
    assert_int_equal(igraph_status_error_subcode("Error: Media upload has failed"), 0);
    assert_int_equal(igraph_status_error_subcode("error code 9004"), 0);
    assert_int_equal(igraph_status_error_subcode("container 17889455560051445 failed"), 0);
    assert_int_equal(igraph_status_error_subcode("v2207026x"), 0);
    assert_int_equal(igraph_status_error_subcode(""), 0);
    assert_int_equal(igraph_status_error_subcode(NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_container, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_container_status, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_media_publish, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_media_read, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_publishing_limit, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_publish_bad_args, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_status_error_subcode, test_pool_setup,
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
