"""Publishing through the job pipeline: every media type, errors, guardrails, restarts.
Counts posts on the fake server: nothing may ever be published twice."""
import os
import signal
import time

import pytest

from flows import accounts, connect

REEL = {"video_url": "https://cdn.example.org/v/7.mp4", "caption": "Behind the oven",
        "share_to_feed": True}
FAST = {"finish_after_polls": 1}      # containers ready at the first status poll


def publishes(fake, ig_id=None):
    pubs = fake.state()["publishes"]
    return pubs.get(ig_id, 0) if ig_id else sum(pubs.values())


def wait_job(s, h, job_id, pred, timeout=30):
    import requests
    end = time.time() + timeout
    j = None
    while True:
        try:
            j = s.get(h.url(f"/ig/publish/{job_id}")).json()["job"]
        except requests.ConnectionError:
            pass            # a killed child's keep-alive connection; ask again
        if (j and pred(j)) or time.time() > end:
            return j
        time.sleep(0.3)


@pytest.fixture
def pub(make_httpd, fake):
    """An httpd with one connected Instagram-login account; returns (httpd, session, account)."""
    fake.control("config", {"container": FAST})
    fake.control("ig_user", {"username": "pub.acct"})
    h = make_httpd(directives="IGraphPublishWait 60s\nIGraphMaintenanceInterval 1s")
    s = h.session()
    assert connect(h, s, "instagram").status_code == 302
    [a] = accounts(h, s)
    return h, s, a


def test_seed_route_publishes_a_reel(pub, fake):
    h, s, a = pub
    r = s.post(h.url("/ig/reels/publish"), json=REEL)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ok"] is True and body["creation_id"] and body["media_id"]
    assert publishes(fake, a["ig_user_id"]) == 1
    job = s.get(h.url(f"/ig/publish/{body['job_id']}")).json()["job"]
    assert job["status"] == "published" and job["permalink"].startswith("http")
    assert job["media_type"] == "REELS" and job["caption"] == "Behind the oven"


@pytest.mark.parametrize("body", [
    {"media_type": "IMAGE", "image_url": "https://cdn.example.org/p/1.jpg", "caption": "img"},
    {"media_type": "STORIES", "image_url": "https://cdn.example.org/s/1.jpg"},
    {"media_type": "STORIES", "video_url": "https://cdn.example.org/s/1.mp4"},
    {"media_type": "CAROUSEL", "caption": "two",
     "children": [{"image_url": "https://cdn.example.org/c/1.jpg"},
                  {"video_url": "https://cdn.example.org/c/2.mp4"}]},
    {"media_type": "REELS", "video_url": "https://cdn.example.org/v/9.mp4", "caption": "r",
     "share_to_feed": False, "thumb_offset": 1500, "collaborators": ["friend.shop"]},
])
def test_every_media_type_publishes_once(pub, fake, body):
    h, s, a = pub
    r = s.post(h.url("/ig/publish"), json={**body, "wait": 30})
    assert r.status_code == 200, r.text
    job = r.json()["job"]
    assert job["status"] == "published", job
    assert job["media_type"] == body["media_type"]
    assert publishes(fake, a["ig_user_id"]) == 1


def test_accept_without_waiting_then_poll(pub, fake):
    h, s, a = pub
    r = s.post(h.url("/ig/publish"), json={"media_type": "IMAGE",
                                           "image_url": "https://cdn.example.org/p/2.jpg"})
    assert r.status_code == 202
    job = r.json()["job"]
    assert job["status"] in ("queued", "processing")
    done = wait_job(s, h, job["id"], lambda j: j["status"] == "published")
    assert done["status"] == "published" and done["media_id"]
    listed = s.get(h.url("/ig/publish?status=published&limit=5")).json()["jobs"]
    assert [j["id"] for j in listed] == [job["id"]]


def test_container_error_is_a_400_with_metas_reason(pub, fake):
    h, s, a = pub
    fake.control("config", {"container": {"finish_after_polls": 1, "outcome": "ERROR",
                                          "error_subcode": 2207026}})
    r = s.post(h.url("/ig/reels/publish"), json=REEL)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["ok"] is False and body["creation_id"]
    assert "2207026" in body["status"]
    assert publishes(fake) == 0


def test_slow_container_times_out_and_keeps_going(make_httpd, fake):
    fake.control("config", {"container": {"finish_after_seconds": 6}})
    fake.control("ig_user", {"username": "slow.acct"})
    h = make_httpd(directives="IGraphPublishWait 2s")
    s = h.session()
    connect(h, s, "instagram")
    r = s.post(h.url("/ig/reels/publish"), json=REEL)
    assert r.status_code == 504, r.text
    body = r.json()
    assert body["ok"] is False and body["error"] == "timeout" and body["job_id"]
    done = wait_job(s, h, body["job_id"], lambda j: j["status"] == "published", timeout=40)
    assert done["status"] == "published"
    assert publishes(fake) == 1


def test_validation_names_the_field(pub, fake):
    h, s, a = pub
    cases = [
        ({"media_type": "REELS"}, "video_url"),
        ({"media_type": "IMAGE", "image_url": "ftp://x/y.jpg"}, "image_url"),
        ({"media_type": "GIF", "image_url": "https://x.example/y.jpg"}, "media_type"),
        ({"media_type": "IMAGE", "image_url": "https://x.example/y.jpg", "caption": "x" * 2201},
         "caption"),
        ({"media_type": "IMAGE", "image_url": "https://x.example/y.jpg",
          "caption": " ".join("#t%d" % i for i in range(31))}, "caption"),
        ({"media_type": "IMAGE", "image_url": "https://x.example/y.jpg",
          "caption": " ".join("@u%d" % i for i in range(21))}, "caption"),
        ({"media_type": "CAROUSEL", "children": [{"image_url": "https://x.example/1.jpg"}]},
         "children"),
        ({"media_type": "CAROUSEL", "children": [{"image_url": "https://x.example/%d.jpg" % i}
                                                 for i in range(11)]}, "children"),
        ({"media_type": "IMAGE", "image_url": 42}, "image_url"),
    ]
    for body, field in cases:
        r = s.post(h.url("/ig/publish"), json=body)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["error"] == "invalid_request" and field in r.json()["field"], r.text
    r = s.post(h.url("/ig/publish"), data="{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_json"
    r = s.post(h.url("/ig/publish"), data="a=b")
    assert r.status_code == 415
    r = s.post(h.url("/ig/publish"), data="{" + " " * 70000 + "}",
               headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert publishes(fake) == 0


def test_idempotency_and_duplicates(pub, fake):
    h, s, a = pub
    body = {"media_type": "IMAGE", "image_url": "https://cdn.example.org/p/3.jpg"}
    r1 = s.post(h.url("/ig/publish"), json=body, headers={"Idempotency-Key": "k-1"})
    r2 = s.post(h.url("/ig/publish"), json={**body, "caption": "changed"},
                headers={"Idempotency-Key": "k-1"})
    assert r2.status_code == 200 and r2.json()["job"]["id"] == r1.json()["job"]["id"]
    # same media without a key: the seed's "same video_url -> skip"
    r3 = s.post(h.url("/ig/publish"), json=body)
    assert r3.status_code == 200 and r3.json()["duplicate"] is True
    assert r3.json()["job"]["id"] == r1.json()["job"]["id"]
    wait_job(s, h, r1.json()["job"]["id"], lambda j: j["status"] == "published")
    time.sleep(1.5)
    assert publishes(fake) == 1


def test_affiliate_link_gets_ad(pub, fake):
    h, s, a = pub
    r = s.post(h.url("/ig/publish"), json={
        "media_type": "IMAGE", "image_url": "https://cdn.example.org/p/4.jpg",
        "caption": "Love it https://www.amazon.com/dp/B0?tag=me-20", "wait": 30})
    assert r.json()["job"]["caption"].endswith(" #ad")
    r = s.post(h.url("/ig/publish"), json={
        "media_type": "IMAGE", "image_url": "https://cdn.example.org/p/5.jpg",
        "caption": "Love it https://www.amazon.com/dp/B0?tag=me-20 #AD"})
    assert r.json()["job"]["caption"].endswith("#AD")


def test_compliance_gate(pub, fake):
    h, s, a = pub
    base = {"media_type": "IMAGE", "image_url": "https://cdn.example.org/p/6.jpg"}
    r = s.post(h.url("/ig/publish"), json={**base, "risk": 0.5})
    assert r.status_code == 422 and r.json()["error"] == "compliance_refused"
    r = s.post(h.url("/ig/publish"), json={**base, "license": "unknown"})
    assert r.status_code == 422
    r = s.post(h.url("/ig/publish"), json={**base, "risk": 0.1, "license": "own"})
    assert r.status_code in (200, 202)


def test_no_account_and_owner_isolation(make_httpd, fake):
    fake.control("config", {"container": FAST})
    h = make_httpd(require_user=True)
    alice, bob = h.session("alice"), h.session("bob")
    r = alice.post(h.url("/ig/reels/publish"), json=REEL)
    assert r.status_code == 400 and r.json()["error"] == "meta_ig_not_connected"
    fake.control("ig_user", {"username": "alice.ig"})
    connect(h, alice, "instagram")
    r = alice.post(h.url("/ig/publish"), json={"media_type": "IMAGE",
                                               "image_url": "https://cdn.example.org/p/7.jpg"})
    job_id = r.json()["job"]["id"]
    assert bob.get(h.url(f"/ig/publish/{job_id}")).status_code == 404
    assert bob.delete(h.url(f"/ig/publish/{job_id}")).status_code == 404
    assert bob.get(h.url("/ig/publish")).json()["jobs"] == []
    r = bob.post(h.url("/ig/publish"), json={"account": "@alice.ig", "media_type": "IMAGE",
                                             "image_url": "https://cdn.example.org/p/8.jpg"})
    assert r.status_code == 404


def test_permission_missing(make_httpd, fake):
    fake.control("fb_user", {"name": "A", "declined": ["instagram_content_publish"],
                             "granted": ["pages_show_list", "pages_read_engagement",
                                         "instagram_basic"],
                             "pages": [{"name": "P", "ig_username": "no.publish"}]})
    h = make_httpd()
    s = h.session()
    connect(h, s, "facebook")
    fake.clear_requests()
    r = s.post(h.url("/ig/reels/publish"), json=REEL)
    assert r.status_code == 403 and r.json()["error"] == "permission_missing"
    assert not [q for q in fake.requests_log() if "/media" in q["path"]]


def test_schedule_and_cancel(pub, fake):
    h, s, a = pub
    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    r = s.post(h.url("/ig/publish"), json={"media_type": "IMAGE", "publish_at": at,
                                           "image_url": "https://cdn.example.org/p/9.jpg"})
    assert r.status_code == 202
    job = r.json()["job"]
    assert job["status"] == "queued" and job["publish_at"] == at
    r = s.delete(h.url(f"/ig/publish/{job['id']}"))
    assert r.status_code == 200 and r.json()["job"]["status"] == "cancelled"
    # a published job cannot be cancelled
    r = s.post(h.url("/ig/publish"), json={"media_type": "IMAGE", "wait": 30,
                                           "image_url": "https://cdn.example.org/p/10.jpg"})
    assert r.json()["job"]["status"] == "published"
    r = s.delete(h.url(f"/ig/publish/{r.json()['job']['id']}"))
    assert r.status_code == 409 and r.json()["error"] == "too_late"
    assert publishes(fake) == 1


def test_quota_exhausted(pub, fake):
    h, s, a = pub
    fake.control("config", {"quota_total": 1})
    r = s.post(h.url("/ig/publish"), json={"media_type": "IMAGE", "wait": 30,
                                           "image_url": "https://cdn.example.org/q/1.jpg"})
    assert r.json()["job"]["status"] == "published"
    r = s.post(h.url("/ig/publish"), json={"media_type": "IMAGE", "wait": 30,
                                           "image_url": "https://cdn.example.org/q/2.jpg"})
    job = r.json()["job"]
    assert job["status"] == "failed" and job["error"] == "quota_exhausted"
    assert publishes(fake) == 1


def test_invalid_token_fails_job_and_marks_account(pub, fake):
    h, s, a = pub
    fake.control("revoke", {"subject": a["ig_user_id"], "subcode": 460})
    for t in fake.state()["tokens"]:
        if t["kind"] == "ig_long":
            fake.control("revoke", {"token": t["token"]})
    r = s.post(h.url("/ig/publish"), json={"media_type": "IMAGE", "wait": 30,
                                           "image_url": "https://cdn.example.org/t/1.jpg"})
    job = r.json()["job"]
    assert job["status"] == "failed" and job["error"] == "token_invalid", job
    assert accounts(h, s)[0]["status"] == "needs_reauth"
    r = s.post(h.url("/ig/reels/publish"), json=REEL)
    assert r.status_code == 409 and r.json()["error"] == "account_needs_reauth"


def test_dropped_publish_response_never_publishes_twice(pub, fake):
    h, s, a = pub
    fake.control("config", {"drop_publish_response": True})
    r = s.post(h.url("/ig/publish"), json={"media_type": "IMAGE", "wait": 45,
                                           "image_url": "https://cdn.example.org/d/1.jpg"})
    job = r.json()["job"]
    assert job["status"] == "published", job
    assert publishes(fake) == 1


def test_concurrency_cap_per_account(make_httpd, fake):
    fake.control("config", {"container": {"finish_after_seconds": 1}})
    fake.control("ig_user", {"username": "cap.acct"})
    h = make_httpd(directives="IGraphPublishConcurrency 1")
    s = h.session()
    connect(h, s, "instagram")
    ids = [s.post(h.url("/ig/publish"), json={"media_type": "IMAGE",
                                              "image_url": f"https://cdn.example.org/c/{i}.jpg"}
                  ).json()["job"]["id"] for i in range(3)]
    seen_max = 0
    end = time.time() + 40
    while time.time() < end:
        jobs = s.get(h.url("/ig/publish")).json()["jobs"]
        inflight = sum(1 for j in jobs if j["status"] in ("processing", "publishing"))
        seen_max = max(seen_max, inflight)
        if all(j["status"] == "published" for j in jobs):
            break
        time.sleep(0.2)
    assert all(j["status"] == "published" for j in s.get(h.url("/ig/publish")).json()["jobs"])
    assert seen_max == 1
    assert publishes(fake) == 3


def _kill_worker(h):
    """kill -9 the child that runs the worker (it logged IG0054)."""
    pids = {int(l.split("[pid ")[1].split(":")[0]) for l in h.error_log_text().splitlines()
            if "IG0054" in l}
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.mark.processes
@pytest.mark.parametrize("state,how", [("processing", "graceful"), ("processing", "kill"),
                                       ("queued", "kill"), ("publishing", "kill"),
                                       ("publishing", "graceful")])
def test_restart_mid_job_resumes_without_double_publish(make_httpd, fake, state, how):
    fake.control("config", {"container": {"finish_after_seconds": 4}})
    fake.control("ig_user", {"username": "restart.acct"})
    # Graph calls time out after 5 s, so a job claimed by a killed worker is free again after
    # 15 s (the claim outlives two calls) instead of 45 s
    h = make_httpd(mpm="prefork", allowed=[r"AH00052"] if how == "kill" else [],
                   directives="IGraphGraphTimeout 5s")
    s = h.session()
    connect(h, s, "instagram")
    body = {**REEL, "wait": 0}
    if state == "queued":
        body["publish_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 700))
    if state == "publishing":
        # media_publish is processed by Meta only after a long pause: the job sits in
        # "publishing" with the publish sent when the worker goes away
        fake.control("fault", {"route": r"/media_publish$", "kind": "hang", "seconds": 12,
                               "times": 1})
    r = s.post(h.url("/ig/reels/publish"), json=body)
    job_id = r.json()["job_id"]
    wait_job(s, h, job_id, lambda j: j["status"] == state, timeout=20)
    if state == "publishing":
        time.sleep(1)
    if how == "graceful":
        h.graceful()
    else:
        _kill_worker(h)
    if state == "queued":
        # the post is due in ~12 min: the job must still be there, queued, after the restart
        time.sleep(2)
        job = s.get(h.url(f"/ig/publish/{job_id}")).json()["job"]
        assert job["status"] in ("queued", "processing"), job
        return
    done = wait_job(s, h, job_id, lambda j: j["status"] == "published", timeout=90)
    assert done["status"] == "published", done
    time.sleep(2)
    assert publishes(fake) == 1


@pytest.mark.parametrize("fault,expect", [
    # transient 5xx on a status poll: retried
    ({"route": r"graph.instagram.com/v[0-9.]+/\d+$", "method": "GET", "status": 500, "code": 2,
      "message": "Service temporarily unavailable", "times": 1}, ("published", None)),
    # HTML error page from a proxy: transient too
    ({"route": r"graph.instagram.com/v[0-9.]+/\d+$", "method": "GET", "kind": "html",
      "status": 502, "times": 1}, ("published", None)),
    # the media cannot be fetched: fails with Meta's reason
    ({"route": r"graph.instagram.com/v[0-9.]+/\d+/media$", "method": "POST", "status": 400,
      "code": 9004, "subcode": 2207052, "message": "The media could not be fetched from this uri"},
     ("failed", "media_error")),
    # not ready at publish time (9007): keeps polling, then publishes
    ({"route": r"graph.instagram.com/v[0-9.]+/\d+/media_publish$", "status": 400, "code": 9007,
      "subcode": 2207027, "message": "The media is not ready for publishing", "times": 1},
     ("published", None)),
])
def test_graph_error_classes(pub, fake, fault, expect):
    h, s, a = pub
    fake.control("fault", fault)
    r = s.post(h.url("/ig/publish"), json={"media_type": "IMAGE", "wait": 45,
                                           "image_url": "https://cdn.example.org/e/1.jpg"})
    job = r.json()["job"]
    assert (job["status"], job["error"]) == expect, job
    if expect[0] == "failed":
        assert "could not be fetched" in job["error_message"]
    assert publishes(fake) == (1 if expect[0] == "published" else 0)


def test_rate_limit_pauses_the_account_instead_of_failing(pub, fake):
    h, s, a = pub
    fake.control("fault", {"route": r"graph.instagram.com/v[0-9.]+/\d+/media$", "method": "POST",
                           "status": 400, "code": 4, "times": 1,
                           "message": "Application request limit reached"})
    r = s.post(h.url("/ig/publish"), json={"media_type": "IMAGE", "wait": 5,
                                           "image_url": "https://cdn.example.org/r/1.jpg"})
    job = r.json()["job"]
    assert job["status"] == "queued" and job["error"] is None, job
    r = s.post(h.url("/ig/publish"), json={"media_type": "IMAGE", "wait": 4,
                                           "image_url": "https://cdn.example.org/r/2.jpg"})
    assert r.json()["job"]["status"] == "queued", "the whole account waits"
    creates = [q for q in fake.requests_log()
               if q["method"] == "POST" and q["path"].endswith("/media")]
    assert len(creates) == 1
    assert "IG0064" in h.error_log_text()
    assert publishes(fake) == 0


def test_expired_container_fails_cleanly(pub, fake):
    h, s, a = pub
    fake.control("config", {"container": {"finish_after_seconds": 10 ** 6}})
    r = s.post(h.url("/ig/publish"), json={"media_type": "IMAGE",
                                           "image_url": "https://cdn.example.org/x/1.jpg"})
    job_id = r.json()["job"]["id"]
    wait_job(s, h, job_id, lambda j: j["status"] == "processing" and j["creation_id"])
    fake.control("clock", {"advance": 25 * 3600})
    job = wait_job(s, h, job_id, lambda j: j["status"] == "failed", timeout=40)
    assert job["status"] == "failed" and job["error"] == "container_expired", job
    assert publishes(fake) == 0


def test_scheduled_post_goes_out_at_its_time(pub, fake):
    h, s, a = pub
    at_epoch = int(time.time()) + 8
    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at_epoch))
    r = s.post(h.url("/ig/publish"), json={"media_type": "IMAGE", "publish_at": at,
                                           "image_url": "https://cdn.example.org/s/9.jpg"})
    job_id = r.json()["job"]["id"]
    time.sleep(4)
    assert publishes(fake) == 0
    job = wait_job(s, h, job_id, lambda j: j["status"] == "published", timeout=30)
    assert job["status"] == "published"
    pub_req = [q for q in fake.requests_log() if q["path"].endswith("/media_publish")]
    assert pub_req and pub_req[-1]["t"] >= at_epoch - 1


def test_concurrent_accepts_are_each_recorded_once(pub, fake):
    """Accepts that arrive together share one commit (group commit): every 202 is a job row of its
    own, a repeated idempotency key among them is one job, and every job is published once."""
    import concurrent.futures
    import requests
    h, s, a = pub
    fake.control("config", {"container": {"finish_after_seconds": 100000, "finish_after_polls": 0}})

    def post(i):
        body = {"media_type": "IMAGE", "image_url": f"https://cdn.example.org/g/{i}.jpg",
                "caption": f"group {i}"}
        if i % 10 == 0:
            body["idempotency_key"] = "one-key"
        r = requests.post(h.url("/ig/publish"), json=body, timeout=30)
        return r.status_code, r.json()

    with concurrent.futures.ThreadPoolExecutor(max_workers=24) as ex:
        answers = list(ex.map(post, range(120)))
    assert all(code in (200, 202) for code, _ in answers), answers[:3]
    keyed = [b for i, (_, b) in enumerate(answers) if i % 10 == 0]
    assert len({b["job"]["id"] for b in keyed}) == 1, keyed
    assert sum(1 for b in keyed if not b.get("duplicate")) == 1
    ids = {b["job"]["id"] for _, b in answers}
    assert len(ids) == 120 - 12 + 1
    rows = h.sql("SELECT id FROM jobs")
    assert {r[0] for r in rows} == ids
