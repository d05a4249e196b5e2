/* mod_igraph_pace.c: the per-account table of the worker child (see mod_igraph_pace.h): posts
 * being started, rate-limit pauses. A slot is in use while it counts a start or a pause that has
 * not run out; otherwise it is free for any account.
 */
#include <string.h>

#include <apr_thread_mutex.h>

#include "mod_igraph_pace.h"
#include "igraph_util.h"

/* Posts being started right now (queued jobs handed to the pool whose first step has not run
 * yet), per account: together with the database's in-flight count this keeps an account at
 * IGraphPublishConcurrency even when several of its jobs become due in the same second. Only
 * the worker child dispatches, so process memory is the right place. */
#define STARTING_SLOTS 128
static struct {
    apr_int64_t account_id;
    int n;                    /* posts being started */
    apr_int64_t paused_until; /* rate-limited: no calls for this account before */
} starting[STARTING_SLOTS];
static apr_thread_mutex_t *starting_mx;

static int slot_used(int i, apr_int64_t now)
{
    return starting[i].n > 0 || starting[i].paused_until > now;
}

int mig_pace_starting(apr_int64_t account_id)
{
    int i, n = 0;
    apr_thread_mutex_lock(starting_mx);
    for (i = 0; i < STARTING_SLOTS; i++) {
        if (starting[i].n > 0 && starting[i].account_id == account_id) {
            n = starting[i].n;
        }
    }
    apr_thread_mutex_unlock(starting_mx);
    return n;
}

/* A rate limit pauses the whole account (Meta counts calls per app and account), not only the
 * job that met it. */
void mig_pace_pause(apr_int64_t account_id, apr_int64_t until)
{
    apr_int64_t now = igraph_now();
    int i, free_slot = -1;
    apr_thread_mutex_lock(starting_mx);
    for (i = 0; i < STARTING_SLOTS; i++) {
        if (slot_used(i, now) && starting[i].account_id == account_id) {
            if (until > starting[i].paused_until) {
                starting[i].paused_until = until;
            }
            apr_thread_mutex_unlock(starting_mx);
            return;
        }
        if (!slot_used(i, now) && free_slot < 0) {
            free_slot = i;
        }
    }
    if (free_slot >= 0) {
        starting[free_slot].account_id = account_id;
        starting[free_slot].n = 0;
        starting[free_slot].paused_until = until;
    }
    apr_thread_mutex_unlock(starting_mx);
}

int mig_pace_paused(apr_int64_t account_id, apr_int64_t now)
{
    int i, paused = 0;
    apr_thread_mutex_lock(starting_mx);
    for (i = 0; i < STARTING_SLOTS; i++) {
        if (starting[i].account_id == account_id && starting[i].paused_until > now) {
            paused = 1;
        }
    }
    apr_thread_mutex_unlock(starting_mx);
    return paused;
}

int mig_pace_starting_add(apr_int64_t account_id, int delta)
{
    apr_int64_t now = igraph_now();
    int i, free_slot = -1, done = 0;
    apr_thread_mutex_lock(starting_mx);
    for (i = 0; i < STARTING_SLOTS && !done; i++) {
        if (slot_used(i, now) && starting[i].account_id == account_id) {
            starting[i].n += delta;
            done = 1;
        }
        else if (!slot_used(i, now) && free_slot < 0) {
            free_slot = i;
        }
    }
    if (!done && delta > 0 && free_slot >= 0) {
        starting[free_slot].account_id = account_id;
        starting[free_slot].n = delta;
        starting[free_slot].paused_until = 0;
        done = 1;
    }
    apr_thread_mutex_unlock(starting_mx);
    return done;
}

apr_status_t mig_pace_init(apr_pool_t *pchild)
{
    memset(starting, 0, sizeof(starting));
    return apr_thread_mutex_create(&starting_mx, APR_THREAD_MUTEX_DEFAULT, pchild);
}
