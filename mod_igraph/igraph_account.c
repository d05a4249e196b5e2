/* igraph_account.c: text forms of igraph_login_e and igraph_account_status_e (one table each,
 * indexed by the enum), and owner keys (see igraph_account.h). */
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "igraph_account.h"

#define IGRAPH_NELTS(a) (sizeof(a) / sizeof((a)[0]))

static const char *const igraph_login_names[] = {
    [IGRAPH_LOGIN_FACEBOOK] = "facebook",
    [IGRAPH_LOGIN_INSTAGRAM] = "instagram",
};

static const char *const igraph_account_status_names[] = {
    [IGRAPH_ACCOUNT_ACTIVE] = "active",
    [IGRAPH_ACCOUNT_NEEDS_REAUTH] = "needs_reauth",
    [IGRAPH_ACCOUNT_DISABLED] = "disabled",
    [IGRAPH_ACCOUNT_DEAUTHORIZED] = "deauthorized",
};

/* The entry for v, or "unknown" outside the table. */
static const char *igraph_name_of(const char *const *names, unsigned n, int v)
{
    return (v < 0 || (unsigned)v >= n) ? "unknown" : names[v];
}

/* The index of s in names, or -1. */
static int igraph_index_of(const char *const *names, unsigned n, const char *s)
{
    unsigned i;

    for (i = 0; s && i < n; i++) {
        if (!strcmp(s, names[i])) {
            return (int)i;
        }
    }
    return -1;
}

const char *igraph_login_name(igraph_login_e l)
{
    return igraph_name_of(igraph_login_names, IGRAPH_NELTS(igraph_login_names), (int)l);
}

apr_status_t igraph_login_parse(const char *s, igraph_login_e *out)
{
    int i = igraph_index_of(igraph_login_names, IGRAPH_NELTS(igraph_login_names), s);

    if (i < 0) {
        return APR_EINVAL;
    }
    *out = (igraph_login_e)i;
    return APR_SUCCESS;
}

const char *igraph_account_status_name(igraph_account_status_e s)
{
    return igraph_name_of(igraph_account_status_names, IGRAPH_NELTS(igraph_account_status_names),
                          (int)s);
}

apr_status_t igraph_account_status_parse(const char *s, igraph_account_status_e *out)
{
    int i =
        igraph_index_of(igraph_account_status_names, IGRAPH_NELTS(igraph_account_status_names), s);

    if (i < 0) {
        return APR_EINVAL;
    }
    *out = (igraph_account_status_e)i;
    return APR_SUCCESS;
}

int igraph_realm_valid(const char *realm)
{
    apr_size_t n = 0;

    if (!realm || !*realm) {
        return 0;
    }
    for (; *realm; realm++, n++) {
        if ((unsigned char)*realm <= ' ' || (unsigned char)*realm >= 0x7f) {
            return 0;
        }
    }
    return n <= 255;
}

int igraph_user_valid(const char *user)
{
    for (; user && *user; user++) {
        if (apr_iscntrl(*user)) {
            return 0;
        }
    }
    return 1;
}

const char *igraph_owner_key(apr_pool_t *p, const char *realm, const char *user)
{
    if (!realm || !*realm) {
        return user ? user : "";
    }
    return apr_pstrcat(p, realm, IGRAPH_REALM_SEP, user ? user : "", NULL);
}

const char *igraph_owner_realm(apr_pool_t *p, const char *owner)
{
    const char *sep = owner ? strchr(owner, IGRAPH_REALM_SEP[0]) : NULL;
    return sep ? apr_pstrndup(p, owner, (apr_size_t)(sep - owner)) : "";
}

const char *igraph_owner_user(const char *owner)
{
    const char *sep = owner ? strchr(owner, IGRAPH_REALM_SEP[0]) : NULL;
    return sep ? sep + 1 : (owner ? owner : "");
}
