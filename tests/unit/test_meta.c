/* test_meta.c: Meta platform callbacks: signed_request and X-Hub-Signature-256 verification,
 * webhook body flattening, deletion codes (igraph_meta.c), the schema v4 store functions
 * (igraph_store.c) against a fresh SQLite file per test, and igraph_fb_me against a tiny
 * in-process HTTP server.
 *
 * TEST_META_PGSQL="host=... dbname=... user=..." runs the store tests against PostgreSQL instead
 * (each test empties the public schema first; the v3 migration test is SQLite only).
 */
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
#include <apr_lib.h>
#include <apr_strings.h>
#include <curl/curl.h>

#include "igraph_crypto.h"
#include "igraph_graph.h"
#include "igraph_json.h"
#include "igraph_log.h"
#include "igraph_meta.h"
#include "igraph_store.h"
#include "igraph_util.h"
#include "igraph_http.h"
#include "support.h"

#define IG_SECRET "ig-app-secret-0123"
#define FB_SECRET "fb-app-secret-4567"
#define NOW ((apr_int64_t)1793000800)

static const char *const g_secrets[] = {IG_SECRET, FB_SECRET, NULL};

/* ---- log capture: no secret may ever reach the log --------------------------------------- */

static void assert_logs_clean(void)
{
    assert_null(strstr(test_log_buf, IG_SECRET));
    assert_null(strstr(test_log_buf, FB_SECRET));
    assert_null(strstr(test_log_buf, "EAAJ"));
    assert_null(strstr(test_log_buf, "appsecret_proof"));
}

/* ---- signed_request helpers -------------------------------------------------------------- */

/* base64url with '=' padding added to a multiple of 4. */
static const char *padded(apr_pool_t *p, const char *b64)
{
    apr_size_t n = strlen(b64);

    return apr_pstrcat(p, b64, (n % 4 == 2) ? "==" : (n % 4 == 3) ? "=" : "", NULL);
}

/* "<sig>.<payload>" as Meta builds it: the MAC covers the encoded payload text as sent. */
static const char *make_sr(apr_pool_t *p, const char *secret, const char *json, int pad_sig,
                           int pad_payload)
{
    const char *enc = igraph_b64url_encode(p, json, strlen(json));
    unsigned char mac[32];
    const char *sig;

    if (pad_payload) {
        enc = padded(p, enc);
    }
    igraph_hmac_sha256(secret, strlen(secret), enc, strlen(enc), mac);
    sig = igraph_b64url_encode(p, mac, sizeof(mac));
    if (pad_sig) {
        sig = padded(p, sig);
    }
    return apr_pstrcat(p, sig, ".", enc, NULL);
}

static const char *payload_at(apr_pool_t *p, apr_int64_t issued_at)
{
    return apr_psprintf(p,
                        "{\"algorithm\":\"HMAC-SHA256\",\"expires\":%" APR_INT64_T_FMT
                        ",\"issued_at\":%" APR_INT64_T_FMT ",\"user_id\":\"218471\"}",
                        issued_at + 3600, issued_at);
}

static apr_status_t verify(apr_pool_t *p, const char *sr, igraph_json_t **j, int *which,
                           const char **why)
{
    return igraph_signed_request_verify(p, sr, g_secrets, NOW, 600, j, which, why);
}

/* ---- signed_request ---------------------------------------------------------------------- */

static void test_sr_valid(void **state)
{
    apr_pool_t *p = test_root_pool;
    const char *json = payload_at(p, NOW - 5), *why = "x";
    igraph_json_t *j;
    int which, ps, pp;

    for (ps = 0; ps <= 1; ps++) {
        for (pp = 0; pp <= 1; pp++) {
            j = NULL;
            which = 7;
            assert_int_equal(verify(p, make_sr(p, IG_SECRET, json, ps, pp), &j, &which, &why),
                             APR_SUCCESS);
            assert_null(why);
            assert_int_equal(which, 0);
            assert_non_null(j);
            assert_string_equal(igraph_json_get_id(p, j, "user_id", NULL), "218471");

            assert_int_equal(verify(p, make_sr(p, FB_SECRET, json, ps, pp), &j, &which, &why),
                             APR_SUCCESS);
            assert_int_equal(which, 1);
        }
    }
    /* the doc's example payload has spaces; a big numeric user_id stays exact */
    json = "{\"algorithm\": \"HMAC-SHA256\", \"issued_at\": 1793000800, "
           "\"user_id\": 17841400000000001, \"extra\": {\"a\": [1, 2]}}";
    assert_int_equal(verify(p, make_sr(p, FB_SECRET, json, 0, 0), &j, &which, &why), APR_SUCCESS);
    assert_string_equal(igraph_json_get_id(p, j, "user_id", NULL), "17841400000000001");
    /* outputs are optional */
    json = "{\"algorithm\":\"HMAC-SHA256\",\"issued_at\":1793000800,\"user_id\":\"5\"}";
    assert_int_equal(igraph_signed_request_verify(p, make_sr(p, IG_SECRET, json, 0, 0), g_secrets,
                                                  NOW, 600, NULL, NULL, NULL),
                     APR_SUCCESS);
    /* empty secrets are skipped, not matched */
    {
        const char *const secrets[] = {"", FB_SECRET, NULL};
        assert_int_equal(igraph_signed_request_verify(p, make_sr(p, FB_SECRET, json, 0, 0), secrets,
                                                      NOW, 600, NULL, &which, NULL),
                         APR_SUCCESS);
        assert_int_equal(which, 1);
        assert_int_equal(igraph_signed_request_verify(p, make_sr(p, "", json, 0, 0), secrets, NOW,
                                                      600, NULL, &which, &why),
                         APR_EGENERAL);
    }
}

static void test_sr_tampered(void **state)
{
    apr_pool_t *p = test_root_pool;
    const char *sr = make_sr(p, IG_SECRET, payload_at(p, NOW), 0, 0), *why = NULL, *dot, *other;
    igraph_json_t *j = (igraph_json_t *)1;
    int which = 5;
    char *t;

    /* another payload under the old signature */
    dot = strchr(sr, '.');
    other = make_sr(p, IG_SECRET,
                    "{\"algorithm\":\"HMAC-SHA256\",\"issued_at\":1793000800,"
                    "\"user_id\":\"999999\"}",
                    0, 0);
    t = apr_pstrcat(p, apr_pstrmemdup(p, sr, dot - sr), strchr(other, '.'), NULL);
    assert_int_equal(verify(p, t, &j, &which, &why), APR_EGENERAL);
    assert_string_equal(why, "signature does not match");
    assert_null(j);
    assert_int_equal(which, -1);

    /* one character of the signature changed */
    t = apr_pstrdup(p, sr);
    t[3] = t[3] == 'A' ? 'B' : 'A';
    assert_int_equal(verify(p, t, &j, &which, &why), APR_EGENERAL);
    /* one character of the payload changed (still valid base64url) */
    t = apr_pstrdup(p, sr);
    t[strlen(t) - 5] = t[strlen(t) - 5] == 'A' ? 'B' : 'A';
    assert_int_equal(verify(p, t, &j, &which, &why), APR_EGENERAL);
    /* padding is not part of what may be changed freely: the MAC covers the text as sent */
    assert_int_equal(verify(p, apr_pstrcat(p, sr, "==", NULL), &j, &which, &why), APR_EGENERAL);
    /* signed with a secret we do not have */
    assert_int_equal(
        verify(p, make_sr(p, "other-secret", payload_at(p, NOW), 0, 0), &j, &which, &why),
        APR_EGENERAL);
    /* no secret configured at all */
    {
        const char *const none[] = {NULL};
        assert_int_equal(igraph_signed_request_verify(p, sr, none, NOW, 600, &j, &which, &why),
                         APR_EGENERAL);
        assert_string_equal(why, "no app secret configured");
        assert_int_equal(igraph_signed_request_verify(p, sr, NULL, NOW, 600, &j, &which, &why),
                         APR_EGENERAL);
    }
}

static void test_sr_algorithm(void **state)
{
    apr_pool_t *p = test_root_pool;
    const char *why = NULL;
    igraph_json_t *j;
    int which;

    assert_int_equal(verify(p,
                            make_sr(p, IG_SECRET,
                                    "{\"algorithm\":\"HMAC-SHA1\",\"issued_at\":1793000800,"
                                    "\"user_id\":\"1\"}",
                                    0, 0),
                            &j, &which, &why),
                     APR_EGENERAL);
    assert_string_equal(why, "algorithm is not HMAC-SHA256");
    assert_int_equal(
        verify(p, make_sr(p, IG_SECRET, "{\"issued_at\":1793000800,\"user_id\":\"1\"}", 0, 0), &j,
               &which, &why),
        APR_EGENERAL);
    assert_int_equal(verify(p,
                            make_sr(p, IG_SECRET,
                                    "{\"algorithm\":256,\"issued_at\":1793000800,"
                                    "\"user_id\":\"1\"}",
                                    0, 0),
                            &j, &which, &why),
                     APR_EGENERAL);
    assert_int_equal(verify(p,
                            make_sr(p, IG_SECRET,
                                    "{\"algorithm\":\"hmac-sha256\",\"issued_at\":1793000800,"
                                    "\"user_id\":\"1\"}",
                                    0, 0),
                            &j, &which, &why),
                     APR_SUCCESS);
    assert_int_equal(verify(p,
                            make_sr(p, IG_SECRET,
                                    "{\"algorithm\":\"Hmac-Sha256\",\"issued_at\":1793000800,"
                                    "\"user_id\":\"1\"}",
                                    0, 0),
                            &j, &which, &why),
                     APR_SUCCESS);
}

static void test_sr_malformed(void **state)
{
    apr_pool_t *p = test_root_pool;
    const char *sr = make_sr(p, IG_SECRET, payload_at(p, NOW), 0, 0), *why = NULL, *dot;
    igraph_json_t *j;
    unsigned char mac[32];
    char *big;
    int which;

    dot = strchr(sr, '.');
    assert_int_equal(verify(p, NULL, &j, &which, &why), APR_EINVAL);
    assert_int_equal(verify(p, "", &j, &which, &why), APR_EINVAL);
    /* no '.', empty parts */
    assert_int_equal(verify(p, apr_pstrmemdup(p, sr, dot - sr), &j, &which, &why), APR_EINVAL);
    assert_string_equal(why, "signed_request is not <signature>.<payload>");
    assert_int_equal(verify(p, dot, &j, &which, &why), APR_EINVAL);
    assert_int_equal(verify(p, apr_pstrmemdup(p, sr, dot - sr + 1), &j, &which, &why), APR_EINVAL);
    assert_int_equal(verify(p, ".", &j, &which, &why), APR_EINVAL);
    /* bad base64url: standard alphabet, stray characters, whitespace */
    assert_int_equal(verify(p, apr_pstrcat(p, "ab+/", dot, NULL), &j, &which, &why), APR_EINVAL);
    assert_string_equal(why, "signature is not base64url");
    assert_int_equal(
        verify(p, apr_pstrcat(p, apr_pstrmemdup(p, sr, dot - sr), ".e30!", NULL), &j, &which, &why),
        APR_EINVAL);
    assert_string_equal(why, "payload is not base64url");
    assert_int_equal(verify(p, apr_pstrcat(p, " ", sr, NULL), &j, &which, &why), APR_EINVAL);
    /* a second '.' makes the payload invalid base64url */
    assert_int_equal(verify(p, apr_pstrcat(p, sr, ".x", NULL), &j, &which, &why), APR_EINVAL);
    /* signature of the wrong length (16 bytes) */
    igraph_hmac_sha256(IG_SECRET, strlen(IG_SECRET), dot + 1, strlen(dot + 1), mac);
    assert_int_equal(
        verify(p, apr_pstrcat(p, igraph_b64url_encode(p, mac, 16), dot, NULL), &j, &which, &why),
        APR_EINVAL);
    assert_string_equal(why, "signature is not 32 bytes");
    /* correctly signed, but not a JSON object */
    assert_int_equal(verify(p, make_sr(p, IG_SECRET, "not json at all", 0, 0), &j, &which, &why),
                     APR_EINVAL);
    assert_string_equal(why, "payload is not a JSON object");
    assert_int_equal(verify(p, make_sr(p, IG_SECRET, "[1,2]", 0, 0), &j, &which, &why), APR_EINVAL);
    assert_int_equal(verify(p, make_sr(p, IG_SECRET, "{\"a\":1} x", 0, 0), &j, &which, &why),
                     APR_EINVAL);
    assert_int_equal(verify(p, make_sr(p, IG_SECRET, "{\"a\":\"\xff\"}", 0, 0), &j, &which, &why),
                     APR_EINVAL);
    /* no usable user_id */
    assert_int_equal(
        verify(
            p,
            make_sr(p, IG_SECRET, "{\"algorithm\":\"HMAC-SHA256\",\"issued_at\":1793000800}", 0, 0),
            &j, &which, &why),
        APR_EINVAL);
    assert_string_equal(why, "user_id is missing");
    assert_int_equal(
        verify(p,
               make_sr(p, IG_SECRET,
                       "{\"algorithm\":\"HMAC-SHA256\",\"issued_at\":1793000800,\"user_id\":\"\"}",
                       0, 0),
               &j, &which, &why),
        APR_EINVAL);
    assert_int_equal(
        verify(p,
               make_sr(p, IG_SECRET,
                       "{\"algorithm\":\"HMAC-SHA256\",\"issued_at\":1793000800,\"user_id\":[1]}",
                       0, 0),
               &j, &which, &why),
        APR_EINVAL);
    /* huge input: refused before any work, even when correctly signed */
    big = apr_palloc(p, 20001);
    memset(big, 'A', 20000);
    big[20000] = '\0';
    big[43] = '.';
    assert_int_equal(verify(p, big, &j, &which, &why), APR_EINVAL);
    assert_string_equal(why, "signed_request too long");
    {
        char *pad = apr_palloc(p, IGRAPH_SIGNED_REQUEST_MAX);
        memset(pad, 'x', IGRAPH_SIGNED_REQUEST_MAX - 1);
        pad[IGRAPH_SIGNED_REQUEST_MAX - 1] = '\0';
        sr = make_sr(p, IG_SECRET,
                     apr_psprintf(p,
                                  "{\"algorithm\":\"HMAC-SHA256\",\"user_id\":\"1\","
                                  "\"pad\":\"%s\"}",
                                  pad),
                     0, 0);
        assert_true(strlen(sr) > IGRAPH_SIGNED_REQUEST_MAX);
        assert_int_equal(verify(p, sr, &j, &which, &why), APR_EINVAL);
    }
    /* the reasons never quote the input or a secret */
    assert_null(strstr(why, IG_SECRET));
}

static void test_sr_issued_at(void **state)
{
    apr_pool_t *p = test_root_pool;
    const char *why = NULL;
    igraph_json_t *j;
    int which;

    assert_int_equal(
        verify(p, make_sr(p, IG_SECRET, payload_at(p, NOW - 600), 0, 0), &j, &which, &why),
        APR_SUCCESS);
    assert_int_equal(
        verify(p, make_sr(p, IG_SECRET, payload_at(p, NOW - 601), 0, 0), &j, &which, &why),
        APR_EGENERAL);
    assert_string_equal(why, "issued_at is too old");
    assert_int_equal(verify(p, make_sr(p, IG_SECRET, payload_at(p, 0), 0, 0), &j, &which, &why),
                     APR_EGENERAL);
    assert_int_equal(
        verify(p, make_sr(p, IG_SECRET, payload_at(p, -5000000000LL), 0, 0), &j, &which, &why),
        APR_EGENERAL);
    /* a little clock skew is fine, more is not */
    assert_int_equal(
        verify(p, make_sr(p, IG_SECRET, payload_at(p, NOW + 300), 0, 0), &j, &which, &why),
        APR_SUCCESS);
    assert_int_equal(
        verify(p, make_sr(p, IG_SECRET, payload_at(p, NOW + 301), 0, 0), &j, &which, &why),
        APR_EGENERAL);
    assert_string_equal(why, "issued_at is in the future");
    /* max_age <= 0: no age limit, the future limit stays */
    assert_int_equal(igraph_signed_request_verify(p,
                                                  make_sr(p, IG_SECRET, payload_at(p, 1000), 0, 0),
                                                  g_secrets, NOW, 0, &j, &which, &why),
                     APR_SUCCESS);
    assert_int_equal(
        igraph_signed_request_verify(p, make_sr(p, IG_SECRET, payload_at(p, NOW + 3600), 0, 0),
                                     g_secrets, NOW, 0, &j, &which, &why),
        APR_EGENERAL);
    /* not a number */
    assert_int_equal(verify(p,
                            make_sr(p, IG_SECRET,
                                    "{\"algorithm\":\"HMAC-SHA256\",\"issued_at\":\"1793000800\","
                                    "\"user_id\":\"1\"}",
                                    0, 0),
                            &j, &which, &why),
                     APR_EGENERAL);
    assert_string_equal(why, "issued_at is not a number");
    assert_int_equal(verify(p,
                            make_sr(p, IG_SECRET,
                                    "{\"algorithm\":\"HMAC-SHA256\",\"issued_at\":null,"
                                    "\"user_id\":\"1\"}",
                                    0, 0),
                            &j, &which, &why),
                     APR_EGENERAL);
    assert_int_equal(verify(p,
                            make_sr(p, IG_SECRET,
                                    "{\"algorithm\":\"HMAC-SHA256\",\"issued_at\":1e300,"
                                    "\"user_id\":\"1\"}",
                                    0, 0),
                            &j, &which, &why),
                     APR_EGENERAL);
    assert_int_equal(verify(p,
                            make_sr(p, IG_SECRET,
                                    "{\"algorithm\":\"HMAC-SHA256\","
                                    "\"issued_at\":-9223372036854775808,\"user_id\":\"1\"}",
                                    0, 0),
                            &j, &which, &why),
                     APR_EGENERAL);
    /* an integral real is a number */
    assert_int_equal(verify(p,
                            make_sr(p, IG_SECRET,
                                    "{\"algorithm\":\"HMAC-SHA256\",\"issued_at\":1793000800.0,"
                                    "\"user_id\":\"1\"}",
                                    0, 0),
                            &j, &which, &why),
                     APR_SUCCESS);
}

/* A callback payload must say when it was issued, and the JavaScript SDK's login payloads
 * (signed the same way, with code or oauth_token) are never taken for a callback. */
static void test_sr_not_a_callback(void **state)
{
    apr_pool_t *p = test_root_pool;
    const char *why = NULL;
    igraph_json_t *j = (igraph_json_t *)1;
    int which = 3;

    assert_int_equal(
        verify(p, make_sr(p, IG_SECRET, "{\"algorithm\":\"HMAC-SHA256\",\"user_id\":\"5\"}", 0, 0),
               &j, &which, &why),
        APR_EGENERAL);
    assert_string_equal(why, "issued_at is missing");
    assert_null(j);
    assert_int_equal(which, -1);
    assert_int_equal(verify(p,
                            make_sr(p, FB_SECRET,
                                    "{\"algorithm\":\"HMAC-SHA256\",\"code\":\"AQDx\","
                                    "\"issued_at\":1793000800,\"user_id\":\"5\"}",
                                    0, 0),
                            &j, &which, &why),
                     APR_EGENERAL);
    assert_string_equal(why, "a login payload (code or oauth_token), not a callback");
    assert_int_equal(verify(p,
                            make_sr(p, IG_SECRET,
                                    "{\"algorithm\":\"HMAC-SHA256\",\"oauth_token\":\"EAAJ\","
                                    "\"expires\":1793004400,\"issued_at\":1793000800,"
                                    "\"user_id\":\"5\"}",
                                    0, 0),
                            &j, &which, &why),
                     APR_EGENERAL);
    /* whatever the value: even null or an empty string marks a login payload */
    assert_int_equal(verify(p,
                            make_sr(p, IG_SECRET,
                                    "{\"algorithm\":\"HMAC-SHA256\",\"code\":null,"
                                    "\"issued_at\":1793000800,\"user_id\":\"5\"}",
                                    0, 0),
                            &j, &which, &why),
                     APR_EGENERAL);
    /* an unrelated extra key is fine */
    assert_int_equal(verify(p,
                            make_sr(p, IG_SECRET,
                                    "{\"algorithm\":\"HMAC-SHA256\",\"codes\":1,"
                                    "\"issued_at\":1793000800,\"user_id\":\"5\"}",
                                    0, 0),
                            &j, &which, &why),
                     APR_SUCCESS);
}

/* ---- X-Hub-Signature-256 ----------------------------------------------------------------- */

static void test_hub_signature(void **state)
{
    apr_pool_t *p = test_root_pool;
    const char *body = "{\"object\":\"instagram\",\"entry\":[]}";
    apr_size_t len = strlen(body);
    const char *hex = igraph_hmac_sha256_hex(p, FB_SECRET, strlen(FB_SECRET), body, len);
    const char *hdr = apr_pstrcat(p, "sha256=", hex, NULL);
    char *upper;
    apr_size_t i;

    assert_int_equal(igraph_hub_signature_ok(hdr, body, len, g_secrets), 1);
    /* only the Instagram secret configured: no match */
    {
        const char *const ig_only[] = {IG_SECRET, NULL};
        const char *const none[] = {NULL};
        assert_int_equal(igraph_hub_signature_ok(hdr, body, len, ig_only), 0);
        assert_int_equal(igraph_hub_signature_ok(hdr, body, len, none), 0);
        assert_int_equal(igraph_hub_signature_ok(hdr, body, len, NULL), 0);
    }
    /* uppercase hex and prefix */
    upper = apr_pstrdup(p, hdr);
    for (i = 0; upper[i]; i++) {
        upper[i] = (char)apr_toupper(upper[i]);
    }
    assert_int_equal(igraph_hub_signature_ok(upper, body, len, g_secrets), 1);
    /* body changed, one byte less, one byte more */
    assert_int_equal(igraph_hub_signature_ok(hdr, "{\"object\":\"instagram\",\"entry\":[ ]}",
                                             len + 1, g_secrets),
                     0);
    assert_int_equal(igraph_hub_signature_ok(hdr, body, len - 1, g_secrets), 0);
    /* no prefix, sha1 prefix, wrong lengths, not hex, trailing junk, NULL */
    assert_int_equal(igraph_hub_signature_ok(hex, body, len, g_secrets), 0);
    assert_int_equal(
        igraph_hub_signature_ok(apr_pstrcat(p, "sha1=", hex, NULL), body, len, g_secrets), 0);
    assert_int_equal(
        igraph_hub_signature_ok(apr_pstrndup(p, hdr, strlen(hdr) - 1), body, len, g_secrets), 0);
    assert_int_equal(igraph_hub_signature_ok(apr_pstrcat(p, hdr, "0", NULL), body, len, g_secrets),
                     0);
    assert_int_equal(igraph_hub_signature_ok(apr_pstrcat(p, hdr, " ", NULL), body, len, g_secrets),
                     0);
    assert_int_equal(igraph_hub_signature_ok(apr_pstrcat(p, " ", hdr, NULL), body, len, g_secrets),
                     0);
    upper = apr_pstrdup(p, hdr);
    upper[10] = 'g';
    assert_int_equal(igraph_hub_signature_ok(upper, body, len, g_secrets), 0);
    assert_int_equal(igraph_hub_signature_ok("sha256=", body, len, g_secrets), 0);
    assert_int_equal(igraph_hub_signature_ok(NULL, body, len, g_secrets), 0);
    assert_int_equal(igraph_hub_signature_ok(hdr, NULL, len, g_secrets), 0);
    /* the form alone, as checked before the body is read */
    assert_int_equal(igraph_hub_signature_wellformed(hdr), 1);
    assert_int_equal(igraph_hub_signature_wellformed(apr_pstrcat(p, "SHA256=", hex, NULL)), 1);
    assert_int_equal(igraph_hub_signature_wellformed(hex), 0);
    assert_int_equal(igraph_hub_signature_wellformed(apr_pstrcat(p, "sha1=", hex, NULL)), 0);
    assert_int_equal(igraph_hub_signature_wellformed(apr_pstrcat(p, hdr, "0", NULL)), 0);
    assert_int_equal(igraph_hub_signature_wellformed(upper), 0);
    assert_int_equal(igraph_hub_signature_wellformed("sha256="), 0);
    assert_int_equal(igraph_hub_signature_wellformed(""), 0);
    assert_int_equal(igraph_hub_signature_wellformed(NULL), 0);
    /* the length counts, not a NUL byte */
    {
        const char bin[] = {'a', '\0', 'b'};
        const char *h = apr_pstrcat(
            p, "sha256=", igraph_hmac_sha256_hex(p, IG_SECRET, strlen(IG_SECRET), bin, 3), NULL);
        assert_int_equal(igraph_hub_signature_ok(h, bin, 3, g_secrets), 1);
        assert_int_equal(igraph_hub_signature_ok(h, bin, 1, g_secrets), 0);
        h = apr_pstrcat(
            p, "sha256=", igraph_hmac_sha256_hex(p, IG_SECRET, strlen(IG_SECRET), "", 0), NULL);
        assert_int_equal(igraph_hub_signature_ok(h, NULL, 0, g_secrets), 1);
    }
}

/* ---- webhook bodies ---------------------------------------------------------------------- */

static igraph_json_t *parse(apr_pool_t *p, const char *s)
{
    igraph_json_t *j = NULL;

    assert_int_equal(igraph_json_parse(&j, p, s, strlen(s), NULL), APR_SUCCESS);
    return j;
}

static igraph_webhook_event_t *ev(apr_array_header_t *a, int i)
{
    assert_true(i < a->nelts);
    return APR_ARRAY_IDX(a, i, igraph_webhook_event_t *);
}

static const char g_comment_body[] =
    "{\"object\": \"instagram\",\n"
    " \"entry\": [{\n"
    "   \"id\": \"17841400000000001\",\n"
    "   \"time\": 1793000800,\n"
    "   \"changes\": [{\n"
    "     \"field\": \"comments\",\n"
    "     \"value\": {\"id\": \"17865799348089039\", \"text\": \"Looks tasty!\",\n"
    "               \"from\": {\"id\": \"6543210987654321\", \"username\": \"hungry.fan\"},\n"
    "               \"media\": {\"id\": \"17918920912340654\", \"media_product_type\": "
    "\"FEED\"},\n"
    "               \"parent_id\": \"17865799348089000\"}}]}]}";

static void test_webhook_changes(void **state)
{
    apr_pool_t *p = test_root_pool;
    apr_array_header_t *a;
    igraph_webhook_event_t *e;
    const char *value = "{\"id\":\"17865799348089039\",\"text\":\"Looks tasty!\","
                        "\"from\":{\"id\":\"6543210987654321\",\"username\":\"hungry.fan\"},"
                        "\"media\":{\"id\":\"17918920912340654\",\"media_product_type\":\"FEED\"},"
                        "\"parent_id\":\"17865799348089000\"}";
    const char *key;

    assert_int_equal(igraph_webhook_events(p, parse(p, g_comment_body), &a), APR_SUCCESS);
    assert_int_equal(a->nelts, 1);
    e = ev(a, 0);
    assert_string_equal(e->object, "instagram");
    assert_string_equal(e->ig_id, "17841400000000001");
    assert_int_equal(e->time, 1793000800);
    assert_string_equal(e->field, "comments");
    assert_string_equal(e->value, value);
    assert_int_equal(e->id, 0);
    assert_int_equal(e->received_at, 0);
    key = apr_pstrcat(p, "instagram|17841400000000001|comments|1793000800|", value, NULL);
    assert_string_equal(e->dedupe, igraph_sha256_hex(p, key, strlen(key)));
    assert_string_equal(igraph_webhook_dedupe(p, e), e->dedupe);

    /* mentions, story insights with numbers, a field we do not know, a value that is not an
     * object, a missing value; numeric entry id and time */
    assert_int_equal(
        igraph_webhook_events(
            p,
            parse(p, "{\"object\":\"instagram\",\"entry\":[{\"id\":17841400000000002,"
                     "\"time\":\"1793000900\",\"changes\":["
                     "{\"field\":\"mentions\",\"value\":{\"media_id\":\"1\",\"comment_id\":\"2\"}},"
                     "{\"field\":\"story_insights\",\"value\":{\"media_id\":\"3\",\"reach\":40,"
                     "\"taps_forward\":3,\"exits\":2.5}},"
                     "{\"field\":\"brand_new_field\",\"value\":\"text\"},"
                     "{\"field\":\"no_value\"}]}]}"),
            &a),
        APR_SUCCESS);
    assert_int_equal(a->nelts, 4);
    assert_string_equal(ev(a, 0)->ig_id, "17841400000000002");
    assert_int_equal(ev(a, 0)->time, 1793000900);
    assert_string_equal(ev(a, 0)->field, "mentions");
    assert_string_equal(ev(a, 0)->value, "{\"media_id\":\"1\",\"comment_id\":\"2\"}");
    assert_string_equal(ev(a, 1)->value,
                        "{\"media_id\":\"3\",\"reach\":40,\"taps_forward\":3,\"exits\":2.5}");
    assert_string_equal(ev(a, 2)->field, "brand_new_field");
    assert_string_equal(ev(a, 2)->value, "\"text\"");
    assert_string_equal(ev(a, 3)->value, "null");
}

static void test_webhook_messaging(void **state)
{
    apr_pool_t *p = test_root_pool;
    apr_array_header_t *a;

    assert_int_equal(
        igraph_webhook_events(
            p,
            parse(p, "{\"object\":\"instagram\",\"entry\":[{\"id\":\"17841400000000001\","
                     "\"time\":1793000800123,\"messaging\":["
                     "{\"sender\":{\"id\":\"111\"},\"recipient\":{\"id\":\"17841400000000001\"},"
                     "\"timestamp\":1793000800000,\"message\":{\"mid\":\"m1\",\"text\":\"hi\"}},"
                     "{\"sender\":{\"id\":\"111\"},\"recipient\":{\"id\":\"17841400000000001\"},"
                     "\"timestamp\":1793000800001,\"read\":{\"mid\":\"m1\"}},"
                     "\"not an object\"]}]}"),
            &a),
        APR_SUCCESS);
    assert_int_equal(a->nelts, 2);
    assert_string_equal(ev(a, 0)->field, "messages");
    assert_string_equal(ev(a, 1)->field, "messages");
    /* milliseconds become seconds */
    assert_int_equal(ev(a, 0)->time, 1793000800);
    assert_string_equal(
        ev(a, 0)->value,
        "{\"sender\":{\"id\":\"111\"},\"recipient\":{\"id\":\"17841400000000001\"},"
        "\"timestamp\":1793000800000,\"message\":{\"mid\":\"m1\",\"text\":\"hi\"}}");
    assert_string_not_equal(ev(a, 0)->dedupe, ev(a, 1)->dedupe);

    /* the dashboard's "Test" button form: changes[] with field "messages" */
    assert_int_equal(
        igraph_webhook_events(p,
                              parse(p, "{\"object\":\"instagram\",\"entry\":[{\"id\":\"0\","
                                       "\"time\":0,\"changes\":[{\"field\":\"messages\","
                                       "\"value\":{\"sender\":{\"id\":\"12334\"},"
                                       "\"message\":{\"mid\":\"random_mid\",\"text\":\"random\"}}"
                                       "}]}]}"),
                              &a),
        APR_SUCCESS);
    assert_int_equal(a->nelts, 1);
    assert_string_equal(ev(a, 0)->field, "messages");
    assert_string_equal(ev(a, 0)->ig_id, "0");
    assert_int_equal(ev(a, 0)->time, 0);
}

static void test_webhook_batched(void **state)
{
    apr_pool_t *p = test_root_pool;
    apr_array_header_t *a;

    assert_int_equal(
        igraph_webhook_events(
            p,
            parse(p,
                  "{\"object\":\"instagram\",\"entry\":["
                  "{\"id\":\"1\",\"time\":100,\"changes\":[{\"field\":\"comments\","
                  "\"value\":{\"id\":\"c1\"}},{\"field\":\"comments\",\"value\":{\"id\":\"c2\"}}],"
                  "\"messaging\":[{\"message\":{\"mid\":\"m\"}}]},"
                  "42,"
                  "{\"time\":5,\"changes\":[{\"field\":\"comments\",\"value\":{}}]},"
                  "{\"id\":\"abc\",\"changes\":[{\"field\":\"comments\",\"value\":{}}]},"
                  "{\"id\":\"2\",\"changes\":[{\"value\":{}},{\"field\":7,\"value\":{}},"
                  "{\"field\":\"\",\"value\":{}},{\"field\":\"a b\",\"value\":{}},"
                  "{\"field\":\"a|b\",\"value\":{}},[],"
                  "{\"field\":\"mentions\",\"value\":{\"x\":1}}],\"unknown\":true},"
                  "{\"id\":\"3\",\"time\":-7,\"changes\":{\"field\":\"comments\"},"
                  "\"messaging\":\"nope\"},"
                  "{\"id\":\"4\",\"time\":200,\"changes\":[{\"field\":\"live_comments\","
                  "\"value\":{\"id\":\"c3\"}}]}],\"extra\":[1,2,3]}"),
            &a),
        APR_SUCCESS);
    assert_int_equal(a->nelts, 5);
    assert_string_equal(ev(a, 0)->ig_id, "1");
    assert_string_equal(ev(a, 0)->value, "{\"id\":\"c1\"}");
    assert_string_equal(ev(a, 1)->value, "{\"id\":\"c2\"}");
    assert_string_equal(ev(a, 2)->field, "messages");
    assert_int_equal(ev(a, 2)->time, 100);
    assert_string_equal(ev(a, 3)->ig_id, "2");
    assert_string_equal(ev(a, 3)->field, "mentions");
    assert_int_equal(ev(a, 3)->time, 0);
    assert_string_equal(ev(a, 4)->ig_id, "4");
    assert_string_equal(ev(a, 4)->field, "live_comments");
    assert_int_equal(ev(a, 4)->time, 200);

    /* nothing usable is an empty success; "object" absent is "" */
    assert_int_equal(igraph_webhook_events(p, parse(p, "{\"entry\":[]}"), &a), APR_SUCCESS);
    assert_int_equal(a->nelts, 0);
    assert_int_equal(
        igraph_webhook_events(
            p, parse(p, "{\"entry\":[{\"id\":\"9\",\"changes\":[{\"field\":\"f\"}]}]}"), &a),
        APR_SUCCESS);
    assert_string_equal(ev(a, 0)->object, "");
}

static void test_webhook_dedupe(void **state)
{
    apr_pool_t *p = test_root_pool;
    apr_array_header_t *a, *b;
    const char *twice = "{\"object\":\"instagram\",\"entry\":["
                        "{\"id\":\"1\",\"time\":100,\"changes\":[{\"field\":\"comments\",\"value\":"
                        "{\"id\":\"c1\"}}]},"
                        "{\"id\":\"1\",\"time\":100,\"changes\":[{\"field\":\"comments\",\"value\":"
                        "{\"id\":\"c1\"}}]},"
                        "{\"id\":\"1\",\"time\":101,\"changes\":[{\"field\":\"comments\",\"value\":"
                        "{\"id\":\"c1\"}}]},"
                        "{\"id\":\"2\",\"time\":100,\"changes\":[{\"field\":\"comments\",\"value\":"
                        "{\"id\":\"c1\"}}]},"
                        "{\"id\":\"1\",\"time\":100,\"changes\":[{\"field\":\"mentions\",\"value\":"
                        "{\"id\":\"c1\"}}]},"
                        "{\"id\":\"1\",\"time\":100,\"changes\":[{\"field\":\"comments\",\"value\":"
                        "{\"id\":\"c2\"}}]}"
                        "]}";
    int i, k;

    /* the same body delivered twice (and re-parsed, other whitespace) gives the same keys */
    assert_int_equal(igraph_webhook_events(p, parse(p, g_comment_body), &a), APR_SUCCESS);
    assert_int_equal(
        igraph_webhook_events(
            p,
            parse(p, "{\"object\":\"instagram\",\"entry\":[{\"id\":\"17841400000000001\","
                     "\"time\":1793000800,\"changes\":[{\"field\":\"comments\",\"value\":{"
                     "\"id\":\"17865799348089039\",\"text\":\"Looks tasty!\",\"from\":{\"id\":"
                     "\"6543210987654321\",\"username\":\"hungry.fan\"},\"media\":{\"id\":"
                     "\"17918920912340654\",\"media_product_type\":\"FEED\"},\"parent_id\":"
                     "\"17865799348089000\"}}]}]}"),
            &b),
        APR_SUCCESS);
    assert_string_equal(ev(a, 0)->dedupe, ev(b, 0)->dedupe);
    assert_int_equal(strlen(ev(a, 0)->dedupe), 64);

    /* within one body: identical events share the key, any difference changes it */
    assert_int_equal(igraph_webhook_events(p, parse(p, twice), &a), APR_SUCCESS);
    assert_int_equal(a->nelts, 6);
    assert_string_equal(ev(a, 0)->dedupe, ev(a, 1)->dedupe);
    for (i = 1; i < a->nelts; i++) {
        for (k = i + 1; k < a->nelts; k++) {
            assert_string_not_equal(ev(a, i)->dedupe, ev(a, k)->dedupe);
        }
    }
    /* another object */
    assert_int_equal(
        igraph_webhook_events(
            p,
            parse(p, "{\"object\":\"page\",\"entry\":[{\"id\":\"1\",\"time\":100,\"changes\":"
                     "[{\"field\":\"comments\",\"value\":{\"id\":\"c1\"}}]}]}"),
            &b),
        APR_SUCCESS);
    assert_string_not_equal(ev(a, 0)->dedupe, ev(b, 0)->dedupe);
}

static void test_webhook_invalid(void **state)
{
    apr_pool_t *p = test_root_pool;
    apr_array_header_t *a = (apr_array_header_t *)1;
    apr_array_header_t *big;
    igraph_json_t *body, *entries, *entry, *changes, *change;
    int i;

    assert_int_equal(igraph_webhook_events(p, NULL, &a), APR_EINVAL);
    assert_null(a);
    assert_int_equal(igraph_webhook_events(p, parse(p, "[]"), &a), APR_EINVAL);
    assert_int_equal(igraph_webhook_events(p, parse(p, "\"entry\""), &a), APR_EINVAL);
    assert_int_equal(igraph_webhook_events(p, parse(p, "{}"), &a), APR_EINVAL);
    assert_int_equal(igraph_webhook_events(p, parse(p, "{\"object\":\"instagram\"}"), &a),
                     APR_EINVAL);
    assert_int_equal(igraph_webhook_events(p, parse(p, "{\"entry\":{}}"), &a), APR_EINVAL);
    assert_int_equal(igraph_webhook_events(p, parse(p, "{\"entry\":null}"), &a), APR_EINVAL);
    assert_int_equal(igraph_webhook_events(p, parse(p, "{\"entry\":\"x\"}"), &a), APR_EINVAL);
    assert_int_equal(igraph_webhook_events(p, parse(p, g_comment_body), NULL), APR_EINVAL);

    /* 1000 entries are fine, 1001 are not */
    body = igraph_json_new_object(p);
    entries = igraph_json_new_array(p);
    igraph_json_setj(body, "entry", entries);
    for (i = 0; i < IGRAPH_WEBHOOK_MAX_ENTRIES; i++) {
        entry = igraph_json_new_object(p);
        igraph_json_sets(entry, "id", apr_itoa(p, i));
        changes = igraph_json_new_array(p);
        change = igraph_json_new_object(p);
        igraph_json_sets(change, "field", "comments");
        igraph_json_append(changes, change);
        igraph_json_setj(entry, "changes", changes);
        igraph_json_append(entries, entry);
    }
    assert_int_equal(igraph_webhook_events(p, body, &big), APR_SUCCESS);
    assert_int_equal(big->nelts, IGRAPH_WEBHOOK_MAX_ENTRIES);
    igraph_json_append(entries, igraph_json_new_object(p));
    assert_int_equal(igraph_webhook_events(p, body, &a), APR_EINVAL);
    assert_null(a);

    /* 5000 events are fine, 5001 are not */
    body = igraph_json_new_object(p);
    entries = igraph_json_new_array(p);
    igraph_json_setj(body, "entry", entries);
    entry = igraph_json_new_object(p);
    igraph_json_sets(entry, "id", "1");
    changes = igraph_json_new_array(p);
    igraph_json_setj(entry, "changes", changes);
    igraph_json_append(entries, entry);
    for (i = 0; i < IGRAPH_WEBHOOK_MAX_EVENTS; i++) {
        change = igraph_json_new_object(p);
        igraph_json_sets(change, "field", "comments");
        igraph_json_setl(change, "value", i);
        igraph_json_append(changes, change);
    }
    assert_int_equal(igraph_webhook_events(p, body, &big), APR_SUCCESS);
    assert_int_equal(big->nelts, IGRAPH_WEBHOOK_MAX_EVENTS);
    igraph_json_append(changes, change);
    assert_int_equal(igraph_webhook_events(p, body, &a), APR_EINVAL);
    assert_null(a);
}

/* ---- deletion codes ---------------------------------------------------------------------- */

static void test_deletion_code(void **state)
{
    apr_pool_t *p = test_root_pool;
    apr_hash_t *seen = apr_hash_make(p);
    const char *c;
    int i;

    for (i = 0; i < 200; i++) {
        c = igraph_deletion_code(p);
        assert_non_null(c);
        assert_int_equal(strlen(c), 23);
        assert_memory_equal(c, "del", 3);
        assert_int_equal(strspn(c + 3, "abcdefghijklmnopqrstuvwxyz0123456789"), 20);
        assert_true(igraph_is_deletion_code(c));
        assert_null(apr_hash_get(seen, c, APR_HASH_KEY_STRING));
        apr_hash_set(seen, c, APR_HASH_KEY_STRING, c);
    }
    assert_false(igraph_is_deletion_code(NULL));
    assert_false(igraph_is_deletion_code(""));
    assert_false(igraph_is_deletion_code("del"));
    assert_false(igraph_is_deletion_code("del0123456789abcdefghi"));   /* 19 */
    assert_false(igraph_is_deletion_code("del0123456789abcdefghijk")); /* 21 */
    assert_false(igraph_is_deletion_code("del0123456789ABCDEFGHIJ"));
    assert_false(igraph_is_deletion_code("xyz0123456789abcdefghij"));
    assert_false(igraph_is_deletion_code("del0123456789abcdefgh'j"));
    assert_true(igraph_is_deletion_code("del0123456789abcdefghij"));
}

/* ---- igraph_fb_me against a one-shot HTTP server ------------------------------------------ */

static void test_fb_me(void **state)
{
    apr_pool_t *p = test_root_pool;
    igraph_graph_t g;
    igraph_gerr_t err;
    const char *id, *name, *proof;
    test_server_t s = {0};

    test_server_listen(&s, p);
    s.resp[0] = test_http_resp(p, "200 OK", NULL,
                               "{\"id\":\"10150000000000001\",\"name\":\"Alice Baker\"}");
    s.resp[1] = test_http_resp(p, "200 OK", NULL, "{\"id\":10150000000000002}");
    s.resp[2] = test_http_resp(p, "200 OK", NULL, "{\"name\":\"No Id\"}");
    s.resp[3] = test_http_resp(p, "400 Bad Request", NULL,
                               "{\"error\":{\"message\":\"Error validating access token\","
                               "\"type\":\"OAuthException\",\"code\":190}}");
    s.nresp = 4;
    test_server_run(&s);

    memset(&g, 0, sizeof(g));
    g.fb_graph_base = test_server_url(&s, "");
    g.version = "v26.0";
    g.app_id = "1234567890123456";
    g.app_secret = FB_SECRET;
    g.fb_appsecret_proof = 1;
    g.timeout_ms = 5000;

    assert_int_equal(igraph_fb_me(&g, p, "EAAJuserToken", &id, &name, &err), APR_SUCCESS);
    assert_string_equal(id, "10150000000000001");
    assert_string_equal(name, "Alice Baker");
    assert_int_equal(igraph_fb_me(&g, p, "EAAJuserToken", &id, NULL, &err), APR_SUCCESS);
    assert_string_equal(id, "10150000000000002");
    assert_int_equal(igraph_fb_me(&g, p, "EAAJuserToken", &id, &name, &err), APR_EGENERAL);
    assert_null(id);
    assert_int_equal(err.cls, IGRAPH_ERR_SERVER);
    assert_int_equal(igraph_fb_me(&g, p, "EAAJuserToken", &id, &name, &err), APR_EGENERAL);
    assert_int_equal(err.cls, IGRAPH_ERR_REAUTH);
    assert_null(id);
    test_server_stop(&s);

    proof = igraph_hmac_sha256_hex(p, FB_SECRET, strlen(FB_SECRET), "EAAJuserToken", 13);
    assert_non_null(
        strstr(s.req[0], apr_pstrcat(p, "GET /v26.0/me?fields=id%2Cname&appsecret_proof=", proof,
                                     " HTTP/1.1\r\n", NULL)));
    assert_non_null(strstr(s.req[0], "\r\nAuthorization: Bearer EAAJuserToken\r\n"));
    assert_null(strstr(s.req[0], "access_token="));

    /* no token: refused before any traffic */
    assert_int_equal(igraph_fb_me(&g, p, NULL, &id, &name, &err), APR_EINVAL);
    assert_int_equal(err.cls, IGRAPH_ERR_INVALID);
    assert_int_equal(igraph_fb_me(&g, p, "", &id, &name, &err), APR_EINVAL);
    assert_logs_clean();
}

/* ---- store fixture ----------------------------------------------------------------------- */

typedef test_fixture_t fixture_t;

/* login filters of the Meta callbacks (by pointer; NULL = both logins) */
static const igraph_login_e fb_login = IGRAPH_LOGIN_FACEBOOK, ig_login = IGRAPH_LOGIN_INSTAGRAM;
static const igraph_login_e bad_login = (igraph_login_e)7; /* outside the enum */

static igraph_account_t *add_account(fixture_t *f, const char *owner, igraph_login_e login,
                                     const char *ig_user_id, const char *app_user_id)
{
    igraph_account_t *a = apr_pcalloc(f->pool, sizeof(*a));

    a->login = login;
    a->owner = owner;
    a->ig_user_id = ig_user_id;
    a->username = apr_pstrcat(f->pool, "user", ig_user_id, NULL);
    a->app_user_id = app_user_id;
    a->scopes = "instagram_basic,instagram_content_publish";
    a->token_expires_at = 1900000000;
    a->token_issued_at = 1700000000;
    assert_int_equal(
        igraph_store_account_upsert(
            &f->db, f->pool, &test_key, a,
            apr_pstrcat(f->pool, "EAAJaccess", ig_user_id, owner, NULL),
            login == IGRAPH_LOGIN_FACEBOOK ? apr_pstrcat(f->pool, "EAAJuser", owner, NULL) : NULL),
        APR_SUCCESS);
    return a;
}

static igraph_account_t *get_account(fixture_t *f, const char *owner, apr_int64_t id)
{
    igraph_account_t *a = NULL;

    assert_int_equal(igraph_store_account_get(&f->db, f->pool, owner, id, &a), APR_SUCCESS);
    return a;
}

static void add_job(fixture_t *f, const char *id, const igraph_account_t *a)
{
    igraph_job_t *j = apr_pcalloc(f->pool, sizeof(*j));

    j->id = id;
    j->account_id = a->id;
    j->owner = a->owner;
    j->login = a->login;
    j->ig_user_id = a->ig_user_id;
    j->media_type = IGRAPH_MEDIA_IMAGE;
    j->status = IGRAPH_JOB_QUEUED;
    j->request = "{\"image_url\":\"https://cdn.example.com/a.jpg\"}";
    j->created_at = j->updated_at = j->next_at = 1793000000;
    assert_int_equal(igraph_store_job_insert(&f->db, f->pool, j, NULL, NULL), APR_SUCCESS);
}

static igraph_webhook_event_t *make_event(apr_pool_t *p, const char *ig_id, const char *field,
                                          const char *value, apr_int64_t received_at)
{
    igraph_webhook_event_t *e = apr_pcalloc(p, sizeof(*e));

    e->object = "instagram";
    e->ig_id = ig_id;
    e->field = field;
    e->value = value;
    e->time = 1793000800;
    e->received_at = received_at;
    e->dedupe = igraph_webhook_dedupe(p, e);
    return e;
}

static void add_event(fixture_t *f, const char *ig_id, const char *value, apr_int64_t received_at)
{
    assert_int_equal(
        igraph_store_event_insert(&f->db, f->pool, &test_key,
                                  make_event(f->pool, ig_id, "comments", value, received_at)),
        APR_SUCCESS);
}

/* A row the store itself no longer writes (an account that is gone, a payload of schema < 7). */
static void add_raw_event(fixture_t *f, const char *ig_id, const char *payload,
                          apr_int64_t received_at)
{
    static int n;

    test_db_exec(&f->db, apr_psprintf(f->pool,
                                      "INSERT INTO events (ig_user_id, field, payload, "
                                      "event_time, received_at, dedupe) VALUES ('%s', 'comments', "
                                      "'%s', 1793000800, %" APR_INT64_T_FMT ", 'raw%d')",
                                      ig_id, payload, received_at, ++n));
}

static long count_where(fixture_t *f, const char *table, const char *where)
{
    return test_db_count(&f->db, f->pool,
                         apr_psprintf(f->pool, "SELECT COUNT(*) FROM %s WHERE %s", table, where));
}

/* ---- store: schema v4 -------------------------------------------------------------------- */

/* Schema version 3 exactly as released (igraph_store.c at 2d67e3e), with data in it. */
static const char *const v3_fixture[] = {
    TEST_SCHEMA_V2_DDL,
    "CREATE TABLE jobs (id TEXT PRIMARY KEY, account_id BIGINT NOT NULL, owner TEXT NOT NULL, "
    "login TEXT, ig_user_id TEXT, media_type TEXT NOT NULL, status TEXT NOT NULL, request TEXT, "
    "creation_id TEXT, children TEXT, media_id TEXT, permalink TEXT, error TEXT, "
    "error_message TEXT, n_children_expected INTEGER NOT NULL DEFAULT 0, "
    "children_ready INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0, "
    "polls INTEGER NOT NULL DEFAULT 0, publish_sent INTEGER NOT NULL DEFAULT 0, "
    "error_subcode BIGINT NOT NULL DEFAULT 0, created_at BIGINT NOT NULL, "
    "updated_at BIGINT NOT NULL, publish_at BIGINT NOT NULL DEFAULT 0, "
    "next_at BIGINT NOT NULL DEFAULT 0, container_created_at BIGINT NOT NULL DEFAULT 0, "
    "deadline BIGINT NOT NULL DEFAULT 0, caption TEXT, idempotency_key TEXT, media_key TEXT, "
    "claimed_by TEXT, claim_until BIGINT NOT NULL DEFAULT 0, UNIQUE (owner, idempotency_key))",
    "CREATE INDEX jobs_next_at ON jobs (next_at)",
    "CREATE INDEX jobs_owner_created ON jobs (owner, created_at)",
    "CREATE INDEX jobs_account_media ON jobs (account_id, media_key)",
    "CREATE INDEX jobs_account_status ON jobs (account_id, status)",
    "INSERT INTO schema_migrations (version, applied_at) VALUES (1, 1700000000)",
    "INSERT INTO schema_migrations (version, applied_at) VALUES (2, 1700000001)",
    "INSERT INTO schema_migrations (version, applied_at) VALUES (3, 1700000002)",
    "INSERT INTO accounts (login, ig_user_id, owner, username, app_user_id, token_expires_at, "
    "token_issued_at, status, created_at, updated_at, next_refresh_at, refresh_failures) "
    "VALUES ('instagram', '111', 'alice', 'v3user', '5551', 1900000000, 1700000000, 'active', "
    "1700000000, 1700000001, 1800000000, 2)",
    "INSERT INTO jobs (id, account_id, owner, login, ig_user_id, media_type, status, request, "
    "created_at, updated_at, next_at) VALUES ('j-v3', 1, 'alice', 'instagram', '111', 'IMAGE', "
    "'queued', '{}', 1700000000, 1700000000, 1700000000)",
    "INSERT INTO leases VALUES ('maintenance', 'pid1', 1700000100)",
    NULL,
};

static void test_migrate_v3(void **state)
{
    fixture_t *f = *state;
    apr_array_header_t *list;
    igraph_account_t *a;
    igraph_job_t *j;
    int i, n = -1;

    if (test_dbd_params) {
        skip();
    }
    for (i = 0; v3_fixture[i]; i++) {
        test_db_exec(&f->db, v3_fixture[i]);
    }
    assert_int_equal(igraph_store_ready(&f->db, f->pool), APR_SUCCESS);
    assert_int_equal(test_log_migrations, 1);
    assert_int_equal(test_db_count(&f->db, f->pool, "SELECT MAX(version) FROM schema_migrations"),
                     IGRAPH_SCHEMA_VERSION);
    assert_int_equal(test_db_count(&f->db, f->pool, "SELECT COUNT(*) FROM schema_migrations"),
                     IGRAPH_SCHEMA_VERSION);
    /* the v3 data is untouched */
    assert_int_equal(igraph_store_accounts_list(&f->db, f->pool, "alice", &list), APR_SUCCESS);
    assert_int_equal(list->nelts, 1);
    a = APR_ARRAY_IDX(list, 0, igraph_account_t *);
    assert_string_equal(a->username, "v3user");
    assert_int_equal(a->refresh_failures, 2);
    assert_int_equal(igraph_store_job_get(&f->db, f->pool, "alice", "j-v3", &j), APR_SUCCESS);
    assert_int_equal(j->account_id, a->id);
    assert_int_equal(test_db_count(&f->db, f->pool, "SELECT COUNT(*) FROM leases"), 1);
    /* the new tables and the index */
    assert_int_equal(test_db_count(&f->db, f->pool, "SELECT COUNT(*) FROM events"), 0);
    assert_int_equal(test_db_count(&f->db, f->pool, "SELECT COUNT(*) FROM deletion_requests"), 0);
    assert_int_equal(test_db_count(&f->db, f->pool,
                                   "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' "
                                   "AND name = 'events_ig_user_id'"),
                     1);
    /* and they work on the old data */
    add_event(f, "111", "{\"id\":\"c1\"}", 1793000000);
    assert_int_equal(igraph_store_events_list(&f->db, f->pool, &test_key, "alice", 10, &list),
                     APR_SUCCESS);
    assert_int_equal(list->nelts, 1);
    assert_int_equal(igraph_store_deauthorize(&f->db, f->pool, "5551", NULL, &n), APR_SUCCESS);
    assert_int_equal(n, 1);
    /* a second connection does not migrate again */
    {
        igraph_db_t db2;

        test_db_open(f, &db2);
        assert_int_equal(igraph_store_ready(&db2, f->pool), APR_SUCCESS);
        test_db_close(&db2);
    }
    assert_int_equal(test_log_migrations, 1);
    assert_int_equal(test_log_errors, 0);
}

static void test_deauthorize(void **state)
{
    fixture_t *f = *state;
    igraph_account_t *a1, *a2, *a3, *a4, *a;
    int n = -1;

    a1 = add_account(f, "alice", IGRAPH_LOGIN_FACEBOOK, "111", "U1");
    a2 = add_account(f, "bob", IGRAPH_LOGIN_FACEBOOK, "222", "U1");
    a3 = add_account(f, "alice", IGRAPH_LOGIN_INSTAGRAM, "333", "U1");
    a4 = add_account(f, "alice", IGRAPH_LOGIN_FACEBOOK, "444", "U2");

    /* Facebook Login only */
    assert_int_equal(igraph_store_deauthorize(&f->db, f->pool, "U1", &fb_login, &n), APR_SUCCESS);
    assert_int_equal(n, 2);
    a = get_account(f, "alice", a1->id);
    assert_int_equal(a->status, IGRAPH_ACCOUNT_DEAUTHORIZED);
    assert_string_equal(a->last_error, "access removed on Meta (deauthorized)");
    assert_null(a->access_token_enc);
    assert_null(a->user_token_enc);
    assert_null(igraph_store_account_token(f->pool, &test_key, a, IGRAPH_TOKEN_ACCESS));
    assert_null(igraph_store_account_token(f->pool, &test_key, a, IGRAPH_TOKEN_USER));
    assert_true(a->updated_at >= a1->updated_at);
    a = get_account(f, "bob", a2->id);
    assert_int_equal(a->status, IGRAPH_ACCOUNT_DEAUTHORIZED);
    assert_null(igraph_store_account_token(f->pool, &test_key, a, IGRAPH_TOKEN_ACCESS));
    /* the Instagram Login connection of the same id and another user are untouched */
    a = get_account(f, "alice", a3->id);
    assert_int_equal(a->status, IGRAPH_ACCOUNT_ACTIVE);
    assert_string_equal(igraph_store_account_token(f->pool, &test_key, a, IGRAPH_TOKEN_ACCESS),
                        "EAAJaccess333alice");
    a = get_account(f, "alice", a4->id);
    assert_int_equal(a->status, IGRAPH_ACCOUNT_ACTIVE);
    assert_string_equal(igraph_store_account_token(f->pool, &test_key, a, IGRAPH_TOKEN_USER),
                        "EAAJuseralice");

    /* any login; already deauthorized rows count again (the callback may be repeated) */
    assert_int_equal(igraph_store_deauthorize(&f->db, f->pool, "U1", NULL, &n), APR_SUCCESS);
    assert_int_equal(n, 3);
    a = get_account(f, "alice", a3->id);
    assert_int_equal(a->status, IGRAPH_ACCOUNT_DEAUTHORIZED);
    assert_null(igraph_store_account_token(f->pool, &test_key, a, IGRAPH_TOKEN_ACCESS));
    /* no token left anywhere in the rows of U1 */
    assert_int_equal(count_where(f, "accounts",
                                 "app_user_id = 'U1' AND (access_token_enc IS NOT NULL "
                                 "OR user_token_enc IS NOT NULL)"),
                     0);
    /* nobody / unknown ids / case matters */
    assert_int_equal(igraph_store_deauthorize(&f->db, f->pool, "U404", NULL, &n), APR_SUCCESS);
    assert_int_equal(n, 0);
    assert_int_equal(igraph_store_deauthorize(&f->db, f->pool, "u2", NULL, &n), APR_SUCCESS);
    assert_int_equal(n, 0);
    assert_int_equal(igraph_store_deauthorize(&f->db, f->pool, "U2", &ig_login, NULL), APR_SUCCESS);
    assert_int_equal(get_account(f, "alice", a4->id)->status, IGRAPH_ACCOUNT_ACTIVE);
    /* bad arguments */
    assert_int_equal(igraph_store_deauthorize(&f->db, f->pool, NULL, NULL, &n), APR_EINVAL);
    assert_int_equal(igraph_store_deauthorize(&f->db, f->pool, "", NULL, &n), APR_EINVAL);
    assert_int_equal(igraph_store_deauthorize(&f->db, f->pool, "U2", &bad_login, &n), APR_EINVAL);
    assert_int_equal(get_account(f, "alice", a4->id)->status, IGRAPH_ACCOUNT_ACTIVE);

    /* neither enable nor disable leaves "deauthorized" (disable-then-enable would bring the
     * account back without its tokens) */
    assert_int_equal(igraph_store_account_set_status(&f->db, f->pool, "alice", a1->id,
                                                     IGRAPH_ACCOUNT_ACTIVE, NULL),
                     APR_EBUSY);
    assert_int_equal(igraph_store_account_set_status(&f->db, f->pool, "alice", a1->id,
                                                     IGRAPH_ACCOUNT_DISABLED, NULL),
                     APR_EBUSY);
    assert_int_equal(get_account(f, "alice", a1->id)->status, IGRAPH_ACCOUNT_DEAUTHORIZED);
    assert_int_equal(igraph_store_account_set_status(&f->db, f->pool, "bob", a1->id,
                                                     IGRAPH_ACCOUNT_ACTIVE, NULL),
                     APR_NOTFOUND);
    /* a refresh that read the account before the deauthorization writes nothing back ... */
    assert_int_equal(a1->status, IGRAPH_ACCOUNT_ACTIVE);
    assert_int_equal(igraph_store_account_tokens_update(&f->db, f->pool, &test_key, a1,
                                                        "EAAJrefreshed", "EAAJuser2", 1900000000,
                                                        1800000000),
                     APR_EBUSY);
    a = get_account(f, "alice", a1->id);
    assert_int_equal(a->status, IGRAPH_ACCOUNT_DEAUTHORIZED);
    assert_null(a->access_token_enc);
    assert_null(a->user_token_enc);
    /* ... nor one that claims to have read "deauthorized" */
    assert_int_equal(igraph_store_account_tokens_update(&f->db, f->pool, &test_key, a,
                                                        "EAAJrefreshed", NULL, 1900000000,
                                                        1800000000),
                     APR_EBUSY);
    assert_null(get_account(f, "alice", a1->id)->access_token_enc);
    /* and its failure does not turn it into needs_reauth */
    {
        static const igraph_account_status_e reauth = IGRAPH_ACCOUNT_NEEDS_REAUTH;
        assert_int_equal(igraph_store_account_refresh_failed(&f->db, f->pool, a1->id, &reauth,
                                                             "token invalid", 0),
                         APR_SUCCESS);
        assert_int_equal(get_account(f, "alice", a1->id)->status, IGRAPH_ACCOUNT_DEAUTHORIZED);
    }
    /* a disabled account is not written to either; an active one still is */
    assert_int_equal(igraph_store_account_set_status(&f->db, f->pool, "alice", a4->id,
                                                     IGRAPH_ACCOUNT_DISABLED, NULL),
                     APR_SUCCESS);
    assert_int_equal(igraph_store_account_tokens_update(&f->db, f->pool, &test_key, a4,
                                                        "EAAJnew444", NULL, 1900000000, 1800000000),
                     APR_EBUSY);
    assert_int_equal(igraph_store_account_set_status(&f->db, f->pool, "alice", a4->id,
                                                     IGRAPH_ACCOUNT_ACTIVE, NULL),
                     APR_SUCCESS);
    assert_int_equal(igraph_store_account_tokens_update(&f->db, f->pool, &test_key, a4,
                                                        "EAAJnew444", NULL, 1900000000, 1800000000),
                     APR_SUCCESS);
    assert_string_equal(igraph_store_account_token(f->pool, &test_key,
                                                   get_account(f, "alice", a4->id),
                                                   IGRAPH_TOKEN_ACCESS),
                        "EAAJnew444");

    /* connecting again makes the account usable again */
    a1 = add_account(f, "alice", IGRAPH_LOGIN_FACEBOOK, "111", "U1");
    a = get_account(f, "alice", a1->id);
    assert_int_equal(a->status, IGRAPH_ACCOUNT_ACTIVE);
    assert_null(a->last_error);
    assert_string_equal(igraph_store_account_token(f->pool, &test_key, a, IGRAPH_TOKEN_ACCESS),
                        "EAAJaccess111alice");
    assert_int_equal(test_log_errors, 0);
}

static void test_data_deletion(void **state)
{
    fixture_t *f = *state;
    igraph_account_t *a1, *a2, *a3, *a4, *a = NULL;
    const char *code1 = igraph_deletion_code(f->pool), *code2 = igraph_deletion_code(f->pool);
    const char *code3 = igraph_deletion_code(f->pool), *status = NULL;
    apr_int64_t created = 0, completed = 0, now = igraph_now();
    int n = -1, deleted = -1;

    /* U1 connected Instagram accounts 111 (alice) and 333 (carol) with Instagram Login; bob
     * links 111 too, through Facebook Login as Meta user U9; alice also has 444 as U2. */
    a1 = add_account(f, "alice", IGRAPH_LOGIN_INSTAGRAM, "111", "U1");
    a2 = add_account(f, "carol", IGRAPH_LOGIN_INSTAGRAM, "333", "U1");
    a3 = add_account(f, "bob", IGRAPH_LOGIN_FACEBOOK, "111", "U9");
    a4 = add_account(f, "alice", IGRAPH_LOGIN_FACEBOOK, "444", "U2");
    add_job(f, "j1", a1);
    add_job(f, "j2", a1);
    add_job(f, "j3", a2);
    add_job(f, "j4", a4);
    add_job(f, "j5", a3);
    add_event(f, "111", "{\"n\":1}", 1793000001);
    add_event(f, "333", "{\"n\":2}", 1793000002);
    add_event(f, "444", "{\"n\":3}", 1793000003);
    add_raw_event(f, "999", "v1.x", 1793000004);
    assert_int_equal(igraph_store_pending_put(&f->db, f->pool, &test_key, "p1", "alice", "pages",
                                              "{\"token\":\"EAAJpending\"}", now + 600),
                     APR_SUCCESS);
    assert_int_equal(igraph_store_pending_put(&f->db, f->pool, &test_key, "p2", "carol", "pages",
                                              "{}", now + 600),
                     APR_SUCCESS);
    assert_int_equal(igraph_store_pending_put(&f->db, f->pool, &test_key, "p3", "dave", "pages",
                                              "{}", now + 600),
                     APR_SUCCESS);

    assert_int_equal(igraph_store_data_deletion(&f->db, f->pool, "U1", &ig_login, code1, &n),
                     APR_SUCCESS);
    assert_int_equal(n, 2);
    assert_int_equal(igraph_store_account_get(&f->db, f->pool, "alice", a1->id, &a), APR_NOTFOUND);
    assert_int_equal(igraph_store_account_get(&f->db, f->pool, "carol", a2->id, &a), APR_NOTFOUND);
    assert_int_equal(count_where(f, "accounts", "app_user_id = 'U1'"), 0);
    assert_int_equal(count_where(f, "jobs", "id IN ('j1', 'j2', 'j3')"), 0);
    assert_int_equal(count_where(f, "jobs", "id IN ('j4', 'j5')"), 2);
    /* 333 is gone; 111 stays while bob's connection still links it */
    assert_int_equal(count_where(f, "events", "ig_user_id = '333'"), 0);
    assert_int_equal(count_where(f, "events", "ig_user_id IN ('111', '444', '999')"), 3);
    assert_int_equal(count_where(f, "oauth_pending", "id IN ('p1', 'p2')"), 0);
    assert_int_equal(count_where(f, "oauth_pending", "id = 'p3'"), 1);
    assert_int_equal(get_account(f, "alice", a4->id)->status, IGRAPH_ACCOUNT_ACTIVE);
    assert_int_equal(get_account(f, "bob", a3->id)->status, IGRAPH_ACCOUNT_ACTIVE);

    assert_int_equal(
        igraph_store_deletion_get(&f->db, f->pool, code1, &status, &deleted, &created, &completed),
        APR_SUCCESS);
    assert_string_equal(status, "completed");
    assert_int_equal(deleted, 2);
    assert_true(created >= now && created <= now + 60);
    assert_true(completed >= created);
    assert_int_equal(count_where(f, "deletion_requests",
                                 apr_psprintf(f->pool,
                                              "code = '%s' AND app_user_id = 'U1' "
                                              "AND login = 'instagram'",
                                              code1)),
                     1);

    /* bob's request takes the last link to 111: its events go now */
    assert_int_equal(igraph_store_data_deletion(&f->db, f->pool, "U9", NULL, code2, &n),
                     APR_SUCCESS);
    assert_int_equal(n, 1);
    assert_int_equal(count_where(f, "events", "ig_user_id = '111'"), 0);
    assert_int_equal(count_where(f, "jobs", "id = 'j5'"), 0);
    assert_int_equal(count_where(f, "deletion_requests",
                                 apr_psprintf(f->pool, "code = '%s' AND login IS NULL", code2)),
                     1);

    /* an id we never stored is still recorded */
    assert_int_equal(igraph_store_data_deletion(&f->db, f->pool, "U404", &fb_login, code3, &n),
                     APR_SUCCESS);
    assert_int_equal(n, 0);
    assert_int_equal(
        igraph_store_deletion_get(&f->db, f->pool, code3, &status, &deleted, NULL, NULL),
        APR_SUCCESS);
    assert_string_equal(status, "completed");
    assert_int_equal(deleted, 0);
    assert_int_equal(igraph_store_deletion_get(&f->db, f->pool, code3, NULL, NULL, NULL, NULL),
                     APR_SUCCESS);
    assert_int_equal(igraph_store_deletion_get(&f->db, f->pool, "delnosuchcode000000000000",
                                               &status, &deleted, &created, &completed),
                     APR_NOTFOUND);
    assert_int_equal(test_log_errors, 0);

    /* a failure rolls everything back: a reused code fails the final INSERT */
    assert_int_equal(igraph_store_data_deletion(&f->db, f->pool, "U2", NULL, code1, &n),
                     APR_EGENERAL);
    assert_int_equal(n, 0);
    assert_true(test_log_errors > 0);
    assert_int_equal(get_account(f, "alice", a4->id)->status, IGRAPH_ACCOUNT_ACTIVE);
    assert_int_equal(count_where(f, "jobs", "id = 'j4'"), 1);
    assert_int_equal(count_where(f, "events", "ig_user_id = '444'"), 1);
    assert_int_equal(count_where(f, "deletion_requests", "app_user_id = 'U2'"), 0);
    /* and the connection is usable afterwards (no transaction left open) */
    assert_int_equal(
        igraph_store_data_deletion(&f->db, f->pool, "U2", NULL, igraph_deletion_code(f->pool), &n),
        APR_SUCCESS);
    assert_int_equal(n, 1);
    assert_int_equal(count_where(f, "accounts", "1 = 1"), 0);
    assert_int_equal(count_where(f, "events", "ig_user_id = '444'"), 0);
    assert_int_equal(count_where(f, "events", "ig_user_id = '999'"), 1);

    /* bad arguments */
    assert_int_equal(igraph_store_data_deletion(&f->db, f->pool, NULL, NULL, code3, &n),
                     APR_EINVAL);
    assert_int_equal(igraph_store_data_deletion(&f->db, f->pool, "", NULL, code3, &n), APR_EINVAL);
    assert_int_equal(igraph_store_data_deletion(&f->db, f->pool, "U1", NULL, NULL, &n), APR_EINVAL);
    assert_int_equal(igraph_store_data_deletion(&f->db, f->pool, "U1", NULL, "", &n), APR_EINVAL);
    assert_int_equal(igraph_store_data_deletion(&f->db, f->pool, "U1", &bad_login, code3, &n),
                     APR_EINVAL);
    assert_int_equal(igraph_store_deletion_get(&f->db, f->pool, NULL, NULL, NULL, NULL, NULL),
                     APR_EINVAL);
}

static void test_event_insert(void **state)
{
    fixture_t *f = *state;
    igraph_webhook_event_t *e = make_event(f->pool, "111", "comments", "{\"id\":\"c1\"}", 0);
    igraph_webhook_event_t *e2;
    apr_int64_t now = igraph_now();
    const char *payload, *dedupe;
    igraph_key_t other = test_key;

    add_account(f, "alice", IGRAPH_LOGIN_INSTAGRAM, "111", "U1");
    add_account(f, "bob", IGRAPH_LOGIN_FACEBOOK, "222", "U2");
    assert_int_equal(igraph_store_event_insert(&f->db, f->pool, &test_key, e), APR_SUCCESS);
    assert_int_equal(igraph_store_event_insert(&f->db, f->pool, &test_key, e), APR_EEXIST);
    assert_int_equal(count_where(f, "events", "1 = 1"), 1);
    /* received_at 0 means now */
    assert_true(test_db_count(&f->db, f->pool, "SELECT received_at FROM events") >= now);
    assert_int_equal(test_db_count(&f->db, f->pool, "SELECT event_time FROM events"), 1793000800);
    /* sealed like a token: nothing of the content is readable in the database, not even its
     * plain hash */
    payload = test_db_value(&f->db, f->pool, "SELECT payload FROM events");
    assert_true(!strncmp(payload, "v1.", 3));
    assert_null(strstr(payload, "c1"));
    dedupe = test_db_value(&f->db, f->pool, "SELECT dedupe FROM events");
    assert_int_equal(strlen(dedupe), 64);
    assert_string_not_equal(dedupe, e->dedupe);

    /* another value is another event; the same key is a duplicate whatever else differs */
    e2 = make_event(f->pool, "111", "comments", "{\"id\":\"c2\"}", 1793000000);
    assert_int_equal(igraph_store_event_insert(&f->db, f->pool, &test_key, e2), APR_SUCCESS);
    e2 = make_event(f->pool, "222", "mentions", "{}", 1793000000);
    e2->dedupe = e->dedupe;
    assert_int_equal(igraph_store_event_insert(&f->db, f->pool, &test_key, e2), APR_EEXIST);
    assert_int_equal(count_where(f, "events", "1 = 1"), 2);
    /* under another key the same event is another row (the stored key is keyed) */
    other.k[0] ^= 1;
    assert_int_equal(igraph_store_event_insert(&f->db, f->pool, &other, e), APR_SUCCESS);
    assert_int_equal(count_where(f, "events", "1 = 1"), 3);

    /* nobody's account: nothing kept */
    e2 = make_event(f->pool, "999", "comments", "{\"id\":\"c9\"}", 0);
    assert_int_equal(igraph_store_event_insert(&f->db, f->pool, &test_key, e2), APR_NOTFOUND);
    assert_int_equal(count_where(f, "events", "ig_user_id = '999'"), 0);

    /* events parsed from a redelivered body are duplicates */
    {
        apr_array_header_t *a, *b;
        igraph_json_t *j;
        int i;

        add_account(f, "alice", IGRAPH_LOGIN_FACEBOOK, "17841400000000001", "U3");
        j = parse(f->pool, g_comment_body);
        assert_int_equal(igraph_webhook_events(f->pool, j, &a), APR_SUCCESS);
        assert_int_equal(igraph_webhook_events(f->pool, parse(f->pool, g_comment_body), &b),
                         APR_SUCCESS);
        for (i = 0; i < a->nelts; i++) {
            assert_int_equal(igraph_store_event_insert(&f->db, f->pool, &test_key, ev(a, i)),
                             APR_SUCCESS);
            assert_int_equal(igraph_store_event_insert(&f->db, f->pool, &test_key, ev(b, i)),
                             APR_EEXIST);
        }
    }

    /* bad arguments */
    assert_int_equal(igraph_store_event_insert(&f->db, f->pool, &test_key, NULL), APR_EINVAL);
    assert_int_equal(igraph_store_event_insert(&f->db, f->pool, NULL, e), APR_EINVAL);
    e2 = make_event(f->pool, "111", "comments", "{}", 0);
    e2->dedupe = NULL;
    assert_int_equal(igraph_store_event_insert(&f->db, f->pool, &test_key, e2), APR_EINVAL);
    e2 = make_event(f->pool, "", "comments", "{}", 0);
    assert_int_equal(igraph_store_event_insert(&f->db, f->pool, &test_key, e2), APR_EINVAL);
    e2 = make_event(f->pool, "111", NULL, "{}", 0);
    assert_int_equal(igraph_store_event_insert(&f->db, f->pool, &test_key, e2), APR_EINVAL);
    e2 = make_event(f->pool, "111", "comments", NULL, 0);
    assert_int_equal(igraph_store_event_insert(&f->db, f->pool, &test_key, e2), APR_EINVAL);
    assert_int_equal(test_log_errors, 0);
}

/* IGraphEventRetention: bounded batches, oldest first, nothing newer touched. */
static void test_events_purge(void **state)
{
    fixture_t *f = *state;
    int n = -1, i;

    add_account(f, "alice", IGRAPH_LOGIN_INSTAGRAM, "111", "U1");
    for (i = 0; i < 5; i++) {
        add_event(f, "111", apr_psprintf(f->pool, "{\"n\":%d}", i), 1793000000 + i);
    }
    assert_int_equal(igraph_store_events_purge(&f->db, f->pool, 1793000003, 2, &n), APR_SUCCESS);
    assert_int_equal(n, 2);
    assert_int_equal(count_where(f, "events", "received_at < 1793000002"), 0);
    assert_int_equal(count_where(f, "events", "1 = 1"), 3);
    assert_int_equal(igraph_store_events_purge(&f->db, f->pool, 1793000003, 2, &n), APR_SUCCESS);
    assert_int_equal(n, 1);
    assert_int_equal(igraph_store_events_purge(&f->db, f->pool, 1793000003, 2, &n), APR_SUCCESS);
    assert_int_equal(n, 0);
    assert_int_equal(count_where(f, "events", "received_at >= 1793000003"), 2);
    assert_int_equal(igraph_store_events_purge(&f->db, f->pool, 1793000003, 0, &n), APR_EINVAL);
    assert_int_equal(igraph_store_events_purge(&f->db, f->pool, 1793000003, 5, NULL), APR_SUCCESS);
    assert_int_equal(test_log_errors, 0);
}

/* Schema v6 drops the unsealed payloads earlier versions stored; sealed rows stay. */
static void test_migrate_v6_events(void **state)
{
    fixture_t *f = *state;
    apr_array_header_t *list;
    igraph_db_t db2;

    add_account(f, "alice", IGRAPH_LOGIN_INSTAGRAM, "111", "U1");
    add_event(f, "111", "{\"n\":1}", 1793000001);
    add_raw_event(f, "111", "{\"n\":0}", 1793000000);
    test_db_exec(&f->db, "DELETE FROM schema_migrations WHERE version = 6");
    test_db_open(f, &db2);
    assert_int_equal(igraph_store_ready(&db2, f->pool), APR_SUCCESS);
    test_db_close(&db2);
    assert_int_equal(count_where(f, "events", "1 = 1"), 1);
    assert_int_equal(test_db_count(&f->db, f->pool, "SELECT MAX(version) FROM schema_migrations"),
                     6);
    if (!test_dbd_params) { /* SQLite: the indexes of the purge and of the insert's lookup */
        assert_int_equal(test_db_count(&f->db, f->pool,
                                       "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' "
                                       "AND name IN ('events_received_at', 'accounts_ig_user_id')"),
                         2);
    }
    assert_int_equal(igraph_store_events_list(&f->db, f->pool, &test_key, "alice", 10, &list),
                     APR_SUCCESS);
    assert_int_equal(list->nelts, 1);
    assert_string_equal(APR_ARRAY_IDX(list, 0, igraph_webhook_event_t *)->value, "{\"n\":1}");
    assert_int_equal(test_log_errors, 0);
}

static void test_events_list(void **state)
{
    fixture_t *f = *state;
    apr_array_header_t *list;
    igraph_webhook_event_t *e;

    add_account(f, "alice", IGRAPH_LOGIN_FACEBOOK, "111", "U1");
    add_account(f, "alice", IGRAPH_LOGIN_INSTAGRAM, "112", "U5");
    add_account(f, "bob", IGRAPH_LOGIN_FACEBOOK, "222", "U2");
    add_event(f, "111", "{\"n\":1}", 1793000001);
    add_event(f, "222", "{\"n\":2}", 1793000002);
    add_event(f, "112", "{\"n\":3}", 1793000003);
    add_event(f, "111", "{\"n\":4}", 1793000003);
    add_raw_event(f, "999", "v1.x", 1793000005);

    assert_int_equal(igraph_store_events_list(&f->db, f->pool, &test_key, "alice", 50, &list),
                     APR_SUCCESS);
    assert_int_equal(list->nelts, 3);
    /* newest first; equal received_at: the later insert first */
    e = APR_ARRAY_IDX(list, 0, igraph_webhook_event_t *);
    assert_string_equal(e->value, "{\"n\":4}");
    assert_string_equal(e->ig_id, "111");
    assert_string_equal(e->field, "comments");
    assert_int_equal(e->time, 1793000800);
    assert_int_equal(e->received_at, 1793000003);
    assert_true(e->id > 0);
    assert_null(e->object);
    assert_int_equal(strlen(e->dedupe), 64);
    assert_string_equal(APR_ARRAY_IDX(list, 1, igraph_webhook_event_t *)->value, "{\"n\":3}");
    assert_string_equal(APR_ARRAY_IDX(list, 2, igraph_webhook_event_t *)->value, "{\"n\":1}");
    assert_true(APR_ARRAY_IDX(list, 0, igraph_webhook_event_t *)->id >
                APR_ARRAY_IDX(list, 1, igraph_webhook_event_t *)->id);

    assert_int_equal(igraph_store_events_list(&f->db, f->pool, &test_key, "alice", 1, &list),
                     APR_SUCCESS);
    assert_int_equal(list->nelts, 1);
    assert_int_equal(igraph_store_events_list(&f->db, f->pool, &test_key, "bob", 50, &list),
                     APR_SUCCESS);
    assert_int_equal(list->nelts, 1);
    assert_string_equal(APR_ARRAY_IDX(list, 0, igraph_webhook_event_t *)->value, "{\"n\":2}");
    assert_int_equal(igraph_store_events_list(&f->db, f->pool, &test_key, "carol", 50, &list),
                     APR_SUCCESS);
    assert_int_equal(list->nelts, 0);
    assert_int_equal(igraph_store_events_list(&f->db, f->pool, &test_key, "", 50, &list),
                     APR_SUCCESS);
    assert_int_equal(list->nelts, 0);
    /* SQL stays data */
    assert_int_equal(
        igraph_store_events_list(&f->db, f->pool, &test_key, "alice' OR '1'='1", 50, &list),
        APR_SUCCESS);
    assert_int_equal(list->nelts, 0);

    /* a disabled account still shows its events; a deleted one does not */
    assert_int_equal(igraph_store_deauthorize(&f->db, f->pool, "U5", NULL, NULL), APR_SUCCESS);
    assert_int_equal(igraph_store_events_list(&f->db, f->pool, &test_key, "alice", 50, &list),
                     APR_SUCCESS);
    assert_int_equal(list->nelts, 3);
    assert_int_equal(igraph_store_data_deletion(&f->db, f->pool, "U5", NULL,
                                                igraph_deletion_code(f->pool), NULL),
                     APR_SUCCESS);
    assert_int_equal(igraph_store_events_list(&f->db, f->pool, &test_key, "alice", 50, &list),
                     APR_SUCCESS);
    assert_int_equal(list->nelts, 2);

    /* a payload that cannot be opened (moved to another row, another key) is left out */
    test_db_exec(&f->db, "UPDATE events SET payload = (SELECT payload FROM events e2 "
                         "WHERE e2.ig_user_id = '222') WHERE ig_user_id = '111' AND id = "
                         "(SELECT MAX(id) FROM events WHERE ig_user_id = '111')");
    assert_int_equal(igraph_store_events_list(&f->db, f->pool, &test_key, "alice", 50, &list),
                     APR_SUCCESS);
    assert_int_equal(list->nelts, 1);
    assert_non_null(strstr(test_log_buf, "IG0317"));
    {
        igraph_key_t other = test_key;
        other.k[31] ^= 0x80;
        assert_int_equal(igraph_store_events_list(&f->db, f->pool, &other, "bob", 50, &list),
                         APR_SUCCESS);
        assert_int_equal(list->nelts, 0);
    }
    assert_int_equal(igraph_store_events_list(&f->db, f->pool, NULL, "alice", 5, &list),
                     APR_EINVAL);
    assert_int_equal(igraph_store_events_list(&f->db, f->pool, &test_key, "alice", 0, &list),
                     APR_EINVAL);
    assert_int_equal(igraph_store_events_list(&f->db, f->pool, &test_key, NULL, 5, &list),
                     APR_EINVAL);
    assert_int_equal(igraph_store_events_list(&f->db, f->pool, &test_key, "alice", 5, NULL),
                     APR_EINVAL);
    assert_int_equal(test_log_errors, 0);
}

int main(void)
{
    const struct CMUnitTest pure[] = {
        cmocka_unit_test(test_sr_valid),          cmocka_unit_test(test_sr_tampered),
        cmocka_unit_test(test_sr_algorithm),      cmocka_unit_test(test_sr_malformed),
        cmocka_unit_test(test_sr_issued_at),      cmocka_unit_test(test_sr_not_a_callback),
        cmocka_unit_test(test_hub_signature),     cmocka_unit_test(test_webhook_changes),
        cmocka_unit_test(test_webhook_messaging), cmocka_unit_test(test_webhook_batched),
        cmocka_unit_test(test_webhook_dedupe),    cmocka_unit_test(test_webhook_invalid),
        cmocka_unit_test(test_deletion_code),     cmocka_unit_test(test_fb_me),
    };
    const struct CMUnitTest store[] = {
        cmocka_unit_test_setup_teardown(test_migrate_v3, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_deauthorize, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_data_deletion, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_events_purge, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_migrate_v6_events, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_event_insert, test_db_setup, test_db_teardown),
        cmocka_unit_test_setup_teardown(test_events_list, test_db_setup, test_db_teardown),
    };
    int failed;

    if (test_init() != 0 || test_db_init("test_meta", "TEST_META_PGSQL") != 0) {
        return 1;
    }
    igraph_http_global_init(NULL);
    test_log_capture(IGRAPH_LOG_DEBUG, "TEST_STORE_VERBOSE");
    failed = cmocka_run_group_tests_name("meta", pure, NULL, NULL);
    failed += cmocka_run_group_tests_name("meta store", store, NULL, NULL);
    igraph_http_global_cleanup();
    test_done();
    return failed;
}
