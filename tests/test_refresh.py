"""Token lifecycle driven by time: libfaketime moves httpd's clock from outside, together with
the fake Meta server's clock. Nobody calls anything: the maintenance thread does the work."""
import time

import pytest

from flows import accounts, connect

DAY = 86400
FAST = "IGraphMaintenanceInterval 1s"


def move(httpd, fake, seconds):
    """Moves both clocks to `seconds` after the real time."""
    httpd.set_time_offset(seconds)
    fake.control("clock", {"set": int(time.time()) + seconds})


def refresh_calls(fake, host="graph.instagram.com", path="refresh_access_token"):
    return [q for q in fake.requests_log() if q["host"] == host and path in q["path"]]


def wait_for(pred, timeout=15, step=0.2):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def row(httpd):
    return httpd.sql("SELECT status, token_expires_at, last_error, refresh_failures "
                     "FROM accounts")[0]


@pytest.fixture
def ig_httpd(make_httpd, fake):
    fake.control("ig_user", {"username": "ig.creator"})
    h = make_httpd(faketime=True, directives=FAST)
    s = h.session()
    assert connect(h, s, "instagram").status_code == 302
    return h


def test_token_near_expiry_is_refreshed_once(ig_httpd, fake):
    h = ig_httpd
    before = row(h)[1]
    fake.clear_requests()
    time.sleep(2.5)
    assert refresh_calls(fake) == [], "a young token outside the window is left alone"
    move(h, fake, 46 * DAY)          # 60-day token: 14 days left, inside the 15-day window
    assert wait_for(lambda: row(h)[1] > before + 40 * DAY), "refreshed by the worker"
    time.sleep(3)                    # more ticks: nothing more to do
    assert len(refresh_calls(fake)) == 1
    status, expires, last_error, failures = row(h)
    assert status == "active" and last_error is None and failures == 0
    assert abs(expires - (time.time() + 46 * DAY + 5183944)) < 120
    assert "IG0052" in h.error_log_text()


def test_young_token_in_window_waits_for_24_hours(make_httpd, fake):
    fake.control("ig_user", {"username": "ig.creator"})
    h = make_httpd(faketime=True, directives=FAST + "\nIGraphRefreshBefore 59d")
    assert connect(h, h.session(), "instagram").status_code == 302
    fake.clear_requests()
    time.sleep(3)
    assert refresh_calls(fake) == [], "younger than 24 hours: Instagram would refuse"
    move(h, fake, 2 * DAY)
    assert wait_for(lambda: len(refresh_calls(fake)) == 1)


def test_revoked_token_turns_needs_reauth_and_is_not_retried(ig_httpd, fake):
    h = ig_httpd
    fake.control("fault", {"route": "graph.instagram.com/refresh_access_token", "status": 400,
                           "code": 190, "subcode": 460,
                           "message": "Error validating access token: password changed"})
    fake.clear_requests()
    move(h, fake, 46 * DAY)
    assert wait_for(lambda: row(h)[0] == "needs_reauth")
    time.sleep(3)
    assert len(refresh_calls(fake)) == 1
    status, _, last_error, _ = row(h)
    assert "190" in last_error
    [a] = accounts(h, h.session())
    assert a["status"] == "needs_reauth" and a["can_publish"] is False and a["last_error"]


def test_transient_failure_is_retried_later_not_lost(ig_httpd, fake):
    h = ig_httpd
    before = row(h)[1]
    fake.control("fault", {"route": "graph.instagram.com/refresh_access_token", "status": 500,
                           "kind": "html", "times": 1})
    fake.clear_requests()
    move(h, fake, 46 * DAY)
    assert wait_for(lambda: row(h)[3] == 1), "failure recorded"
    status, expires, last_error, _ = row(h)
    assert status == "active" and expires == before and last_error
    time.sleep(2.5)
    assert len(refresh_calls(fake)) == 1, "backs off instead of hammering"
    move(h, fake, 46 * DAY + 2 * 3600)  # past the backoff
    assert wait_for(lambda: row(h)[1] > before + 40 * DAY)
    assert row(h)[0] == "active" and row(h)[3] == 0


def test_timeout_is_retried_later(make_httpd, fake):
    fake.control("ig_user", {"username": "ig.creator"})
    h = make_httpd(faketime=True, directives=FAST + "\nIGraphGraphTimeout 3s")
    assert connect(h, h.session(), "instagram").status_code == 302
    before = row(h)[1]
    fake.control("fault", {"route": "graph.instagram.com/refresh_access_token", "kind": "hang",
                           "seconds": 8, "times": 1})
    move(h, fake, 46 * DAY)
    assert wait_for(lambda: row(h)[3] == 1, timeout=40)
    move(h, fake, 46 * DAY + 2 * 3600)
    assert wait_for(lambda: row(h)[1] > before + 40 * DAY)


def test_facebook_user_token_is_reexchanged_and_page_token_renewed(make_httpd, fake):
    fake.control("fb_user", {"name": "A", "pages": [{"name": "P", "ig_username": "fb.acct"}]})
    h = make_httpd(faketime=True, directives=FAST)
    assert connect(h, h.session(), "facebook").status_code == 302
    before = row(h)[1]
    fake.clear_requests()
    move(h, fake, 50 * DAY)
    assert wait_for(lambda: row(h)[1] > before + 40 * DAY)
    log = fake.requests_log()
    assert any(q["query"].get("grant_type") == "fb_exchange_token" for q in log)
    assert any("/me/accounts" in q["path"] for q in log)
    assert row(h)[0] == "active"


def test_refresh_route(make_httpd, fake):
    fake.control("fb_user", {"name": "A", "pages": [{"name": "P", "ig_username": "fb.acct"}]})
    h = make_httpd()
    s = h.session()
    connect(h, s, "facebook")
    [a] = accounts(h, s)
    r = s.post(h.url(f"/ig/api/accounts/{a['id']}/refresh"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ok"] is True and body["result"] == "refreshed"
    assert body["account"]["status"] == "active"
    assert s.post(h.url("/ig/api/accounts/999/refresh")).status_code == 404
    fake.control("fault", {"route": "graph.facebook.com/v[0-9.]+/oauth/access_token",
                           "status": 400, "code": 190, "subcode": 463, "message": "expired"})
    r = s.post(h.url(f"/ig/api/accounts/{a['id']}/refresh"))
    assert r.status_code == 409 and r.json()["error"] == "needs_reauth"
    assert accounts(h, s)[0]["status"] == "needs_reauth"


@pytest.mark.parametrize("mpm", ["prefork", "event"])
def test_several_children_refresh_each_account_once(make_httpd, fake, mpm):
    fake.control("ig_user", {"username": "ig.one"})
    h = make_httpd(faketime=True, mpm=mpm, directives=FAST)
    s = h.session()
    connect(h, s, "instagram")
    fake.control("ig_user", {"username": "ig.two"})
    connect(h, s, "instagram")
    fake.clear_requests()
    move(h, fake, 46 * DAY)
    assert wait_for(lambda: len(refresh_calls(fake)) >= 2)
    time.sleep(3)
    assert len(refresh_calls(fake)) == 2
    pids = {l.split("[pid ")[1].split(":")[0] for l in h.error_log_text().splitlines()
            if "IG0052" in l}
    assert len(pids) == 1


@pytest.mark.parametrize("mpm", ["prefork", "event"])
@pytest.mark.parametrize("how", [pytest.param("graceful", marks=pytest.mark.processes), "stop"])
def test_restart_during_a_sweep_is_prompt(make_httpd, fake, mpm, how):
    fake.control("ig_user", {"username": "ig.slow"})
    h = make_httpd(faketime=True, mpm=mpm, directives=FAST)
    connect(h, h.session(), "instagram")
    fake.control("fault", {"route": "graph.instagram.com/refresh_access_token", "kind": "hang",
                           "seconds": 30})
    fake.clear_requests()
    move(h, fake, 46 * DAY)
    assert wait_for(lambda: len(refresh_calls(fake)) >= 1), "a sweep is in flight"
    t0 = time.time()
    if how == "graceful":
        h.graceful()
        assert h.session().get(h.url("/ig/api/accounts")).status_code == 200
    else:
        h.stop()
    assert time.time() - t0 < 8
    assert "AH00045" not in h.error_log_text()


@pytest.mark.processes
def test_refresh_racing_with_deauthorization_writes_no_token_back(make_httpd, fake):
    """Meta's deauthorize callback arrives while a refresh waits for Meta: the refresh's new
    token is never written over the erased ones, and the account stays deauthorized. Two
    requests at once: not for valgrind's one-process, one-connection-at-a-time server."""
    import threading

    from harness import APP_SECRET
    from test_meta_callbacks import signed_request

    fake.control("fb_user", {"name": "A", "pages": [{"name": "P", "ig_username": "fb.race"}]})
    h = make_httpd()
    s = h.session()
    connect(h, s, "facebook")
    [a] = accounts(h, s)
    app_user = h.sql("SELECT app_user_id FROM accounts")[0][0]
    fake.control("fault", {"route": "graph.facebook.com/v[0-9.]+/oauth/access_token",
                           "kind": "hang", "seconds": 3, "times": 1})
    fake.clear_requests()
    answer = {}
    t = threading.Thread(target=lambda: answer.update(
        r=s.post(h.url(f"/ig/api/accounts/{a['id']}/refresh"), timeout=30)))
    t.start()
    time.sleep(1.5)                  # the exchange is hanging at the fake now (3 s)
    r = h.session().post(h.url("/ig/meta/deauthorize"),
                         data={"signed_request": signed_request({"user_id": app_user},
                                                                APP_SECRET)})
    assert r.status_code == 200, r.text
    t.join(30)
    r = answer["r"]
    assert r.status_code == 200 and r.json()["result"] == "stale", r.text
    # Meta did answer with new tokens: none of them reached the row
    assert any("oauth/access_token" in q["path"] for q in fake.requests_log())
    assert h.sql("SELECT status, access_token_enc, user_token_enc FROM accounts") == [
        ("deauthorized", None, None)]
    assert accounts(h, s)[0]["status"] == "deauthorized"
