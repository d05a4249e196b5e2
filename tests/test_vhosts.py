"""Virtual hosts as administrators write them: each with its own Meta app, fake Meta server and
database, or several sharing one database. Every account and job belongs to the virtual host
that created it: the maintenance thread and the publish steps use that host's settings, and the
same Apache user name on two hosts owns two separate sets of accounts (README, "Virtual
hosts")."""
import time

import pytest

from flows import accounts, connect
from harness import ENDPOINT_HOSTS, FakeMeta

B_APP = {"app_id": "3000000000000003", "app_secret": "b-app-secret",
         "ig_app_id": "4000000000000004", "ig_app_secret": "b-ig-secret"}
FAST = {"finish_after_polls": 1}


@pytest.fixture
def fake_b():
    f = FakeMeta().start()
    f.control("config", {"redirect_prefixes": ["http://127.0.0.1"], "consent": "allow", **B_APP,
                         "container": FAST})
    yield f
    f.stop()


def endpoints(meta):
    return "\n    ".join(f"IGraphEndpoint {n} {meta.endpoint(n)}" for n in ENDPOINT_HOSTS)


def two_hosts(fake_b):
    """Host A answers on the main port with the harness's app and fake; host B on the second
    port with another app, fake, database and token key. The main server has no IGraph* line
    but the worker's pace and refresh window (inherited by both)."""
    return f"""
IGraphMaintenanceInterval 1s
IGraphRefreshBefore 59d
IGraphRequireUser Off

<VirtualHost 127.0.0.1:@PORT@>
    ServerName a.test
    @DBD@
    IGraphTokenKeyFile "@ROOT@/var/a.key"
    @CREDENTIALS@
    IGraphRedirectURL http://127.0.0.1:@PORT@/ig/oauth/callback
    @ENDPOINTS@
    <Location /ig>
        SetHandler igraph
        Session On
        SessionCookieName igraph_session path=/ig;HttpOnly;SameSite=Lax
        SessionCryptoPassphrase "@SESSION_SECRET@"
    </Location>
</VirtualHost>

Listen 127.0.0.1:@VHOST_PORT@
<VirtualHost 127.0.0.1:@VHOST_PORT@>
    ServerName b.test
    DBDriver sqlite3
    DBDParams "@ROOT@/var/b.db"
    IGraphTokenKeyFile "@ROOT@/var/b.key"
    IGraphAppID {B_APP["app_id"]}
    IGraphAppSecret {B_APP["app_secret"]}
    IGraphInstagramAppID {B_APP["ig_app_id"]}
    IGraphInstagramAppSecret {B_APP["ig_app_secret"]}
    IGraphRedirectURL http://127.0.0.1:@VHOST_PORT@/ig/oauth/callback
    {endpoints(fake_b)}
    <Location /ig>
        SetHandler igraph
        Session On
        SessionCookieName igraph_session path=/ig;HttpOnly;SameSite=Lax
        SessionCryptoPassphrase "@SESSION_SECRET@"
    </Location>
</VirtualHost>
"""


def tokens_sent(meta):
    """Every token a fake was sent, wherever the request carried it."""
    seen = set()
    for e in meta.requests_log():
        for bag in (e.get("query") or {}, e.get("form") or {}):
            for k in ("access_token", "input_token", "fb_exchange_token"):
                v = bag.get(k)
                seen.update(v if isinstance(v, list) else [v] if v else [])
        auth = (e.get("headers") or {}).get("Authorization") or \
            (e.get("headers") or {}).get("authorization")
        if auth and auth.startswith(("Bearer ", "OAuth ")):
            seen.add(auth.split(" ", 1)[1])
    return seen


def refreshes(meta):
    return [e for e in meta.requests_log()
            if e["path"].endswith("/refresh_access_token") or
            (e.get("query") or {}).get("grant_type") in ("ig_refresh_token", "fb_exchange_token")]


def wait_job(site, s, job_id, timeout=30):
    end = time.time() + timeout
    while True:
        j = s.get(site.url(f"/ig/publish/{job_id}")).json()["job"]
        if j["status"] in ("published", "failed", "cancelled") or time.time() > end:
            return j
        time.sleep(0.3)


def test_two_hosts_two_apps_two_databases(make_httpd, fake, fake_b):
    fake.control("config", {"container": FAST})
    h = make_httpd(site=two_hosts(fake_b), faketime=True)
    a, b = h, h.at(port=h.vhost_port)
    sa, sb = a.session(), b.session()
    for site, s, meta in ((a, sa, fake), (b, sb, fake_b)):
        r = connect(site, s, "instagram")
        assert r.status_code == 302, r.text[:300]
        [acct] = accounts(site, s)
        assert acct["status"] == "active"
    # each host's database holds its own account only
    assert len(accounts(a, sa)) == 1 and len(accounts(b, sb)) == 1
    assert h.sql("SELECT COUNT(*) FROM accounts")[0][0] == 1

    jobs = {}
    for name, site, s in (("a", a, sa), ("b", b, sb)):
        r = s.post(site.url("/ig/publish"),
                   json={"media_type": "IMAGE", "image_url": f"https://cdn.example.org/{name}.jpg"})
        assert r.status_code == 202, r.text
        jobs[name] = r.json()["job"]["id"]
    assert wait_job(a, sa, jobs["a"])["status"] == "published"
    assert wait_job(b, sb, jobs["b"])["status"] == "published"
    assert sum(fake.state()["publishes"].values()) == 1
    assert sum(fake_b.state()["publishes"].values()) == 1

    # two days on (httpd and both fakes), the 60-day tokens are inside the 59-day window: the
    # maintenance thread refreshes both hosts' tokens, each at its own fake
    later = int(time.time()) + 2 * 86400
    h.set_time_offset(2 * 86400)
    fake.control("clock", {"set": later})
    fake_b.control("clock", {"set": later})
    end = time.time() + 20
    while (not refreshes(fake) or not refreshes(fake_b)) and time.time() < end:
        time.sleep(0.5)
    assert refreshes(fake) and refreshes(fake_b)
    for acct_site, s in ((a, sa), (b, sb)):
        [acct] = accounts(acct_site, s)
        assert acct["status"] == "active", acct

    # no request to one fake ever carried a token the other one issued
    a_tokens, b_tokens = set(fake.tokens()), set(fake_b.tokens())
    assert a_tokens and b_tokens and not (a_tokens & b_tokens)
    assert not tokens_sent(fake) & b_tokens
    assert not tokens_sent(fake_b) & a_tokens


SHARED = """
@DBD@
IGraphTokenKeyFile "@TOKEN_KEY@"
@CREDENTIALS@
@ENDPOINTS@
IGraphRequireUser On

<Location /ig>
    SetHandler igraph
    AuthType Basic
    AuthName "igraph"
    AuthUserFile "@HTPASSWD@"
    Require valid-user
    Session On
    SessionCookieName igraph_session path=/ig;HttpOnly;SameSite=Lax
    SessionCryptoPassphrase "@SESSION_SECRET@"
</Location>

<VirtualHost 127.0.0.1:@PORT@>
    ServerName a.test
    IGraphRedirectURL http://127.0.0.1:@PORT@/ig/oauth/callback
    {a_extra}
</VirtualHost>
Listen 127.0.0.1:@VHOST_PORT@
<VirtualHost 127.0.0.1:@VHOST_PORT@>
    ServerName b.test
    IGraphRedirectURL http://127.0.0.1:@VHOST_PORT@/ig/oauth/callback
    {b_extra}
</VirtualHost>
"""


@pytest.mark.parametrize("realm", [None, "shop"])
def test_owners_are_per_virtual_host_unless_one_realm(make_httpd, fake, realm):
    """One database, one app: alice on a.test and alice on b.test are two owners, unless both
    hosts say IGraphRealm shop."""
    line = f"IGraphRealm {realm}" if realm else ""
    h = make_httpd(site=SHARED.format(a_extra=line, b_extra=line))
    a, b = h, h.at(port=h.vhost_port)
    sa, sb = a.session(user="alice"), b.session(user="alice")
    assert connect(a, sa, "instagram").status_code == 302
    [acct] = accounts(a, sa)
    seen_on_b = accounts(b, sb)
    if realm:
        assert [x["id"] for x in seen_on_b] == [acct["id"]]
    else:
        assert seen_on_b == []
        # the account cannot be reached by id from the other host either
        r = sb.get(b.url(f"/ig/api/accounts/{acct['id']}"))
        assert r.status_code == 404 and r.json()["error"] in ("account_not_found", "not_found")
        r = sb.post(b.url("/ig/publish"), json={"media_type": "IMAGE", "account": acct["id"],
                                                "image_url": "https://cdn.example.org/x.jpg"})
        assert r.status_code == 404, r.text
        # bob on a.test does not see alice's account
        assert accounts(a, a.session(user="bob")) == []
        # and b.test's alice connects her own
        assert connect(b, sb, "instagram").status_code == 302
        assert len(accounts(b, sb)) == 1 and len(accounts(a, sa)) == 1


def test_one_realm_with_two_apps_fails_configtest(fake, fake_b):
    """Two hosts of one realm on one database with different Meta apps: background work could
    not tell which app an account's token belongs to, so apachectl -t refuses it."""
    from harness import Httpd
    site = SHARED.format(a_extra="IGraphRealm shop",
                         b_extra=f"IGraphRealm shop\n    IGraphAppID {B_APP['app_id']}")
    h = Httpd(meta=fake, site=site)
    try:
        rc, out = h.configtest()
        assert rc != 0, out
        assert "IG0058" in out and 'realm "shop"' in out and "IGraphAppID" in out, out
    finally:
        h.cleanup()
