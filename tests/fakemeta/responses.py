"""Response objects, Meta error envelopes and `fields=` selection."""

import json
import re
from typing import Dict, List, Optional

from .state import rand_alnum


class Raw:
    """A JSON number written verbatim (e.g. a 17-digit id that must not go through float)."""

    def __init__(self, lexeme: str):
        if not re.fullmatch(r"-?\d+", lexeme):
            raise ValueError("Raw expects an integer lexeme")
        self.lexeme = lexeme


def dumps(obj) -> str:
    """json.dumps that writes Raw values as bare numbers."""
    raws: List[str] = []

    def conv(o):
        if isinstance(o, Raw):
            raws.append(o.lexeme)
            return "\u0000RAW%d\u0000" % (len(raws) - 1)
        if isinstance(o, dict):
            return {k: conv(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [conv(v) for v in o]
        return o

    text = json.dumps(conv(obj), separators=(",", ":"))
    for i, lex in enumerate(raws):
        text = text.replace('"\\u0000RAW%d\\u0000"' % i, lex)
    return text


class Response:
    def __init__(self, status: int = 200, body=b"", content_type: str = "application/json",
                 headers: Optional[Dict[str, str]] = None):
        self.status = status
        self.body = body.encode("utf-8") if isinstance(body, str) else body
        self.content_type = content_type
        self.headers = dict(headers or {})
        self.drop = False          # close the connection after processing, no answer

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None


def json_response(obj, status: int = 200, headers=None) -> Response:
    return Response(status, dumps(obj), "application/json; charset=UTF-8", headers)


def html_response(text: str, status: int = 200, headers=None) -> Response:
    return Response(status, text, "text/html; charset=utf-8", headers)


def redirect(location: str) -> Response:
    return Response(302, b"", "text/html; charset=utf-8", {"Location": location})


def fbtrace() -> str:
    return "A" + rand_alnum(10)


class MetaError(Exception):
    """Raised by handlers; carries the finished Response."""

    def __init__(self, response: Response):
        super().__init__(response.status)
        self.response = response


def graph_error_response(code: int, message: str, subcode: Optional[int] = None,
                         status: int = 400, type_: Optional[str] = None, host: str = "",
                         user_title: Optional[str] = None, user_msg: Optional[str] = None,
                         is_transient: Optional[bool] = None, headers=None,
                         extra: Optional[dict] = None) -> Response:
    """The {"error":{...}} envelope. graph.instagram.com errors get type IGApiException and
    is_transient; 190 adds the WWW-Authenticate header."""
    ig = host == "graph.instagram.com"
    err = {"message": message,
           "type": type_ or ("IGApiException" if ig else "OAuthException"),
           "code": code}
    if subcode is not None:
        err["error_subcode"] = subcode
    if is_transient is None and ig:
        is_transient = False
    if is_transient is not None:
        err["is_transient"] = bool(is_transient)
    if user_title:
        err["error_user_title"] = user_title
    if user_msg:
        err["error_user_msg"] = user_msg
    if extra:
        err.update(extra)
    err["fbtrace_id"] = fbtrace()
    h = dict(headers or {})
    if code == 190:
        h["WWW-Authenticate"] = 'OAuth "Facebook Platform" "invalid_token" "%s"' % (
            message.replace('"', "'"))
    return json_response({"error": err}, status, h)


def graph_error(code: int, message: str, subcode: Optional[int] = None, **kw) -> MetaError:
    return MetaError(graph_error_response(code, message, subcode, **kw))


def flat_error(message: str, code: int = 400, status: int = 400,
               error_type: str = "OAuthException") -> MetaError:
    """api.instagram.com envelope: {"error_type","code","error_message"}."""
    return MetaError(json_response({"error_type": error_type, "code": code,
                                    "error_message": message}, status))


def unsupported(obj_id: str, method: str = "get", host: str = "") -> MetaError:
    return graph_error(
        100, "Unsupported %s request. Object with ID '%s' does not exist, cannot be loaded due "
        "to missing permissions, or does not support this operation. Please read the Graph "
        "API documentation at https://developers.facebook.com/docs/graph-api" % (method, obj_id),
        33, type_="GraphMethodException", host=host)


# ------------------------------------------------------------------ fields=
def parse_fields(spec: Optional[str]):
    """'a,b{c,d},e.limit(2){f}' -> [('a', None), ('b', [...]), ('e', [...])]."""
    if spec is None or not spec.strip():
        return None
    n = len(spec)

    def parse_list(i):
        items = []
        while i < n:
            m = re.match(r"\s*([A-Za-z0-9_]+)((?:\.[A-Za-z_]+\([^)]*\))*)", spec[i:])
            if not m or not m.group(1):
                j = spec.find(",", i)
                if j < 0 or spec[i:].lstrip().startswith("}"):
                    break
                i = j + 1
                continue
            name, i = m.group(1), i + m.end()
            sub = None
            if i < n and spec[i] == "{":
                sub, i = parse_list(i + 1)
                if i < n and spec[i] == "}":
                    i += 1
            items.append((name, sub))
            while i < n and spec[i] == " ":
                i += 1
            if i < n and spec[i] == ",":
                i += 1
                continue
            break
        return items, i

    out, _ = parse_list(0)
    return out


def select(obj: dict, fields, node_type: str, default=("id",), host: str = "") -> dict:
    """Keep the requested fields of obj. Keys present in obj are the node's known fields;
    a None value means "known but absent" (omitted). Unknown names give Meta's (#100)."""
    if fields is None:
        fields = [(f, None) for f in default]
    res = {}
    for name, sub in fields:
        if name not in obj:
            raise graph_error(100, "(#100) Tried accessing nonexisting field (%s) on node type "
                              "(%s)" % (name, node_type), host=host)
        v = obj[name]
        if v is None:
            continue
        if isinstance(v, dict) and "id" in v and not v.get("_leaf"):
            v = {k: x for k, x in v.items() if not k.startswith("_")}
            if sub is None:
                v = {"id": v["id"]}
            else:
                v = select(v, sub, name, host=host)
        res[name] = v
    if "id" in obj and obj["id"] is not None and "id" not in res:
        res["id"] = obj["id"]
    return res


def hostile_url(st, url: str) -> str:
    """url, or a javascript: URL in its place when config.javascript_urls is on (the field
    keeps its place and type in Meta's answer; only the value is hostile)."""
    return "javascript:alert(document.domain)//" + url if st.config.javascript_urls else url
