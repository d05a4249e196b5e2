"""Meta's platform callbacks: deauthorize, data deletion, webhooks. Reachable without an Apache
user, but nothing unsigned is accepted."""
import base64
import hashlib
import hmac
import json
import time
import urllib.parse

import pytest

from flows import accounts, connect
from harness import APP_SECRET, IG_APP_SECRET, csrf_of

VERIFY = "verify-me-123"


def b64url(b, pad=False):
    s = base64.urlsafe_b64encode(b).decode()
    return s if pad else s.rstrip("=")


def signed_request(payload, secret, pad=False, algorithm="HMAC-SHA256", tamper=False):
    body = dict(payload)
    body.setdefault("algorithm", algorithm)
    body.setdefault("issued_at", int(time.time()))
    if body["issued_at"] is None:       # issued_at=None: a payload without one
        del body["issued_at"]
    enc = b64url(json.dumps(body).encode(), pad)
    sig = hmac.new(secret.encode(), enc.encode(), hashlib.sha256).digest()
    if tamper:
        enc = b64url(json.dumps({**body, "user_id": "999"}).encode(), pad)
    return b64url(sig, pad) + "." + enc


@pytest.fixture
def authed(make_httpd, fake):
    return make_httpd(require_user=True, directives=f"IGraphWebhookVerifyToken {VERIFY}",
                      allowed=[r"IG008[04]"])


def ig_connect(h, fake, user="alice", username="cb.acct"):
    fake.control("ig_user", {"username": username})
    s = h.session(user)
    assert connect(h, s, "instagram").status_code == 302
    [a] = accounts(h, s)
    app_user = h.sql("SELECT app_user_id FROM accounts WHERE id=?", (a["id"],))[0][0]
    return s, a, app_user


def test_deauthorize_disables_and_erases_tokens(authed, fake):
    s, a, app_user = ig_connect(authed, fake)
    anon = authed.session()
    r = anon.post(authed.url("/ig/meta/deauthorize"),
                  data={"signed_request": signed_request({"user_id": app_user}, IG_APP_SECRET)})
    assert r.status_code == 200, r.text
    [acc] = accounts(authed, s)
    assert acc["status"] == "deauthorized" and acc["can_publish"] is False
    row = authed.sql("SELECT access_token_enc, user_token_enc FROM accounts")[0]
    assert row == (None, None)


@pytest.mark.parametrize("how", ["tampered", "wrong_secret", "wrong_algorithm", "garbage",
                                 "missing", "old", "no_issued_at", "login_code",
                                 "login_oauth_token"])
def test_bad_signed_request_changes_nothing(authed, fake, how):
    s, a, app_user = ig_connect(authed, fake)
    payload = {"user_id": app_user}
    sr = {
        "tampered": signed_request(payload, IG_APP_SECRET, tamper=True),
        "wrong_secret": signed_request(payload, "not-the-secret"),
        "wrong_algorithm": signed_request(payload, IG_APP_SECRET, algorithm="HMAC-SHA1"),
        "garbage": "abc.def",
        "missing": None,
        "old": signed_request({**payload, "issued_at": int(time.time()) - 10 * 86400},
                              IG_APP_SECRET),
        # correctly signed, but not a callback: no issued_at (replayable forever), or the
        # JavaScript SDK's login payload (it carries code or oauth_token)
        "no_issued_at": signed_request({**payload, "issued_at": None}, IG_APP_SECRET),
        "login_code": signed_request({**payload, "code": "AQDxfakecode"}, IG_APP_SECRET),
        "login_oauth_token": signed_request({**payload, "oauth_token": "EAAJfake",
                                             "expires": int(time.time()) + 3600},
                                            APP_SECRET),
    }[how]
    for path in ("/ig/meta/deauthorize", "/ig/meta/data-deletion"):
        data = {"signed_request": sr} if sr else {"other": "x"}
        r = authed.session().post(authed.url(path), data=data)
        assert r.status_code == 400, (path, r.text)
    assert accounts(authed, s)[0]["status"] == "active"


def test_data_deletion_deletes_and_reports(authed, fake):
    s, a, app_user = ig_connect(authed, fake)
    r = s.post(authed.url("/ig/publish"), json={"media_type": "IMAGE",
                                                "image_url": "https://cdn.example.org/x.jpg",
                                                "publish_at": time.strftime(
                                                    "%Y-%m-%dT%H:%M:%SZ",
                                                    time.gmtime(time.time() + 7200))})
    assert r.status_code == 202
    r = authed.session().post(
        authed.url("/ig/meta/data-deletion"),
        data={"signed_request": signed_request({"user_id": app_user}, IG_APP_SECRET, pad=True)})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"url", "confirmation_code"}
    assert body["confirmation_code"].isalnum()
    assert accounts(authed, s) == []
    assert authed.sql("SELECT COUNT(*) FROM jobs")[0][0] == 0
    u = urllib.parse.urlsplit(body["url"])
    status = authed.session().get(authed.url(u.path + "?" + u.query))
    assert status.status_code == 200
    assert body["confirmation_code"] in status.text and "Completed" in status.text
    assert authed.session().get(authed.url("/ig/meta/deletion?code=nope")).status_code == 404


def test_facebook_secret_also_verifies(authed, fake):
    fake.control("fb_user", {"name": "A", "pages": [{"name": "P", "ig_username": "fb.cb"}]})
    s = authed.session("alice")
    connect(authed, s, "facebook")
    app_user = authed.sql("SELECT app_user_id FROM accounts")[0][0]
    assert app_user
    r = authed.session().post(authed.url("/ig/meta/deauthorize"),
                              data={"signed_request": signed_request({"user_id": app_user},
                                                                     APP_SECRET)})
    assert r.status_code == 200
    assert accounts(authed, s)[0]["status"] == "deauthorized"


def test_webhook_verification(authed):
    anon = authed.session()
    q = {"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": VERIFY}
    r = anon.get(authed.url("/ig/meta/webhook?" + urllib.parse.urlencode(q)))
    assert r.status_code == 200 and r.text == "1158201444"
    r = anon.get(authed.url("/ig/meta/webhook?" + urllib.parse.urlencode(
        {**q, "hub.verify_token": "wrong"})))
    assert r.status_code == 403
    r = anon.get(authed.url("/ig/meta/webhook?" + urllib.parse.urlencode(
        {**q, "hub.challenge": "<script>"})))
    assert r.status_code == 403


def hub_post(h, body, secret, sig=None):
    raw = json.dumps(body).encode()
    sig = sig or "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return h.session().post(h.url("/ig/meta/webhook"), data=raw,
                            headers={"Content-Type": "application/json",
                                     "X-Hub-Signature-256": sig})


def test_webhook_events_are_stored_once_and_listed_per_owner(authed, fake):
    s, a, _ = ig_connect(authed, fake)
    note = {"object": "instagram", "entry": [
        {"id": a["ig_user_id"], "time": 1793000800, "changes": [
            {"field": "comments", "value": {"id": "1786", "text": "Looks tasty!",
                                            "from": {"id": "65", "username": "fan"}}}]},
        {"id": a["ig_user_id"], "time": 1793000801, "messaging": [
            {"sender": {"id": "1"}, "recipient": {"id": a["ig_user_id"]},
             "timestamp": 1793000801, "message": {"mid": "m1", "text": "hi"}}]}]}
    r = hub_post(authed, note, IG_APP_SECRET)
    assert r.status_code == 200 and r.json()["received"] == 2
    r = hub_post(authed, note, APP_SECRET)          # the other secret, and a duplicate
    assert r.status_code == 200 and r.json()["received"] == 0
    events = s.get(authed.url("/ig/api/events")).json()["events"]
    assert sorted(e["field"] for e in events) == ["comments", "messages"]
    assert authed.session("bob").get(authed.url("/ig/api/events")).json()["events"] == []


@pytest.mark.parametrize("sig", ["sha256=" + "0" * 64, "sha1=abc", "", None])
def test_webhook_bad_signature_is_403(authed, fake, sig):
    ig_connect(authed, fake)
    body = {"object": "instagram", "entry": []}
    raw = json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if sig is not None:
        headers["X-Hub-Signature-256"] = sig
    r = authed.session().post(authed.url("/ig/meta/webhook"), data=raw, headers=headers)
    assert r.status_code == 403
    assert authed.sql("SELECT COUNT(*) FROM events")[0][0] == 0


def test_no_secret_in_the_log_at_trace8(make_httpd, fake):
    """Tokens and app secrets never reach the error log, whatever the LogLevel."""
    fake.control("config", {"container": {"finish_after_polls": 1}})
    fake.control("fb_user", {"name": "T", "pages": [{"name": "P", "ig_username": "trace.fb"}]})
    fake.control("ig_user", {"username": "trace.ig"})
    h = make_httpd(extra="LogLevel trace8", directives=f"IGraphWebhookVerifyToken {VERIFY}")
    s = h.session()
    connect(h, s, "facebook")
    connect(h, s, "instagram")
    for a in accounts(h, s):
        s.post(h.url(f"/ig/api/accounts/{a['id']}/refresh"))
    r = s.post(h.url("/ig/publish"), json={"account": "@trace.ig", "media_type": "IMAGE",
                                           "wait": 20,
                                           "image_url": "https://cdn.example.org/t.jpg"})
    assert r.json()["job"]["status"] == "published"
    log = h.error_log_text()
    assert "trace8" in log or "trace" in log
    for t in fake.tokens():
        assert t not in log
    for secret in (APP_SECRET, IG_APP_SECRET, VERIFY):
        assert secret not in log


def raw_post(h, path, headers, body=b"", timeout=5):
    """POSTs over a plain socket, sending only `body` whatever Content-Length says; returns
    (status, parsed JSON answer or None). An answer before the announced body was sent shows
    that the module decided without reading it."""
    import socket
    head = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{h.port}", "Connection: close",
            *[f"{k}: {v}" for k, v in headers.items()], "", ""]
    with socket.create_connection(("127.0.0.1", h.port), timeout=timeout) as c:
        c.sendall("\r\n".join(head).encode() + body)
        data = b""
        while True:
            try:
                chunk = c.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
    status = int(data.split(b" ", 2)[1])
    body = data.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in data else b""
    try:
        return status, json.loads(body)
    except ValueError:
        return status, None


def test_webhook_refusals_before_the_body_is_read(authed, fake):
    """No signature header (or a malformed one), or a Content-Length above 1 MiB: answered at
    once, without waiting for a body the client never sends."""
    big = str(2 * 1024 * 1024)
    t0 = time.time()
    status, body = raw_post(authed, "/ig/meta/webhook",
                            {"Content-Type": "application/json", "Content-Length": big})
    assert (status, body["error"]) == (403, "invalid_signature")
    status, body = raw_post(authed, "/ig/meta/webhook",
                            {"Content-Type": "application/json", "Content-Length": big,
                             "X-Hub-Signature-256": "sha256=xyz"})
    assert (status, body["error"]) == (403, "invalid_signature")
    status, body = raw_post(authed, "/ig/meta/webhook",
                            {"Content-Type": "application/json", "Content-Length": big,
                             "X-Hub-Signature-256": "sha256=" + "0" * 64})
    assert (status, body["ok"], body["error"]) == (413, False, "body_too_large")
    # none of them waited for the 2 MiB (the socket timeout is 5 s)
    assert time.time() - t0 < 4


def test_webhook_without_a_secret_is_refused_before_reading(make_httpd, fake):
    h = make_httpd(credentials=False)
    status, body = raw_post(h, "/ig/meta/webhook",
                            {"Content-Type": "application/json", "Content-Length": "100000",
                             "X-Hub-Signature-256": "sha256=" + "0" * 64})
    assert (status, body["error"]) == (503, "meta_not_configured")


def test_webhook_body_cap_is_one_mib(authed, fake):
    ig_connect(authed, fake)
    cap = 1024 * 1024
    note = {"object": "instagram", "entry": [], "pad": ""}
    note["pad"] = "x" * (cap - len(json.dumps(note).encode()))
    assert len(json.dumps(note).encode()) == cap
    r = hub_post(authed, note, IG_APP_SECRET)
    assert r.status_code == 200, r.text
    note["pad"] += "x"
    r = hub_post(authed, note, IG_APP_SECRET)
    assert r.status_code == 413 and r.json()["error"] == "body_too_large", r.text
    # chunked (no Content-Length): the same cap while reading
    raw = json.dumps(note).encode()
    sig = "sha256=" + hmac.new(IG_APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    r = authed.session().post(authed.url("/ig/meta/webhook"), data=iter([raw[:cap], raw[cap:]]),
                              headers={"Content-Type": "application/json",
                                       "X-Hub-Signature-256": sig})
    assert r.status_code == 413 and r.json()["error"] == "body_too_large", r.text


def comment_note(ig_id, text="Looks tasty!", t=1793000800):
    return {"object": "instagram", "entry": [
        {"id": ig_id, "time": t, "changes": [
            {"field": "comments", "value": {"id": "1786%d" % t, "text": text,
                                            "from": {"id": "65", "username": "fan"}}}]}]}


def test_webhook_events_for_unknown_accounts_are_not_kept(authed, fake):
    s, a, _ = ig_connect(authed, fake)
    r = hub_post(authed, comment_note("17841499999999999"), IG_APP_SECRET)
    assert r.status_code == 200 and r.json()["received"] == 0 and r.json()["ignored"] == 1
    assert authed.sql("SELECT COUNT(*) FROM events")[0][0] == 0
    # one body, one known and one unknown account: only the known one's event stays
    note = comment_note(a["ig_user_id"])
    note["entry"] += comment_note("17841499999999998")["entry"]
    r = hub_post(authed, note, IG_APP_SECRET)
    assert (r.json()["received"], r.json()["ignored"]) == (1, 1)
    assert authed.sql("SELECT ig_user_id FROM events") == [(a["ig_user_id"],)]


def test_webhook_payloads_are_sealed_at_rest(authed, fake):
    s, a, _ = ig_connect(authed, fake)
    secret_text = "a comment nobody should read from the database file"
    assert hub_post(authed, comment_note(a["ig_user_id"], secret_text),
                    IG_APP_SECRET).json()["received"] == 1
    [(payload, dedupe)] = authed.sql("SELECT payload, dedupe FROM events")
    assert payload.startswith("v1.") and secret_text not in payload
    assert secret_text.encode() not in authed.db_bytes()
    # the owner still reads it
    [e] = s.get(authed.url("/ig/api/events")).json()["events"]
    assert e["value"]["text"] == secret_text
    # a payload moved to another row does not open (bound to its row): left out, not an error
    authed.sql_write("UPDATE events SET dedupe = ?", ("0" * 64,))
    assert s.get(authed.url("/ig/api/events")).json()["events"] == []


def test_events_older_than_the_retention_are_purged(make_httpd, fake):
    h = make_httpd(require_user=True,
                   directives="IGraphEventRetention 1h\nIGraphMaintenanceInterval 1s")
    s, a, _ = ig_connect(h, fake)
    for t in (1793000800, 1793000801):
        assert hub_post(h, comment_note(a["ig_user_id"], t=t),
                        IG_APP_SECRET).json()["received"] == 1
    # one of them arrived two hours ago
    h.sql_write("UPDATE events SET received_at = received_at - 7200 WHERE event_time = ?",
                (1793000800,))
    end = time.time() + 15
    while time.time() < end and h.sql("SELECT COUNT(*) FROM events")[0][0] != 1:
        time.sleep(0.2)
    assert h.sql("SELECT event_time FROM events") == [(1793000801,)]


def deauthorize(h, app_user, secret=IG_APP_SECRET):
    r = h.session().post(h.url("/ig/meta/deauthorize"),
                         data={"signed_request": signed_request({"user_id": app_user}, secret)})
    assert r.status_code == 200, r.text
    return r


def test_deauthorized_account_cannot_be_enabled_only_reconnected(authed, fake):
    s, a, app_user = ig_connect(authed, fake, username="gone.acct")
    deauthorize(authed, app_user)
    base = f"/ig/api/accounts/{a['id']}"
    assert s.get(authed.url(base)).json()["account"]["status"] == "deauthorized"
    # enable (and disable, which would make it an ordinary disabled account) are refused
    for verb in ("enable", "disable"):
        r = s.post(authed.url(f"{base}/{verb}"))
        assert r.status_code == 409, r.text
        assert r.json()["ok"] is False and r.json()["error"] == "account_deauthorized"
        assert r.json()["message"]
    assert s.get(authed.url(base)).json()["account"]["status"] == "deauthorized"
    # no refresh, no publishing: 409 with its own code
    r = s.post(authed.url(f"{base}/refresh"))
    assert r.status_code == 409 and r.json()["error"] == "account_deauthorized", r.text
    r = s.post(authed.url("/ig/publish"), json={"media_type": "IMAGE",
                                                "image_url": "https://cdn.example.org/d.jpg"})
    assert r.status_code == 409 and r.json()["error"] == "account_deauthorized", r.text
    # the page says so, offers Reconnect and Remove, not Enable/Disable; its form is refused too
    page = s.get(authed.url("/ig/accounts"))
    assert "status-deauthorized" in page.text and "Removed on Meta" in page.text
    assert "Reconnect" in page.text and 'data-action="enable"' not in page.text
    assert 'data-action="disable"' not in page.text and 'data-action="remove"' in page.text
    r = s.post(authed.url(f"/ig/accounts/{a['id']}/enable"), data={"csrf": csrf_of(page.text)},
               allow_redirects=False)
    assert r.status_code == 409 and "account_deauthorized" in r.text
    assert "text/html" in r.headers["Content-Type"]
    assert s.get(authed.url(base)).json()["account"]["status"] == "deauthorized"
    # connecting again through OAuth is the way back
    assert connect(authed, s, "instagram").status_code == 302
    [again] = accounts(authed, s)
    assert again["id"] == a["id"] and again["status"] == "active" and again["can_publish"]
    assert authed.sql("SELECT access_token_enc IS NOT NULL FROM accounts")[0][0] == 1
