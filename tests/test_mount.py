"""The mount point as administrators write it (README.md, conf/igraph.conf): SetHandler igraph in
a <Location>, the IGraph* directives wherever the README says they may go. Each configuration is
written out literally (Httpd(site=...)); nothing here relies on the harness's own <Location /ig>,
which always holds an IGraph* directive."""
import os
import re
import shutil
import subprocess
import urllib.parse

import pytest
import requests
import urllib3

from flows import accounts, callback, connect, offered_pages, start
from harness import (APP_ID, APP_SECRET, IG_APP_ID, IG_APP_SECRET, REPO, Httpd,
                     csrf_of, follow_dialog)

ONE = {"name": "Ada", "pages": [{"name": "Acme Bakery", "ig_username": "acme.bakery"}]}
TWO = {"name": "Grace", "pages": [{"name": "Page One", "ig_username": "one.ig"},
                                  {"name": "Page Two", "ig_username": "two.ig"}]}
REEL = {"video_url": "https://cdn.example.org/v/7.mp4", "caption": "Behind the oven",
        "share_to_feed": True}
FAST = {"finish_after_polls": 1}
# mod_ssl's line when a client closes the TLS connection without close_notify
TLS_NOISE = [r"AH01992"]


# ---- configurations, as an administrator writes them ------------------------------------------

# README "Configuration": every IGraph* directive at server level, the minimal mount. Anonymous
# use is switched on at server level too (IGraphRequireUser Off), the Location only has access
# control and the session lines.
SERVER_LEVEL_ANONYMOUS = """
@DBD@
IGraphTokenKeyFile "@TOKEN_KEY@"
IGraphAssetsDir "@ASSETS@"
@CREDENTIALS@
IGraphRedirectURL @REDIRECT_URL@
@ENDPOINTS@
IGraphPublishWait 60s
IGraphMaintenanceInterval 1s
IGraphRequireUser Off

<Location /ig>
    SetHandler igraph
    Require local
    Session On
    SessionCookieName igraph_session path=/ig;HttpOnly;SameSite=Lax
    SessionCryptoPassphrase "@SESSION_SECRET@"
</Location>
"""

# The same with IGraphRequireUser left at its default (On) and Basic authentication in the
# Location: no IGraph* directive inside it.
SERVER_LEVEL_BASIC = """
@DBD@
IGraphTokenKeyFile "@TOKEN_KEY@"
IGraphAssetsDir "@ASSETS@"
@CREDENTIALS@
IGraphRedirectURL @REDIRECT_URL@
@ENDPOINTS@
IGraphPublishWait 60s
IGraphMaintenanceInterval 1s

<Location /ig>
    SetHandler igraph
    AuthType Basic
    AuthName "Instagram publishing"
    AuthUserFile "@HTPASSWD@"
    Require valid-user
    Session On
    SessionCookieName igraph_session path=/ig;HttpOnly;SameSite=Lax
    SessionCryptoPassphrase "@SESSION_SECRET@"
</Location>
"""

# Everything inside a <VirtualHost> on its own port; the main server has no IGraph* line at all.
IN_VHOST = """
Listen 127.0.0.1:@VHOST_PORT@
<VirtualHost 127.0.0.1:@VHOST_PORT@>
    @DBD@
    IGraphTokenKeyFile "@TOKEN_KEY@"
    IGraphAssetsDir "@ASSETS@"
    @CREDENTIALS@
    IGraphRedirectURL http://127.0.0.1:@VHOST_PORT@/ig/oauth/callback
    @ENDPOINTS@
    IGraphPublishWait 20s
    IGraphMaintenanceInterval 1s
    IGraphRequireUser Off

    <Location /ig>
        SetHandler igraph
        Require local
        Session On
        SessionCookieName igraph_session path=/ig;HttpOnly;SameSite=Lax
        SessionCryptoPassphrase "@SESSION_SECRET@"
    </Location>
</VirtualHost>
"""


def base_site(location, server_lines="", mount="/ig"):
    """Server-level IGraph* lines (+ server_lines), then the given <Location> text."""
    return f"""
@DBD@
IGraphTokenKeyFile "@TOKEN_KEY@"
IGraphAssetsDir "@ASSETS@"
@CREDENTIALS@
IGraphRedirectURL http://127.0.0.1:@PORT@{mount}/oauth/callback
@ENDPOINTS@
{server_lines}

{location}
"""


PLAIN_LOCATION = """<Location /ig>
    SetHandler igraph
    Require local
    Session On
    SessionCookieName igraph_session path=/ig;HttpOnly;SameSite=Lax
    SessionCryptoPassphrase "@SESSION_SECRET@"
</Location>"""


def no_ig(text):
    """Every mention of the /ig path (but not /igraph.css)."""
    return re.findall(r".{0,40}/ig(?![A-Za-z0-9_.-]).{0,40}", text)


def local_urls(html):
    """href/action/src values that are paths on this server."""
    return [u.replace("&amp;", "&") for u in re.findall(r'(?:href|action|src)="([^"]*)"', html)
            if u.startswith("/")]


# ---- one scenario for every working mount -----------------------------------------------------

def exercise_everything(site, s, fake, publish=True):
    """The routes a README reader uses, in order: pages, API, the publish seed route before any
    account, a full Facebook Login connect, then (publish=True) a publish that reaches the fake
    Meta."""
    fake.control("fb_user", ONE)
    fake.control("config", {"container": FAST})

    page = s.get(site.url("/ig/accounts"))
    assert page.status_code == 200, (page.status_code, page.text[:300])
    assert page.headers["Content-Type"].startswith("text/html")
    assert 'href="/ig/oauth/start?login=facebook"' in page.text, page.text[:800]
    assert 'href="/ig/assets/igraph.css"' in page.text

    index = s.get(site.url("/ig/"))
    assert index.status_code == 200 and 'id="connect-facebook"' in index.text

    r = s.get(site.url("/ig/api/accounts"))
    assert r.status_code == 200, r.text[:300]
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json() == {"ok": True, "accounts": []}

    r = s.post(site.url("/ig/reels/publish"), json=REEL)
    assert r.status_code == 400, (r.status_code, r.text[:300])
    assert r.json()["ok"] is False and r.json()["error"] == "meta_ig_not_connected"

    r = s.get(site.url("/ig/oauth/start?login=facebook"), allow_redirects=False)
    assert r.status_code == 302, (r.status_code, r.text[:300])
    loc = r.headers["Location"]
    assert loc.startswith(fake.endpoint("facebook-dialog") + "/"), loc
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)
    assert q["redirect_uri"] == [site.redirect_url]
    assert q["client_id"] == [APP_ID]

    r = connect(site, s)
    assert r.status_code == 302, (r.status_code, r.text[:300])
    assert urllib.parse.urlsplit(r.headers["Location"]).path == "/ig/accounts"
    [a] = accounts(site, s)
    assert a["username"] == "acme.bakery" and a["status"] == "active" and a["can_publish"]
    assert "@acme.bakery" in s.get(site.url("/ig/accounts")).text
    if not publish:
        return a

    r = s.post(site.url("/ig/reels/publish"), json=REEL)
    assert r.status_code == 200, r.text[:500]
    body = r.json()
    assert body["ok"] is True and body["media_id"] and body["permalink"].startswith("http")
    assert fake.state()["publishes"].get(a["ig_user_id"]) == 1
    job = s.get(site.url(f"/ig/publish/{body['job_id']}")).json()["job"]
    assert job["status"] == "published" and job["caption"] == "Behind the oven"
    return a


# ---- <Location /ig> SetHandler igraph </Location>, directives at server level -----------------

def test_server_level_directives_anonymous(make_httpd, fake):
    """IGraphRequireUser Off and every other IGraph* directive at server level only."""
    h = make_httpd(site=SERVER_LEVEL_ANONYMOUS)
    exercise_everything(h, h.session(), fake)
    # the rest of the server is untouched
    assert requests.get(h.url("/static.txt")).text == "hello from a static file\n"


def test_server_level_directives_with_basic_auth(make_httpd, fake):
    """IGraphRequireUser at its default (On), Basic authentication in the Location."""
    h = make_httpd(site=SERVER_LEVEL_BASIC)
    alice = h.session("alice")
    a = exercise_everything(h, alice, fake)
    # the account is alice's: bob sees none of it, nobody gets in without a user
    assert accounts(h, h.session("bob")) == []
    assert h.sql("SELECT owner FROM accounts WHERE id=?", (a["id"],)) == [("alice",)]
    assert requests.get(h.url("/ig/api/accounts")).status_code == 401


def test_everything_inside_a_virtual_host(make_httpd, fake):
    h = make_httpd(site=IN_VHOST)
    vhost = h.at(port=h.vhost_port)
    exercise_everything(vhost, vhost.session(), fake, publish=False)
    # the main server mounts nothing
    assert requests.get(h.url("/ig/api/accounts")).status_code == 404
    assert requests.get(h.url("/static.txt")).status_code == 200


def test_publish_with_everything_inside_a_virtual_host(make_httpd, fake):
    """Jobs are driven by the maintenance thread and the publish workers; with storage, key and
    credentials only in the <VirtualHost>, they must still run (README: a virtual host
    overrides the main server). IGraphPublishWait is 20s here: a publish takes ~3s."""
    h = make_httpd(site=IN_VHOST)
    vhost = h.at(port=h.vhost_port)
    exercise_everything(vhost, vhost.session(), fake, publish=True)


# ---- IGraphRequireUser where the README says it may go ----------------------------------------

def _vhost(inner):
    return f"""
Listen 127.0.0.1:@VHOST_PORT@
<VirtualHost 127.0.0.1:@VHOST_PORT@>
    IGraphRedirectURL http://127.0.0.1:@VHOST_PORT@/ig/oauth/callback
{inner}
</VirtualHost>"""


# name -> (site, which address to ask, {route: user required?})
PAGES, API = "/ig/accounts", "/ig/api/accounts"
REQUIRE_USER_PLACES = {
    "server-on": (base_site(PLAIN_LOCATION, "IGraphRequireUser On"), "main",
                  {PAGES: True, API: True}),
    "server-off": (base_site(PLAIN_LOCATION, "IGraphRequireUser Off"), "main",
                   {PAGES: False, API: False}),
    "default-is-on": (base_site(PLAIN_LOCATION), "main", {PAGES: True, API: True}),
    # the virtual host overrides the main server
    "vhost-on": (base_site(PLAIN_LOCATION, "IGraphRequireUser Off") +
                 _vhost("    IGraphRequireUser On"), "vhost", {PAGES: True, API: True}),
    "vhost-off": (base_site(PLAIN_LOCATION, "IGraphRequireUser On") +
                  _vhost("    IGraphRequireUser Off"), "vhost", {PAGES: False, API: False}),
    # the Location overrides the server
    "location-on": (base_site(PLAIN_LOCATION.replace(
        "SetHandler igraph", "SetHandler igraph\n    IGraphRequireUser On"),
        "IGraphRequireUser Off"), "main", {PAGES: True, API: True}),
    "location-off": (base_site(PLAIN_LOCATION.replace(
        "SetHandler igraph", "SetHandler igraph\n    IGraphRequireUser Off"),
        "IGraphRequireUser On"), "main", {PAGES: False, API: False}),
    # a nested <Location /ig/api> overrides the outer setting for the API only
    "server-on-api-off": (base_site(PLAIN_LOCATION + """
<Location /ig/api>
    IGraphRequireUser Off
</Location>""", "IGraphRequireUser On"), "main", {PAGES: True, API: False}),
    "location-off-api-on": (base_site(PLAIN_LOCATION.replace(
        "SetHandler igraph", "SetHandler igraph\n    IGraphRequireUser Off") + """
<Location /ig/api>
    IGraphRequireUser On
</Location>"""), "main", {PAGES: False, API: True}),
    "location-on-api-off": (base_site(PLAIN_LOCATION.replace(
        "SetHandler igraph", "SetHandler igraph\n    IGraphRequireUser On") + """
<Location /ig/api>
    IGraphRequireUser Off
</Location>"""), "main", {PAGES: True, API: False}),
}


@pytest.mark.parametrize("place", list(REQUIRE_USER_PLACES))
def test_require_user_where_the_readme_allows_it(make_httpd, place):
    site_text, where, required = REQUIRE_USER_PLACES[place]
    h = make_httpd(site=site_text)
    site = h.at(port=h.vhost_port) if where == "vhost" else h
    s = site.session()          # anonymous: Require local, no authentication module asks
    for route, need in required.items():
        r = s.get(site.url(route))
        if need:
            assert r.status_code == 401, (place, route, r.status_code, r.text[:300])
            if route == API:
                assert r.headers["Content-Type"].startswith("application/json"), r.text[:300]
                body = r.json()
                assert body["ok"] is False and body["error"] == "authentication_required"
                assert body["message"]
            else:
                assert r.headers["Content-Type"].startswith("text/html"), r.text[:300]
                assert "<h1>" in r.text and not r.text.lstrip().startswith("{")
        else:
            assert r.status_code == 200, (place, route, r.status_code, r.text[:300])
            if route == API:
                assert r.json() == {"ok": True, "accounts": []}
            else:
                assert 'id="connect-facebook"' in r.text
    if where == "vhost":
        # ... while the main server keeps its own, opposite setting
        main = h.session().get(h.url(API))
        assert main.status_code == (200 if required[API] else 401), (place, main.text[:300])
    # the publish routes are not under /ig/api: they follow the /ig setting
    r = s.post(site.url("/ig/reels/publish"), json=REEL)
    if required[PAGES]:
        assert r.status_code == 401 and r.json()["error"] == "authentication_required"
    else:
        assert r.status_code == 400 and r.json()["error"] == "meta_ig_not_connected"


# ---- the README's sample conf/igraph.conf, with only the documented edits ---------------------

VERIFY_TOKEN = "sample-verify-token-42"


def sample_conf_site(fake):
    """conf/igraph.conf as shipped, edited as README's "Installing on a server" says (app ids,
    secret files, redirect URL), pointed at the fake Meta, and every absolute path moved into
    the test's run directory (@ROOT@ + the same path)."""
    text = (REPO / "conf" / "igraph.conf").read_text()

    def edit(old, new):
        nonlocal text
        assert text.count(old) == 1, old
        text = text.replace(old, new)

    edit("    #IGraphAppID            1234567890123456\n", f"    IGraphAppID {APP_ID}\n")
    edit("    #IGraphAppSecretFile    /etc/apache2/igraph/facebook-app.secret\n",
         "    IGraphAppSecretFile /etc/apache2/igraph/facebook-app.secret\n")
    edit("    #IGraphInstagramAppID           990602627938098\n",
         f"    IGraphInstagramAppID {IG_APP_ID}\n")
    edit("    #IGraphInstagramAppSecretFile   /etc/apache2/igraph/instagram-app.secret\n",
         "    IGraphInstagramAppSecretFile /etc/apache2/igraph/instagram-app.secret\n")
    edit("    #IGraphRedirectURL      https://www.example.org/ig/oauth/callback\n",
         "    IGraphRedirectURL https://127.0.0.1:@VHOST_PORT@/ig/oauth/callback\n"
         "    @ENDPOINTS@\n")
    edit("    #IGraphWebhookVerifyToken  <the verify token entered in the Meta app dashboard>\n",
         f"    IGraphWebhookVerifyToken {VERIFY_TOKEN}\n")
    for path in ("/etc/apache2/igraph", "/var/lib/apache2/igraph", "/usr/share/mod_igraph"):
        assert path in text, path
        text = text.replace(path, "@ROOT@" + path)
    config_lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("#")]
    left = [ln for ln in config_lines if re.search(r"(?<![\w/@])/(etc|var|usr)/", ln)]
    assert not left, left
    # the sample's cookie line has Secure: the browser side is https, on a TLS virtual host
    return text + """
LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so
Listen 127.0.0.1:@VHOST_PORT@
<VirtualHost 127.0.0.1:@VHOST_PORT@>
    ServerName 127.0.0.1:@VHOST_PORT@
    SSLEngine on
    SSLCertificateFile "@TLS_CERT@"
    SSLCertificateKeyFile "@TLS_KEY@"
</VirtualHost>
"""


def install_sample_files(h):
    """What README's install steps and the sample's comments ask the administrator to create."""
    root = h.root
    etc = root / "etc/apache2/igraph"
    etc.mkdir(parents=True)
    for name, secret in (("facebook-app.secret", APP_SECRET),
                         ("instagram-app.secret", IG_APP_SECRET)):
        (etc / name).write_text(secret + "\n")
        os.chmod(etc / name, 0o600)          # "readable by root only"
    (etc / "session.secret").write_text(h.session_secret + "\n")
    os.chmod(etc / "session.secret", 0o600)
    shutil.copy(h.write_htpasswd(), etc / "htpasswd")
    os.chmod(etc / "htpasswd", 0o644)
    # mkdir -p /usr/share/mod_igraph && cp -r htdocs /usr/share/mod_igraph/
    shutil.copytree(REPO / "htdocs", root / "usr/share/mod_igraph/htdocs")
    # install -d -o www-data -g www-data /var/lib/apache2/igraph
    (root / "var/lib/apache2").mkdir(parents=True)
    subprocess.run(["install", "-d", "-o", "www-data", "-g", "www-data",
                    str(root / "var/lib/apache2/igraph")], check=True)


def test_readme_sample_conf_literally(make_httpd, fake):
    import hashlib
    import hmac
    urllib3.disable_warnings()
    fake.control("config", {"redirect_prefixes": ["http://127.0.0.1", "https://127.0.0.1"]})
    fake.control("fb_user", ONE)
    h = make_httpd(site=sample_conf_site(fake), start=False, leak_check=False,
                   allowed=TLS_NOISE)
    install_sample_files(h)
    h.start()
    site = h.at(port=h.vhost_port, scheme="https")
    db = h.root / "var/lib/apache2/igraph/igraph.db"

    # Basic authentication as the sample configures it
    assert requests.get(site.url("/ig/api/accounts"), verify=False).status_code == 401
    alice = site.session("alice")
    page = alice.get(site.url("/ig/accounts"))
    assert page.status_code == 200 and 'id="connect-facebook"' in page.text
    cookie = page.headers["Set-Cookie"]
    assert cookie.startswith("igraph_session=")
    attrs = [a.strip().lower() for a in cookie.split(";")[1:]]
    assert attrs.count("secure") == 1 and "httponly" in attrs, cookie

    r = connect(site, alice)
    assert r.status_code == 302, (r.status_code, r.text[:300])
    assert urllib.parse.urlsplit(r.headers["Location"]).path == "/ig/accounts"
    [a] = accounts(site, alice)
    assert a["username"] == "acme.bakery"
    assert accounts(site, site.session("bob")) == []
    assert db.exists()
    import pwd
    assert db.stat().st_uid == pwd.getpwnam("www-data").pw_uid
    assert (h.root / "etc/apache2/igraph/token.key").exists()

    # the nested <Location /ig/meta> lets Meta in without a user of ours
    anon = site.session()
    r = anon.post(site.url("/ig/meta/deauthorize"), data={"signed_request": "abc.def"})
    assert r.status_code == 400, (r.status_code, r.text[:300])
    assert r.json()["error"] == "invalid_signed_request"
    q = {"hub.mode": "subscribe", "hub.challenge": "1158201444",
         "hub.verify_token": VERIFY_TOKEN}
    r = anon.get(site.url("/ig/meta/webhook?" + urllib.parse.urlencode(q)))
    assert r.status_code == 200 and r.text == "1158201444"
    r = anon.get(site.url("/ig/meta/webhook?" + urllib.parse.urlencode(
        {**q, "hub.verify_token": "wrong"})))
    assert r.status_code == 403
    raw = b'{"object":"instagram","entry":[]}'
    sig = "sha256=" + hmac.new(APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    r = anon.post(site.url("/ig/meta/webhook"), data=raw,
                  headers={"Content-Type": "application/json", "X-Hub-Signature-256": sig})
    assert r.status_code == 200, r.text[:300]
    # ... but nothing else under /ig
    assert anon.get(site.url("/ig/accounts")).status_code == 401


# ---- another mount path -----------------------------------------------------------------------

SOCIAL_LOCATION = """<Location /social>
    SetHandler igraph
    Require local
    Session On
    SessionCookieName igraph_session path=/social;HttpOnly;SameSite=Lax
    SessionCryptoPassphrase "@SESSION_SECRET@"
</Location>"""

SOCIAL = {
    # every IGraph* directive at server level
    "server-level": base_site(SOCIAL_LOCATION, "IGraphRequireUser Off", mount="/social"),
    # the form that works whatever the mount lookup does: an IGraph* line in the Location
    "directive-in-location": base_site(SOCIAL_LOCATION.replace(
        "SetHandler igraph", "SetHandler igraph\n    IGraphRequireUser Off"), mount="/social"),
}


@pytest.mark.parametrize("form", list(SOCIAL))
def test_another_mount_path(make_httpd, fake, form):
    h = make_httpd(site=SOCIAL[form], mount="/social")
    assert h.redirect_url == f"http://127.0.0.1:{h.port}/social/oauth/callback"
    s = h.session()
    seen = []

    page = s.get(h.url("/social/accounts"))
    assert page.status_code == 200, (page.status_code, page.text[:300])
    seen.append(page.text)
    urls = local_urls(page.text)
    assert urls and all(u.startswith("/social/") for u in urls), urls
    assert "/social/assets/igraph.css" in urls
    assert "/social/oauth/start?login=facebook" in urls
    assert "/social/accounts" in urls
    css = s.get(h.url("/social/assets/igraph.css"))
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
    assert css.content == (REPO / "htdocs/igraph.css").read_bytes()
    assert requests.get(h.url("/ig/accounts")).status_code == 404

    # oauth/start sends Meta the /social callback
    r = s.get(h.url("/social/oauth/start?login=facebook"), allow_redirects=False)
    assert r.status_code == 302
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(r.headers["Location"]).query)
    assert q["redirect_uri"] == [h.redirect_url]

    # several Pages: the choice is asked and posted under /social
    fake.control("fb_user", TWO)
    r = callback(h, s, follow_dialog(start(h, s)))
    assert r.status_code == 302 and r.headers["Location"] == "/social/oauth/pages", r.headers
    pages = s.get(h.url("/social/oauth/pages"))
    assert pages.status_code == 200
    seen.append(pages.text)
    assert 'action="/social/oauth/pages"' in pages.text
    assert all(u.startswith("/social/") for u in local_urls(pages.text))
    ids = offered_pages(pages.text)
    assert len(ids) == 2
    r = s.post(h.url("/social/oauth/pages"), data={"csrf": csrf_of(pages.text), "page_id": ids},
               allow_redirects=False)
    assert r.status_code == 303, (r.status_code, r.text[:300])
    assert urllib.parse.urlsplit(r.headers["Location"]).path == "/social/accounts"
    assert sorted(a["username"] for a in accounts(h, s)) == ["one.ig", "two.ig"]

    # one account: the callback's final redirect is /social/accounts
    fake.control("ig_user", {"username": "social.ig"})
    r = connect(h, s, "instagram")
    assert r.status_code == 302
    assert urllib.parse.urlsplit(r.headers["Location"]).path == "/social/accounts"
    seen.append(r.headers["Location"])

    # the list with its forms
    page = s.get(h.url("/social/accounts"))
    seen.append(page.text)
    forms = re.findall(r'<form[^>]*action="([^"]*)"', page.text)
    assert len(forms) == 6 and all(re.fullmatch(r"/social/accounts/\d+/(disable|remove)", f)
                                   for f in forms), forms
    r = s.post(h.url(forms[0]), data={"csrf": csrf_of(page.text)}, allow_redirects=False)
    assert r.status_code == 303
    assert urllib.parse.urlsplit(r.headers["Location"]).path == "/social/accounts"
    seen.append(r.headers["Location"])

    # error pages link back under /social too
    missing = s.get(h.url("/social/nothing-here"))
    assert missing.status_code == 404
    seen.append(missing.text)
    assert all(u.startswith("/social/") for u in local_urls(missing.text))

    for text in seen:
        assert not no_ig(text), no_ig(text)


# ---- forms Apache accepts but that do not name one mount point --------------------------------

@pytest.mark.parametrize("section", ['<LocationMatch "^/ig">', '<Location ~ "^/ig">'])
def test_regex_location_fails_configtest_with_advice(section):
    close = "</LocationMatch>" if section.startswith("<LocationMatch") else "</Location>"
    site = base_site(f"""{section}
    SetHandler igraph
    Require local
    Session On
    SessionCookieName igraph_session path=/ig;HttpOnly;SameSite=Lax
    SessionCryptoPassphrase "@SESSION_SECRET@"
{close}""", "IGraphRequireUser Off")
    h = Httpd(site=site)
    try:
        rc, out = h.configtest()
        assert rc != 0, out
        assert "IG0015" in out, out
        # what to write instead: a plain <Location /path> (not just the section's own name)
        assert "<Location /" in out, out
    finally:
        h.cleanup()


def test_trailing_slash_location_works_like_ig(make_httpd, fake):
    fake.control("fb_user", ONE)
    h = make_httpd(site=base_site(PLAIN_LOCATION.replace("<Location /ig>", "<Location /ig/>"),
                                  "IGraphRequireUser Off"))
    s = h.session()
    page = s.get(h.url("/ig/accounts"))
    assert page.status_code == 200, (page.status_code, page.text[:300])
    urls = local_urls(page.text)
    assert "/ig/oauth/start?login=facebook" in urls and "/ig/assets/igraph.css" in urls
    assert not [u for u in urls if "//" in u], urls
    assert s.get(h.url("/ig/")).status_code == 200
    assert s.get(h.url("/ig/api/accounts")).json() == {"ok": True, "accounts": []}
    assert connect(h, s).status_code == 302
    assert [a["username"] for a in accounts(h, s)] == ["acme.bakery"]


# ---- the mount point and IGraphRedirectURL disagree -------------------------------------------

def test_redirect_url_outside_the_mount_is_a_startup_warning(make_httpd):
    site = base_site(PLAIN_LOCATION, "IGraphRequireUser Off", mount="/social")
    redirect = "/social/oauth/callback"
    h = make_httpd(site=site)
    assert requests.get(h.url("/static.txt")).status_code == 200
    assert h.session().get(h.url("/ig/api/accounts")).status_code == 200
    url = f"http://127.0.0.1:{h.port}{redirect}"
    warnings = [ln for ln in h.error_log_text().splitlines() if "IG0016" in ln]
    assert len(warnings) == 1, warnings
    assert "warn" in warnings[0] and url in warnings[0], warnings
    assert re.search(r"(?<![\w/])/ig(?![\w])", warnings[0].replace(url, "")), warnings
    rc, out = h.configtest()
    assert rc == 0, out
    assert "IG0016" in out and url in out, out


@pytest.mark.parametrize("section", ["<Directory \"@ROOT@/htdocs\">", "<Files \"*.ig\">",
                                     "<If \"%{QUERY_STRING} =~ /x/\">"])
def test_sections_without_a_fixed_path_fail_configtest(section):
    """SetHandler igraph in a section that has no URL path to mount on is refused, naming it."""
    kind = section.split()[0]
    site = base_site(PLAIN_LOCATION, "IGraphRequireUser Off") + f"""
{section}
    SetHandler igraph
</{kind[1:]}>
"""
    h = Httpd(site=site)
    try:
        rc, out = h.configtest()
        assert rc != 0, out
        assert "IG0015" in out and kind in out and "<Location /" in out, out
    finally:
        h.cleanup()


def test_a_handler_set_where_startup_did_not_see_it_is_a_clear_error(make_httpd):
    """AddHandler (or .htaccess) can point requests at the igraph handler outside any mount
    point: they get a readable 500 and the error log says what to write, never a silent 404."""
    site = base_site(PLAIN_LOCATION, "IGraphRequireUser Off") + "AddHandler igraph .ig\n"
    h = make_httpd(site=site, allowed=[r"IG0017"])
    (h.root / "htdocs" / "page.ig").write_text("x\n")
    r = requests.get(h.url("/page.ig"))
    assert r.status_code == 500 and "not_mounted" in r.text, (r.status_code, r.text[:300])
    r = requests.get(h.url("/page.ig"), headers={"Accept": "application/json"})
    assert r.status_code == 500 and r.json()["error"] == "not_mounted"
    assert "IG0017" in h.error_log_text() and "<Location" in h.error_log_text()
    # the mount itself is unaffected
    assert h.session().get(h.url("/ig/api/accounts")).status_code == 200
