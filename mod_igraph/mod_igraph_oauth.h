/* mod_igraph_oauth.h: connecting accounts (mod_igraph_oauth.c). */
#ifndef MOD_IGRAPH_OAUTH_H
#define MOD_IGRAPH_OAUTH_H

#include "mod_igraph_web.h"

/* GET /oauth/start?login=facebook|instagram&return_to=: 302 to Meta's dialog. */
int mig_oauth_start(mig_req *q);
/* GET /oauth/callback: checks the state, exchanges the code, stores the account(s). */
int mig_oauth_callback(mig_req *q);
/* GET /oauth/pages: the Page choice form; POST /oauth/pages: connects the chosen Pages. */
int mig_oauth_pages(mig_req *q);
int mig_oauth_pages_choose(mig_req *q);

#endif
