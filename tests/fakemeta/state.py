"""In-memory world of the fake Meta server: configuration, users, tokens, codes, clock.

Everything lives in one `State` object guarded by `State.lock` (an RLock); the HTTP
handlers take the lock for the whole request, so the helpers here are not thread-safe
on their own.
"""

import copy
import secrets
import string
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional

FB_CODE_TTL = 600          # Facebook authorization codes: ~10 minutes
IG_CODE_TTL = 3600         # Instagram authorization codes: 1 hour
FB_SHORT_TTL = 5183999     # what the FB code exchange reports (server-side flow)
FB_LONG_TTL = 5183944      # fb_exchange_token
IG_SHORT_TTL = 3600
IG_LONG_TTL = 5183944
DATA_ACCESS_TTL = 90 * 86400

FB_SCOPES = ["instagram_basic", "instagram_content_publish", "pages_show_list",
             "pages_read_engagement", "business_management"]
IG_SCOPES = ["instagram_business_basic", "instagram_business_content_publish",
             "instagram_business_manage_comments", "instagram_business_manage_messages",
             "instagram_business_manage_insights"]
PAGE_TASKS = ["ANALYZE", "ADVERTISE", "MODERATE", "CREATE_CONTENT", "MANAGE"]

_ALNUM = string.ascii_letters + string.digits


def rand_alnum(n: int) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(n))


def rand_code(prefix: str, n: int = 48) -> str:
    """Authorization codes look like Meta's: url-safe letters, digits, '-' and '_'."""
    alphabet = _ALNUM + "-_"
    return prefix + "".join(secrets.choice(alphabet) for _ in range(n))


class Clock:
    """Fake clock = real time + offset (seconds)."""

    def __init__(self):
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float):
        self.offset += float(seconds)

    def set(self, unix: float):
        self.offset = float(unix) - time.time()


@dataclass
class Config:
    app_id: str = "1000000000000001"
    app_secret: str = "sandbox-app-secret"
    app_name: str = "Sandbox Publisher"
    ig_app_id: str = "2000000000000002"
    ig_app_secret: str = "sandbox-ig-secret"
    redirect_uris: List[str] = field(default_factory=list)
    redirect_prefixes: List[str] = field(default_factory=list)
    require_appsecret_proof: bool = False      # graph.facebook.com
    require_appsecret_proof_ig: bool = False   # graph.instagram.com (key = IG app secret)
    consent: str = "allow"                     # page | allow | deny
    hourly_budget: int = 1000                  # calls per rolling hour = 100 % usage
    quota_total: int = 100                     # published posts per 24 h moving window
    container_limit: int = 400                 # containers per account per 24 h
    container: Dict = field(default_factory=lambda: {
        "finish_after_polls": None,    # None: images 1, videos 3
        "finish_after_seconds": 0,
        "outcome": "FINISHED",         # or ERROR
        "error_subcode": 2207026,
    })
    drop_publish_response: bool = False
    fb_code_ttl: int = FB_CODE_TTL
    ig_code_ttl: int = IG_CODE_TTL
    # profile_picture_url and permalink values become javascript: URLs (the fields and their
    # place in every answer stay Meta's; only the value is hostile, as Meta's JSON has carried)
    javascript_urls: bool = False


@dataclass
class IgAccount:
    """An Instagram professional account (reachable via a Page or via Instagram Login)."""
    id: str
    username: str
    name: str
    account_type: str = "BUSINESS"
    followers_count: int = 1532
    follows_count: int = 80
    media_count: int = 0
    biography: str = ""
    website: str = ""
    app_scoped_id: str = ""        # only for the Instagram Login user


@dataclass
class Page:
    id: str
    name: str
    tasks: List[str] = field(default_factory=lambda: list(PAGE_TASKS))
    ig_id: Optional[str] = None
    category: str = "Bakery"


@dataclass
class FbUser:
    id: str = "10101000000000001"
    name: str = "Test User"
    pages: List[Page] = field(default_factory=list)
    page_size: Optional[int] = None
    empty_page_with_next: bool = False
    expires_in_omitted: bool = False
    granted: List[str] = field(default_factory=lambda: list(FB_SCOPES))
    declined: List[str] = field(default_factory=list)


@dataclass
class IgUser:
    """The person who logs in through Business Login for Instagram (the current one; earlier
    usernames keep their ids in State.ig_identities)."""
    user_id: str = "27640875392278831"         # code-exchange user_id (> 2**53)
    ig_id: str = "17841400000000090"           # professional account id (/me user_id)
    app_scoped_id: str = "9876543210987654"    # /me id
    username: str = "test.creator"
    name: str = "Test Creator"
    account_type: str = "BUSINESS"
    shape: str = "B"                           # code exchange reply shape A | B
    me_shape: str = "flat"                     # flat | data
    code_suffix: str = "fragment"              # fragment | encoded | none
    drop_scope: Optional[str] = None
    denial_without_state: bool = False


@dataclass
class Token:
    token: str
    kind: str                 # fb_short fb_long page app ig_short ig_long
    subject: str              # fb user id, page id or ig account id
    issued_at: float
    expires_at: float         # 0 = never
    owner: str = ""           # fb user id for page tokens
    scopes: List[str] = field(default_factory=list)
    revoked: bool = False
    revoke_subcode: int = 460
    parent: str = ""          # the user token a page token was derived from

    def public(self) -> dict:
        d = asdict(self)
        d["issued_at"] = int(self.issued_at)
        d["expires_at"] = int(self.expires_at)
        return d


@dataclass
class Code:
    code: str
    kind: str                 # fb | ig
    client_id: str
    redirect_uri: str
    issued_at: float
    scopes: List[str]
    used: bool = False


class State:
    def __init__(self, sandbox: bool = False):
        self.lock = threading.RLock()
        self.sandbox = sandbox
        self.clock = Clock()
        self.reset()

    # ---------------------------------------------------------------- defaults
    def reset(self):
        self.clock.offset = 0.0
        self.config = Config()
        self.fb_user = FbUser()
        self.ig_user = IgUser()
        self.accounts: Dict[str, IgAccount] = {}
        self.tokens: Dict[str, Token] = {}
        self.page_tokens: Dict[tuple, str] = {}     # (user token, page id) -> page token
        self.codes: Dict[str, Code] = {}
        self.codes_used = 0
        self.log: List[dict] = []
        self.faults: List = []
        self.usage: Dict[str, List[float]] = {}
        self.containers: Dict[str, dict] = {}
        self.media: Dict[str, dict] = {}
        self.publishes: Dict[str, List[float]] = {}
        self.subscriptions: Dict[str, List[str]] = {}
        self.ig_identities: Dict[str, dict] = {}
        self._page_n = 0
        self._ig_n = 0
        self._container_n = 0
        self._media_n = 0
        if self.sandbox:
            self.config.redirect_prefixes = ["http://127.0.0.1", "http://localhost"]
            self.config.consent = "page"
            self.config.container["finish_after_seconds"] = 5
            self.set_fb_user({"name": "Sandbox Tester", "pages": [
                {"name": "Sandbox Bakery", "ig_username": "sandbox.bakery"},
                {"name": "Sandbox Studio", "ig_username": "sandbox.studio"},
                {"name": "Sandbox Notes", "ig_username": None}]})
            self.set_ig_user({"username": "sandbox.creator", "name": "Sandbox Creator"})
        else:
            self.set_fb_user({"pages": [{"name": "Test Page", "ig_username": "test.page"}]})
            self.set_ig_user({})

    def now(self) -> float:
        return self.clock.now()

    # ---------------------------------------------------------------- ids
    def new_page_id(self) -> str:
        self._page_n += 1
        return "1080000000000%02d" % self._page_n

    def new_ig_id(self) -> str:
        self._ig_n += 1
        return "178414000000000%02d" % self._ig_n

    def new_container_id(self) -> str:
        self._container_n += 1
        return str(17889455560051000 + self._container_n)

    def new_media_id(self) -> str:
        self._media_n += 1
        return str(17918920912340000 + self._media_n)

    # ---------------------------------------------------------------- users
    def set_fb_user(self, d: dict):
        u = self.fb_user
        for k in ("id", "name", "page_size", "empty_page_with_next", "expires_in_omitted",
                  "granted", "declined"):
            if k in d:
                setattr(u, k, copy.deepcopy(d[k]))
        if "pages" in d:
            pages = []
            for pd in d["pages"]:
                page = Page(id=str(pd.get("id") or self.new_page_id()),
                            name=pd.get("name") or "Page",
                            tasks=list(pd.get("tasks") or PAGE_TASKS),
                            category=pd.get("category", "Bakery"))
                uname = pd.get("ig_username")
                if uname:
                    same = [a.id for a in self.accounts.values() if a.username == uname]
                    ig_id = str(pd.get("ig_id") or (same[0] if same else self.new_ig_id()))
                    acc = self.accounts.get(ig_id) or IgAccount(id=ig_id, username=uname,
                                                                name=pd.get("ig_name") or page.name)
                    acc.username = uname
                    acc.name = pd.get("ig_name") or page.name
                    for k in ("followers_count", "media_count", "account_type"):
                        if k in pd:
                            setattr(acc, k, pd[k])
                    self.accounts[ig_id] = acc
                    page.ig_id = ig_id
                pages.append(page)
            u.pages = pages

    def set_ig_user(self, d: dict):
        """Partial update. A username seen before gets its earlier ids back; a new one gets new
        ids (or those of a Page-linked account with that username); explicit ids win."""
        u = self.ig_user
        for k in ("username", "name", "account_type", "shape", "me_shape", "code_suffix",
                  "drop_scope", "denial_without_state"):
            if k in d:
                setattr(u, k, d[k])
        if "name" not in d and "username" in d:
            u.name = d["username"].replace(".", " ").replace("_", " ").title()
        ident = self.ig_identities.get(u.username)
        if ident is None:
            n = len(self.ig_identities)
            same = [a for a in self.accounts.values() if a.username == u.username]
            if n == 0:
                ident = dict(user_id=IgUser.user_id, ig_id=IgUser.ig_id,
                             app_scoped_id=IgUser.app_scoped_id)
            else:
                ident = dict(user_id=str(int(IgUser.user_id) + 1000 * n),
                             ig_id=self.new_ig_id(),
                             app_scoped_id=str(int(IgUser.app_scoped_id) + n))
            if same:
                ident["ig_id"] = same[0].id
        for k in ("user_id", "ig_id", "app_scoped_id"):
            if k in d:
                ident[k] = str(d[k])
            setattr(u, k, ident[k])
        self.ig_identities[u.username] = ident
        acc = self.accounts.get(u.ig_id) or IgAccount(id=u.ig_id, username=u.username,
                                                      name=u.name)
        acc.username, acc.name = u.username, u.name
        acc.account_type, acc.app_scoped_id = u.account_type, u.app_scoped_id
        self.accounts[u.ig_id] = acc

    def page(self, page_id: str) -> Optional[Page]:
        for p in self.fb_user.pages:
            if p.id == page_id:
                return p
        return None

    def account(self, ig_id: str) -> Optional[IgAccount]:
        if ig_id in self.accounts:
            return self.accounts[ig_id]
        for acc in self.accounts.values():
            if acc.app_scoped_id and acc.app_scoped_id == ig_id:
                return acc
        return None

    def can_see_page(self, tok, page: Page) -> bool:
        if tok.kind in ("fb_short", "fb_long"):
            return tok.subject == self.fb_user.id and page in self.fb_user.pages
        return tok.kind == "page" and tok.subject == page.id

    def can_access(self, tok, ig_id: str) -> bool:
        """May this token act on the IG professional account ig_id?"""
        if tok.kind.startswith("ig_"):
            return tok.subject == ig_id
        if tok.kind in ("fb_short", "fb_long"):
            return tok.subject == self.fb_user.id and any(
                p.ig_id == ig_id for p in self.fb_user.pages)
        if tok.kind == "page":
            page = self.page(tok.subject)
            return page is not None and page.ig_id == ig_id
        return False

    # ---------------------------------------------------------------- tokens
    def issue_token(self, kind: str, subject: str, ttl: Optional[int], owner: str = "",
                    scopes=None, parent: str = "") -> Token:
        prefix = "IGAA" if kind.startswith("ig_") else "EAA"
        body = rand_alnum(160 if kind.endswith("long") or kind == "page" else 120)
        if prefix == "EAA":
            body = "J" + body
        now = self.now()
        tok = Token(token=prefix + body, kind=kind, subject=subject, issued_at=now,
                    expires_at=(now + ttl) if ttl else 0, owner=owner,
                    scopes=list(scopes or []), parent=parent)
        self.tokens[tok.token] = tok
        return tok

    def page_token(self, user_tok: Token, page: Page) -> Token:
        key = (user_tok.token, page.id)
        t = self.tokens.get(self.page_tokens.get(key, ""))
        if t is None:
            t = self.issue_token("page", page.id, None, owner=user_tok.subject,
                                 scopes=user_tok.scopes, parent=user_tok.token)
            self.page_tokens[key] = t.token
        return t

    def check_token(self, s: str):
        """(token or None, problem) with problem in None|'unknown'|'expired'|'revoked'."""
        tok = self.tokens.get(s or "")
        if tok is None:
            return None, "unknown"
        if tok.revoked:
            return tok, "revoked"
        if tok.expires_at and self.now() >= tok.expires_at:
            return tok, "expired"
        return tok, None

    def revoke(self, token: Optional[str] = None, subject: Optional[str] = None,
               subcode: int = 460) -> int:
        n = 0
        for t in self.tokens.values():
            if (token and t.token == token) or (subject and subject in (t.subject, t.owner)):
                t.revoked, t.revoke_subcode = True, int(subcode)
                n += 1
        return n

    def expire(self, kind: Optional[str] = None, token: Optional[str] = None) -> int:
        n = 0
        for t in self.tokens.values():
            if (token and t.token == token) or (not token and (not kind or t.kind == kind)):
                t.expires_at = self.now() - 1
                n += 1
        return n

    # ---------------------------------------------------------------- codes
    def issue_code(self, kind: str, client_id: str, redirect_uri: str, scopes) -> Code:
        c = Code(code=rand_code("AQ" if kind == "fb" else "AQB"), kind=kind,
                 client_id=client_id, redirect_uri=redirect_uri, issued_at=self.now(),
                 scopes=list(scopes))
        self.codes[c.code] = c
        return c

    # ---------------------------------------------------------------- views
    def snapshot(self) -> dict:
        now = self.now()
        pubs = {k: len([t for t in v if t > now - 86400]) for k, v in self.publishes.items()}
        return {
            "now": int(now),
            "sandbox": self.sandbox,
            "config": asdict(self.config),
            "fb_user": asdict(self.fb_user),
            "ig_user": asdict(self.ig_user),
            "accounts": {k: asdict(v) for k, v in self.accounts.items()},
            "tokens": [t.public() for t in self.tokens.values()],
            "codes_issued": len(self.codes),
            "codes_used": self.codes_used,
            "publishes": {k: len(v) for k, v in self.publishes.items()},
            "publishes_24h": pubs,
            "containers": copy.deepcopy(self.containers),
            "media": copy.deepcopy(self.media),
            "faults": [f.public() for f in self.faults],
        }
