"""Business Login for Instagram: www.instagram.com authorize, api.instagram.com code exchange,
graph.instagram.com long-lived exchange, refresh and /me."""

from . import state as S
from .facebook import add_query, avatar_url, redirect_ok, split_scopes
from .pages import consent_page, error_page
from .responses import (Raw, hostile_url, flat_error, graph_error, html_response, json_response,
                        parse_fields, redirect, select)
from .server import V, authenticate, token_error

IG = "graph.instagram.com"


def ig_me_obj(req, acc) -> dict:
    """All fields of the Instagram Login user node (None = known but absent)."""
    return {"id": acc.app_scoped_id or acc.id, "user_id": acc.id, "username": acc.username,
            "name": acc.name or None, "account_type": acc.account_type,
            "profile_picture_url": hostile_url(req.state, avatar_url(req, acc.username)),
            "followers_count": acc.followers_count, "follows_count": acc.follows_count,
            "media_count": acc.media_count, "biography": acc.biography or None,
            "website": acc.website or None, "media": None, "stories": None,
            "live_media": None, "tags": None}


# ------------------------------------------------------------------ authorize window
def authorize(req, m):
    st, cfg, u = req.state, req.state.config, req.state.ig_user
    p = req.params
    ruri, state = p.get("redirect_uri"), p.get("state")

    def bad(msg):
        return html_response(error_page("Invalid Request", "Request parameters are invalid: "
                                         + msg), 400)
    if p.get("client_id") != cfg.ig_app_id:
        return bad("Invalid platform app")
    if not redirect_ok(cfg, ruri):
        return bad("Invalid redirect_uri")
    if p.get("response_type") != "code":
        return bad("Invalid response_type")
    scopes = split_scopes(p.get("scope"))
    wrong = [s for s in scopes if s not in S.IG_SCOPES]
    if wrong or not scopes:
        return bad("Invalid Scopes: %s" % ", ".join(wrong or ["(empty)"]))
    if req.method == "POST":
        action = req.form.get("action")
    else:
        action = {"allow": "allow", "deny": "deny"}.get(cfg.consent)
    if action == "allow":
        code = st.issue_code("ig", p["client_id"], ruri, scopes).code
        if u.code_suffix == "encoded":
            return redirect(add_query(ruri, [("code", code + "%23_", True),
                                             ("state", state, False)]))
        loc = add_query(ruri, [("code", code, False), ("state", state, False)])
        return redirect(loc + ("" if u.code_suffix == "none" else "#_"))
    if action == "deny":
        return redirect(add_query(ruri, [
            ("error", "access_denied", True), ("error_reason", "user_denied", True),
            ("error_description", "The+user+denied+your+request", True),
            ("state", None if u.denial_without_state else state, False)]))
    if req.method == "POST":
        return html_response(error_page("Bad request", "Unknown action."), 400)
    acc = st.account(u.ig_id)
    items = [("@" + u.username, {"BUSINESS": "Business account", "MEDIA_CREATOR":
                                 "Creator account"}.get(u.account_type, u.account_type), True)]
    hidden = {k: v for k, v in req.query.items() if k != "action"}
    return html_response(consent_page(
        "instagram", "/%s%s" % (req.host, req.path), cfg.app_name, "@" + u.username,
        avatar_url(req, acc.username if acc else u.username), items, scopes, hidden,
        heading="Allow %s to access @%s?" % (cfg.app_name, u.username)))


# ------------------------------------------------------------------ code -> short token
def exchange_code(req, m):
    st, cfg, u = req.state, req.state.config, req.state.ig_user
    p = req.params
    if p.get("client_id") != cfg.ig_app_id:
        raise flat_error("Invalid platform app")
    if p.get("client_secret") != cfg.ig_app_secret:
        raise flat_error("Error validating client secret")
    if p.get("grant_type") != "authorization_code":
        raise flat_error("Invalid grant_type: %s" % p.get("grant_type"))
    if not redirect_ok(cfg, p.get("redirect_uri")):
        raise flat_error("Invalid redirect_uri")
    c = st.codes.get(p.get("code") or "")
    if (c is None or c.kind != "ig" or c.used
            or st.now() - c.issued_at > cfg.ig_code_ttl):
        raise flat_error("Matching code was not found or was already used")
    if p.get("redirect_uri") != c.redirect_uri:
        raise flat_error("Invalid redirect_uri")
    c.used = True
    st.codes_used += 1
    perms = [s for s in c.scopes if s != u.drop_scope]
    tok = st.issue_token("ig_short", u.ig_id, S.IG_SHORT_TTL, scopes=perms)
    if u.shape == "A":
        return json_response({"data": [{"access_token": tok.token, "user_id": u.user_id,
                                        "permissions": ",".join(perms)}]})
    return json_response({"access_token": tok.token, "user_id": Raw(u.user_id),
                          "permissions": perms})


# ------------------------------------------------------------------ long-lived + refresh
def _input_token(req, kinds):
    st = req.state
    tok, problem = st.check_token(req.token or "")
    if tok is not None and tok.kind not in kinds:
        if tok.kind.startswith("ig_"):
            raise graph_error(100, "Only long-lived tokens can be refreshed", host=req.host)
        tok, problem = None, "unknown"
    if problem:
        raise token_error(req, tok, problem)
    return tok


def exchange_long(req, m):
    st, cfg = req.state, req.state.config
    if req.p("grant_type") != "ig_exchange_token":
        raise graph_error(100, "Unsupported grant_type parameter", host=req.host)
    if req.p("client_secret") != cfg.ig_app_secret:
        raise graph_error(101, "Error validating client secret.", host=req.host)
    tok = _input_token(req, ("ig_short", "ig_long"))
    new = st.issue_token("ig_long", tok.subject, S.IG_LONG_TTL, scopes=tok.scopes)
    return json_response({"access_token": new.token, "token_type": "bearer",
                          "expires_in": S.IG_LONG_TTL})


def refresh(req, m):
    st = req.state
    if req.p("grant_type") != "ig_refresh_token":
        raise graph_error(100, "Unsupported grant_type parameter", host=req.host)
    tok = _input_token(req, ("ig_long",))
    if st.now() - tok.issued_at < 86400:
        raise graph_error(100, "(#100) Cannot refresh: token too new to refresh (it must be "
                          "at least 24 hours old)", 0, host=req.host)
    if "instagram_business_basic" not in tok.scopes:
        raise graph_error(10, "(#10) Application does not have permission for this action",
                          host=req.host)
    new = st.issue_token("ig_long", tok.subject, S.IG_LONG_TTL, scopes=tok.scopes)
    return json_response({"access_token": new.token, "token_type": "bearer",
                          "expires_in": S.IG_LONG_TTL})


def me(req, m):
    st = req.state
    tok = authenticate(req)
    acc = st.account(tok.subject)
    if acc is None:
        raise graph_error(100, "The Instagram account no longer exists", 33, host=req.host)
    obj = select(ig_me_obj(req, acc), parse_fields(req.p("fields")), "User",
                 ("id", "username"), host=req.host)
    if st.ig_user.me_shape == "data":
        return json_response({"data": [obj]})
    return json_response(obj)


def register(r):
    for host in ("www.instagram.com", "api.instagram.com"):
        r.add(("GET", "POST"), host, r"/oauth/authorize", authorize)
    r.add("POST", "api.instagram.com", r"/oauth/access_token", exchange_code)
    r.add("GET", IG, V + r"/access_token", exchange_long)
    r.add("GET", IG, V + r"/refresh_access_token", refresh)
    r.add("GET", IG, V + r"/me", me)
