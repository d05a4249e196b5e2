"""The /_control/ JSON API used by tests (documented in fakemeta/__init__.py)."""

import json
from dataclasses import asdict, fields as dc_fields

from . import state as S
from .responses import json_response
from .server import Fault


class ControlError(Exception):
    pass


def _body(req) -> dict:
    if not req.body:
        return {}
    try:
        d = json.loads(req.body)
    except ValueError:
        raise ControlError("body is not JSON")
    if not isinstance(d, dict):
        raise ControlError("body must be a JSON object")
    return d


def _check_keys(d: dict, allowed, what: str):
    bad = sorted(set(d) - set(allowed))
    if bad:
        raise ControlError("unknown %s key(s): %s" % (what, ", ".join(bad)))


def config(req, st, d):
    if req.method == "POST":
        names = [f.name for f in dc_fields(S.Config)]
        _check_keys(d, names, "config")
        if "consent" in d and d["consent"] not in ("page", "allow", "deny"):
            raise ControlError("consent must be page, allow or deny")
        for k, v in d.items():
            if k == "container":
                _check_keys(v, ("finish_after_polls", "finish_after_seconds", "outcome",
                                "error_subcode"), "container")
                if v.get("outcome", "FINISHED") not in ("FINISHED", "ERROR"):
                    raise ControlError("container.outcome must be FINISHED or ERROR")
                st.config.container.update(v)
            else:
                setattr(st.config, k, v)
    return asdict(st.config)


def fb_user(req, st, d):
    if req.method == "POST":
        _check_keys(d, ("id", "name", "pages", "page_size", "empty_page_with_next",
                        "expires_in_omitted", "granted", "declined"), "fb_user")
        for p in d.get("pages") or []:
            _check_keys(p, ("id", "name", "ig_username", "ig_id", "ig_name", "tasks",
                            "category", "followers_count", "media_count", "account_type"),
                        "page")
        st.set_fb_user(d)
    out = asdict(st.fb_user)
    for p in out["pages"]:
        acc = st.accounts.get(p["ig_id"]) if p["ig_id"] else None
        p["ig_username"] = acc.username if acc else None
    return out


def ig_user(req, st, d):
    if req.method == "POST":
        _check_keys(d, [f.name for f in dc_fields(S.IgUser)], "ig_user")
        if d.get("shape", "A") not in ("A", "B"):
            raise ControlError("shape must be A or B")
        if d.get("me_shape", "flat") not in ("flat", "data"):
            raise ControlError("me_shape must be flat or data")
        if d.get("code_suffix", "none") not in ("fragment", "encoded", "none"):
            raise ControlError("code_suffix must be fragment, encoded or none")
        st.set_ig_user(d)
    return asdict(st.ig_user)


def clock(req, st, d):
    if req.method == "POST":
        if "advance" in d:
            st.clock.advance(float(d["advance"]))
        elif "set" in d:
            st.clock.set(float(d["set"]))
        else:
            raise ControlError("clock needs advance or set")
    return {"now": int(st.now()), "offset": st.clock.offset}


def fault(req, st, d):
    if req.method == "DELETE":
        st.faults.clear()
    elif req.method == "POST":
        specs = d.get("faults") if "faults" in d else [d]
        for spec in specs:
            _check_keys(spec, ("route", "method", "nth", "times", "status", "code", "subcode",
                               "message", "type", "kind", "seconds", "interval", "headers",
                               "body", "content_type", "user_title", "user_msg",
                               "is_transient"), "fault")
            if not spec.get("route"):
                raise ControlError("fault needs a route regex")
            try:
                st.faults.append(Fault(spec))
            except Exception as e:   # bad regex, bad kind
                raise ControlError("bad fault: %s" % e)
    return {"faults": [f.public() for f in st.faults]}


def revoke(req, st, d):
    if not d.get("token") and not d.get("subject"):
        raise ControlError("revoke needs token or subject")
    n = st.revoke(d.get("token"), d.get("subject"), int(d.get("subcode", 460)))
    return {"revoked": n}


def expire_tokens(req, st, d):
    return {"expired": st.expire(d.get("kind"), d.get("token"))}


def issue_token(req, st, d):
    """Mint a token without going through a login (kind fb_long|fb_short|page|ig_short|ig_long)."""
    kind = d.get("kind", "ig_long")
    ttl = {"fb_short": S.FB_SHORT_TTL, "fb_long": S.FB_LONG_TTL, "page": None,
           "ig_short": S.IG_SHORT_TTL, "ig_long": S.IG_LONG_TTL}
    if kind not in ttl:
        raise ControlError("unknown token kind %r" % kind)
    if kind == "page":
        page = st.page(str(d.get("page_id") or (st.fb_user.pages[0].id
                                                if st.fb_user.pages else "")))
        if page is None:
            raise ControlError("no such page")
        user = st.issue_token("fb_long", st.fb_user.id, S.FB_LONG_TTL,
                              scopes=st.fb_user.granted)
        tok = st.page_token(user, page)
    elif kind.startswith("ig_"):
        tok = st.issue_token(kind, st.ig_user.ig_id, ttl[kind],
                             scopes=d.get("scopes") or S.IG_SCOPES[:2])
    else:
        tok = st.issue_token(kind, st.fb_user.id, ttl[kind],
                             scopes=d.get("scopes") or st.fb_user.granted)
    if "age" in d:       # pretend it was issued `age` seconds ago
        tok.issued_at -= float(d["age"])
        if tok.expires_at:
            tok.expires_at -= float(d["age"])
    return tok.public()


def requests_log(req, st, d):
    if req.method == "DELETE":
        st.log.clear()
        return {"cleared": True}
    out = st.log
    if req.query.get("host"):
        out = [e for e in out if e["host"] == req.query["host"]]
    if req.query.get("path"):
        out = [e for e in out if req.query["path"] in e["path"]]
    return out


def reset(req, st, d):
    st.reset()
    return {"reset": True, "sandbox": st.sandbox}


def state(req, st, d):
    return st.snapshot()


def help_(req, st, d):
    from . import __doc__ as doc
    return {"doc": doc}


ROUTES = {
    "reset": (("POST",), reset),
    "config": (("GET", "POST"), config),
    "fb_user": (("GET", "POST"), fb_user),
    "ig_user": (("GET", "POST"), ig_user),
    "clock": (("GET", "POST"), clock),
    "fault": (("GET", "POST", "DELETE"), fault),
    "revoke": (("POST",), revoke),
    "expire_tokens": (("POST",), expire_tokens),
    "issue_token": (("POST",), issue_token),
    "requests": (("GET", "DELETE"), requests_log),
    "state": (("GET",), state),
    "help": (("GET",), help_),
}


def handle(req):
    name = req.path.strip("/")
    route = ROUTES.get(name)
    if route is None:
        return json_response({"error": "unknown control endpoint %r" % name,
                              "endpoints": sorted(ROUTES)}, 404)
    methods, fn = route
    if req.method not in methods:
        return json_response({"error": "method %s not allowed on %s" % (req.method, name)}, 405)
    st = req.state
    try:
        return json_response(fn(req, st, _body(req)))
    except (ControlError, ValueError, TypeError) as e:
        return json_response({"error": str(e)}, 400)
