/* libFuzzer: igraph_publish_validate on arbitrary JSON bodies, then what the module does with a
 * valid request (serialisation for the job row and back, media key, container parameters). */
#include "fuzz_common.h"
#include "igraph_job.h"

#define NOW 1764000000 /* 2025-11-24 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    igraph_json_t *j = NULL;
    igraph_publish_rules_t rules;
    igraph_publish_req_t req, back;
    const char *field = NULL, *msg = NULL;
    int variant = (int)(size & 3); /* the rules variant (keeps every seed valid JSON) */

    memset(&rules, 0, sizeof(rules));
    rules.now = NOW;
    /* the seed route defaults to REELS; /ig/api/publish requires media_type */
    rules.default_media_type = (variant & 1) ? IGRAPH_MEDIA_REELS : IGRAPH_MEDIA_NONE;
    rules.default_wait = (variant & 2) ? 60 : 0;
    rules.max_wait = 180;
    rules.affiliate_hosts = (variant & 2) ? "amzn.to, shop.example-aff.com" : NULL;

    if (igraph_json_parse(&j, p, (const char *)data, size, NULL) == APR_SUCCESS) {
        memset(&req, 0, sizeof(req));
        if (igraph_publish_validate(p, j, &rules, &req, &field, &msg) == APR_SUCCESS) {
            char *text = igraph_publish_req_to_json(p, &req);
            int i, n;
            if (!text) {
                abort();
            }
            memset(&back, 0, sizeof(back));
            if (igraph_publish_req_from_json(p, text, &back) != APR_SUCCESS) {
                abort(); /* a validated request must survive the job row */
            }
            fuzz_uses(igraph_publish_media_key(p, &req));
            fuzz_use(igraph_job_container_params(p, &back, -1, "1,2"));
            n = back.children ? back.children->nelts : 0;
            for (i = 0; i < n; ++i) {
                fuzz_use(igraph_job_container_params(p, &back, i, NULL));
            }
        } else {
            fuzz_uses(field);
            fuzz_uses(msg);
        }
    }
    /* the job-row reader also takes whatever is in the DB */
    memset(&back, 0, sizeof(back));
    fuzz_sink += (size_t)igraph_publish_req_from_json(p, fuzz_str(p, data, size), &back);
    apr_pool_destroy(p);
    return 0;
}
