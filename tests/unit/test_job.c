/* test_job.c: unit tests for igraph_job.c: the publish state machine (transition table, crash
 * safety, poll schedule against the latency targets), the rules before a step (quota, account),
 * request validation, caption attribution, the compliance gate and container parameters. No
 * network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "igraph_job.h"
#include "igraph_json.h"
#include "support.h"

#define NOW 1790000000 /* 2026-09-21T14:13:20Z */

/* ---- helpers --------------------------------------------------------------------------------- */

static igraph_job_policy_t policy(void)
{
    igraph_job_policy_t pol;
    igraph_job_policy_default(&pol);
    return pol;
}

static igraph_job_t *new_job(igraph_media_e type, int children, apr_int64_t publish_at)
{
    igraph_job_t *j = apr_pcalloc(test_pool, sizeof(*j));
    igraph_publish_req_t req;
    igraph_job_policy_t pol = policy();
    igraph_publish_child_t *ch;
    int i;

    memset(&req, 0, sizeof(req));
    req.media_type = type;
    req.share_to_feed = -1;
    req.thumb_offset = -1;
    req.risk = -1;
    req.caption = "hello";
    req.publish_at = publish_at;
    if (type == IGRAPH_MEDIA_CAROUSEL) {
        req.children = apr_array_make(test_pool, children, sizeof(igraph_publish_child_t));
        for (i = 0; i < children; i++) {
            ch = &APR_ARRAY_PUSH(req.children, igraph_publish_child_t);
            ch->video = i % 2;
            ch->url =
                apr_psprintf(test_pool, "https://cdn.example.org/%d.%s", i, i % 2 ? "mp4" : "jpg");
        }
    }
    else if (type == IGRAPH_MEDIA_IMAGE) {
        req.image_url = "https://cdn.example.org/a.jpg";
    }
    else {
        req.video_url = "https://cdn.example.org/a.mp4";
    }
    igraph_job_init(test_pool, j, &req, NOW, &pol);
    j->id = "job1";
    j->account_id = 7;
    j->login = IGRAPH_LOGIN_INSTAGRAM;
    j->ig_user_id = "17841400000000001";
    return j;
}

static igraph_step_result_t ok_id(const char *id)
{
    igraph_step_result_t r;
    memset(&r, 0, sizeof(r));
    r.ok = 1;
    r.id = id;
    return r;
}

static igraph_step_result_t ok_status(const char *code, const char *text)
{
    igraph_step_result_t r;
    memset(&r, 0, sizeof(r));
    r.ok = 1;
    r.status_code = code;
    r.status_text = text;
    return r;
}

static igraph_step_result_t gerr(igraph_err_class_e cls, long code, long subcode, const char *m)
{
    igraph_step_result_t r;
    memset(&r, 0, sizeof(r));
    r.err.cls = cls;
    r.err.code = code;
    r.err.subcode = subcode;
    r.err.message = m;
    r.err.http_status = cls == IGRAPH_ERR_TRANSPORT ? 0 : (cls == IGRAPH_ERR_SERVER ? 502 : 400);
    return r;
}

/* next() must be step a at time t; then the outcome is applied at t. */
static void step(igraph_job_t *j, apr_int64_t t, igraph_step_e a, igraph_step_result_t r)
{
    igraph_job_policy_t pol = policy();
    igraph_step_e got = igraph_job_next(j, t);

    if (got != a) {
        fail_msg("at %lld expected %s, got %s", (long long)(t - NOW), igraph_step_name(a),
                 igraph_step_name(got));
    }
    if (a == IGRAPH_STEP_PUBLISH) {
        igraph_job_begin_publish(j, t);
    }
    igraph_job_apply(test_pool, j, a, &r, t, &pol);
}

/* ---- names ------------------------------------------------------------------------------------
 */

static void test_names(void **state)
{
    igraph_job_status_e s;

    assert_string_equal(igraph_media_name(IGRAPH_MEDIA_REELS), "REELS");
    assert_string_equal(igraph_media_name(IGRAPH_MEDIA_CAROUSEL), "CAROUSEL");
    assert_string_equal(igraph_media_name(IGRAPH_MEDIA_NONE), "");
    assert_int_equal(igraph_media_parse("STORIES"), IGRAPH_MEDIA_STORIES);
    assert_int_equal(igraph_media_parse("IMAGE"), IGRAPH_MEDIA_IMAGE);
    assert_int_equal(igraph_media_parse("VIDEO"), IGRAPH_MEDIA_NONE);
    assert_int_equal(igraph_media_parse(""), IGRAPH_MEDIA_NONE);
    assert_int_equal(igraph_media_parse(NULL), IGRAPH_MEDIA_NONE);

    assert_string_equal(igraph_job_status_name(IGRAPH_JOB_QUEUED), "queued");
    assert_string_equal(igraph_job_status_name(IGRAPH_JOB_CANCELLED), "cancelled");
    assert_int_equal(igraph_job_status_parse("publishing", &s), APR_SUCCESS);
    assert_int_equal(s, IGRAPH_JOB_PUBLISHING);
    assert_int_equal(igraph_job_status_parse("done", &s), APR_EINVAL);
    assert_string_equal(igraph_step_name(IGRAPH_STEP_CHECK_BEFORE_PUBLISH), "check_before_publish");
}

/* ---- poll schedule ----------------------------------------------------------------------------
 */

static void test_poll_delay(void **state)
{
    apr_int64_t sum = 0;
    int n;

    assert_int_equal(igraph_poll_delay(0), 2);
    assert_int_equal(igraph_poll_delay(1), 4);
    assert_int_equal(igraph_poll_delay(2), 5);
    assert_int_equal(igraph_poll_delay(11), 14);
    assert_int_equal(igraph_poll_delay(12), 15);
    assert_int_equal(igraph_poll_delay(1000), 15);
    assert_int_equal(igraph_poll_delay(-3), 2);
    for (n = 0; n < 200; n++) {
        sum += igraph_poll_delay(n);
        assert_int_equal(igraph_poll_offset(n), sum);
        if (n > 0) {
            assert_true(igraph_poll_delay(n) >= igraph_poll_delay(n - 1));
        }
    }
    /* anchored; a worker that was away starts over from now */
    assert_int_equal(igraph_poll_next_at(NOW, 0, NOW), NOW + 2);
    assert_int_equal(igraph_poll_next_at(NOW, 1, NOW + 3), NOW + 6);
    assert_int_equal(igraph_poll_next_at(NOW, 1, NOW + 6), NOW + 6);
    assert_int_equal(igraph_poll_next_at(NOW, 1, NOW + 100), NOW + 104);
}

typedef struct sim_t {
    int calls;        /* Graph calls from container creation through media_publish */
    apr_int64_t late; /* media_publish sent this long after the container was ready */
    int publishes;
} sim_t;

/* Drives a REELS job with the real next/apply against a container that is FINISHED from
 * `ready` seconds after its creation was sent. Every Graph call takes `latency` seconds (the
 * answer describes the container as it was when the call was sent); the worker acts as soon as
 * a step is due. */
static sim_t simulate(apr_int64_t ready, apr_int64_t latency)
{
    igraph_job_t *j = new_job(IGRAPH_MEDIA_REELS, 0, 0);
    igraph_job_policy_t pol = policy();
    igraph_step_result_t r;
    igraph_step_e a;
    apr_int64_t t = NOW, created = 0;
    sim_t s = {0, -1, 0};
    int guard;

    for (guard = 0; guard < 1000; guard++) {
        a = igraph_job_next(j, t);
        if (a == IGRAPH_STEP_WAIT) {
            t = j->next_at > t ? j->next_at : t + 1;
            continue;
        }
        if (a == IGRAPH_STEP_DONE || a == IGRAPH_STEP_READ_BACK) {
            break;
        }
        s.calls++;
        switch (a) {
        case IGRAPH_STEP_CREATE_CONTAINER:
            created = t;
            r = ok_id("17889455560051445");
            break;
        case IGRAPH_STEP_POLL_CONTAINER:
            r = ok_status(t - created >= ready ? "FINISHED" : "IN_PROGRESS", NULL);
            break;
        case IGRAPH_STEP_PUBLISH:
            s.publishes++;
            s.late = t - (created + ready);
            igraph_job_begin_publish(j, t);
            r = ok_id("17918920912340654");
            break;
        default:
            fail_msg("unexpected step %s", igraph_step_name(a));
            return s;
        }
        t += latency;
        igraph_job_apply(test_pool, j, a, &r, t, &pol);
    }
    assert_int_equal(j->status, IGRAPH_JOB_PUBLISHED);
    return s;
}

static void test_poll_targets(void **state)
{
    apr_int64_t latency;
    sim_t s;

    /* the issue's targets, with no latency and with 1 s per call */
    for (latency = 0; latency <= 1; latency++) {
        s = simulate(5, latency);
        assert_int_equal(s.publishes, 1);
        assert_true(s.late >= 0 && s.late <= 3);

        s = simulate(30, latency);
        assert_int_equal(s.publishes, 1);
        assert_true(s.late >= 0 && s.late <= 5);
        assert_true(s.calls <= 8);

        s = simulate(300, latency);
        assert_int_equal(s.publishes, 1);
        assert_true(s.late >= 0 && s.late <= 16);
        assert_true(s.calls <= 30);
    }
    /* exact figures at 1 s per call (documented in igraph_job.h) */
    s = simulate(5, 1);
    assert_int_equal(s.calls, 4);
    assert_int_equal(s.late, 3);
    s = simulate(30, 1);
    assert_int_equal(s.calls, 8);
    assert_int_equal(s.late, 4);
    s = simulate(300, 1);
    assert_int_equal(s.calls, 28);
    assert_int_equal(s.late, 13);
    /* whatever second the container gets ready in: never later than one capped gap plus the
     * latency, and the targets hold around 30 s and 300 s, not only at the exact second */
    for (latency = 0; latency <= 1; latency++) {
        apr_int64_t r;
        for (r = 1; r <= 600; r++) {
            s = simulate(r, latency);
            assert_true(s.late >= 0 && s.late <= 15 + latency);
            if (r >= 30 && r <= 32) {
                assert_true(s.late <= 5);
                assert_true(s.calls <= 8);
            }
            if (r >= 290 && r <= 310) {
                assert_true(s.late <= 16);
                assert_true(s.calls <= 30);
            }
        }
    }
}

/* ---- transition table ------------------------------------------------------------------------ */

static void test_reels_happy_path(void **state)
{
    igraph_job_t *j = new_job(IGRAPH_MEDIA_REELS, 0, 0);

    assert_int_equal(j->status, IGRAPH_JOB_QUEUED);
    assert_int_equal(j->next_at, NOW);
    assert_string_equal(j->caption, "hello");
    assert_non_null(strstr(j->request, "\"media_type\":\"REELS\""));
    assert_int_equal(igraph_job_is_final(j), 0);

    step(j, NOW, IGRAPH_STEP_CREATE_CONTAINER, ok_id("100"));
    assert_int_equal(j->status, IGRAPH_JOB_PROCESSING);
    assert_string_equal(j->creation_id, "100");
    assert_int_equal(j->container_created_at, NOW);
    assert_int_equal(j->deadline, NOW + 600);
    assert_int_equal(j->next_at, NOW + 2);
    assert_int_equal(igraph_job_next(j, NOW + 1), IGRAPH_STEP_WAIT);
    assert_string_equal(igraph_job_step_target(test_pool, j, IGRAPH_STEP_POLL_CONTAINER), "100");

    step(j, NOW + 2, IGRAPH_STEP_POLL_CONTAINER, ok_status("IN_PROGRESS", "In Progress"));
    assert_int_equal(j->polls, 1);
    assert_int_equal(j->next_at, NOW + 6);
    step(j, NOW + 6, IGRAPH_STEP_POLL_CONTAINER, ok_status("FINISHED", "Finished"));
    assert_int_equal(j->status, IGRAPH_JOB_PUBLISHING);
    assert_int_equal(j->next_at, NOW + 6);

    /* begin_publish is stored before the call */
    assert_int_equal(igraph_job_next(j, NOW + 6), IGRAPH_STEP_PUBLISH);
    igraph_job_begin_publish(j, NOW + 6);
    assert_int_equal(j->publish_sent, 1);
    assert_int_equal(igraph_job_next(j, NOW + 6), IGRAPH_STEP_CHECK_BEFORE_PUBLISH);
    {
        igraph_job_policy_t pol = policy();
        igraph_step_result_t r = ok_id("900");
        igraph_job_apply(test_pool, j, IGRAPH_STEP_PUBLISH, &r, NOW + 7, &pol);
    }
    assert_int_equal(j->status, IGRAPH_JOB_PUBLISHED);
    assert_string_equal(j->media_id, "900");
    assert_null(j->error);
    assert_int_equal(igraph_job_is_final(j), 0);
    assert_string_equal(igraph_job_step_target(test_pool, j, IGRAPH_STEP_READ_BACK), "900");

    {
        igraph_step_result_t r = ok_id(NULL);
        r.permalink = "https://www.instagram.com/reel/DAbCdEfGhIj/";
        step(j, NOW + 7, IGRAPH_STEP_READ_BACK, r);
    }
    assert_string_equal(j->permalink, "https://www.instagram.com/reel/DAbCdEfGhIj/");
    assert_int_equal(j->next_at, 0);
    assert_int_equal(igraph_job_is_final(j), 1);
    assert_int_equal(igraph_job_next(j, NOW + 100), IGRAPH_STEP_DONE);
    assert_int_equal(j->updated_at, NOW + 7);
}

static void test_carousel(void **state)
{
    igraph_job_t *j = new_job(IGRAPH_MEDIA_CAROUSEL, 3, 0);
    igraph_publish_req_t req;
    apr_table_t *t;

    assert_int_equal(j->n_children_expected, 3);
    assert_int_equal(igraph_job_next(j, NOW), IGRAPH_STEP_CREATE_CHILD);
    assert_int_equal(igraph_job_step_index(j, IGRAPH_STEP_CREATE_CHILD), 0);
    step(j, NOW, IGRAPH_STEP_CREATE_CHILD, ok_id("11"));
    assert_int_equal(j->status, IGRAPH_JOB_PROCESSING);
    assert_int_equal(j->next_at, NOW);
    assert_int_equal(igraph_job_step_index(j, IGRAPH_STEP_CREATE_CHILD), 1);
    step(j, NOW, IGRAPH_STEP_CREATE_CHILD, ok_id("12"));
    step(j, NOW + 1, IGRAPH_STEP_CREATE_CHILD, ok_id("13"));
    assert_string_equal(j->children, "11,12,13");
    assert_int_equal(j->container_created_at, NOW + 1);
    assert_int_equal(j->next_at, NOW + 3);
    assert_int_equal(j->deadline, NOW + 600); /* from the first step */

    assert_int_equal(igraph_job_next(j, NOW + 3), IGRAPH_STEP_POLL_CHILD);
    assert_int_equal(igraph_job_step_index(j, IGRAPH_STEP_POLL_CHILD), 0);
    assert_string_equal(igraph_job_step_target(test_pool, j, IGRAPH_STEP_POLL_CHILD), "11");
    step(j, NOW + 3, IGRAPH_STEP_POLL_CHILD, ok_status("FINISHED", NULL));
    assert_int_equal(j->children_ready, 1);
    assert_int_equal(j->next_at, NOW + 3);
    assert_string_equal(igraph_job_step_target(test_pool, j, IGRAPH_STEP_POLL_CHILD), "12");
    step(j, NOW + 3, IGRAPH_STEP_POLL_CHILD, ok_status("IN_PROGRESS", NULL));
    assert_int_equal(j->children_ready, 1);
    assert_int_equal(j->next_at, NOW + 7);
    step(j, NOW + 7, IGRAPH_STEP_POLL_CHILD, ok_status("FINISHED", NULL));
    step(j, NOW + 7, IGRAPH_STEP_POLL_CHILD, ok_status("FINISHED", NULL));
    assert_int_equal(j->children_ready, 3);

    /* the parent, with the children in order */
    assert_int_equal(igraph_job_next(j, NOW + 7), IGRAPH_STEP_CREATE_CONTAINER);
    assert_int_equal(igraph_publish_req_from_json(test_pool, j->request, &req), APR_SUCCESS);
    t = igraph_job_container_params(test_pool, &req, -1, j->children);
    assert_string_equal(apr_table_get(t, "media_type"), "CAROUSEL");
    assert_string_equal(apr_table_get(t, "children"), "11,12,13");
    assert_string_equal(apr_table_get(t, "caption"), "hello");
    t = igraph_job_container_params(test_pool, &req, 1, NULL);
    assert_string_equal(apr_table_get(t, "media_type"), "VIDEO");
    assert_string_equal(apr_table_get(t, "video_url"), "https://cdn.example.org/1.mp4");
    assert_string_equal(apr_table_get(t, "is_carousel_item"), "true");

    step(j, NOW + 8, IGRAPH_STEP_CREATE_CONTAINER, ok_id("20"));
    assert_int_equal(j->polls, 0);
    assert_int_equal(j->next_at, NOW + 10);
    step(j, NOW + 10, IGRAPH_STEP_POLL_CONTAINER, ok_status("FINISHED", NULL));
    step(j, NOW + 10, IGRAPH_STEP_PUBLISH, ok_id("30"));
    assert_int_equal(j->status, IGRAPH_JOB_PUBLISHED);
    assert_string_equal(j->media_id, "30");
}

static void test_container_error_and_expired(void **state)
{
    igraph_job_t *j = new_job(IGRAPH_MEDIA_REELS, 0, 0);

    step(j, NOW, IGRAPH_STEP_CREATE_CONTAINER, ok_id("100"));
    step(j, NOW + 2, IGRAPH_STEP_POLL_CONTAINER,
         ok_status("ERROR", "Error: Media upload has failed with error code 2207026"));
    assert_int_equal(j->status, IGRAPH_JOB_FAILED);
    assert_string_equal(j->error, "media_error");
    assert_string_equal(j->error_message, "Error: Media upload has failed with error code 2207026");
    assert_int_equal(j->error_subcode, 2207026);
    assert_int_equal(j->next_at, 0);
    assert_int_equal(igraph_job_next(j, NOW + 100), IGRAPH_STEP_DONE);
    assert_non_null(igraph_media_error_hint(j->error_subcode));
    assert_null(igraph_media_error_hint(1));

    j = new_job(IGRAPH_MEDIA_IMAGE, 0, 0);
    step(j, NOW, IGRAPH_STEP_CREATE_CONTAINER, ok_id("100"));
    step(j, NOW + 2, IGRAPH_STEP_POLL_CONTAINER, ok_status("EXPIRED", NULL));
    assert_int_equal(j->status, IGRAPH_JOB_FAILED);
    assert_string_equal(j->error, "container_expired");

    /* a carousel child in ERROR fails the job */
    j = new_job(IGRAPH_MEDIA_CAROUSEL, 2, 0);
    step(j, NOW, IGRAPH_STEP_CREATE_CHILD, ok_id("11"));
    step(j, NOW, IGRAPH_STEP_CREATE_CHILD, ok_id("12"));
    step(j, NOW + 2, IGRAPH_STEP_POLL_CHILD, ok_status("ERROR", "Error: 2207076"));
    assert_string_equal(j->error, "media_error");
    assert_int_equal(j->error_subcode, 2207076);

    /* a child reported PUBLISHED makes no sense */
    j = new_job(IGRAPH_MEDIA_CAROUSEL, 2, 0);
    step(j, NOW, IGRAPH_STEP_CREATE_CHILD, ok_id("11"));
    step(j, NOW, IGRAPH_STEP_CREATE_CHILD, ok_id("12"));
    step(j, NOW + 2, IGRAPH_STEP_POLL_CHILD, ok_status("PUBLISHED", NULL));
    assert_string_equal(j->error, "graph_error");

    /* an unknown status is retried like a server error */
    j = new_job(IGRAPH_MEDIA_REELS, 0, 0);
    step(j, NOW, IGRAPH_STEP_CREATE_CONTAINER, ok_id("100"));
    step(j, NOW + 2, IGRAPH_STEP_POLL_CONTAINER, ok_status("SOMETHING_NEW", NULL));
    assert_int_equal(j->status, IGRAPH_JOB_PROCESSING);
    assert_int_equal(j->attempts, 1);
    assert_int_equal(j->next_at, NOW + 2 + 5);
}

/* Each error class on container creation. */
static void test_error_classes(void **state)
{
    static const struct {
        igraph_err_class_e cls;
        long code, subcode;
        const char *error; /* NULL: not failed */
    } cases[] = {
        {IGRAPH_ERR_REAUTH, 190, 463, "token_invalid"},
        {IGRAPH_ERR_PERMISSION, 10, 0, "permission_missing"},
        {IGRAPH_ERR_MEDIA, 352, 2207026, "media_error"},
        {IGRAPH_ERR_MEDIA, -2, 2207020, "container_expired"},
        {IGRAPH_ERR_INVALID, 100, 2207023, "invalid_request"},
        {IGRAPH_ERR_QUOTA, 9, 2207042, "quota_exhausted"},
        {IGRAPH_ERR_RESTRICTED, 4, 2207051, "account_restricted"},
        {IGRAPH_ERR_PERMANENT, 12345, 0, "graph_error"},
        {IGRAPH_ERR_OAUTH, 400, 0, "graph_error"},
        {IGRAPH_ERR_RATE_LIMIT, 4, 0, NULL},
        {IGRAPH_ERR_TRANSPORT, 0, 0, NULL},
        {IGRAPH_ERR_SERVER, 0, 0, NULL},
        {IGRAPH_ERR_RETRY, 2, 0, NULL},
        {IGRAPH_ERR_NOT_READY, 9007, 2207027, NULL},
    };
    apr_size_t i;
    igraph_job_t *j;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        j = new_job(IGRAPH_MEDIA_REELS, 0, 0);
        step(j, NOW, IGRAPH_STEP_CREATE_CONTAINER,
             gerr(cases[i].cls, cases[i].code, cases[i].subcode, "Meta says no"));
        if (cases[i].error) {
            assert_int_equal(j->status, IGRAPH_JOB_FAILED);
            assert_string_equal(j->error, cases[i].error);
            assert_non_null(strstr(j->error_message, "Meta says no"));
            assert_int_equal(j->error_subcode, cases[i].subcode);
            assert_int_equal(j->next_at, 0);
        }
        else {
            assert_int_not_equal(j->status, IGRAPH_JOB_FAILED);
            assert_null(j->error);
            assert_true(j->next_at > NOW);
            assert_int_equal(igraph_job_next(j, j->next_at), IGRAPH_STEP_CREATE_CONTAINER);
        }
    }
    /* Meta's code and user message are kept */
    j = new_job(IGRAPH_MEDIA_REELS, 0, 0);
    {
        igraph_step_result_t r = gerr(IGRAPH_ERR_MEDIA, 9004, 2207052, "Media fetch failed");
        r.err.user_msg = "The URL could not be reached.";
        step(j, NOW, IGRAPH_STEP_CREATE_CONTAINER, r);
    }
    assert_string_equal(j->error_message,
                        "Media fetch failed: The URL could not be reached. (code 9004/2207052)");
}

static void test_rate_limit(void **state)
{
    igraph_job_t *j = new_job(IGRAPH_MEDIA_REELS, 0, 0);
    igraph_step_result_t r;

    step(j, NOW, IGRAPH_STEP_CREATE_CONTAINER, ok_id("100"));
    r = gerr(IGRAPH_ERR_RATE_LIMIT, 80002, 0, "limit");
    r.err.retry_after = 300;
    step(j, NOW + 2, IGRAPH_STEP_POLL_CONTAINER, r);
    assert_int_equal(j->next_at, NOW + 302);
    assert_int_equal(j->attempts, 0);
    assert_int_equal(j->status, IGRAPH_JOB_PROCESSING);
    r.err.retry_after = 0; /* at least rate_limit_delay */
    step(j, NOW + 302, IGRAPH_STEP_POLL_CONTAINER, r);
    assert_int_equal(j->next_at, NOW + 362);
    /* rate limits on publish: nothing was published, no check needed */
    step(j, NOW + 362, IGRAPH_STEP_POLL_CONTAINER, ok_status("FINISHED", NULL));
    step(j, NOW + 362, IGRAPH_STEP_PUBLISH, r);
    assert_int_equal(j->publish_sent, 0);
    assert_int_equal(j->status, IGRAPH_JOB_PUBLISHING);
    assert_int_equal(igraph_job_next(j, NOW + 422), IGRAPH_STEP_PUBLISH);
}

static void test_transient_backoff(void **state)
{
    igraph_job_t *j = new_job(IGRAPH_MEDIA_IMAGE, 0, 0);
    apr_int64_t t = NOW, expect[] = {5, 10, 20, 40};
    int i;

    for (i = 0; i < 4; i++) {
        step(j, t, IGRAPH_STEP_CREATE_CONTAINER, gerr(IGRAPH_ERR_TRANSPORT, 0, 0, "timed out"));
        assert_int_equal(j->attempts, i + 1);
        assert_int_equal(j->next_at, t + expect[i]);
        assert_int_equal(igraph_job_next(j, j->next_at - 1), IGRAPH_STEP_WAIT);
        t = j->next_at;
    }
    step(j, t, IGRAPH_STEP_CREATE_CONTAINER, gerr(IGRAPH_ERR_SERVER, 0, 0, "HTTP 502"));
    assert_int_equal(j->status, IGRAPH_JOB_FAILED);
    assert_string_equal(j->error, "graph_unavailable");

    /* success resets the count */
    j = new_job(IGRAPH_MEDIA_IMAGE, 0, 0);
    step(j, NOW, IGRAPH_STEP_CREATE_CONTAINER, gerr(IGRAPH_ERR_RETRY, 2, 0, "temporary"));
    assert_int_equal(j->status, IGRAPH_JOB_QUEUED);
    assert_int_equal(j->deadline, 0);
    step(j, NOW + 5, IGRAPH_STEP_CREATE_CONTAINER, ok_id("100"));
    assert_int_equal(j->attempts, 0);

    /* the cap */
    {
        igraph_job_policy_t pol = policy();
        assert_int_equal(igraph_job_backoff(&pol, 1), 5);
        assert_int_equal(igraph_job_backoff(&pol, 7), 300);
        assert_int_equal(igraph_job_backoff(&pol, 100000), 300);
        assert_int_equal(igraph_job_backoff(NULL, 2), 10);
    }
}

static void test_not_ready(void **state)
{
    igraph_job_t *j = new_job(IGRAPH_MEDIA_REELS, 0, 0);

    step(j, NOW, IGRAPH_STEP_CREATE_CONTAINER, ok_id("100"));
    /* 9007 on a status poll: keep polling */
    step(j, NOW + 2, IGRAPH_STEP_POLL_CONTAINER,
         gerr(IGRAPH_ERR_NOT_READY, 9007, 2207027, "not ready"));
    assert_int_equal(j->polls, 1);
    assert_int_equal(j->next_at, NOW + 6);
    step(j, NOW + 6, IGRAPH_STEP_POLL_CONTAINER, ok_status("FINISHED", NULL));
    /* 9007 on publish: nothing published, back to polling */
    step(j, NOW + 6, IGRAPH_STEP_PUBLISH, gerr(IGRAPH_ERR_NOT_READY, 9007, 2207027, "not ready"));
    assert_int_equal(j->publish_sent, 0);
    assert_int_equal(j->status, IGRAPH_JOB_PROCESSING);
    assert_int_equal(j->polls, 2);
    assert_int_equal(j->next_at, NOW + 11);
    step(j, NOW + 11, IGRAPH_STEP_POLL_CONTAINER, ok_status("FINISHED", NULL));
    step(j, NOW + 11, IGRAPH_STEP_PUBLISH, ok_id("900"));
    assert_int_equal(j->status, IGRAPH_JOB_PUBLISHED);
}

static void test_timeout(void **state)
{
    igraph_job_t *j = new_job(IGRAPH_MEDIA_REELS, 0, 0);
    apr_int64_t t;
    int polls = 0;

    step(j, NOW, IGRAPH_STEP_CREATE_CONTAINER, ok_id("100"));
    while (j->status == IGRAPH_JOB_PROCESSING) {
        t = j->next_at;
        assert_true(t <= NOW + 600);
        step(j, t, IGRAPH_STEP_POLL_CONTAINER, ok_status("IN_PROGRESS", NULL));
        polls++;
    }
    assert_int_equal(j->status, IGRAPH_JOB_FAILED);
    assert_string_equal(j->error, "timeout");
    assert_int_equal(t, NOW + 600); /* the last look is at the deadline */
    assert_true(polls <= 50);
}

static void test_quota_scheduled(void **state)
{
    igraph_job_t *j = new_job(IGRAPH_MEDIA_REELS, 0, NOW + 3600);
    igraph_step_result_t q = gerr(IGRAPH_ERR_QUOTA, 9, 2207042, "Maximum number of posts");

    /* containers start schedule_lead early, publish waits for publish_at */
    assert_int_equal(j->next_at, NOW + 3000);
    assert_int_equal(igraph_job_next(j, NOW + 2999), IGRAPH_STEP_WAIT);
    step(j, NOW + 3000, IGRAPH_STEP_CREATE_CONTAINER, ok_id("100"));
    step(j, NOW + 3002, IGRAPH_STEP_POLL_CONTAINER, ok_status("FINISHED", NULL));
    assert_int_equal(j->status, IGRAPH_JOB_PUBLISHING);
    assert_int_equal(j->next_at, NOW + 3600);
    assert_int_equal(igraph_job_next(j, NOW + 3599), IGRAPH_STEP_WAIT);
    j->next_at = 0; /* even when due otherwise, publish_at holds the publish */
    assert_int_equal(igraph_job_next(j, NOW + 3599), IGRAPH_STEP_WAIT);
    j->next_at = NOW + 3600;

    /* quota reached: a scheduled job is held, an hour at a time, for a day */
    step(j, NOW + 3600, IGRAPH_STEP_PUBLISH, q);
    assert_int_equal(j->status, IGRAPH_JOB_PUBLISHING);
    assert_int_equal(j->publish_sent, 0);
    assert_int_equal(j->next_at, NOW + 7200);
    assert_null(j->error);
    step(j, NOW + 7200, IGRAPH_STEP_PUBLISH, q);
    assert_int_equal(j->next_at, NOW + 10800);
    step(j, NOW + 3600 + 86400, IGRAPH_STEP_PUBLISH, q);
    assert_int_equal(j->status, IGRAPH_JOB_FAILED);
    assert_string_equal(j->error, "quota_exhausted");

    /* held before its container exists (igraph_job_quota_reached): still queued, and the
     * polling budget starts with the container, an hour later */
    j = new_job(IGRAPH_MEDIA_REELS, 0, NOW + 60);
    step(j, NOW, IGRAPH_STEP_CREATE_CONTAINER, q);
    assert_int_equal(j->status, IGRAPH_JOB_QUEUED);
    assert_int_equal(j->deadline, 0);
    assert_int_equal(j->next_at, NOW + 3600);
    step(j, NOW + 3600, IGRAPH_STEP_CREATE_CONTAINER, ok_id("100"));
    assert_int_equal(j->deadline, NOW + 3600 + 600);
    step(j, NOW + 3602, IGRAPH_STEP_POLL_CONTAINER, ok_status("IN_PROGRESS", NULL));
    assert_int_equal(j->status, IGRAPH_JOB_PROCESSING);

    /* not scheduled: fails at once (also from the quota check before creation) */
    j = new_job(IGRAPH_MEDIA_REELS, 0, 0);
    step(j, NOW, IGRAPH_STEP_CREATE_CONTAINER, q);
    assert_string_equal(j->error, "quota_exhausted");

    /* scheduled within the lead: starts now */
    j = new_job(IGRAPH_MEDIA_REELS, 0, NOW + 60);
    assert_int_equal(j->next_at, NOW);
}

/* ---- before a step: the quota and the account ------------------------------------------------ */

static void test_quota_reached(void **state)
{
    static const struct {
        apr_int64_t usage, total;
        int reached;
        const char *message;
    } cases[] = {
        {0, 50, 0, NULL},
        {49, 50, 0, NULL},
        {50, 50, 1, "publishing limit reached (50 of 50 in 24 h)"}, /* usage == total */
        {51, 50, 1, "publishing limit reached (51 of 50 in 24 h)"},
        {99, 100, 0, NULL},
        {100, 100, 1, "publishing limit reached (100 of 100 in 24 h)"},
        {0, 1, 0, NULL},
        {1, 1, 1, "publishing limit reached (1 of 1 in 24 h)"},
        /* total unknown (0, or nonsense): IGRAPH_QUOTA_DEFAULT */
        {0, 0, 0, NULL},
        {49, 0, 0, NULL},
        {50, 0, 1, "publishing limit reached (50 of 50 in 24 h)"},
        {49, -1, 0, NULL},
        {70, -5, 1, "publishing limit reached (70 of 50 in 24 h)"},
    };
    apr_size_t i;

    assert_int_equal(IGRAPH_QUOTA_DEFAULT, 50);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        igraph_gerr_t e;

        /* what a successful igraph_publishing_limit() leaves behind */
        memset(&e, 0, sizeof(e));
        e.http_status = 200;
        if (igraph_job_quota_reached(test_pool, cases[i].usage, cases[i].total, &e) !=
            cases[i].reached) {
            fail_msg("case %d: %lld of %lld", (int)i, (long long)cases[i].usage,
                     (long long)cases[i].total);
        }
        assert_int_equal(e.http_status, 200); /* the rest of e is left alone */
        if (!cases[i].reached) {
            assert_int_equal(e.cls, IGRAPH_ERR_NONE);
            assert_int_equal(e.code, 0);
            assert_int_equal(e.subcode, 0);
            assert_null(e.message);
            continue;
        }
        assert_int_equal(e.cls, IGRAPH_ERR_QUOTA);
        assert_int_equal(e.code, 9);
        assert_int_equal(e.subcode, 2207042);
        assert_string_equal(e.message, cases[i].message);
    }

    /* the refusal goes through the state machine like Meta's own quota error */
    {
        igraph_job_t *j = new_job(IGRAPH_MEDIA_REELS, 0, 0);
        igraph_step_result_t r;

        memset(&r, 0, sizeof(r));
        assert_int_equal(igraph_job_quota_reached(test_pool, 50, 0, &r.err), 1);
        step(j, NOW, IGRAPH_STEP_CREATE_CONTAINER, r);
        assert_int_equal(j->status, IGRAPH_JOB_FAILED);
        assert_string_equal(j->error, IGRAPH_JOB_E_QUOTA);
        assert_string_equal(j->error_message,
                            "publishing limit reached (50 of 50 in 24 h) (code 9/2207042)");
        assert_int_equal(j->error_subcode, 2207042);

        /* a scheduled post waits for room instead */
        j = new_job(IGRAPH_MEDIA_REELS, 0, NOW + 60);
        step(j, NOW, IGRAPH_STEP_CREATE_CONTAINER, r);
        assert_int_equal(j->status, IGRAPH_JOB_QUEUED);
        assert_int_equal(j->next_at, NOW + 3600);
        assert_null(j->error);
    }
}

static void test_account_unusable(void **state)
{
    static const igraph_step_e steps[] = {
        IGRAPH_STEP_WAIT,           IGRAPH_STEP_CREATE_CHILD,
        IGRAPH_STEP_POLL_CHILD,     IGRAPH_STEP_CREATE_CONTAINER,
        IGRAPH_STEP_POLL_CONTAINER, IGRAPH_STEP_CHECK_BEFORE_PUBLISH,
        IGRAPH_STEP_PUBLISH,        IGRAPH_STEP_READ_BACK,
        IGRAPH_STEP_DONE,
    };
    static const struct {
        const char *what;
        int found;
        igraph_account_status_e status;
        int token_ok;
        igraph_err_class_e cls; /* IGRAPH_ERR_NONE: the account can publish */
        const char *message;
    } accounts[] = {
        {"active", 1, IGRAPH_ACCOUNT_ACTIVE, 1, IGRAPH_ERR_NONE, NULL},
        {"removed", 0, IGRAPH_ACCOUNT_ACTIVE, 0, IGRAPH_ERR_REAUTH, "the account was removed"},
        /* status and token do not matter once the row is gone */
        {"removed (stale fields)", 0, IGRAPH_ACCOUNT_DISABLED, 1, IGRAPH_ERR_REAUTH,
         "the account was removed"},
        {"disabled", 1, IGRAPH_ACCOUNT_DISABLED, 1, IGRAPH_ERR_PERMANENT,
         "the account is disabled"},
        {"disabled, no token", 1, IGRAPH_ACCOUNT_DISABLED, 0, IGRAPH_ERR_PERMANENT,
         "the account is disabled"},
        {"deauthorized", 1, IGRAPH_ACCOUNT_DEAUTHORIZED, 0, IGRAPH_ERR_PERMANENT,
         "the account was deauthorized on Meta"},
        {"needs_reauth", 1, IGRAPH_ACCOUNT_NEEDS_REAUTH, 1, IGRAPH_ERR_REAUTH,
         "the account needs reconnecting"},
        {"needs_reauth, no token", 1, IGRAPH_ACCOUNT_NEEDS_REAUTH, 0, IGRAPH_ERR_REAUTH,
         "the account needs reconnecting"},
        {"active, token cannot be opened", 1, IGRAPH_ACCOUNT_ACTIVE, 0, IGRAPH_ERR_REAUTH,
         "the account needs reconnecting"},
        {"status outside the enum", 1, (igraph_account_status_e)7, 1, IGRAPH_ERR_REAUTH,
         "the account needs reconnecting"},
    };
    apr_size_t i, k;

    for (i = 0; i < sizeof(accounts) / sizeof(accounts[0]); i++) {
        for (k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
            igraph_step_e a = steps[k];
            int after_publish = a == IGRAPH_STEP_PUBLISH || a == IGRAPH_STEP_READ_BACK ||
                                a == IGRAPH_STEP_CHECK_BEFORE_PUBLISH;
            igraph_step_result_t res;
            int got;

            memset(&res, 0x5a, sizeof(res)); /* filled in full, or not touched at all */
            got = igraph_job_account_unusable(accounts[i].found, accounts[i].status,
                                              accounts[i].token_ok, a, &res);
            if (got != (accounts[i].cls != IGRAPH_ERR_NONE)) {
                fail_msg("%s, %s: got %d", accounts[i].what, igraph_step_name(a), got);
            }
            if (!got) {
                assert_int_equal(res.ok, 0x5a5a5a5a);
                continue;
            }
            assert_int_equal(res.ok, 0);
            assert_null(res.id);
            assert_null(res.status_code);
            assert_null(res.permalink);
            assert_int_equal(res.err.code, 0);
            assert_int_equal(res.err.subcode, 0);
            assert_int_equal(res.err.http_status, 0);
            assert_int_equal(res.err.retry_after, 0);
            if (res.err.cls != (after_publish ? IGRAPH_ERR_RETRY : accounts[i].cls)) {
                fail_msg("%s, %s: class %s", accounts[i].what, igraph_step_name(a),
                         igraph_err_class_name(res.err.cls));
            }
            assert_string_equal(res.err.message, accounts[i].message);
        }
    }
}

/* What the outcomes do to a job: fail it before anything went out, retry it after. */
static void test_account_unusable_apply(void **state)
{
    igraph_job_policy_t pol = policy();
    igraph_step_result_t res;
    igraph_job_t *j;
    int i;

    /* disabled while processing: failed for good */
    j = new_job(IGRAPH_MEDIA_REELS, 0, 0);
    step(j, NOW, IGRAPH_STEP_CREATE_CONTAINER, ok_id("100"));
    assert_int_equal(igraph_job_account_unusable(1, IGRAPH_ACCOUNT_DISABLED, 1,
                                                 IGRAPH_STEP_POLL_CONTAINER, &res),
                     1);
    step(j, NOW + 2, IGRAPH_STEP_POLL_CONTAINER, res);
    assert_int_equal(j->status, IGRAPH_JOB_FAILED);
    assert_string_equal(j->error, IGRAPH_JOB_E_GRAPH);
    assert_string_equal(j->error_message, "the account is disabled");

    /* needs reconnecting before the first container: token_invalid */
    j = new_job(IGRAPH_MEDIA_IMAGE, 0, 0);
    assert_int_equal(igraph_job_account_unusable(1, IGRAPH_ACCOUNT_NEEDS_REAUTH, 0,
                                                 IGRAPH_STEP_CREATE_CONTAINER, &res),
                     1);
    step(j, NOW, IGRAPH_STEP_CREATE_CONTAINER, res);
    assert_int_equal(j->status, IGRAPH_JOB_FAILED);
    assert_string_equal(j->error, IGRAPH_JOB_E_TOKEN);
    assert_string_equal(j->error_message, "the account needs reconnecting");

    /* removed when media_publish is due: not failed, checked first when it comes back */
    j = new_job(IGRAPH_MEDIA_REELS, 0, 0);
    step(j, NOW, IGRAPH_STEP_CREATE_CONTAINER, ok_id("100"));
    step(j, NOW + 2, IGRAPH_STEP_POLL_CONTAINER, ok_status("FINISHED", NULL));
    assert_int_equal(
        igraph_job_account_unusable(0, IGRAPH_ACCOUNT_ACTIVE, 0, IGRAPH_STEP_PUBLISH, &res), 1);
    assert_int_equal(igraph_job_next(j, NOW + 2), IGRAPH_STEP_PUBLISH);
    igraph_job_apply(test_pool, j, IGRAPH_STEP_PUBLISH, &res, NOW + 2, &pol);
    assert_int_equal(j->status, IGRAPH_JOB_PUBLISHING);
    assert_null(j->error);
    assert_true(j->next_at > NOW + 2);
    assert_int_equal(igraph_job_next(j, j->next_at), IGRAPH_STEP_CHECK_BEFORE_PUBLISH);

    /* and its status checks are retried, until the usual attempts are spent: the outcome is
     * then reported as unknown */
    assert_int_equal(igraph_job_account_unusable(0, IGRAPH_ACCOUNT_ACTIVE, 0,
                                                 IGRAPH_STEP_CHECK_BEFORE_PUBLISH, &res),
                     1);
    for (i = 0; i < pol.max_attempts && j->status == IGRAPH_JOB_PUBLISHING; i++) {
        step(j, j->next_at, IGRAPH_STEP_CHECK_BEFORE_PUBLISH, res);
    }
    assert_int_equal(j->status, IGRAPH_JOB_FAILED);
    assert_string_equal(j->error, IGRAPH_JOB_E_UNAVAILABLE);
    assert_string_equal(j->error_message, "publish outcome unknown: the account was removed");

    /* a live post whose account went away is never failed by its read-back */
    j = new_job(IGRAPH_MEDIA_REELS, 0, 0);
    step(j, NOW, IGRAPH_STEP_CREATE_CONTAINER, ok_id("100"));
    step(j, NOW + 2, IGRAPH_STEP_POLL_CONTAINER, ok_status("FINISHED", NULL));
    step(j, NOW + 2, IGRAPH_STEP_PUBLISH, ok_id("900"));
    assert_int_equal(
        igraph_job_account_unusable(1, IGRAPH_ACCOUNT_DISABLED, 1, IGRAPH_STEP_READ_BACK, &res), 1);
    for (i = 0; i < 10 && j->next_at; i++) {
        step(j, j->next_at, IGRAPH_STEP_READ_BACK, res);
    }
    assert_int_equal(j->status, IGRAPH_JOB_PUBLISHED);
    assert_string_equal(j->media_id, "900");
    assert_null(j->error);
    assert_int_equal(j->next_at, 0);
}

static void test_publish_unknown_outcome(void **state)
{
    igraph_job_t *j = new_job(IGRAPH_MEDIA_REELS, 0, 0);
    int publishes = 1;

    step(j, NOW, IGRAPH_STEP_CREATE_CONTAINER, ok_id("100"));
    step(j, NOW + 2, IGRAPH_STEP_POLL_CONTAINER, ok_status("FINISHED", NULL));
    /* no answer to media_publish: check, never publish blindly */
    step(j, NOW + 2, IGRAPH_STEP_PUBLISH, gerr(IGRAPH_ERR_TRANSPORT, 0, 0, "timed out"));
    assert_int_equal(j->publish_sent, 1);
    assert_int_equal(j->status, IGRAPH_JOB_PUBLISHING);
    assert_int_equal(igraph_job_next(j, j->next_at), IGRAPH_STEP_CHECK_BEFORE_PUBLISH);
    assert_string_equal(igraph_job_step_target(test_pool, j, IGRAPH_STEP_CHECK_BEFORE_PUBLISH),
                        "100");
    /* FINISHED: it did not go out, publish again */
    step(j, j->next_at, IGRAPH_STEP_CHECK_BEFORE_PUBLISH, ok_status("FINISHED", NULL));
    assert_int_equal(j->publish_sent, 0);
    assert_int_equal(igraph_job_next(j, j->next_at), IGRAPH_STEP_PUBLISH);
    /* a 5xx this time */
    step(j, j->next_at, IGRAPH_STEP_PUBLISH, gerr(IGRAPH_ERR_SERVER, 0, 0, "HTTP 500"));
    publishes++;
    assert_int_equal(j->publish_sent, 1);
    /* the check itself fails once, then finds it PUBLISHED */
    step(j, j->next_at, IGRAPH_STEP_CHECK_BEFORE_PUBLISH,
         gerr(IGRAPH_ERR_TRANSPORT, 0, 0, "reset"));
    assert_int_equal(igraph_job_next(j, j->next_at), IGRAPH_STEP_CHECK_BEFORE_PUBLISH);
    step(j, j->next_at, IGRAPH_STEP_CHECK_BEFORE_PUBLISH, ok_status("PUBLISHED", NULL));
    assert_int_equal(j->status, IGRAPH_JOB_PUBLISHED);
    assert_string_equal(j->media_id, ""); /* Meta links no media id to a container */
    assert_null(j->permalink);
    assert_int_equal(j->next_at, 0);
    assert_int_equal(igraph_job_next(j, NOW + 10000), IGRAPH_STEP_DONE);
    assert_int_equal(publishes, 2);
}

/* The row was stored with publish_sent and the child died during media_publish. */
static void test_crash_safety(void **state)
{
    igraph_job_t *j = new_job(IGRAPH_MEDIA_REELS, 0, 0);
    igraph_job_t saved;
    apr_int64_t t;

    step(j, NOW, IGRAPH_STEP_CREATE_CONTAINER, ok_id("100"));
    step(j, NOW + 2, IGRAPH_STEP_POLL_CONTAINER, ok_status("FINISHED", NULL));
    assert_int_equal(igraph_job_next(j, NOW + 2), IGRAPH_STEP_PUBLISH);
    igraph_job_begin_publish(j, NOW + 2);
    saved = *j; /* what the store holds when the process is killed */

    /* whenever the worker comes back, it checks first; PUBLISHED means done */
    for (t = NOW + 2; t < NOW + 100000; t += 7919) {
        assert_int_equal(igraph_job_next(&saved, t), IGRAPH_STEP_CHECK_BEFORE_PUBLISH);
    }
    step(&saved, NOW + 60, IGRAPH_STEP_CHECK_BEFORE_PUBLISH, ok_status("PUBLISHED", NULL));
    assert_int_equal(saved.status, IGRAPH_JOB_PUBLISHED);
    for (t = NOW + 60; t < NOW + 100000; t += 7919) {
        assert_int_equal(igraph_job_next(&saved, t), IGRAPH_STEP_DONE);
    }

    /* FINISHED after the crash: the publish never arrived, send it (once) */
    saved = *j;
    step(&saved, NOW + 60, IGRAPH_STEP_CHECK_BEFORE_PUBLISH, ok_status("FINISHED", NULL));
    assert_int_equal(saved.publish_sent, 0);
    step(&saved, NOW + 60, IGRAPH_STEP_PUBLISH, ok_id("900"));
    assert_int_equal(saved.status, IGRAPH_JOB_PUBLISHED);
    assert_string_equal(saved.media_id, "900");

    /* a crash after PUBLISHED was stored but before the read-back: read back, no publish */
    assert_int_equal(igraph_job_next(&saved, NOW + 61), IGRAPH_STEP_READ_BACK);

    /* the container processing again (should not happen): poll, do not publish */
    saved = *j;
    step(&saved, NOW + 60, IGRAPH_STEP_CHECK_BEFORE_PUBLISH, ok_status("IN_PROGRESS", NULL));
    assert_int_equal(saved.publish_sent, 0);
    assert_int_equal(saved.status, IGRAPH_JOB_PROCESSING);
    assert_int_equal(igraph_job_next(&saved, saved.next_at), IGRAPH_STEP_POLL_CONTAINER);

    /* ERROR / EXPIRED on the check fail the job */
    saved = *j;
    step(&saved, NOW + 60, IGRAPH_STEP_CHECK_BEFORE_PUBLISH, ok_status("EXPIRED", NULL));
    assert_string_equal(saved.error, "container_expired");
}

/* media_publish that never gets a clear answer ends, with a bounded number of publishes. */
static void test_publish_retry_bounded(void **state)
{
    igraph_job_t *j = new_job(IGRAPH_MEDIA_REELS, 0, 0);
    igraph_step_e a;
    int publishes = 0, checks = 0, guard;

    step(j, NOW, IGRAPH_STEP_CREATE_CONTAINER, ok_id("100"));
    step(j, NOW + 2, IGRAPH_STEP_POLL_CONTAINER, ok_status("FINISHED", NULL));
    for (guard = 0; guard < 100 && !igraph_job_is_final(j); guard++) {
        a = igraph_job_next(j, j->next_at);
        if (a == IGRAPH_STEP_PUBLISH) {
            publishes++;
            step(j, j->next_at, a, gerr(IGRAPH_ERR_SERVER, 0, 0, "HTTP 500"));
        }
        else {
            assert_int_equal(a, IGRAPH_STEP_CHECK_BEFORE_PUBLISH);
            checks++;
            step(j, j->next_at, a, ok_status("FINISHED", NULL));
        }
    }
    assert_int_equal(j->status, IGRAPH_JOB_FAILED);
    assert_string_equal(j->error, "graph_unavailable");
    assert_int_equal(publishes, 5);
    assert_int_equal(checks, 5);

    /* checks that keep failing: give up, saying the outcome is unknown */
    j = new_job(IGRAPH_MEDIA_REELS, 0, 0);
    step(j, NOW, IGRAPH_STEP_CREATE_CONTAINER, ok_id("100"));
    step(j, NOW + 2, IGRAPH_STEP_POLL_CONTAINER, ok_status("FINISHED", NULL));
    step(j, NOW + 2, IGRAPH_STEP_PUBLISH, gerr(IGRAPH_ERR_TRANSPORT, 0, 0, "timeout"));
    for (guard = 0; guard < 100 && !igraph_job_is_final(j); guard++) {
        step(j, j->next_at, IGRAPH_STEP_CHECK_BEFORE_PUBLISH,
             gerr(IGRAPH_ERR_TRANSPORT, 0, 0, "timeout"));
    }
    assert_string_equal(j->error, "graph_unavailable");
    assert_non_null(strstr(j->error_message, "publish outcome unknown"));
}

static void test_restricted_publish(void **state)
{
    igraph_job_t *j = new_job(IGRAPH_MEDIA_REELS, 0, 0), saved;

    step(j, NOW, IGRAPH_STEP_CREATE_CONTAINER, ok_id("100"));
    step(j, NOW + 2, IGRAPH_STEP_POLL_CONTAINER, ok_status("FINISHED", NULL));
    step(j, NOW + 2, IGRAPH_STEP_PUBLISH,
         gerr(IGRAPH_ERR_RESTRICTED, 4, 2207051, "restricted to protect our community"));
    /* 4/2207051 has come with a live post: verify first */
    assert_int_equal(j->publish_sent, 1);
    assert_int_equal(igraph_job_next(j, NOW + 2), IGRAPH_STEP_CHECK_BEFORE_PUBLISH);
    saved = *j;
    step(j, NOW + 2, IGRAPH_STEP_CHECK_BEFORE_PUBLISH, ok_status("FINISHED", NULL));
    assert_int_equal(j->status, IGRAPH_JOB_FAILED);
    assert_string_equal(j->error, "account_restricted");
    assert_int_equal(j->error_subcode, 2207051);
    step(&saved, NOW + 2, IGRAPH_STEP_CHECK_BEFORE_PUBLISH, ok_status("PUBLISHED", NULL));
    assert_int_equal(saved.status, IGRAPH_JOB_PUBLISHED);
    assert_null(saved.error);

    /* other definite errors on publish: nothing went out */
    j = new_job(IGRAPH_MEDIA_REELS, 0, 0);
    step(j, NOW, IGRAPH_STEP_CREATE_CONTAINER, ok_id("100"));
    step(j, NOW + 2, IGRAPH_STEP_POLL_CONTAINER, ok_status("FINISHED", NULL));
    step(j, NOW + 2, IGRAPH_STEP_PUBLISH, gerr(IGRAPH_ERR_REAUTH, 190, 460, "password changed"));
    assert_int_equal(j->publish_sent, 0);
    assert_string_equal(j->error, "token_invalid");
}

static void test_read_back(void **state)
{
    igraph_job_t *j = new_job(IGRAPH_MEDIA_IMAGE, 0, 0);
    igraph_step_result_t r;

    step(j, NOW, IGRAPH_STEP_CREATE_CONTAINER, ok_id("100"));
    step(j, NOW + 2, IGRAPH_STEP_POLL_CONTAINER, ok_status("FINISHED", NULL));
    step(j, NOW + 2, IGRAPH_STEP_PUBLISH, ok_id("900"));
    /* rate limited: wait, not a try */
    r = gerr(IGRAPH_ERR_RATE_LIMIT, 4, 0, "limit");
    step(j, NOW + 2, IGRAPH_STEP_READ_BACK, r);
    assert_int_equal(j->attempts, 0);
    assert_int_equal(j->next_at, NOW + 62);
    /* three failures of any kind: published without a permalink */
    step(j, NOW + 62, IGRAPH_STEP_READ_BACK, gerr(IGRAPH_ERR_REAUTH, 190, 0, "expired"));
    assert_int_equal(j->status, IGRAPH_JOB_PUBLISHED);
    step(j, j->next_at, IGRAPH_STEP_READ_BACK, gerr(IGRAPH_ERR_SERVER, 0, 0, "HTTP 500"));
    step(j, j->next_at, IGRAPH_STEP_READ_BACK, gerr(IGRAPH_ERR_TRANSPORT, 0, 0, "reset"));
    assert_int_equal(j->status, IGRAPH_JOB_PUBLISHED);
    assert_null(j->error);
    assert_null(j->permalink);
    assert_int_equal(j->next_at, 0);
    assert_int_equal(igraph_job_is_final(j), 1);
    assert_int_equal(igraph_job_next(j, NOW + 1000), IGRAPH_STEP_DONE);

    /* Meta gave no permalink: "" and done */
    j = new_job(IGRAPH_MEDIA_IMAGE, 0, 0);
    step(j, NOW, IGRAPH_STEP_CREATE_CONTAINER, ok_id("100"));
    step(j, NOW + 2, IGRAPH_STEP_POLL_CONTAINER, ok_status("FINISHED", NULL));
    step(j, NOW + 2, IGRAPH_STEP_PUBLISH, ok_id("900"));
    step(j, NOW + 2, IGRAPH_STEP_READ_BACK, ok_id(NULL));
    assert_string_equal(j->permalink, "");
    assert_int_equal(igraph_job_is_final(j), 1);
}

static void test_cancel_and_final(void **state)
{
    igraph_job_t *j = new_job(IGRAPH_MEDIA_REELS, 0, 0);
    igraph_job_policy_t pol = policy();
    igraph_step_result_t r = ok_id("100");

    assert_int_equal(igraph_job_cancel(j, NOW + 1), 1);
    assert_int_equal(j->status, IGRAPH_JOB_CANCELLED);
    assert_int_equal(j->next_at, 0);
    assert_int_equal(igraph_job_next(j, NOW + 1), IGRAPH_STEP_DONE);
    /* a late outcome does not revive it */
    igraph_job_apply(test_pool, j, IGRAPH_STEP_CREATE_CONTAINER, &r, NOW + 2, &pol);
    assert_int_equal(j->status, IGRAPH_JOB_CANCELLED);
    assert_null(j->creation_id);
    assert_int_equal(igraph_job_cancel(j, NOW + 3), 0);

    j = new_job(IGRAPH_MEDIA_REELS, 0, 0);
    step(j, NOW, IGRAPH_STEP_CREATE_CONTAINER, ok_id("100"));
    assert_int_equal(igraph_job_cancel(j, NOW + 1), 1);

    /* too late once a publish may be out */
    j = new_job(IGRAPH_MEDIA_REELS, 0, 0);
    step(j, NOW, IGRAPH_STEP_CREATE_CONTAINER, ok_id("100"));
    step(j, NOW + 2, IGRAPH_STEP_POLL_CONTAINER, ok_status("FINISHED", NULL));
    igraph_job_begin_publish(j, NOW + 2);
    assert_int_equal(igraph_job_cancel(j, NOW + 3), 0);
    assert_int_equal(j->status, IGRAPH_JOB_PUBLISHING);
    r = ok_id("900");
    igraph_job_apply(test_pool, j, IGRAPH_STEP_PUBLISH, &r, NOW + 3, &pol);
    assert_int_equal(igraph_job_cancel(j, NOW + 4), 0);
    assert_int_equal(j->status, IGRAPH_JOB_PUBLISHED);

    /* WAIT and DONE change nothing */
    j = new_job(IGRAPH_MEDIA_REELS, 0, 0);
    igraph_job_apply(test_pool, j, IGRAPH_STEP_WAIT, &r, NOW + 5, &pol);
    assert_int_equal(j->updated_at, NOW);
    assert_int_equal(j->status, IGRAPH_JOB_QUEUED);
}

/* ---- validation -------------------------------------------------------------------------------
 */

static igraph_publish_rules_t rules(void)
{
    igraph_publish_rules_t r;
    memset(&r, 0, sizeof(r));
    r.now = NOW;
    r.default_media_type = IGRAPH_MEDIA_NONE;
    r.max_wait = 180;
    r.affiliate_hosts = "amzn.to, shop.example-aff.com";
    return r;
}

static const char *vfield, *vmsg;

static apr_status_t val_rules(const char *json, const igraph_publish_rules_t *r,
                              igraph_publish_req_t *out)
{
    igraph_json_t *j = NULL;
    apr_status_t rv;

    assert_int_equal(igraph_json_parse(&j, test_pool, json, strlen(json), NULL), APR_SUCCESS);
    rv = igraph_publish_validate(test_pool, j, r, out, &vfield, &vmsg);
    if (rv == APR_SUCCESS) {
        assert_null(vfield);
    }
    else {
        assert_non_null(vfield);
        assert_non_null(vmsg);
    }
    return rv;
}

static apr_status_t val(const char *json, igraph_publish_req_t *out)
{
    igraph_publish_rules_t r = rules();
    return val_rules(json, &r, out);
}

/* json must be refused naming field. */
static void bad(const char *json, const char *field)
{
    igraph_publish_req_t req;
    if (val(json, &req) != APR_EINVAL) {
        fail_msg("accepted: %s", json);
    }
    if (strcmp(vfield, field)) {
        fail_msg("%s: field \"%s\" (%s), expected \"%s\"", json, vfield, vmsg, field);
    }
}

static void good(const char *json)
{
    igraph_publish_req_t req;
    if (val(json, &req) != APR_SUCCESS) {
        fail_msg("refused: %s: %s %s", json, vfield, vmsg);
    }
}

#define REEL "\"media_type\":\"REELS\",\"video_url\":\"https://cdn.example.org/v/7.mp4\""

static void test_validate_seed(void **state)
{
    igraph_publish_rules_t r = rules();
    igraph_publish_req_t req;

    /* the seed route's body, with its defaults */
    r.default_media_type = IGRAPH_MEDIA_REELS;
    r.default_wait = 180;
    assert_int_equal(val_rules("{\"video_url\":\"https://cdn.example.org/v/7.mp4\",\"caption\":"
                               "\"Behind the oven\",\"share_to_feed\":true}",
                               &r, &req),
                     APR_SUCCESS);
    assert_int_equal(req.media_type, IGRAPH_MEDIA_REELS);
    assert_string_equal(req.video_url, "https://cdn.example.org/v/7.mp4");
    assert_null(req.image_url);
    assert_string_equal(req.caption, "Behind the oven");
    assert_int_equal(req.caption_attributed, 0);
    assert_int_equal(req.share_to_feed, 1);
    assert_int_equal(req.wait, 180);
    assert_int_equal(req.thumb_offset, -1);
    assert_true(req.risk < 0);
    assert_int_equal(req.account_id, 0);
    assert_null(req.account_username);
    assert_int_equal(req.publish_at, 0);

    /* the general route needs media_type */
    bad("{\"video_url\":\"https://cdn.example.org/v/7.mp4\"}", "media_type");
}

static void test_validate_full(void **state)
{
    igraph_publish_req_t req;

    assert_int_equal(
        val("{\"account\":\"@acme.bakery\"," REEL ",\"caption\":\"Hi @friend.shop #bread\","
            "\"share_to_feed\":false,\"cover_url\":\"https://cdn.example.org/c.jpg\","
            "\"thumb_offset\":1500,\"audio_name\":\"Oven "
            "song\",\"collaborators\":[\"@friend.shop\","
            "\"other_one\"],\"location_id\":\"110000000000001\",\"user_tags\":[{\"username\":"
            "\"tagged\",\"x\":0.5,\"y\":1}],\"publish_at\":\"2026-09-22T10:00:00+02:00\","
            "\"wait\":30,\"idempotency_key\":\"k-1 2\",\"risk\":0.1,\"license\":\"own\","
            "\"unknown_field\":{\"x\":[1]}}",
            &req),
        APR_SUCCESS);
    assert_string_equal(req.account_username, "acme.bakery");
    assert_string_equal(req.account_ref, "acme.bakery");
    assert_int_equal(req.share_to_feed, 0);
    assert_string_equal(req.cover_url, "https://cdn.example.org/c.jpg");
    assert_int_equal(req.thumb_offset, 1500);
    assert_string_equal(req.audio_name, "Oven song");
    assert_string_equal(req.collaborators, "[\"friend.shop\",\"other_one\"]");
    assert_string_equal(req.location_id, "110000000000001");
    assert_string_equal(req.user_tags, "[{\"username\":\"tagged\",\"x\":0.5,\"y\":1.0}]");
    /* 2026-09-22T08:00:00Z */
    assert_int_equal(req.publish_at, 1790064000);
    assert_int_equal(req.wait, 30);
    assert_string_equal(req.idempotency_key, "k-1 2");
    assert_true(req.risk > 0.09 && req.risk < 0.11);
    assert_string_equal(req.license, "own");

    assert_int_equal(val("{\"account\":42," REEL "}", &req), APR_SUCCESS);
    assert_int_equal(req.account_id, 42);
    assert_string_equal(req.account_ref, "42");
    assert_int_equal(val("{\"account\":\"17\"," REEL "}", &req), APR_SUCCESS);
    assert_int_equal(req.account_id, 17);
    assert_int_equal(val("{\"account\":\"17841400000000001\"," REEL "}", &req), APR_SUCCESS);
    assert_string_equal(req.account_ref, "17841400000000001");
    assert_int_equal(val("{\"account\":\"99999999999999999999\"," REEL "}", &req), APR_SUCCESS);
    assert_int_equal(req.account_id, 0);
    assert_string_equal(req.account_ref, "99999999999999999999");
    assert_int_equal(val("{\"account\":\"0\"," REEL "}", &req), APR_SUCCESS);
    assert_int_equal(req.account_id, 0); /* matches no account */
    assert_int_equal(val("{\"account\":\"acme\"," REEL ",\"location_id\":123}", &req), APR_SUCCESS);
    assert_string_equal(req.account_username, "acme");
    assert_string_equal(req.location_id, "123");
    /* null is absent */
    assert_int_equal(val("{\"account\":null," REEL ",\"caption\":null,\"wait\":null}", &req),
                     APR_SUCCESS);
    assert_null(req.caption);
    assert_int_equal(req.account_id, 0);
}

static void test_validate_media(void **state)
{
    igraph_publish_req_t req;

    bad("[1,2]", "body");
    bad("{\"media_type\":\"VIDEO\",\"video_url\":\"https://a.example/v.mp4\"}", "media_type");
    bad("{\"media_type\":\"reels\",\"video_url\":\"https://a.example/v.mp4\"}", "media_type");
    bad("{\"media_type\":5}", "media_type");
    bad("{\"media_type\":\"REELS\"}", "video_url");
    bad("{\"media_type\":\"REELS\",\"image_url\":\"https://a.example/i.jpg\"}", "image_url");
    bad("{" REEL ",\"image_url\":\"https://a.example/i.jpg\"}", "image_url");
    bad("{\"media_type\":\"IMAGE\"}", "image_url");
    bad("{\"media_type\":\"IMAGE\",\"image_url\":\"https://a.example/i.jpg\",\"video_url\":"
        "\"https://a.example/v.mp4\"}",
        "video_url");
    bad("{\"media_type\":\"STORIES\"}", "image_url");
    bad("{\"media_type\":\"STORIES\",\"image_url\":\"https://a.example/i.jpg\",\"video_url\":"
        "\"https://a.example/v.mp4\"}",
        "video_url");
    good("{\"media_type\":\"STORIES\",\"video_url\":\"https://a.example/v.mp4\"}");
    good("{\"media_type\":\"STORIES\",\"image_url\":\"https://a.example/i.jpg\",\"caption\":"
         "\"not sent\"}");
    bad("{" REEL ",\"children\":[]}", "children");

    /* URLs */
    bad("{\"media_type\":\"REELS\",\"video_url\":\"ftp://a.example/v.mp4\"}", "video_url");
    bad("{\"media_type\":\"REELS\",\"video_url\":\"/v.mp4\"}", "video_url");
    bad("{\"media_type\":\"REELS\",\"video_url\":\"https://\"}", "video_url");
    bad("{\"media_type\":\"REELS\",\"video_url\":\"https://a.example/a b.mp4\"}", "video_url");
    bad("{\"media_type\":\"REELS\",\"video_url\":\"https://user@a.example/v.mp4\"}", "video_url");
    bad("{\"media_type\":\"REELS\",\"video_url\":\"javascript:alert(1)\"}", "video_url");
    bad("{\"media_type\":\"REELS\",\"video_url\":[\"https://a.example/v.mp4\"]}", "video_url");
    bad("{" REEL ",\"cover_url\":\"cover.jpg\"}", "cover_url");
    {
        char *u = apr_pstrcat(test_pool, "https://a.example/",
                              apr_psprintf(test_pool, "%02040d", 0), NULL);
        assert_int_equal(strlen(u), 2058);
        bad(apr_psprintf(test_pool, "{\"media_type\":\"REELS\",\"video_url\":\"%s\"}", u),
            "video_url");
        u[2048] = '\0';
        good(apr_psprintf(test_pool, "{\"media_type\":\"REELS\",\"video_url\":\"%s\"}", u));
    }
    assert_int_equal(
        val("{\"media_type\":\"IMAGE\",\"image_url\":\"http://a.example/i.jpg\"}", &req),
        APR_SUCCESS);
    assert_int_equal(req.media_type, IGRAPH_MEDIA_IMAGE);
}

static const char *carousel_of(int n)
{
    const char *items = "";
    int i;
    for (i = 0; i < n; i++) {
        items = apr_psprintf(test_pool, "%s%s{\"image_url\":\"https://a.example/%d.jpg\"}", items,
                             i ? "," : "", i);
    }
    return apr_psprintf(test_pool, "{\"media_type\":\"CAROUSEL\",\"children\":[%s]}", items);
}

static void test_validate_carousel(void **state)
{
    igraph_publish_req_t req;

    bad(carousel_of(1), "children");
    bad(carousel_of(11), "children");
    good(carousel_of(2));
    good(carousel_of(10));
    bad("{\"media_type\":\"CAROUSEL\"}", "children");
    bad("{\"media_type\":\"CAROUSEL\",\"children\":{}}", "children");
    bad("{\"media_type\":\"CAROUSEL\",\"image_url\":\"https://a.example/i.jpg\",\"children\":[{"
        "\"image_url\":\"https://a.example/1.jpg\"},{\"image_url\":\"https://a.example/2.jpg\"}]}",
        "image_url");
    bad("{\"media_type\":\"CAROUSEL\",\"children\":[{\"image_url\":\"https://a.example/1.jpg\"},"
        "\"https://a.example/2.jpg\"]}",
        "children[1]");
    bad("{\"media_type\":\"CAROUSEL\",\"children\":[{\"image_url\":\"https://a.example/1.jpg\"},"
        "{}]}",
        "children[1]");
    bad("{\"media_type\":\"CAROUSEL\",\"children\":[{\"image_url\":\"https://a.example/1.jpg\","
        "\"video_url\":\"https://a.example/1.mp4\"},{\"image_url\":\"https://a.example/2.jpg\"}]}",
        "children[0]");
    bad("{\"media_type\":\"CAROUSEL\",\"children\":[{\"image_url\":\"https://a.example/1.jpg\"},"
        "{\"video_url\":\"file:///etc/passwd\"}]}",
        "children[1].video_url");
    bad("{\"media_type\":\"CAROUSEL\",\"children\":[{\"image_url\":7},"
        "{\"video_url\":\"https://a.example/1.mp4\"}]}",
        "children[0].image_url");
    bad("{\"media_type\":\"CAROUSEL\",\"children\":[{\"image_url\":\"https://a.example/1.jpg\"},"
        "{\"video_url\":\"https://a.example/1.mp4\",\"media_type\":\"IMAGE\"}]}",
        "children[1].media_type");
    bad("{\"media_type\":\"CAROUSEL\",\"children\":[{\"image_url\":\"https://a.example/1.jpg\"},"
        "{\"video_url\":\"https://a.example/1.mp4\",\"media_type\":\"REELS\"}]}",
        "children[1].media_type");
    assert_int_equal(
        val("{\"media_type\":\"CAROUSEL\",\"caption\":\"two\",\"children\":[{\"image_url\":"
            "\"https://a.example/1.jpg\",\"media_type\":\"IMAGE\"},{\"video_url\":"
            "\"https://a.example/1.mp4\",\"media_type\":\"VIDEO\"}]}",
            &req),
        APR_SUCCESS);
    assert_int_equal(req.children->nelts, 2);
    assert_int_equal(APR_ARRAY_IDX(req.children, 0, igraph_publish_child_t).video, 0);
    assert_int_equal(APR_ARRAY_IDX(req.children, 1, igraph_publish_child_t).video, 1);
    assert_string_equal(APR_ARRAY_IDX(req.children, 1, igraph_publish_child_t).url,
                        "https://a.example/1.mp4");
}

static const char *repeat(const char *s, int n)
{
    const char *r = "";
    int i;
    for (i = 0; i < n; i++) {
        r = apr_pstrcat(test_pool, r, s, NULL);
    }
    return r;
}

static const char *with_caption(const char *caption)
{
    return apr_psprintf(test_pool, "{" REEL ",\"caption\":\"%s\"}", caption);
}

static void test_validate_caption(void **state)
{
    igraph_publish_req_t req;
    apr_size_t chars;
    int tags, mentions;

    good(with_caption(repeat("a", 2200)));
    bad(with_caption(repeat("a", 2201)), "caption");
    /* characters, not bytes: 2200 two-byte and 2200 four-byte characters are fine */
    good(with_caption(repeat("\xc3\xa9", 2200)));
    good(with_caption(repeat("\xf0\x9f\x8d\x9e", 2200)));
    bad(with_caption(repeat("\xc3\xa9", 2201)), "caption");
    /* 30 hashtags fine, 31 not; 20 mentions fine, 21 not */
    good(with_caption(repeat("#tag ", 30)));
    bad(with_caption(repeat("#tag ", 31)), "caption");
    good(with_caption(repeat("@user ", 20)));
    bad(with_caption(repeat("@user ", 21)), "caption");
    /* e-mail addresses, "#" alone, "C#" and issue numbers are not tags */
    good(with_caption(apr_pstrcat(test_pool, repeat("#tag ", 30), "a@b.example # C# x#1", NULL)));
    good(with_caption(apr_pstrcat(test_pool, repeat("@user ", 20), "me@example.org", NULL)));
    bad("{" REEL ",\"caption\":5}", "caption");
    bad("{" REEL ",\"caption\":\"bell\\u0007\"}", "caption");
    good("{" REEL ",\"caption\":\"line 1\\nline 2\\t#tab\"}");

    assert_int_equal(igraph_caption_count("Fresh #bread by @acme, mail me@x.org ##x #", &chars,
                                          &tags, &mentions),
                     APR_SUCCESS);
    assert_int_equal(chars, 42);
    assert_int_equal(tags, 2);
    assert_int_equal(mentions, 1);
    assert_int_equal(
        igraph_caption_count("\xf0\x9f\x8d\x9e#pain \xc3\xa9t\xc3\xa9", &chars, &tags, &mentions),
        APR_SUCCESS);
    assert_int_equal(chars, 10);
    assert_int_equal(tags, 1);
    assert_int_equal(igraph_caption_count("\xc3(", &chars, NULL, NULL), APR_EINVAL);
    assert_int_equal(igraph_caption_count("\xed\xa0\x80", &chars, NULL, NULL), APR_EINVAL);

    /* attribution happens in validation, and must still fit */
    assert_int_equal(val(with_caption("Buy it https://amzn.to/3xYz"), &req), APR_SUCCESS);
    assert_string_equal(req.caption, "Buy it https://amzn.to/3xYz #ad");
    assert_int_equal(req.caption_attributed, 1);
    good(with_caption(apr_pstrcat(test_pool, "https://amzn.to/x ", repeat("a", 2200 - 22), NULL)));
    bad(with_caption(apr_pstrcat(test_pool, "https://amzn.to/x ", repeat("a", 2200 - 21), NULL)),
        "caption");
    bad(with_caption(apr_pstrcat(test_pool, "https://amzn.to/x ", repeat("#t ", 30), NULL)),
        "caption");
}

static void test_validate_fields(void **state)
{
    igraph_publish_req_t req;

    bad("{\"account\":true," REEL "}", "account");
    bad("{\"account\":0," REEL "}", "account");
    bad("{\"account\":-3," REEL "}", "account");
    bad("{\"account\":\"@\"," REEL "}", "account");
    bad("{\"account\":\"@bad name\"," REEL "}", "account");
    bad("{" REEL ",\"share_to_feed\":\"true\"}", "share_to_feed");
    bad("{" REEL ",\"share_to_feed\":1}", "share_to_feed");
    bad("{" REEL ",\"thumb_offset\":-1}", "thumb_offset");
    bad("{" REEL ",\"thumb_offset\":1.5}", "thumb_offset");
    bad("{" REEL ",\"thumb_offset\":\"100\"}", "thumb_offset");
    good("{" REEL ",\"thumb_offset\":0}");
    good(apr_psprintf(test_pool, "{" REEL ",\"audio_name\":\"%s\"}", repeat("\xc3\xa9", 100)));
    bad(apr_psprintf(test_pool, "{" REEL ",\"audio_name\":\"%s\"}", repeat("a", 101)),
        "audio_name");
    bad("{" REEL ",\"audio_name\":\"a\\nb\"}", "audio_name");
    bad("{" REEL ",\"collaborators\":\"a\"}", "collaborators");
    bad("{" REEL ",\"collaborators\":[\"a\",\"b\",\"c\",\"d\"]}", "collaborators");
    bad("{" REEL ",\"collaborators\":[\"a b\"]}", "collaborators");
    bad("{" REEL ",\"collaborators\":[1]}", "collaborators");
    assert_int_equal(val("{" REEL ",\"collaborators\":[]}", &req), APR_SUCCESS);
    assert_null(req.collaborators);
    bad("{" REEL ",\"location_id\":\"12a\"}", "location_id");
    bad("{" REEL ",\"location_id\":-5}", "location_id");
    bad("{" REEL ",\"location_id\":1.5}", "location_id");
    bad("{" REEL ",\"user_tags\":{}}", "user_tags");
    bad("{" REEL ",\"user_tags\":[{\"x\":0.5,\"y\":0.5}]}", "user_tags[0]");
    bad("{" REEL ",\"user_tags\":[{\"username\":\"a\",\"x\":1.5,\"y\":0.5}]}", "user_tags[0]");
    bad("{" REEL ",\"user_tags\":[{\"username\":\"a\",\"x\":-0.1,\"y\":0.5}]}", "user_tags[0]");
    bad("{" REEL ",\"user_tags\":[{\"username\":\"a\",\"x\":\"0.5\",\"y\":0.5}]}", "user_tags[0]");
    bad("{" REEL ",\"user_tags\":[{\"username\":\"a\",\"x\":0.5}]}", "user_tags[0]");
    bad("{" REEL ",\"user_tags\":[{\"username\":\"a\"},5]}", "user_tags[1]");
    /* x/y are optional for reels and stories, required for images */
    assert_int_equal(val("{" REEL ",\"user_tags\":[{\"username\":\"@a\"}]}", &req), APR_SUCCESS);
    assert_string_equal(req.user_tags, "[{\"username\":\"a\"}]");
    bad("{\"media_type\":\"IMAGE\",\"image_url\":\"https://a.example/i.jpg\",\"user_tags\":[{"
        "\"username\":\"a\"}]}",
        "user_tags[0]");
    good("{\"media_type\":\"IMAGE\",\"image_url\":\"https://a.example/i.jpg\",\"user_tags\":[{"
         "\"username\":\"a\",\"x\":0,\"y\":0.25}]}");
    bad("{" REEL ",\"wait\":181}", "wait");
    bad("{" REEL ",\"wait\":-1}", "wait");
    bad("{" REEL ",\"wait\":\"10\"}", "wait");
    good("{" REEL ",\"wait\":180}");
    bad("{" REEL ",\"idempotency_key\":\"\"}", "idempotency_key");
    bad(apr_psprintf(test_pool, "{" REEL ",\"idempotency_key\":\"%s\"}", repeat("k", 129)),
        "idempotency_key");
    good(apr_psprintf(test_pool, "{" REEL ",\"idempotency_key\":\"%s\"}", repeat("k", 128)));
    bad("{" REEL ",\"idempotency_key\":\"caf\xc3\xa9\"}", "idempotency_key");
    bad("{" REEL ",\"idempotency_key\":5}", "idempotency_key");
    bad("{" REEL ",\"risk\":1.01}", "risk");
    bad("{" REEL ",\"risk\":-0.5}", "risk");
    bad("{" REEL ",\"risk\":\"low\"}", "risk");
    assert_int_equal(val("{" REEL ",\"risk\":1}", &req), APR_SUCCESS);
    assert_true(req.risk == 1.0);
    assert_int_equal(val("{" REEL ",\"risk\":0}", &req), APR_SUCCESS);
    assert_true(req.risk == 0.0);
    bad("{" REEL ",\"license\":3}", "license");
    bad(apr_psprintf(test_pool, "{" REEL ",\"license\":\"%s\"}", repeat("l", 201)), "license");
}

static void test_validate_publish_at(void **state)
{
    igraph_publish_req_t req;

    assert_int_equal(val("{" REEL ",\"publish_at\":\"2026-09-21T14:40:00Z\"}", &req), APR_SUCCESS);
    assert_int_equal(req.publish_at, 1790000000 + 1600);
    assert_int_equal(val("{" REEL ",\"publish_at\":\"2026-09-21T15:40:00.250+01:00\"}", &req),
                     APR_SUCCESS);
    assert_int_equal(req.publish_at, 1790000000 + 1600);
    assert_int_equal(val("{" REEL ",\"publish_at\":\"2026-09-21T09:40-0500\"}", &req), APR_SUCCESS);
    assert_int_equal(req.publish_at, 1790000000 + 1600);
    /* a valid leap day, but too far ahead */
    bad("{" REEL ",\"publish_at\":\"2028-02-29T00:00:00Z\"}", "publish_at");
    /* 75 days ahead is the limit */
    assert_int_equal(val("{" REEL ",\"publish_at\":\"2026-12-05T14:13:20Z\"}", &req), APR_SUCCESS);
    assert_int_equal(req.publish_at, NOW + 75 * 86400);
    bad("{" REEL ",\"publish_at\":\"2026-12-05T14:13:21Z\"}", "publish_at");
    /* past and now */
    bad("{" REEL ",\"publish_at\":\"2026-09-21T14:13:20Z\"}", "publish_at");
    bad("{" REEL ",\"publish_at\":\"2020-01-01T00:00:00Z\"}", "publish_at");
    /* malformed */
    bad("{" REEL ",\"publish_at\":\"2026-09-22T10:00:00\"}", "publish_at");
    bad("{" REEL ",\"publish_at\":\"2026-09-22 10:00:00Z\"}", "publish_at");
    bad("{" REEL ",\"publish_at\":\"2026-02-30T10:00:00Z\"}", "publish_at");
    bad("{" REEL ",\"publish_at\":\"2026-13-01T10:00:00Z\"}", "publish_at");
    bad("{" REEL ",\"publish_at\":\"2026-09-22T24:00:00Z\"}", "publish_at");
    bad("{" REEL ",\"publish_at\":\"2026-09-22T10:60:00Z\"}", "publish_at");
    bad("{" REEL ",\"publish_at\":\"2026-09-22T10:00:00+25:00\"}", "publish_at");
    bad("{" REEL ",\"publish_at\":\"2026-09-22T10:00:00Zjunk\"}", "publish_at");
    bad("{" REEL ",\"publish_at\":\"tomorrow\"}", "publish_at");
    bad("{" REEL ",\"publish_at\":1790064000}", "publish_at");
}

/* ---- attribution and compliance ---------------------------------------------------------------
 */

static void test_attribution(void **state)
{
    const char *hosts = "amzn.to,shop.example-aff.com";

#define ATTR(in) igraph_caption_attribute(test_pool, (in), hosts)
    /* Amazon's tag= without any host list */
    assert_string_equal(igraph_caption_attribute(
                            test_pool, "Get it: https://www.amazon.com/dp/B0C1?tag=acme-21", NULL),
                        "Get it: https://www.amazon.com/dp/B0C1?tag=acme-21 #ad");
    assert_string_equal(ATTR("link (https://example.org/p?x=1&aff_id=42)."),
                        "link (https://example.org/p?x=1&aff_id=42). #ad");
    assert_string_equal(ATTR("https://example.org/?utm_source=ig&utm_medium=affiliate"),
                        "https://example.org/?utm_source=ig&utm_medium=affiliate #ad");
    assert_string_equal(ATTR("go https://x.example/?irclickid=abc"),
                        "go https://x.example/?irclickid=abc #ad");
    assert_string_equal(ATTR("bare example.org/item?ref=me"), "bare example.org/item?ref=me #ad");
    /* listed hosts and their subdomains, with or without scheme */
    assert_string_equal(ATTR("Deal: amzn.to/3xYz"), "Deal: amzn.to/3xYz #ad");
    assert_string_equal(ATTR("HTTPS://AMZN.TO/3xYz!"), "HTTPS://AMZN.TO/3xYz! #ad");
    assert_string_equal(ATTR("see https://eu.shop.example-aff.com/p"),
                        "see https://eu.shop.example-aff.com/p #ad");
    assert_string_equal(ATTR("see https://shop.example-aff.com:8443/p"),
                        "see https://shop.example-aff.com:8443/p #ad");
    /* lookalikes are not listed hosts */
    assert_string_equal(ATTR("see https://notamzn.to/p"), "see https://notamzn.to/p");
    assert_string_equal(ATTR("see https://amzn.to.evil.example/p"),
                        "see https://amzn.to.evil.example/p");
    assert_string_equal(ATTR("see https://example-aff.com/p"), "see https://example-aff.com/p");
    /* already disclosed, in any case, as a whole word */
    assert_string_equal(ATTR("https://amzn.to/x #ad"), "https://amzn.to/x #ad");
    assert_string_equal(ATTR("#AD https://amzn.to/x"), "#AD https://amzn.to/x");
    assert_string_equal(ATTR("https://amzn.to/x #Ad."), "https://amzn.to/x #Ad.");
    assert_string_equal(ATTR("https://amzn.to/x #ads"), "https://amzn.to/x #ads #ad");
    assert_string_equal(ATTR("https://amzn.to/x #adventure"), "https://amzn.to/x #adventure #ad");
    /* no affiliate link */
    assert_string_equal(ATTR("Fresh bread today #acme"), "Fresh bread today #acme");
    assert_string_equal(ATTR("https://example.org/p?page=2&tags=x"),
                        "https://example.org/p?page=2&tags=x");
    assert_string_equal(ATTR("mail me@amzn.to"), "mail me@amzn.to");
    assert_string_equal(ATTR("e.g. tag=foo"), "e.g. tag=foo");
    assert_string_equal(ATTR(""), "");
    assert_null(ATTR(NULL));
#undef ATTR
}

static void test_compliance(void **state)
{
    const char *why;

    assert_int_equal(igraph_compliance_check(test_pool, -1, NULL, 0.2, 0, &why), 0);
    assert_null(why);
    assert_int_equal(igraph_compliance_check(test_pool, 0.1, "cc-by", 0.2, 1, &why), 0);
    assert_int_equal(igraph_compliance_check(test_pool, 0.3, NULL, 0.2, 0, &why), 1);
    assert_string_equal(why, "risk 0.3 >= 0.2");
    assert_int_equal(igraph_compliance_check(test_pool, 0.2, NULL, 0.2, 0, &why), 1);
    assert_string_equal(why, "risk 0.2 >= 0.2");
    assert_int_equal(igraph_compliance_check(test_pool, 0, " Unknown ", 0.2, 0, &why), 1);
    assert_string_equal(why, "license unknown");
    assert_int_equal(igraph_compliance_check(test_pool, -1, NULL, 0.2, 1, &why), 1);
    assert_string_equal(why, "license missing");
    assert_int_equal(igraph_compliance_check(test_pool, -1, "  ", 0.2, 1, &why), 1);
    assert_string_equal(why, "license missing");
    assert_int_equal(igraph_compliance_check(test_pool, -1, "", 0.2, 0, &why), 0);
    assert_int_equal(igraph_compliance_check(test_pool, 1, "own", 1.5, 1, &why), 0);
}

/* ---- container parameters and the stored request ----------------------------------------------
 */

/* "k=v&..." of a table, for comparisons. */
static const char *table_str(const apr_table_t *t)
{
    const apr_array_header_t *arr = apr_table_elts(t);
    const char *s = "";
    int i;
    for (i = 0; i < arr->nelts; i++) {
        const apr_table_entry_t *e = &APR_ARRAY_IDX(arr, i, apr_table_entry_t);
        s = apr_pstrcat(test_pool, s, i ? "&" : "", e->key, "=", e->val, NULL);
    }
    return s;
}

static void test_container_params(void **state)
{
    igraph_publish_req_t req, back;
    const char *json;

    assert_int_equal(
        val("{" REEL ",\"caption\":\"c\",\"share_to_feed\":true,\"cover_url\":"
            "\"https://a.example/c.jpg\",\"thumb_offset\":1500,\"audio_name\":\"song\","
            "\"collaborators\":[\"x\"],\"location_id\":\"7\",\"user_tags\":[{\"username\":\"u\"}]}",
            &req),
        APR_SUCCESS);
    assert_string_equal(table_str(igraph_job_container_params(test_pool, &req, -1, NULL)),
                        "media_type=REELS&video_url=https://cdn.example.org/v/7.mp4&caption=c"
                        "&share_to_feed=true&cover_url=https://a.example/c.jpg&thumb_offset=1500"
                        "&audio_name=song&collaborators=[\"x\"]&location_id=7"
                        "&user_tags=[{\"username\":\"u\"}]");
    /* the stored request gives the same containers */
    json = igraph_publish_req_to_json(test_pool, &req);
    assert_int_equal(igraph_publish_req_from_json(test_pool, json, &back), APR_SUCCESS);
    assert_string_equal(table_str(igraph_job_container_params(test_pool, &back, -1, NULL)),
                        table_str(igraph_job_container_params(test_pool, &req, -1, NULL)));

    /* a single image has no media_type; reel-only fields are not sent */
    assert_int_equal(
        val("{\"media_type\":\"IMAGE\",\"image_url\":\"https://a.example/i.jpg\",\"caption\":"
            "\"c\",\"share_to_feed\":true,\"thumb_offset\":5,\"location_id\":8}",
            &req),
        APR_SUCCESS);
    assert_string_equal(table_str(igraph_job_container_params(test_pool, &req, -1, NULL)),
                        "image_url=https://a.example/i.jpg&caption=c&location_id=8");

    /* stories: no caption, collaborators or location */
    assert_int_equal(
        val("{\"media_type\":\"STORIES\",\"video_url\":\"https://a.example/s.mp4\",\"caption\":"
            "\"c\",\"collaborators\":[\"x\"],\"location_id\":8,\"user_tags\":[{\"username\":"
            "\"u\",\"x\":0.5,\"y\":0.5}]}",
            &req),
        APR_SUCCESS);
    assert_string_equal(table_str(igraph_job_container_params(test_pool, &req, -1, NULL)),
                        "media_type=STORIES&video_url=https://a.example/s.mp4"
                        "&user_tags=[{\"username\":\"u\",\"x\":0.5,\"y\":0.5}]");

    /* carousel: children and parent */
    assert_int_equal(
        val("{\"media_type\":\"CAROUSEL\",\"caption\":\"two\",\"collaborators\":[\"x\"],"
            "\"children\":[{\"image_url\":\"https://a.example/1.jpg\"},{\"video_url\":"
            "\"https://a.example/2.mp4\"}]}",
            &req),
        APR_SUCCESS);
    assert_string_equal(table_str(igraph_job_container_params(test_pool, &req, 0, NULL)),
                        "image_url=https://a.example/1.jpg&is_carousel_item=true");
    assert_string_equal(table_str(igraph_job_container_params(test_pool, &req, 1, NULL)),
                        "media_type=VIDEO&video_url=https://a.example/2.mp4&is_carousel_item=true");
    assert_string_equal(table_str(igraph_job_container_params(test_pool, &req, 2, NULL)), "");
    assert_string_equal(table_str(igraph_job_container_params(test_pool, &req, -1, "11,12")),
                        "media_type=CAROUSEL&children=11,12&caption=two&collaborators=[\"x\"]");
    json = igraph_publish_req_to_json(test_pool, &req);
    assert_int_equal(igraph_publish_req_from_json(test_pool, json, &back), APR_SUCCESS);
    assert_int_equal(back.children->nelts, 2);
    assert_string_equal(table_str(igraph_job_container_params(test_pool, &back, 1, NULL)),
                        table_str(igraph_job_container_params(test_pool, &req, 1, NULL)));

    assert_int_equal(igraph_publish_req_from_json(test_pool, "{}", &back), APR_EINVAL);
    assert_int_equal(igraph_publish_req_from_json(test_pool, "nope", &back), APR_EINVAL);
    assert_int_equal(igraph_publish_req_from_json(test_pool, NULL, &back), APR_EINVAL);
}

static void test_media_key(void **state)
{
    igraph_publish_req_t a, b;
    const char *ka;

    assert_int_equal(val("{" REEL ",\"caption\":\"one\"}", &a), APR_SUCCESS);
    assert_int_equal(val("{" REEL ",\"caption\":\"two\",\"share_to_feed\":true}", &b), APR_SUCCESS);
    ka = igraph_publish_media_key(test_pool, &a);
    assert_int_equal(strlen(ka), 64);
    assert_string_equal(ka, igraph_publish_media_key(test_pool, &b));
    assert_int_equal(val("{\"media_type\":\"REELS\",\"video_url\":\"https://cdn.example.org/v/8.mp4"
                         "\"}",
                         &b),
                     APR_SUCCESS);
    assert_string_not_equal(ka, igraph_publish_media_key(test_pool, &b));
    assert_int_equal(val(carousel_of(2), &a), APR_SUCCESS);
    assert_int_equal(val(carousel_of(3), &b), APR_SUCCESS);
    assert_string_not_equal(igraph_publish_media_key(test_pool, &a),
                            igraph_publish_media_key(test_pool, &b));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_names, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_poll_delay, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_poll_targets, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_reels_happy_path, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_carousel, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_container_error_and_expired, test_pool_setup,
                                        test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_error_classes, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_rate_limit, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_transient_backoff, test_pool_setup,
                                        test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_not_ready, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_timeout, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_quota_scheduled, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_quota_reached, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_account_unusable, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_account_unusable_apply, test_pool_setup,
                                        test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_publish_unknown_outcome, test_pool_setup,
                                        test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_crash_safety, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_publish_retry_bounded, test_pool_setup,
                                        test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_restricted_publish, test_pool_setup,
                                        test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_read_back, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_and_final, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_validate_seed, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_validate_full, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_validate_media, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_validate_carousel, test_pool_setup,
                                        test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_validate_caption, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_validate_fields, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_validate_publish_at, test_pool_setup,
                                        test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_attribution, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_compliance, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_container_params, test_pool_setup, test_pool_teardown),
        cmocka_unit_test_setup_teardown(test_media_key, test_pool_setup, test_pool_teardown),
    };
    int rc;

    apr_initialize();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    apr_terminate();
    return rc;
}
