/* libFuzzer: the Graph/Instagram answer parsers: error classification of any status + body,
 * and the token, /me/accounts page, profile and permissions parsers on parsed input. */
#include "fuzz_common.h"
#include "igraph_graph.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    igraph_gerr_t e;
    igraph_json_t *j = NULL;
    igraph_token_t tok;
    igraph_profile_t prof;
    apr_array_header_t *arr;
    const char *next = NULL;
    int status;

    if (size < 1) {
        return 0;
    }
    p = fuzz_pool();
    /* first byte picks the HTTP status */
    {
        static const int statuses[] = {0, 200, 201, 204, 301, 400, 401, 403, 404, 429, 500, 502, 503};
        status = statuses[data[0] % (sizeof(statuses) / sizeof(statuses[0]))];
        data++;
        size--;
    }
    memset(&e, 0, sizeof(e));
    fuzz_sink += (size_t)igraph_graph_classify(&e, p, status, (const char *)data, size);
    fuzz_uses(igraph_err_class_name(e.cls));
    fuzz_uses(e.type);
    fuzz_uses(e.message);
    fuzz_uses(e.user_title);
    fuzz_uses(e.user_msg);
    fuzz_uses(e.fbtrace_id);
    fuzz_uses(igraph_status_error_subcode(fuzz_str(p, data, size)) ? "x" : NULL);
    fuzz_uses(igraph_strip_code_suffix(p, fuzz_str(p, data, size)));

    if (igraph_json_parse(&j, p, (const char *)data, size, NULL) == APR_SUCCESS) {
        memset(&tok, 0, sizeof(tok));
        if (igraph_parse_token(p, j, &tok) == APR_SUCCESS) {
            fuzz_uses(tok.access_token);
            fuzz_uses(tok.user_id);
            fuzz_uses(tok.permissions);
        }
        arr = apr_array_make(p, 4, sizeof(igraph_page_t *));
        if (igraph_parse_pages(p, j, arr, &next) == APR_SUCCESS) {
            int i;
            for (i = 0; i < arr->nelts; ++i) {
                igraph_page_t *pg = APR_ARRAY_IDX(arr, i, igraph_page_t *);
                fuzz_uses(pg->id);
                fuzz_uses(pg->name);
                fuzz_uses(pg->access_token);
                fuzz_uses(pg->tasks);
                fuzz_uses(pg->ig_id);
                fuzz_uses(pg->ig_username);
            }
            fuzz_uses(next);
        }
        memset(&prof, 0, sizeof(prof));
        if (igraph_parse_profile(p, j, &prof) == APR_SUCCESS) {
            fuzz_uses(prof.id);
            fuzz_uses(prof.user_id);
            fuzz_uses(prof.username);
            fuzz_uses(prof.name);
            fuzz_uses(prof.picture_url);
            fuzz_uses(prof.account_type);
        }
        arr = apr_array_make(p, 4, sizeof(char *));
        next = NULL;
        if (igraph_parse_permissions(p, j, arr, &next) == APR_SUCCESS) {
            int i;
            for (i = 0; i < arr->nelts; ++i) {
                fuzz_uses(APR_ARRAY_IDX(arr, i, const char *));
            }
            fuzz_uses(next);
        }
    }
    apr_pool_destroy(p);
    return 0;
}
