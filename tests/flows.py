"""Connect flows shared by the integration tests.

`httpd` is an Httpd or one of its addresses (Httpd.at(...)): every URL is built from its url()
and its mount ("/ig" unless the test mounts the module elsewhere)."""
import urllib.parse

from harness import csrf_of, follow_dialog


def start(httpd, s, login="facebook", **params):
    q = {"login": login, **params} if login else params
    r = s.get(httpd.url(httpd.mount + "/oauth/start?" + urllib.parse.urlencode(q)),
              allow_redirects=False)
    assert r.status_code == 302, (r.status_code, r.text[:300])
    return r.headers["Location"]


def callback(httpd, s, location):
    """GETs the module's callback URL exactly as the browser would (fragment dropped)."""
    url = location.split("#", 1)[0]
    assert url.startswith(httpd.url(httpd.mount + "/oauth/callback")), url
    return s.get(url, allow_redirects=False)


def connect(httpd, s, login="facebook", action="allow", choose=None):
    """Runs start -> consent -> callback (-> Page selection when asked). Returns the last
    response. choose: list of Page ids to select, or None for all offered Pages."""
    loc = follow_dialog(start(httpd, s, login), action=action)
    r = callback(httpd, s, loc)
    pages = httpd.mount + "/oauth/pages"
    if r.status_code == 302 and r.headers["Location"].endswith(pages):
        page = s.get(httpd.url(pages))
        assert page.status_code == 200, page.text[:300]
        offered = offered_pages(page.text)
        ids = offered if choose is None else choose
        r = s.post(httpd.url(pages),
                   data={"csrf": csrf_of(page.text), "page_id": ids}, allow_redirects=False)
    return r


def offered_pages(html):
    import re
    return re.findall(r'name="page_id" value="([^"]+)"', html)


def accounts(httpd, s):
    r = s.get(httpd.url(httpd.mount + "/api/accounts"))
    assert r.status_code == 200, r.text
    return r.json()["accounts"]
