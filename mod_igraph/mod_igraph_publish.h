/* mod_igraph_publish.h: the publish API (mod_igraph_publish.c). */
#ifndef MOD_IGRAPH_PUBLISH_H
#define MOD_IGRAPH_PUBLISH_H

#include "mod_igraph_web.h"

int mig_publish_route(mig_req *q);

#endif
