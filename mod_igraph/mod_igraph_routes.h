/* mod_igraph_routes.h: route handlers (dispatched by mig_handler in mod_igraph_routes.c). */
#ifndef MOD_IGRAPH_ROUTES_H
#define MOD_IGRAPH_ROUTES_H

#include "mod_igraph_web.h"

/* An error in the form the route speaks: JSON on API routes (and for clients that ask for
 * JSON), a readable page on browser routes. */
int mig_fail(mig_req *q, int status, const char *code, const char *title, const char *message);
/* 1 when the route answers in JSON. */
int mig_is_api(mig_req *q);

/* mod_igraph_oauth.c */
int mig_oauth_start(mig_req *q);
int mig_oauth_callback(mig_req *q);
int mig_oauth_pages(mig_req *q);

/* mod_igraph_publish.c: /reels/publish, /publish, /publish/{id} */
int mig_publish_route(mig_req *q);

/* mod_igraph_meta.c: the /meta/ routes (Meta callbacks and webhooks) and /api/events */
int mig_meta_route(mig_req *q);
int mig_api_events(mig_req *q);

/* mod_igraph_accounts.c */
int mig_accounts_page(mig_req *q);
int mig_accounts_form(mig_req *q, apr_int64_t id, const char *verb);
int mig_api_accounts(mig_req *q);
int mig_api_account(mig_req *q, apr_int64_t id, const char *verb);

#endif
