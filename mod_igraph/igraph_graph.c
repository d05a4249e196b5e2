/* igraph_graph.c: Meta Graph / Instagram API client.
 *
 * Layout: error classification (pure), pure response parsers, login URLs, then one function per
 * Graph call built on igraph_graph_call() (perform, classify, parse JSON). Nothing here logs a
 * token, a secret, an authorization code or a URL with its query string.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "igraph_crypto.h"
#include "igraph_graph.h"
#include "igraph_log.h"
#include "igraph_util.h"

#define IGRAPH_GRAPH_MSG_MAX 300
#define IGRAPH_GRAPH_MAX_PAGES 50
#define IGRAPH_GRAPH_USAGE_WARN 75

/* ---- error classification ------------------------------------------------------------------ */

const char *igraph_err_class_name(igraph_err_class_e cls)
{
    switch (cls) {
    case IGRAPH_ERR_NONE:
        return "none";
    case IGRAPH_ERR_TRANSPORT:
        return "transport";
    case IGRAPH_ERR_SERVER:
        return "server";
    case IGRAPH_ERR_OAUTH:
        return "oauth";
    case IGRAPH_ERR_REAUTH:
        return "reauth";
    case IGRAPH_ERR_PERMISSION:
        return "permission";
    case IGRAPH_ERR_RATE_LIMIT:
        return "rate_limit";
    case IGRAPH_ERR_NOT_READY:
        return "not_ready";
    case IGRAPH_ERR_QUOTA:
        return "quota";
    case IGRAPH_ERR_MEDIA:
        return "media";
    case IGRAPH_ERR_RESTRICTED:
        return "restricted";
    case IGRAPH_ERR_RETRY:
        return "retry";
    case IGRAPH_ERR_INVALID:
        return "invalid";
    case IGRAPH_ERR_PERMANENT:
        return "permanent";
    }
    return "unknown";
}

/* Content-publishing codes (reference section 5.5), checked before the generic code ranges so
 * that 4/2207051 (restricted) and 9/2207042 (quota) are not taken for rate limits.
 * A code of 0 matches any code (rows the docs give by subcode only); a subcode of 0 matches any
 * subcode (codes that only occur in publishing). Exact pairs come first. */
typedef struct igraph_graph_code_t {
    long code, subcode;
    igraph_err_class_e cls;
} igraph_graph_code_t;

/* clang-format off */
static const igraph_graph_code_t igraph_graph_codes[] = {
    {-2, 2207003, IGRAPH_ERR_RETRY},       /* media download timed out */
    {-2, 2207020, IGRAPH_ERR_MEDIA},       /* container expired: create a new one */
    {-1, 2207001, IGRAPH_ERR_RETRY},       /* "Instagram server error" */
    {-1, 2207032, IGRAPH_ERR_MEDIA},       /* container creation failed */
    {-1, 2207053, IGRAPH_ERR_MEDIA},       /* unknown upload error */
    {1, 2207057, IGRAPH_ERR_MEDIA},        /* thumb_offset outside the video */
    {4, 2207051, IGRAPH_ERR_RESTRICTED},   /* activity restricted, not a rate limit */
    {9, 2207042, IGRAPH_ERR_QUOTA},        /* publishing quota reached */
    {24, 2207006, IGRAPH_ERR_MEDIA},       /* media not found */
    {24, 2207008, IGRAPH_ERR_RETRY},       /* media builder expired, temporary */
    {25, 2207050, IGRAPH_ERR_RESTRICTED},  /* account restricted / checkpointed */
    {100, 2207023, IGRAPH_ERR_INVALID},    /* unknown media_type */
    {100, 2207028, IGRAPH_ERR_INVALID},    /* carousel needs 2-10 items */
    {100, 2207035, IGRAPH_ERR_INVALID},    /* product tags */
    {100, 2207036, IGRAPH_ERR_INVALID},
    {100, 2207037, IGRAPH_ERR_INVALID},
    {100, 2207040, IGRAPH_ERR_INVALID},    /* more than 20 @ tags */
    {352, 2207026, IGRAPH_ERR_MEDIA},      /* unsupported video format */
    {9004, 2207052, IGRAPH_ERR_MEDIA},     /* media could not be fetched */
    {9007, 2207027, IGRAPH_ERR_NOT_READY}, /* media not ready for publishing */
    {36000, 2207004, IGRAPH_ERR_MEDIA},    /* image too large */
    {36001, 2207005, IGRAPH_ERR_MEDIA},    /* image format */
    {36003, 2207009, IGRAPH_ERR_MEDIA},    /* aspect ratio */
    {36004, 2207010, IGRAPH_ERR_MEDIA},    /* caption too long */
    {0, 2207018, IGRAPH_ERR_INVALID},      /* collaborator cannot be tagged */
    {0, 2207081, IGRAPH_ERR_INVALID},      /* cannot post trial reels */
    {0, 2207076, IGRAPH_ERR_MEDIA},        /* video fetch / processing failures */
    {0, 2207077, IGRAPH_ERR_MEDIA},
    {0, 2207082, IGRAPH_ERR_MEDIA},
    {0, 2207085, IGRAPH_ERR_MEDIA},
    {352, 0, IGRAPH_ERR_MEDIA},
    {9004, 0, IGRAPH_ERR_MEDIA},
    {9007, 0, IGRAPH_ERR_NOT_READY},
    {36000, 0, IGRAPH_ERR_MEDIA},
    {36001, 0, IGRAPH_ERR_MEDIA},
    {36003, 0, IGRAPH_ERR_MEDIA},
    {36004, 0, IGRAPH_ERR_MEDIA},
};
/* clang-format on */

/* Section 5.7 steps 3 to 8 for the Graph envelope. */
static igraph_err_class_e igraph_graph_class_of(long code, long subcode, int is_transient)
{
    apr_size_t i;

    if (code == 190 || code == 102) {
        return IGRAPH_ERR_REAUTH;
    }
    for (i = 0; i < sizeof(igraph_graph_codes) / sizeof(igraph_graph_codes[0]); i++) {
        const igraph_graph_code_t *c = &igraph_graph_codes[i];
        if ((c->code == 0 || c->code == code) && (c->subcode == 0 || c->subcode == subcode)) {
            return c->cls;
        }
    }
    if (code == 4 || code == 17 || code == 32 || code == 613 || code == 341 ||
        (code >= 80001 && code <= 80014)) {
        return IGRAPH_ERR_RATE_LIMIT;
    }
    if (code == 10 || code == 3 || (code >= 200 && code <= 299)) {
        return IGRAPH_ERR_PERMISSION;
    }
    if (code == 1 || code == 2 || is_transient) {
        return IGRAPH_ERR_RETRY;
    }
    if (code == 100 && (subcode == 36007 || subcode == 36008 || subcode == 36009)) {
        return IGRAPH_ERR_OAUTH;
    }
    if (code == 368) {
        return IGRAPH_ERR_RESTRICTED;
    }
    if (code == 100) {
        return IGRAPH_ERR_INVALID;
    }
    return IGRAPH_ERR_PERMANENT;
}

/* Copy of a text from Meta for logs and pages: at most max bytes, cut on a UTF-8 boundary,
 * control characters replaced so that a message cannot forge log lines. */
static const char *igraph_graph_text(apr_pool_t *p, const char *s, apr_size_t max)
{
    apr_size_t n, i;
    char *out;

    if (!s) {
        return NULL;
    }
    n = strlen(s);
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) {
            n--;
        }
    }
    out = apr_pstrmemdup(p, s, n);
    for (i = 0; i < n; i++) {
        if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f) {
            out[i] = ' ';
        }
    }
    return out;
}

/* A number that may arrive as a JSON integer or as a string of digits (possibly negative). */
static long igraph_graph_num(const igraph_json_t *j, const char *key, int *found)
{
    const char *s;
    apr_int64_t v;
    int f = 0;

    v = igraph_json_getl(j, &f, key, NULL);
    if (!f && (s = igraph_json_gets(j, key, NULL)) != NULL &&
        igraph_parse_int64(s, &v) == APR_SUCCESS) {
        f = 1;
    }
    if (found) {
        *found = f;
    }
    return f ? (long)v : 0;
}

static int igraph_graph_classify_json(igraph_gerr_t *e, apr_pool_t *p, int status,
                                      const igraph_json_t *j)
{
    igraph_json_t *ej;
    const char *s;
    int found;

    memset(e, 0, sizeof(*e));
    e->http_status = status;
    if (status == 0) {
        e->cls = IGRAPH_ERR_TRANSPORT;
        e->message = "no HTTP response";
        return 1;
    }
    if (j && igraph_json_is_object(j)) {
        /* Flat envelope of api.instagram.com token endpoints (section 5.6). */
        if (igraph_json_has(j, "error_type", NULL) || igraph_json_has(j, "error_message", NULL)) {
            e->cls = IGRAPH_ERR_OAUTH;
            e->code = igraph_graph_num(j, "code", NULL);
            e->type = igraph_graph_text(p, igraph_json_gets(j, "error_type", NULL), 64);
            e->message = igraph_graph_text(p, igraph_json_gets(j, "error_message", NULL),
                                           IGRAPH_GRAPH_MSG_MAX);
            goto done;
        }
        ej = igraph_json_getj(p, j, "error", NULL);
        if (ej && igraph_json_is_object(ej)) {
            e->code = igraph_graph_num(ej, "code", &found);
            e->subcode = igraph_graph_num(ej, "error_subcode", NULL);
            if (!e->subcode) {
                e->subcode = igraph_graph_num(ej, "subcode", NULL);
            }
            e->is_transient = igraph_json_getb(ej, 0, "is_transient", NULL);
            e->type = igraph_graph_text(p, igraph_json_gets(ej, "type", NULL), 64);
            e->message =
                igraph_graph_text(p, igraph_json_gets(ej, "message", NULL), IGRAPH_GRAPH_MSG_MAX);
            e->user_title = igraph_graph_text(p, igraph_json_gets(ej, "error_user_title", NULL),
                                              IGRAPH_GRAPH_MSG_MAX);
            e->user_msg = igraph_graph_text(p, igraph_json_gets(ej, "error_user_msg", NULL),
                                            IGRAPH_GRAPH_MSG_MAX);
            e->fbtrace_id = igraph_graph_text(p, igraph_json_gets(ej, "fbtrace_id", NULL), 64);
            e->cls = igraph_graph_class_of(e->code, e->subcode, e->is_transient);
            /* Facebook Login partnership errors use symbolic codes (section 5.5). */
            if (!found && (s = igraph_json_gets(ej, "code", NULL)) != NULL) {
                if (strstr(s, "PERMISSION")) {
                    e->cls = IGRAPH_ERR_PERMISSION;
                }
                else if (strstr(s, "INVALID")) {
                    e->cls = IGRAPH_ERR_INVALID;
                }
            }
            goto done;
        }
        /* OAuth 2.0 style {"error":"...","error_description":"..."}. */
        if ((s = igraph_json_gets(j, "error", NULL)) != NULL) {
            e->cls = IGRAPH_ERR_OAUTH;
            e->type = igraph_graph_text(p, s, 64);
            e->message = igraph_graph_text(p, igraph_json_gets(j, "error_description", NULL),
                                           IGRAPH_GRAPH_MSG_MAX);
            goto done;
        }
        if (status >= 200 && status < 300) {
            return 0;
        }
    }
    if (status >= 200 && status < 300) {
        e->cls = IGRAPH_ERR_SERVER;
        e->message = "unexpected response: not a JSON object";
        return 1;
    }
    /* No envelope: an HTML error page from a proxy, an empty 5xx, a redirect. */
    e->cls = status == 429 ? IGRAPH_ERR_RATE_LIMIT : IGRAPH_ERR_SERVER;

done:
    if (!e->message || !*e->message) {
        e->message = apr_psprintf(p, "HTTP %d", status);
    }
    return 1;
}

int igraph_graph_classify(igraph_gerr_t *e, apr_pool_t *p, int http_status, const char *body,
                          apr_size_t len)
{
    igraph_json_t *j = NULL;

    if (http_status != 0 && body && len > 0 &&
        igraph_json_parse(&j, p, body, len, NULL) != APR_SUCCESS) {
        j = NULL;
    }
    return igraph_graph_classify_json(e, p, http_status, j);
}

/* ---- usage headers (section 6.2) ------------------------------------------------------------ */

static void igraph_graph_usage_obj(json_t *o, int *pct, apr_int64_t *regain_min)
{
    static const char *const keys[] = {"call_count", "total_cputime", "total_time",
                                       "acc_id_util_pct"};
    json_t *v;
    apr_size_t i;

    if (!json_is_object(o)) {
        return;
    }
    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        v = json_object_get(o, keys[i]);
        if (json_is_number(v) && json_number_value(v) > *pct && json_number_value(v) < 1e6) {
            *pct = (int)json_number_value(v);
        }
    }
    v = json_object_get(o, "estimated_time_to_regain_access");
    if (json_is_number(v) && json_number_value(v) > *regain_min && json_number_value(v) < 1e6) {
        *regain_min = (apr_int64_t)json_number_value(v);
    }
}

/* Highest percentage and regain time (minutes) announced by X-App-Usage and
 * X-Business-Use-Case-Usage; malformed headers are ignored (absence means "unknown"). */
static void igraph_graph_usage(apr_pool_t *p, const apr_table_t *h, int *pct,
                               apr_int64_t *regain_min)
{
    igraph_json_t *j;
    const char *s, *key;
    json_t *entries, *o;
    apr_size_t i;

    *pct = 0;
    *regain_min = 0;
    if (!h) {
        return;
    }
    s = apr_table_get(h, "X-App-Usage");
    if (s && igraph_json_parse(&j, p, s, strlen(s), NULL) == APR_SUCCESS) {
        igraph_graph_usage_obj(igraph_json_raw(j), pct, regain_min);
    }
    s = apr_table_get(h, "X-Business-Use-Case-Usage");
    if (s && igraph_json_parse(&j, p, s, strlen(s), NULL) == APR_SUCCESS &&
        json_is_object(igraph_json_raw(j))) {
        json_object_foreach(igraph_json_raw(j), key, entries)
        {
            if (json_is_array(entries)) {
                json_array_foreach(entries, i, o)
                {
                    igraph_graph_usage_obj(o, pct, regain_min);
                }
            }
            else {
                igraph_graph_usage_obj(entries, pct, regain_min);
            }
        }
    }
}

/* ---- pure parsers ---------------------------------------------------------------------------- */

/* The first element of a top-level "data" array when there is one, else j itself. */
static const igraph_json_t *igraph_graph_unwrap(apr_pool_t *p, const igraph_json_t *j)
{
    igraph_json_t *d = igraph_json_getj(p, j, "data", NULL);

    if (d && igraph_json_is_array(d)) {
        igraph_json_t *first = igraph_json_array_at(p, d, 0);
        if (first && igraph_json_is_object(first)) {
            return first;
        }
    }
    return j;
}

/* "a, b" or ["a","b"] -> "a,b"; NULL when absent or empty. */
static const char *igraph_graph_csv(apr_pool_t *p, const igraph_json_t *j, const char *key)
{
    apr_array_header_t *items;
    igraph_json_t *v;
    const char *s;
    json_t *e;
    apr_size_t i;

    if ((s = igraph_json_gets(j, key, NULL)) != NULL) {
        items = igraph_split_csv(p, s);
    }
    else {
        v = igraph_json_getj(p, j, key, NULL);
        if (!v || !igraph_json_is_array(v)) {
            return NULL;
        }
        items = apr_array_make(p, 8, sizeof(char *));
        json_array_foreach(igraph_json_raw(v), i, e)
        {
            if (json_is_string(e) && json_string_length(e) > 0) {
                APR_ARRAY_PUSH(items, char *) = apr_pstrdup(p, json_string_value(e));
            }
        }
    }
    if (!items || items->nelts == 0) {
        return NULL;
    }
    return apr_array_pstrcat(p, items, ',');
}

static const char *igraph_graph_gets(apr_pool_t *p, const igraph_json_t *j, const char *key)
{
    const char *s = igraph_json_gets(j, key, NULL);
    return s ? apr_pstrdup(p, s) : NULL;
}

static const char *igraph_graph_next(apr_pool_t *p, const igraph_json_t *j)
{
    const char *s = igraph_json_gets(j, "paging", "next", NULL);
    return (s && *s) ? igraph_pstrdup_secret(p, s) : NULL; /* Meta puts the token in it */
}

/* Returns APR_EINVAL when there is no access_token (the other fields are still filled). */
apr_status_t igraph_parse_token(apr_pool_t *p, const igraph_json_t *j, igraph_token_t *tok)
{
    apr_int64_t exp;
    int found = 0;

    memset(tok, 0, sizeof(*tok));
    if (!j || !igraph_json_is_object(j)) {
        return APR_EINVAL;
    }
    j = igraph_graph_unwrap(p, j); /* Instagram shape A: {"data":[{...}]} */
    tok->access_token = igraph_pstrdup_secret(p, igraph_json_gets(j, "access_token", NULL));
    exp = igraph_json_getl(j, &found, "expires_in", NULL);
    tok->expires_in = (found && exp > 0) ? exp : 0;
    tok->user_id = igraph_json_get_id(p, j, "user_id", NULL);
    tok->permissions = igraph_graph_csv(p, j, "permissions");
    return (tok->access_token && *tok->access_token) ? APR_SUCCESS : APR_EINVAL;
}

/* Returns APR_EINVAL when there is no "data" array; entries without an id are skipped. */
apr_status_t igraph_parse_pages(apr_pool_t *p, const igraph_json_t *j, apr_array_header_t *pages,
                                const char **next)
{
    igraph_json_t *data, *e;
    igraph_page_t *pg;
    apr_size_t i, n;

    *next = NULL;
    data = j ? igraph_json_getj(p, j, "data", NULL) : NULL;
    if (!data || !igraph_json_is_array(data)) {
        return APR_EINVAL;
    }
    n = igraph_json_array_size(data);
    for (i = 0; i < n; i++) {
        e = igraph_json_array_at(p, data, i);
        if (!e || !igraph_json_is_object(e)) {
            continue;
        }
        pg = apr_pcalloc(p, sizeof(*pg));
        pg->id = igraph_json_get_id(p, e, "id", NULL);
        if (!pg->id) {
            continue;
        }
        pg->name = igraph_graph_gets(p, e, "name");
        pg->access_token = igraph_pstrdup_secret(p, igraph_json_gets(e, "access_token", NULL));
        pg->tasks = igraph_graph_csv(p, e, "tasks");
        pg->ig_id = igraph_json_get_id(p, e, "instagram_business_account", "id", NULL);
        if (pg->ig_id) {
            pg->ig_username = igraph_graph_gets(
                p, igraph_json_getj(p, e, "instagram_business_account", NULL), "username");
        }
        APR_ARRAY_PUSH(pages, igraph_page_t *) = pg;
    }
    *next = igraph_graph_next(p, j);
    return APR_SUCCESS;
}

/* Returns APR_EINVAL unless the object has an id, a user_id or a username. */
apr_status_t igraph_parse_profile(apr_pool_t *p, const igraph_json_t *j, igraph_profile_t *prof)
{
    memset(prof, 0, sizeof(*prof));
    if (!j || !igraph_json_is_object(j)) {
        return APR_EINVAL;
    }
    j = igraph_graph_unwrap(p, j);
    prof->id = igraph_json_get_id(p, j, "id", NULL);
    prof->user_id = igraph_json_get_id(p, j, "user_id", NULL);
    prof->username = igraph_graph_gets(p, j, "username");
    prof->name = igraph_graph_gets(p, j, "name");
    prof->picture_url = igraph_graph_gets(p, j, "profile_picture_url");
    prof->account_type = igraph_graph_gets(p, j, "account_type");
    return (prof->id || prof->user_id || prof->username) ? APR_SUCCESS : APR_EINVAL;
}

/* Returns APR_EINVAL when there is no "data" array. Only status "granted" counts. */
apr_status_t igraph_parse_permissions(apr_pool_t *p, const igraph_json_t *j,
                                      apr_array_header_t *granted, const char **next)
{
    igraph_json_t *data, *e;
    const char *name, *status;
    apr_size_t i, n;

    *next = NULL;
    data = j ? igraph_json_getj(p, j, "data", NULL) : NULL;
    if (!data || !igraph_json_is_array(data)) {
        return APR_EINVAL;
    }
    n = igraph_json_array_size(data);
    for (i = 0; i < n; i++) {
        e = igraph_json_array_at(p, data, i);
        if (!e) {
            continue;
        }
        name = igraph_json_gets(e, "permission", NULL);
        status = igraph_json_gets(e, "status", NULL);
        if (name && *name && status && strcmp(status, "granted") == 0) {
            APR_ARRAY_PUSH(granted, char *) = apr_pstrdup(p, name);
        }
    }
    *next = igraph_graph_next(p, j);
    return APR_SUCCESS;
}

char *igraph_strip_code_suffix(apr_pool_t *p, const char *code)
{
    apr_size_t n;

    if (!code) {
        return NULL;
    }
    n = strlen(code);
    if (n >= 2 && strcmp(code + n - 2, "#_") == 0) {
        n -= 2;
    }
    else if (n >= 4 && strcmp(code + n - 4, "%23_") == 0) {
        n -= 4;
    }
    return apr_pstrmemdup(p, code, n);
}

/* ---- URLs ------------------------------------------------------------------------------------ */

/* base without trailing slashes + "/" + path [+ "?" + query] */
static char *igraph_graph_url(apr_pool_t *p, const char *base, const char *path, const char *query)
{
    apr_size_t n = strlen(base);

    while (n > 0 && base[n - 1] == '/') {
        n--;
    }
    /* the query may hold a token or the app secret */
    return igraph_wipe_str(p, apr_pstrcat(p, apr_pstrmemdup(p, base, n), "/", path,
                                          (query && *query) ? "?" : "", query ? query : "", NULL));
}

static char *igraph_graph_vpath(apr_pool_t *p, const igraph_graph_t *g, const char *path)
{
    return apr_pstrcat(p, g->version, "/", path, NULL);
}

char *igraph_fb_dialog_url(const igraph_graph_t *g, apr_pool_t *p, const char *redirect_uri,
                           const char *state, const char *scopes, const char *auth_type)
{
    const char *q =
        igraph_form_build(p, "client_id", g->app_id, "redirect_uri", redirect_uri, "state", state,
                          "response_type", "code", "scope", scopes, "auth_type", auth_type, NULL);
    return igraph_graph_url(p, g->fb_dialog_base, igraph_graph_vpath(p, g, "dialog/oauth"), q);
}

char *igraph_ig_authorize_url(const igraph_graph_t *g, apr_pool_t *p, const char *redirect_uri,
                              const char *state, const char *scopes)
{
    const char *q =
        igraph_form_build(p, "client_id", g->ig_app_id, "redirect_uri", redirect_uri,
                          "response_type", "code", "scope", scopes, "state", state, NULL);
    return igraph_graph_url(p, g->ig_authorize_base, "oauth/authorize", q);
}

/* hex HMAC-SHA256(app secret, token) when configured for graph.facebook.com, else NULL. */
static const char *igraph_graph_proof(const igraph_graph_t *g, apr_pool_t *p, const char *token)
{
    if (!g->fb_appsecret_proof || !g->app_secret || !*g->app_secret || !token) {
        return NULL;
    }
    return igraph_hmac_sha256_hex(p, g->app_secret, strlen(g->app_secret), token, strlen(token));
}

/* paging.next is only followed back to the Graph host we were configured with: the URL must
 * start with fb_graph_base and the host must end there (no "graph.facebook.com.evil"). */
static int igraph_graph_is_fb_url(const igraph_graph_t *g, const char *url)
{
    apr_size_t n = strlen(g->fb_graph_base);

    while (n > 0 && g->fb_graph_base[n - 1] == '/') {
        n--;
    }
    if (n == 0 || strncmp(url, g->fb_graph_base, n) != 0) {
        return 0;
    }
    return url[n] == '/' || url[n] == '?' || url[n] == '\0';
}

/* ---- calls ------------------------------------------------------------------------------------
 */

static apr_status_t igraph_graph_badarg(igraph_gerr_t *err, const char *what)
{
    memset(err, 0, sizeof(*err));
    err->cls = IGRAPH_ERR_INVALID;
    err->message = what;
    return APR_EINVAL;
}

static apr_status_t igraph_graph_unexpected(apr_pool_t *p, igraph_gerr_t *err, const char *what,
                                            const char *field)
{
    err->cls = IGRAPH_ERR_SERVER;
    err->message = apr_pstrcat(p, "unexpected response: missing ", field, NULL);
    igraph_log(IGRAPH_LOG_DEBUG, "graph: %s: %s", what, err->message);
    return APR_EGENERAL;
}

/* One exchange: perform, classify, parse. On success *pj is a JSON object and err->cls is NONE
 * (err->http_status set); otherwise err is classified and the status is returned. */
static apr_status_t igraph_graph_call(const igraph_graph_t *g, apr_pool_t *p, const char *what,
                                      const char *method, const char *url, const char *form,
                                      const char *bearer, igraph_json_t **pj, igraph_gerr_t *err)
{
    igraph_http_req_t req;
    igraph_http_resp_t *resp;
    igraph_json_t *j = NULL;
    apr_int64_t regain_min;
    apr_status_t rv;
    int pct;

    *pj = NULL;
    memset(err, 0, sizeof(*err));
    memset(&req, 0, sizeof(req));
    req.method = method;
    req.url = url;
    if (form) {
        req.body = form;
        req.body_len = strlen(form);
    }
    if (bearer) {
        req.headers = apr_table_make(p, 1);
        apr_table_setn(req.headers, "Authorization",
                       igraph_wipe_str(p, apr_pstrcat(p, "Bearer ", bearer, NULL)));
    }
    req.connect_timeout_ms = g->connect_timeout_ms;
    req.timeout_ms = g->timeout_ms;
    req.max_body = g->max_body;
    req.abort_flag = g->abort_flag;

    rv = igraph_http_perform(p, &req, &resp);
    if (rv != APR_SUCCESS) {
        /* An oversized body is the server's doing; everything else is the network's. */
        err->cls = rv == APR_ENOSPC ? IGRAPH_ERR_SERVER : IGRAPH_ERR_TRANSPORT;
        err->message = resp->error ? resp->error : "no HTTP response";
        igraph_log(IGRAPH_LOG_DEBUG, "graph: %s: %s (%s)", what, err->message,
                   igraph_err_class_name(err->cls));
        return rv;
    }
    if (resp->len > 0 && igraph_json_parse(&j, p, resp->body, resp->len, NULL) != APR_SUCCESS) {
        j = NULL;
    }
    igraph_graph_usage(p, resp->headers, &pct, &regain_min);
    if (pct >= IGRAPH_GRAPH_USAGE_WARN) {
        igraph_log(IGRAPH_LOG_DEBUG, "graph: %s: rate limit usage at %d%%", what, pct);
    }
    if (igraph_graph_classify_json(err, p, resp->status, j)) {
        if (err->cls == IGRAPH_ERR_RATE_LIMIT) {
            const char *ra = apr_table_get(resp->headers, "Retry-After");
            apr_int64_t secs;
            if (regain_min > 0) {
                err->retry_after = regain_min * 60;
            }
            else if (ra && igraph_parse_int64(ra, &secs) == APR_SUCCESS && secs > 0) {
                err->retry_after = secs;
            }
        }
        igraph_log(IGRAPH_LOG_DEBUG, "graph: %s: HTTP %d, %s, code %ld/%ld: %s", what, resp->status,
                   igraph_err_class_name(err->cls), err->code, err->subcode, err->message);
        return APR_EGENERAL;
    }
    *pj = j;
    return APR_SUCCESS;
}

static apr_status_t igraph_graph_token_call(const igraph_graph_t *g, apr_pool_t *p,
                                            const char *what, const char *method, const char *url,
                                            const char *form, igraph_token_t *tok,
                                            igraph_gerr_t *err)
{
    igraph_json_t *j;
    apr_status_t rv;

    memset(tok, 0, sizeof(*tok));
    rv = igraph_graph_call(g, p, what, method, url, form, NULL, &j, err);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (igraph_parse_token(p, j, tok) != APR_SUCCESS) {
        memset(tok, 0, sizeof(*tok));
        return igraph_graph_unexpected(p, err, what, "access_token");
    }
    return APR_SUCCESS;
}

/* Follows paging.next (verbatim) until it is absent, leaves fb_graph_base or max_pages is hit.
 * The first URL carries no token; Meta's next links normally embed it, otherwise the Bearer
 * header (and appsecret_proof) is sent as for the first request. */
typedef apr_status_t igraph_graph_page_fn(apr_pool_t *p, const igraph_json_t *j,
                                          apr_array_header_t *arr, const char **next);

static apr_status_t igraph_graph_paged(const igraph_graph_t *g, apr_pool_t *p, const char *what,
                                       const char *url, const char *token,
                                       igraph_graph_page_fn *parse, apr_array_header_t *arr,
                                       igraph_gerr_t *err)
{
    int max_pages = g->max_pages > 0 ? g->max_pages : IGRAPH_GRAPH_MAX_PAGES, followed = 0;
    const char *bearer = token, *next, *q;
    igraph_json_t *j;
    apr_table_t *params;
    apr_status_t rv;

    for (;;) {
        rv = igraph_graph_call(g, p, what, "GET", url, NULL, bearer, &j, err);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        if (parse(p, j, arr, &next) != APR_SUCCESS) {
            return igraph_graph_unexpected(p, err, what, "data");
        }
        if (!next) {
            break;
        }
        if (!igraph_graph_is_fb_url(g, next)) {
            igraph_log(IGRAPH_LOG_WARNING,
                       "graph: %s: paging.next leaves the Graph host, "
                       "list ends here",
                       what);
            break;
        }
        if (followed >= max_pages) {
            igraph_log(IGRAPH_LOG_WARNING, "graph: %s: stopped after %d further pages", what,
                       followed);
            break;
        }
        followed++;
        q = strchr(next, '?');
        params = q ? igraph_form_parse(p, q + 1) : NULL;
        if (params && apr_table_get(params, "access_token")) {
            igraph_wipe_str(p, (char *)apr_table_get(params, "access_token"));
            bearer = NULL;
            url = next;
        }
        else {
            const char *proof = igraph_graph_proof(g, p, token);
            bearer = token;
            url = next;
            if (proof && !(params && apr_table_get(params, "appsecret_proof"))) {
                url = igraph_wipe_str(
                    p, apr_pstrcat(p, next, q ? "&" : "?", "appsecret_proof=", proof, NULL));
            }
        }
    }
    return APR_SUCCESS;
}

apr_status_t igraph_fb_exchange_code(const igraph_graph_t *g, apr_pool_t *p, const char *code,
                                     const char *redirect_uri, igraph_token_t *tok,
                                     igraph_gerr_t *err)
{
    const char *q;

    memset(tok, 0, sizeof(*tok));
    if (!code || !*code || !redirect_uri || !g->app_id || !g->app_secret) {
        return igraph_graph_badarg(err, "code exchange: missing code, redirect_uri or app");
    }
    q = igraph_form_build(p, "client_id", g->app_id, "redirect_uri", redirect_uri, "client_secret",
                          g->app_secret, "code", igraph_strip_code_suffix(p, code), NULL);
    return igraph_graph_token_call(
        g, p, "fb code exchange", "GET",
        igraph_graph_url(p, g->fb_graph_base, igraph_graph_vpath(p, g, "oauth/access_token"), q),
        NULL, tok, err);
}

apr_status_t igraph_fb_long_lived(const igraph_graph_t *g, apr_pool_t *p, const char *user_token,
                                  igraph_token_t *tok, igraph_gerr_t *err)
{
    const char *q;

    memset(tok, 0, sizeof(*tok));
    if (!user_token || !*user_token || !g->app_id || !g->app_secret) {
        return igraph_graph_badarg(err, "long-lived exchange: missing token or app");
    }
    q = igraph_form_build(p, "grant_type", "fb_exchange_token", "client_id", g->app_id,
                          "client_secret", g->app_secret, "fb_exchange_token", user_token, NULL);
    return igraph_graph_token_call(
        g, p, "fb long-lived exchange", "GET",
        igraph_graph_url(p, g->fb_graph_base, igraph_graph_vpath(p, g, "oauth/access_token"), q),
        NULL, tok, err);
}

apr_status_t igraph_fb_list_pages(const igraph_graph_t *g, apr_pool_t *p, const char *user_token,
                                  apr_array_header_t **pages, igraph_gerr_t *err)
{
    const char *q;

    *pages = apr_array_make(p, 8, sizeof(igraph_page_t *));
    if (!user_token || !*user_token) {
        return igraph_graph_badarg(err, "list pages: missing token");
    }
    q = igraph_form_build(
        p, "fields", "id,name,access_token,tasks,instagram_business_account{id,username}", "limit",
        "100", "appsecret_proof", igraph_graph_proof(g, p, user_token), NULL);
    return igraph_graph_paged(
        g, p, "fb list pages",
        igraph_graph_url(p, g->fb_graph_base, igraph_graph_vpath(p, g, "me/accounts"), q),
        user_token, igraph_parse_pages, *pages, err);
}

apr_status_t igraph_fb_page_ig_account(const igraph_graph_t *g, apr_pool_t *p, const char *page_id,
                                       const char *token, const char **ig_id,
                                       const char **ig_username, igraph_gerr_t *err)
{
    igraph_json_t *j;
    const char *q;
    apr_status_t rv;

    *ig_id = NULL;
    *ig_username = NULL;
    if (!page_id || !*page_id || !token || !*token) {
        return igraph_graph_badarg(err, "page account: missing page id or token");
    }
    q = igraph_form_build(p, "fields", "instagram_business_account{id,username}", "appsecret_proof",
                          igraph_graph_proof(g, p, token), NULL);
    rv = igraph_graph_call(g, p, "fb page ig account", "GET",
                           igraph_graph_url(p, g->fb_graph_base,
                                            igraph_graph_vpath(p, g, igraph_url_encode(p, page_id)),
                                            q),
                           NULL, token, &j, err);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    *ig_id = igraph_json_get_id(p, j, "instagram_business_account", "id", NULL);
    if (*ig_id) {
        *ig_username = igraph_graph_gets(
            p, igraph_json_getj(p, j, "instagram_business_account", NULL), "username");
    }
    return APR_SUCCESS;
}

apr_status_t igraph_fb_ig_profile(const igraph_graph_t *g, apr_pool_t *p, const char *ig_user_id,
                                  const char *token, igraph_profile_t *prof, igraph_gerr_t *err)
{
    igraph_json_t *j;
    const char *q;
    apr_status_t rv;

    memset(prof, 0, sizeof(*prof));
    if (!ig_user_id || !*ig_user_id || !token || !*token) {
        return igraph_graph_badarg(err, "ig profile: missing account id or token");
    }
    q = igraph_form_build(p, "fields", "id,username,name,profile_picture_url", "appsecret_proof",
                          igraph_graph_proof(g, p, token), NULL);
    rv = igraph_graph_call(
        g, p, "fb ig profile", "GET",
        igraph_graph_url(p, g->fb_graph_base,
                         igraph_graph_vpath(p, g, igraph_url_encode(p, ig_user_id)), q),
        NULL, token, &j, err);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (igraph_parse_profile(p, j, prof) != APR_SUCCESS || !prof->id) {
        return igraph_graph_unexpected(p, err, "fb ig profile", "id");
    }
    return APR_SUCCESS;
}

apr_status_t igraph_fb_permissions(const igraph_graph_t *g, apr_pool_t *p, const char *user_token,
                                   const char **granted, igraph_gerr_t *err)
{
    apr_array_header_t *arr;
    const char *q;
    apr_status_t rv;

    *granted = NULL;
    if (!user_token || !*user_token) {
        return igraph_graph_badarg(err, "permissions: missing token");
    }
    arr = apr_array_make(p, 8, sizeof(char *));
    q = igraph_form_build(p, "appsecret_proof", igraph_graph_proof(g, p, user_token), NULL);
    rv = igraph_graph_paged(
        g, p, "fb permissions",
        igraph_graph_url(p, g->fb_graph_base, igraph_graph_vpath(p, g, "me/permissions"), q),
        user_token, igraph_parse_permissions, arr, err);
    if (rv == APR_SUCCESS) {
        *granted = apr_array_pstrcat(p, arr, ',');
    }
    return rv;
}

apr_status_t igraph_fb_me(const igraph_graph_t *g, apr_pool_t *p, const char *user_token,
                          const char **id, const char **name, igraph_gerr_t *err)
{
    igraph_json_t *j;
    const char *q, *uid;
    apr_status_t rv;

    *id = NULL;
    if (name) {
        *name = NULL;
    }
    if (!user_token || !*user_token) {
        return igraph_graph_badarg(err, "fb me: missing token");
    }
    q = igraph_form_build(p, "fields", "id,name", "appsecret_proof",
                          igraph_graph_proof(g, p, user_token), NULL);
    rv = igraph_graph_call(g, p, "fb me", "GET",
                           igraph_graph_url(p, g->fb_graph_base, igraph_graph_vpath(p, g, "me"), q),
                           NULL, user_token, &j, err);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    uid = igraph_json_get_id(p, j, "id", NULL);
    if (!uid || !*uid) {
        return igraph_graph_unexpected(p, err, "fb me", "id");
    }
    *id = uid;
    if (name) {
        *name = igraph_graph_gets(p, j, "name");
    }
    return APR_SUCCESS;
}

apr_status_t igraph_ig_exchange_code(const igraph_graph_t *g, apr_pool_t *p, const char *code,
                                     const char *redirect_uri, igraph_token_t *tok,
                                     igraph_gerr_t *err)
{
    const char *form;

    memset(tok, 0, sizeof(*tok));
    if (!code || !*code || !redirect_uri || !g->ig_app_id || !g->ig_app_secret) {
        return igraph_graph_badarg(err, "ig code exchange: missing code, redirect_uri or app");
    }
    form = igraph_form_build(p, "client_id", g->ig_app_id, "client_secret", g->ig_app_secret,
                             "grant_type", "authorization_code", "redirect_uri", redirect_uri,
                             "code", igraph_strip_code_suffix(p, code), NULL);
    return igraph_graph_token_call(g, p, "ig code exchange", "POST",
                                   igraph_graph_url(p, g->ig_api_base, "oauth/access_token", NULL),
                                   form, tok, err);
}

apr_status_t igraph_ig_long_lived(const igraph_graph_t *g, apr_pool_t *p, const char *short_token,
                                  igraph_token_t *tok, igraph_gerr_t *err)
{
    const char *q;

    memset(tok, 0, sizeof(*tok));
    if (!short_token || !*short_token || !g->ig_app_secret) {
        return igraph_graph_badarg(err, "ig long-lived exchange: missing token or app secret");
    }
    q = igraph_form_build(p, "grant_type", "ig_exchange_token", "client_secret", g->ig_app_secret,
                          "access_token", short_token, NULL);
    return igraph_graph_token_call(g, p, "ig long-lived exchange", "GET",
                                   igraph_graph_url(p, g->ig_graph_base, "access_token", q), NULL,
                                   tok, err);
}

apr_status_t igraph_ig_refresh(const igraph_graph_t *g, apr_pool_t *p, const char *token,
                               igraph_token_t *tok, igraph_gerr_t *err)
{
    const char *q;

    memset(tok, 0, sizeof(*tok));
    if (!token || !*token) {
        return igraph_graph_badarg(err, "ig refresh: missing token");
    }
    q = igraph_form_build(p, "grant_type", "ig_refresh_token", "access_token", token, NULL);
    return igraph_graph_token_call(g, p, "ig refresh", "GET",
                                   igraph_graph_url(p, g->ig_graph_base, "refresh_access_token", q),
                                   NULL, tok, err);
}

apr_status_t igraph_ig_me(const igraph_graph_t *g, apr_pool_t *p, const char *token,
                          igraph_profile_t *prof, igraph_gerr_t *err)
{
    igraph_json_t *j;
    const char *q;
    apr_status_t rv;

    memset(prof, 0, sizeof(*prof));
    if (!token || !*token) {
        return igraph_graph_badarg(err, "ig me: missing token");
    }
    q = igraph_form_build(p, "fields", "user_id,username,name,account_type,profile_picture_url",
                          NULL);
    rv = igraph_graph_call(g, p, "ig me", "GET",
                           igraph_graph_url(p, g->ig_graph_base, igraph_graph_vpath(p, g, "me"), q),
                           NULL, token, &j, err);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (igraph_parse_profile(p, j, prof) != APR_SUCCESS || (!prof->user_id && !prof->id)) {
        return igraph_graph_unexpected(p, err, "ig me", "user_id");
    }
    return APR_SUCCESS;
}

/* ---- content publishing ---------------------------------------------------------------------- */

/* Host and proof for a publishing call: Facebook Login accounts use graph.facebook.com with
 * appsecret_proof, Instagram Login accounts graph.instagram.com without. NULL for anything else. */
static const char *igraph_graph_pub_base(const igraph_graph_t *g, apr_pool_t *p,
                                         igraph_login_e login, const char *token,
                                         const char **proof)
{
    *proof = NULL;
    switch (login) {
    case IGRAPH_LOGIN_FACEBOOK:
        *proof = igraph_graph_proof(g, p, token);
        return g->fb_graph_base;
    case IGRAPH_LOGIN_INSTAGRAM:
        return g->ig_graph_base;
    }
    return NULL;
}

/* {base}/{v}/{id}[/{edge}] for decimal ids only, so that nothing from a job row can alter the
 * path. */
static const char *igraph_graph_pub_url(const igraph_graph_t *g, apr_pool_t *p, const char *base,
                                        const char *id, const char *edge, const char *query)
{
    const char *path = edge ? apr_pstrcat(p, id, "/", edge, NULL) : id;
    return igraph_graph_url(p, base, igraph_graph_vpath(p, g, path), query);
}

/* "k=v&..." from a table (order kept, NULL/empty values skipped) plus appsecret_proof. */
static const char *igraph_graph_form_table(apr_pool_t *p, const apr_table_t *params,
                                           const char *proof)
{
    const apr_array_header_t *arr = params ? apr_table_elts(params) : NULL;
    const apr_table_entry_t *e;
    apr_array_header_t *parts = apr_array_make(p, 16, sizeof(char *));
    int i;

    for (i = 0; arr && i < arr->nelts; i++) {
        e = &APR_ARRAY_IDX(arr, i, apr_table_entry_t);
        if (!e->key || !*e->key || !e->val || !*e->val) {
            continue;
        }
        APR_ARRAY_PUSH(parts, char *) = igraph_form_build(p, e->key, e->val, NULL);
    }
    if (proof) {
        APR_ARRAY_PUSH(parts, char *) = igraph_form_build(p, "appsecret_proof", proof, NULL);
    }
    return apr_array_pstrcat(p, parts, '&');
}

apr_status_t igraph_create_container(const igraph_graph_t *g, apr_pool_t *p, igraph_login_e login,
                                     const char *ig_user_id, const char *token,
                                     const apr_table_t *params, const char **container_id,
                                     igraph_gerr_t *err)
{
    const char *base, *proof;
    igraph_json_t *j;
    apr_status_t rv;

    *container_id = NULL;
    base = igraph_graph_pub_base(g, p, login, token, &proof);
    if (!base || !igraph_is_numeric_id(ig_user_id) || !token || !*token) {
        return igraph_graph_badarg(err, "create container: bad login, account id or token");
    }
    rv = igraph_graph_call(g, p, "create container", "POST",
                           igraph_graph_pub_url(g, p, base, ig_user_id, "media", NULL),
                           igraph_graph_form_table(p, params, proof), token, &j, err);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    *container_id = igraph_json_get_id(p, j, "id", NULL);
    if (!igraph_is_numeric_id(*container_id)) {
        *container_id = NULL;
        return igraph_graph_unexpected(p, err, "create container", "id");
    }
    return APR_SUCCESS;
}

apr_status_t igraph_container_status(const igraph_graph_t *g, apr_pool_t *p, igraph_login_e login,
                                     const char *container_id, const char *token,
                                     const char **status_code, const char **status_text,
                                     igraph_gerr_t *err)
{
    const char *base, *proof, *s;
    igraph_json_t *j;
    apr_status_t rv;

    *status_code = NULL;
    *status_text = NULL;
    base = igraph_graph_pub_base(g, p, login, token, &proof);
    if (!base || !igraph_is_numeric_id(container_id) || !token || !*token) {
        return igraph_graph_badarg(err, "container status: bad login, container id or token");
    }
    rv = igraph_graph_call(g, p, "container status", "GET",
                           igraph_graph_pub_url(g, p, base, container_id, NULL,
                                                igraph_form_build(p, "fields", "status_code,status",
                                                                  "appsecret_proof", proof, NULL)),
                           NULL, token, &j, err);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    s = igraph_json_gets(j, "status_code", NULL);
    if (!s || !*s) {
        return igraph_graph_unexpected(p, err, "container status", "status_code");
    }
    *status_code = igraph_graph_text(p, s, 32);
    *status_text = igraph_graph_text(p, igraph_json_gets(j, "status", NULL), IGRAPH_GRAPH_MSG_MAX);
    return APR_SUCCESS;
}

apr_status_t igraph_media_publish(const igraph_graph_t *g, apr_pool_t *p, igraph_login_e login,
                                  const char *ig_user_id, const char *token,
                                  const char *creation_id, const char **media_id,
                                  igraph_gerr_t *err)
{
    const char *base, *proof;
    igraph_json_t *j;
    apr_status_t rv;

    *media_id = NULL;
    base = igraph_graph_pub_base(g, p, login, token, &proof);
    if (!base || !igraph_is_numeric_id(ig_user_id) || !igraph_is_numeric_id(creation_id) ||
        !token || !*token) {
        return igraph_graph_badarg(err, "media publish: bad login, ids or token");
    }
    rv = igraph_graph_call(
        g, p, "media publish", "POST",
        igraph_graph_pub_url(g, p, base, ig_user_id, "media_publish", NULL),
        igraph_form_build(p, "creation_id", creation_id, "appsecret_proof", proof, NULL), token, &j,
        err);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    *media_id = igraph_json_get_id(p, j, "id", NULL);
    if (!*media_id || !**media_id) {
        /* A 2xx without an id: the post may well be live. Reported as a server error so that the
         * job checks the container before doing anything else. */
        *media_id = NULL;
        return igraph_graph_unexpected(p, err, "media publish", "id");
    }
    return APR_SUCCESS;
}

apr_status_t igraph_media_read(const igraph_graph_t *g, apr_pool_t *p, igraph_login_e login,
                               const char *media_id, const char *token, const char **permalink,
                               const char **media_product_type, igraph_gerr_t *err)
{
    const char *base, *proof;
    igraph_json_t *j;
    apr_status_t rv;

    *permalink = NULL;
    *media_product_type = NULL;
    base = igraph_graph_pub_base(g, p, login, token, &proof);
    if (!base || !igraph_is_numeric_id(media_id) || !token || !*token) {
        return igraph_graph_badarg(err, "media read: bad login, media id or token");
    }
    rv = igraph_graph_call(
        g, p, "media read", "GET",
        igraph_graph_pub_url(
            g, p, base, media_id, NULL,
            igraph_form_build(p, "fields",
                              "id,permalink,shortcode,timestamp,media_type,media_product_type",
                              "appsecret_proof", proof, NULL)),
        NULL, token, &j, err);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    *permalink = igraph_graph_gets(p, j, "permalink");
    if (*permalink && !igraph_is_http_url(*permalink)) {
        *permalink = NULL; /* shown as a link on the accounts page: only http(s) */
    }
    *media_product_type = igraph_graph_text(p, igraph_json_gets(j, "media_product_type", NULL), 32);
    return APR_SUCCESS;
}

apr_status_t igraph_publishing_limit(const igraph_graph_t *g, apr_pool_t *p, igraph_login_e login,
                                     const char *ig_user_id, const char *token, apr_int64_t *usage,
                                     apr_int64_t *total, igraph_gerr_t *err)
{
    const char *base, *proof;
    igraph_json_t *j, *data, *first;
    apr_int64_t v;
    apr_status_t rv;
    int found;

    *usage = 0;
    *total = 0;
    base = igraph_graph_pub_base(g, p, login, token, &proof);
    if (!base || !igraph_is_numeric_id(ig_user_id) || !token || !*token) {
        return igraph_graph_badarg(err, "publishing limit: bad login, account id or token");
    }
    rv = igraph_graph_call(g, p, "publishing limit", "GET",
                           igraph_graph_pub_url(g, p, base, ig_user_id, "content_publishing_limit",
                                                igraph_form_build(p, "fields", "quota_usage,config",
                                                                  "appsecret_proof", proof, NULL)),
                           NULL, token, &j, err);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    data = igraph_json_getj(p, j, "data", NULL);
    if (!data || !igraph_json_is_array(data)) {
        return igraph_graph_unexpected(p, err, "publishing limit", "data");
    }
    /* An empty list is read as "nothing published, limit unknown". */
    first = igraph_json_array_at(p, data, 0);
    if (first && igraph_json_is_object(first)) {
        v = igraph_json_getl(first, &found, "quota_usage", NULL);
        *usage = (found && v > 0) ? v : 0;
        v = igraph_json_getl(first, &found, "config", "quota_total", NULL);
        *total = (found && v > 0) ? v : 0;
    }
    return APR_SUCCESS;
}

long igraph_status_error_subcode(const char *status_text)
{
    const char *s = status_text, *start;
    long last = 0;
    apr_size_t n;

    if (!s) {
        return 0;
    }
    while (*s) {
        if (*s < '0' || *s > '9') {
            s++;
            continue;
        }
        start = s;
        while (*s >= '0' && *s <= '9') {
            s++;
        }
        n = (apr_size_t)(s - start);
        /* exactly 7 digits, not glued to letters ("#2207026" and "2207026." count) */
        if (n == 7 && (start == status_text || !apr_isalnum(start[-1])) && !apr_isalpha(*s)) {
            last = strtol(start, NULL, 10);
        }
    }
    return last;
}
