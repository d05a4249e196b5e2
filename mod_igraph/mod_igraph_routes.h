/* mod_igraph_routes.h: the "igraph" handler and its route table (mod_igraph_routes.c). */
#ifndef MOD_IGRAPH_ROUTES_H
#define MOD_IGRAPH_ROUTES_H

#include "mod_igraph_web.h"

/* The handler hook: requests whose handler is "igraph" are dispatched through the table. */
int mig_handler(request_rec *r);

#endif
