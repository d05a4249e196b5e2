/* mod_igraph_mount.h: where the module is mounted (mod_igraph_mount.c).
 *
 * The mount point is the path of the <Location> that says `SetHandler igraph`, whatever else
 * the section holds or where the IGraph* directives are written. It is read from the parsed
 * configuration at start-up, for every server the section applies to. */
#ifndef MOD_IGRAPH_MOUNT_H
#define MOD_IGRAPH_MOUNT_H

#include "mod_igraph.h"

/* check_config: finds every `SetHandler igraph` and records the mount points of each server.
 * A form that cannot give a fixed path (<LocationMatch>, a wildcard <Location>, <Directory>,
 * <Files>, <If> ...) fails the configuration check (apachectl -t) with a message that says
 * what to write instead (IG0015). Returns OK or HTTP_INTERNAL_SERVER_ERROR. */
int mig_mount_find(apr_pool_t *pconf, server_rec *s);

/* Warns (IG0016) about every server whose IGraphRedirectURL does not end in
 * <mount>/oauth/callback for one of its mount points. */
void mig_mount_check_redirects(apr_pool_t *ptemp, server_rec *s);

/* The mount point r came in through ("" when SetHandler igraph applies to the whole server,
 * else "/path", never with a trailing slash); NULL when the handler was set in a way that was
 * not seen at start-up (e.g. in .htaccess). */
const char *mig_mount_of(request_rec *r);

#endif
