"""Instagram Business Login connect flow."""
import re
import urllib.parse

from flows import accounts, callback, connect, start
from harness import follow_dialog


def test_start_uses_instagram_app_and_current_scopes(httpd, fake):
    loc = start(httpd, httpd.session(), "instagram")
    u = urllib.parse.urlsplit(loc)
    q = urllib.parse.parse_qs(u.query)
    assert u.path.endswith("/www.instagram.com/oauth/authorize")
    assert q["client_id"] == ["2000000000000002"]
    assert q["redirect_uri"] == [httpd.redirect_url]
    assert q["response_type"] == ["code"]
    assert q["scope"] == ["instagram_business_basic,instagram_business_content_publish"]
    assert len(q["state"][0]) >= 32


def test_login_may_be_omitted_with_one_kind(make_httpd, fake):
    h = make_httpd(facebook=False)
    r = h.session().get(h.url("/ig/oauth/start"), allow_redirects=False)
    assert r.status_code == 302 and "/www.instagram.com/oauth/authorize" in r.headers["Location"]
    # and asking for the missing kind is a clear 503
    r = h.session().get(h.url("/ig/oauth/start?login=facebook"), allow_redirects=False)
    assert r.status_code == 503 and "meta_not_configured" in r.text
    page = h.session().get(h.url("/ig/accounts"))
    assert "Connect with Instagram" in page.text and "Connect with Facebook" not in page.text


def _check_connected(httpd, s, username="ig.creator"):
    [a] = accounts(httpd, s)
    assert a["login"] == "instagram"
    assert a["username"] == username
    assert a["status"] == "active" and a["can_publish"] is True
    assert a["page_id"] is None
    assert "instagram_business_content_publish" in a["scopes"]
    assert re.fullmatch(r"\d{15,20}", a["ig_user_id"])
    return a


def test_shape_a_connects(httpd, fake):
    fake.control("ig_user", {"username": "ig.creator", "shape": "A"})
    s = httpd.session()
    r = connect(httpd, s, "instagram")
    assert r.status_code == 302 and "/ig/accounts" in r.headers["Location"]
    _check_connected(httpd, s)


def test_shape_b_keeps_big_numeric_user_id_exact(httpd, fake):
    fake.control("ig_user", {"username": "ig.creator", "shape": "B",
                             "user_id": "27640875392278831"})
    s = httpd.session()
    fake.clear_requests()
    assert connect(httpd, s, "instagram").status_code == 302
    _check_connected(httpd, s)
    assert httpd.sql("SELECT app_user_id FROM accounts") == [("27640875392278831",)]
    # the exchange was a form POST to api.instagram.com; the long-lived exchange followed
    log = fake.requests_log()
    ex = [q for q in log if q["host"] == "api.instagram.com"]
    assert ex and ex[0]["method"] == "POST" and ex[0]["form"]["grant_type"] == "authorization_code"
    assert any(q["path"].endswith("/access_token") and q["host"] == "graph.instagram.com"
               and q["query"].get("grant_type") == "ig_exchange_token" for q in log)


def test_code_with_encoded_suffix_is_stripped(httpd, fake):
    fake.control("ig_user", {"username": "ig.creator", "code_suffix": "encoded"})
    s = httpd.session()
    loc = follow_dialog(start(httpd, s, "instagram"))
    assert "%23_" in loc
    r = callback(httpd, s, loc)
    assert r.status_code == 302, r.text[:400]
    _check_connected(httpd, s)


def test_denial_is_friendly(httpd, fake):
    fake.control("config", {"consent": "page"})
    s = httpd.session()
    r = connect(httpd, s, "instagram", action="deny")
    assert r.status_code == 200 and "cancelled" in r.text.lower()
    assert accounts(httpd, s) == []


def test_oauth_error_is_a_readable_page(httpd, fake):
    fake.control("fault", {"route": "api.instagram.com/oauth/access_token", "kind": "flat",
                           "status": 400, "code": 400,
                           "message": "Matching code was not found or was already used"})
    s = httpd.session()
    r = connect(httpd, s, "instagram")
    assert r.status_code == 400
    assert "Matching code was not found or was already used" in r.text
    assert accounts(httpd, s) == []
    assert "IG0030" in httpd.error_log_text()


def test_personal_account_is_refused(httpd, fake):
    fake.control("ig_user", {"username": "just.me", "account_type": "PERSONAL"})
    s = httpd.session()
    r = connect(httpd, s, "instagram")
    assert r.status_code == 400 and "personal" in r.text.lower()
    assert accounts(httpd, s) == []


def test_data_wrapped_me_and_reconnect_without_duplicate(httpd, fake):
    fake.control("ig_user", {"username": "ig.creator", "me_shape": "data"})
    s = httpd.session()
    assert connect(httpd, s, "instagram").status_code == 302
    first = _check_connected(httpd, s)
    assert connect(httpd, s, "instagram").status_code == 302
    second = _check_connected(httpd, s)
    assert first["id"] == second["id"]
    assert httpd.sql("SELECT COUNT(*) FROM accounts")[0][0] == 1


def test_accounts_page_shows_both_kinds(httpd, fake):
    fake.control("fb_user", {"name": "A", "pages": [{"name": "P", "ig_username": "fb.side"}]})
    fake.control("ig_user", {"username": "ig.side"})
    s = httpd.session()
    connect(httpd, s, "facebook")
    connect(httpd, s, "instagram")
    page = s.get(httpd.url("/ig/accounts")).text
    assert "Connect with Facebook" in page and "Connect with Instagram" in page
    assert "Facebook Login" in page and "Instagram Login" in page
    httpd.sql_write("UPDATE accounts SET status='needs_reauth', last_error='token expired' "
                    "WHERE login='instagram'")
    page = s.get(httpd.url("/ig/accounts")).text
    assert "Reconnect" in page and "/ig/oauth/start?login=instagram" in page
    assert "token expired" in page
