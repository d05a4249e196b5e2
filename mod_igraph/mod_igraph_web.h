/* mod_igraph_web.h: the request context and what route handlers answer with (mod_igraph_web.c):
 * JSON and HTML answers (HTML only through the escaping writer), errors in the client's format,
 * request bodies, sessions, CSRF tokens and the same-site check. Handlers include this header
 * (and mod_igraph_storage.h); only the dispatcher (mod_igraph_routes.c) includes the handlers. */
#ifndef MOD_IGRAPH_WEB_H
#define MOD_IGRAPH_WEB_H

#include "mod_igraph.h"
#include "igraph_json.h"

typedef struct mig_req mig_req;
typedef int mig_route_fn(mig_req *q);

/* What a route needs before its handler runs. The dispatcher applies these in one order (the
 * order below) and answers every refusal itself, in the client's format. */
#define MIG_R_JSON 0x0001u          /* answers in JSON (API); otherwise HTML pages */
#define MIG_R_USER 0x0002u          /* an Apache user when IGraphRequireUser is On (401) */
#define MIG_R_SAME_SITE 0x0004u     /* refuses requests a browser sent from another site (403) */
#define MIG_R_NO_SIMPLE_BODY 0x0008u /* state change: no CORS-safelisted Content-Type (415) */
#define MIG_R_JSON_BODY 0x0010u     /* the body must be application/json (415) */
#define MIG_R_FORM 0x0020u          /* an HTML form POST: body parsed into q->form (415, 413, 400)
                                     * and its CSRF token checked (403) */
#define MIG_R_KEY 0x0040u           /* the token key must be loaded (503) */
#define MIG_R_META 0x0080u          /* a Meta app must be configured (503) */
#define MIG_R_SESSION 0x0100u       /* mod_session on this location (503) */
#define MIG_R_STORAGE 0x0200u       /* storage must be configured; the handler opens its own
                                     * connections (mig_storage_open) for long waits (503) */
#define MIG_R_DB 0x0400u            /* the request's database connection in q->db (503) */
#define MIG_R_SIGNED 0x0800u        /* Meta's signed callbacks: never an Apache user; the handler
                                     * verifies the signature */

/* One row of the route table: a path pattern below the mount point ("/api/accounts/{id}";
 * {id} is a positive decimal id, {job} a job id, {name} an asset name), the methods it takes
 * (AP_METHOD_BIT << M_xxx; GET covers HEAD), its handler, its needs, and an argument for the
 * handler (e.g. the account action). */
typedef struct mig_route {
    const char *pattern;
    apr_int64_t methods;
    mig_route_fn *handler;
    unsigned needs;
    const char *arg;
} mig_route;

struct mig_req {
    request_rec *r;
    mig_srv_cfg *c;
    const mig_route *route; /* the row being served (NULL before it is found) */
    const char *base;       /* mount point, e.g. "/ig" ("" at the server's root) */
    const char *path;       /* below the mount point: "/..." */
    const char *user;       /* the Apache user, or "" for anonymous use (IGraphRequireUser Off) */
    const char *owner;      /* the owner key of user in this server's realm (igraph_owner_key) */
    int json;               /* 1: answers (and errors) in JSON */
    apr_table_t *args;      /* parsed query string (never NULL) */
    apr_table_t *form;      /* MIG_R_FORM: the parsed form */
    igraph_db_t *db;        /* MIG_R_DB: the request's connection */
    apr_int64_t id;         /* the {id} of the path */
    const char *name;       /* the {job} or {name} of the path */
};

/* Registration (mod_igraph.c): mod_session's functions, and the output filter that marks
 * session cookies Secure on https. */
void mig_web_optional_fns(void);
void mig_web_register_filters(void);
void mig_web_insert_filters(request_rec *r);

/* ---- answers ---- */
/* Answers return what the handler returns (OK, or a status for redirects). Helpers that may
 * answer or let the caller go on return MIG_GO_ON when they answered nothing. */
#define MIG_GO_ON DECLINED

int mig_json(mig_req *q, int status, igraph_json_t *body);
/* A failure in the client's format: {"ok":false,"error":code,"message":message} for JSON
 * clients, else a readable page (title, message and code; title NULL: the status line's). */
int mig_fail(mig_req *q, int status, const char *code, const char *title, const char *message);
/* As mig_fail, with extra members in the JSON object (e.g. "field"); pages ignore them. */
int mig_fail_json(mig_req *q, int status, igraph_json_t *body, const char *title);
/* The one "storage unavailable" answer (503). */
int mig_fail_storage(mig_req *q);
/* The answer to a failed store lookup: 404 not_found (message what) for APR_NOTFOUND, else
 * storage unavailable. */
int mig_fail_lookup(mig_req *q, apr_status_t rv, const char *what);
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
/* Reads and parses an application/x-www-form-urlencoded body. Returns OK or the status that
 * refuses it (415, 413, 400). */
int mig_read_form(mig_req *q, apr_table_t **form);
/* 1 when the request's Content-Type is type (parameters after ';' ignored, case-insensitive). */
int mig_content_type_is(mig_req *q, const char *type);

/* ---- session (mod_session) ---- */
int mig_session_available(mig_req *q);
const char *mig_session_get(mig_req *q, const char *key);
/* Must be called before the first byte of the body is written. NULL removes the key. */
void mig_session_set(mig_req *q, const char *key, const char *value);

/* The CSRF token for forms of this browser session and Apache user (a secret kept in the
 * session is created on first use; the token is bound to q->owner). */
const char *mig_csrf_token(mig_req *q);
/* 1 when the form carries exactly one csrf field that is this session's token for q->owner. */
int mig_csrf_ok(mig_req *q, apr_table_t *form);
/* 1 when a browser sent this request from another site (Origin, Sec-Fetch-Site). */
int mig_cross_site(mig_req *q);

/* ---- misc ---- */
/* JSON view of an account (never a token). */
igraph_json_t *mig_account_json(mig_req *q, const igraph_account_t *a);
int mig_account_can_publish(const igraph_account_t *a);
/* An URL of this mount: mig_url(q, "/accounts") -> "/ig/accounts". */
const char *mig_url(mig_req *q, const char *route);

#endif
