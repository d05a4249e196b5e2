"""The checks every route gets from the route table (issue 9), written to the contract: content
types of state-changing JSON calls, Origin/Sec-Fetch-Site on HTML forms, the CSRF token bound to
the Apache user, an empty user name, the Secure cookie attribute, Meta's error_description,
one answer format per client (JSON for API/publish routes and Accept: application/json, a page
for browsers) with Allow headers, and the Idempotency-Key header.

The servers here mount the module the way that already works today (an IGraph* line inside
<Location /ig>, as the harness writes it), so a failure points at the check, not at the mount."""
import base64
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import uuid

import pytest
import requests
import urllib3

from flows import accounts, callback, connect, offered_pages, start
from harness import FakeMeta, Httpd, csrf_of, follow_dialog, free_port, self_signed_cert

ONE = {"name": "Ada", "pages": [{"name": "Acme Bakery", "ig_username": "acme.bakery"}]}
TWO = {"name": "Grace", "pages": [{"name": "Page One", "ig_username": "one.ig"},
                                  {"name": "Page Two", "ig_username": "two.ig"}]}
REEL = {"video_url": "https://cdn.example.org/v/7.mp4", "caption": "hi"}
NO_DBD = [r"IG001[12]: storage unavailable"]
TLS_NOISE = [r"AH01992"]
JSON = {"Accept": "application/json"}


def is_json_error(r, status, code=None):
    assert r.status_code == status, (r.status_code, r.headers, r.text[:300])
    assert r.headers.get("Content-Type", "").startswith("application/json"), \
        (r.headers.get("Content-Type"), r.text[:300])
    body = r.json()
    assert body["ok"] is False and isinstance(body.get("message"), str) and body["message"], body
    if code:
        assert body["error"] == code, body
    return body


def is_page(r, status):
    """A readable page of the module (not httpd's own error document)."""
    assert r.status_code == status, (r.status_code, r.text[:300])
    assert r.headers.get("Content-Type", "").startswith("text/html"), r.headers
    assert "<h1>" in r.text and "mod_igraph" in r.text, r.text[:500]


def allow_set(r):
    """The Allow header as a set; HEAD is implied by GET and may be listed with it."""
    allow = {m.strip().upper() for m in r.headers.get("Allow", "").split(",") if m.strip()}
    if "GET" in allow:
        allow.discard("HEAD")
    return allow


def future(seconds=3600):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + seconds))


def scheduled_post(**extra):
    """A publish body that makes a queued job and calls nothing at Meta for an hour."""
    return {"media_type": "IMAGE", "account": "@acme.bakery", "publish_at": future(),
            "image_url": f"https://cdn.example.org/p/{uuid.uuid4().hex}.jpg", **extra}


# ---- one server for the module: anonymous use, one Facebook Login account ---------------------

class Srv:
    def __init__(self, h, s, fake, account_id):
        self.h, self.s, self.fake, self.aid = h, s, fake, account_id

    def snapshot(self):
        return (self.h.sql("SELECT id, status, updated_at, access_token_enc, token_expires_at "
                           "FROM accounts ORDER BY id"),
                self.h.sql("SELECT id, status, updated_at FROM jobs ORDER BY id"))

    def status(self, aid=None):
        return self.s.get(self.h.url(f"/ig/api/accounts/{aid or self.aid}")).json()["account"][
            "status"]

    def set_status(self, verb):
        r = self.s.post(self.h.url(f"/ig/api/accounts/{self.aid}/{verb}"))
        assert r.status_code == 200, r.text

    def restore(self):
        """The account back to active, reconnected if a call that should have been refused
        removed it (so one failure does not cascade through the module)."""
        r = self.s.get(self.h.url(f"/ig/api/accounts/{self.aid}"))
        if r.status_code == 404:
            self.fake.control("fb_user", ONE)
            assert connect(self.h, self.s).status_code == 302
            [a] = [a for a in accounts(self.h, self.s) if a["username"] == "acme.bakery"]
            self.aid = a["id"]
        elif r.json()["account"]["status"] != "active":
            self.set_status("enable")

    def queued_job(self):
        r = self.s.post(self.h.url("/ig/publish"), json=scheduled_post())
        assert r.status_code == 202, r.text
        return r.json()["job"]["id"]


@pytest.fixture(scope="module")
def srv():
    fake = FakeMeta().start()
    fake.control("config", {"redirect_prefixes": ["http://127.0.0.1"], "consent": "allow",
                            "container": {"finish_after_polls": 1}})
    fake.control("fb_user", ONE)
    h = Httpd(meta=fake, directives="IGraphPublishWait 30s\nIGraphMaintenanceInterval 1s")
    h.allowed = [r"AH03093"]
    h.start()
    s = h.session()
    assert connect(h, s).status_code == 302
    [a] = accounts(h, s)
    try:
        yield Srv(h, s, fake, a["id"])
    finally:
        h.stop()
        fake.stop()
    h.check_log(h.allowed)
    h.check_reports()
    h.cleanup()


# ---- 415 for CORS-safelisted content types on state-changing JSON calls -----------------------

SAFELISTED = {
    # what a cross-site <form enctype=...> can send without a preflight (and without Origin from
    # some clients): a JSON-looking text/plain body, a urlencoded one, a multipart one
    "text/plain": ("text/plain", '{"video_url":"https://cdn.example.org/v/1.mp4","caption":"x"}'),
    "urlencoded": ("application/x-www-form-urlencoded", "caption=x&video_url=https%3A%2F%2Fx"),
    "multipart": ("multipart/form-data; boundary=XyZ",
                  '--XyZ\r\nContent-Disposition: form-data; name="caption"\r\n\r\nx\r\n--XyZ--\r\n'),
}
STATE_CHANGING = [
    ("POST", "/ig/api/accounts/{aid}/disable"),
    ("POST", "/ig/api/accounts/{aid}/enable"),
    ("POST", "/ig/api/accounts/{aid}/refresh"),
    ("DELETE", "/ig/api/accounts/{aid}"),
    ("POST", "/ig/publish"),
    ("POST", "/ig/reels/publish"),
    ("DELETE", "/ig/publish/{job}"),
]


@pytest.mark.parametrize("ctype", list(SAFELISTED))
@pytest.mark.parametrize("method,path", STATE_CHANGING)
def test_state_changing_api_refuses_cors_safelisted_content_types(srv, method, path, ctype):
    h = srv.h
    job = srv.queued_job() if "{job}" in path else None
    if path.endswith("/enable"):
        srv.set_status("disable")          # so that a wrongly accepted enable would show
    try:
        before = srv.snapshot()
        srv.fake.clear_requests()
        mime, body = SAFELISTED[ctype]
        r = requests.request(method, h.url(path.format(aid=srv.aid, job=job)), data=body,
                             headers={"Content-Type": mime})
        is_json_error(r, 415, "unsupported_media_type")
        assert srv.snapshot() == before, "the refused call changed something"
        assert srv.fake.requests_log() == [], "the refused call reached Meta"
        if job:
            assert srv.s.get(h.url(f"/ig/publish/{job}")).json()["job"]["status"] == "queued"
    finally:
        srv.restore()


def test_account_calls_without_body_or_with_json_still_work(srv):
    h, s = srv.h, srv.s
    url = h.url(f"/ig/api/accounts/{srv.aid}")
    r = s.post(url + "/disable")                                   # no Content-Type, no body
    assert r.status_code == 200 and r.json()["account"]["status"] == "disabled", r.text
    r = s.post(url + "/enable", data="{}", headers={"Content-Type": "application/json"})
    assert r.status_code == 200 and r.json()["account"]["status"] == "active", r.text
    r = s.post(url + "/disable", headers={"Content-Type": "application/json; charset=utf-8"})
    assert r.status_code == 200 and r.json()["account"]["status"] == "disabled", r.text
    r = s.post(url + "/enable", json={})
    assert r.status_code == 200 and r.json()["account"]["status"] == "active", r.text
    r = s.post(url + "/refresh", json={})
    assert r.status_code == 200 and r.json()["result"] == "refreshed", r.text
    # DELETE without a body, on an account of its own
    srv.fake.control("ig_user", {"username": "throwaway.ig"})
    assert connect(h, s, "instagram").status_code == 302
    [extra] = [a for a in accounts(h, s) if a["username"] == "throwaway.ig"]
    r = s.delete(h.url(f"/ig/api/accounts/{extra['id']}"))
    assert r.status_code == 200 and r.json() == {"ok": True, "deleted": extra["id"]}, r.text
    assert srv.status() == "active"


# ---- HTML forms: Origin / Sec-Fetch-Site ------------------------------------------------------

CROSS = {"origin": {"Origin": "http://evil.example"},
         "sec-fetch-site": {"Sec-Fetch-Site": "cross-site"},
         # a page with a no-referrer policy posts with "Origin: null"; without Sec-Fetch-Site
         # nothing says it came from us
         "null-origin": {"Origin": "null"},
         "both-headers": {"Origin": "http://evil.example",
                                        "Sec-Fetch-Site": "cross-site"}}
# what browsers send for our own forms (Chromium: "Origin: null" under Referrer-Policy
# no-referrer, with Sec-Fetch-Site saying same-origin)
SAME = {"origin": {"Origin": "@SELF@"},
        "sec-fetch-site": {"Sec-Fetch-Site": "same-origin"},
        "null-origin": {"Origin": "null", "Sec-Fetch-Site": "same-origin"},
        "both-headers": {"Origin": "@SELF@", "Sec-Fetch-Site": "same-origin"}}


@pytest.mark.parametrize("how", list(CROSS))
def test_account_form_refuses_cross_site(srv, how):
    h, s = srv.h, srv.s
    token = csrf_of(s.get(h.url("/ig/accounts")).text)
    assert token
    form = h.url(f"/ig/accounts/{srv.aid}/disable")
    try:
        r = s.post(form, data={"csrf": token}, headers=CROSS[how], allow_redirects=False)
        is_page(r, 403)
        assert srv.status() == "active"
        # the same form from the same origin works
        same = {k: v.replace("@SELF@", h.url("")) for k, v in SAME[how].items()}
        r = s.post(form, data={"csrf": token}, headers=same, allow_redirects=False)
        assert r.status_code == 303, (r.status_code, r.text[:300])
        assert srv.status() == "disabled"
    finally:
        srv.restore()


def test_pages_form_refuses_cross_site(srv):
    h, s, fake = srv.h, srv.s, srv.fake
    fake.control("fb_user", TWO)
    try:
        r = callback(h, s, follow_dialog(start(h, s)))
        assert r.status_code == 302 and r.headers["Location"].endswith("/ig/oauth/pages")
        page = s.get(h.url("/ig/oauth/pages"))
        ids = offered_pages(page.text)
        data = {"csrf": csrf_of(page.text), "page_id": ids}
        before = sorted(a["username"] for a in accounts(h, s))
        for headers in CROSS.values():
            r = s.post(h.url("/ig/oauth/pages"), data=data, headers=headers,
                       allow_redirects=False)
            is_page(r, 403)
            assert sorted(a["username"] for a in accounts(h, s)) == before
        r = s.post(h.url("/ig/oauth/pages"), data=data, headers={"Origin": h.url("")},
                   allow_redirects=False)
        assert r.status_code == 303, (r.status_code, r.text[:300])
        names = {a["username"] for a in accounts(h, s)}
        assert {"one.ig", "two.ig"} <= names
    finally:
        fake.control("fb_user", ONE)


# ---- the CSRF token belongs to the Apache user ------------------------------------------------

def test_csrf_token_is_bound_to_the_apache_user(make_httpd, fake):
    h = make_httpd(require_user=True)
    alice, bob = h.session("alice"), h.session("bob")
    fake.control("fb_user", ONE)
    assert connect(h, alice).status_code == 302
    fake.control("ig_user", {"username": "bob.shop"})
    assert connect(h, bob, "instagram").status_code == 302
    [bobs] = accounts(h, bob)

    alice_token = csrf_of(alice.get(h.url("/ig/accounts")).text)
    assert alice_token and alice.cookies
    # alice's session cookie and alice's token, but bob's credentials
    forged = h.session("bob")
    forged.cookies.update(alice.cookies)
    r = forged.post(h.url(f"/ig/accounts/{bobs['id']}/disable"), data={"csrf": alice_token},
                    allow_redirects=False)
    is_page(r, 403)
    assert accounts(h, bob)[0]["status"] == "active"
    # bob's own cookie and token work for bob's own account
    bob_token = csrf_of(bob.get(h.url("/ig/accounts")).text)
    r = bob.post(h.url(f"/ig/accounts/{bobs['id']}/disable"), data={"csrf": bob_token},
                 allow_redirects=False)
    assert r.status_code == 303, (r.status_code, r.text[:300])
    assert accounts(h, bob)[0]["status"] == "disabled"
    assert accounts(h, alice)[0]["status"] == "active"


# ---- an empty user name is no user ------------------------------------------------------------

def test_empty_user_name_counts_as_no_user(make_httpd):
    """mod_auth_basic accepts "Authorization: Basic base64(':pw')" when the password file has a
    line for the empty name, and sets r->user to "". The module must treat that as nobody."""
    h = make_httpd(require_user=True, start=False,
                   allowed=[r"AH01617: user  ?: authentication failure"])
    hashed = subprocess.run(["htpasswd", "-nbB", "x", "empty-pw"], check=True,
                            capture_output=True, text=True).stdout.strip().split(":", 1)[1]
    with open(h.htpasswd_path, "a") as f:
        f.write(":" + hashed + "\n")
    h.start()
    empty = requests.Session()
    empty.headers["Authorization"] = "Basic " + base64.b64encode(b":empty-pw").decode()
    # the control: a wrong password for the empty name is httpd's own 401, so the line above is
    # what lets the requests below through to the module
    wrong = requests.get(h.url("/ig/api/accounts"),
                         headers={"Authorization": "Basic " + base64.b64encode(b":x").decode()})
    assert wrong.status_code == 401 and "WWW-Authenticate" in wrong.headers
    assert not wrong.headers["Content-Type"].startswith("application/json")

    is_json_error(empty.get(h.url("/ig/api/accounts")), 401, "authentication_required")
    is_json_error(empty.post(h.url("/ig/reels/publish"), json=REEL), 401,
                  "authentication_required")
    is_json_error(empty.get(h.url("/ig/publish")), 401, "authentication_required")
    is_page(empty.get(h.url("/ig/accounts")), 401)
    r = empty.get(h.url("/ig/oauth/start?login=facebook"), allow_redirects=False)
    assert r.status_code == 401, (r.status_code, r.headers)
    # a real user on the same server is served (and the schema now exists)
    assert h.session("alice").get(h.url("/ig/api/accounts")).status_code == 200
    assert h.sql("SELECT COUNT(*) FROM oauth_states")[0][0] == 0


# ---- the Secure cookie attribute --------------------------------------------------------------

def cookie_attributes(set_cookie):
    """['path=/ig', 'httponly', 'secure', ...]: the attributes after name=value, lower-case."""
    return [a.strip().lower() for a in set_cookie.split(";")[1:] if a.strip()]


def test_secure_attribute_is_decided_by_the_attributes_not_the_name(make_httpd):
    urllib3.disable_warnings()
    tls = tempfile.mkdtemp(prefix="igraph-tls-", dir="/tmp")
    os.chmod(tls, 0o755)
    cert, key = self_signed_cert(tls)
    # checked in this order: the line that already has Secure (works today), then the name
    ports = {"has-secure": free_port(), "named": free_port()}
    lines = {"named": "SessionCookieName secure_igraph path=/ig;HttpOnly;SameSite=Lax",
             "has-secure": "SessionCookieName igraph_session path=/ig;HttpOnly;Secure;"
                           "SameSite=Lax"}
    extra = "LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so\n"
    for name, port in ports.items():
        extra += f"""
Listen 127.0.0.1:{port}
<VirtualHost 127.0.0.1:{port}>
    SSLEngine on
    SSLCertificateFile {cert}
    SSLCertificateKeyFile {key}
    <Location /ig>
        {lines[name]}
    </Location>
</VirtualHost>
"""
    try:
        h = make_httpd(extra=extra, leak_check=False, allowed=TLS_NOISE)
        check_cookies(h, ports)
    finally:
        shutil.rmtree(tls, ignore_errors=True)


def check_cookies(h, ports):
    for name, port in ports.items():
        r = requests.get(f"https://127.0.0.1:{port}/ig/accounts", verify=False)
        assert r.status_code == 200, (name, r.text[:300])
        cookie = r.headers["Set-Cookie"]
        want = "secure_igraph=" if name == "named" else "igraph_session="
        assert cookie.startswith(want), cookie
        attrs = cookie_attributes(cookie)
        assert attrs.count("secure") == 1, (name, cookie)
        assert "httponly" in attrs and "samesite=lax" in attrs and "path=/ig" in attrs, cookie
    # plain http is left alone
    assert "secure" not in cookie_attributes(
        requests.get(h.url("/ig/accounts")).headers["Set-Cookie"])


# ---- Meta's error_description is shown only after the state checked out ---------------------

MARKER = "ZQX-attacker-text-7731"


@pytest.mark.parametrize("state", [None, "forged-state-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"])
def test_callback_error_description_without_valid_state_is_not_shown(srv, state):
    h = srv.h
    s = h.session()
    start(h, s)                 # a real login in progress in this browser, with another state
    q = {"error": "invalid_request",
         "error_description": f"{MARKER} Your account is locked, call +1-555-0100"}
    if state:
        q["state"] = state
    r = s.get(h.url("/ig/oauth/callback?" + urllib.parse.urlencode(q)), allow_redirects=False)
    assert r.status_code == 400, (r.status_code, r.text[:300])
    assert MARKER not in r.text
    assert "555-0100" not in r.text
    assert r.headers["Content-Type"].startswith("text/html")


def test_callback_error_description_with_the_real_state_is_shown_escaped(srv):
    h = srv.h
    s = h.session()
    dialog = start(h, s)
    state = urllib.parse.parse_qs(urllib.parse.urlsplit(dialog).query)["state"][0]
    q = {"state": state, "error": "invalid_request",
         "error_description": f"{MARKER} <b>bold</b> & \"quoted\""}
    r = s.get(h.url("/ig/oauth/callback?" + urllib.parse.urlencode(q)), allow_redirects=False)
    is_page(r, 400)
    assert MARKER in r.text
    assert "<b>bold</b>" not in r.text and "&lt;b&gt;bold&lt;/b&gt;" in r.text


# ---- one answer format per client -------------------------------------------------------------

def test_api_and_publish_404s_are_json(srv):
    h, s = srv.h, srv.s
    is_json_error(s.get(h.url("/ig/api/nope")), 404, "not_found")
    is_json_error(s.get(h.url("/ig/api/accounts/999999")), 404, "not_found")
    is_json_error(s.get(h.url("/ig/publish/no-such-job")), 404, "not_found")
    is_json_error(s.delete(h.url("/ig/publish/no-such-job")), 404, "not_found")
    is_json_error(s.get(h.url("/ig/reels/nope")), 404, "not_found")


def test_browser_404_is_a_page_unless_json_is_asked_for(srv):
    h, s = srv.h, srv.s
    is_page(s.get(h.url("/ig/nothing-here")), 404)
    is_json_error(s.get(h.url("/ig/nothing-here"), headers=JSON), 404, "not_found")


# (method, path, Allow, answer): "json", "page", or None (only status and Allow)
NOT_ALLOWED = [
    ("PUT", "/ig/api/accounts", {"GET"}, "json"),
    ("POST", "/ig/api/accounts", {"GET"}, "json"),
    ("PUT", "/ig/api/accounts/{aid}", {"GET", "DELETE"}, "json"),
    ("GET", "/ig/api/accounts/{aid}/disable", {"POST"}, "json"),
    ("DELETE", "/ig/api/accounts/{aid}/refresh", {"POST"}, "json"),
    ("POST", "/ig/api/events", {"GET"}, "json"),
    ("PATCH", "/ig/publish", {"GET", "POST"}, "json"),
    ("GET", "/ig/reels/publish", {"POST"}, "json"),
    ("POST", "/ig/publish/{job}", {"GET", "DELETE"}, "json"),
    ("POST", "/ig/accounts", {"GET"}, "page"),
    ("GET", "/ig/accounts/{aid}/disable", {"POST"}, "page"),
    ("POST", "/ig/oauth/start", {"GET"}, "page"),
    ("POST", "/ig/oauth/callback", {"GET"}, "page"),
    ("DELETE", "/ig/oauth/pages", {"GET", "POST"}, "page"),
    ("GET", "/ig/meta/deauthorize", {"POST"}, None),
    ("GET", "/ig/meta/data-deletion", {"POST"}, None),
    ("POST", "/ig/meta/deletion", {"GET"}, None),
    ("PUT", "/ig/meta/webhook", {"GET", "POST"}, None),
]


@pytest.mark.parametrize("method,path,allow,answer", NOT_ALLOWED)
def test_405_names_exactly_the_allowed_methods(srv, method, path, allow, answer):
    h = srv.h
    job = srv.queued_job() if "{job}" in path else None
    url = h.url(path.format(aid=srv.aid, job=job))
    r = srv.s.request(method, url, allow_redirects=False)
    assert r.status_code == 405, (r.status_code, r.text[:300])
    assert allow_set(r) == allow, r.headers.get("Allow")
    if answer == "json":
        is_json_error(r, 405, "method_not_allowed")
    elif answer == "page":
        is_page(r, 405)
        # the same browser route answers a JSON client in JSON
        r = srv.s.request(method, url, headers=JSON, allow_redirects=False)
        is_json_error(r, 405, "method_not_allowed")
        assert allow_set(r) == allow, r.headers.get("Allow")


def test_401_json_for_api_and_json_clients_page_for_browsers(make_httpd):
    # a user is required, but nothing in front of the module asks for one (Require local)
    h = make_httpd(location_extra="    IGraphRequireUser On")
    s = h.session()
    is_json_error(s.get(h.url("/ig/api/accounts")), 401, "authentication_required")
    is_json_error(s.post(h.url("/ig/publish"), json=scheduled_post()), 401,
                  "authentication_required")
    is_json_error(s.delete(h.url("/ig/publish/abc")), 401, "authentication_required")
    is_page(s.get(h.url("/ig/accounts")), 401)
    is_json_error(s.get(h.url("/ig/accounts"), headers=JSON), 401, "authentication_required")
    is_page(s.get(h.url("/ig/oauth/start?login=facebook"), allow_redirects=False), 401)
    is_json_error(s.get(h.url("/ig/oauth/start?login=facebook"), headers=JSON,
                        allow_redirects=False), 401, "authentication_required")


@pytest.mark.parametrize("path", ["/ig/publish", "/ig/reels/publish"])
def test_413_body_too_large_is_json(srv, path):
    body = '{"media_type":"IMAGE","image_url":"https://cdn.example.org/p/1.jpg","caption":"' + \
        "x" * (64 * 1024) + '"}'
    before = srv.snapshot()
    r = requests.post(srv.h.url(path), data=body, headers={"Content-Type": "application/json"})
    is_json_error(r, 413, "body_too_large")
    assert srv.snapshot() == before


def test_503_storage_unavailable_in_each_clients_format(make_httpd):
    h = make_httpd(dbd=False, allowed=NO_DBD)
    s = h.session()
    for method, path in [("GET", "/ig/api/accounts"), ("GET", "/ig/api/accounts/1"),
                         ("POST", "/ig/api/accounts/1/disable"), ("GET", "/ig/api/events"),
                         ("GET", "/ig/publish"), ("GET", "/ig/publish/abc")]:
        is_json_error(s.request(method, h.url(path)), 503, "storage_unavailable")
    is_json_error(s.post(h.url("/ig/publish"), json=scheduled_post()), 503,
                  "storage_unavailable")
    is_json_error(s.post(h.url("/ig/reels/publish"), json=REEL), 503, "storage_unavailable")
    is_page(s.get(h.url("/ig/accounts")), 503)
    is_json_error(s.get(h.url("/ig/accounts"), headers=JSON), 503, "storage_unavailable")
    is_page(s.get(h.url("/ig/oauth/start?login=facebook"), allow_redirects=False), 503)
    is_json_error(s.get(h.url("/ig/oauth/start?login=facebook"), headers=JSON,
                        allow_redirects=False), 503, "storage_unavailable")


def test_oauth_callback_errors_in_json_for_json_clients(srv):
    h, fake = srv.h, srv.fake
    # a state that is not this browser's
    s = h.session()
    loc = follow_dialog(start(h, s)).split("#", 1)[0]
    tampered = re.sub(r"state=([^&#]+)", r"state=AAAA\1", loc)
    is_json_error(s.get(tampered, headers=JSON, allow_redirects=False), 400, "invalid_state")
    is_page(s.get(tampered, allow_redirects=False), 400)          # a browser gets a page
    # no state at all
    no_state = re.sub(r"&?state=[^&#]+", "", loc)
    is_json_error(s.get(no_state, headers=JSON, allow_redirects=False), 400, "invalid_state")
    # a callback in another browser (no session cookie)
    is_json_error(h.session().get(loc, headers=JSON, allow_redirects=False), 400,
                  "invalid_state")
    # the person said no at Meta
    fake.control("config", {"consent": "deny"})
    try:
        s = h.session()
        denied = follow_dialog(start(h, s)).split("#", 1)[0]
    finally:
        fake.control("config", {"consent": "allow"})
    assert "error=access_denied" in denied
    r = s.get(denied, headers=JSON, allow_redirects=False)
    assert r.headers["Content-Type"].startswith("application/json"), r.text[:300]
    assert r.json()["ok"] is False and r.json()["error"] == "access_denied", r.text


# ---- the Idempotency-Key header is validated like the idempotency_key field ------------------

BAD_KEYS = {
    "too-long": "k" * 129,
    "empty": "",
    "non-ascii": "caf\xe9",            # sent as the byte 0xE9
    "tab": "a\tb",
}


@pytest.mark.parametrize("how", list(BAD_KEYS))
def test_invalid_idempotency_key_header_is_refused(srv, how):
    key = BAD_KEYS[how]
    # the same value in the JSON field is refused too (the rule the header must follow)
    r = srv.s.post(srv.h.url("/ig/publish"), json=scheduled_post(idempotency_key=key))
    is_json_error(r, 400, "invalid_request")
    before = srv.snapshot()
    r = srv.s.post(srv.h.url("/ig/publish"), json=scheduled_post(),
                   headers={"Idempotency-Key": key})
    is_json_error(r, 400, "invalid_request")
    assert srv.snapshot() == before, "a job was recorded"


def test_valid_idempotency_key_header_is_used(srv):
    for key in ("k" * 128, "order 42/#!~"):
        body = scheduled_post()
        r = srv.s.post(srv.h.url("/ig/publish"), json=body, headers={"Idempotency-Key": key})
        assert r.status_code == 202, r.text
        job = r.json()["job"]["id"]
        again = srv.s.post(srv.h.url("/ig/publish"), json=body, headers={"Idempotency-Key": key})
        assert again.status_code == 200 and again.json()["duplicate"] is True, again.text
        assert again.json()["job"]["id"] == job


def test_chunked_bodies_are_read_whole_and_limited(srv):
    """A body without Content-Length (chunked) is read as it comes: a small one is a job like any
    other, one over 64 KiB is refused with 413 after 64 KiB, nothing stored."""
    def chunks(text, size=1000):
        for i in range(0, len(text), size):
            yield text[i:i + size].encode()

    # a 2000-character caption (Meta's limit is 2200) sent in 40-byte chunks, and padding
    # outside any field (JSON white space) that makes the body 20 KB
    small = ('{"media_type":"IMAGE","image_url":"https://cdn.example.org/p/chunked.jpg",'
             '"account":"@acme.bakery","publish_at":"' + future() + '",'
             '"caption":"' + "y" * 2000 + '"' + " " * 18000 + '}')
    r = requests.post(srv.h.url("/ig/publish"), data=chunks(small, 40),
                      headers={"Content-Type": "application/json"})
    assert r.status_code in (200, 202), r.text[:300]
    assert r.json()["job"]["caption"] == "y" * 2000
    before = srv.snapshot()
    big = small.replace(" " * 18000, " " * (70 * 1024))
    r = requests.post(srv.h.url("/ig/publish"), data=chunks(big, 4096),
                      headers={"Content-Type": "application/json"})
    is_json_error(r, 413, "body_too_large")
    assert srv.snapshot() == before
