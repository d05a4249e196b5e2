"""Hostile and malformed input on every route: always the documented 4xx, the server alive, the
database consistent, nothing published. And hostile answers from "Meta"."""
import json
import time

import pytest
import requests

from flows import accounts, connect

INJECT = ["' OR 1=1 --", "\"; DROP TABLE accounts; --", "<script>alert(1)</script>",
          "../../etc/passwd", "%00", "\u202e\u0000", "A" * 5000, "${jndi:ldap://x}", "{{7*7}}",
          "\ud800"]


def _routes_get():
    paths = ["/ig/api/accounts/{}", "/ig/publish/{}", "/ig/api/accounts/{}/refresh",
             "/ig/accounts/{}/disable", "/ig/meta/deletion?code={}",
             "/ig/oauth/start?login={}", "/ig/oauth/callback?state={}&code=x",
             "/ig/assets/{}", "/ig/publish?status={}", "/ig/publish?limit={}",
             "/ig/api/events?limit={}"]
    vals = ["..%2f..%2fetc%2fpasswd", "-1", "0", "99999999999999999999", "1e3", "%27%20OR%201%3D1",
            "%3Cscript%3E", "%ff%fe", "abc", ""]
    return [(p, v) for p in paths for v in vals]


def _bodies():
    good = {"media_type": "IMAGE", "image_url": "https://cdn.example.org/b.jpg"}
    bodies = [
        "", "{", "[]", "null", "42", '"str"', "{\"a\":", "\xff\xfe", "{}" * 1000,
        "[" * 100 + "]" * 100, '{"media_type":' + "[" * 50 + "]" * 50 + "}",
    ]
    bodies += [json.dumps({**good, k: v}) for k, v in [
        ("media_type", 1), ("media_type", None), ("media_type", ["IMAGE"]), ("image_url", True),
        ("image_url", "javascript:alert(1)"), ("image_url", "http://"), ("image_url", "x" * 3000),
        ("caption", 5), ("caption", "x" * 2201), ("caption", {"a": 1}), ("share_to_feed", "yes"),
        ("thumb_offset", -5), ("thumb_offset", "10"), ("children", "nope"),
        ("collaborators", ["a", "b", "c", "d"]), ("collaborators", "a"), ("location_id", "abc"),
        ("user_tags", [{"username": "a", "x": 2, "y": 0}]), ("publish_at", "yesterday"),
        ("publish_at", "2001-01-01T00:00:00Z"), ("wait", -1), ("wait", 10 ** 9), ("risk", "high"),
        ("risk", 7), ("account", {"id": 1}), ("account", "@nobody"), ("idempotency_key", 12),
    ]]
    bodies += [json.dumps({"media_type": "CAROUSEL", "children": [{"image_url": 5}] * 3}),
               json.dumps({"media_type": "CAROUSEL", "children": [{}] * 2}),
               json.dumps({"media_type": "CAROUSEL", "children": [{"video_url": "ftp://x"}] * 2})]
    return bodies


@pytest.fixture(scope="module")
def target(request):
    """One server for the whole module (the suite is about volume), with an account."""
    from harness import FakeMeta, Httpd
    fake = FakeMeta().start()
    fake.control("config", {"redirect_prefixes": ["http://127.0.0.1"], "consent": "allow",
                            "container": {"finish_after_seconds": 10 ** 6}})
    fake.control("ig_user", {"username": "target.acct"})
    h = Httpd(meta=fake, directives="IGraphWebhookVerifyToken tok")
    h.allowed = [r"IG008[0-4]"]
    h.start()
    s = h.session()
    assert connect(h, s, "instagram").status_code == 302
    yield h, s, fake
    h.stop()
    h.check_log(h.allowed + [r"AH03093"])
    h.check_reports()
    fake.stop()
    h.cleanup()


def alive(h):
    return requests.get(h.url("/ig/api/accounts"), timeout=5).status_code == 200


@pytest.mark.parametrize("path,val", _routes_get())
def test_hostile_get(target, path, val):
    h, s, fake = target
    r = s.get(h.url(path.format(val)), allow_redirects=False, timeout=10)
    assert 300 <= r.status_code < 500 or r.status_code == 200, (path, val, r.status_code)
    assert r.status_code != 500
    # an encoded slash in the path is refused by httpd itself (AllowEncodedSlashes Off) before
    # any module runs: that 404 is Apache's page, not ours
    if ("/api/" in path or "/publish" in path) and not ("%2f" in val and "?" not in path):
        if r.status_code >= 400:
            assert r.json()["ok"] is False and r.json()["error"]


@pytest.mark.parametrize("i", range(len(_bodies())))
def test_hostile_publish_body(target, i):
    h, s, fake = target
    body = _bodies()[i]
    for route in ("/ig/publish", "/ig/reels/publish"):
        r = s.post(h.url(route), data=body.encode("utf-8", "surrogatepass"),
                   headers={"Content-Type": "application/json"}, timeout=10)
        assert r.status_code in (400, 404, 413, 422), (route, body[:80], r.status_code, r.text)
        j = r.json()
        assert j["ok"] is False and j["error"] and j["message"]


@pytest.mark.parametrize("caption", [c for c in INJECT if "\x00" not in c and c != "\ud800" and len(c) < 100])
def test_injection_strings_are_just_text(target, caption):
    """A caption may say anything: stored and returned literally, never interpreted."""
    h, s, fake = target
    # a media URL of its own: the same URL again is a duplicate (the first job comes back)
    url = "https://cdn.example.org/inject/%d.jpg" % INJECT.index(caption)
    r = s.post(h.url("/ig/publish"), json={"media_type": "IMAGE", "caption": caption,
                                           "image_url": url})
    assert r.status_code in (200, 202), r.text
    job = r.json()["job"]
    assert job["caption"] == caption
    assert s.get(h.url(f"/ig/publish/{job['id']}")).json()["job"]["caption"] == caption
    page = s.get(h.url("/ig/accounts")).text
    assert "<script>alert(1)</script>" not in page
    assert s.delete(h.url(f"/ig/publish/{job['id']}")).status_code in (200, 409)


@pytest.mark.parametrize("method", ["PUT", "PATCH", "TRACE", "OPTIONS", "PROPFIND", "FOO"])
@pytest.mark.parametrize("path", ["/ig/api/accounts", "/ig/publish", "/ig/oauth/start",
                                  "/ig/meta/webhook", "/ig/accounts"])
def test_unknown_methods(target, method, path):
    h, s, fake = target
    r = requests.request(method, h.url(path), timeout=10)
    assert r.status_code in (400, 403, 405, 501), (method, path, r.status_code)


@pytest.mark.parametrize("params", [
    "state=a&state=b&code=x", "code=a&code=b", "state=%ZZ", "error=access_denied&error=x",
    "state=" + "A" * 10000, "login=facebook&login=instagram",
])
def test_duplicated_and_broken_params(target, params):
    h, s, fake = target
    for p in ("/ig/oauth/callback?", "/ig/oauth/start?"):
        r = s.get(h.url(p + params), allow_redirects=False, timeout=10)
        assert r.status_code in (200, 400, 414), (p, params, r.status_code)


@pytest.mark.parametrize("form", [
    {"csrf": "forged"}, {}, {"csrf": ["a", "b"]}, {"csrf": "' OR 1=1"},
])
def test_forged_csrf(target, form):
    h, s, fake = target
    [a] = accounts(h, s)
    for verb in ("disable", "remove"):
        r = s.post(h.url(f"/ig/accounts/{a['id']}/{verb}"), data=form, allow_redirects=False)
        assert r.status_code in (403, 415)
    r = s.post(h.url("/ig/oauth/pages"), data=form, allow_redirects=False)
    assert r.status_code in (400, 403, 415)
    assert accounts(h, s)[0]["status"] == "active"


@pytest.mark.parametrize("body", ["", "signed_request=", "signed_request=a.b.c",
                                  "signed_request=" + "x" * 20000, "signed_request=%ZZ",
                                  "signed_request=a&signed_request=b"])
def test_forged_callbacks(target, body):
    h, s, fake = target
    for p in ("/ig/meta/deauthorize", "/ig/meta/data-deletion"):
        r = requests.post(h.url(p), data=body,
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status_code in (400, 413), (p, body[:40], r.status_code)
    assert accounts(h, s)[0]["status"] == "active"


def test_server_and_database_consistent_after_all(target):
    h, s, fake = target
    assert alive(h)
    assert h.sql("PRAGMA integrity_check")[0][0] == "ok"
    assert h.sql("SELECT COUNT(*) FROM accounts")[0][0] == 1
    assert sum(fake.state()["publishes"].values()) == 0
    log = h.error_log_text()
    assert "Segmentation fault" not in log and "AH00052" not in log


@pytest.fixture(scope="module")
def hostile():
    """One server and account for the hostile-answer cases. Graph calls time out after 3 s here
    (IGraphGraphTimeout), and the server's clock (libfaketime) is moved on to make retries due
    without waiting out their backoff."""
    from harness import FakeMeta, Httpd
    fake = FakeMeta().start()
    fake.control("config", {"redirect_prefixes": ["http://127.0.0.1"], "consent": "allow",
                            "container": {"finish_after_polls": 1}})
    fake.control("ig_user", {"username": "hostile.acct"})
    h = Httpd(meta=fake, directives="IGraphGraphTimeout 3s", faketime=True)
    h.allowed = []
    h.offset = 0
    h.start()
    s = h.session()
    assert connect(h, s, "instagram").status_code == 302
    yield h, s, fake
    h.stop()
    h.check_log([r"AH03093"])
    h.check_reports()
    fake.stop()
    h.cleanup()


def _settle(h, s, job_id, timeout=40):
    """Polls the job to its end, moving the server's clock 6 s on per round."""
    end = time.time() + timeout
    while time.time() < end:
        job = s.get(h.url(f"/ig/publish/{job_id}")).json()["job"]
        if job["status"] in ("published", "failed"):
            return job
        h.offset += 6
        h.set_time_offset(h.offset)
        time.sleep(0.5)
    return job


@pytest.mark.parametrize("fault", [
    {"kind": "nonjson", "status": 200}, {"kind": "truncated", "status": 200},
    {"kind": "huge", "status": 200}, {"kind": "html", "status": 502},
    {"kind": "reset"},
    {"kind": "drip", "status": 200}, {"kind": "hang", "seconds": 30},
    {"kind": "error", "status": 200, "body": "{\"id\": [1,2,3]}", "content_type": "application/json"},
    {"kind": "error", "status": 200, "body": "{}", "content_type": "application/json"},
])
def test_hostile_graph_answers(hostile, fault):
    """Container creation answered badly: a classified error, the job retried or failed cleanly,
    the worker alive (a second job still publishes once Meta behaves)."""
    h, s, fake = hostile
    fake.control("fault", {"route": r"graph.instagram.com/v[0-9.]+/\d+/media$", "method": "POST",
                           "times": 1, **fault})
    before = sum(fake.state()["publishes"].values())
    tag = "%s-%d" % (fault["kind"], len(json.dumps(fault)))
    r = s.post(h.url("/ig/publish"), json={"media_type": "IMAGE", "wait": 0,
                                           "image_url": f"https://cdn.example.org/h/{tag}/1.jpg"})
    job = _settle(h, s, r.json()["job"]["id"])
    assert job["status"] in ("published", "failed"), job
    if job["status"] == "failed":
        assert job["error"]
    r = s.post(h.url("/ig/publish"), json={"media_type": "IMAGE", "wait": 0,
                                           "image_url": f"https://cdn.example.org/h/{tag}/2.jpg"})
    job = _settle(h, s, r.json()["job"]["id"])
    assert job["status"] == "published", job
    assert sum(fake.state()["publishes"].values()) - before in (1, 2)
    assert alive(h)
    assert [f["fired"] for f in fake.control("fault", method="GET")["faults"]] == [1]
    fake.control("fault", method="DELETE")
