/* mod_igraph_publish.h: the publish API (mod_igraph_publish.c). */
#ifndef MOD_IGRAPH_PUBLISH_H
#define MOD_IGRAPH_PUBLISH_H

#include "mod_igraph_web.h"

/* POST /publish, POST /reels/publish (route arg "reels": the seed contract). */
int mig_publish_post(mig_req *q);
/* GET /publish, GET /publish/{job}, DELETE /publish/{job}. */
int mig_publish_list(mig_req *q);
int mig_publish_get(mig_req *q);
int mig_publish_cancel(mig_req *q);

#endif
