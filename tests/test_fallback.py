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
