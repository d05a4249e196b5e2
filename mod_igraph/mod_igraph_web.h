/* mod_igraph_web.h: request-side helpers shared by the route handlers: the request context,
 * JSON and HTML answers (HTML only through the escaping writer), bodies, sessions, CSRF. */
#ifndef MOD_IGRAPH_WEB_H
#define MOD_IGRAPH_WEB_H

#include "mod_igraph.h"
#include "igraph_json.h"

typedef struct mig_req {
    request_rec *r;
    mig_srv_cfg *c;
    const char *base;    /* mount point, e.g. "/ig" */
    const char *route;   /* path below the mount point, "" or "/..." */
    const char *owner;   /* r->user, or "" for anonymous use (IGraphRequireUser Off) */
    igraph_db_t *db;     /* NULL until mig_db() succeeded */
    apr_table_t *args;   /* parsed query string (never NULL) */
} mig_req;

/* optional_fn_retrieve: finds mod_session's functions. */
void mig_web_optional_fns(void);
/* Registration (mod_igraph.c): the output filter that marks session cookies Secure on https. */
void mig_web_register_filters(void);
void mig_web_insert_filters(request_rec *r);

/* ---- answers ---- */
int mig_json(mig_req *q, int status, igraph_json_t *body);
/* {"ok":false,"error":code,"message":message} */
int mig_json_error(mig_req *q, int status, const char *code, const char *message);
/* A readable HTML error page (status, short title, explanation). */
int mig_html_error(mig_req *q, int status, const char *title, const char *message);
int mig_redirect(mig_req *q, int status, const char *location);

/* HTML writer: every %s argument is HTML-escaped; %d takes an int; %L takes an apr_int64_t;
 * %R writes a trusted literal unescaped (only for markup built from escaped parts). */
void mig_html(mig_req *q, const char *fmt, ...);
/* Common page frame: headers (CSP, no-store ...), <head>, banner; and the closing part. */
void mig_page_begin(mig_req *q, const char *title);
void mig_page_end(mig_req *q);

/* ---- input ---- */
/* Reads the request body (at most max bytes). Returns OK, HTTP_REQUEST_ENTITY_TOO_LARGE, or
 * another HTTP status on read errors. *body is NUL-terminated. */
int mig_read_body(mig_req *q, apr_size_t max, char **body, apr_size_t *len);
/* Parses an application/x-www-form-urlencoded body; NULL when malformed. */
apr_table_t *mig_read_form(mig_req *q, int *status);

/* ---- storage ---- */
/* Acquires the request's database connection and makes the schema ready. NULL when storage is
 * unavailable (mod_dbd missing, no DBDriver, connection or schema failure): answer 503. */
igraph_db_t *mig_db(mig_req *q);

/* ---- session (mod_session) ---- */
int mig_session_available(mig_req *q);
const char *mig_session_get(mig_req *q, const char *key);
/* Must be called before the first byte of the body is written. NULL removes the key. */
void mig_session_set(mig_req *q, const char *key, const char *value);

/* CSRF token of this browser session (created on first use). */
const char *mig_csrf_token(mig_req *q);
/* 1 when the form carries the session's CSRF token. */
int mig_csrf_ok(mig_req *q, apr_table_t *form);
/* 1 when a state-changing API request could have been sent cross-site by a browser. */
int mig_cross_site(mig_req *q);

/* ---- misc ---- */
/* JSON view of an account (never a token). */
igraph_json_t *mig_account_json(mig_req *q, const igraph_account_t *a);
int mig_account_can_publish(const igraph_account_t *a);
const char *mig_url(mig_req *q, const char *route);

#endif
