/* mod_igraph_pace.h: how fast the worker child may go per account (mod_igraph_pace.c): posts
 * being started right now, and rate-limit pauses. Process memory, one table for the child:
 * only the worker child dispatches publish jobs. */
#ifndef MOD_IGRAPH_PACE_H
#define MOD_IGRAPH_PACE_H

#include <apr_pools.h>

/* An account's key in the table: account ids are numbered per database (store, see
 * mig_site), and one worker serves every database of the configuration. */
#define MIG_PACE_KEY(store, account_id) ((((apr_int64_t)(store)) << 48) | (account_id))

/* Empties the table and creates its mutex in pchild (from mig_jobs_start). */
apr_status_t mig_pace_init(apr_pool_t *pchild);

/* Posts of the account being started right now (handed to the thread pool, first step not run
 * yet). */
int mig_pace_starting(apr_int64_t account_id);

/* delta +1 / -1 on that count; returns 0 when no slot was free (the job then waits for the next
 * tick). */
int mig_pace_starting_add(apr_int64_t account_id, int delta);

/* A rate limit pauses the whole account until `until` (a later pause extends it). */
void mig_pace_pause(apr_int64_t account_id, apr_int64_t until);

/* 1 while the account is paused. */
int mig_pace_paused(apr_int64_t account_id, apr_int64_t now);

#endif
