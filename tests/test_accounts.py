"""Accounts page and API: owner isolation, disable/enable/remove, CSRF, answers and headers."""
import re

import requests

import pytest

from flows import accounts, connect
from harness import csrf_of

ONE = {"name": "Ada", "pages": [{"name": "Acme Bakery", "ig_username": "acme.bakery"}]}


@pytest.fixture
def authed(make_httpd, fake):
    return make_httpd(require_user=True)


def test_owner_isolation(authed, fake):
    fake.control("fb_user", ONE)
    alice, bob = authed.session("alice"), authed.session("bob")
    assert connect(authed, alice).status_code == 302
    [a] = accounts(authed, alice)
    assert accounts(authed, bob) == []
    aid = a["id"]
    for method, path in [("GET", f"/ig/api/accounts/{aid}"),
                         ("POST", f"/ig/api/accounts/{aid}/disable"),
                         ("POST", f"/ig/api/accounts/{aid}/enable"),
                         ("DELETE", f"/ig/api/accounts/{aid}")]:
        r = bob.request(method, authed.url(path))
        assert r.status_code == 404, (method, path, r.text)
        assert r.json() == {"ok": False, "error": "not_found", "message": "no such account"}
    assert "acme.bakery" not in bob.get(authed.url("/ig/accounts")).text
    # the same IG account connected by bob is bob's own row
    assert connect(authed, bob).status_code == 302
    [b] = accounts(authed, bob)
    assert b["id"] != aid
    # bob's form posts (with bob's valid CSRF token) cannot touch alice's account either
    page = bob.get(authed.url("/ig/accounts"))
    r = bob.post(authed.url(f"/ig/accounts/{aid}/remove"), data={"csrf": csrf_of(page.text)},
                 allow_redirects=False)
    assert r.status_code == 404
    assert accounts(authed, alice)[0]["status"] == "active"
    assert authed.sql("SELECT COUNT(*) FROM accounts")[0][0] == 2


def test_anonymous_is_refused_when_a_user_is_required(authed):
    r = authed.session().get(authed.url("/ig/api/accounts"))
    assert r.status_code == 401


def test_api_disable_enable_delete(httpd, fake):
    fake.control("fb_user", ONE)
    s = httpd.session()
    connect(httpd, s)
    [a] = accounts(httpd, s)
    r = s.post(httpd.url(f"/ig/api/accounts/{a['id']}/disable"))
    assert r.status_code == 200 and r.json()["account"]["status"] == "disabled"
    assert r.json()["account"]["can_publish"] is False
    r = s.post(httpd.url(f"/ig/api/accounts/{a['id']}/enable"))
    assert r.status_code == 200 and r.json()["account"]["status"] == "active"
    r = s.delete(httpd.url(f"/ig/api/accounts/{a['id']}"))
    assert r.status_code == 200 and r.json() == {"ok": True, "deleted": a["id"]}
    assert accounts(httpd, s) == []
    r = s.delete(httpd.url(f"/ig/api/accounts/{a['id']}"))
    assert r.status_code == 404


def test_api_refuses_cross_site_requests(httpd, fake):
    fake.control("fb_user", ONE)
    s = httpd.session()
    connect(httpd, s)
    [a] = accounts(httpd, s)
    r = s.post(httpd.url(f"/ig/api/accounts/{a['id']}/disable"),
               headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403 and r.json()["error"] == "cross_site_refused"
    assert accounts(httpd, s)[0]["status"] == "active"


def test_api_errors_are_json(httpd):
    s = httpd.session()
    for method, path, status, code in [
        ("GET", "/ig/api/nope", 404, "not_found"),
        ("GET", "/ig/api/accounts/abc", 404, "not_found"),
        ("GET", "/ig/api/accounts/..%2f..%2fetc", 404, None),
        ("POST", "/ig/api/accounts", 405, "method_not_allowed"),
        ("PUT", "/ig/api/accounts/1", 405, "method_not_allowed"),
        ("POST", "/ig/api/accounts/1/explode", 404, "not_found"),
        ("GET", "/ig/api/accounts/99999", 404, "not_found"),
    ]:
        r = s.request(method, httpd.url(path))
        assert r.status_code == status, (method, path, r.status_code, r.text)
        if code:
            body = r.json()
            assert body["ok"] is False and body["error"] == code and body["message"]


def test_page_forms_need_csrf(httpd, fake):
    fake.control("fb_user", ONE)
    s = httpd.session()
    connect(httpd, s)
    [a] = accounts(httpd, s)
    page = s.get(httpd.url("/ig/accounts"))
    token = csrf_of(page.text)
    assert token
    r = s.post(httpd.url(f"/ig/accounts/{a['id']}/disable"), data={"csrf": "nope"},
               allow_redirects=False)
    assert r.status_code == 403
    assert accounts(httpd, s)[0]["status"] == "active"
    r = s.post(httpd.url(f"/ig/accounts/{a['id']}/disable"), data={"csrf": token},
               allow_redirects=False)
    assert r.status_code == 303
    assert accounts(httpd, s)[0]["status"] == "disabled"
    page = s.get(httpd.url("/ig/accounts"))
    assert "Disabled" in page.text and 'data-action="enable"' in page.text
    r = s.post(httpd.url(f"/ig/accounts/{a['id']}/remove"), data={"csrf": token},
               allow_redirects=False)
    assert r.status_code == 303
    assert accounts(httpd, s) == []


def test_page_headers_and_escaping(httpd, fake):
    fake.control("fb_user", {"name": "X", "pages": [
        {"name": "<script>alert(1)</script>", "ig_username": "evil.page"}]})
    s = httpd.session()
    connect(httpd, s)
    page = s.get(httpd.url("/ig/accounts"))
    assert page.status_code == 200
    csp = page.headers["Content-Security-Policy"]
    assert "script-src" not in csp and "default-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "no-store" in page.headers["Cache-Control"]
    assert "<script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    cookie = page.headers.get("Set-Cookie", "")
    if cookie:
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    css = s.get(httpd.url("/ig/assets/igraph.css"))
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
    assert s.get(httpd.url("/ig/assets/..%2fREADME.md")).status_code == 404
    assert s.get(httpd.url("/ig/assets/nothing.css")).status_code == 404


def test_index_and_head(httpd):
    s = httpd.session()
    assert s.get(httpd.url("/ig/")).status_code == 200
    assert s.get(httpd.url("/ig")).status_code == 200
    assert s.head(httpd.url("/ig/accounts")).status_code == 200
    assert s.get(httpd.url("/ig/nothing-here")).status_code == 404


@pytest.mark.processes
@pytest.mark.parametrize("mpm", ["event", "prefork"])
def test_concurrent_writes_never_fail_with_database_locked(make_httpd, fake, mpm):
    """Several children write the same SQLite file at once (WAL + busy timeout)."""
    from concurrent.futures import ThreadPoolExecutor
    fake.control("fb_user", ONE)
    h = make_httpd(mpm=mpm, directives="IGraphMaintenanceInterval 1s")
    s = h.session()
    connect(h, s)
    [a] = accounts(h, s)

    def hammer(i):
        sess = h.session()
        codes = []
        for k in range(25):
            verb = "disable" if (i + k) % 2 else "enable"
            codes.append(sess.post(h.url(f"/ig/api/accounts/{a['id']}/{verb}")).status_code)
            codes.append(sess.get(h.url("/ig/oauth/start?login=facebook"),
                                  allow_redirects=False).status_code)
        return codes

    with ThreadPoolExecutor(8) as ex:
        codes = [c for cs in ex.map(hammer, range(8)) for c in cs]
    assert set(codes) <= {200, 302}, sorted(set(codes))
    assert "locked" not in h.error_log_text()


def test_session_cookie_is_secure_over_https(make_httpd, tmp_path):
    """Secure is added on https only (the dev config's cookie line has no Secure)."""
    import subprocess
    import urllib3
    from harness import free_port
    urllib3.disable_warnings()
    d = "/tmp/igraph-tls-%d" % free_port()
    import os
    os.makedirs(d, exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", f"{d}/k.pem", "-out", f"{d}/c.pem"],
                   check=True, capture_output=True)
    p = free_port()
    h = make_httpd(allowed=[r"AH01992"], leak_check=False, extra=f"""
LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so
Listen 127.0.0.1:{p}
<VirtualHost 127.0.0.1:{p}>
    SSLEngine on
    SSLCertificateFile {d}/c.pem
    SSLCertificateKeyFile {d}/k.pem
</VirtualHost>""")
    r = requests.get(f"https://127.0.0.1:{p}/ig/accounts", verify=False)
    assert r.status_code == 200
    assert r.headers["Set-Cookie"].endswith(";Secure") and "HttpOnly" in r.headers["Set-Cookie"]
    r = requests.get(h.url("/ig/accounts"))
    assert "Secure" not in r.headers["Set-Cookie"]


@pytest.mark.parametrize("login", ["facebook", "instagram"])
def test_javascript_urls_from_meta_are_not_stored(httpd, fake, login):
    """Meta's JSON has carried javascript: URLs in profile_picture_url and permalink: they are
    stored as nothing, and rows that already hold one never show it."""
    fake.control("config", {"javascript_urls": True, "container": {"finish_after_polls": 1}})
    fake.control("fb_user", ONE)
    fake.control("ig_user", {"username": "js.creator"})
    s = httpd.session()
    assert connect(httpd, s, login).status_code in (302, 303)
    [a] = accounts(httpd, s)
    assert a["profile_picture_url"] is None
    assert httpd.sql("SELECT picture_url FROM accounts") == [(None,)]
    r = s.post(httpd.url("/ig/publish"), json={"media_type": "IMAGE", "wait": 20,
                                               "image_url": "https://cdn.example.org/js.jpg"})
    job = r.json()["job"]
    assert job["status"] == "published", r.text
    assert job["permalink"] is None
    assert httpd.sql("SELECT permalink FROM jobs") in ([("",)], [(None,)])
    page = s.get(httpd.url("/ig/accounts")).text
    assert "javascript:" not in page


def test_javascript_urls_already_stored_are_not_shown(httpd, fake):
    fake.control("config", {"container": {"finish_after_polls": 1}})
    fake.control("fb_user", ONE)
    s = httpd.session()
    connect(httpd, s)
    r = s.post(httpd.url("/ig/publish"), json={"media_type": "IMAGE", "wait": 20,
                                               "image_url": "https://cdn.example.org/old.jpg"})
    job = r.json()["job"]
    assert job["permalink"].startswith("https://")
    # rows written before the rule (or by hand)
    httpd.sql_write("UPDATE accounts SET picture_url = 'javascript:alert(document.domain)'")
    httpd.sql_write("UPDATE jobs SET permalink = 'javascript:alert(1)//https://x.example/'")
    [a] = accounts(httpd, s)
    assert a["profile_picture_url"] is None
    assert s.get(httpd.url(f"/ig/api/accounts/{a['id']}")).json()["account"][
        "profile_picture_url"] is None
    assert s.get(httpd.url(f"/ig/publish/{job['id']}")).json()["job"]["permalink"] is None
    assert [j["permalink"] for j in s.get(httpd.url("/ig/publish")).json()["jobs"]] == [None]
    assert "javascript:" not in s.get(httpd.url("/ig/accounts")).text
