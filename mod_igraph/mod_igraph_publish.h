/* mod_igraph_publish.h: the publish API (mod_igraph_publish.c). */
#ifndef MOD_IGRAPH_PUBLISH_H
#define MOD_IGRAPH_PUBLISH_H

#include "mod_igraph_web.h"

/* Route handlers:
 *   mig_publish_post    POST /publish, POST /reels/publish (route arg "reels": the seed contract)
 *   mig_publish_list    GET /publish
 *   mig_publish_get     GET /publish/{job}
 *   mig_publish_cancel  DELETE /publish/{job} */
mig_route_fn mig_publish_post, mig_publish_list, mig_publish_get, mig_publish_cancel;

#endif
