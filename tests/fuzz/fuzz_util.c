/* libFuzzer: directive values and small outside inputs: durations, scope lists, URLs, Graph
 * versions, int64, base64url, token key material, caption counting and attribution. */
#include "fuzz_common.h"
#include "igraph_crypto.h"
#include "igraph_job.h"
#include "igraph_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    char *s = fuzz_str(p, data, size);
    apr_int64_t v;
    const char *err = NULL;
    char *norm;
    unsigned char *out = NULL;
    apr_size_t outlen = 0, chars = 0;
    igraph_key_t key;
    int tags = 0, mentions = 0;

    if (igraph_parse_duration(s, &v) == APR_SUCCESS && (v <= 0 || v > 10LL * 366 * 86400)) {
        abort(); /* documented range: 0 < x <= 10 years */
    }
    norm = igraph_scopes_normalize(p, s, &err);
    if (norm) {
        /* normalising is idempotent */
        char *again = igraph_scopes_normalize(p, norm, &err);
        if (!again || strcmp(again, norm) != 0) {
            abort();
        }
        fuzz_sink += (size_t)igraph_scopes_contains(norm, "pages_show_list");
        fuzz_use(igraph_split_csv(p, norm));
    } else {
        fuzz_uses(err);
    }
    fuzz_use(igraph_split_csv(p, s));
    fuzz_sink += (size_t)igraph_is_http_url(s);
    /* a display URL is kept exactly when it is an http(s) URL */
    if ((igraph_http_url_or_null(s) != NULL) != igraph_is_http_url(s) ||
        (igraph_http_url_or_null(s) && igraph_http_url_or_null(s) != s)) {
        abort();
    }
    fuzz_sink += (size_t)igraph_is_graph_version(s);
    fuzz_sink += (size_t)igraph_is_numeric_id(s);
    fuzz_sink += (size_t)igraph_is_utf8((const char *)data, size);
    if (igraph_parse_int64(s, &v) == APR_SUCCESS) {
        fuzz_sink += (size_t)v;
    }
    if (igraph_b64url_decode(p, (const char *)data, size, &out, &outlen) == APR_SUCCESS) {
        char *enc = igraph_b64url_encode(p, out, outlen);
        if (out[outlen] != '\0' || !enc) {
            abort();
        }
    }
    fuzz_sink += (size_t)igraph_key_parse(&key, data, size);
    if (igraph_caption_count(s, &chars, &tags, &mentions) == APR_SUCCESS) {
        fuzz_sink += chars + (size_t)tags + (size_t)mentions;
    }
    fuzz_uses(igraph_caption_attribute(p, s, "amzn.to, shop.example-aff.com"));
    fuzz_uses(igraph_caption_attribute(p, s, NULL));
    apr_pool_destroy(p);
    return 0;
}
