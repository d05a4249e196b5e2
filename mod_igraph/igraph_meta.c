/* igraph_meta.c: signed_request and X-Hub-Signature-256 verification, webhook body flattening,
 * data-deletion confirmation codes (see igraph_meta.h). */
#include <string.h>

#include <apr_strings.h>

#include "igraph_crypto.h"
#include "igraph_log.h"
#include "igraph_meta.h"
#include "igraph_util.h"

#define IGRAPH_HMAC_LEN 32
#define IGRAPH_HUB_PREFIX "sha256="
#define IGRAPH_HUB_PREFIX_LEN 7
/* entry[].time above this cannot be seconds (year 5138): Messenger-style milliseconds. */
#define IGRAPH_WEBHOOK_MS_THRESHOLD 100000000000LL
#define IGRAPH_WEBHOOK_FIELD_MAX 128
#define IGRAPH_DELETION_PREFIX "del"
#define IGRAPH_DELETION_RANDOM 20

/* ---- signed_request ---------------------------------------------------------------------- */

/* Decodes one base64url part. Padding is optional and ignored (however much there is): Meta has
 * been seen appending '=' to the signature, and for the payload the HMAC covers the text as
 * received anyway, so leniency about padding weakens nothing. The alphabet stays strict. */
static apr_status_t igraph_meta_b64(apr_pool_t *p, const char *s, apr_size_t len,
                                    unsigned char **out, apr_size_t *outlen)
{
    while (len > 0 && s[len - 1] == '=') {
        len--;
    }
    if (len == 0) {
        return APR_EINVAL;
    }
    return igraph_b64url_decode(p, s, len, out, outlen);
}

static apr_status_t igraph_meta_fail(const char **why, const char *reason, apr_status_t rv)
{
    if (why) {
        *why = reason;
    }
    return rv;
}

apr_status_t igraph_signed_request_verify(apr_pool_t *p, const char *sr, const char *const *secrets,
                                          apr_int64_t now, apr_int64_t max_age,
                                          igraph_json_t **payload, int *which, const char **why)
{
    unsigned char *sig, *body, mac[IGRAPH_HMAC_LEN];
    apr_size_t len, siglen, bodylen, enclen;
    const char *dot, *enc, *alg, *perr = NULL;
    igraph_json_t *j;
    json_t *ia;
    apr_int64_t issued_at;
    int i, matched = -1, tried = 0;

    if (payload) {
        *payload = NULL;
    }
    if (which) {
        *which = -1;
    }
    if (why) {
        *why = NULL;
    }
    if (!sr || !*sr) {
        return igraph_meta_fail(why, "missing signed_request", APR_EINVAL);
    }
    len = strnlen(sr, IGRAPH_SIGNED_REQUEST_MAX + 1);
    if (len > IGRAPH_SIGNED_REQUEST_MAX) {
        return igraph_meta_fail(why, "signed_request too long", APR_EINVAL);
    }
    dot = memchr(sr, '.', len);
    if (!dot || dot == sr || dot + 1 == sr + len) {
        return igraph_meta_fail(why, "signed_request is not <signature>.<payload>", APR_EINVAL);
    }
    if (igraph_meta_b64(p, sr, (apr_size_t)(dot - sr), &sig, &siglen) != APR_SUCCESS) {
        return igraph_meta_fail(why, "signature is not base64url", APR_EINVAL);
    }
    if (siglen != IGRAPH_HMAC_LEN) {
        return igraph_meta_fail(why, "signature is not 32 bytes", APR_EINVAL);
    }
    enc = dot + 1;
    enclen = len - (apr_size_t)(enc - sr);
    if (igraph_meta_b64(p, enc, enclen, &body, &bodylen) != APR_SUCCESS) {
        return igraph_meta_fail(why, "payload is not base64url", APR_EINVAL);
    }

    /* The MAC first: what is not signed by one of our secrets is never parsed. */
    for (i = 0; secrets && secrets[i]; i++) {
        if (!*secrets[i]) {
            continue;
        }
        tried++;
        igraph_hmac_sha256(secrets[i], strlen(secrets[i]), enc, enclen, mac);
        if (igraph_ct_equal(mac, sizeof(mac), sig, siglen)) {
            matched = i;
            break;
        }
    }
    igraph_secure_zero(mac, sizeof(mac));
    if (!tried) {
        return igraph_meta_fail(why, "no app secret configured", APR_EGENERAL);
    }
    if (matched < 0) {
        return igraph_meta_fail(why, "signature does not match", APR_EGENERAL);
    }

    if (igraph_json_parse(&j, p, (const char *)body, bodylen, &perr) != APR_SUCCESS ||
        !igraph_json_is_object(j)) {
        return igraph_meta_fail(why, "payload is not a JSON object", APR_EINVAL);
    }
    alg = igraph_json_gets(j, "algorithm", NULL);
    if (!alg || strcasecmp(alg, "HMAC-SHA256") != 0) {
        return igraph_meta_fail(why, "algorithm is not HMAC-SHA256", APR_EGENERAL);
    }
    /* The JavaScript SDK's login payloads are signed the same way and carry code or
     * oauth_token; they are not callbacks and must never act as one (a page that leaks one
     * would otherwise let anyone deauthorize or delete that user). */
    if (json_object_get(igraph_json_raw(j), "code") ||
        json_object_get(igraph_json_raw(j), "oauth_token")) {
        return igraph_meta_fail(why, "a login payload (code or oauth_token), not a callback",
                                APR_EGENERAL);
    }
    /* issued_at is what bounds a replay: a payload without it could be replayed forever. */
    ia = json_object_get(igraph_json_raw(j), "issued_at");
    if (!ia) {
        return igraph_meta_fail(why, "issued_at is missing", APR_EGENERAL);
    }
    {
        if (json_is_integer(ia)) {
            issued_at = (apr_int64_t)json_integer_value(ia);
        }
        else if (json_is_real(ia) && json_real_value(ia) > -1e15 && json_real_value(ia) < 1e15 &&
                 json_real_value(ia) == (double)(apr_int64_t)json_real_value(ia)) {
            issued_at = (apr_int64_t)json_real_value(ia);
        }
        else {
            return igraph_meta_fail(why, "issued_at is not a number", APR_EGENERAL);
        }
        /* Differences in unsigned arithmetic: no overflow whatever the payload says. */
        if (max_age > 0 && issued_at < now &&
            (apr_uint64_t)now - (apr_uint64_t)issued_at > (apr_uint64_t)max_age) {
            return igraph_meta_fail(why, "issued_at is too old", APR_EGENERAL);
        }
        if (issued_at > now &&
            (apr_uint64_t)issued_at - (apr_uint64_t)now > IGRAPH_SIGNED_REQUEST_SKEW) {
            return igraph_meta_fail(why, "issued_at is in the future", APR_EGENERAL);
        }
    }
    {
        const char *uid = igraph_json_get_id(p, j, "user_id", NULL);
        if (!uid || !*uid) {
            return igraph_meta_fail(why, "user_id is missing", APR_EINVAL);
        }
    }
    if (payload) {
        *payload = j;
    }
    if (which) {
        *which = matched;
    }
    return APR_SUCCESS;
}

/* ---- X-Hub-Signature-256 ----------------------------------------------------------------- */

static int igraph_meta_hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* "sha256=" + 64 hex digits into want; 0 when the header is not of that form. */
static int igraph_hub_parse(const char *header, unsigned char want[IGRAPH_HMAC_LEN])
{
    const char *hex;
    int i, hi, lo;

    if (!header || strncasecmp(header, IGRAPH_HUB_PREFIX, IGRAPH_HUB_PREFIX_LEN) != 0) {
        return 0;
    }
    hex = header + IGRAPH_HUB_PREFIX_LEN;
    if (strnlen(hex, 2 * IGRAPH_HMAC_LEN + 1) != 2 * IGRAPH_HMAC_LEN) {
        return 0;
    }
    for (i = 0; i < IGRAPH_HMAC_LEN; i++) {
        hi = igraph_meta_hexval(hex[2 * i]);
        lo = igraph_meta_hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return 0;
        }
        want[i] = (unsigned char)((hi << 4) | lo);
    }
    return 1;
}

int igraph_hub_signature_wellformed(const char *header)
{
    unsigned char want[IGRAPH_HMAC_LEN];

    return igraph_hub_parse(header, want);
}

int igraph_hub_signature_ok(const char *header, const char *body, apr_size_t len,
                            const char *const *secrets)
{
    unsigned char want[IGRAPH_HMAC_LEN], mac[IGRAPH_HMAC_LEN];
    int i, ok = 0;

    if (!secrets || (!body && len > 0) || !igraph_hub_parse(header, want)) {
        return 0;
    }
    for (i = 0; secrets[i] && !ok; i++) {
        if (!*secrets[i]) {
            continue;
        }
        igraph_hmac_sha256(secrets[i], strlen(secrets[i]), body, len, mac);
        ok = igraph_ct_equal(mac, sizeof(mac), want, sizeof(want));
    }
    igraph_secure_zero(mac, sizeof(mac));
    return ok;
}

/* ---- webhook bodies ---------------------------------------------------------------------- */

/* Compact JSON text of any value ("null" for a missing one), allocated from p. */
static const char *igraph_meta_dump(apr_pool_t *p, json_t *v)
{
    size_t need, got;
    char *buf;

    if (!v) {
        return "null";
    }
    need = json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
    if (need == 0) {
        return NULL;
    }
    buf = apr_palloc(p, need + 1);
    got = json_dumpb(v, buf, need, JSON_COMPACT | JSON_ENCODE_ANY);
    if (got != need) {
        return NULL;
    }
    buf[need] = '\0';
    return buf;
}

const char *igraph_webhook_dedupe(apr_pool_t *p, const igraph_webhook_event_t *e)
{
    const char *s = apr_psprintf(p, "%s|%s|%s|%" APR_INT64_T_FMT "|%s", e->object ? e->object : "",
                                 e->ig_id ? e->ig_id : "", e->field ? e->field : "", e->time,
                                 e->value ? e->value : "");
    return igraph_sha256_hex(p, s, strlen(s));
}

/* entry[].time: integer, integral real or digit string; milliseconds become seconds; anything
 * else (absent, negative, junk) is 0. */
static apr_int64_t igraph_meta_entry_time(const igraph_json_t *entry)
{
    apr_int64_t t;
    int found = 0;

    t = igraph_json_getl(entry, &found, "time", NULL);
    if (!found || t <= 0) {
        return 0;
    }
    if (t >= IGRAPH_WEBHOOK_MS_THRESHOLD) {
        t /= 1000;
    }
    return t;
}

/* Appends one event; APR_ENOSPC once the cap is reached, APR_ENOMEM when the value cannot be
 * serialised. */
static apr_status_t igraph_meta_push(apr_pool_t *p, apr_array_header_t *arr, const char *object,
                                     const char *ig_id, apr_int64_t etime, const char *field,
                                     json_t *value)
{
    igraph_webhook_event_t *e;

    if (arr->nelts >= IGRAPH_WEBHOOK_MAX_EVENTS) {
        return APR_ENOSPC;
    }
    e = apr_pcalloc(p, sizeof(*e));
    e->object = object;
    e->ig_id = ig_id;
    e->time = etime;
    e->field = field;
    e->value = igraph_meta_dump(p, value);
    if (!e->value) {
        return APR_ENOMEM;
    }
    e->dedupe = igraph_webhook_dedupe(p, e);
    if (!e->dedupe) {
        return APR_ENOMEM;
    }
    APR_ARRAY_PUSH(arr, igraph_webhook_event_t *) = e;
    return APR_SUCCESS;
}

/* A change's field name: 1..IGRAPH_WEBHOOK_FIELD_MAX printable ASCII characters without space
 * or '|' (the separator in the de-duplication key). NULL otherwise. */
static const char *igraph_meta_field(apr_pool_t *p, json_t *change)
{
    json_t *f = json_object_get(change, "field");
    const char *s;
    apr_size_t i, n;

    if (!json_is_string(f)) {
        return NULL;
    }
    s = json_string_value(f);
    n = json_string_length(f);
    if (n == 0 || n > IGRAPH_WEBHOOK_FIELD_MAX) {
        return NULL;
    }
    for (i = 0; i < n; i++) {
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f || s[i] == '|') {
            return NULL;
        }
    }
    return apr_pstrmemdup(p, s, n);
}

apr_status_t igraph_webhook_events(apr_pool_t *p, const igraph_json_t *body,
                                   apr_array_header_t **events)
{
    json_t *root = igraph_json_raw(body), *entries, *entry, *list, *item;
    apr_array_header_t *arr;
    const char *object, *ig_id, *field;
    igraph_json_t *we;
    apr_int64_t etime;
    apr_status_t rv;
    size_t i, k;

    if (events) {
        *events = NULL;
    }
    if (!events || !json_is_object(root)) {
        return APR_EINVAL;
    }
    entries = json_object_get(root, "entry");
    if (!json_is_array(entries) || json_array_size(entries) > IGRAPH_WEBHOOK_MAX_ENTRIES) {
        return APR_EINVAL;
    }
    object = igraph_json_gets(body, "object", NULL);
    object = apr_pstrdup(p, object ? object : "");
    arr = apr_array_make(p, 4, sizeof(igraph_webhook_event_t *));

    json_array_foreach(entries, i, entry)
    {
        if (!json_is_object(entry)) {
            continue;
        }
        /* wrapped for the tolerant getters (id string or number, time in any numeric form) */
        we = igraph_json_wrap(p, entry);
        ig_id = igraph_json_get_id(p, we, "id", NULL);
        if (!ig_id || !igraph_is_numeric_id(ig_id)) {
            continue;
        }
        etime = igraph_meta_entry_time(we);

        list = json_object_get(entry, "changes");
        if (json_is_array(list)) {
            json_array_foreach(list, k, item)
            {
                if (!json_is_object(item) || !(field = igraph_meta_field(p, item))) {
                    continue;
                }
                rv = igraph_meta_push(p, arr, object, ig_id, etime, field,
                                      json_object_get(item, "value"));
                if (rv != APR_SUCCESS) {
                    return APR_EINVAL;
                }
            }
        }
        list = json_object_get(entry, "messaging");
        if (json_is_array(list)) {
            json_array_foreach(list, k, item)
            {
                if (!json_is_object(item)) {
                    continue;
                }
                rv = igraph_meta_push(p, arr, object, ig_id, etime, "messages", item);
                if (rv != APR_SUCCESS) {
                    return APR_EINVAL;
                }
            }
        }
    }
    *events = arr;
    return APR_SUCCESS;
}

/* ---- data-deletion confirmation codes ---------------------------------------------------- */

char *igraph_deletion_code(apr_pool_t *p)
{
    static const char alpha[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char rnd[32];
    char *code;
    apr_size_t n = 0, i, plen = sizeof(IGRAPH_DELETION_PREFIX) - 1;
    int rounds;

    code = apr_palloc(p, plen + IGRAPH_DELETION_RANDOM + 1);
    memcpy(code, IGRAPH_DELETION_PREFIX, plen);
    /* Rejection sampling keeps every character equally likely (252 = 7 * 36). A round yields
     * ~31 usable bytes, so the bound is never reached with a working generator. */
    for (rounds = 0; n < IGRAPH_DELETION_RANDOM && rounds < 8; rounds++) {
        if (igraph_random_bytes(rnd, sizeof(rnd)) != APR_SUCCESS) {
            break;
        }
        for (i = 0; i < sizeof(rnd) && n < IGRAPH_DELETION_RANDOM; i++) {
            if (rnd[i] < 252) {
                code[plen + n++] = alpha[rnd[i] % 36];
            }
        }
    }
    igraph_secure_zero(rnd, sizeof(rnd));
    if (n < IGRAPH_DELETION_RANDOM) {
        igraph_log(IGRAPH_LOG_ERR, "IG0701: meta: no random data for a deletion code");
        return NULL;
    }
    code[plen + n] = '\0';
    return code;
}

int igraph_is_deletion_code(const char *s)
{
    apr_size_t plen = sizeof(IGRAPH_DELETION_PREFIX) - 1, i;

    if (!s || strncmp(s, IGRAPH_DELETION_PREFIX, plen) != 0) {
        return 0;
    }
    for (i = 0; i < IGRAPH_DELETION_RANDOM; i++) {
        char c = s[plen + i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
            return 0;
        }
    }
    return s[plen + IGRAPH_DELETION_RANDOM] == '\0';
}
