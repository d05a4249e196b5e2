"""Directive checks: malformed values fail `apachectl -t` with a clear message."""
import pytest

from harness import Httpd

BAD = [
    ("IGraphGraphVersion 26.0", "IGraphGraphVersion"),
    ("IGraphAppID abc", "IGraphAppID"),
    ("IGraphRedirectURL /ig/oauth/callback", "IGraphRedirectURL"),
    ("IGraphEndpoint facebook-graf https://graph.facebook.com", "IGraphEndpoint"),
    ("IGraphEndpoint facebook-graph ftp://graph.facebook.com", "IGraphEndpoint"),
    ("IGraphScopes instagram business_basic,business_content_publish", "retired"),
    ("IGraphScopes twitter a,b", "IGraphScopes"),
    ("IGraphScopes facebook A,B", "IGraphScopes"),
    ("IGraphRefreshBefore 10x", "IGraphRefreshBefore"),
    ("IGraphMaintenanceInterval 0", "IGraphMaintenanceInterval"),
    ("IGraphGraphTimeout 0", "IGraphGraphTimeout"),
    ("IGraphGraphTimeout 10m", "IGraphGraphTimeout"),
    ("IGraphEventRetention 30days", "IGraphEventRetention"),
    ("IGraphEventRetention 0", "IGraphEventRetention"),
    ("IGraphEventRetention -5d", "IGraphEventRetention"),
    ("IGraphEventRetention 4000d", "IGraphEventRetention"),
    ("IGraphRequireUser maybe", "IGraphRequireUser"),
    ("IGraphAppSecretFile /nonexistent/secret", "IGraphAppSecretFile"),
    ("IGraphTokenKeyFile /etc", "IGraphTokenKeyFile"),
]


@pytest.mark.parametrize("line,needle", BAD)
def test_bad_directive_fails_configtest(line, needle):
    h = Httpd(credentials=False, directives=line)
    try:
        rc, out = h.configtest()
        assert rc != 0, out
        assert needle in out, out
    finally:
        h.cleanup()


def test_good_config_passes_and_vhost_overrides(tmp_path):
    extra = """
Listen 127.0.0.1:{p2}
<VirtualHost 127.0.0.1:{p2}>
    IGraphGraphVersion v25.0
    IGraphScopes facebook pages_show_list,instagram_basic
    IGraphRefreshBefore 7d
    IGraphMaintenanceInterval 30s
    IGraphGraphTimeout 45s
    IGraphEventRetention 7d
</VirtualHost>
"""
    from harness import free_port
    h = Httpd(credentials=False, extra=extra.format(p2=free_port()),
              directives="IGraphRefreshBefore 1296000\nIGraphMaintenanceInterval 2m\n"
                         "IGraphEventRetention 90d")
    try:
        rc, out = h.configtest()
        assert rc == 0, out
        assert "Syntax OK" in out
    finally:
        h.cleanup()


def test_secret_file_and_env_fallback(make_httpd, fake, tmp_path):
    import os
    import urllib.parse
    secret = os.path.join("/tmp", "igraph-test-secret-%d" % os.getpid())
    with open(secret, "w") as f:
        f.write("sandbox-app-secret\n")
    try:
        h = make_httpd(credentials=False,
                       directives=f"IGraphAppSecretFile {secret}",
                       env={"META_APP_ID": "1000000000000001",
                            "META_REDIRECT_URL": "http://127.0.0.1:1/ig/oauth/callback"})
        r = h.session().get(h.url("/ig/oauth/start"), allow_redirects=False)
        assert r.status_code == 302
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(r.headers["Location"]).query)
        assert q["client_id"] == ["1000000000000001"]
        assert q["redirect_uri"] == ["http://127.0.0.1:1/ig/oauth/callback"]
    finally:
        os.unlink(secret)
