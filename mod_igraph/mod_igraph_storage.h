/* mod_igraph_storage.h: the storage gateway, the only code that talks to mod_dbd.
 *
 * Requests take the request's connection (ap_dbd_acquire: one per request, given back with it);
 * threads and long waits open one of their own (ap_dbd_open) and close it when done
 * (ap_dbd_close), so they never pin a connection of mod_dbd's pool while they sleep. Either way
 * the schema is made ready (igraph_store_ready) before the connection is handed out, and why
 * storage cannot work is said once, at start-up. */
#ifndef MOD_IGRAPH_STORAGE_H
#define MOD_IGRAPH_STORAGE_H

#include "mod_igraph.h"

/* optional_fn_retrieve: finds mod_dbd's functions. */
void mig_storage_optional_fns(void);
/* pre_config, post_config (real pass) and child_init: the write mutex SQLite's writers queue
 * on across children (Mutex directive name "igraph-write"), and this child's group commit. */
int mig_storage_pre_config(apr_pool_t *pconf);
int mig_storage_post_config(apr_pool_t *pconf, server_rec *s);
void mig_storage_child_init(apr_pool_t *pchild, server_rec *s);

/* post_config, for each server: whether mod_dbd can serve it (mig_srv_cfg.storage_problem);
 * the reason is logged once, for the main server. Then, when the parent runs as root with a
 * SQLite file, its directory and files are handed to the run-time user (never through a
 * link). */
void mig_storage_check(server_rec *s, apr_pool_t *ptemp);

/* Which database this server's mod_dbd settings name (driver and parameters, from p), NULL
 * when it has none: servers with the same identity share one database. */
const char *mig_storage_identity(server_rec *s, apr_pool_t *p);

/* 1 when mod_dbd can give this server connections at all. */
int mig_storage_configured(server_rec *s);

/* The connection of request r, schema ready; NULL when storage is unavailable (the reason is
 * logged). Later calls for the same request give the same connection. */
igraph_db_t *mig_storage_request(request_rec *r);

/* A connection of one's own, from p (which must outlive it), schema ready; NULL when storage
 * is unavailable. Give it back with mig_storage_close(). */
igraph_db_t *mig_storage_open(server_rec *s, apr_pool_t *p);
void mig_storage_close(server_rec *s, igraph_db_t *db);

/* Records a new job (as igraph_store_job_insert) together with the inserts that other threads of
 * this child are making at the same moment: one transaction, one commit for all of them. Returns
 * when this job is durable (APR_SUCCESS), a repeat of an idempotency key (APR_EEXIST), or not
 * stored (an error). db is this thread's own connection (mig_storage_open). */
apr_status_t mig_storage_insert_job(igraph_db_t *db, apr_pool_t *p, const igraph_job_t *j,
                                    const char *idempotency_key, const char *media_key);

#endif
