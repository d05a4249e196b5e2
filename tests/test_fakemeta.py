"""Tests of the fake Meta server itself (no httpd): /usr/bin/python3 -m pytest -q tests/test_fakemeta.py"""

import hashlib
import hmac
import json
import os
import re
import signal
import subprocess
import sys
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
CB = "http://127.0.0.1:9/ig/oauth/callback"
APP, SECRET = "1000000000000001", "sandbox-app-secret"
IGAPP, IGSECRET = "2000000000000002", "sandbox-ig-secret"


def start(tmp, *extra):
    portfile = os.path.join(str(tmp), "port")
    py = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    proc = subprocess.Popen([py, "-m", "fakemeta", "--port", "0", "--portfile", portfile,
                             *extra],
                            cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 10
    while not os.path.exists(portfile):
        if proc.poll() is not None or time.time() > deadline:
            raise RuntimeError("fakemeta did not start: %s" % proc.stderr.read())
        time.sleep(0.02)
    port = int(open(portfile).read())
    return proc, "http://127.0.0.1:%d" % port


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=5)
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    return out


@pytest.fixture(scope="module")
def fakemeta_base(tmp_path_factory):
    """Own fake per module (named so conftest's autouse reset of `fake` does not apply)."""
    proc, base = start(tmp_path_factory.mktemp("fakemeta"))
    yield base
    out = stop(proc)
    assert "fakemeta listening on " + base in out


class Meta:
    def __init__(self, base):
        self.base = base
        self.s = requests.Session()

    def ctl(self, name, body=None, method=None):
        method = method or ("POST" if body is not None else "GET")
        r = self.s.request(method, "%s/_control/%s" % (self.base, name),
                           data=None if body is None else json.dumps(body))
        assert r.status_code == 200, r.text
        return r.json()

    def get(self, host, path, **kw):
        kw.setdefault("allow_redirects", False)
        return self.s.get("%s/%s%s" % (self.base, host, path), **kw)

    def post(self, host, path, **kw):
        kw.setdefault("allow_redirects", False)
        return self.s.post("%s/%s%s" % (self.base, host, path), **kw)

    # --- flows
    def fb_code(self, state="st"):
        r = self.get("www.facebook.com", "/v26.0/dialog/oauth", params={
            "client_id": APP, "redirect_uri": CB, "state": state, "response_type": "code",
            "scope": "instagram_basic,pages_show_list"})
        assert r.status_code == 302, r.text
        return r.headers["Location"]

    def fb_exchange(self, code, redirect_uri=CB, secret=SECRET):
        return self.get("graph.facebook.com", "/v26.0/oauth/access_token", params={
            "client_id": APP, "client_secret": secret, "redirect_uri": redirect_uri,
            "code": code})

    def fb_token(self):
        loc = self.fb_code()
        code = parse_qs(urlsplit(loc).query)["code"][0]
        return self.fb_exchange(code).json()["access_token"]

    def ig_location(self, state="q8", scope="instagram_business_basic,"
                    "instagram_business_content_publish"):
        r = self.get("www.instagram.com", "/oauth/authorize", params={
            "client_id": IGAPP, "redirect_uri": CB, "response_type": "code", "scope": scope,
            "state": state})
        assert r.status_code == 302, r.text
        return r.headers["Location"]

    def ig_exchange(self, code, multipart=False):
        data = {"client_id": IGAPP, "client_secret": IGSECRET,
                "grant_type": "authorization_code", "redirect_uri": CB, "code": code}
        if multipart:
            return self.post("api.instagram.com", "/oauth/access_token",
                             files={k: (None, v) for k, v in data.items()})
        return self.post("api.instagram.com", "/oauth/access_token", data=data)

    def ig_short(self):
        loc = self.ig_location()
        code = parse_qs(urlsplit(loc).query)["code"][0]
        body = self.ig_exchange(code).json()
        return (body.get("data") or [body])[0]["access_token"]

    def ig_long(self):
        r = self.get("graph.instagram.com", "/access_token", params={
            "grant_type": "ig_exchange_token", "client_secret": IGSECRET,
            "access_token": self.ig_short()})
        assert r.status_code == 200, r.text
        return r.json()["access_token"]


@pytest.fixture
def meta(fakemeta_base):
    m = Meta(fakemeta_base)
    m.ctl("reset", {})
    m.ctl("config", {"redirect_uris": [CB]})
    return m


def err(r):
    assert r.headers["Content-Type"].startswith("application/json"), r.text
    e = r.json()["error"]
    return e["code"], e.get("error_subcode"), e["message"]


# ------------------------------------------------------------------ Facebook Login
def test_fb_code_single_use_state_echo_and_long_lived(meta):
    loc = meta.fb_code(state="a b+c/é")
    assert loc.startswith(CB + "?code=") and loc.endswith("#_=_")
    q = parse_qs(urlsplit(loc).query)
    assert q["state"] == ["a b+c/é"]
    r = meta.fb_exchange(q["code"][0])
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert body["access_token"].startswith("EAA") and body["token_type"] == "bearer"
    assert body["expires_in"] == 5183999
    assert err(meta.fb_exchange(q["code"][0]))[:2] == (100, 36009)
    assert err(meta.fb_exchange("nonsense"))[0] == 100
    assert err(meta.fb_exchange(meta.fb_code(), secret="wrong"))[0] == 1
    r = meta.get("graph.facebook.com", "/v26.0/oauth/access_token", params={
        "grant_type": "fb_exchange_token", "client_id": APP, "client_secret": SECRET,
        "fb_exchange_token": body["access_token"]})
    assert r.json()["expires_in"] == 5183944
    long_tok = r.json()["access_token"]
    me = meta.get("graph.facebook.com", "/v26.0/me",
                  headers={"Authorization": "Bearer " + long_tok}).json()
    assert set(me) == {"id", "name"}
    meta.ctl("fb_user", {"expires_in_omitted": True})
    r = meta.get("graph.facebook.com", "/v25.0/oauth/access_token", params={
        "grant_type": "fb_exchange_token", "client_id": APP, "client_secret": SECRET,
        "fb_exchange_token": long_tok})
    assert r.status_code == 200 and "expires_in" not in r.json()
    assert meta.ctl("state")["codes_used"] == 1


def test_fb_code_expiry_and_redirect_mismatch(meta):
    code = parse_qs(urlsplit(meta.fb_code()).query)["code"][0]
    assert err(meta.fb_exchange(code, redirect_uri=CB + "x"))[:2] == (100, 36008)
    meta.ctl("clock", {"advance": 601})
    assert err(meta.fb_exchange(code))[:2] == (100, 36007)
    r = meta.get("www.facebook.com", "/v26.0/dialog/oauth", params={
        "client_id": APP, "redirect_uri": "https://evil.example/cb", "state": "s"})
    assert r.status_code == 400 and "redirect_uri mismatch" in r.text
    assert "Location" not in r.headers
    meta.ctl("config", {"redirect_prefixes": ["http://127.0.0.1"]})
    r = meta.get("www.facebook.com", "/v26.0/dialog/oauth", params={
        "client_id": APP, "redirect_uri": "http://127.0.0.1.evil.example/cb"})
    assert r.status_code == 400


def test_fb_consent_page_allow_and_deny(meta):
    meta.ctl("config", {"consent": "page"})
    path = "/v26.0/dialog/oauth"
    params = {"client_id": APP, "redirect_uri": CB, "state": "xyz", "scope": "instagram_basic"}
    r = meta.get("www.facebook.com", path, params=params)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    for s in ('id="allow"', 'id="deny"', "Meta sandbox (fake)", "Test Page",
              "Sandbox Publisher", 'method="post"'):
        assert s in r.text
    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', r.text))
    assert form["state"] == "xyz"
    r = meta.post("www.facebook.com", path, data=dict(form, action="deny"))
    assert r.status_code == 302
    assert r.headers["Location"] == (CB + "?error=access_denied&error_code=200&error_description="
                                     "Permissions+error&error_reason=user_denied&state=xyz")
    r = meta.post("www.facebook.com", path, data=dict(form, action="allow"))
    q = parse_qs(urlsplit(r.headers["Location"]).query)
    assert q["state"] == ["xyz"] and q["code"]
    meta.ctl("config", {"consent": "deny"})
    r = meta.get("www.facebook.com", path, params=params)
    assert "error=access_denied" in r.headers["Location"]


def test_me_accounts_paging_with_empty_page(meta):
    meta.ctl("fb_user", {"page_size": 2, "empty_page_with_next": True, "pages": [
        {"name": "P1", "ig_username": "p.one"}, {"name": "P2", "ig_username": None},
        {"name": "P3", "ig_username": "p.three", "tasks": ["ANALYZE"]},
        {"name": "P4", "ig_username": None}]})
    tok = meta.fb_token()
    r = meta.get("graph.facebook.com", "/v26.0/me/accounts", params={
        "fields": "id,name,access_token,tasks,instagram_business_account{id,username}"},
        headers={"Authorization": "Bearer " + tok})
    pages, sizes = [], []
    while True:
        assert r.status_code == 200, r.text
        body = r.json()
        assert "cursors" in body["paging"]
        sizes.append(len(body["data"]))
        pages += body["data"]
        nxt = body["paging"].get("next")
        if not nxt:
            break
        assert nxt.startswith(meta.base + "/graph.facebook.com/v26.0/me/accounts?")
        assert "access_token=" + tok in nxt and "limit=2" in nxt
        r = meta.s.get(nxt)
    assert sizes == [2, 0, 2]
    assert [p["name"] for p in pages] == ["P1", "P2", "P3", "P4"]
    assert re.fullmatch(r"1080000000000\d\d", pages[0]["id"])
    assert pages[0]["instagram_business_account"]["username"] == "p.one"
    assert re.fullmatch(r"178414000000000\d\d", pages[0]["instagram_business_account"]["id"])
    assert "instagram_business_account" not in pages[1]
    assert pages[2]["tasks"] == ["ANALYZE"] and pages[0]["access_token"].startswith("EAA")
    ig_id = pages[0]["instagram_business_account"]["id"]
    auth = {"Authorization": "Bearer " + pages[0]["access_token"]}
    r = meta.get("graph.facebook.com", "/v26.0/" + pages[0]["id"],
                 params={"fields": "instagram_business_account{id,username}"}, headers=auth)
    assert r.json() == {"instagram_business_account": {"id": ig_id, "username": "p.one"},
                        "id": pages[0]["id"]}
    r = meta.get("graph.facebook.com", "/v26.0/" + ig_id, headers=auth, params={
        "fields": "username,name,profile_picture_url,followers_count,media_count"})
    prof = r.json()
    assert prof["username"] == "p.one" and prof["id"] == ig_id
    assert r.headers["X-Business-Use-Case-Usage"].startswith('{"%s":[' % ig_id)
    pic = meta.s.get(prof["profile_picture_url"])
    assert prof["profile_picture_url"] == meta.base + "/static/pp/p.one.svg"
    assert pic.status_code == 200 and pic.text.startswith("<svg")
    r = meta.get("graph.facebook.com", "/v26.0/" + ig_id, headers=auth,
                 params={"fields": "username,bogus"})
    assert err(r)[0] == 100


def test_permissions_and_debug_token(meta):
    meta.ctl("fb_user", {"granted": ["instagram_basic", "pages_show_list"],
                         "declined": ["instagram_content_publish"]})
    tok = meta.fb_token()
    r = meta.get("graph.facebook.com", "/v26.0/me/permissions", params={"access_token": tok})
    assert r.json()["data"] == [
        {"permission": "instagram_basic", "status": "granted"},
        {"permission": "pages_show_list", "status": "granted"},
        {"permission": "instagram_content_publish", "status": "declined"}]
    assert "X-App-Usage" in r.headers
    app = "%s|%s" % (APP, SECRET)
    d = meta.get("graph.facebook.com", "/v26.0/debug_token", params={
        "input_token": tok, "access_token": app}).json()["data"]
    assert d["is_valid"] and d["type"] == "USER" and d["expires_at"] > d["issued_at"]
    assert d["scopes"] == ["instagram_basic", "pages_show_list"]
    page_tok = meta.get("graph.facebook.com", "/v26.0/me/accounts", params={
        "access_token": tok, "fields": "access_token"}).json()["data"][0]["access_token"]
    d = meta.get("graph.facebook.com", "/v26.0/debug_token", params={
        "input_token": page_tok, "access_token": app}).json()["data"]
    assert d["type"] == "PAGE" and d["expires_at"] == 0 and d["profile_id"]
    d = meta.get("graph.facebook.com", "/v26.0/debug_token", params={
        "input_token": "EAAbogus", "access_token": app}).json()["data"]
    assert d["is_valid"] is False and d["error"]["code"] == 190


def test_appsecret_proof(meta):
    meta.ctl("config", {"require_appsecret_proof": True})
    tok = meta.fb_token()      # the exchange itself needs no proof
    url = "/v26.0/me"
    r = meta.get("graph.facebook.com", url, params={"access_token": tok})
    assert err(r)[0] == 100 and "require an appsecret_proof" in err(r)[2]
    r = meta.get("graph.facebook.com", url, params={"access_token": tok,
                                                    "appsecret_proof": "00" * 32})
    assert err(r)[2] == "Invalid appsecret_proof provided in the API argument"
    proof = hmac.new(SECRET.encode(), tok.encode(), hashlib.sha256).hexdigest()
    r = meta.get("graph.facebook.com", url, params={"appsecret_proof": proof},
                 headers={"Authorization": "Bearer " + tok})
    assert r.status_code == 200 and r.json()["name"]


# ------------------------------------------------------------------ Instagram Login
def test_ig_shapes_and_code_rules(meta):
    loc = meta.ig_location(state="q8")
    assert loc.endswith("#_") and "&state=q8" in loc
    code = parse_qs(urlsplit(loc).query)["code"][0]
    r = meta.ig_exchange(code + "#_")
    assert r.json() == {"error_type": "OAuthException", "code": 400,
                        "error_message": "Matching code was not found or was already used"}
    r = meta.ig_exchange(code, multipart=True)         # shape B by default
    assert r.status_code == 200, r.text
    assert re.search(r'"user_id":\s*27640875392278831[,}]', r.text)
    assert r.json()["permissions"] == ["instagram_business_basic",
                                       "instagram_business_content_publish"]
    assert r.json()["access_token"].startswith("IGAA")
    assert meta.ig_exchange(code).json()["error_message"].startswith("Matching code")
    meta.ctl("ig_user", {"shape": "A", "drop_scope": "instagram_business_content_publish",
                         "code_suffix": "encoded"})
    loc = meta.ig_location()
    assert "%23_" in loc and "#" not in loc
    raw = re.search(r"code=([^&]+)", loc).group(1)
    assert raw.endswith("%23_")
    body = meta.ig_exchange(raw[:-4]).json()
    assert body["data"][0]["permissions"] == "instagram_business_basic"
    assert body["data"][0]["user_id"] == "27640875392278831"
    code = parse_qs(urlsplit(meta.ig_location()).query)["code"][0]
    meta.ctl("clock", {"advance": 3601})
    assert meta.ig_exchange(code[:-2]).status_code == 400   # (the %23_ suffix is still on it)
    meta.ctl("ig_user", {"denial_without_state": True})
    meta.ctl("config", {"consent": "deny"})
    assert meta.ig_location() == (CB + "?error=access_denied&error_reason=user_denied"
                                  "&error_description=The+user+denied+your+request")


def test_ig_refresh_me_and_expiry(meta):
    long_tok = meta.ig_long()
    auth = {"Authorization": "Bearer " + long_tok}
    r = meta.get("graph.instagram.com", "/refresh_access_token",
                 params={"grant_type": "ig_refresh_token"}, headers=auth)
    code, sub, msg = err(r)
    assert code == 100 and code != 190 and "too new" in msg
    assert r.json()["error"]["type"] == "IGApiException"
    meta.ctl("clock", {"advance": 2 * 86400})
    r = meta.get("graph.instagram.com", "/v26.0/refresh_access_token",
                 params={"grant_type": "ig_refresh_token", "access_token": long_tok})
    assert r.status_code == 200, r.text
    new = r.json()
    assert new["expires_in"] == 5183944 and new["access_token"] != long_tok
    fields = "user_id,username,name,account_type,profile_picture_url"
    me = meta.get("graph.instagram.com", "/v26.0/me", params={"fields": fields},
                  headers={"Authorization": "Bearer " + new["access_token"]})
    body = me.json()
    assert body["user_id"] == "17841400000000090" and body["account_type"] == "BUSINESS"
    assert body["id"] != body["user_id"] and "X-Business-Use-Case-Usage" in me.headers
    meta.ctl("ig_user", {"me_shape": "data"})
    me = meta.get("graph.instagram.com", "/v26.0/me", params={"fields": fields},
                  headers={"Authorization": "Bearer " + new["access_token"]})
    assert me.json()["data"][0]["username"] == "test.creator"
    meta.ctl("clock", {"advance": 61 * 86400})
    r = meta.get("graph.instagram.com", "/refresh_access_token",
                 params={"grant_type": "ig_refresh_token"}, headers=auth)
    assert err(r)[:2] == (190, 463) and "WWW-Authenticate" in r.headers
    assert r.json()["error"]["is_transient"] is False


def test_revoke_gives_190(meta):
    tok = meta.fb_token()
    auth = {"Authorization": "Bearer " + tok}
    assert meta.get("graph.facebook.com", "/v26.0/me", headers=auth).status_code == 200
    meta.ctl("revoke", {"token": tok})
    r = meta.get("graph.facebook.com", "/v26.0/me", headers=auth)
    assert r.status_code == 400 and err(r)[:2] == (190, 460)
    assert r.headers["WWW-Authenticate"].startswith('OAuth "Facebook Platform" "invalid_token"')
    ig = meta.ig_long()
    meta.ctl("revoke", {"subject": "17841400000000090", "subcode": 458})
    r = meta.get("graph.instagram.com", "/v26.0/me", params={"access_token": ig})
    assert err(r)[:2] == (190, 458)
    r = meta.get("graph.facebook.com", "/v26.0/me", params={"access_token": "EAAunknown"})
    assert err(r)[:2] == (190, 467)
    toks = meta.ctl("state")["tokens"]
    assert any(t["token"] == tok and t["revoked"] for t in toks)


# ------------------------------------------------------------------ faults, log, usage
def test_fault_injection(meta):
    tok = meta.fb_token()
    auth = {"Authorization": "Bearer " + tok}
    meta.ctl("fault", {"route": r"graph\.facebook\.com/v[\d.]+/me$", "nth": 2, "code": 2,
                       "message": "Service temporarily unavailable", "status": 503})
    codes = [meta.get("graph.facebook.com", "/v26.0/me", headers=auth).status_code
             for _ in range(3)]
    assert codes == [200, 503, 200]
    meta.ctl("fault", {}, method="DELETE")
    meta.ctl("fault", {"route": "graph.facebook.com/v26.0/me$", "times": 2, "kind": "html"})
    rs = [meta.get("graph.facebook.com", "/v26.0/me", headers=auth) for _ in range(3)]
    assert [r.status_code for r in rs] == [502, 502, 200]
    assert rs[0].headers["Content-Type"].startswith("text/html")
    meta.ctl("fault", {}, method="DELETE")
    meta.ctl("fault", {"route": "graph.facebook.com/v26.0/me$", "kind": "reset", "times": 1})
    with pytest.raises(requests.ConnectionError):
        meta.s.get(meta.base + "/graph.facebook.com/v26.0/me", headers=auth)
    assert meta.get("graph.facebook.com", "/v26.0/me", headers=auth).status_code == 200
    meta.ctl("fault", {"faults": [
        {"route": "api.instagram.com/oauth/access_token", "kind": "flat", "times": 1,
         "message": "Insufficient developer role"},
        {"route": "graph.facebook.com/v26.0/me$", "kind": "nonjson", "times": 1}]})
    assert meta.ig_exchange("x").json()["error_message"] == "Insufficient developer role"
    r = meta.get("graph.facebook.com", "/v26.0/me", headers=auth)
    with pytest.raises(ValueError):
        r.json()
    log = meta.ctl("requests")
    assert any(e["headers"].get("Authorization") == "Bearer " + tok for e in log)
    assert any(e.get("fault") == "reset" for e in log)
    ex = [e for e in log if e["path"].endswith("/oauth/access_token")
          and e["host"] == "graph.facebook.com"]
    assert ex[0]["query"]["client_secret"] == SECRET
    faults = meta.ctl("fault")["faults"]
    assert [f["fired"] for f in faults] == [1, 1, 1]


def test_usage_headers_and_rate_limit(meta):
    meta.ctl("config", {"hourly_budget": 4})
    tok = meta.fb_token()
    auth = {"Authorization": "Bearer " + tok}
    seen = []
    for _ in range(4):
        r = meta.get("graph.facebook.com", "/v26.0/me", headers=auth)
        assert r.status_code == 200
        seen.append(json.loads(r.headers["X-App-Usage"])["call_count"])
    assert seen == [25, 50, 75, 100]
    r = meta.get("graph.facebook.com", "/v26.0/me", headers=auth)
    assert err(r)[0] == 4
    ig = meta.ig_long()
    for _ in range(4):
        meta.get("graph.instagram.com", "/v26.0/me", params={"access_token": ig})
    r = meta.get("graph.instagram.com", "/v26.0/me", params={"access_token": ig})
    assert err(r)[0] == 80002
    usage = json.loads(r.headers["X-Business-Use-Case-Usage"])
    entry = usage["17841400000000090"][0]
    assert entry["type"] == "instagram" and entry["estimated_time_to_regain_access"] > 0


# ------------------------------------------------------------------ publishing
def ig_pub(meta):
    tok = meta.ig_long()
    return tok, (lambda path, **kw: meta.post("graph.instagram.com", "/v26.0" + path,
                                              params={"access_token": tok}, **kw)), \
        (lambda path, **kw: meta.get("graph.instagram.com", "/v26.0" + path,
                                     params=dict(kw.pop("params", {}), access_token=tok), **kw))


def test_container_progression_publish_once_and_quota(meta):
    meta.ctl("config", {"container": {"finish_after_polls": 2}, "quota_total": 2})
    tok, post, get = ig_pub(meta)
    uid = "17841400000000090"
    cid = post("/%s/media" % uid, data={"image_url": "https://cdn.example.org/a.jpg",
                                        "caption": "Fresh bread #acme"}).json()["id"]
    assert err(post("/%s/media_publish" % uid, data={"creation_id": cid}))[:2] == (9007, 2207027)
    st = [get("/" + cid, params={"fields": "status_code,status"}).json()["status_code"]
          for _ in range(2)]
    assert st == ["IN_PROGRESS", "FINISHED"]
    r = post("/me/media_publish", data={"creation_id": cid})
    assert r.status_code == 200, r.text
    mid = r.json()["id"]
    assert get("/" + cid, params={"fields": "status_code"}).json()["status_code"] == "PUBLISHED"
    r = post("/%s/media_publish" % uid, data={"creation_id": cid})
    assert r.status_code == 400
    assert meta.ctl("state")["publishes"] == {uid: 1}
    m = get("/" + mid, params={"fields": "id,permalink,shortcode,timestamp,media_type,"
                                         "media_product_type"}).json()
    assert m["media_type"] == "IMAGE" and m["media_product_type"] == "FEED"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000", m["timestamp"])
    assert m["permalink"] == "https://www.instagram.com/p/%s/" % m["shortcode"]
    meta.ctl("config", {"container": {"finish_after_polls": 0}})
    for i in range(2):
        c = post("/me/media", data={"image_url": "https://cdn.example.org/%d.jpg" % i}).json()
        r = post("/me/media_publish", data={"creation_id": c["id"]})
        if i == 0:
            assert r.status_code == 200
    assert err(r)[:2] == (9, 2207042)
    lim = get("/me/content_publishing_limit", params={"fields": "quota_usage,config"}).json()
    assert lim == {"data": [{"quota_usage": 2, "config": {"quota_total": 2,
                                                          "quota_duration": 86400}}]}
    assert len(get("/me/media").json()["data"]) == 2


def test_container_validation_carousel_and_expiry(meta):
    meta.ctl("config", {"container": {"finish_after_polls": 0}})
    tok, post, get = ig_pub(meta)
    assert err(post("/me/media", data={"media_type": "GIF",
                                       "image_url": "https://x/a.jpg"}))[:2] == (100, 2207023)
    assert err(post("/me/media", data={"media_type": "VIDEO",
                                       "video_url": "https://x/a.mp4"}))[:2] == (100, 2207023)
    assert err(post("/me/media", data={"image_url": "https://x/a.jpg",
                                       "caption": "x" * 2201}))[1] == 2207010
    assert err(post("/me/media", data={"image_url": "https://x/a.jpg", "caption": " ".join(
        "#t%d" % i for i in range(31))}))[1] == 2207010
    assert err(post("/me/media", data={"image_url": "https://x/a.jpg", "caption": " ".join(
        "@u%d" % i for i in range(21))}))[1] == 2207040
    a = post("/me/media", data={"image_url": "https://x/a.jpg", "is_carousel_item": "true"})
    b = post("/me/media", data={"media_type": "VIDEO", "video_url": "https://x/b.mp4",
                                "is_carousel_item": "true"})
    plain = post("/me/media", data={"image_url": "https://x/c.jpg"}).json()["id"]
    ids = [a.json()["id"], b.json()["id"]]
    for kids in (ids[:1], ids + [plain], ids + ["999"]):
        r = post("/me/media", data={"media_type": "CAROUSEL", "children": ",".join(kids)})
        assert err(r)[:2] == (100, 2207028)
    r = post("/me/media", data={"media_type": "CAROUSEL", "children": json.dumps(ids),
                                "caption": "Two loaves"})
    car = r.json()["id"]
    mid = post("/me/media_publish", data={"creation_id": car}).json()["id"]
    m = get("/" + mid, params={"fields": "media_type,children"}).json()
    assert m["media_type"] == "CAROUSEL_ALBUM" and len(m["children"]["data"]) == 2
    meta.ctl("clock", {"advance": 86401})
    assert get("/" + plain, params={"fields": "status_code"}).json()["status_code"] == "EXPIRED"
    assert err(post("/me/media_publish", data={"creation_id": plain}))[:2] == (-2, 2207020)


def test_error_outcome_resumable_and_dropped_publish(meta):
    meta.ctl("config", {"container": {"finish_after_polls": 1, "outcome": "ERROR"}})
    tok = meta.fb_token()
    auth = {"Authorization": "Bearer " + tok}
    page = meta.get("graph.facebook.com", "/v26.0/me/accounts", headers=auth, params={
        "fields": "access_token,instagram_business_account"}).json()["data"][0]
    ig = page["instagram_business_account"]["id"]
    pauth = {"Authorization": "Bearer " + page["access_token"]}
    g = "graph.facebook.com"
    c = meta.post(g, "/v26.0/%s/media" % ig, headers=pauth, data={
        "media_type": "REELS", "video_url": "https://x/v.mp4"}).json()["id"]
    s = meta.get(g, "/v26.0/" + c, headers=pauth, params={"fields": "status_code,status"}).json()
    assert s["status_code"] == "ERROR" and s["status"].endswith("2207026")
    meta.ctl("config", {"container": {"outcome": "FINISHED"}, "drop_publish_response": True})
    r = meta.post(g, "/v26.0/%s/media" % ig, headers=pauth,
                  data={"media_type": "REELS", "upload_type": "resumable"})
    c, uri = r.json()["id"], r.json()["uri"]
    assert uri == meta.base + "/rupload.facebook.com/ig-api-upload/v26.0/" + c
    bad = meta.s.post(uri, headers=pauth, data=b"abc")
    assert bad.status_code == 401 and "debug_info" in bad.json()
    up = meta.s.post(uri, data=b"abcdef", headers={
        "Authorization": "OAuth " + page["access_token"], "offset": "0", "file_size": "6"})
    assert up.json() == {"success": True, "message": "Upload successful."}
    assert meta.get(g, "/v26.0/" + c, headers=pauth,
                    params={"fields": "status_code"}).json()["status_code"] == "FINISHED"
    with pytest.raises(requests.ConnectionError):
        meta.post(g, "/v26.0/%s/media_publish" % ig, headers=pauth, data={"creation_id": c})
    assert meta.get(g, "/v26.0/" + c, headers=pauth,
                    params={"fields": "status_code"}).json()["status_code"] == "PUBLISHED"
    assert meta.ctl("state")["publishes"] == {ig: 1}


# ------------------------------------------------------------------ sandbox mode
def test_sandbox_mode(tmp_path):
    proc, base = start(tmp_path, "--sandbox")
    try:
        m = Meta(base)
        r = m.get("www.facebook.com", "/v26.0/dialog/oauth", params={
            "client_id": APP, "redirect_uri": "http://localhost:8080/ig/oauth/callback",
            "state": "s"})
        assert r.status_code == 200
        for s in ("Sandbox Tester", "Sandbox Bakery", "@sandbox.studio", "Sandbox Notes",
                  "Meta sandbox (fake)"):
            assert s in r.text
        r = m.get("www.instagram.com", "/oauth/authorize", params={
            "client_id": IGAPP, "redirect_uri": "http://127.0.0.1:8080/cb",
            "response_type": "code", "scope": "instagram_business_basic"})
        assert r.status_code == 200 and "@sandbox.creator" in r.text
        assert m.s.get(base + "/").status_code == 200
        assert m.ctl("reset", {})["sandbox"] is True
    finally:
        stop(proc)


def test_javascript_urls_knob(meta):
    """config.javascript_urls: Meta's own fields, hostile values (off by default)."""
    fields = "user_id,username,profile_picture_url"
    tok = meta.ig_short()
    me = lambda: meta.get("graph.instagram.com", "/v26.0/me", params={"fields": fields},
                          headers={"Authorization": "Bearer " + tok}).json()
    assert me()["profile_picture_url"].startswith(meta.base + "/static/pp/")
    meta.ctl("config", {"javascript_urls": True})
    body = me()
    assert body["profile_picture_url"].startswith("javascript:")
    assert set(body) >= {"user_id", "username", "profile_picture_url"}
    meta.ctl("config", {"javascript_urls": False})
    assert me()["profile_picture_url"].startswith("http")
