"""Facebook Login (www.facebook.com dialog) and graph.facebook.com user/Page/IG endpoints."""

import base64
from typing import List, Optional
from urllib.parse import quote, urlencode

from . import state as S
from .pages import consent_page, error_page
from .responses import (graph_error, hostile_url, html_response, json_response, parse_fields,
                        redirect, select, unsupported)
from .server import API_VERSION, V, authenticate, token_error

FB = "graph.facebook.com"


# ------------------------------------------------------------------ shared helpers
def redirect_ok(cfg, uri: str) -> bool:
    """Exact match with a registered URI, or a registered prefix followed by a boundary."""
    if not uri or "#" in uri:
        return False
    if uri in cfg.redirect_uris:
        return True
    for p in cfg.redirect_prefixes:
        if uri.startswith(p) and (len(uri) == len(p) or p.endswith("/")
                                  or uri[len(p)] in ":/?"):
            return True
    return False


def add_query(uri: str, pairs) -> str:
    """Append k=v pairs, percent-encoding every value byte for byte."""
    q = "&".join("%s=%s" % (k, v if raw else quote(v, safe=""))
                 for k, v, raw in pairs if v is not None)
    return uri + ("&" if "?" in uri else "?") + q


def split_scopes(s: Optional[str]) -> List[str]:
    return [x for x in (s or "").replace(",", " ").split() if x]


def avatar_url(req, username: str) -> str:
    return "%s/static/pp/%s.svg" % (req.base, quote(username, safe="._-"))


def version(m) -> str:
    return (m.groupdict().get("version") or API_VERSION) if m else API_VERSION


def ig_account_obj(req, acc) -> dict:
    """All fields of an IGUser node on graph.facebook.com (None = known but absent)."""
    return {"id": acc.id, "ig_id": int(acc.id[-10:]), "username": acc.username,
            "name": acc.name or None, "profile_picture_url": hostile_url(req.state, avatar_url(req, acc.username)),
            "followers_count": acc.followers_count, "follows_count": acc.follows_count,
            "media_count": acc.media_count, "biography": acc.biography or None,
            "website": acc.website or None, "account_type": acc.account_type,
            "media": None, "stories": None, "tags": None, "business_discovery": None,
            "shopping_product_tag_eligibility": False}


def page_obj(req, page, user_tok, fields=None) -> dict:
    """fields: the parsed fields= (a Page token is minted only when access_token is asked
    for, or when no fields are given)."""
    st = req.state
    acc = st.accounts.get(page.ig_id) if page.ig_id else None
    ig = ig_account_obj(req, acc) if acc else None
    tok = None
    want = fields is None or any(f == "access_token" for f, _ in fields)
    if not want:
        pass
    elif user_tok is not None and user_tok.kind in ("fb_short", "fb_long"):
        tok = st.page_token(user_tok, page).token
    elif user_tok is not None and user_tok.kind == "page":
        tok = user_tok.token
    return {"id": page.id, "name": page.name, "access_token": tok, "tasks": list(page.tasks),
            "category": page.category, "category_list": [{"id": "2500", "name": page.category}],
            "instagram_business_account": ig, "connected_instagram_account": ig,
            "about": None, "fan_count": 12, "link": "https://www.facebook.com/%s" % page.id,
            "picture": None, "verification_status": "not_verified"}


def require_user(req, tok, edge: str):
    if tok.kind == "app":
        raise graph_error(2500, "An active access token must be used to query information "
                          "about the current user.", host=req.host)
    if tok.kind == "page":
        raise graph_error(100, "(#100) Tried accessing nonexisting field (%s) on node type "
                          "(Page)" % edge, host=req.host)


# ------------------------------------------------------------------ dialog
def dialog(req, m):
    st, cfg = req.state, req.state.config
    p = req.params
    client_id, ruri, state = p.get("client_id"), p.get("redirect_uri"), p.get("state")
    if client_id != cfg.app_id:
        return html_response(error_page("Invalid App ID", "The provided app ID does not look "
                                         "like a valid app ID."), 400)
    if not redirect_ok(cfg, ruri):
        return html_response(error_page(
            "URL blocked: redirect_uri mismatch", "This redirect failed because the redirect "
            "URI is not whitelisted in the app's Client OAuth Settings (redirect_uri mismatch)."),
            400)
    scopes = split_scopes(p.get("scope"))
    if req.method == "POST":
        action = req.form.get("action")
    else:
        action = {"allow": "allow", "deny": "deny"}.get(cfg.consent)
    if action == "allow":
        code = st.issue_code("fb", client_id, ruri, scopes)
        return redirect(add_query(ruri, [("code", code.code, False),
                                         ("state", state, False)]) + "#_=_")
    if action == "deny":
        return redirect(add_query(ruri, [
            ("error", "access_denied", True), ("error_code", "200", True),
            ("error_description", "Permissions+error", True),
            ("error_reason", "user_denied", True), ("state", state, False)]))
    if req.method == "POST":
        return html_response(error_page("Bad request", "Unknown action."), 400)
    u = st.fb_user
    items = []
    for pg in u.pages:
        acc = st.accounts.get(pg.ig_id) if pg.ig_id else None
        items.append((pg.name, "Instagram @%s" % acc.username if acc else
                      "no Instagram account", bool(acc)))
    hidden = {k: v for k, v in req.query.items() if k != "action"}
    return html_response(consent_page(
        "facebook", "/www.facebook.com" + req.path, cfg.app_name, u.name,
        avatar_url(req, u.name.lower().replace(" ", ".")), items, scopes, hidden))


# ------------------------------------------------------------------ token exchanges
def check_client(req):
    cfg = req.state.config
    if req.p("client_id") != cfg.app_id:
        raise graph_error(101, "Error validating application. Invalid application ID.",
                          host=req.host)
    if req.p("client_secret") != cfg.app_secret:
        raise graph_error(1, "Error validating client secret.", host=req.host)


def access_token(req, m):
    st, u = req.state, req.state.fb_user
    grant = req.p("grant_type")
    check_client(req)
    if grant == "client_credentials":
        return json_response({"access_token": "%s|%s" % (st.config.app_id, st.config.app_secret),
                              "token_type": "bearer"})
    if grant == "fb_exchange_token":
        tok, problem = st.check_token(req.p("fb_exchange_token") or "")
        if tok is not None and tok.kind not in ("fb_short", "fb_long"):
            tok, problem = None, "unknown"
        if problem:
            raise token_error(req, tok, problem)
        new = st.issue_token("fb_long", tok.subject, S.FB_LONG_TTL, scopes=tok.scopes)
        body = {"access_token": new.token, "token_type": "bearer"}
        if not u.expires_in_omitted:
            body["expires_in"] = S.FB_LONG_TTL
        return json_response(body)
    if grant not in (None, "", "authorization_code"):
        raise graph_error(100, "Unsupported grant_type: %s" % grant, host=req.host)
    if not req.p("redirect_uri"):
        raise graph_error(191, "Missing redirect_uri parameter.", host=req.host)
    c = st.codes.get(req.p("code") or "")
    if c is None or c.kind != "fb":
        raise graph_error(100, "Invalid verification code format.", host=req.host)
    if c.used:
        raise graph_error(100, "This authorization code has been used.", 36009, host=req.host)
    if st.now() - c.issued_at > st.config.fb_code_ttl:
        raise graph_error(100, "This authorization code has expired.", 36007, host=req.host)
    if req.p("redirect_uri") != c.redirect_uri:
        raise graph_error(100, "Error validating verification code. Please make sure your "
                          "redirect_uri is identical to the one you used in the OAuth dialog "
                          "request", 36008, host=req.host)
    c.used = True
    st.codes_used += 1
    tok = st.issue_token("fb_short", u.id, S.FB_SHORT_TTL, scopes=u.granted)
    return json_response({"access_token": tok.token, "token_type": "bearer",
                          "expires_in": S.FB_SHORT_TTL})


# ------------------------------------------------------------------ /me and friends
def me(req, m):
    st = req.state
    tok = authenticate(req)
    fields = parse_fields(req.p("fields"))
    if tok.kind == "page":
        page = st.page(tok.subject)
        if page is None:
            raise graph_error(100, "Page no longer exists", host=req.host)
        return json_response(select(page_obj(req, page, tok, fields or []), fields, "Page",
                                    ("name", "id")))
    require_user(req, tok, "me")
    u = st.fb_user
    first, _, last = u.name.partition(" ")
    obj = {"id": tok.subject, "name": u.name, "first_name": first, "last_name": last or None,
           "short_name": first, "email": None, "picture": None,
           "accounts": None, "permissions": None, "businesses": None}
    return json_response(select(obj, fields, "User", ("name", "id")))


def _cursor(off: int, empty_done: bool) -> str:
    raw = ("off:%d:%d" % (off, int(empty_done))).encode()
    return "QVFIU" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _uncursor(c: str):
    try:
        raw = base64.urlsafe_b64decode(c[5:] + "=" * (-len(c[5:]) % 4)).decode()
        _, off, e = raw.split(":")
        return int(off), bool(int(e))
    except (ValueError, UnicodeDecodeError):
        raise graph_error(100, "Invalid cursor", host=FB)


def accounts(req, m):
    st = req.state
    tok = authenticate(req)
    require_user(req, tok, "accounts")
    u = st.fb_user
    pages = u.pages if tok.subject == u.id else []
    fields = parse_fields(req.p("fields"))
    try:
        size = int(u.page_size or req.p("limit") or 25)
    except ValueError:
        size = 25
    size = max(1, min(size, 100))
    off, empty_done = _uncursor(req.p("after")) if req.p("after") else (0, False)
    if u.empty_page_with_next and 0 < off < len(pages) and not empty_done:
        data, new_off, empty_done = [], off, True
    else:
        chunk = pages[off:off + size]
        data = [select(page_obj(req, p, tok, fields), fields, "Page",
                       ("access_token", "category", "category_list", "name", "id", "tasks"))
                for p in chunk]
        new_off = off + len(chunk)
    paging = {"cursors": {"before": _cursor(off, empty_done),
                          "after": _cursor(new_off, empty_done)}}
    if new_off < len(pages):
        q = [("access_token", tok.token)]
        q += [(k, v) for k, v in req.query.items()
              if k not in ("access_token", "limit", "after", "before")]
        q += [("limit", str(size)), ("after", paging["cursors"]["after"])]
        paging["next"] = req.url(FB, "/%s/me/accounts?%s" % (version(m), urlencode(q)))
    if off > 0:
        q = [("access_token", tok.token), ("limit", str(size)),
             ("before", paging["cursors"]["before"])]
        paging["previous"] = req.url(FB, "/%s/me/accounts?%s" % (version(m), urlencode(q)))
    return json_response({"data": data, "paging": paging})


def permissions(req, m):
    st = req.state
    tok = authenticate(req)
    require_user(req, tok, "permissions")
    u = st.fb_user
    name = m.group("perm")
    if req.method == "DELETE":
        if name:
            if name in u.granted:
                u.granted.remove(name)
            for t in st.tokens.values():
                if name in t.scopes:
                    t.scopes.remove(name)
        else:
            st.revoke(subject=u.id, subcode=458)
        return json_response({"success": True})
    data = [{"permission": p, "status": "granted"} for p in u.granted]
    data += [{"permission": p, "status": "declined"} for p in u.declined if p not in u.granted]
    if name:
        data = [d for d in data if d["permission"] == name]
    return json_response({"data": data})


def debug_token(req, m):
    st, cfg = req.state, req.state.config
    authenticate(req)
    t, problem = st.check_token(req.p("input_token") or "")
    if t is not None and t.kind.startswith("ig_"):
        t, problem = None, "unknown"
    if t is None:
        return json_response({"data": {"error": {
            "code": 190, "message": "Invalid OAuth access token - Cannot parse access token"},
            "is_valid": False, "scopes": []}})
    u = st.fb_user
    owner = t.owner if t.kind == "page" else t.subject
    ig_ids = [p.ig_id for p in u.pages if p.ig_id]
    page_ids = [p.id for p in u.pages]
    gran = []
    for s in t.scopes:
        if s.startswith("instagram_"):
            gran.append({"scope": s, "target_ids": list(ig_ids)})
        elif s.startswith("pages_"):
            gran.append({"scope": s, "target_ids": list(page_ids)})
        else:
            gran.append({"scope": s})
    d = {"app_id": cfg.app_id, "type": "PAGE" if t.kind == "page" else "USER",
         "application": cfg.app_name,
         "data_access_expires_at": int(t.issued_at + S.DATA_ACCESS_TTL),
         "expires_at": int(t.expires_at), "is_valid": problem is None,
         "issued_at": int(t.issued_at), "scopes": list(t.scopes), "granular_scopes": gran,
         "user_id": owner}
    if t.kind == "page":
        d["profile_id"] = t.subject
    if problem:
        e = token_error(req, t, problem).response.json()["error"]
        d["error"] = {"code": 190, "message": e["message"], "subcode": e["error_subcode"]}
    return json_response({"data": d})


# ------------------------------------------------------------------ generic /{id}
def get_object(req, m):
    from . import instagram, publishing
    st = req.state
    tok = authenticate(req)
    oid = m.group("id")
    fields = parse_fields(req.p("fields"))
    if req.host == "graph.instagram.com":
        acc = st.account(oid)
        if acc is not None and st.can_access(tok, acc.id):
            return json_response(select(instagram.ig_me_obj(req, acc), fields, "User",
                                        ("id", "username"), host=req.host))
    else:
        page = st.page(oid)
        if page is not None and st.can_see_page(tok, page):
            return json_response(select(page_obj(req, page, tok, fields or []), fields, "Page",
                                        ("name", "id")))
        acc = st.accounts.get(oid)
        if acc is not None and st.can_access(tok, oid):
            return json_response(select(ig_account_obj(req, acc), fields, "IGUser",
                                        ("id",)))
    resp = publishing.get_object(req, tok, oid, fields)
    if resp is None:
        raise unsupported(oid, host=req.host)
    return resp


def register(r):
    r.add(("GET", "POST"), "www.facebook.com", V + r"/dialog/oauth", dialog)
    r.add(("GET", "POST"), FB, V + r"/oauth/access_token", access_token)
    r.add("GET", FB, V + r"/me", me)
    r.add("GET", FB, V + r"/me/accounts", accounts)
    r.add(("GET", "DELETE"), FB, V + r"/me/permissions(?:/(?P<perm>[A-Za-z_]+))?",
          permissions)
    r.add("GET", FB, V + r"/debug_token", debug_token)


def register_objects(r):
    for host in (FB, "graph.instagram.com"):
        r.add("GET", host, V + r"/(?P<id>[0-9]+)", get_object)
