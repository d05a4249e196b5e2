/* mod_igraph_oauth.h: connecting accounts (mod_igraph_oauth.c). */
#ifndef MOD_IGRAPH_OAUTH_H
#define MOD_IGRAPH_OAUTH_H

#include "mod_igraph_web.h"

int mig_oauth_start(mig_req *q);
int mig_oauth_callback(mig_req *q);
int mig_oauth_pages(mig_req *q);

#endif
