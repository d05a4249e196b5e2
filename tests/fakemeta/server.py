"""HTTP machinery: one ThreadingHTTPServer, host-prefixed routing, request log, fault
injection, rate-limit usage headers and token authentication."""

import hmac
import hashlib
import json
import math
import re
import socket
import struct
import sys
import time
import traceback
from email.parser import BytesParser
from email.policy import HTTP as HTTP_POLICY
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional
from urllib.parse import parse_qsl, urlsplit

from .responses import (MetaError, Response, fbtrace, flat_error, graph_error,
                        graph_error_response, html_response, json_response)
from .state import State

HOSTS = ("www.facebook.com", "graph.facebook.com", "rupload.facebook.com", "www.instagram.com",
         "api.instagram.com", "graph.instagram.com", "rupload.instagram.com")
GRAPH_HOSTS = ("graph.facebook.com", "graph.instagram.com")
V = r"(?:/(?P<version>v\d+\.\d+))?"          # optional version prefix
API_VERSION = "v26.0"
LOG_MAX = 5000


class Request:
    def __init__(self, handler, method, host, path, raw_query, body):
        self.handler = handler
        self.server = handler.server
        self.state: State = handler.server.state
        self.method = method
        self.host = host
        self.path = path
        self.raw_query = raw_query
        self.query = dict(parse_qsl(raw_query, keep_blank_values=True))
        self.headers = {k: v for k, v in handler.headers.items()}
        self.body = body
        self.form = parse_body(handler.headers.get("Content-Type", ""), body)
        self.params = dict(self.query)
        self.params.update({k: v for k, v in self.form.items() if isinstance(v, str)})
        hosthdr = handler.headers.get("Host") or "%s:%d" % handler.server.server_address[:2]
        self.base = "http://" + hosthdr
        self.token, self.auth_scheme = None, None
        auth = handler.headers.get("Authorization", "")
        m = re.match(r"(?i)\s*(bearer|oauth)\s+(\S+)", auth)
        if m:
            self.auth_scheme, self.token = m.group(1).lower(), m.group(2)
        elif "access_token" in self.params:
            self.token = self.params["access_token"]
        self.extra_headers = {}

    def p(self, name, default=None):
        return self.params.get(name, default)

    def url(self, host: str, path: str) -> str:
        return "%s/%s%s" % (self.base, host, path)


def parse_body(ctype: str, body: bytes) -> dict:
    if not body:
        return {}
    ct = ctype.split(";")[0].strip().lower()
    try:
        if ct == "application/x-www-form-urlencoded" or (not ct and b"=" in body):
            return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        if ct == "application/json":
            obj = json.loads(body)
            return {k: (v if isinstance(v, str) else json.dumps(v)) for k, v in obj.items()} \
                if isinstance(obj, dict) else {}
        if ct == "multipart/form-data":
            msg = BytesParser(policy=HTTP_POLICY).parsebytes(
                b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body)
            out = {}
            for part in msg.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if name:
                    payload = part.get_payload(decode=True) or b""
                    out[name] = payload.decode("utf-8", "replace")
            return out
    except (ValueError, UnicodeDecodeError):
        pass
    return {}


# ---------------------------------------------------------------- routing
class Router:
    def __init__(self):
        self.routes = []

    def add(self, methods, host, pattern, fn):
        if isinstance(methods, str):
            methods = (methods,)
        self.routes.append((set(methods), host, re.compile(pattern + r"/?$"), fn))

    def dispatch(self, req: Request) -> Response:
        path_matched = False
        for methods, host, rx, fn in self.routes:
            if host != req.host:
                continue
            m = rx.match(req.path)
            if not m:
                continue
            path_matched = True
            if req.method in methods:
                return fn(req, m)
        if req.host in GRAPH_HOSTS or req.host.startswith("rupload"):
            if path_matched:
                raise graph_error(100, "Unsupported %s request." % req.method.lower(),
                                  type_="GraphMethodException", host=req.host)
            raise graph_error(2500, "Unknown path components: %s" % req.path, host=req.host)
        if req.host == "api.instagram.com":
            raise flat_error("Unsupported request - method type: %s" % req.method.lower())
        from .pages import error_page
        return html_response(error_page("Page not found",
                                        "The link you followed may be broken."), 404)


def build_router() -> Router:
    from . import facebook, instagram, publishing
    r = Router()
    facebook.register(r)
    instagram.register(r)
    publishing.register(r)
    facebook.register_objects(r)    # generic /{v}/{id} last
    return r


# ---------------------------------------------------------------- auth + usage
_190 = {
    458: "Error validating access token: The user has not authorized application %(app)s.",
    459: "Error validating access token: You cannot access the app till you log in to "
         "www.facebook.com and follow the instructions given.",
    460: "Error validating access token: The session has been invalidated because the user "
         "changed their password or Facebook has changed the session for security reasons.",
    464: "Error validating access token: Sessions for the user are not allowed because the "
         "user is not a confirmed user.",
    467: "Error validating access token: The session is invalid because the user logged out.",
    492: "Error validating access token: The session is invalid because the user lost the "
         "required role on the Page.",
}


def _fmt_pst(t: float) -> str:
    return time.strftime("%A, %d-%b-%y %H:%M:%S PST", time.gmtime(t - 8 * 3600))


def token_error(req: Request, tok, problem: str) -> MetaError:
    if problem == "expired":
        msg = ("Error validating access token: Session has expired on %s. The current time is "
               "%s." % (_fmt_pst(tok.expires_at), _fmt_pst(req.state.now())))
        return graph_error(190, msg, 463, host=req.host, user_title="Session expired",
                           user_msg="Your session has expired. Please log in again.")
    if problem == "revoked":
        sub = tok.revoke_subcode
        msg = _190.get(sub, "Error validating access token: The session was invalidated "
                       "(subcode %d)." % sub) % {"app": req.state.config.app_id}
        return graph_error(190, msg, sub, host=req.host)
    return graph_error(190, "Error validating access token: Invalid OAuth access token - "
                       "Cannot parse access token", 467, host=req.host)


class AppToken:
    kind = "app"
    subject = ""
    owner = ""
    scopes = []

    def __init__(self, token, app_id):
        self.token, self.subject = token, app_id


def authenticate(req: Request, usage: bool = True):
    """Resolve the request's token for this host; raises the proper Graph error."""
    st, cfg = req.state, req.state.config
    s = req.token
    if not s:
        raise graph_error(104, "An access token is required to request this resource.",
                          host=req.host)
    ig_host = req.host == "graph.instagram.com"
    if not ig_host and s == "%s|%s" % (cfg.app_id, cfg.app_secret):
        tok = AppToken(s, cfg.app_id)
    else:
        tok, problem = st.check_token(s)
        if tok is not None and tok.kind.startswith("ig_") != ig_host:
            tok, problem = None, "unknown"
        if problem:
            raise token_error(req, tok, problem)
        check_proof(req, tok)
    if usage:
        record_usage(req, tok)
    return tok


def check_proof(req: Request, tok):
    cfg = req.state.config
    ig = req.host == "graph.instagram.com"
    required = cfg.require_appsecret_proof_ig if ig else cfg.require_appsecret_proof
    secret = cfg.ig_app_secret if ig else cfg.app_secret
    proof = req.p("appsecret_proof")
    kw = dict(type_="GraphMethodException", host=req.host)
    if proof is None:
        if required:
            raise graph_error(100, "API calls from the server require an appsecret_proof "
                              "argument", **kw)
        return
    good = hmac.new(secret.encode(), tok.token.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(good, proof.lower()):
        raise graph_error(100, "Invalid appsecret_proof provided in the API argument", **kw)


def usage_key(req: Request, tok):
    """(key, header, type) of the rate-limit regime that applies to this token."""
    st = req.state
    if tok.kind.startswith("ig_"):
        return tok.subject, "X-Business-Use-Case-Usage", "instagram"
    if tok.kind == "page":
        page = st.page(tok.subject)
        if page is not None and page.ig_id:
            return page.ig_id, "X-Business-Use-Case-Usage", "instagram"
        return tok.subject, "X-Business-Use-Case-Usage", "pages"
    return "app:" + st.config.app_id, "X-App-Usage", "app"


def record_usage(req: Request, tok):
    st = req.state
    key, header, typ = usage_key(req, tok)
    now = st.now()
    budget = max(1, int(st.config.hourly_budget))
    calls = [t for t in st.usage.get(key, []) if t > now - 3600]
    blocked = len(calls) >= budget
    if not blocked:
        calls.append(now)
    st.usage[key] = calls
    pct = min(100, len(calls) * 100 // budget)
    regain = max(1, math.ceil((calls[0] + 3600 - now) / 60)) if blocked and calls else 0
    if header == "X-App-Usage":
        val = {"call_count": pct, "total_cputime": pct // 4, "total_time": pct // 3}
    else:
        val = {key: [{"type": typ, "call_count": pct, "total_cputime": pct // 4,
                      "total_time": pct // 3, "estimated_time_to_regain_access": regain}]}
    req.extra_headers[header] = json.dumps(val, separators=(",", ":"))
    if blocked:
        if typ == "instagram":
            raise graph_error(80002, "(#80002) There have been too many calls to this "
                              "Instagram account. Wait a bit and try again.", host=req.host,
                              is_transient=True)
        if typ == "pages":
            raise graph_error(80001, "(#80001) There have been too many calls to this Page "
                              "account. Wait a bit and try again.", host=req.host)
        raise graph_error(4, "(#4) Application request limit reached", host=req.host,
                          is_transient=True)


# ---------------------------------------------------------------- faults
class Fault:
    KINDS = ("error", "flat", "html", "nonjson", "truncated", "huge", "reset", "hang", "drip",
             "drop")

    def __init__(self, d: dict):
        self.spec = dict(d)
        self.route = re.compile(d["route"])
        self.method = (d.get("method") or "").upper() or None
        self.nth = d.get("nth")
        self.times = d.get("times")
        if self.nth is not None and self.times is None:
            self.times = 1
        self.kind = d.get("kind", "error")
        if self.kind not in self.KINDS:
            raise ValueError("unknown fault kind %r" % self.kind)
        self.matched = 0
        self.fired = 0

    def public(self):
        return dict(self.spec, matched=self.matched, fired=self.fired)

    def check(self, method: str, target: str) -> bool:
        if self.method and self.method != method:
            return False
        if not self.route.search(target):
            return False
        self.matched += 1
        if self.nth is not None and self.matched < int(self.nth):
            return False
        if self.times is not None and self.fired >= int(self.times):
            return False
        self.fired += 1
        return True

    def response(self, host: str) -> Optional[Response]:
        d, k = self.spec, self.kind
        hdrs = dict(d.get("headers") or {})
        if k == "error":
            return graph_error_response(
                int(d.get("code", 1)), d.get("message") or "An unknown error has occurred.",
                d.get("subcode"), status=int(d.get("status", 400)), type_=d.get("type"),
                host=host, user_title=d.get("user_title"), user_msg=d.get("user_msg"),
                is_transient=d.get("is_transient"), headers=hdrs)
        if k == "flat":
            return json_response({"error_type": d.get("type") or "OAuthException",
                                  "code": int(d.get("code", 400)),
                                  "error_message": d.get("message") or "Unknown error"},
                                 int(d.get("status", 400)), hdrs)
        if k == "html":
            from .pages import error_page
            return html_response(d.get("body") or error_page(
                "Sorry, something went wrong.", d.get("message") or
                "We're working on it and we'll get it fixed as soon as we can."),
                int(d.get("status", 502)), hdrs)
        if k == "nonjson":
            return Response(int(d.get("status", 200)), d.get("body") or
                            "Sorry, something went wrong.",
                            d.get("content_type") or "text/plain; charset=utf-8", hdrs)
        if k == "truncated":
            return Response(int(d.get("status", 200)),
                            '{"data":[{"id":"17841400000000001","username":"trunc',
                            "application/json; charset=UTF-8", hdrs)
        if k == "huge":
            pad = "x" * (5 * 1024 * 1024)
            return Response(int(d.get("status", 200)), '{"data":[],"padding":"%s"}' % pad,
                            "application/json; charset=UTF-8", hdrs)
        return None     # reset, hang, drip, drop: handled around normal processing


# ---------------------------------------------------------------- HTTP handler
class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fakemeta"
    sys_version = ""

    def setup(self):
        super().setup()
        try:    # headers and body go out without waiting for delayed ACKs (keep-alive)
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def version_string(self):
        return "fakemeta"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("fakemeta: %s\n" % (fmt % args))

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def do_PUT(self):
        self.dispatch("PUT")

    def read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def dispatch(self, method: str):
        st: State = self.server.state
        parts = urlsplit(self.path)
        body = self.read_body()
        segs = parts.path.split("/", 2)
        first = segs[1] if len(segs) > 1 else ""
        rest = "/" + segs[2] if len(segs) > 2 else "/"
        req = Request(self, method, first, rest, parts.query, body)
        if first not in HOSTS:
            from . import control, pages
            with st.lock:
                if first == "_control":
                    resp = control.handle(req)
                else:
                    resp = pages.local(req, parts.path)
            return self.send(resp)
        fault = None
        with st.lock:
            entry = {"t": round(st.now(), 3), "method": method, "host": first, "path": rest,
                     "query": req.query, "raw_query": parts.query, "headers": req.headers,
                     "form": req.form if not first.startswith("rupload") else {},
                     "body_len": len(body)}
            st.log.append(entry)
            if len(st.log) > LOG_MAX:          # a long `make run` session stays small
                del st.log[:len(st.log) - LOG_MAX]
            for f in st.faults:
                if f.check(method, first + rest) and fault is None:
                    fault = f
            if fault is not None:
                entry["fault"] = fault.kind
        if fault is not None and fault.kind == "reset":
            return self.abort(rst=True)
        if fault is not None and fault.kind == "hang":
            time.sleep(float(fault.spec.get("seconds", 5)))
        resp = fault.response(first) if fault is not None else None
        if resp is None:
            with st.lock:
                try:
                    resp = self.server.router.dispatch(req)
                except MetaError as e:
                    resp = e.response
                except Exception:                       # a bug in the fake: say so loudly
                    traceback.print_exc()
                    resp = graph_error_response(1, "An unknown error has occurred. (fakemeta "
                                                "internal error)", status=500, host=first)
        for k, v in req.extra_headers.items():
            resp.headers.setdefault(k, v)
        if first in GRAPH_HOSTS:
            resp.headers.setdefault("facebook-api-version", API_VERSION)
            m = re.search(rb'"fbtrace_id":"([^"]+)"', resp.body[:4096])
            resp.headers.setdefault("x-fb-trace-id", m.group(1).decode() if m else fbtrace())
        entry["status"] = resp.status
        if resp.drop or (fault is not None and fault.kind == "drop"):
            return self.abort(rst=False)
        if fault is not None and fault.kind == "truncated":
            return self.send(resp, truncate=True)
        interval = float(fault.spec.get("interval", 0.2)) if fault and fault.kind == "drip" \
            else 0
        return self.send(resp, drip=interval)

    def send(self, resp: Response, truncate=False, drip=0.0):
        try:
            self.send_response(resp.status)
            self.send_header("Content-Type", resp.content_type)
            length = len(resp.body) * (2 if truncate else 1)
            self.send_header("Content-Length", str(length))
            for k, v in resp.headers.items():
                self.send_header(k, v)
            if truncate:
                self.send_header("Connection", "close")
            if not drip:        # one write: status line, headers and body together
                self._headers_buffer.append(b"\r\n" + resp.body)
                self.flush_headers()
            else:
                self.end_headers()
                for i in range(len(resp.body)):
                    self.wfile.write(resp.body[i:i + 1])
                    time.sleep(drip)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        if truncate:
            self.close_connection = True

    def abort(self, rst: bool):
        """Close the connection without any answer (RST for `reset`, FIN for drops)."""
        self.close_connection = True
        try:
            if rst:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
            else:
                self.connection.shutdown(socket.SHUT_RDWR)
            self.connection.close()
        except OSError:
            pass

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass


class FakeMetaServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host="127.0.0.1", port=0, sandbox=False, verbose=False):
        super().__init__((host, port), Handler)
        self.state = State(sandbox=sandbox)
        self.router = build_router()
        self.verbose = verbose

    def handle_error(self, request, client_address):
        if self.verbose:
            super().handle_error(request, client_address)


def make_server(host="127.0.0.1", port=0, sandbox=False, verbose=False) -> FakeMetaServer:
    return FakeMetaServer(host, port, sandbox, verbose)
