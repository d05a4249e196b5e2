"""Safe fallback: no credentials, no database, restarts. Apache keeps serving; routes explain."""
import pytest
import requests

NO_DBD = [r"IG001[12]: storage unavailable"]


def test_without_credentials_everything_explains(make_httpd):
    h = make_httpd(credentials=False)
    s = h.session()
    page = s.get(h.url("/ig/accounts"))
    assert page.status_code == 200
    assert "IGraphAppID" in page.text and "not configured" in page.text.lower()
    r = s.get(h.url("/ig/oauth/start?login=facebook"), allow_redirects=False)
    assert r.status_code == 503 and "meta_not_configured" in r.text
    r = s.get(h.url("/ig/oauth/start?login=facebook"), headers={"Accept": "application/json"},
              allow_redirects=False)
    assert r.status_code == 503 and r.json()["error"] == "meta_not_configured"
    r = s.post(h.url("/ig/reels/publish"), json={"video_url": "https://x.example/v.mp4",
                                                 "caption": "hi"})
    assert r.status_code == 400
    assert r.json()["ok"] is False and r.json()["error"] == "meta_ig_not_connected"
    log = h.error_log_text()
    assert log.count("IG0001") == 1, "exactly one clear warning"
    # the rest of Apache still serves
    assert requests.get(h.url("/static.txt")).status_code == 200


def test_publish_without_connected_account(httpd):
    r = httpd.session().post(httpd.url("/ig/reels/publish"),
                             json={"video_url": "https://x.example/v.mp4", "caption": "hi"})
    assert r.status_code == 400 and r.json()["error"] == "meta_ig_not_connected"


def test_without_database_routes_answer_503(make_httpd):
    h = make_httpd(dbd=False, allowed=NO_DBD)
    s = h.session()
    r = s.get(h.url("/ig/api/accounts"))
    assert r.status_code == 503 and r.json()["error"] == "storage_unavailable"
    page = s.get(h.url("/ig/accounts"))
    assert page.status_code == 503 and "storage_unavailable" in page.text
    r = s.get(h.url("/ig/oauth/start?login=facebook"), allow_redirects=False)
    assert r.status_code == 503 and "storage_unavailable" in r.text
    r = s.post(h.url("/ig/reels/publish"), json={"video_url": "https://x.example/v.mp4"})
    assert r.status_code == 503 and r.json()["error"] == "storage_unavailable"
    assert requests.get(h.url("/static.txt")).status_code == 200
    assert h.error_log_text().count("IG0008") == 1, "one clear warning at start-up"


def test_unwritable_database_answers_503(make_httpd):
    h = make_httpd(start=False, allowed=NO_DBD + [r"readonly", r"IG03\d\d", r"unable to open",
                                                  r"AH0063[0-9]", r"AH0062[0-9]", r"AH02655"])
    h.db_path.parent.chmod(0o555)
    import os
    os.chown(h.db_path.parent, 0, 0)
    try:
        h.start()
        r = h.session().get(h.url("/ig/api/accounts"))
        assert r.status_code == 503 and r.json()["error"] == "storage_unavailable"
    finally:
        h.db_path.parent.chmod(0o755)


@pytest.mark.processes
def test_graceful_restart_while_idle(httpd, fake):
    s = httpd.session()
    assert s.get(httpd.url("/ig/api/accounts")).status_code == 200
    for _ in range(2):
        httpd.graceful()
        assert s.get(httpd.url("/ig/api/accounts")).status_code == 200
    httpd.stop()
    assert httpd.stop_seconds < 10


def test_sqlite_file_is_owned_by_the_apache_user(httpd):
    import pwd
    httpd.session().get(httpd.url("/ig/api/accounts"))
    uid = pwd.getpwnam("www-data").pw_uid
    assert httpd.db_path.stat().st_uid == uid
    assert httpd.db_path.parent.stat().st_uid == uid


# The children (www-data) cannot open a -wal/-shm that points at a root file: storage fails
PLANTED = NO_DBD + [r"IG0014", r"IG03\d\d", r"unable to open", r"readonly", r"disk I/O",
                    r"AH0063[0-9]", r"AH0062[0-9]", r"AH02655", r"IG001[0-2]"]


@pytest.mark.processes
def test_planted_links_are_never_chowned(make_httpd):
    """The SQLite directory belongs to the Apache user, who may plant links there; the root
    parent hands the database files over at every start and graceful restart, and must never
    chown what a link points to (a symbolic link or a hard link)."""
    import os
    h = make_httpd(start=False, allowed=PLANTED)
    sym_target = h.root / "target-of-symlink"
    hard_target = h.root / "target-of-hardlink"
    for t in (sym_target, hard_target):
        t.write_text("root's own file\n")
        os.chmod(t, 0o600)
        os.chown(t, 0, 0)

    def plant():
        for suffix, target, link in (("-shm", sym_target, os.symlink),
                                     ("-wal", hard_target, os.link)):
            path = str(h.db_path) + suffix
            if os.path.lexists(path):
                os.unlink(path)
            link(str(target), path)

    def untouched():
        for t in (sym_target, hard_target):
            st = os.stat(t)
            assert (st.st_uid, st.st_gid) == (0, 0), t
            assert oct(st.st_mode & 0o777) == oct(0o600), t
            assert t.read_text() == "root's own file\n"

    plant()
    h.start()
    untouched()
    plant()
    h.graceful()
    untouched()
    h.stop()
    untouched()
    assert "IG0014" in h.error_log_text()


@pytest.mark.processes
def test_planted_directory_link_above_the_database_is_not_followed(make_httpd):
    """The database sits in a directory below one of the Apache user's own (var/sub/): that
    user could make sub a link to a directory of root's, and root would create and chown the
    database there. The root parent reaches the directory without following such a link."""
    import os
    h = make_httpd(start=False, dbd=False, allowed=PLANTED + [r"IG0046"])
    elsewhere = h.root / "roots-own-dir"
    elsewhere.mkdir()
    os.symlink(elsewhere, h.root / "var" / "sub")       # var/ belongs to www-data
    h.extra = (f'DBDriver sqlite3\nDBDParams "{h.root / "var" / "sub" / "igraph.db"}"\n'
               'DBDInitSQL "PRAGMA busy_timeout=5000"')
    h.write_conf()
    h.start()
    h.graceful()
    assert list(elsewhere.iterdir()) == []
    assert (elsewhere.stat().st_uid, elsewhere.stat().st_gid) == (0, 0)
    log = h.error_log_text()
    assert "IG0046: the SQLite directory" in log and "symbolic link" in log


# ---- files root opens at start-up, and the modes of the files the module creates -------------

KEY_REFUSED = [r"IG0003: token key unavailable"]


def _root_key(path):
    """A valid key file of root's own, mode 0600."""
    import os
    import secrets
    path.write_text(secrets.token_hex(32) + "\n")
    os.chmod(path, 0o600)
    os.chown(path, 0, 0)


@pytest.mark.parametrize("how,needle", [
    ("symlink", "is a symbolic link"),
    ("owner", "chown root:root"),
    ("mode", "chmod 600"),
])
def test_unsafe_key_file_is_refused(make_httpd, how, needle):
    """The key file (here in the Apache user's var/) is read by root: a link, a file of another
    user's or one that others may read is refused with what to do; Apache still serves and the
    routes say why they cannot."""
    import os
    import pwd
    h = make_httpd(start=False, allowed=KEY_REFUSED)
    key = h.root / "var" / "token.key"
    if how == "symlink":
        target = h.root / "root-only.key"
        _root_key(target)
        os.symlink(target, key)
    else:
        _root_key(key)
        if how == "owner":
            www = pwd.getpwnam("www-data")
            os.chown(key, www.pw_uid, www.pw_gid)
        else:
            os.chmod(key, 0o644)
    rc, out = h.configtest()
    assert rc == 0, out
    assert "IG0041" in out and needle in out and str(key) in out, out
    h.start()
    r = h.session().get(h.url("/ig/api/accounts"))
    assert r.status_code == 503 and r.json()["error"] == "storage_unavailable", r.text
    assert "IGraphTokenKeyFile" in r.json()["message"]
    assert requests.get(h.url("/static.txt")).status_code == 200
    lines = [ln for ln in h.error_log_text().splitlines() if "IG0003" in ln]
    assert lines and all(str(key) in ln and needle in ln for ln in lines), lines
    if how == "symlink":
        assert os.path.islink(key), "the link was left alone, and nothing created in its place"


def test_key_file_with_bad_content_fails_configtest(make_httpd):
    import os
    h = make_httpd(start=False)
    key = h.root / "var" / "token.key"
    key.write_text("not a key\n")
    os.chmod(key, 0o600)
    rc, out = h.configtest()
    assert rc != 0 and "IGraphTokenKeyFile" in out and "not a key" not in out, out


@pytest.mark.processes
def test_created_files_are_not_world_readable(make_httpd):
    """The key is created 0600, the database 0640 for the Apache user, and SQLite gives -wal and
    -shm the database's mode; an existing 0644 database loses its 'other' bits."""
    import os
    import pwd
    www = pwd.getpwnam("www-data")
    h = make_httpd()
    s = h.session()
    assert s.get(h.url("/ig/api/accounts")).status_code == 200
    key = h.root / "var" / "token.key"
    assert oct(key.stat().st_mode & 0o777) == oct(0o600) and key.stat().st_uid == 0
    for suffix in ("", "-wal", "-shm"):
        p = h.root / "var" / ("igraph.db" + suffix)
        st = p.stat()
        assert st.st_mode & 0o007 == 0, (p, oct(st.st_mode))
        assert st.st_uid == www.pw_uid, p
    assert oct(h.db_path.stat().st_mode & 0o777) == oct(0o640)
    # a database an earlier version left 0644 (and -wal/-shm with it): the next graceful
    # restart takes the "other" bits away
    for suffix in ("", "-wal", "-shm"):
        os.chmod(h.root / "var" / ("igraph.db" + suffix), 0o644)
    h.graceful()
    assert s.get(h.url("/ig/api/accounts")).status_code == 200
    for suffix in ("", "-wal", "-shm"):
        p = h.root / "var" / ("igraph.db" + suffix)
        assert p.stat().st_mode & 0o007 == 0, (p, oct(p.stat().st_mode))


SECRET_LINK = "leads through the symbolic link"


def test_secret_files_are_not_read_through_planted_links(make_httpd, tmp_path):
    """Secret files are read by root while the configuration is read: a link in a directory
    the Apache user can write is refused (apachectl -t fails, naming it); a link in root's own
    directory is followed as usual."""
    import os
    h = make_httpd(start=False, credentials=False)
    root_dir = h.root / "secrets"
    root_dir.mkdir(mode=0o700)
    real = root_dir / "app.secret"
    real.write_text("sandbox-app-secret\n")
    os.chmod(real, 0o600)
    planted = h.root / "var" / "app.secret"           # var/ belongs to www-data
    os.symlink(real, planted)
    followed = root_dir / "link.secret"
    os.symlink(real, followed)
    for directive in ("IGraphAppSecretFile", "IGraphInstagramAppSecretFile",
                      "IGraphWebhookVerifyTokenFile"):
        h.directives = f"{directive} {planted}"
        h.write_conf()
        rc, out = h.configtest()
        assert rc != 0 and directive in out and SECRET_LINK in out and str(planted) in out, out
        h.directives = f"{directive} {followed}"
        h.write_conf()
        rc, out = h.configtest()
        assert rc == 0, out
    # the session passphrase: mod_session_crypto reads it, mod_igraph refuses to start with it
    pw = root_dir / "session.secret"
    pw.write_text("a-session-passphrase\n")
    os.chmod(pw, 0o600)
    os.symlink(pw, h.root / "var" / "session.secret")
    h.location_extra = f"    SessionCryptoPassphraseFile {h.root / 'var' / 'session.secret'}"
    h.directives = ""
    h.write_conf()
    rc, out = h.configtest()
    assert rc != 0 and "IG0042" in out and SECRET_LINK in out, out
    h.location_extra = f"    SessionCryptoPassphraseFile {pw}"
    h.write_conf()
    rc, out = h.configtest()
    assert rc == 0, out


def test_assets_are_not_read_through_planted_links(make_httpd):
    """An IGraphAssetsDir the Apache user can write: a link planted there is not followed (nor
    a hard link read); the plain files are served."""
    import os
    import pwd
    www = pwd.getpwnam("www-data")
    h = make_httpd(start=False, allowed=[])
    assets = h.root / "assets"
    assets.mkdir()
    (assets / "igraph.css").write_text("body { color: black }\n")
    secret = h.root / "root-only.txt"
    secret.write_text("root's own file\n")
    os.chmod(secret, 0o600)
    os.symlink(secret, assets / "evil.css")
    os.link(secret, assets / "hard.css")
    os.chown(assets, www.pw_uid, www.pw_gid)
    h.directives = f"IGraphAssetsDir {assets}"
    h.write_conf()
    h.start()
    s = h.session()
    r = s.get(h.url("/ig/assets/igraph.css"))
    assert r.status_code == 200 and "color: black" in r.text
    for name in ("evil.css", "hard.css"):
        r = s.get(h.url("/ig/assets/" + name))
        assert r.status_code == 404 and "root's own" not in r.text, (name, r.text)
    log = h.error_log_text()
    assert "IG0044: IGraphAssetsDir: not serving evil.css" in log
    assert "IG0044: IGraphAssetsDir: not serving hard.css" in log
