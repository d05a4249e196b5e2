/* mod_igraph_worker.h: the maintenance thread, one active across all children
 * (mod_igraph_worker.c). */
#ifndef MOD_IGRAPH_WORKER_H
#define MOD_IGRAPH_WORKER_H

#include "mod_igraph.h"

void mig_worker_register_hooks(apr_pool_t *p);
/* Starts the child's maintenance thread and publish workers (from mod_igraph.c's child_init,
 * once libcurl is set up). */
void mig_worker_child_init(apr_pool_t *pchild, server_rec *s);
/* Refreshes one account now (API route and worker). Fills *detail. */
igraph_refresh_result_e mig_refresh_one(server_rec *s, igraph_db_t *db, apr_pool_t *p,
                                        const igraph_account_t *a, int force,
                                        volatile int *abort_flag, const char **detail);

#endif
