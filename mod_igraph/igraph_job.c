/* igraph_job.c: the publish job state machine, publish request validation, caption attribution
 * and the compliance gate. Pure functions: no I/O, no clock (times are passed in), no store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "igraph_crypto.h"
#include "igraph_job.h"
#include "igraph_util.h"

#define IGRAPH_JOB_READBACK_TRIES 3
#define IGRAPH_JOB_CONTAINER_LIFE 86400 /* containers expire 24 h after creation */
#define IGRAPH_USERNAME_MAX 30
#define IGRAPH_AUDIO_NAME_MAX 100
#define IGRAPH_COLLABORATORS_MAX 3
#define IGRAPH_USER_TAGS_MAX 20
#define IGRAPH_IDEMPOTENCY_MAX 128
#define IGRAPH_LICENSE_MAX 200
#define IGRAPH_THUMB_OFFSET_MAX (86400LL * 1000)

/* ---- names ----------------------------------------------------------------------------------- */

static const char *const igraph_media_names[] = {"", "REELS", "IMAGE", "STORIES", "CAROUSEL"};

const char *igraph_media_name(igraph_media_e m)
{
    if ((int)m < 0 || (apr_size_t)m >= sizeof(igraph_media_names) / sizeof(igraph_media_names[0])) {
        return "";
    }
    return igraph_media_names[m];
}

igraph_media_e igraph_media_parse(const char *s)
{
    apr_size_t i;

    for (i = 1; s && i < sizeof(igraph_media_names) / sizeof(igraph_media_names[0]); i++) {
        if (!strcmp(s, igraph_media_names[i])) {
            return (igraph_media_e)i;
        }
    }
    return IGRAPH_MEDIA_NONE;
}

static const char *const igraph_job_status_names[] = {"queued",    "processing", "publishing",
                                                      "published", "failed",     "cancelled"};

const char *igraph_job_status_name(igraph_job_status_e s)
{
    if ((int)s < 0 ||
        (apr_size_t)s >= sizeof(igraph_job_status_names) / sizeof(igraph_job_status_names[0])) {
        return "unknown";
    }
    return igraph_job_status_names[s];
}

apr_status_t igraph_job_status_parse(const char *s, igraph_job_status_e *out)
{
    apr_size_t i;

    for (i = 0; s && i < sizeof(igraph_job_status_names) / sizeof(igraph_job_status_names[0]);
         i++) {
        if (!strcmp(s, igraph_job_status_names[i])) {
            *out = (igraph_job_status_e)i;
            return APR_SUCCESS;
        }
    }
    return APR_EINVAL;
}

const char *igraph_step_name(igraph_step_e a)
{
    switch (a) {
    case IGRAPH_STEP_WAIT:
        return "wait";
    case IGRAPH_STEP_CREATE_CHILD:
        return "create_child";
    case IGRAPH_STEP_POLL_CHILD:
        return "poll_child";
    case IGRAPH_STEP_CREATE_CONTAINER:
        return "create_container";
    case IGRAPH_STEP_POLL_CONTAINER:
        return "poll_container";
    case IGRAPH_STEP_CHECK_BEFORE_PUBLISH:
        return "check_before_publish";
    case IGRAPH_STEP_PUBLISH:
        return "publish";
    case IGRAPH_STEP_READ_BACK:
        return "read_back";
    case IGRAPH_STEP_DONE:
        return "done";
    }
    return "unknown";
}

/* ---- policy ---------------------------------------------------------------------------------- */

void igraph_job_policy_default(igraph_job_policy_t *pol)
{
    memset(pol, 0, sizeof(*pol));
    pol->publish_timeout = 600;
    pol->max_attempts = 5;
    pol->retry_base = 5;
    pol->retry_cap = 300;
    pol->rate_limit_delay = 60;
    pol->quota_retry = 3600;
    pol->schedule_lead = 600;
}

/* pol with every zero field replaced by its default. */
static igraph_job_policy_t igraph_job_policy(const igraph_job_policy_t *pol)
{
    igraph_job_policy_t d, r;

    igraph_job_policy_default(&d);
    if (!pol) {
        return d;
    }
    r = *pol;
    if (r.publish_timeout <= 0) {
        r.publish_timeout = d.publish_timeout;
    }
    if (r.max_attempts <= 0) {
        r.max_attempts = d.max_attempts;
    }
    if (r.retry_base <= 0) {
        r.retry_base = d.retry_base;
    }
    if (r.retry_cap <= 0) {
        r.retry_cap = d.retry_cap;
    }
    if (r.rate_limit_delay <= 0) {
        r.rate_limit_delay = d.rate_limit_delay;
    }
    if (r.quota_retry <= 0) {
        r.quota_retry = d.quota_retry;
    }
    if (r.schedule_lead < 0) {
        r.schedule_lead = 0;
    }
    return r;
}

apr_int64_t igraph_job_backoff(const igraph_job_policy_t *pol, int attempts)
{
    igraph_job_policy_t po = igraph_job_policy(pol);
    apr_int64_t d = po.retry_base;
    int i;

    /* doubling stops at the cap, so no overflow whatever attempts is */
    for (i = 1; i < attempts && d < po.retry_cap; i++) {
        d *= 2;
    }
    return d > po.retry_cap ? po.retry_cap : d;
}

/* ---- before a step --------------------------------------------------------------------------- */

int igraph_job_quota_reached(apr_pool_t *p, apr_int64_t usage, apr_int64_t total, igraph_gerr_t *e)
{
    if (total <= 0) {
        total = IGRAPH_QUOTA_DEFAULT;
    }
    if (usage < total) {
        return 0;
    }
    /* what Meta answers to a media call over the limit, so the job handles it the same way */
    e->cls = IGRAPH_ERR_QUOTA;
    e->code = 9;
    e->subcode = 2207042;
    e->message = apr_psprintf(
        p, "publishing limit reached (%" APR_INT64_T_FMT " of %" APR_INT64_T_FMT " in 24 h)", usage,
        total);
    return 1;
}

int igraph_job_account_unusable(int found, igraph_account_status_e status, int token_ok,
                                igraph_step_e a, igraph_step_result_t *res)
{
    if (found && status == IGRAPH_ACCOUNT_ACTIVE && token_ok) {
        return 0;
    }
    memset(res, 0, sizeof(*res));
    if (!found) {
        res->err.cls = IGRAPH_ERR_REAUTH;
        res->err.message = "the account was removed";
    }
    else if (status == IGRAPH_ACCOUNT_DISABLED) {
        res->err.cls = IGRAPH_ERR_PERMANENT;
        res->err.message = "the account is disabled";
    }
    else if (status == IGRAPH_ACCOUNT_DEAUTHORIZED) {
        res->err.cls = IGRAPH_ERR_PERMANENT;
        res->err.message = "the account was deauthorized on Meta";
    }
    else {
        res->err.cls = IGRAPH_ERR_REAUTH;
        res->err.message = "the account needs reconnecting";
    }
    if (a == IGRAPH_STEP_PUBLISH || a == IGRAPH_STEP_READ_BACK ||
        a == IGRAPH_STEP_CHECK_BEFORE_PUBLISH) {
        /* media_publish may have gone out: never leave a possibly published job failed */
        res->err.cls = IGRAPH_ERR_RETRY;
    }
    return 1;
}

/* ---- poll schedule --------------------------------------------------------------------------- */

#define IGRAPH_POLL_FIRST 2
#define IGRAPH_POLL_GROW_FROM 3 /* gap n (n >= 1) is 3 + n seconds ... */
#define IGRAPH_POLL_CAP 15      /* ... up to this */

apr_int64_t igraph_poll_delay(int polls_so_far)
{
    apr_int64_t d;

    if (polls_so_far <= 0) {
        return IGRAPH_POLL_FIRST;
    }
    d = IGRAPH_POLL_GROW_FROM + (apr_int64_t)polls_so_far;
    return d > IGRAPH_POLL_CAP ? IGRAPH_POLL_CAP : d;
}

apr_int64_t igraph_poll_offset(int polls_so_far)
{
    /* gaps 1..m grow linearly (3 + k), the rest are capped */
    const apr_int64_t last_growing = IGRAPH_POLL_CAP - IGRAPH_POLL_GROW_FROM;
    apr_int64_t n = polls_so_far < 0 ? 0 : polls_so_far, m;

    m = n < last_growing ? n : last_growing;
    return IGRAPH_POLL_FIRST + IGRAPH_POLL_GROW_FROM * m + m * (m + 1) / 2 +
           IGRAPH_POLL_CAP * (n - m);
}

apr_int64_t igraph_poll_next_at(apr_int64_t anchor, int polls_so_far, apr_int64_t now)
{
    apr_int64_t t = anchor + igraph_poll_offset(polls_so_far);

    /* Behind by more than a whole gap (worker stopped, long Graph call): start over from now
     * rather than firing the missed polls back to back. */
    return t >= now ? t : now + igraph_poll_delay(polls_so_far);
}

/* ---- job helpers ----------------------------------------------------------------------------- */

static int igraph_job_children_created(const igraph_job_t *j)
{
    const char *s = j->children;
    int n = 0;

    if (!s || !*s) {
        return 0;
    }
    for (n = 1; *s; s++) {
        if (*s == ',') {
            n++;
        }
    }
    return n;
}

static const char *igraph_job_child_id(apr_pool_t *p, const igraph_job_t *j, int i)
{
    apr_array_header_t *ids = j->children ? igraph_split_csv(p, j->children) : NULL;

    if (!ids || i < 0 || i >= ids->nelts) {
        return NULL;
    }
    return APR_ARRAY_IDX(ids, i, const char *);
}

static int igraph_job_readback_pending(const igraph_job_t *j)
{
    return j->media_id && *j->media_id && !j->permalink && j->attempts < IGRAPH_JOB_READBACK_TRIES;
}

int igraph_job_is_final(const igraph_job_t *j)
{
    switch (j->status) {
    case IGRAPH_JOB_FAILED:
    case IGRAPH_JOB_CANCELLED:
        return 1;
    case IGRAPH_JOB_PUBLISHED:
        return !igraph_job_readback_pending(j);
    default:
        return 0;
    }
}

void igraph_job_init(apr_pool_t *p, igraph_job_t *j, const igraph_publish_req_t *req,
                     apr_int64_t now, const igraph_job_policy_t *pol)
{
    igraph_job_policy_t po = igraph_job_policy(pol);

    memset(j, 0, sizeof(*j));
    j->media_type = req->media_type;
    j->status = IGRAPH_JOB_QUEUED;
    j->request = igraph_publish_req_to_json(p, req);
    j->n_children_expected =
        (req->media_type == IGRAPH_MEDIA_CAROUSEL && req->children) ? req->children->nelts : 0;
    j->caption = req->caption ? apr_pstrdup(p, req->caption) : NULL;
    j->publish_at = req->publish_at;
    j->created_at = j->updated_at = now;
    j->next_at = now;
    if (req->publish_at > 0 && req->publish_at - po.schedule_lead > now) {
        j->next_at = req->publish_at - po.schedule_lead;
    }
}

/* ---- the state machine ----------------------------------------------------------------------- */

/* igraph_job_next(): the first matching row wins.
 *
 *  # | condition                                                     | step
 * ---+---------------------------------------------------------------+----------------------------
 *  1 | status failed or cancelled                                    | DONE
 *  2 | published, media_id known, no permalink, < 3 read attempts    | READ_BACK (WAIT until
 * next_at) 3 | published (otherwise)                                         | DONE 4 | next_at >
 * now                                                 | WAIT 5 | publish_sent (a publish may have
 * reached Meta)                | CHECK_BEFORE_PUBLISH 6 | CAROUSEL, fewer children created than
 * expected                | CREATE_CHILD(created) 7 | CAROUSEL, fewer children FINISHED than
 * expected               | POLL_CHILD(ready) 8 | no creation_id | CREATE_CONTAINER 9 | status is
 * not publishing (container not known FINISHED)       | POLL_CONTAINER 10 | publish_at > now
 * (scheduled, containers made early)           | WAIT 11 | otherwise | PUBLISH
 *
 * igraph_job_apply(step, outcome):
 *
 * step               | outcome                    | effect
 * -------------------+----------------------------+---------------------------------------------
 * CREATE_CHILD       | id                         | appended to children; after the last one the
 *                    |                            | poll schedule starts (anchor now, polls 0)
 * CREATE_CONTAINER   | id                         | creation_id, anchor now, polls 0
 * CREATE_*           | id (first container)       | processing, deadline = now + publish_timeout
 * POLL_*, CHECK      | FINISHED                   | child: ready++, next child at once; container:
 *                    |                            | publishing, publish_sent 0, PUBLISH at once
 *                    |                            | (or at publish_at); CHECK after a RESTRICTED
 *                    |                            | publish: failed account_restricted
 *                    | IN_PROGRESS, or NOT_READY  | polls++, next poll per schedule (never past
 *                    | error                      | deadline); at/after deadline: failed timeout
 *                    | ERROR                      | failed media_error, status text and subcode
 *                    | EXPIRED                    | failed container_expired (not re-created: it
 *                    |                            | only happens after 24 h, resubmitting is
 * clearer) | PUBLISHED                  | container: published, media_id "" (Meta links | | no
 * media id to a container), no read back; |                            | child: failed graph_error
 *                    | other / missing            | as a server error (transient)
 * PUBLISH            | id                         | published, media_id, READ_BACK at once
 *                    | NOT_READY                  | processing, publish_sent 0, poll again
 *                    | TRANSPORT, SERVER, RETRY   | publish_sent stays 1: CHECK next (backoff)
 *                    | RESTRICTED                 | publish_sent 1, CHECK next (4/2207051 has
 *                    |                            | coincided with a live post), then failed
 *                    | any other error            | publish_sent 0, then the common rules below
 * READ_BACK          | ok                         | permalink (or ""), DONE
 *                    | any error (not rate limit) | attempts++; after 3, DONE without permalink
 * any                | RATE_LIMIT                 | next = now + max(retry_after,
 * rate_limit_delay); |                            | attempts unchanged (the caller may pause the |
 * | whole account until then) | REAUTH                     | failed token_invalid | PERMISSION |
 * failed permission_missing | QUOTA                      | scheduled job (publish_at set) within 24
 * h of |                            | publish_at: retry after quota_retry; else | | failed
 * quota_exhausted | RESTRICTED                 | failed account_restricted | MEDIA | failed
 * media_error (2207020: container_expired) | INVALID                    | failed invalid_request |
 * OAUTH, PERMANENT           | failed graph_error | TRANSPORT, SERVER, RETRY   | attempts++; at
 * max_attempts failed |                            | graph_unavailable, else retry after backoff
 *
 * Success resets attempts. next_at is 0 exactly when the job is final, so "due" for the store is
 * next_at > 0 AND next_at <= now.
 */
igraph_step_e igraph_job_next(const igraph_job_t *j, apr_int64_t now)
{
    if (j->status == IGRAPH_JOB_FAILED || j->status == IGRAPH_JOB_CANCELLED) {
        return IGRAPH_STEP_DONE;
    }
    if (j->status == IGRAPH_JOB_PUBLISHED) {
        if (!igraph_job_readback_pending(j)) {
            return IGRAPH_STEP_DONE;
        }
        return j->next_at > now ? IGRAPH_STEP_WAIT : IGRAPH_STEP_READ_BACK;
    }
    if (j->next_at > now) {
        return IGRAPH_STEP_WAIT;
    }
    if (j->publish_sent) {
        return IGRAPH_STEP_CHECK_BEFORE_PUBLISH;
    }
    if (j->media_type == IGRAPH_MEDIA_CAROUSEL && !j->creation_id) {
        if (igraph_job_children_created(j) < j->n_children_expected) {
            return IGRAPH_STEP_CREATE_CHILD;
        }
        if (j->children_ready < j->n_children_expected) {
            return IGRAPH_STEP_POLL_CHILD;
        }
    }
    if (!j->creation_id || !*j->creation_id) {
        return IGRAPH_STEP_CREATE_CONTAINER;
    }
    if (j->status != IGRAPH_JOB_PUBLISHING) {
        return IGRAPH_STEP_POLL_CONTAINER;
    }
    if (j->publish_at > now) {
        return IGRAPH_STEP_WAIT;
    }
    return IGRAPH_STEP_PUBLISH;
}

int igraph_job_step_index(const igraph_job_t *j, igraph_step_e a)
{
    if (a == IGRAPH_STEP_CREATE_CHILD) {
        return igraph_job_children_created(j);
    }
    if (a == IGRAPH_STEP_POLL_CHILD) {
        return j->children_ready;
    }
    return -1;
}

const char *igraph_job_step_target(apr_pool_t *p, const igraph_job_t *j, igraph_step_e a)
{
    switch (a) {
    case IGRAPH_STEP_POLL_CHILD:
        return igraph_job_child_id(p, j, j->children_ready);
    case IGRAPH_STEP_POLL_CONTAINER:
    case IGRAPH_STEP_CHECK_BEFORE_PUBLISH:
    case IGRAPH_STEP_PUBLISH:
        return j->creation_id;
    case IGRAPH_STEP_READ_BACK:
        return j->media_id;
    default:
        return NULL;
    }
}

void igraph_job_begin_publish(igraph_job_t *j, apr_int64_t now)
{
    j->publish_sent = 1;
    j->updated_at = now;
}

int igraph_job_cancel(igraph_job_t *j, apr_int64_t now)
{
    if (j->publish_sent || (j->status != IGRAPH_JOB_QUEUED && j->status != IGRAPH_JOB_PROCESSING &&
                            j->status != IGRAPH_JOB_PUBLISHING)) {
        return 0;
    }
    j->status = IGRAPH_JOB_CANCELLED;
    j->next_at = 0;
    j->updated_at = now;
    return 1;
}

static void igraph_job_fail(apr_pool_t *p, igraph_job_t *j, const char *code, const char *message,
                            long subcode)
{
    j->status = IGRAPH_JOB_FAILED;
    j->error = code;
    j->error_message = message ? apr_pstrdup(p, message) : NULL;
    if (subcode) {
        j->error_subcode = subcode;
    }
    j->next_at = 0;
}

static void igraph_job_published(apr_pool_t *p, igraph_job_t *j, const char *media_id,
                                 apr_int64_t now)
{
    j->status = IGRAPH_JOB_PUBLISHED;
    j->media_id = apr_pstrdup(p, media_id ? media_id : "");
    j->error = NULL;
    j->error_message = NULL;
    j->error_subcode = 0;
    j->attempts = 0;
    j->next_at = igraph_job_readback_pending(j) ? now : 0;
}

/* Meta's words for a failed call: the user-facing text when there is one, else the message. */
static const char *igraph_job_gerr_text(apr_pool_t *p, const igraph_gerr_t *e)
{
    const char *m = e->message ? e->message : igraph_err_class_name(e->cls);

    if (e->user_msg && *e->user_msg && (!e->message || strcmp(e->user_msg, e->message))) {
        m = apr_pstrcat(p, m, ": ", e->user_msg, NULL);
    }
    if (e->code) {
        m = e->subcode ? apr_psprintf(p, "%s (code %ld/%ld)", m, e->code, e->subcode)
                       : apr_psprintf(p, "%s (code %ld)", m, e->code);
    }
    return m;
}

/* Still processing: schedule the next status poll, or give up at the deadline. */
static void igraph_job_poll_again(igraph_job_t *j, apr_int64_t now)
{
    apr_int64_t t;

    if (j->deadline && now >= j->deadline) {
        j->status = IGRAPH_JOB_FAILED;
        j->error = IGRAPH_JOB_E_TIMEOUT;
        j->error_message = "container not ready within the publish timeout";
        j->next_at = 0;
        return;
    }
    j->polls++;
    t = igraph_poll_next_at(j->container_created_at ? j->container_created_at : now, j->polls, now);
    /* the last look happens at the deadline, not one gap after it */
    if (j->deadline && t > j->deadline) {
        t = j->deadline;
    }
    j->next_at = t;
}

/* Transient failure of a step: retry after backoff, up to max_attempts. */
static void igraph_job_retry(apr_pool_t *p, igraph_job_t *j, igraph_step_e a,
                             const igraph_gerr_t *e, apr_int64_t now, const igraph_job_policy_t *po)
{
    j->attempts++;
    if (j->attempts >= po->max_attempts) {
        igraph_job_fail(
            p, j, IGRAPH_JOB_E_UNAVAILABLE,
            a == IGRAPH_STEP_CHECK_BEFORE_PUBLISH
                ? apr_pstrcat(p, "publish outcome unknown: ", igraph_job_gerr_text(p, e), NULL)
                : igraph_job_gerr_text(p, e),
            e->subcode);
        return;
    }
    j->next_at = now + igraph_job_backoff(po, j->attempts);
}

/* The common error rules (table above, "any" rows). */
static void igraph_job_error(apr_pool_t *p, igraph_job_t *j, igraph_step_e a,
                             const igraph_gerr_t *e, apr_int64_t now, const igraph_job_policy_t *po)
{
    apr_int64_t wait;

    switch (e->cls) {
    case IGRAPH_ERR_RATE_LIMIT:
        wait = e->retry_after > po->rate_limit_delay ? e->retry_after : po->rate_limit_delay;
        j->next_at = now + wait;
        return;
    case IGRAPH_ERR_NOT_READY:
        if (a == IGRAPH_STEP_POLL_CHILD || a == IGRAPH_STEP_POLL_CONTAINER ||
            a == IGRAPH_STEP_CHECK_BEFORE_PUBLISH) {
            igraph_job_poll_again(j, now);
            return;
        }
        igraph_job_retry(p, j, a, e, now, po);
        return;
    case IGRAPH_ERR_REAUTH:
        igraph_job_fail(p, j, IGRAPH_JOB_E_TOKEN, igraph_job_gerr_text(p, e), e->subcode);
        return;
    case IGRAPH_ERR_PERMISSION:
        igraph_job_fail(p, j, IGRAPH_JOB_E_PERMISSION, igraph_job_gerr_text(p, e), e->subcode);
        return;
    case IGRAPH_ERR_QUOTA:
        /* A scheduled job waits for the moving 24 h window to free a slot, but not beyond a day
         * after its time: its container would have expired anyway. */
        if (j->publish_at > 0 && now - j->publish_at < IGRAPH_JOB_CONTAINER_LIFE) {
            j->next_at = now + po->quota_retry;
            j->error_message = "publishing limit reached, retrying later";
            if (j->deadline) {
                j->deadline = j->next_at + po->publish_timeout; /* a fresh polling budget */
            }
            return;
        }
        igraph_job_fail(p, j, IGRAPH_JOB_E_QUOTA, igraph_job_gerr_text(p, e), e->subcode);
        return;
    case IGRAPH_ERR_RESTRICTED:
        igraph_job_fail(p, j, IGRAPH_JOB_E_RESTRICTED, igraph_job_gerr_text(p, e), e->subcode);
        return;
    case IGRAPH_ERR_MEDIA:
        igraph_job_fail(p, j, e->subcode == 2207020 ? IGRAPH_JOB_E_EXPIRED : IGRAPH_JOB_E_MEDIA,
                        igraph_job_gerr_text(p, e), e->subcode);
        return;
    case IGRAPH_ERR_INVALID:
        igraph_job_fail(p, j, IGRAPH_JOB_E_INVALID, igraph_job_gerr_text(p, e), e->subcode);
        return;
    case IGRAPH_ERR_TRANSPORT:
    case IGRAPH_ERR_SERVER:
    case IGRAPH_ERR_RETRY:
        igraph_job_retry(p, j, a, e, now, po);
        return;
    case IGRAPH_ERR_NONE:
    case IGRAPH_ERR_OAUTH:
    case IGRAPH_ERR_PERMANENT:
        break;
    }
    igraph_job_fail(p, j, IGRAPH_JOB_E_GRAPH, igraph_job_gerr_text(p, e), e->subcode);
}

/* A container status answer (POLL_CHILD, POLL_CONTAINER, CHECK_BEFORE_PUBLISH). */
static void igraph_job_status_answer(apr_pool_t *p, igraph_job_t *j, igraph_step_e a,
                                     const igraph_step_result_t *res, apr_int64_t now,
                                     const igraph_job_policy_t *po)
{
    const char *code = res->status_code ? res->status_code : "";
    igraph_gerr_t e;

    if (!strcmp(code, "FINISHED")) {
        if (a == IGRAPH_STEP_POLL_CHILD) {
            j->attempts = 0;
            j->children_ready++;
            j->next_at = now; /* the others were processing meanwhile */
            return;
        }
        j->publish_sent = 0; /* FINISHED, not PUBLISHED: an earlier publish did not happen */
        if (j->error && !strcmp(j->error, IGRAPH_JOB_E_RESTRICTED)) {
            /* the restricted publish did not go out: report it, do not try again */
            j->status = IGRAPH_JOB_FAILED;
            j->next_at = 0;
            return;
        }
        if (a == IGRAPH_STEP_CHECK_BEFORE_PUBLISH) {
            /* attempts still counts the failed publishes, which bounds publish-check loops */
            if (j->attempts >= po->max_attempts) {
                igraph_job_fail(p, j, IGRAPH_JOB_E_UNAVAILABLE,
                                "media_publish kept failing (not published)", 0);
                return;
            }
        }
        else {
            j->attempts = 0;
        }
        j->status = IGRAPH_JOB_PUBLISHING;
        j->next_at = j->publish_at > now ? j->publish_at : now;
        return;
    }
    if (!strcmp(code, "IN_PROGRESS")) {
        j->attempts = 0;
        if (a == IGRAPH_STEP_CHECK_BEFORE_PUBLISH) {
            j->publish_sent = 0;
            j->status = IGRAPH_JOB_PROCESSING;
        }
        igraph_job_poll_again(j, now);
        return;
    }
    if (!strcmp(code, "ERROR")) {
        igraph_job_fail(p, j, IGRAPH_JOB_E_MEDIA,
                        res->status_text ? res->status_text : "container processing failed",
                        igraph_status_error_subcode(res->status_text));
        return;
    }
    if (!strcmp(code, "EXPIRED")) {
        igraph_job_fail(p, j, IGRAPH_JOB_E_EXPIRED,
                        res->status_text ? res->status_text : "container expired", 0);
        return;
    }
    if (!strcmp(code, "PUBLISHED")) {
        if (a == IGRAPH_STEP_POLL_CHILD) {
            igraph_job_fail(p, j, IGRAPH_JOB_E_GRAPH, "carousel item reported as published", 0);
            return;
        }
        /* Published by our earlier media_publish whose answer was lost. Meta offers no link from
         * a container to its media, so media_id stays "" and there is nothing to read back. */
        igraph_job_published(p, j, "", now);
        return;
    }
    memset(&e, 0, sizeof(e));
    e.cls = IGRAPH_ERR_SERVER;
    e.message = apr_pstrcat(p, "unexpected container status \"", code, "\"", NULL);
    igraph_job_retry(p, j, a, &e, now, po);
}

void igraph_job_apply(apr_pool_t *p, igraph_job_t *j, igraph_step_e a,
                      const igraph_step_result_t *res, apr_int64_t now,
                      const igraph_job_policy_t *pol)
{
    igraph_job_policy_t po = igraph_job_policy(pol);
    const igraph_gerr_t *e = &res->err;

    if (igraph_job_is_final(j) || a == IGRAPH_STEP_WAIT || a == IGRAPH_STEP_DONE) {
        return;
    }
    j->updated_at = now;
    if ((a == IGRAPH_STEP_CREATE_CHILD || a == IGRAPH_STEP_CREATE_CONTAINER) && res->ok) {
        /* the polling budget starts with the first container, not with failed tries */
        if (j->status == IGRAPH_JOB_QUEUED) {
            j->status = IGRAPH_JOB_PROCESSING;
        }
        if (!j->deadline) {
            j->deadline = now + po.publish_timeout;
        }
    }

    if (a == IGRAPH_STEP_READ_BACK) {
        if (res->ok) {
            j->permalink = apr_pstrdup(p, res->permalink ? res->permalink : "");
            j->attempts = 0;
            j->next_at = 0;
        }
        else if (e->cls == IGRAPH_ERR_RATE_LIMIT) {
            igraph_job_error(p, j, a, e, now, &po);
        }
        else {
            /* the post is live whatever happens here: never fail it */
            j->attempts++;
            j->next_at = j->attempts >= IGRAPH_JOB_READBACK_TRIES
                             ? 0
                             : now + igraph_job_backoff(&po, j->attempts);
        }
        return;
    }

    if (a == IGRAPH_STEP_PUBLISH && !res->ok) {
        switch (e->cls) {
        case IGRAPH_ERR_TRANSPORT:
        case IGRAPH_ERR_SERVER:
        case IGRAPH_ERR_RETRY:
            /* No clear answer: the post may be live. Check the container before anything,
             * and never give up without that check (it fails the job if it must). */
            j->publish_sent = 1;
            j->attempts++;
            j->next_at = now + igraph_job_backoff(&po, j->attempts);
            return;
        case IGRAPH_ERR_RESTRICTED:
            j->publish_sent = 1;
            j->error = IGRAPH_JOB_E_RESTRICTED;
            j->error_message = igraph_job_gerr_text(p, e);
            j->error_subcode = e->subcode;
            j->next_at = now;
            return;
        case IGRAPH_ERR_NOT_READY:
            j->publish_sent = 0;
            j->status = IGRAPH_JOB_PROCESSING;
            igraph_job_poll_again(j, now);
            return;
        default:
            j->publish_sent = 0; /* Meta answered with an error: nothing was published */
            igraph_job_error(p, j, a, e, now, &po);
            return;
        }
    }

    if (!res->ok) {
        igraph_job_error(p, j, a, e, now, &po);
        return;
    }

    switch (a) {
    case IGRAPH_STEP_CREATE_CHILD:
        j->attempts = 0;
        j->children = (j->children && *j->children)
                          ? apr_pstrcat(p, j->children, ",", res->id ? res->id : "", NULL)
                          : apr_pstrdup(p, res->id ? res->id : "");
        if (igraph_job_children_created(j) >= j->n_children_expected) {
            /* the children process in parallel: one schedule for all of them */
            j->container_created_at = now;
            j->polls = 0;
            j->next_at = igraph_poll_next_at(now, 0, now);
        }
        else {
            j->next_at = now;
        }
        return;
    case IGRAPH_STEP_CREATE_CONTAINER:
        j->attempts = 0;
        j->creation_id = apr_pstrdup(p, res->id ? res->id : "");
        j->container_created_at = now;
        j->polls = 0;
        j->next_at = igraph_poll_next_at(now, 0, now);
        return;
    case IGRAPH_STEP_POLL_CHILD:
    case IGRAPH_STEP_POLL_CONTAINER:
    case IGRAPH_STEP_CHECK_BEFORE_PUBLISH:
        igraph_job_status_answer(p, j, a, res, now, &po);
        return;
    case IGRAPH_STEP_PUBLISH:
        j->publish_sent = 1; /* stays: media_publish was sent (history) */
        igraph_job_published(p, j, res->id, now);
        return;
    default:
        return;
    }
}

/* ---- caption rules --------------------------------------------------------------------------- */

static int igraph_is_word(unsigned char c)
{
    return apr_isalnum(c) || c == '_';
}

/* A hashtag or mention may start here: not glued to a preceding word (so "a@b.c" is an e-mail
 * and "x#1" no hashtag). Non-ASCII bytes (emoji, accents) do not glue. */
static int igraph_tag_start(const unsigned char *s, const unsigned char *at)
{
    return at == s || !igraph_is_word(at[-1]);
}

apr_status_t igraph_caption_count(const char *caption, apr_size_t *chars, int *hashtags,
                                  int *mentions)
{
    const unsigned char *s = (const unsigned char *)caption, *c;
    apr_size_t n = 0;
    int h = 0, m = 0;

    if (caption && !igraph_is_utf8(caption, strlen(caption))) {
        return APR_EINVAL;
    }
    for (c = s; c && *c; c++) {
        if ((*c & 0xC0) != 0x80) {
            n++;
        }
        if (*c == '#' && igraph_tag_start(s, c) && (igraph_is_word(c[1]) || c[1] >= 0x80)) {
            h++;
        }
        else if (*c == '@' && igraph_tag_start(s, c) && (igraph_is_word(c[1]) || c[1] == '.')) {
            m++;
        }
    }
    if (chars) {
        *chars = n;
    }
    if (hashtags) {
        *hashtags = h;
    }
    if (mentions) {
        *mentions = m;
    }
    return APR_SUCCESS;
}

/* A "#ad" hashtag, any case, as a whole word. */
static int igraph_caption_has_ad(const char *caption)
{
    const unsigned char *s = (const unsigned char *)caption, *c;

    for (c = s; *c; c++) {
        if (c[0] == '#' && igraph_tag_start(s, c) && apr_tolower(c[1]) == 'a' &&
            apr_tolower(c[2]) == 'd' && !igraph_is_word(c[3]) && c[3] < 0x80) {
            return 1;
        }
    }
    return 0;
}

/* host equals an entry of the comma list, or ends with "." + entry ("*.x" and ".x" work too). */
static int igraph_host_listed(apr_pool_t *p, const char *host, const char *list)
{
    apr_array_header_t *items;
    apr_size_t hn = strlen(host), en;
    const char *h;
    int i;

    if (!list || !*list || !hn) {
        return 0;
    }
    items = igraph_split_csv(p, list);
    for (i = 0; items && i < items->nelts; i++) {
        h = APR_ARRAY_IDX(items, i, const char *);
        while (*h == '*' || *h == '.') {
            h++;
        }
        en = strlen(h);
        if (!en || en > hn) {
            continue;
        }
        if (!strcasecmp(host + hn - en, h) && (en == hn || host[hn - en - 1] == '.')) {
            return 1;
        }
    }
    return 0;
}

/* Query parameters that mark affiliate links (Amazon "tag", Impact "irclickid", ...). */
static int igraph_query_affiliate(apr_pool_t *p, const char *q, apr_size_t len)
{
    static const char *const keys[] = {"tag", "aff",       "aff_id", "affiliate",
                                       "ref", "irclickid", "clickid"};
    char *copy = apr_pstrmemdup(p, q, len), *pair, *last, *eq;
    apr_size_t i;

    for (pair = apr_strtok(copy, "&;", &last); pair; pair = apr_strtok(NULL, "&;", &last)) {
        eq = strchr(pair, '=');
        if (eq) {
            *eq = '\0';
        }
        for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
            if (!strcasecmp(pair, keys[i])) {
                return 1;
            }
        }
        if (eq && !strcasecmp(pair, "utm_medium") && !strncasecmp(eq + 1, "affiliate", 9) &&
            (eq[10] == '\0' || eq[10] == '#')) {
            return 1;
        }
    }
    return 0;
}

/* One candidate link (a whitespace-delimited token, outer punctuation trimmed): with a scheme,
 * or a bare "host.tld/..." / "host.tld?..." (or a bare listed host). */
static int igraph_link_affiliate(apr_pool_t *p, const char *tok, apr_size_t len, const char *hosts)
{
    const char *h, *end = tok + len, *hend, *q, *at;
    int scheme = 0;
    char *host;

    if (len > 7 && !strncasecmp(tok, "http://", 7)) {
        h = tok + 7;
        scheme = 1;
    }
    else if (len > 8 && !strncasecmp(tok, "https://", 8)) {
        h = tok + 8;
        scheme = 1;
    }
    else {
        h = tok;
    }
    hend = h;
    while (hend < end && *hend != '/' && *hend != '?' && *hend != '#') {
        hend++;
    }
    at = memchr(h, '@', (apr_size_t)(hend - h));
    if (at) {
        if (!scheme) {
            return 0; /* "me@example.com" is an address, not a link */
        }
        h = at + 1;
    }
    host = apr_pstrmemdup(p, h, (apr_size_t)(hend - h));
    if (strchr(host, ':')) {
        *strchr(host, ':') = '\0';
    }
    if (!scheme) {
        /* a bare word counts only when it looks like a domain */
        const char *c;
        if (!strchr(host, '.') || host[0] == '.' || host[strlen(host) - 1] == '.') {
            return 0;
        }
        for (c = host; *c; c++) {
            if (!apr_isalnum(*c) && *c != '-' && *c != '.') {
                return 0;
            }
        }
    }
    if (igraph_host_listed(p, host, hosts)) {
        return 1;
    }
    q = memchr(hend, '?', (apr_size_t)(end - hend));
    if (q) {
        const char *qe = memchr(q, '#', (apr_size_t)(end - q));
        return igraph_query_affiliate(p, q + 1, (apr_size_t)((qe ? qe : end) - q - 1));
    }
    return 0;
}

static int igraph_caption_has_affiliate(apr_pool_t *p, const char *caption, const char *hosts)
{
    const char *s = caption, *start;
    apr_size_t len;

    while (*s) {
        while (*s && (apr_isspace(*s) || strchr("()<>\"'[]{}", *s))) {
            s++;
        }
        start = s;
        while (*s && !apr_isspace(*s) && !strchr("<>\"'", *s)) {
            s++;
        }
        len = (apr_size_t)(s - start);
        /* trailing punctuation belongs to the sentence, not the link */
        while (len > 0 && strchr(".,;:!?)]}", start[len - 1])) {
            len--;
        }
        if (len > 0 && igraph_link_affiliate(p, start, len, hosts)) {
            return 1;
        }
    }
    return 0;
}

const char *igraph_caption_attribute(apr_pool_t *p, const char *caption,
                                     const char *affiliate_hosts)
{
    if (!caption || !*caption || igraph_caption_has_ad(caption) ||
        !igraph_caption_has_affiliate(p, caption, affiliate_hosts)) {
        return caption;
    }
    return apr_pstrcat(p, caption, " #ad", NULL);
}

int igraph_compliance_check(apr_pool_t *p, double risk, const char *license, double max_risk,
                            int require_license, const char **reason)
{
    const char *l = license;
    apr_size_t n;

    *reason = NULL;
    if (risk >= 0 && risk >= max_risk) {
        char buf[64];
        /* libc's %g: APR's drops the leading zero ("risk .3 >= .2") */
        snprintf(buf, sizeof(buf), "risk %g >= %g", risk, max_risk);
        *reason = apr_pstrdup(p, buf);
        return 1;
    }
    while (l && apr_isspace(*l)) {
        l++;
    }
    n = l ? strlen(l) : 0;
    while (n > 0 && apr_isspace(l[n - 1])) {
        n--;
    }
    if (n == 7 && !strncasecmp(l, "unknown", 7)) {
        *reason = "license unknown";
        return 1;
    }
    if (require_license && n == 0) {
        *reason = "license missing";
        return 1;
    }
    return 0;
}

const char *igraph_media_error_hint(long subcode)
{
    switch (subcode) {
    case 2207026:
        return "unsupported video format: use H.264/AAC MP4 with the moov atom first";
    case 2207052:
    case 2207076:
    case 2207077:
        return "Meta could not fetch the media: public URL, no robots block, Range support";
    case 2207003:
        return "media download timed out";
    case 2207004:
        return "image larger than 8 MiB";
    case 2207005:
        return "image format not supported: use JPEG";
    case 2207009:
        return "aspect ratio outside 4:5 to 1.91:1";
    case 2207010:
        return "caption too long, or too many hashtags or mentions";
    case 2207020:
        return "container expired (24 h): publish again";
    case 2207042:
        return "publishing limit reached for the last 24 hours";
    case 2207050:
    case 2207051:
        return "account restricted: check the Instagram app";
    case 2207057:
        return "thumb_offset is outside the video";
    case 2207082:
    case 2207085:
        return "video processing failed: re-encode the video";
    default:
        return NULL;
    }
}

/* ---- publish requests ------------------------------------------------------------------------ */

typedef struct igraph_pv_t {
    apr_pool_t *p;
    json_t *root;
    const char *field, *msg;
} igraph_pv_t;

static apr_status_t igraph_pv_fail(igraph_pv_t *v, const char *field, const char *msg)
{
    v->field = field;
    v->msg = msg;
    return APR_EINVAL;
}

/* The value of key, NULL when absent or JSON null. */
static json_t *igraph_pv_get(igraph_pv_t *v, const char *key)
{
    json_t *x = json_object_get(v->root, key);
    return json_is_null(x) ? NULL : x;
}

/* Printable text: valid UTF-8 (jansson guarantees it), no control characters but \n and \t. */
static int igraph_pv_text_ok(const char *s, int allow_newlines)
{
    const unsigned char *c;

    for (c = (const unsigned char *)s; *c; c++) {
        if ((*c < 0x20 && !(allow_newlines && (*c == '\n' || *c == '\t' || *c == '\r'))) ||
            *c == 0x7f) {
            return 0;
        }
    }
    return 1;
}

static apr_size_t igraph_utf8_chars(const char *s)
{
    apr_size_t n = 0;

    for (; *s; s++) {
        if (((unsigned char)*s & 0xC0) != 0x80) {
            n++;
        }
    }
    return n;
}

/* Optional string field; *out NULL when absent. */
static apr_status_t igraph_pv_str(igraph_pv_t *v, const char *key, const char **out)
{
    json_t *x = igraph_pv_get(v, key);

    *out = NULL;
    if (!x) {
        return APR_SUCCESS;
    }
    if (!json_is_string(x)) {
        return igraph_pv_fail(v, key, "must be a string");
    }
    *out = apr_pstrdup(v->p, json_string_value(x));
    if (strlen(*out) != json_string_length(x)) {
        return igraph_pv_fail(v, key, "must not contain NUL characters");
    }
    return APR_SUCCESS;
}

static apr_status_t igraph_pv_url_check(igraph_pv_t *v, const char *field, const char *url)
{
    if (strlen(url) > IGRAPH_URL_MAX) {
        return igraph_pv_fail(v, field, "URL longer than 2048 characters");
    }
    if (!igraph_is_http_url(url)) {
        return igraph_pv_fail(v, field, "must be an absolute http(s) URL");
    }
    return APR_SUCCESS;
}

static apr_status_t igraph_pv_url(igraph_pv_t *v, const char *key, const char **out)
{
    apr_status_t rv = igraph_pv_str(v, key, out);

    if (rv != APR_SUCCESS || !*out) {
        return rv;
    }
    return igraph_pv_url_check(v, key, *out);
}

/* An integer (or an integral real). */
static int igraph_pv_int(json_t *x, apr_int64_t *out)
{
    double d;

    if (json_is_integer(x)) {
        *out = (apr_int64_t)json_integer_value(x);
        return 1;
    }
    if (json_is_real(x)) {
        d = json_real_value(x);
        if (d >= -9e15 && d <= 9e15 && d == (double)(apr_int64_t)d) {
            *out = (apr_int64_t)d;
            return 1;
        }
    }
    return 0;
}

/* Instagram usernames: 1..30 of [A-Za-z0-9._]; a leading '@' is dropped. NULL when invalid. */
static const char *igraph_pv_username(apr_pool_t *p, const char *s)
{
    apr_size_t n, i;

    if (*s == '@') {
        s++;
    }
    n = strlen(s);
    if (n < 1 || n > IGRAPH_USERNAME_MAX) {
        return NULL;
    }
    for (i = 0; i < n; i++) {
        if (!apr_isalnum(s[i]) && s[i] != '.' && s[i] != '_') {
            return NULL;
        }
    }
    return apr_pstrdup(p, s);
}

static char *igraph_pv_dump(apr_pool_t *p, json_t *x)
{
    char *s = json_dumps(x, JSON_COMPACT | JSON_REAL_PRECISION(6)), *r;

    if (!s) {
        return NULL;
    }
    r = apr_pstrdup(p, s);
    free(s);
    return r;
}

static int igraph_days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static apr_int64_t igraph_days_from_civil(int y, int m, int d)
{
    apr_int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* n digits at s -> *out; 0 when they are not all digits. */
static int igraph_digits_n(const char *s, int n, int *out)
{
    int i, v = 0;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 1;
}

/* "YYYY-MM-DDTHH:MM[:SS[.fff]]" + "Z" | "+hh:mm" | "-hh:mm" | "+hhmm" -> unix seconds. */
static apr_status_t igraph_parse_iso8601(const char *s, apr_int64_t *out)
{
    int y, mo, d, h, mi, sec = 0, oh = 0, om = 0, sign = 0;
    const char *c;

    if (strlen(s) < 17 || !igraph_digits_n(s, 4, &y) || s[4] != '-' ||
        !igraph_digits_n(s + 5, 2, &mo) || s[7] != '-' || !igraph_digits_n(s + 8, 2, &d) ||
        (s[10] != 'T' && s[10] != 't') || !igraph_digits_n(s + 11, 2, &h) || s[13] != ':' ||
        !igraph_digits_n(s + 14, 2, &mi)) {
        return APR_EINVAL;
    }
    c = s + 16;
    if (*c == ':') {
        if (!igraph_digits_n(c + 1, 2, &sec)) {
            return APR_EINVAL;
        }
        c += 3;
        if (*c == '.') {
            c++;
            if (*c < '0' || *c > '9') {
                return APR_EINVAL;
            }
            while (*c >= '0' && *c <= '9') {
                c++; /* fractions are dropped */
            }
        }
    }
    if (*c == 'Z' || *c == 'z') {
        c++;
    }
    else if (*c == '+' || *c == '-') {
        sign = *c == '+' ? 1 : -1;
        if (!igraph_digits_n(c + 1, 2, &oh)) {
            return APR_EINVAL;
        }
        c += 3;
        if (*c == ':') {
            c++;
        }
        if (!igraph_digits_n(c, 2, &om)) {
            return APR_EINVAL;
        }
        c += 2;
    }
    else {
        return APR_EINVAL; /* a time without a zone is ambiguous */
    }
    if (*c != '\0' || y < 1970 || mo < 1 || mo > 12 || d < 1 || d > igraph_days_in_month(y, mo) ||
        h > 23 || mi > 59 || sec > 59 || oh > 23 || om > 59) {
        return APR_EINVAL;
    }
    *out = igraph_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec -
           sign * (oh * 3600 + om * 60);
    return APR_SUCCESS;
}

static apr_status_t igraph_pv_caption(igraph_pv_t *v, const igraph_publish_rules_t *rules,
                                      igraph_publish_req_t *out)
{
    const char *c, *final;
    apr_size_t chars;
    int tags, mentions;
    apr_status_t rv;

    if ((rv = igraph_pv_str(v, "caption", &c)) != APR_SUCCESS || !c) {
        return rv;
    }
    if (igraph_caption_count(c, &chars, &tags, &mentions) != APR_SUCCESS) {
        return igraph_pv_fail(v, "caption", "must be valid UTF-8");
    }
    if (!igraph_pv_text_ok(c, 1)) {
        return igraph_pv_fail(v, "caption", "must not contain control characters");
    }
    if (chars > IGRAPH_CAPTION_MAX) {
        return igraph_pv_fail(v, "caption", "longer than 2200 characters");
    }
    if (tags > IGRAPH_HASHTAGS_MAX) {
        return igraph_pv_fail(v, "caption", "more than 30 hashtags");
    }
    if (mentions > IGRAPH_MENTIONS_MAX) {
        return igraph_pv_fail(v, "caption", "more than 20 @mentions");
    }
    final = igraph_caption_attribute(v->p, c, rules->affiliate_hosts);
    if (final != c) {
        igraph_caption_count(final, &chars, &tags, &mentions);
        if (chars > IGRAPH_CAPTION_MAX) {
            return igraph_pv_fail(v, "caption",
                                  "affiliate link: no room for the required \" #ad\" "
                                  "within 2200 characters");
        }
        if (tags > IGRAPH_HASHTAGS_MAX) {
            return igraph_pv_fail(v, "caption",
                                  "affiliate link: no room for the required #ad "
                                  "within 30 hashtags");
        }
        out->caption_attributed = 1;
    }
    out->caption = final;
    return APR_SUCCESS;
}

static apr_status_t igraph_pv_account(igraph_pv_t *v, igraph_publish_req_t *out)
{
    json_t *x = igraph_pv_get(v, "account");
    apr_int64_t id;
    const char *s;

    if (!x) {
        return APR_SUCCESS;
    }
    if (igraph_pv_int(x, &id)) {
        if (id <= 0) {
            return igraph_pv_fail(v, "account", "must be a positive id or \"@username\"");
        }
        out->account_id = id;
        out->account_ref = apr_psprintf(v->p, "%" APR_INT64_T_FMT, id);
        return APR_SUCCESS;
    }
    if (!json_is_string(x)) {
        return igraph_pv_fail(v, "account", "must be an id or \"@username\"");
    }
    s = json_string_value(x);
    if (*s != '@' && igraph_is_numeric_id(s)) {
        /* too long for one of our ids: can only be an Instagram user id (account_ref) */
        if (strlen(s) <= 18 && igraph_parse_int64(s, &id) == APR_SUCCESS && id > 0) {
            out->account_id = id;
        }
        out->account_ref = apr_pstrdup(v->p, s);
        return APR_SUCCESS;
    }
    if (!(out->account_username = igraph_pv_username(v->p, s))) {
        return igraph_pv_fail(v, "account", "must be an id or \"@username\"");
    }
    out->account_ref = out->account_username;
    return APR_SUCCESS;
}

static apr_status_t igraph_pv_children(igraph_pv_t *v, igraph_publish_req_t *out)
{
    json_t *arr = igraph_pv_get(v, "children"), *item, *iv, *vv, *mt;
    igraph_publish_child_t *ch;
    const char *f, *t;
    apr_size_t i, n;
    apr_status_t rv;

    if (!arr) {
        return igraph_pv_fail(v, "children", "CAROUSEL needs 2 to 10 children");
    }
    if (!json_is_array(arr)) {
        return igraph_pv_fail(v, "children", "must be an array");
    }
    n = json_array_size(arr);
    if (n < IGRAPH_CAROUSEL_MIN || n > IGRAPH_CAROUSEL_MAX) {
        return igraph_pv_fail(v, "children", "CAROUSEL needs 2 to 10 children");
    }
    out->children = apr_array_make(v->p, (int)n, sizeof(igraph_publish_child_t));
    for (i = 0; i < n; i++) {
        item = json_array_get(arr, i);
        f = apr_psprintf(v->p, "children[%" APR_SIZE_T_FMT "]", i);
        if (!json_is_object(item)) {
            return igraph_pv_fail(v, f, "must be an object");
        }
        iv = json_object_get(item, "image_url");
        vv = json_object_get(item, "video_url");
        iv = json_is_null(iv) ? NULL : iv;
        vv = json_is_null(vv) ? NULL : vv;
        if ((iv && vv) || (!iv && !vv)) {
            return igraph_pv_fail(v, f, "needs exactly one of image_url and video_url");
        }
        f = apr_pstrcat(v->p, f, iv ? ".image_url" : ".video_url", NULL);
        if (!json_is_string(iv ? iv : vv)) {
            return igraph_pv_fail(v, f, "must be a string");
        }
        ch = &APR_ARRAY_PUSH(out->children, igraph_publish_child_t);
        ch->video = vv != NULL;
        ch->url = apr_pstrdup(v->p, json_string_value(iv ? iv : vv));
        if ((rv = igraph_pv_url_check(v, f, ch->url)) != APR_SUCCESS) {
            return rv;
        }
        mt = json_object_get(item, "media_type");
        if (mt && !json_is_null(mt)) {
            f = apr_psprintf(v->p, "children[%" APR_SIZE_T_FMT "].media_type", i);
            if (!json_is_string(mt)) {
                return igraph_pv_fail(v, f, "must be a string");
            }
            t = json_string_value(mt);
            if (strcasecmp(t, "IMAGE") && strcasecmp(t, "VIDEO")) {
                return igraph_pv_fail(v, f, "must be IMAGE or VIDEO");
            }
            if ((strcasecmp(t, "VIDEO") == 0) != ch->video) {
                return igraph_pv_fail(v, f, "does not match the URL given");
            }
        }
    }
    return APR_SUCCESS;
}

static apr_status_t igraph_pv_collaborators(igraph_pv_t *v, igraph_publish_req_t *out)
{
    json_t *arr = igraph_pv_get(v, "collaborators"), *list, *e;
    const char *u;
    apr_size_t i;

    if (!arr) {
        return APR_SUCCESS;
    }
    if (!json_is_array(arr)) {
        return igraph_pv_fail(v, "collaborators", "must be an array of usernames");
    }
    if (json_array_size(arr) > IGRAPH_COLLABORATORS_MAX) {
        return igraph_pv_fail(v, "collaborators", "at most 3 collaborators");
    }
    if (json_array_size(arr) == 0) {
        return APR_SUCCESS;
    }
    list = json_array();
    json_array_foreach(arr, i, e)
    {
        if (!json_is_string(e) || !(u = igraph_pv_username(v->p, json_string_value(e)))) {
            json_decref(list);
            return igraph_pv_fail(v, "collaborators", "must be an array of usernames");
        }
        json_array_append_new(list, json_string(u));
    }
    out->collaborators = igraph_pv_dump(v->p, list);
    json_decref(list);
    return APR_SUCCESS;
}

static int igraph_pv_unit(json_t *x, double *out)
{
    if (!json_is_number(x)) {
        return 0;
    }
    *out = json_number_value(x);
    return *out >= 0.0 && *out <= 1.0;
}

static apr_status_t igraph_pv_user_tags(igraph_pv_t *v, igraph_publish_req_t *out)
{
    json_t *arr = igraph_pv_get(v, "user_tags"), *list, *e, *o, *xv, *yv, *un;
    const char *u, *why = NULL;
    double x = 0, y = 0;
    apr_size_t i;

    if (!arr) {
        return APR_SUCCESS;
    }
    if (!json_is_array(arr)) {
        return igraph_pv_fail(v, "user_tags", "must be an array of {username, x, y}");
    }
    if (json_array_size(arr) > IGRAPH_USER_TAGS_MAX) {
        return igraph_pv_fail(v, "user_tags", "at most 20 tags");
    }
    if (json_array_size(arr) == 0) {
        return APR_SUCCESS;
    }
    list = json_array();
    json_array_foreach(arr, i, e)
    {
        un = json_object_get(e, "username");
        xv = json_object_get(e, "x");
        yv = json_object_get(e, "y");
        xv = json_is_null(xv) ? NULL : xv;
        yv = json_is_null(yv) ? NULL : yv;
        if (!json_is_object(e) || !json_is_string(un) ||
            !(u = igraph_pv_username(v->p, json_string_value(un)))) {
            why = "each tag needs a username";
        }
        else if ((xv && !igraph_pv_unit(xv, &x)) || (yv && !igraph_pv_unit(yv, &y))) {
            why = "x and y must be numbers from 0 to 1";
        }
        else if (!xv != !yv || (!xv && out->media_type == IGRAPH_MEDIA_IMAGE)) {
            why = "x and y are required together (and always for images)";
        }
        if (why) {
            json_decref(list);
            return igraph_pv_fail(v, apr_psprintf(v->p, "user_tags[%" APR_SIZE_T_FMT "]", i), why);
        }
        o = json_object();
        json_object_set_new(o, "username", json_string(u));
        if (xv) {
            json_object_set_new(o, "x", json_real(x));
            json_object_set_new(o, "y", json_real(y));
        }
        json_array_append_new(list, o);
    }
    out->user_tags = igraph_pv_dump(v->p, list);
    json_decref(list);
    return APR_SUCCESS;
}

/* The media URLs each type needs. */
static apr_status_t igraph_pv_media(igraph_pv_t *v, igraph_publish_req_t *out)
{
    json_t *children = igraph_pv_get(v, "children");

    if (out->media_type != IGRAPH_MEDIA_CAROUSEL && children) {
        return igraph_pv_fail(v, "children", "only for CAROUSEL");
    }
    switch (out->media_type) {
    case IGRAPH_MEDIA_REELS:
        if (out->image_url) {
            return igraph_pv_fail(v, "image_url", "REELS takes a video_url");
        }
        if (!out->video_url) {
            return igraph_pv_fail(v, "video_url", "required for REELS");
        }
        return APR_SUCCESS;
    case IGRAPH_MEDIA_IMAGE:
        if (out->video_url) {
            return igraph_pv_fail(v, "video_url", "IMAGE takes an image_url");
        }
        if (!out->image_url) {
            return igraph_pv_fail(v, "image_url", "required for IMAGE");
        }
        return APR_SUCCESS;
    case IGRAPH_MEDIA_STORIES:
        if (out->video_url && out->image_url) {
            return igraph_pv_fail(v, "video_url", "STORIES takes one of video_url and image_url");
        }
        if (!out->video_url && !out->image_url) {
            return igraph_pv_fail(v, "image_url", "STORIES needs an image_url or a video_url");
        }
        return APR_SUCCESS;
    case IGRAPH_MEDIA_CAROUSEL:
        if (out->video_url || out->image_url) {
            return igraph_pv_fail(v, out->video_url ? "video_url" : "image_url",
                                  "CAROUSEL takes its media in children");
        }
        return igraph_pv_children(v, out);
    case IGRAPH_MEDIA_NONE:
        break;
    }
    return igraph_pv_fail(v, "media_type", "must be REELS, IMAGE, STORIES or CAROUSEL");
}

int igraph_is_idempotency_key(const char *key)
{
    const char *c = key;
    while (*c >= 0x20 && *c < 0x7f) {
        c++;
    }
    return *key && !*c && c - key <= IGRAPH_IDEMPOTENCY_MAX;
}

apr_status_t igraph_publish_validate(apr_pool_t *p, const igraph_json_t *body,
                                     const igraph_publish_rules_t *rules, igraph_publish_req_t *out,
                                     const char **field, const char **msg)
{
    igraph_pv_t v;
    json_t *x;
    const char *s;
    apr_int64_t n, max_ahead;
    apr_status_t rv;

    memset(out, 0, sizeof(*out));
    out->share_to_feed = -1;
    out->thumb_offset = -1;
    out->risk = -1;
    out->wait = rules->default_wait;
    *field = NULL;
    *msg = NULL;
    memset(&v, 0, sizeof(v));
    v.p = p;
    v.root = igraph_json_raw(body);
    if (!json_is_object(v.root)) {
        rv = igraph_pv_fail(&v, "body", "must be a JSON object");
        goto leave;
    }

    if ((rv = igraph_pv_account(&v, out)) != APR_SUCCESS) {
        goto leave;
    }
    if ((rv = igraph_pv_str(&v, "media_type", &s)) != APR_SUCCESS) {
        goto leave;
    }
    out->media_type = s ? igraph_media_parse(s) : rules->default_media_type;
    if (out->media_type == IGRAPH_MEDIA_NONE) {
        rv = igraph_pv_fail(&v, "media_type",
                            s ? "must be REELS, IMAGE, STORIES or CAROUSEL" : "required");
        goto leave;
    }
    if ((rv = igraph_pv_url(&v, "video_url", &out->video_url)) != APR_SUCCESS ||
        (rv = igraph_pv_url(&v, "image_url", &out->image_url)) != APR_SUCCESS ||
        (rv = igraph_pv_media(&v, out)) != APR_SUCCESS ||
        (rv = igraph_pv_caption(&v, rules, out)) != APR_SUCCESS) {
        goto leave;
    }

    if ((x = igraph_pv_get(&v, "share_to_feed")) != NULL) {
        if (!json_is_boolean(x)) {
            rv = igraph_pv_fail(&v, "share_to_feed", "must be true or false");
            goto leave;
        }
        out->share_to_feed = json_is_true(x);
    }
    if ((rv = igraph_pv_url(&v, "cover_url", &out->cover_url)) != APR_SUCCESS) {
        goto leave;
    }
    if ((x = igraph_pv_get(&v, "thumb_offset")) != NULL) {
        if (!igraph_pv_int(x, &n) || n < 0 || n > IGRAPH_THUMB_OFFSET_MAX) {
            rv = igraph_pv_fail(&v, "thumb_offset", "must be a whole number of ms >= 0");
            goto leave;
        }
        out->thumb_offset = n;
    }
    if ((rv = igraph_pv_str(&v, "audio_name", &out->audio_name)) != APR_SUCCESS) {
        goto leave;
    }
    if (out->audio_name && (igraph_utf8_chars(out->audio_name) > IGRAPH_AUDIO_NAME_MAX ||
                            !igraph_pv_text_ok(out->audio_name, 0))) {
        rv = igraph_pv_fail(&v, "audio_name", "at most 100 characters, no control characters");
        goto leave;
    }
    if ((rv = igraph_pv_collaborators(&v, out)) != APR_SUCCESS) {
        goto leave;
    }
    if ((x = igraph_pv_get(&v, "location_id")) != NULL) {
        if (igraph_pv_int(x, &n) && n > 0) {
            out->location_id = apr_psprintf(p, "%" APR_INT64_T_FMT, n);
        }
        else if (json_is_string(x) && igraph_is_numeric_id(json_string_value(x))) {
            out->location_id = apr_pstrdup(p, json_string_value(x));
        }
        else {
            rv = igraph_pv_fail(&v, "location_id", "must be a numeric Page id");
            goto leave;
        }
    }
    if ((rv = igraph_pv_user_tags(&v, out)) != APR_SUCCESS) {
        goto leave;
    }

    if ((rv = igraph_pv_str(&v, "publish_at", &s)) != APR_SUCCESS) {
        goto leave;
    }
    if (s) {
        max_ahead = rules->max_schedule > 0 ? rules->max_schedule : IGRAPH_SCHEDULE_MAX;
        if (igraph_parse_iso8601(s, &n) != APR_SUCCESS) {
            rv = igraph_pv_fail(&v, "publish_at",
                                "must be ISO 8601 with a zone, e.g. 2026-11-25T13:05:00Z");
            goto leave;
        }
        if (n <= rules->now) {
            rv = igraph_pv_fail(&v, "publish_at", "must be in the future");
            goto leave;
        }
        if (n - rules->now > max_ahead) {
            rv = igraph_pv_fail(&v, "publish_at", "at most 75 days ahead");
            goto leave;
        }
        out->publish_at = n;
    }
    if ((x = igraph_pv_get(&v, "wait")) != NULL) {
        if (!igraph_pv_int(x, &n) || n < 0 || n > rules->max_wait) {
            rv = igraph_pv_fail(
                &v, "wait",
                apr_psprintf(p, "must be a whole number of seconds, 0 to %" APR_INT64_T_FMT,
                             rules->max_wait));
            goto leave;
        }
        out->wait = n;
    }
    if ((rv = igraph_pv_str(&v, "idempotency_key", &out->idempotency_key)) != APR_SUCCESS) {
        goto leave;
    }
    if (out->idempotency_key && !igraph_is_idempotency_key(out->idempotency_key)) {
        rv = igraph_pv_fail(&v, "idempotency_key", IGRAPH_IDEMPOTENCY_RULE);
        goto leave;
    }
    if ((x = igraph_pv_get(&v, "risk")) != NULL) {
        if (!igraph_pv_unit(x, &out->risk)) {
            rv = igraph_pv_fail(&v, "risk", "must be a number from 0 to 1");
            goto leave;
        }
    }
    if ((rv = igraph_pv_str(&v, "license", &out->license)) != APR_SUCCESS) {
        goto leave;
    }
    if (out->license &&
        (strlen(out->license) > IGRAPH_LICENSE_MAX || !igraph_pv_text_ok(out->license, 0))) {
        rv = igraph_pv_fail(&v, "license", "at most 200 characters, no control characters");
        goto leave;
    }
    rv = APR_SUCCESS;

leave:
    if (rv != APR_SUCCESS) {
        *field = v.field;
        *msg = v.msg;
    }
    return rv;
}

/* ---- container parameters -------------------------------------------------------------------- */

apr_table_t *igraph_job_container_params(apr_pool_t *p, const igraph_publish_req_t *req, int child,
                                         const char *children_ids)
{
    apr_table_t *t = apr_table_make(p, 12);
    const igraph_publish_child_t *ch;
    int feed_extras = 0; /* caption, collaborators, location_id */

    if (child >= 0) {
        if (!req->children || child >= req->children->nelts) {
            return t;
        }
        ch = &APR_ARRAY_IDX(req->children, child, igraph_publish_child_t);
        if (ch->video) {
            apr_table_setn(t, "media_type", "VIDEO");
            apr_table_setn(t, "video_url", ch->url);
        }
        else {
            apr_table_setn(t, "image_url", ch->url);
        }
        apr_table_setn(t, "is_carousel_item", "true");
        return t;
    }
    switch (req->media_type) {
    case IGRAPH_MEDIA_REELS:
        apr_table_setn(t, "media_type", "REELS");
        apr_table_setn(t, "video_url", req->video_url);
        feed_extras = 1;
        break;
    case IGRAPH_MEDIA_IMAGE:
        apr_table_setn(t, "image_url", req->image_url); /* no media_type for a single image */
        feed_extras = 1;
        break;
    case IGRAPH_MEDIA_STORIES:
        apr_table_setn(t, "media_type", "STORIES");
        if (req->video_url) {
            apr_table_setn(t, "video_url", req->video_url);
        }
        else {
            apr_table_setn(t, "image_url", req->image_url);
        }
        break;
    case IGRAPH_MEDIA_CAROUSEL:
        apr_table_setn(t, "media_type", "CAROUSEL");
        apr_table_setn(t, "children", children_ids ? children_ids : "");
        feed_extras = 1;
        break;
    case IGRAPH_MEDIA_NONE:
        return t;
    }
    if (feed_extras && req->caption && *req->caption) {
        apr_table_setn(t, "caption", req->caption);
    }
    if (req->media_type == IGRAPH_MEDIA_REELS) {
        if (req->share_to_feed >= 0) {
            apr_table_setn(t, "share_to_feed", req->share_to_feed ? "true" : "false");
        }
        if (req->cover_url) {
            apr_table_setn(t, "cover_url", req->cover_url);
        }
        if (req->thumb_offset >= 0) {
            apr_table_setn(t, "thumb_offset",
                           apr_psprintf(p, "%" APR_INT64_T_FMT, req->thumb_offset));
        }
        if (req->audio_name && *req->audio_name) {
            apr_table_setn(t, "audio_name", req->audio_name);
        }
    }
    if (feed_extras && req->collaborators) {
        apr_table_setn(t, "collaborators", req->collaborators);
    }
    if (feed_extras && req->location_id) {
        apr_table_setn(t, "location_id", req->location_id);
    }
    /* user tags: images, stories and reels; carousel tags would belong on the children */
    if (req->media_type != IGRAPH_MEDIA_CAROUSEL && req->user_tags) {
        apr_table_setn(t, "user_tags", req->user_tags);
    }
    return t;
}

/* ---- request (de)serialisation --------------------------------------------------------------- */

static void igraph_req_sets(json_t *o, const char *key, const char *val)
{
    if (val) {
        json_object_set_new(o, key, json_string(val));
    }
}

char *igraph_publish_req_to_json(apr_pool_t *p, const igraph_publish_req_t *req)
{
    json_t *o = json_object(), *arr;
    const igraph_publish_child_t *ch;
    char *s;
    int i;

    json_object_set_new(o, "media_type", json_string(igraph_media_name(req->media_type)));
    igraph_req_sets(o, "video_url", req->video_url);
    igraph_req_sets(o, "image_url", req->image_url);
    if (req->children) {
        arr = json_array();
        for (i = 0; i < req->children->nelts; i++) {
            ch = &APR_ARRAY_IDX(req->children, i, igraph_publish_child_t);
            json_array_append_new(
                arr, json_pack("{ss}", ch->video ? "video_url" : "image_url", ch->url));
        }
        json_object_set_new(o, "children", arr);
    }
    igraph_req_sets(o, "caption", req->caption);
    if (req->share_to_feed >= 0) {
        json_object_set_new(o, "share_to_feed", json_boolean(req->share_to_feed));
    }
    igraph_req_sets(o, "cover_url", req->cover_url);
    if (req->thumb_offset >= 0) {
        json_object_set_new(o, "thumb_offset", json_integer(req->thumb_offset));
    }
    igraph_req_sets(o, "audio_name", req->audio_name);
    igraph_req_sets(o, "collaborators", req->collaborators);
    igraph_req_sets(o, "location_id", req->location_id);
    igraph_req_sets(o, "user_tags", req->user_tags);
    if (req->publish_at > 0) {
        json_object_set_new(o, "publish_at", json_integer(req->publish_at));
    }
    s = igraph_pv_dump(p, o);
    json_decref(o);
    return s;
}

static const char *igraph_req_gets(apr_pool_t *p, json_t *o, const char *key)
{
    json_t *x = json_object_get(o, key);
    return json_is_string(x) ? apr_pstrdup(p, json_string_value(x)) : NULL;
}

apr_status_t igraph_publish_req_from_json(apr_pool_t *p, const char *text,
                                          igraph_publish_req_t *out)
{
    igraph_json_t *doc;
    igraph_publish_child_t *ch;
    json_t *o, *arr, *e, *x;
    apr_size_t i;

    memset(out, 0, sizeof(*out));
    out->share_to_feed = -1;
    out->thumb_offset = -1;
    out->risk = -1;
    if (!text || igraph_json_parse(&doc, p, text, strlen(text), NULL) != APR_SUCCESS ||
        !json_is_object(o = igraph_json_raw(doc))) {
        return APR_EINVAL;
    }
    out->media_type = igraph_media_parse(igraph_json_gets(doc, "media_type", NULL));
    if (out->media_type == IGRAPH_MEDIA_NONE) {
        return APR_EINVAL;
    }
    out->video_url = igraph_req_gets(p, o, "video_url");
    out->image_url = igraph_req_gets(p, o, "image_url");
    arr = json_object_get(o, "children");
    if (json_is_array(arr)) {
        out->children = apr_array_make(p, (int)json_array_size(arr), sizeof(*ch));
        json_array_foreach(arr, i, e)
        {
            ch = &APR_ARRAY_PUSH(out->children, igraph_publish_child_t);
            ch->video = json_is_string(json_object_get(e, "video_url"));
            ch->url = igraph_req_gets(p, e, ch->video ? "video_url" : "image_url");
            if (!ch->url) {
                return APR_EINVAL;
            }
        }
    }
    out->caption = igraph_req_gets(p, o, "caption");
    x = json_object_get(o, "share_to_feed");
    if (json_is_boolean(x)) {
        out->share_to_feed = json_is_true(x);
    }
    out->cover_url = igraph_req_gets(p, o, "cover_url");
    x = json_object_get(o, "thumb_offset");
    if (json_is_integer(x)) {
        out->thumb_offset = (apr_int64_t)json_integer_value(x);
    }
    out->audio_name = igraph_req_gets(p, o, "audio_name");
    out->collaborators = igraph_req_gets(p, o, "collaborators");
    out->location_id = igraph_req_gets(p, o, "location_id");
    out->user_tags = igraph_req_gets(p, o, "user_tags");
    x = json_object_get(o, "publish_at");
    if (json_is_integer(x)) {
        out->publish_at = (apr_int64_t)json_integer_value(x);
    }
    return APR_SUCCESS;
}

const char *igraph_publish_media_key(apr_pool_t *p, const igraph_publish_req_t *req)
{
    const char *s = "";
    int i;

    /* URLs only (not the type): the seed's rule is "same video_url -> skip" */
    if (req->video_url) {
        s = apr_pstrcat(p, s, "v ", req->video_url, "\n", NULL);
    }
    if (req->image_url) {
        s = apr_pstrcat(p, s, "i ", req->image_url, "\n", NULL);
    }
    for (i = 0; req->children && i < req->children->nelts; i++) {
        const igraph_publish_child_t *ch = &APR_ARRAY_IDX(req->children, i, igraph_publish_child_t);
        s = apr_pstrcat(p, s, ch->video ? "v " : "i ", ch->url, "\n", NULL);
    }
    return igraph_sha256_hex(p, s, strlen(s));
}
