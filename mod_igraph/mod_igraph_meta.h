/* mod_igraph_meta.h: the routes Meta calls, and the events API (mod_igraph_meta.c). */
#ifndef MOD_IGRAPH_META_H
#define MOD_IGRAPH_META_H

#include "mod_igraph_web.h"

/* POST /meta/deauthorize, POST /meta/data-deletion: Meta's signed_request callbacks. */
int mig_meta_deauthorize(mig_req *q);
int mig_meta_data_deletion(mig_req *q);
/* GET /meta/deletion?code=: the public status page of a deletion request. */
int mig_meta_deletion_status(mig_req *q);
/* GET /meta/webhook: the subscription check; POST /meta/webhook: signed events. */
int mig_meta_webhook_verify(mig_req *q);
int mig_meta_webhook_events(mig_req *q);
/* GET /api/events: the caller's accounts' events. */
int mig_api_events(mig_req *q);

#endif
