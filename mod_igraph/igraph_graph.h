/* igraph_graph.h: Meta Graph / Instagram API client. One function per Graph call; each returns
 * APR_SUCCESS with parsed data, or an error status with a classified igraph_gerr_t.
 *
 * Tokens travel in "Authorization: Bearer" headers (never in URLs we build), except where Meta
 * requires them as parameters (token exchanges). On facebook-graph calls that carry a user or
 * Page token, appsecret_proof = hex HMAC-SHA256(app secret, token) is added as a parameter.
 * Nothing in here logs a token, a secret or an authorization code.
 */
#ifndef IGRAPH_GRAPH_H
#define IGRAPH_GRAPH_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "igraph_account.h"
#include "igraph_http.h"
#include "igraph_json.h"

typedef enum {
    IGRAPH_ERR_NONE = 0,
    IGRAPH_ERR_TRANSPORT,  /* no HTTP answer: connect failure, timeout, reset, abort */
    IGRAPH_ERR_SERVER,     /* HTTP 5xx, or a body that is not the expected JSON */
    IGRAPH_ERR_OAUTH,      /* login step failed (flat error_type envelope, 100/36007..36009,...) */
    IGRAPH_ERR_REAUTH,     /* 190 (any subcode) or 102: token unusable, user must reconnect */
    IGRAPH_ERR_PERMISSION, /* 10, 200..299, 3: a permission or role is missing */
    IGRAPH_ERR_RATE_LIMIT, /* 4, 17, 32, 613, 341, 80001..80014: back off */
    IGRAPH_ERR_NOT_READY,  /* 9007 / 2207027: container not ready, keep polling */
    IGRAPH_ERR_QUOTA,      /* 9 / 2207042: publishing quota reached */
    IGRAPH_ERR_MEDIA,      /* media problems (2207026, 9004, 36000.., status ERROR ...) */
    IGRAPH_ERR_RESTRICTED, /* 4 / 2207051, 25 / 2207050, 368: account restricted */
    IGRAPH_ERR_RETRY,      /* 1, 2, is_transient:true, -2/2207003, 24/2207008: transient */
    IGRAPH_ERR_INVALID,    /* our request was rejected as invalid (100 and others) */
    IGRAPH_ERR_PERMANENT   /* anything else */
} igraph_err_class_e;

typedef struct igraph_gerr_t {
    igraph_err_class_e cls;
    int http_status;        /* 0 when no HTTP answer */
    long code;              /* error.code (or the flat envelope's code), 0 if none */
    long subcode;           /* error.error_subcode, 0 if none */
    const char *type;       /* error.type / error_type */
    const char *message;    /* error.message / error_message / transport text; never a token */
    const char *user_title; /* error.error_user_title */
    const char *user_msg;   /* error.error_user_msg */
    const char *fbtrace_id;
    int is_transient;
    apr_int64_t retry_after; /* seconds suggested by usage headers (0 = unknown) */
} igraph_gerr_t;

/* Short stable name of a class ("transport", "reauth", "rate_limit", ...). */
const char *igraph_err_class_name(igraph_err_class_e cls);

/* Pure classification of an answer (unit-tested): http_status 0 = transport failure. Fills *e
 * from the Graph envelope {"error":{...}}, the flat Instagram envelope {"error_type",
 * "code","error_message"}, or the HTTP status when the body is not JSON. Returns 1 when the
 * answer is an error, 0 when it is a success (2xx without an error envelope). */
int igraph_graph_classify(igraph_gerr_t *e, apr_pool_t *p, int http_status, const char *body,
                          apr_size_t len);

/* Client configuration; built per request/tick from the server config. */
typedef struct igraph_graph_t {
    const char *fb_dialog_base;   /* e.g. https://www.facebook.com */
    const char *fb_graph_base;    /* e.g. https://graph.facebook.com */
    const char *ig_authorize_base;/* e.g. https://www.instagram.com */
    const char *ig_api_base;      /* e.g. https://api.instagram.com */
    const char *ig_graph_base;    /* e.g. https://graph.instagram.com */
    const char *version;          /* e.g. v26.0 */
    const char *app_id, *app_secret;       /* Facebook Login app */
    const char *ig_app_id, *ig_app_secret; /* Instagram Login app */
    int fb_appsecret_proof;       /* add appsecret_proof on facebook-graph token calls (1) */
    long connect_timeout_ms, timeout_ms;
    apr_size_t max_body;
    int max_pages;                /* paging.next requests followed at most (default 50) */
    volatile int *abort_flag;
} igraph_graph_t;

typedef struct igraph_token_t {
    const char *access_token;
    apr_int64_t expires_in;       /* seconds, 0 when absent */
    const char *user_id;          /* exact decimal string (IG code exchange), or NULL */
    const char *permissions;      /* normalised comma list, or NULL */
} igraph_token_t;

typedef struct igraph_page_t {
    const char *id, *name, *access_token;
    const char *tasks;            /* comma list or NULL */
    const char *ig_id;            /* instagram_business_account.id or NULL */
    const char *ig_username;
} igraph_page_t;

typedef struct igraph_profile_t {
    const char *id;               /* "id" */
    const char *user_id;          /* "user_id" (Instagram Login /me) */
    const char *username, *name, *picture_url, *account_type;
} igraph_profile_t;

/* ---- login URLs (pure) ---- */
/* {fb_dialog_base}/{v}/dialog/oauth?client_id&redirect_uri&state&response_type=code&scope */
char *igraph_fb_dialog_url(const igraph_graph_t *g, apr_pool_t *p, const char *redirect_uri,
                           const char *state, const char *scopes, const char *auth_type);
/* {ig_authorize_base}/oauth/authorize?client_id(ig)&redirect_uri&response_type=code&scope&state */
char *igraph_ig_authorize_url(const igraph_graph_t *g, apr_pool_t *p, const char *redirect_uri,
                              const char *state, const char *scopes);

/* ---- Facebook Login ---- */
/* GET {fb_graph}/{v}/oauth/access_token?client_id&redirect_uri&client_secret&code */
apr_status_t igraph_fb_exchange_code(const igraph_graph_t *g, apr_pool_t *p, const char *code,
                                     const char *redirect_uri, igraph_token_t *tok,
                                     igraph_gerr_t *err);
/* GET {fb_graph}/{v}/oauth/access_token?grant_type=fb_exchange_token&client_id&client_secret
 *     &fb_exchange_token */
apr_status_t igraph_fb_long_lived(const igraph_graph_t *g, apr_pool_t *p, const char *user_token,
                                  igraph_token_t *tok, igraph_gerr_t *err);
/* GET {fb_graph}/{v}/me/accounts?fields=id,name,access_token,tasks,
 *     instagram_business_account{id,username}&limit=100, then paging.next verbatim until absent
 * (only when it points at fb_graph_base). *pages: array of igraph_page_t*. */
apr_status_t igraph_fb_list_pages(const igraph_graph_t *g, apr_pool_t *p, const char *user_token,
                                  apr_array_header_t **pages, igraph_gerr_t *err);
/* GET {fb_graph}/{v}/{page_id}?fields=instagram_business_account{id,username};
 * *ig_id NULL when the Page has no professional account. */
apr_status_t igraph_fb_page_ig_account(const igraph_graph_t *g, apr_pool_t *p, const char *page_id,
                                       const char *token, const char **ig_id,
                                       const char **ig_username, igraph_gerr_t *err);
/* GET {fb_graph}/{v}/{ig_user_id}?fields=id,username,name,profile_picture_url */
apr_status_t igraph_fb_ig_profile(const igraph_graph_t *g, apr_pool_t *p, const char *ig_user_id,
                                  const char *token, igraph_profile_t *prof, igraph_gerr_t *err);
/* GET {fb_graph}/{v}/me/permissions -> comma list of granted permissions (follows paging). */
apr_status_t igraph_fb_permissions(const igraph_graph_t *g, apr_pool_t *p, const char *user_token,
                                   const char **granted, igraph_gerr_t *err);

/* GET {fb_graph}/{v}/me?fields=id,name (Bearer + appsecret_proof): the app-scoped Facebook user
 * id that deauthorize / data-deletion callbacks name (store it as the account's app_user_id).
 * *id is required (string or number, exact); *name may be NULL. */
apr_status_t igraph_fb_me(const igraph_graph_t *g, apr_pool_t *p, const char *user_token,
                          const char **id, const char **name, igraph_gerr_t *err);

/* ---- Instagram Login ---- */
/* POST {ig_api}/oauth/access_token (form: client_id, client_secret, grant_type=
 * authorization_code, redirect_uri, code). Accepts {"data":[{...}]} and the flat shape; user_id
 * string or number; permissions string or array. A trailing "#_" is stripped from code. */
apr_status_t igraph_ig_exchange_code(const igraph_graph_t *g, apr_pool_t *p, const char *code,
                                     const char *redirect_uri, igraph_token_t *tok,
                                     igraph_gerr_t *err);
/* GET {ig_graph}/access_token?grant_type=ig_exchange_token&client_secret&access_token */
apr_status_t igraph_ig_long_lived(const igraph_graph_t *g, apr_pool_t *p, const char *short_token,
                                  igraph_token_t *tok, igraph_gerr_t *err);
/* GET {ig_graph}/refresh_access_token?grant_type=ig_refresh_token&access_token */
apr_status_t igraph_ig_refresh(const igraph_graph_t *g, apr_pool_t *p, const char *token,
                               igraph_token_t *tok, igraph_gerr_t *err);
/* GET {ig_graph}/{v}/me?fields=user_id,username,name,account_type,profile_picture_url
 * (flat or {"data":[{...}]}) */
apr_status_t igraph_ig_me(const igraph_graph_t *g, apr_pool_t *p, const char *token,
                          igraph_profile_t *prof, igraph_gerr_t *err);

/* ---- pure parsers (unit-tested; used by the calls above) ---- */
apr_status_t igraph_parse_token(apr_pool_t *p, const igraph_json_t *j, igraph_token_t *tok);
/* One page of /me/accounts: appends igraph_page_t* to pages, sets *next (NULL at the end). */
apr_status_t igraph_parse_pages(apr_pool_t *p, const igraph_json_t *j, apr_array_header_t *pages,
                                const char **next);
apr_status_t igraph_parse_profile(apr_pool_t *p, const igraph_json_t *j, igraph_profile_t *prof);
/* {"data":[{"permission":..,"status":"granted"}..]} -> appends granted names to arr (char*). */
apr_status_t igraph_parse_permissions(apr_pool_t *p, const igraph_json_t *j,
                                      apr_array_header_t *granted, const char **next);

/* Removes a trailing "#_" or "%23_" from an authorization code (new string). */
char *igraph_strip_code_suffix(apr_pool_t *p, const char *code);

/* ---- content publishing (reference section 4) ----
 * login is the account's login: IGRAPH_LOGIN_FACEBOOK -> {fb_graph_base} with appsecret_proof
 * (when g->fb_appsecret_proof), IGRAPH_LOGIN_INSTAGRAM -> {ig_graph_base}. Ids must be decimal
 * (igraph_is_numeric_id); anything else (a login outside the enum too) is refused with
 * IGRAPH_ERR_INVALID before any network traffic. */

/* POST {base}/{v}/{ig_user_id}/media, form-encoded from params (in table order; empty values
 * skipped): media_type, video_url, image_url, caption, share_to_feed, cover_url, thumb_offset,
 * audio_name, collaborators (JSON text), location_id, user_tags (JSON text), is_carousel_item,
 * children (comma list). *container_id from {"id":...}. */
apr_status_t igraph_create_container(const igraph_graph_t *g, apr_pool_t *p, igraph_login_e login,
                                     const char *ig_user_id, const char *token,
                                     const apr_table_t *params, const char **container_id,
                                     igraph_gerr_t *err);
/* GET {base}/{v}/{container_id}?fields=status_code,status. *status_code is one of EXPIRED,
 * ERROR, FINISHED, IN_PROGRESS, PUBLISHED (as sent; a missing status_code is an error);
 * *status_text is Meta's free text (control characters blanked) or NULL. */
apr_status_t igraph_container_status(const igraph_graph_t *g, apr_pool_t *p, igraph_login_e login,
                                     const char *container_id, const char *token,
                                     const char **status_code, const char **status_text,
                                     igraph_gerr_t *err);
/* POST {base}/{v}/{ig_user_id}/media_publish creation_id=... -> *media_id. NOT idempotent: on a
 * transport error or a 5xx the post may be live (see igraph_job.h, CHECK_BEFORE_PUBLISH). */
apr_status_t igraph_media_publish(const igraph_graph_t *g, apr_pool_t *p, igraph_login_e login,
                                  const char *ig_user_id, const char *token,
                                  const char *creation_id, const char **media_id,
                                  igraph_gerr_t *err);
/* GET {base}/{v}/{media_id}?fields=id,permalink,shortcode,timestamp,media_type,
 * media_product_type. Either output may be NULL when Meta leaves it out. */
apr_status_t igraph_media_read(const igraph_graph_t *g, apr_pool_t *p, igraph_login_e login,
                               const char *media_id, const char *token, const char **permalink,
                               const char **media_product_type, igraph_gerr_t *err);
/* GET {base}/{v}/{ig_user_id}/content_publishing_limit?fields=quota_usage,config
 * -> data[0].quota_usage, data[0].config.quota_total (0 when absent: Meta's docs say 50 or
 * 100; callers assume IGRAPH_QUOTA_DEFAULT). */
apr_status_t igraph_publishing_limit(const igraph_graph_t *g, apr_pool_t *p, igraph_login_e login,
                                     const char *ig_user_id, const char *token, apr_int64_t *usage,
                                     apr_int64_t *total, igraph_gerr_t *err);

#define IGRAPH_QUOTA_DEFAULT 50

/* The error subcode in a container's ERROR status text ("Error: Media upload has failed with
 * error code 2207026"): the last run of exactly 7 digits, 0 when there is none (pure). */
long igraph_status_error_subcode(const char *status_text);

#endif
