"""HTML for humans: consent dialogs, error pages, generated avatars and the sandbox index."""

import hashlib
import json
from html import escape as _escape
from typing import Dict, List, Optional, Tuple

from .responses import Response, html_response

def escape(s) -> str:
    """HTML-escape text and attribute values (quotes as &quot; and &#39;)."""
    return _escape(str(s), quote=False).replace('"', "&quot;").replace("'", "&#39;")


CSS = """
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 -apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;
 background:#f0f2f5;color:#1c1e21}
.banner{background:#fff3cd;color:#664d03;border-bottom:1px solid #ffe69c;padding:6px 16px;
 font-size:13px;text-align:center;letter-spacing:.02em}
.banner b{font-weight:700}
.wrap{max-width:520px;margin:40px auto;padding:0 16px}
.card{background:#fff;border-radius:10px;box-shadow:0 2px 12px rgba(0,0,0,.12);padding:28px}
.brand{font-weight:800;font-size:26px;margin:0 0 18px}
.fb{color:#1877f2}
.ig{background:linear-gradient(45deg,#f09433,#dc2743,#bc1888);-webkit-background-clip:text;
 background-clip:text;color:transparent}
h1{font-size:20px;margin:0 0 6px}
.who{display:flex;align-items:center;gap:10px;margin:14px 0;padding:10px;border-radius:8px;
 background:#f7f8fa}
.who img{width:40px;height:40px;border-radius:50%}
.muted{color:#65676b;font-size:13px}
ul.items{list-style:none;padding:0;margin:8px 0 16px}
ul.items li{display:flex;justify-content:space-between;align-items:center;gap:8px;padding:9px 2px;
 border-bottom:1px solid #e4e6eb}
.tag{font-size:12px;color:#65676b}
.tag.ok{color:#1a7f37}
.scopes{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;color:#444;
 background:#f7f8fa;border-radius:6px;padding:8px 10px;margin:6px 0 18px;overflow-wrap:anywhere}
.buttons{display:flex;gap:10px}
button{flex:1;font:inherit;font-weight:600;border:0;border-radius:6px;padding:11px 14px;
 cursor:pointer}
#allow{background:#1877f2;color:#fff}
#allow:hover{background:#166fe5}
#deny{background:#e4e6eb;color:#050505}
#deny:hover{background:#d8dadf}
.igbtn #allow{background:#0095f6}
table{border-collapse:collapse;width:100%;font-size:13px}
td,th{border-bottom:1px solid #e4e6eb;padding:6px 4px;text-align:left;vertical-align:top}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
.error h1{color:#b42318}
"""

BANNER = ('<div class="banner"><b>Meta sandbox (fake)</b> &mdash; nothing here talks to '
          'Facebook or Instagram; no real account is involved.</div>')


def _doc(title: str, inner: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            "<title>%s &middot; Meta sandbox (fake)</title><style>%s</style></head>"
            "<body>%s<div class=\"wrap\">%s</div></body></html>\n"
            % (escape(title), CSS, BANNER, inner))


def error_page(title: str, message: str) -> str:
    return _doc(title, '<div class="card error"><h1>%s</h1><p>%s</p></div>'
                % (escape(title), escape(message)))


def consent_page(platform: str, action: str, app_name: str, user_name: str, avatar: str,
                 items: List[Tuple[str, str, bool]], scopes: List[str],
                 hidden: Dict[str, str], heading: Optional[str] = None) -> str:
    """platform 'facebook'|'instagram'; items = (label, note, highlighted) rows."""
    ig = platform == "instagram"
    brand = ('<p class="brand ig">Instagram</p>' if ig else '<p class="brand fb">facebook</p>')
    heading = heading or ("%s wants to access your Instagram professional account" % app_name
                          if ig else "%s is requesting access" % app_name)
    rows = "".join('<li><span>%s</span><span class="tag%s">%s</span></li>'
                   % (escape(label), " ok" if hl else "", escape(note))
                   for label, note, hl in items)
    what = ("Account that will be connected" if ig else
            "Pages that will be shared with %s" % app_name)
    fields = "".join('<input type="hidden" name="%s" value="%s">' % (escape(k), escape(v))
                     for k, v in hidden.items())
    inner = (
        '<div class="card%s">%s<h1>%s</h1>'
        '<div class="who"><img src="%s" alt=""><div><div>Logged in as <b>%s</b></div>'
        '<div class="muted">fake %s user</div></div></div>'
        '<div class="muted">%s</div><ul class="items">%s</ul>'
        '<div class="muted">Requested permissions</div><div class="scopes">%s</div>'
        '<form method="post" action="%s">%s<div class="buttons">'
        '<button id="deny" name="action" value="deny" type="submit">Cancel</button>'
        '<button id="allow" name="action" value="allow" type="submit">Allow</button>'
        '</div></form></div>'
        % (" igbtn" if ig else "", brand, escape(heading), escape(avatar), escape(user_name),
           "Instagram" if ig else "Facebook", escape(what), rows or
           '<li><span class="muted">(none)</span><span></span></li>',
           escape(", ".join(scopes) or "(default)"), escape(action), fields))
    return _doc(heading, inner)


def avatar_svg(name: str) -> str:
    h = hashlib.sha256(name.encode()).hexdigest()
    hue = int(h[:4], 16) % 360
    initials = "".join(w[0] for w in name.replace("_", ".").split(".") if w)[:2].upper() or "?"
    return ('<svg xmlns="http://www.w3.org/2000/svg" width="150" height="150" '
            'viewBox="0 0 150 150"><defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">'
            '<stop offset="0" stop-color="hsl(%d,70%%,55%%)"/><stop offset="1" '
            'stop-color="hsl(%d,70%%,40%%)"/></linearGradient></defs>'
            '<circle cx="75" cy="75" r="75" fill="url(#g)"/><text x="75" y="75" dy=".35em" '
            'text-anchor="middle" font-family="Helvetica,Arial,sans-serif" font-size="60" '
            'font-weight="700" fill="#fff">%s</text></svg>'
            % (hue, (hue + 40) % 360, escape(initials)))


def index_page(req) -> str:
    st, cfg = req.state, req.state.config
    u, iu = st.fb_user, st.ig_user
    pages = "".join(
        "<tr><td>%s</td><td><code>%s</code></td><td>%s</td></tr>"
        % (escape(p.name), p.id, escape("@" + st.accounts[p.ig_id].username) if p.ig_id and
           p.ig_id in st.accounts else "&mdash;") for p in u.pages)
    recent = "".join(
        "<tr><td>%s</td><td><code>%s%s</code></td><td>%s</td></tr>"
        % (escape(e["method"]), escape(e["host"]), escape(e["path"]), e.get("status", ""))
        for e in st.log[-15:][::-1])
    cont = json.dumps(cfg.container)
    inner = (
        '<div class="card"><h1>Fake Meta Graph API</h1>'
        '<p class="muted">Serves Facebook Login, Business Login for Instagram and content '
        'publishing for mod_igraph&rsquo;s tests and <code>make run</code>. Control API: '
        '<code>%s/_control/state</code>.</p>'
        '<table><tr><th>App</th><td>%s (<code>%s</code>), Instagram app <code>%s</code></td></tr>'
        '<tr><th>Consent</th><td>%s</td></tr><tr><th>Redirects</th><td><code>%s</code></td></tr>'
        '<tr><th>Containers</th><td><code>%s</code></td></tr></table>'
        '<h1 style="margin-top:18px">Facebook user: %s</h1><table>'
        '<tr><th>Page</th><th>id</th><th>Instagram</th></tr>%s</table>'
        '<h1 style="margin-top:18px">Instagram login: @%s</h1><p class="muted">%s, id '
        '<code>%s</code></p><h1 style="margin-top:18px">Recent requests</h1><table>%s</table>'
        '</div>'
        % (escape(req.base), escape(cfg.app_name), cfg.app_id, cfg.ig_app_id,
           escape(cfg.consent), escape(" ".join(cfg.redirect_uris + cfg.redirect_prefixes)),
           escape(cont), escape(u.name), pages, escape(iu.username), escape(iu.account_type),
           iu.ig_id, recent or '<tr><td class="muted">none yet</td></tr>'))
    return _doc("Fake Meta", inner)


def local(req, path: str) -> Response:
    """Paths outside the host prefixes: '/', static avatars, favicon."""
    if path in ("/", "/index.html"):
        return html_response(index_page(req))
    if path.startswith("/static/pp/") and path.endswith(".svg"):
        name = path[len("/static/pp/"):-4]
        return Response(200, avatar_svg(name), "image/svg+xml",
                        {"Cache-Control": "max-age=3600"})
    return html_response(error_page("Page not found", "Unknown path %s on the fake Meta "
                                    "server." % path), 404)
