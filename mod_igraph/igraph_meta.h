/* igraph_meta.h: Meta platform callbacks, the Apache-independent part (reference sections 7, 8).
 *
 * - signed_request (deauthorize and data-deletion callbacks): "<sig>.<payload>", both base64url,
 *   sig = HMAC-SHA256(app secret, <payload> exactly as received).
 * - X-Hub-Signature-256 of webhook POSTs: "sha256=" + hex HMAC-SHA256(app secret, raw body).
 * - Webhook bodies: {"object":..., "entry":[{"id", "time", "changes":[...] | "messaging":[...]}]}
 *   flattened into one event per change / messaging item, each with a de-duplication key.
 *
 * Secrets are tried in the order given (Instagram Login app first, then Facebook Login app, see
 * reference 7.4 and 8.2); nothing here logs or returns a secret, a signature or a payload.
 */
#ifndef IGRAPH_META_H
#define IGRAPH_META_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "igraph_json.h"

/* Longest signed_request accepted (Meta's are a few hundred bytes). */
#define IGRAPH_SIGNED_REQUEST_MAX 8192
/* issued_at may lie this far in the future (clock skew) and no further. */
#define IGRAPH_SIGNED_REQUEST_SKEW 300
/* Limits of one webhook body (Meta batches up to 1,000 updates). */
#define IGRAPH_WEBHOOK_MAX_ENTRIES 1000
#define IGRAPH_WEBHOOK_MAX_EVENTS 5000

/* Verifies a signed_request. secrets: NULL-terminated, tried in order (NULL or "" entries are
 * skipped). now, max_age: Unix seconds; issued_at is required and must be a JSON number with
 * now - max_age <= issued_at <= now + IGRAPH_SIGNED_REQUEST_SKEW (max_age <= 0: no age limit).
 * On success *payload is the decoded JSON object (read "user_id" with igraph_json_get_id: it is
 * present, a string or an integer) and *which the index of the secret that matched (payload and
 * which may be NULL). On failure: APR_EINVAL when the input is malformed (no '.', bad base64,
 * signature not 32 bytes, too long, payload not a JSON object, no user_id), APR_EGENERAL when it
 * is well formed but not acceptable (no secret matches, algorithm is not HMAC-SHA256, issued_at
 * missing / too old / in the future / not a number, a "code" or "oauth_token" key present: the
 * JavaScript SDK's login payload, not a callback; no usable secret given); *why (may be NULL) gets
 * a short static reason that never contains input or secrets. The HMAC is checked before the
 * payload is parsed: nothing unsigned reaches the JSON parser. */
apr_status_t igraph_signed_request_verify(apr_pool_t *p, const char *sr, const char *const *secrets,
                                          apr_int64_t now, apr_int64_t max_age,
                                          igraph_json_t **payload, int *which, const char **why);

/* X-Hub-Signature-256 check: header is "sha256=" (prefix case-insensitive) followed by exactly 64
 * hex digits (either case); 1 when HMAC-SHA256(secret, body[0..len)) equals it for one of the
 * secrets (NULL-terminated, NULL/"" entries skipped), compared in constant time; 0 otherwise
 * (also for a NULL or malformed header). */
int igraph_hub_signature_ok(const char *header, const char *body, apr_size_t len,
                            const char *const *secrets);
/* 1 when header has the form igraph_hub_signature_ok() can check ("sha256=" + 64 hex digits):
 * what the glue looks at before it reads a body at all. */
int igraph_hub_signature_wellformed(const char *header);

/* Largest webhook body read (Meta's batches of up to 1,000 updates stay far below it). */
#define IGRAPH_WEBHOOK_MAX_BODY (1024 * 1024)

/* One webhook update. From igraph_webhook_events() every field but id and received_at is set;
 * from igraph_store_events_list() every field but object. */
typedef struct igraph_webhook_event_t {
    apr_int64_t id;          /* store row id (0 before it is stored) */
    const char *object;      /* body "object" ("instagram", "page", ...; "" when absent) */
    const char *ig_id;       /* entry[].id: the professional account the event is about */
    apr_int64_t time;        /* entry[].time in Unix seconds (milliseconds are converted); 0 */
    const char *field;       /* changes[].field, or "messages" for entry[].messaging[] items */
    const char *value;       /* compact JSON of changes[].value ("null" when absent) or of the
                              * whole messaging item; ids of 16+ digits appear as strings */
    const char *dedupe;      /* sha256 hex of object|ig_id|field|time|value */
    apr_int64_t received_at; /* when the store took it (0 before) */
} igraph_webhook_event_t;

/* Flattens a parsed webhook body into *events (array of igraph_webhook_event_t*, in body order).
 * Both entry[].changes[] and entry[].messaging[] are read (an entry may carry both); unknown
 * fields and keys are kept as they are. Items that cannot be attributed are skipped: an entry
 * that is not an object or whose id is not a numeric id, a change whose "field" is not a string
 * of 1..128 printable ASCII characters other than space and '|', a messaging item that is not an
 * object. APR_EINVAL when the body is not an object with an
 * "entry" array, or has more than IGRAPH_WEBHOOK_MAX_ENTRIES entries or yields more than
 * IGRAPH_WEBHOOK_MAX_EVENTS events (nothing is returned then). An empty result is a success. */
apr_status_t igraph_webhook_events(apr_pool_t *p, const igraph_json_t *body,
                                   apr_array_header_t **events);

/* The de-duplication key igraph_webhook_events() gives an event (exposed for tests and tools). */
const char *igraph_webhook_dedupe(apr_pool_t *p, const igraph_webhook_event_t *e);

/* A fresh confirmation code for a data-deletion request: "del" + 20 random [a-z0-9] (about 103
 * bits), safe in a URL and in HTML as it is. NULL when the random generator fails. */
char *igraph_deletion_code(apr_pool_t *p);

/* 1 when s looks like a code igraph_deletion_code() makes (check before looking it up). */
int igraph_is_deletion_code(const char *s);

#endif
