/* mod_igraph_routes.h: the "igraph" handler and its route table (mod_igraph_routes.c). */
#ifndef MOD_IGRAPH_ROUTES_H
#define MOD_IGRAPH_ROUTES_H

#include "mod_igraph_web.h"

/* An error in the form the route speaks: JSON on API routes (and for clients that ask for
 * JSON), a readable page on browser routes. */
int mig_fail(mig_req *q, int status, const char *code, const char *title, const char *message);
/* 1 when the route answers in JSON. */
int mig_is_api(mig_req *q);

int mig_handler(request_rec *r);

#endif
