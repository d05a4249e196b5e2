"""Facebook Login connect flow against the fake Meta server, through a real httpd."""
import re
import urllib.parse

import pytest

from flows import accounts, callback, connect, offered_pages, start
from harness import csrf_of, follow_dialog

ONE_IG_PAGE = {"name": "Ada Lovelace", "pages": [
    {"name": "Acme Bakery", "ig_username": "acme.bakery", "tasks": ["CREATE_CONTENT", "MANAGE"]},
    {"name": "Acme Notes", "ig_username": None}]}
THREE_IG_PAGES = {"name": "Grace Hopper", "page_size": 1, "empty_page_with_next": True, "pages": [
    {"name": "Page One", "ig_username": "one.ig"},
    {"name": "Page Plain", "ig_username": None},
    {"name": "Page Two", "ig_username": "two.ig"},
    {"name": "Page Three", "ig_username": "three.ig"}]}


def graph_calls(fake, needle):
    return [q for q in fake.requests_log() if needle in q["host"] + q["path"]]


def test_start_redirects_to_dialog_with_state(httpd, fake):
    s = httpd.session()
    loc = start(httpd, s)
    u = urllib.parse.urlsplit(loc)
    q = urllib.parse.parse_qs(u.query)
    assert u.path.endswith("/www.facebook.com/v26.0/dialog/oauth")
    assert q["client_id"] == ["1000000000000001"]
    assert q["redirect_uri"] == [httpd.redirect_url]
    assert q["response_type"] == ["code"]
    assert q["scope"] == ["pages_show_list,pages_read_engagement,instagram_basic,"
                          "instagram_content_publish"]
    assert len(q["state"][0]) >= 32
    # a second start gives a different state
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(start(httpd, s)).query)["state"] != q["state"]


def test_one_page_connects_and_lists_account(httpd, fake):
    fake.control("fb_user", ONE_IG_PAGE)
    s = httpd.session()
    r = connect(httpd, s)
    assert r.status_code == 302
    assert urllib.parse.urlsplit(r.headers["Location"]).path == "/ig/accounts"
    [a] = accounts(httpd, s)
    assert a["username"] == "acme.bakery"
    assert a["login"] == "facebook"
    assert a["page_name"] == "Acme Bakery"
    assert a["status"] == "active"
    assert a["can_publish"] is True
    assert "instagram_content_publish" in a["scopes"]
    assert re.fullmatch(r"\d{15,20}", a["ig_user_id"])
    assert a["token_expires_at"] is not None
    page = s.get(httpd.url("/ig/accounts"))
    assert page.status_code == 200 and "@acme.bakery" in page.text
    # Graph calls carry appsecret_proof; only the token exchanges carry client_secret
    for q in fake.requests_log():
        if q["host"] != "graph.facebook.com":
            continue
        if "oauth/access_token" in q["path"]:
            assert "client_secret" in q["query"]
        else:
            assert "client_secret" not in q["query"] and "appsecret_proof" in q["query"], q


def test_several_pages_with_paging_ask_for_a_choice(httpd, fake):
    fake.control("fb_user", THREE_IG_PAGES)
    s = httpd.session()
    r = callback(httpd, s, follow_dialog(start(httpd, s)))
    assert r.status_code == 302 and r.headers["Location"].endswith("/ig/oauth/pages")
    page = s.get(httpd.url("/ig/oauth/pages"))
    assert page.status_code == 200
    assert "no-store" in page.headers["Cache-Control"]
    ids = offered_pages(page.text)
    assert len(ids) == 3                       # paging followed, the plain Page left out
    for name in ("@one.ig", "@two.ig", "@three.ig"):
        assert name in page.text
    # a forged CSRF token is refused and changes nothing
    bad = s.post(httpd.url("/ig/oauth/pages"), data={"csrf": "forged", "page_id": ids[0]},
                 allow_redirects=False)
    assert bad.status_code == 403
    assert accounts(httpd, s) == []
    # a Page that was not offered is refused
    bad = s.post(httpd.url("/ig/oauth/pages"),
                 data={"csrf": csrf_of(page.text), "page_id": "999"}, allow_redirects=False)
    assert bad.status_code == 400
    ok = s.post(httpd.url("/ig/oauth/pages"),
                data={"csrf": csrf_of(page.text), "page_id": ids[:2]}, allow_redirects=False)
    assert ok.status_code == 303
    names = sorted(a["username"] for a in accounts(httpd, s))
    assert len(names) == 2 and set(names) <= {"one.ig", "two.ig", "three.ig"}
    # the selection is single use
    again = s.get(httpd.url("/ig/oauth/pages"))
    assert again.status_code == 400


def test_no_instagram_page_is_a_clear_400(httpd, fake):
    fake.control("fb_user", {"name": "No IG", "pages": [{"name": "Plain", "ig_username": None}]})
    s = httpd.session()
    r = connect(httpd, s)
    assert r.status_code == 400
    assert "Instagram professional" in r.text
    assert accounts(httpd, s) == []


def test_no_page_at_all_is_a_clear_400(httpd, fake):
    fake.control("fb_user", {"name": "Nobody", "pages": []})
    s = httpd.session()
    r = connect(httpd, s)
    assert r.status_code == 400 and "Instagram professional" in r.text


def test_denial_shows_friendly_page_and_calls_nothing(httpd, fake):
    fake.control("config", {"consent": "page"})
    s = httpd.session()
    fake.clear_requests()
    r = connect(httpd, s, action="deny")
    assert r.status_code == 200
    assert "cancelled" in r.text.lower()
    assert graph_calls(fake, "oauth/access_token") == []
    assert accounts(httpd, s) == []


def test_state_mismatch_is_refused_without_graph_call(httpd, fake):
    s = httpd.session()
    loc = follow_dialog(start(httpd, s))
    tampered = re.sub(r"state=([^&#]+)", "state=AAAA\\1", loc)
    fake.clear_requests()
    r = callback(httpd, s, tampered)
    assert r.status_code == 400
    assert graph_calls(fake, "oauth/access_token") == []
    # the genuine state was not consumed by the forged attempt? It was bound to this browser;
    # the session entry is cleared only on a match, so the real answer still works.
    assert callback(httpd, s, loc).status_code == 302


def test_missing_state_and_missing_session_are_refused(httpd, fake):
    s = httpd.session()
    loc = follow_dialog(start(httpd, s))
    no_state = re.sub(r"&?state=[^&#]+", "", loc)
    assert callback(httpd, s, no_state).status_code == 400
    other_browser = httpd.session()
    fake.clear_requests()
    assert callback(httpd, other_browser, loc).status_code == 400
    assert graph_calls(fake, "oauth/access_token") == []


def test_state_is_single_use(httpd, fake):
    s = httpd.session()
    loc = follow_dialog(start(httpd, s))
    assert callback(httpd, s, loc).status_code == 302
    fake.clear_requests()
    replay = callback(httpd, s, loc)
    assert replay.status_code == 400
    assert graph_calls(fake, "oauth/access_token") == []


def test_state_replay_with_an_old_cookie_is_refused(httpd, fake):
    """Even with the session cookie saved before the callback, the state row is gone."""
    s = httpd.session()
    loc = follow_dialog(start(httpd, s))
    saved = s.cookies.copy()
    assert callback(httpd, s, loc).status_code == 302
    s2 = httpd.session()
    s2.cookies.update(saved)
    assert callback(httpd, s2, loc).status_code == 400


def test_expired_state_is_refused(httpd, fake):
    s = httpd.session()
    loc = follow_dialog(start(httpd, s))
    httpd.sql_write("UPDATE oauth_states SET expires_at = expires_at - 601")
    fake.clear_requests()
    r = callback(httpd, s, loc)
    assert r.status_code == 400
    assert graph_calls(fake, "oauth/access_token") == []


def test_graph_failure_during_exchange_is_a_readable_page(httpd, fake):
    fake.control("fault", {"route": "graph.facebook.com/v[0-9.]+/oauth/access_token",
                           "status": 500, "code": 2, "message": "Service temporarily unavailable",
                           "times": 1})
    s = httpd.session()
    r = connect(httpd, s)
    assert r.status_code == 502
    assert "text/html" in r.headers["Content-Type"]
    assert accounts(httpd, s) == []


def test_reconnect_updates_the_row_without_duplicates(httpd, fake):
    fake.control("fb_user", ONE_IG_PAGE)
    s = httpd.session()
    assert connect(httpd, s).status_code == 302
    [first] = accounts(httpd, s)
    httpd.sql_write("UPDATE accounts SET status='needs_reauth', last_error='expired'")
    assert connect(httpd, s).status_code == 302
    [second] = accounts(httpd, s)
    assert second["id"] == first["id"]
    assert second["status"] == "active"
    assert httpd.sql("SELECT COUNT(*) FROM accounts")[0][0] == 1


def test_appsecret_proof_enforced_by_meta_still_connects(httpd, fake):
    fake.control("config", {"require_appsecret_proof": True})
    fake.control("fb_user", ONE_IG_PAGE)
    s = httpd.session()
    assert connect(httpd, s).status_code == 302
    assert len(accounts(httpd, s)) == 1


def test_tokens_never_leave_in_clear(httpd, fake):
    fake.control("fb_user", THREE_IG_PAGES)
    s = httpd.session()
    bodies = []
    loc = follow_dialog(start(httpd, s))
    r = callback(httpd, s, loc)
    bodies.append(r.text)
    page = s.get(httpd.url("/ig/oauth/pages"))
    bodies.append(page.text)
    r = s.post(httpd.url("/ig/oauth/pages"),
               data={"csrf": csrf_of(page.text), "page_id": offered_pages(page.text)})
    bodies.append(r.text)
    bodies.append(s.get(httpd.url("/ig/api/accounts")).text)
    bodies.append(s.get(httpd.url("/ig/accounts")).text)
    cookies = " ".join(c.value for c in s.cookies)
    tokens = fake.tokens()
    assert len(tokens) >= 4
    db = httpd.db_bytes()
    log = httpd.error_log_text()
    for t in tokens:
        assert t.encode() not in db, "token in the database file"
        assert t not in log, "token in the error log"
        assert t not in cookies
        for b in bodies:
            assert t not in b
    assert "sandbox-app-secret" not in log and b"sandbox-app-secret" not in db


@pytest.mark.parametrize("target", ["//evil.example/x", "/\\evil.example", "https://evil.example/",
                                    "/ig/../../etc", "/a\r\nSet-Cookie:x=1", "javascript:alert(1)",
                                    "/ig/./accounts"])
def test_return_to_must_be_a_local_path(httpd, target):
    r = httpd.session().get(httpd.url("/ig/oauth/start?login=facebook&return_to=" +
                                      urllib.parse.quote(target, safe="")),
                            allow_redirects=False)
    assert r.status_code == 400, (target, r.status_code)
    assert "Location" not in r.headers


def test_return_to_is_honoured_after_connect(httpd, fake):
    fake.control("fb_user", ONE_IG_PAGE)
    s = httpd.session()
    loc = start(httpd, s, "facebook", return_to="/ig/accounts?from=settings")
    r = callback(httpd, s, follow_dialog(loc))
    assert r.status_code == 302 and r.headers["Location"] == "/ig/accounts?from=settings"
