/* libFuzzer: igraph_json_parse (big-number rewriting, depth and UTF-8 checks) and the getters,
 * over whatever a Graph/Instagram answer or a request body could be. */
#include "fuzz_common.h"
#include "igraph_json.h"

static void walk(apr_pool_t *p, const igraph_json_t *j, int depth)
{
    apr_size_t i, n;
    int found;
    const char *keys[] = {"id", "data", "error", "access_token", "user_id", "expires_in", "paging",
                          "permissions", "code", "message", NULL};

    if (!j || depth > 40) {
        return;
    }
    fuzz_uses(igraph_json_dump(p, j));
    for (i = 0; keys[i]; ++i) {
        fuzz_uses(igraph_json_gets(j, keys[i], NULL));
        fuzz_uses(igraph_json_get_id(p, j, keys[i], NULL));
        fuzz_sink += (size_t)igraph_json_getl(j, &found, keys[i], NULL);
        fuzz_sink += (size_t)igraph_json_getb(j, -1, keys[i], NULL);
        fuzz_sink += (size_t)igraph_json_has(j, keys[i], NULL);
        fuzz_uses(igraph_json_gets(j, keys[i], "message", NULL));
        fuzz_sink += (size_t)igraph_json_getl(j, NULL, "error", keys[i], NULL);
        walk(p, igraph_json_getj(p, j, keys[i], NULL), depth + 1);
    }
    n = igraph_json_array_size(j);
    for (i = 0; i < n && i < 64; ++i) {
        walk(p, igraph_json_array_at(p, j, i), depth + 1);
    }
    fuzz_use(igraph_json_array_at(p, j, n)); /* out of range */
    fuzz_sink += (size_t)igraph_json_is_object(j) + (size_t)igraph_json_is_array(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    igraph_json_t *j = NULL;
    const char *err = NULL;

    if (igraph_json_parse(&j, p, (const char *)data, size, &err) == APR_SUCCESS) {
        walk(p, j, 0);
        /* what we build from it must serialise and parse again */
        {
            char *text = igraph_json_dump(p, j);
            igraph_json_t *again = NULL;
            if (text && igraph_json_parse(&again, p, text, strlen(text), NULL) != APR_SUCCESS) {
                /* the dump of a value the parser accepted is refused by the parser: a bug
                 * unless the dump nests deeper (it cannot) */
                abort();
            }
        }
    } else {
        fuzz_uses(err);
    }
    apr_pool_destroy(p);
    return 0;
}
