/* mod_igraph_meta.h: the routes Meta calls, and the events API (mod_igraph_meta.c). */
#ifndef MOD_IGRAPH_META_H
#define MOD_IGRAPH_META_H

#include "mod_igraph_web.h"

/* Route handlers:
 *   mig_meta_deauthorize      POST /meta/deauthorize (signed_request)
 *   mig_meta_data_deletion    POST /meta/data-deletion (signed_request)
 *   mig_meta_deletion_status  GET /meta/deletion?code=: the public status page
 *   mig_meta_webhook_verify   GET /meta/webhook: the subscription check
 *   mig_meta_webhook_events   POST /meta/webhook: signed events
 *   mig_api_events            GET /api/events: the caller's accounts' events */
mig_route_fn mig_meta_deauthorize, mig_meta_data_deletion, mig_meta_deletion_status,
    mig_meta_webhook_verify, mig_meta_webhook_events, mig_api_events;

#endif
