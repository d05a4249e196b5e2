/* igraph_account.h: the two words that describe a connected account everywhere in the core: how
 * it logged in (which decides the Graph host of every call) and whether it may publish.
 *
 * Both are enums in memory. Their text forms below are what the database columns (TEXT), the
 * JSON API and the logs carry; igraph_store converts at the SQL boundary. Shared by
 * igraph_graph (host choice), igraph_job, igraph_store, igraph_refresh and the glue.
 */
#ifndef IGRAPH_ACCOUNT_H
#define IGRAPH_ACCOUNT_H

#include <apr_errno.h>

typedef enum {
    IGRAPH_LOGIN_FACEBOOK = 0, /* Facebook Login: graph.facebook.com, Page token, appsecret_proof */
    IGRAPH_LOGIN_INSTAGRAM     /* Instagram Business Login: graph.instagram.com, IG user token */
} igraph_login_e;

/* "facebook", "instagram"; "unknown" for a value outside the enum. */
const char *igraph_login_name(igraph_login_e l);
/* Exact lower-case names; APR_EINVAL for anything else (NULL too), *out untouched then. */
apr_status_t igraph_login_parse(const char *s, igraph_login_e *out);

typedef enum {
    IGRAPH_ACCOUNT_ACTIVE = 0,   /* may publish and is refreshed */
    IGRAPH_ACCOUNT_NEEDS_REAUTH, /* the token is unusable: the user must connect again */
    IGRAPH_ACCOUNT_DISABLED      /* switched off by its owner, or deauthorized on Meta */
} igraph_account_status_e;

/* "active", "needs_reauth", "disabled"; "unknown" for a value outside the enum. */
const char *igraph_account_status_name(igraph_account_status_e s);
/* Exact lower-case names; APR_EINVAL for anything else (NULL too), *out untouched then. */
apr_status_t igraph_account_status_parse(const char *s, igraph_account_status_e *out);

#endif
