/* mod_igraph_oauth.h: connecting accounts (mod_igraph_oauth.c). */
#ifndef MOD_IGRAPH_OAUTH_H
#define MOD_IGRAPH_OAUTH_H

#include "mod_igraph_web.h"

/* Route handlers:
 *   mig_oauth_start         GET /oauth/start?login=facebook|instagram&return_to=: 302 to Meta
 *   mig_oauth_callback      GET /oauth/callback: checks the state, exchanges the code, stores
 *   mig_oauth_pages         GET /oauth/pages: the Page choice form
 *   mig_oauth_pages_choose  POST /oauth/pages: connects the chosen Pages */
mig_route_fn mig_oauth_start, mig_oauth_callback, mig_oauth_pages, mig_oauth_pages_choose;

#endif
