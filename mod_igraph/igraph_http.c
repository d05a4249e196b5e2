/* igraph_http.c: one blocking HTTP exchange with libcurl (after httpd's md_curl.c).
 *
 * Every call uses its own easy handle, so the function is thread-safe once the caller has run
 * curl_global_init. Redirects are never followed and only http/https are allowed, so a hostile
 * answer cannot send us (and our Authorization header) somewhere else. URLs are logged without
 * their query string: token exchanges and paging links carry secrets there. Response bodies and
 * header lines we build are zeroed when the caller's pool is cleared (igraph_wipe_on_clear).
 */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_time.h>

#include <curl/curl.h>

#include "igraph_crypto.h"
#include "igraph_http.h"
#include "igraph_log.h"

#define IGRAPH_HTTP_UA "mod_igraph/0.1"
#define IGRAPH_HTTP_CONNECT_MS 5000L
#define IGRAPH_HTTP_TIMEOUT_MS 30000L
#define IGRAPH_HTTP_MAX_BODY ((apr_size_t)4 * 1024 * 1024)
#define IGRAPH_HTTP_BUF_MIN ((apr_size_t)8 * 1024)

/* ---- libcurl's allocator: malloc, with every block zeroed before free ----------------------- */

static volatile int igraph_http_zalloc_seen;

static void *igraph_http_zmalloc(size_t n)
{
    igraph_http_zalloc_seen = 1;
    return malloc(n);
}

static void igraph_http_zfree(void *p)
{
    if (p) {
        igraph_secure_zero(p, malloc_usable_size(p));
        free(p);
    }
}

static void *igraph_http_zrealloc(void *p, size_t n)
{
    size_t old;
    void *q;

    if (!p) {
        return igraph_http_zmalloc(n);
    }
    if (n == 0) {
        igraph_http_zfree(p);
        return NULL;
    }
    /* a moving realloc would hand the old block back uncleared: copy, then zero and free */
    old = malloc_usable_size(p);
    q = malloc(n);
    if (!q) {
        return NULL;
    }
    memcpy(q, p, old < n ? old : n);
    igraph_http_zfree(p);
    return q;
}

static char *igraph_http_zstrdup(const char *s)
{
    return strdup(s);
}

static void *igraph_http_zcalloc(size_t n, size_t size)
{
    return calloc(n, size);
}

apr_status_t igraph_http_global_init(int *wiping)
{
    char *probe;

    igraph_http_zalloc_seen = 0;
    if (curl_global_init_mem(CURL_GLOBAL_DEFAULT, igraph_http_zmalloc, igraph_http_zfree,
                             igraph_http_zrealloc, igraph_http_zstrdup,
                             igraph_http_zcalloc) != CURLE_OK) {
        return APR_EGENERAL;
    }
    if (wiping) {
        /* libcurl ignores the allocator when it was set up before: see whether it is ours */
        probe = curl_easy_escape(NULL, "probe", 5);
        *wiping = igraph_http_zalloc_seen;
        curl_free(probe);
    }
    return APR_SUCCESS;
}

void igraph_http_global_cleanup(void)
{
    curl_global_cleanup();
}

typedef struct igraph_http_ctx_t {
    apr_pool_t *p;
    char *buf;
    apr_size_t len, cap;
    apr_size_t max_body;
    int too_big;
    apr_table_t *headers;
    volatile int *abort_flag;
    int aborted;
} igraph_http_ctx_t;

/* Appends to a pool buffer that grows by doubling; the old buffers stay in the pool, which costs
 * less than the final size again. Exceeding max_body makes libcurl stop with CURLE_WRITE_ERROR. */
static size_t igraph_http_on_body(char *data, size_t size, size_t nmemb, void *baton)
{
    igraph_http_ctx_t *ctx = baton;
    apr_size_t n = size * nmemb, need;
    char *nbuf;

    if (n == 0) {
        return 0;
    }
    if (n > ctx->max_body || ctx->len > ctx->max_body - n) {
        ctx->too_big = 1;
        return 0;
    }
    need = ctx->len + n + 1;
    if (need > ctx->cap) {
        apr_size_t cap = ctx->cap ? ctx->cap : IGRAPH_HTTP_BUF_MIN;
        while (cap < need) {
            cap *= 2;
        }
        if (cap > ctx->max_body + 1) {
            cap = ctx->max_body + 1;
        }
        nbuf = apr_palloc(ctx->p, cap);
        /* answers carry tokens: the final buffer is zeroed with the pool, older ones now */
        igraph_wipe_on_clear(ctx->p, nbuf, cap);
        if (ctx->len) {
            memcpy(nbuf, ctx->buf, ctx->len);
            igraph_secure_zero(ctx->buf, ctx->len);
        }
        ctx->buf = nbuf;
        ctx->cap = cap;
    }
    memcpy(ctx->buf + ctx->len, data, n);
    ctx->len += n;
    return n;
}

/* One header line per call, status lines included. A new status line (after "100 Continue" or
 * any other interim answer) starts a new response, so the table is reset then. */
static size_t igraph_http_on_header(char *data, size_t size, size_t nitems, void *baton)
{
    igraph_http_ctx_t *ctx = baton;
    apr_size_t n = size * nitems, i, name_end, vs, ve;

    if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        apr_table_clear(ctx->headers);
        return n;
    }
    /* Obsolete line folding and the empty end-of-headers line are ignored. */
    if (n == 0 || data[0] == ' ' || data[0] == '\t' || data[0] == '\r' || data[0] == '\n') {
        return n;
    }
    for (i = 0; i < n && data[i] != ':'; i++) {
    }
    if (i == 0 || i >= n) {
        return n;
    }
    name_end = i;
    while (name_end > 0 && (data[name_end - 1] == ' ' || data[name_end - 1] == '\t')) {
        name_end--;
    }
    vs = i + 1;
    ve = n;
    while (vs < ve && (data[vs] == ' ' || data[vs] == '\t')) {
        vs++;
    }
    while (ve > vs && (data[ve - 1] == '\r' || data[ve - 1] == '\n' || data[ve - 1] == ' ' ||
                       data[ve - 1] == '\t')) {
        ve--;
    }
    apr_table_addn(ctx->headers, apr_pstrmemdup(ctx->p, data, name_end),
                   apr_pstrmemdup(ctx->p, data + vs, ve - vs));
    return n;
}

static int igraph_http_on_progress(void *baton, curl_off_t dltotal, curl_off_t dlnow,
                                   curl_off_t ultotal, curl_off_t ulnow)
{
    igraph_http_ctx_t *ctx = baton;

    if (ctx->abort_flag && *ctx->abort_flag) {
        ctx->aborted = 1;
        return 1;
    }
    return 0;
}

/* scheme://host[:port]/path of a URL: no user info, no query, no fragment. */
static const char *igraph_http_log_url(apr_pool_t *p, const char *url)
{
    apr_size_t end = strcspn(url, "?#");
    const char *auth = strstr(url, "://"), *at, *slash;

    if (!auth || (apr_size_t)(auth - url) > end) {
        return apr_pstrmemdup(p, url, end);
    }
    auth += 3;
    slash = auth + strcspn(auth, "/?#");
    at = memchr(auth, '@', slash - auth);
    if (at) {
        return apr_pstrcat(p, apr_pstrmemdup(p, url, auth - url),
                           apr_pstrmemdup(p, at + 1, (url + end) - (at + 1)), NULL);
    }
    return apr_pstrmemdup(p, url, end);
}

static int igraph_http_header_ok(const char *s)
{
    for (; *s; s++) {
        if (*s == '\r' || *s == '\n') {
            return 0;
        }
    }
    return 1;
}

static apr_status_t igraph_http_status_of(CURLcode cc, const igraph_http_ctx_t *ctx)
{
    switch (cc) {
    case CURLE_OK:
        return APR_SUCCESS;
    case CURLE_OPERATION_TIMEDOUT:
        return APR_TIMEUP;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return APR_ECONNREFUSED;
    case CURLE_FILESIZE_EXCEEDED:
        return APR_ENOSPC;
    case CURLE_WRITE_ERROR:
        return ctx->too_big ? APR_ENOSPC : APR_EGENERAL;
    case CURLE_ABORTED_BY_CALLBACK:
        return ctx->aborted ? APR_ECONNABORTED : APR_EGENERAL;
    default:
        return APR_EGENERAL;
    }
}

typedef struct igraph_http_hdr_baton_t {
    apr_pool_t *p;
    struct curl_slist *list;
    int ok;
} igraph_http_hdr_baton_t;

/* Header names and values from the caller must not smuggle in extra lines. An empty value
 * ("Name:") tells libcurl to drop a header it would add by itself. */
static int igraph_http_add_header(void *baton, const char *key, const char *val)
{
    igraph_http_hdr_baton_t *hb = baton;
    struct curl_slist *nl;
    char *line;

    if (!*key || strchr(key, ':') || !igraph_http_header_ok(key) || !igraph_http_header_ok(val)) {
        hb->ok = 0;
        return 0;
    }
    /* Authorization: Bearer <token> */
    line = igraph_wipe_str(hb->p, apr_pstrcat(hb->p, key, *val ? ": " : ":", val, NULL));
    nl = curl_slist_append(hb->list, line);
    if (!nl) {
        hb->ok = 0;
        return 0;
    }
    hb->list = nl;
    return 1;
}

apr_status_t igraph_http_perform(apr_pool_t *p, const igraph_http_req_t *req,
                                 igraph_http_resp_t **presp)
{
    igraph_http_resp_t *resp;
    igraph_http_ctx_t ctx;
    igraph_http_hdr_baton_t hb;
    CURL *curl = NULL;
    CURLcode cc;
    const char *method;
    apr_time_t start;
    apr_status_t rv = APR_EGENERAL;
    long status = 0;
    int has_body;

    resp = apr_pcalloc(p, sizeof(*resp));
    resp->headers = apr_table_make(p, 16);
    resp->body = apr_pcalloc(p, 1);
    *presp = resp;

    memset(&ctx, 0, sizeof(ctx));
    ctx.p = p;
    ctx.headers = resp->headers;
    ctx.max_body = req->max_body ? req->max_body : IGRAPH_HTTP_MAX_BODY;
    ctx.abort_flag = req->abort_flag;
    hb.p = p;
    hb.list = NULL;
    hb.ok = 1;

    method = req->method ? req->method : "GET";
    has_body = req->body != NULL && strcmp(method, "GET") != 0;
    if (!req->url || !*req->url) {
        resp->error = "no URL";
        return APR_EGENERAL;
    }

    if (req->headers) {
        apr_table_do(igraph_http_add_header, &hb, req->headers, NULL);
    }
    if (hb.ok && has_body) {
        igraph_http_add_header(&hb, "Content-Type",
                               req->content_type ? req->content_type
                                                 : "application/x-www-form-urlencoded");
        /* Our bodies are small; waiting for "100 Continue" only adds a round trip. */
        igraph_http_add_header(&hb, "Expect", "");
    }
    if (!hb.ok) {
        resp->error = "invalid request header";
        goto leave;
    }

    curl = curl_easy_init();
    if (!curl) {
        resp->error = "curl_easy_init failed";
        goto leave;
    }
    curl_easy_setopt(curl, CURLOPT_URL, req->url);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 */
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(curl, CURLOPT_USERAGENT, IGRAPH_HTTP_UA);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     req->connect_timeout_ms > 0 ? req->connect_timeout_ms
                                                 : IGRAPH_HTTP_CONNECT_MS);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                     req->timeout_ms > 0 ? req->timeout_ms : IGRAPH_HTTP_TIMEOUT_MS);
    /* Refuses early when Content-Length announces too much; the write callback covers the rest. */
    curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)ctx.max_body);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, igraph_http_on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &ctx);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, igraph_http_on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &ctx);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, igraph_http_on_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &ctx);

    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    }
    else {
        if (strcmp(method, "POST") == 0) {
            curl_easy_setopt(curl, CURLOPT_POST, 1L);
        }
        else {
            curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
        }
        if (has_body || strcmp(method, "POST") == 0) {
            curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                             (curl_off_t)(has_body ? req->body_len : 0));
            curl_easy_setopt(curl, CURLOPT_POSTFIELDS, has_body ? req->body : "");
        }
    }
    if (hb.list) {
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hb.list);
    }

    start = apr_time_now();
    cc = curl_easy_perform(curl);
    rv = igraph_http_status_of(cc, &ctx);
    if (rv == APR_SUCCESS) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        resp->status = (int)status;
        if (ctx.buf) {
            ctx.buf[ctx.len] = '\0';
            resp->body = ctx.buf;
            resp->len = ctx.len;
        }
    }
    else if (rv == APR_ENOSPC) {
        resp->error =
            apr_psprintf(p, "response body larger than %" APR_SIZE_T_FMT " bytes", ctx.max_body);
    }
    else if (rv == APR_ECONNABORTED) {
        resp->error = "aborted";
    }
    else {
        resp->error = curl_easy_strerror(cc);
    }

    if (igraph_log_is_level(IGRAPH_LOG_DEBUG)) {
        long ms = (long)apr_time_as_msec(apr_time_now() - start);
        if (rv == APR_SUCCESS) {
            igraph_log(IGRAPH_LOG_DEBUG, "http: %s %s -> %d (%ld ms, %" APR_SIZE_T_FMT " bytes)",
                       method, igraph_http_log_url(p, req->url), resp->status, ms, resp->len);
        }
        else {
            igraph_log(IGRAPH_LOG_DEBUG, "http: %s %s -> failed after %ld ms: %s", method,
                       igraph_http_log_url(p, req->url), ms, resp->error);
        }
    }

leave:
    if (curl) {
        curl_easy_cleanup(curl);
    }
    if (hb.list) {
        curl_slist_free_all(hb.list);
    }
    return rv;
}
