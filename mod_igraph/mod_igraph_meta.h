/* mod_igraph_meta.h: the routes Meta calls, and the events API (mod_igraph_meta.c). */
#ifndef MOD_IGRAPH_META_H
#define MOD_IGRAPH_META_H

#include "mod_igraph_web.h"

int mig_meta_route(mig_req *q);
int mig_api_events(mig_req *q);

#endif
