/* libFuzzer: Meta's callbacks (reference 7, 8): signed_request verification (raw input, and the
 * input as a correctly signed payload so the part behind the HMAC is reached), the
 * X-Hub-Signature-256 check, and webhook bodies flattened into events. */
#include "fuzz_common.h"
#include "igraph_crypto.h"
#include "igraph_meta.h"

#define NOW 1793000800
static const char *const secrets[] = {"", "sandbox-ig-secret", "sandbox-app-secret", NULL};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    igraph_json_t *payload = NULL, *j = NULL;
    apr_array_header_t *events = NULL;
    const char *why = NULL;
    int which = -1, mode;
    unsigned char mac[32];

    if (size < 1) {
        return 0;
    }
    p = fuzz_pool();
    mode = data[0] % 3;
    data++;
    size--;

    if (mode == 0) {
        /* whatever arrives in the form field */
        fuzz_sink += (size_t)igraph_signed_request_verify(p, fuzz_str(p, data, size), secrets, NOW,
                                                          (size & 1) ? 600 : 0, &payload, &which,
                                                          &why);
        fuzz_sink += (size_t)igraph_is_deletion_code(fuzz_str(p, data, size));
    } else if (mode == 1) {
        /* the input is the payload, signed with the Facebook app secret */
        char *enc = igraph_b64url_encode(p, data, size);
        char *sr;
        igraph_hmac_sha256(secrets[2], strlen(secrets[2]), enc, strlen(enc), mac);
        sr = apr_pstrcat(p, igraph_b64url_encode(p, mac, sizeof(mac)), ".", enc, NULL);
        if (igraph_signed_request_verify(p, sr, secrets, NOW, 600, &payload, &which, &why) ==
            APR_SUCCESS) {
            if (which != 2 || !igraph_json_get_id(p, payload, "user_id", NULL)) {
                abort(); /* documented: the matching secret, and user_id is present */
            }
            /* a callback says when it was issued and is no SDK login payload */
            if (!json_object_get(igraph_json_raw(payload), "issued_at") ||
                json_object_get(igraph_json_raw(payload), "code") ||
                json_object_get(igraph_json_raw(payload), "oauth_token")) {
                abort();
            }
        }
    } else {
        /* webhook POST: header line, then the body */
        const uint8_t *nl = memchr(data, '\n', size);
        size_t hlen = nl ? (size_t)(nl - data) : 0;
        const char *header = fuzz_str(p, data, hlen);
        const char *body = (const char *)data + (nl ? hlen + 1 : 0);
        size_t blen = size - (nl ? hlen + 1 : 0);
        if (igraph_hub_signature_ok(header, body, blen, secrets) &&
            !igraph_hub_signature_wellformed(header)) {
            abort(); /* what passes was also let through before the body was read */
        }
        /* and correctly signed */
        igraph_hmac_sha256(secrets[1], strlen(secrets[1]), body, blen, mac);
        if (!igraph_hub_signature_ok(apr_pstrcat(p, "sha256=", igraph_hex(p, mac, 32), NULL),
                                     body, blen, secrets)) {
            abort();
        }
        if (igraph_json_parse(&j, p, body, blen, NULL) == APR_SUCCESS &&
            igraph_webhook_events(p, j, &events) == APR_SUCCESS) {
            int i;
            for (i = 0; i < events->nelts; ++i) {
                igraph_webhook_event_t *e = APR_ARRAY_IDX(events, i, igraph_webhook_event_t *);
                fuzz_uses(e->object);
                fuzz_uses(e->ig_id);
                fuzz_uses(e->field);
                fuzz_uses(e->value);
                fuzz_uses(e->dedupe);
                fuzz_uses(igraph_webhook_dedupe(p, e));
            }
        }
    }
    fuzz_uses(why);
    apr_pool_destroy(p);
    return 0;
}
