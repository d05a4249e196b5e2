/* libFuzzer: query strings and application/x-www-form-urlencoded bodies (igraph_form_parse) and
 * percent-decoding (igraph_url_decode), with a round trip through igraph_url_encode. */
#include "fuzz_common.h"
#include "igraph_util.h"

static int count_cb(void *rec, const char *key, const char *value)
{
    fuzz_uses(key);
    fuzz_uses(value);
    (*(int *)rec)++;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    char *s = fuzz_str(p, data, size);
    apr_table_t *t;
    char *dec;
    int n = 0;

    t = igraph_form_parse(p, s);
    if (t) {
        apr_table_do(count_cb, &n, t, NULL);
        fuzz_sink += (size_t)igraph_table_count(t, "state") + (size_t)igraph_table_count(t, "code");
    }
    dec = igraph_url_decode(p, (const char *)data, size);
    if (dec) {
        char *enc = igraph_url_encode(p, dec);
        char *again = igraph_url_decode(p, enc, strlen(enc));
        if (!again || strcmp(again, dec) != 0) {
            abort(); /* decode(encode(x)) must be x */
        }
        fuzz_uses(igraph_html_escape(p, dec));
    }
    apr_pool_destroy(p);
    return 0;
}
