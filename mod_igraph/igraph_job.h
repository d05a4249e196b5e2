/* igraph_job.h: the publish job, as pure functions (no I/O, no clock, no store).
 *
 * A job is one post: one container (REELS, IMAGE, STORIES) or 2..10 child containers and a
 * CAROUSEL parent. The worker loads a job row, asks igraph_job_next() what to do, makes that one
 * Graph call (igraph_graph.h), hands the outcome to igraph_job_apply() and stores the row again.
 * Every step is persisted, so a restarted worker resumes where the row says.
 *
 * Crash safety (reference 4.10): media_publish is not idempotent. The worker calls
 * igraph_job_begin_publish() and STORES the row before sending media_publish. A row found with
 * publish_sent set therefore means "a publish may have reached Meta": the next action is
 * CHECK_BEFORE_PUBLISH (read the container status), never PUBLISH.
 *
 * Request side: igraph_publish_validate() checks a JSON body before any Graph call,
 * igraph_caption_attribute() adds " #ad", igraph_compliance_check() is the risk/license gate,
 * igraph_job_container_params() builds the form of each container.
 */
#ifndef IGRAPH_JOB_H
#define IGRAPH_JOB_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "igraph_account.h"
#include "igraph_graph.h"
#include "igraph_json.h"

/* ---- names ----------------------------------------------------------------------------------- */

typedef enum {
    IGRAPH_MEDIA_NONE = 0,
    IGRAPH_MEDIA_REELS,
    IGRAPH_MEDIA_IMAGE,
    IGRAPH_MEDIA_STORIES,
    IGRAPH_MEDIA_CAROUSEL
} igraph_media_e;

/* "REELS", "IMAGE", "STORIES", "CAROUSEL" ("" for NONE). */
const char *igraph_media_name(igraph_media_e m);
/* Exact upper-case names; IGRAPH_MEDIA_NONE for anything else (NULL too). */
igraph_media_e igraph_media_parse(const char *s);

typedef enum {
    IGRAPH_JOB_QUEUED = 0, /* accepted, no container yet (also: scheduled, waiting) */
    IGRAPH_JOB_PROCESSING, /* containers being created / processed by Meta */
    IGRAPH_JOB_PUBLISHING, /* container FINISHED, media_publish pending, sent or being checked */
    IGRAPH_JOB_PUBLISHED,  /* live (media_id may be "" when found PUBLISHED after a crash) */
    IGRAPH_JOB_FAILED,
    IGRAPH_JOB_CANCELLED
} igraph_job_status_e;

/* "queued", "processing", "publishing", "published", "failed", "cancelled". */
const char *igraph_job_status_name(igraph_job_status_e s);
/* APR_EINVAL for an unknown name. */
apr_status_t igraph_job_status_parse(const char *s, igraph_job_status_e *out);

/* ---- the job row ----------------------------------------------------------------------------- */

typedef struct igraph_job_t {
    const char *id;
    apr_int64_t account_id;
    const char *owner;
    igraph_login_e login; /* the account's login (host for the Graph calls) */
    const char *ig_user_id;
    igraph_media_e media_type;
    igraph_job_status_e status;
    const char *request;       /* igraph_publish_req_to_json(): what to publish */
    const char *creation_id;   /* the container to publish (carousel: the parent) */
    const char *children;      /* carousel: child container ids created so far, comma list */
    int n_children_expected;   /* carousel: number of items, else 0 */
    int children_ready;        /* carousel: children known FINISHED, in order */
    const char *media_id;      /* set when published ("" when unknown, see PUBLISHED) */
    const char *permalink;     /* NULL until read back; "" when Meta gave none */
    const char *error;         /* short code (IGRAPH_JOB_E_*), NULL while fine */
    const char *error_message; /* Meta's text (never a token) */
    long error_subcode;        /* 2207xxx from Meta's error or ERROR status, 0 if none */
    int attempts;              /* consecutive failed tries of the current step */
    int polls;                 /* status polls of the current container series */
    int publish_sent;          /* a media_publish may have reached Meta */
    apr_int64_t created_at, updated_at;
    apr_int64_t publish_at;           /* 0: as soon as possible; else not published before */
    apr_int64_t next_at;              /* due time; 0 once there is nothing left to do */
    apr_int64_t container_created_at; /* anchor of the poll schedule (see igraph_poll_next_at) */
    apr_int64_t deadline;             /* polling gives up ("timeout") after this; 0 = not started */
    const char *caption;              /* final caption (after attribution), NULL when none */
} igraph_job_t;

/* Short error codes stored in igraph_job_t.error. */
#define IGRAPH_JOB_E_MEDIA "media_error"
#define IGRAPH_JOB_E_EXPIRED "container_expired"
#define IGRAPH_JOB_E_TOKEN "token_invalid"
#define IGRAPH_JOB_E_PERMISSION "permission_missing"
#define IGRAPH_JOB_E_INVALID "invalid_request"
#define IGRAPH_JOB_E_QUOTA "quota_exhausted"
#define IGRAPH_JOB_E_RESTRICTED "account_restricted"
#define IGRAPH_JOB_E_UNAVAILABLE "graph_unavailable"
#define IGRAPH_JOB_E_TIMEOUT "timeout"
#define IGRAPH_JOB_E_GRAPH "graph_error"

typedef struct igraph_job_policy_t {
    apr_int64_t publish_timeout;  /* IGraphPublishTimeout: polling budget, default 600 s */
    int max_attempts;             /* transient failures of one step before giving up, default 5 */
    apr_int64_t retry_base;       /* first retry delay, default 5 s (doubles, capped) */
    apr_int64_t retry_cap;        /* default 300 s */
    apr_int64_t rate_limit_delay; /* least wait after a rate limit, default 60 s */
    apr_int64_t quota_retry;      /* scheduled jobs held by the quota retry after, default 3600 s */
    apr_int64_t schedule_lead;    /* scheduled jobs start their containers this early, default
                                   * 600 s (containers live 24 h), so the post goes out on time */
} igraph_job_policy_t;

/* Fills the defaults above. Zero fields in a policy passed to igraph_job_apply() also mean
 * "default". */
void igraph_job_policy_default(igraph_job_policy_t *pol);

struct igraph_publish_req_t;

/* A new job from a validated request: media_type, caption, publish_at, n_children_expected,
 * request (JSON), status queued, created_at = updated_at = now, next_at = now, or for a scheduled
 * job publish_at - schedule_lead (not before now). The caller sets id, account_id, owner, login
 * and ig_user_id. */
void igraph_job_init(apr_pool_t *p, igraph_job_t *j, const struct igraph_publish_req_t *req,
                     apr_int64_t now, const igraph_job_policy_t *pol);

/* ---- the state machine ----------------------------------------------------------------------- */

typedef enum {
    IGRAPH_STEP_WAIT = 0,             /* not due yet (next_at, or publish_at for PUBLISH) */
    IGRAPH_STEP_CREATE_CHILD,         /* carousel item igraph_job_step_index() */
    IGRAPH_STEP_POLL_CHILD,           /* status of child igraph_job_step_index() */
    IGRAPH_STEP_CREATE_CONTAINER,     /* the single container, or the carousel parent */
    IGRAPH_STEP_POLL_CONTAINER,       /* status of creation_id */
    IGRAPH_STEP_CHECK_BEFORE_PUBLISH, /* status of creation_id after a possible publish */
    IGRAPH_STEP_PUBLISH,              /* media_publish creation_id */
    IGRAPH_STEP_READ_BACK,            /* permalink of media_id */
    IGRAPH_STEP_DONE                  /* nothing left to do */
} igraph_step_e;

/* "wait", "create_child", ... */
const char *igraph_step_name(igraph_step_e a);

/* What to do now. Pure; see the table in igraph_job.c. */
igraph_step_e igraph_job_next(const igraph_job_t *j, apr_int64_t now);

/* For CREATE_CHILD: the item index (children created so far); for POLL_CHILD: the child being
 * polled (children_ready). -1 for other steps. */
int igraph_job_step_index(const igraph_job_t *j, igraph_step_e a);

/* The id the step works on: POLL_CHILD -> that child's container id, POLL_CONTAINER /
 * CHECK_BEFORE_PUBLISH / PUBLISH -> creation_id, READ_BACK -> media_id; NULL otherwise. */
const char *igraph_job_step_target(apr_pool_t *p, const igraph_job_t *j, igraph_step_e a);

/* The outcome of one step. */
typedef struct igraph_step_result_t {
    int ok;                  /* 1: the Graph call succeeded */
    const char *id;          /* CREATE_*: container id; PUBLISH: media id */
    const char *status_code; /* POLL_*, CHECK_BEFORE_PUBLISH: FINISHED, IN_PROGRESS, ERROR, ... */
    const char *status_text; /* Meta's "status" text */
    const char *permalink;   /* READ_BACK (NULL when Meta gave none) */
    igraph_gerr_t err;       /* when !ok (cls, code, subcode, message, retry_after) */
} igraph_step_result_t;

/* To be called, and the row STORED, right before sending media_publish. */
void igraph_job_begin_publish(igraph_job_t *j, apr_int64_t now);

/* Applies the outcome of step a (as returned by igraph_job_next) to j: status, ids, counters,
 * next_at, error. Strings are copied into p (the pool of the row being saved). */
void igraph_job_apply(apr_pool_t *p, igraph_job_t *j, igraph_step_e a,
                      const igraph_step_result_t *res, apr_int64_t now,
                      const igraph_job_policy_t *pol);

/* Cancels a job that cannot have been published: status queued/processing/publishing and no
 * publish_sent. Returns 1 when cancelled, 0 when it is too late (or already final). The glue
 * must store this conditionally (the worker may hold the row). */
int igraph_job_cancel(igraph_job_t *j, apr_int64_t now);

/* 1 when no further step will ever be due (DONE whatever the time). */
int igraph_job_is_final(const igraph_job_t *j);

/* Delay between transient retries: retry_base * 2^(attempts-1), capped (attempts >= 1). */
apr_int64_t igraph_job_backoff(const igraph_job_policy_t *pol, int attempts);

/* ---- before a step: rules the worker applies instead of a Graph call ------------------------ */

/* The publishing quota, checked before the first container of a post. usage and total are what
 * igraph_publishing_limit() answered; a total <= 0 (Meta gave none) means IGRAPH_QUOTA_DEFAULT.
 * Returns 0 when the post may go ahead (e untouched). Returns 1 when usage >= total: the post is
 * refused the way Meta would refuse it, e->cls = IGRAPH_ERR_QUOTA, code 9, subcode 2207042,
 * message "publishing limit reached (<usage> of <total> in 24 h)" (from p); e's other fields are
 * left as they are. igraph_job_apply() then holds or fails the job like any quota error. */
int igraph_job_quota_reached(apr_pool_t *p, apr_int64_t usage, apr_int64_t total, igraph_gerr_t *e);

/* Whether the job's account can still publish, as the worker finds it before step a: found = the
 * account row still exists, status = its status (looked at only when found), token_ok = its
 * access token could be opened (looked at only when active). Returns 0 when it can (res
 * untouched). Returns 1 when it cannot, with *res the failed outcome to hand to
 * igraph_job_apply() instead of making the call:
 *   removed                            IGRAPH_ERR_REAUTH     "the account was removed"
 *   disabled                           IGRAPH_ERR_PERMANENT  "the account is disabled"
 *   needs_reauth, or active but the token cannot be opened
 *                                      IGRAPH_ERR_REAUTH     "the account needs reconnecting"
 * so the job fails (token_invalid, or graph_error for a disabled account); except for the steps
 * that may follow a media_publish already sent (PUBLISH, READ_BACK, CHECK_BEFORE_PUBLISH), where
 * the class is IGRAPH_ERR_RETRY (same message): a job that may be live is retried later instead
 * of failed (a read-back never fails it; the status check gives up after max_attempts with
 * "publish outcome unknown: ..."). */
int igraph_job_account_unusable(int found, igraph_account_status_e status, int token_ok,
                                igraph_step_e a, igraph_step_result_t *res);

/* ---- status polling -----------------------------------------------------------------------------
 * Gap before status poll number polls_so_far+1, in seconds: 2 s, then 4, 5, 6, ... capped at 15.
 * Polls are anchored on the container's creation (igraph_poll_next_at), so the time a Graph call
 * or the worker takes does not add up over the series. Against a container that is ready after
 * 5 s / 30 s / 300 s, with 0 to 1.5 s of latency per call, media_publish goes out 1-4 s / 2-5 s /
 * 11-14 s after ready, with 4 / 8 / 28 Graph calls from creation through media_publish (the
 * issue's targets: ~3 s; 5 s and 8 calls; 16 s and 30 calls). test_job.c simulates it. */
apr_int64_t igraph_poll_delay(int polls_so_far);
/* Sum of the gaps before poll number polls_so_far+1, counted from the anchor. */
apr_int64_t igraph_poll_offset(int polls_so_far);
/* anchor + igraph_poll_offset(polls), or, when that is already past (the worker was away for
 * more than a gap), now + igraph_poll_delay(polls). */
apr_int64_t igraph_poll_next_at(apr_int64_t anchor, int polls_so_far, apr_int64_t now);

/* ---- publish requests ------------------------------------------------------------------------ */

#define IGRAPH_CAPTION_MAX 2200
#define IGRAPH_HASHTAGS_MAX 30
#define IGRAPH_MENTIONS_MAX 20
#define IGRAPH_URL_MAX 2048
#define IGRAPH_CAROUSEL_MIN 2
#define IGRAPH_CAROUSEL_MAX 10
#define IGRAPH_SCHEDULE_MAX (75 * 86400)

typedef struct igraph_publish_child_t {
    int video; /* 1: video_url (media_type=VIDEO), 0: image_url */
    const char *url;
} igraph_publish_child_t;

typedef struct igraph_publish_req_t {
    apr_int64_t account_id;       /* > 0 when "account" was an id */
    const char *account_username; /* without '@', when "account" was a username */
    const char *account_ref;      /* "account" as given (digits, or the username without '@');
                                   * digits may be our id or an ig_user_id: match both */
    igraph_media_e media_type;
    const char *video_url, *image_url;
    apr_array_header_t *children; /* igraph_publish_child_t, CAROUSEL only, else NULL */
    const char *caption;          /* final (after attribution), NULL when absent */
    int caption_attributed;       /* 1 when " #ad" was appended */
    int share_to_feed;            /* -1 absent, 0, 1 */
    const char *cover_url;
    apr_int64_t thumb_offset; /* ms, -1 absent */
    const char *audio_name;
    const char *collaborators; /* JSON array text ["a","b"], NULL when absent */
    const char *location_id;
    const char *user_tags;  /* JSON array text [{"username":..,"x":..,"y":..}], or NULL */
    apr_int64_t publish_at; /* unix seconds, 0 = now */
    apr_int64_t wait;       /* seconds to wait for the result */
    const char *idempotency_key;
    double risk;         /* 0..1, -1 absent */
    const char *license; /* NULL when absent */
} igraph_publish_req_t;

typedef struct igraph_publish_rules_t {
    apr_int64_t now;
    igraph_media_e default_media_type; /* NONE: "media_type" is required (seed route: REELS) */
    apr_int64_t default_wait;          /* when "wait" is absent (seed route: IGraphPublishWait) */
    apr_int64_t max_wait;              /* IGraphPublishWait */
    apr_int64_t max_schedule;          /* publish_at at most this far ahead; 0: 75 days */
    const char *affiliate_hosts;       /* IGraphAffiliateHosts (comma list) or NULL */
} igraph_publish_rules_t;

/* An idempotency key, from the JSON field or the Idempotency-Key header: 1 to
 * IGRAPH_IDEMPOTENCY_MAX printable ASCII characters. */
#define IGRAPH_IDEMPOTENCY_RULE "1 to 128 printable ASCII characters"
int igraph_is_idempotency_key(const char *key);

/* Validates a publish body (an object). APR_SUCCESS with *out filled (caption attributed), or
 * APR_EINVAL with *field naming the offending field ("body", "caption", "children[1].image_url",
 * ...) and *msg a short reason for the client. Unknown fields are ignored; JSON null counts as
 * absent. Applies to types: share_to_feed, cover_url, thumb_offset, audio_name: REELS;
 * collaborators, location_id: REELS, IMAGE, CAROUSEL; user_tags: REELS, IMAGE, STORIES; caption:
 * not STORIES. Such fields on other types are checked but not sent. */
apr_status_t igraph_publish_validate(apr_pool_t *p, const igraph_json_t *body,
                                     const igraph_publish_rules_t *rules, igraph_publish_req_t *out,
                                     const char **field, const char **msg);

/* Serialisation of a validated request for the job row (what the worker needs to build the
 * containers; account, wait, idempotency_key, risk and license are left out). */
char *igraph_publish_req_to_json(apr_pool_t *p, const igraph_publish_req_t *req);
/* APR_EINVAL when the text is not such a document. No time checks (publish_at may be past). */
apr_status_t igraph_publish_req_from_json(apr_pool_t *p, const char *text,
                                          igraph_publish_req_t *out);

/* sha256 hex over the media type and URL(s), for "same media as an earlier job" duplicates. */
const char *igraph_publish_media_key(apr_pool_t *p, const igraph_publish_req_t *req);

/* Form fields of a container, exactly as Meta expects them for the type (reference 4.2):
 * child >= 0: carousel item number child; child < 0: the single container, or the carousel
 * parent with children = children_ids (comma list). */
apr_table_t *igraph_job_container_params(apr_pool_t *p, const igraph_publish_req_t *req, int child,
                                         const char *children_ids);

/* ---- caption rules --------------------------------------------------------------------------- */

/* Code points, hashtags ("#" + letter/digit/_ not preceded by one) and @mentions (likewise, so
 * e-mail addresses do not count). APR_EINVAL for invalid UTF-8. */
apr_status_t igraph_caption_count(const char *caption, apr_size_t *chars, int *hashtags,
                                  int *mentions);

/* caption + " #ad" when it holds a URL whose host is (a subdomain of) one of affiliate_hosts or
 * that carries an affiliate parameter (tag, aff, aff_id, affiliate, ref, irclickid, clickid,
 * utm_medium=affiliate), and has no "#ad" hashtag yet (any case). Else caption itself. */
const char *igraph_caption_attribute(apr_pool_t *p, const char *caption,
                                     const char *affiliate_hosts);

/* The compliance gate. risk: 0..1, or < 0 when absent; license: NULL when absent. Returns 0 when
 * acceptable, 1 when refused with *reason ("risk 0.3 >= 0.2", "license unknown",
 * "license missing"). */
int igraph_compliance_check(apr_pool_t *p, double risk, const char *license, double max_risk,
                            int require_license, const char **reason);

/* A short hint for a known container/publish error subcode, or NULL. */
const char *igraph_media_error_hint(long subcode);

#endif
