/* mod_igraph_sites.h: which server's settings background work uses (mod_igraph_sites.c).
 *
 * Every account and job belongs to the realm of the (virtual) server it was created on: its
 * owner key carries the realm (igraph_owner_key). A site is one realm on one database, with the
 * first server of that realm as the one whose settings (endpoints, app, token key, database)
 * its refreshes and publish steps use. Servers of one realm on one database must therefore agree
 * on those settings; start-up refuses a configuration where they do not. */
#ifndef MOD_IGRAPH_SITES_H
#define MOD_IGRAPH_SITES_H

#include "mod_igraph.h"

typedef struct mig_site {
    server_rec *s;     /* the first server of this realm on this database */
    const char *realm; /* the realm key: "" for the main server's realm */
    int store;         /* the same number for every site on one database, from 0 */
    int store_first;   /* 1 for the first site of its database (once-per-database work) */
} mig_site;

/* check_config: every server's realm (IGraphRealm, else its ServerName; the main server's realm
 * is the default realm) and the site table. An error status (logged, IG0058) when two servers of
 * one realm and database use different Meta settings. */
int mig_sites_build(apr_pool_t *pconf, server_rec *s);

/* The sites, in configuration order (array of mig_site); empty before mig_sites_build. */
const apr_array_header_t *mig_sites(void);

#endif
