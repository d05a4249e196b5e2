/* igraph_http.h: one blocking HTTP exchange with libcurl (after httpd's md_curl.c).
 * Thread-safe (an easy handle per call, CURLOPT_NOSIGNAL) once igraph_http_global_init has run
 * (the Apache glue does it once per child process, in child_init). */
#ifndef IGRAPH_HTTP_H
#define IGRAPH_HTTP_H

#include <apr_pools.h>
#include <apr_tables.h>

typedef struct igraph_http_req_t {
    const char *method;          /* "GET", "POST", "DELETE" */
    const char *url;
    const char *body;            /* POST body or NULL */
    apr_size_t body_len;
    const char *content_type;    /* default application/x-www-form-urlencoded when body set */
    apr_table_t *headers;        /* extra request headers or NULL */
    long connect_timeout_ms;     /* 0: 5000 */
    long timeout_ms;             /* whole transfer, 0: 30000 */
    apr_size_t max_body;         /* response bytes accepted, 0: 4 MiB */
    volatile int *abort_flag;    /* when non-NULL and *abort_flag becomes non-zero, abort soon */
} igraph_http_req_t;

typedef struct igraph_http_resp_t {
    int status;                  /* HTTP status, 0 when no response */
    char *body;                  /* NUL-terminated, never NULL on success */
    apr_size_t len;
    apr_table_t *headers;        /* response headers (last response), names as received */
    const char *error;           /* transport error text (curl_easy_strerror) or NULL */
} igraph_http_resp_t;

/* Sets libcurl up for this process (curl_global_init_mem) with an allocator that zeroes each
 * block before it goes back to malloc: libcurl keeps request lines, Authorization headers and
 * answers (tokens, client secrets) in buffers of its own. The allocator is plain malloc with
 * zeroing added, so blocks from libc's malloc and from it mix safely. *wiping (may be NULL) is
 * 1 when libcurl uses it, 0 when libcurl had been set up before (by another module) and keeps
 * its allocator. Balanced by igraph_http_global_cleanup. */
apr_status_t igraph_http_global_init(int *wiping);
void igraph_http_global_cleanup(void);

/* Returns APR_SUCCESS when a response arrived (whatever its HTTP status), APR_TIMEUP on timeout,
 * APR_ECONNREFUSED when the peer cannot be reached, APR_ENOSPC when the response body exceeds
 * max_body, APR_ECONNABORTED when aborted through abort_flag, APR_EGENERAL otherwise.
 * *presp is always set (status 0 and error text on transport failures). Never follows redirects. */
apr_status_t igraph_http_perform(apr_pool_t *p, const igraph_http_req_t *req,
                                 igraph_http_resp_t **presp);

#endif
