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
#include <apr_pools.h>

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
    IGRAPH_ACCOUNT_DISABLED,     /* switched off by its owner (enabling it is enough) */
    IGRAPH_ACCOUNT_DEAUTHORIZED  /* the user removed the app on Meta; tokens erased: only a new
                                  * connect (OAuth) makes it active again, never "enable" */
} igraph_account_status_e;

/* "active", "needs_reauth", "disabled", "deauthorized"; "unknown" for a value outside the
 * enum. */
const char *igraph_account_status_name(igraph_account_status_e s);
/* Exact lower-case names; APR_EINVAL for anything else (NULL too), *out untouched then. */
apr_status_t igraph_account_status_parse(const char *s, igraph_account_status_e *out);

/* Owners. An account or job belongs to an owner key: the Apache user name, qualified by the
 * realm of the (virtual) server it was created on, so the same user name on two virtual hosts
 * sharing one database owns two separate sets of accounts. The default realm (the main
 * server's) keeps the bare user name, which is also what rows written before realms carry;
 * another realm's key is "<realm>" IGRAPH_REALM_SEP "<user>". Realm names are printable
 * (igraph_realm_valid) and user names with control characters own nothing
 * (igraph_user_valid), so a key has exactly one reading. */
#define IGRAPH_REALM_SEP "\x1f"

/* 1 for a non-empty realm name of at most 255 printable ASCII characters, no space. */
int igraph_realm_valid(const char *realm);
/* 1 for a user name without control characters (the empty anonymous user included). */
int igraph_user_valid(const char *user);
/* The owner key of user in realm ("" or NULL: the default realm). */
const char *igraph_owner_key(apr_pool_t *p, const char *realm, const char *user);
/* The realm of an owner key: "" for the default realm. */
const char *igraph_owner_realm(apr_pool_t *p, const char *owner);
/* The user part of an owner key (a pointer into it). */
const char *igraph_owner_user(const char *owner);

#endif
