"""Content publishing: containers, resumable upload, media_publish, quota, media read-back."""

import json
import re
import secrets
import time

from .responses import (graph_error, hostile_url, json_response, parse_fields, select,
                        unsupported)
from .server import V, authenticate

IDP = r"/(?P<id>me|[0-9]+)"
STATUS_TEXT = {
    "IN_PROGRESS": "In Progress: Media is still being processed.",
    "FINISHED": "Finished: Media has been uploaded and it is ready to be published.",
    "PUBLISHED": "Published: Media has been successfully published.",
    "EXPIRED": "Expired: Media was not published within 24 hours.",
}
VIDEO_KINDS = ("VIDEO", "REELS")


# ------------------------------------------------------------------ helpers
def resolve_account(req, tok, raw_id: str, edge: str) -> str:
    st = req.state
    if raw_id == "me":
        if not tok.kind.startswith("ig_"):
            raise graph_error(100, "(#100) Tried accessing nonexisting field (%s) on node type "
                              "(User)" % edge, host=req.host)
        return tok.subject
    acc = st.account(raw_id) if req.host == "graph.instagram.com" else st.accounts.get(raw_id)
    ig_id = acc.id if acc else raw_id
    if acc is None or not st.can_access(tok, ig_id):
        raise unsupported(raw_id, req.method.lower(), host=req.host)
    return ig_id


def need_publish(req, tok, ig_id: str):
    st = req.state
    if tok.kind.startswith("ig_"):
        if "instagram_business_content_publish" not in tok.scopes:
            raise graph_error(10, "(#10) Application does not have permission for this action",
                              host=req.host)
        return
    if "instagram_content_publish" not in tok.scopes:
        raise graph_error(200, "(#200) Requires instagram_content_publish permission to "
                          "manage the object", host=req.host)
    for p in st.fb_user.pages:
        if p.ig_id == ig_id and not set(p.tasks) & {"CREATE_CONTENT", "MANAGE"}:
            raise graph_error(10, "(#10) The user needs the CREATE_CONTENT or MANAGE task on "
                              "the Page to publish", host=req.host)


def status_of(st, c: dict, poll: bool) -> str:
    now = st.now()
    if c["media_id"]:
        s = "PUBLISHED"
    elif now - c["created_at"] >= 86400:
        s = "EXPIRED"
    elif c["resumable"] and not c["upload"]["complete"]:
        s = "IN_PROGRESS"
    else:
        if poll:
            c["polls"] += 1
        done = (c["polls"] >= c["finish_after_polls"]
                and now - c["ready_at"] >= c["finish_after_seconds"])
        s = c["outcome"] if done else "IN_PROGRESS"
    c["status_code"] = s
    return s


def status_text(c: dict) -> str:
    s = c["status_code"]
    if s == "ERROR":
        return "Error: Media upload has failed with error code %d" % c["error_subcode"]
    return STATUS_TEXT[s]


def bad(req, code, msg, sub=None, title=None):
    return graph_error(code, msg, sub, host=req.host, user_title=title, user_msg=title and msg)


def check_caption(req, caption: str):
    if len(caption) > 2200:
        raise bad(req, 36004, "(#36004) The caption exceeds the maximum length of 2200 "
                  "characters.", 2207010, "Caption too long")
    if len(re.findall(r"(?<![\w&])#\w+", caption)) > 30:
        raise bad(req, 36004, "(#36004) The caption contains more than 30 hashtags.", 2207010,
                  "Too many hashtags")
    if len(re.findall(r"(?<![\w])@[\w.]+", caption)) > 20:
        raise bad(req, 100, "(#100) The caption contains more than 20 @ mentions.", 2207040,
                  "Too many mentions")


# ------------------------------------------------------------------ create container
def create_media(req, m):
    st, cfg = req.state, req.state.config
    tok = authenticate(req)
    ig_id = resolve_account(req, tok, m.group("id"), "media")
    need_publish(req, tok, ig_id)
    p = req.params
    mt = (p.get("media_type") or "").upper()
    item = (p.get("is_carousel_item") or "").lower() == "true"
    resumable = p.get("upload_type") == "resumable"
    image_url, video_url = p.get("image_url"), p.get("video_url")
    if mt not in ("", "IMAGE", "VIDEO", "REELS", "STORIES", "CAROUSEL"):
        raise bad(req, 100, "(#100) The media type %s is not supported." % mt, 2207023,
                  "Unsupported media type")
    if mt == "VIDEO" and not item:
        raise bad(req, 100, "(#100) The VIDEO media type is only supported for carousel "
                  "items; use REELS for a single video.", 2207023, "Unsupported media type")
    if item and mt in ("REELS", "STORIES", "CAROUSEL"):
        raise bad(req, 100, "(#100) is_carousel_item is not supported for media_type %s." % mt)
    for u in (image_url, video_url):
        if u is not None and not re.match(r"https?://[^\s]+$", u):
            raise bad(req, 9004, "(#9004) The media could not be fetched from this URI: %s"
                      % u, 2207052, "Media download failed")
    kind = mt or "IMAGE"
    if kind == "IMAGE":
        if video_url and not image_url:
            raise bad(req, 100, "(#100) A video needs media_type REELS, STORIES or VIDEO "
                      "(carousel item).", 2207023, "Unsupported media type")
        if not image_url:
            raise bad(req, 100, "(#100) The parameter image_url is required.")
    elif kind in VIDEO_KINDS and not (video_url or resumable):
        raise bad(req, 100, "(#100) The parameter video_url is required.")
    elif kind == "STORIES" and not (image_url or video_url or resumable):
        raise bad(req, 100, "(#100) The parameter image_url or video_url is required.")
    caption = p.get("caption")
    if caption is not None:
        check_caption(req, caption)
    children = []
    if kind == "CAROUSEL":
        children = parse_children(req, p.get("children"), ig_id)
    now = st.now()
    recent = [c for c in st.containers.values()
              if c["owner"] == ig_id and c["created_at"] > now - 86400]
    if len(recent) >= cfg.container_limit:
        raise bad(req, 9, "(#9) The maximum number of containers (%d) in 24 hours has been "
                  "reached for this account." % cfg.container_limit, 2207042,
                  "Container limit reached")
    ccfg = cfg.container
    is_video = kind in VIDEO_KINDS or (kind == "STORIES" and not image_url)
    polls = ccfg.get("finish_after_polls")
    if polls is None:
        polls = 3 if is_video else 1
    cid = st.new_container_id()
    st.containers[cid] = {
        "id": cid, "owner": ig_id, "media_type": kind, "is_video": is_video,
        "is_carousel_item": item, "children": children, "caption": caption,
        "image_url": image_url, "video_url": video_url, "cover_url": p.get("cover_url"),
        "share_to_feed": p.get("share_to_feed"), "params": dict(p),
        "created_at": now, "ready_at": now, "polls": 0, "finish_after_polls": int(polls),
        "finish_after_seconds": float(ccfg.get("finish_after_seconds") or 0),
        "outcome": ccfg.get("outcome") or "FINISHED",
        "error_subcode": int(ccfg.get("error_subcode") or 2207026),
        "resumable": resumable, "upload": {"received": 0, "file_size": None,
                                           "file_url": None, "complete": not resumable},
        "media_id": None, "status_code": "IN_PROGRESS"}
    for k in ("params",):
        st.containers[cid][k].pop("access_token", None)
    body = {"id": cid}
    if resumable:
        rhost = "rupload.instagram.com" if req.host == "graph.instagram.com" \
            else "rupload.facebook.com"
        body["uri"] = req.url(rhost, "/ig-api-upload/%s/%s" % (
            m.groupdict().get("version") or "v26.0", cid))
    return json_response(body)


def parse_children(req, raw, ig_id):
    st = req.state
    ids = []
    if raw:
        raw = raw.strip()
        if raw.startswith("["):
            try:
                ids = [str(x) for x in json.loads(raw)]
            except ValueError:
                ids = []
        else:
            ids = [x.strip() for x in raw.split(",") if x.strip()]
    if not 2 <= len(ids) <= 10:
        raise bad(req, 100, "(#100) A carousel needs between 2 and 10 children, got %d."
                  % len(ids), 2207028, "Wrong number of carousel items")
    for cid in ids:
        c = st.containers.get(cid)
        if c is None or c["owner"] != ig_id:
            why = "does not exist or belongs to another account"
        elif not c["is_carousel_item"]:
            why = "is not a carousel item (is_carousel_item=true missing)"
        elif status_of(st, c, False) != "FINISHED":
            why = "is not FINISHED (status %s)" % c["status_code"]
        else:
            continue
        raise bad(req, 100, "(#100) Carousel child %s %s." % (cid, why), 2207028,
                  "Invalid carousel item")
    return ids


# ------------------------------------------------------------------ resumable upload
def upload(req, m):
    st = req.state

    def fail(msg, status=400, typ="ProcessingFailedError", retriable=False):
        from .responses import MetaError
        return MetaError(json_response({"debug_info": {
            "retriable": retriable, "type": typ,
            "message": json.dumps({"success": False, "error": {"message": msg}})}}, status))
    tok, problem = st.check_token(req.token or "")
    if req.auth_scheme != "oauth" or tok is None or problem:
        raise fail("unauthorized user request", 401, "AuthorizationError")
    c = st.containers.get(m.group("id"))
    if c is None or not st.can_access(tok, c["owner"]):
        raise fail("unauthorized user request")
    if not c["resumable"]:
        raise fail("container was not created with upload_type=resumable")
    up = c["upload"]
    if up["complete"]:
        raise fail("upload already complete")
    h = {k.lower(): v for k, v in req.headers.items()}
    if h.get("file_url"):
        up["file_url"], up["complete"] = h["file_url"], True
    else:
        try:
            offset, size = int(h.get("offset", "0")), int(h["file_size"])
        except (KeyError, ValueError):
            raise fail("file_size header missing or invalid")
        if offset != up["received"]:
            raise fail("offset %d does not match the %d bytes received so far"
                       % (offset, up["received"]), retriable=True)
        up["received"] += len(req.body)
        up["file_size"] = size
        up["complete"] = up["received"] >= size
    if up["complete"]:
        c["ready_at"] = st.now()
    return json_response({"success": True, "message": "Upload successful."})


# ------------------------------------------------------------------ publish
def publish(req, m):
    st, cfg = req.state, req.state.config
    tok = authenticate(req)
    ig_id = resolve_account(req, tok, m.group("id"), "media_publish")
    need_publish(req, tok, ig_id)
    cid = req.p("creation_id")
    if not cid:
        raise bad(req, 100, "(#100) The parameter creation_id is required.")
    c = st.containers.get(cid)
    if c is None or c["owner"] != ig_id:
        raise bad(req, 24, "(#24) The media with id %s cannot be found." % cid, 2207006,
                  "Media not found")
    if c["is_carousel_item"]:
        raise bad(req, 100, "(#100) A carousel item cannot be published on its own.")
    s = status_of(st, c, False)
    if s == "PUBLISHED":
        raise bad(req, 100, "(#100) This media container has already been published as media "
                  "%s." % c["media_id"], None, "Media already published")
    if s == "EXPIRED":
        raise bad(req, -2, "The media container has expired. Please create a new one.",
                  2207020, "Media expired")
    if s == "ERROR":
        sub = c["error_subcode"]
        raise bad(req, 352 if sub == 2207026 else -1, "Media upload has failed with error "
                  "code %d" % sub, sub, "Media processing failed")
    if s != "FINISHED":
        raise bad(req, 9007, "(#9007) The media is not ready for publishing, please wait for "
                  "a moment", 2207027, "Media not ready")
    now = st.now()
    pubs = [t for t in st.publishes.get(ig_id, []) if t > now - 86400]
    if len(pubs) >= int(cfg.quota_total):
        raise bad(req, 9, "(#9) Application request limit reached", 2207042,
                  "Maximum number of posts reached")
    mid = make_media(st, c)
    st.publishes.setdefault(ig_id, []).append(now)
    resp = json_response({"id": mid})
    resp.drop = bool(cfg.drop_publish_response)
    return resp


def make_media(st, c, parent=None) -> str:
    acc = st.accounts[c["owner"]]
    mid = st.new_media_id()
    sc = "D" + "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                      "0123456789_-") for _ in range(10))
    kind = c["media_type"]
    product = {"REELS": "REELS", "STORIES": "STORY"}.get(kind, "FEED")
    mtype = "CAROUSEL_ALBUM" if kind == "CAROUSEL" else ("VIDEO" if c["is_video"] else "IMAGE")
    if product == "REELS":
        link = "https://www.instagram.com/reel/%s/" % sc
    elif product == "STORY":
        link = "https://www.instagram.com/stories/%s/%s/" % (acc.username, mid)
    else:
        link = "https://www.instagram.com/p/%s/" % sc
    now = st.now()
    children = [make_media(st, st.containers[x], mid) for x in c["children"]]
    st.media[mid] = {
        "id": mid, "owner": {"id": acc.id}, "username": acc.username,
        "caption": c["caption"] if not parent else None, "media_type": mtype,
        "media_product_type": product, "shortcode": sc, "permalink": hostile_url(st, link),
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(now)),
        "media_url": c["image_url"] or c["video_url"] or c["upload"]["file_url"],
        "thumbnail_url": c["cover_url"] if c["is_video"] else None,
        "children": {"data": [{"id": x} for x in children]} if children else None,
        "like_count": 0, "comments_count": 0, "is_comment_enabled": True,
        "is_shared_to_feed": None if product != "REELS" else c["share_to_feed"] != "false",
        "_container": c["id"], "_parent": parent, "_created": now}
    c["media_id"] = mid
    if not parent:
        acc.media_count += 1
    return mid


def public_media(d: dict) -> dict:
    return {k: v for k, v in d.items() if not k.startswith("_")}


# ------------------------------------------------------------------ reads
def get_object(req, tok, oid, fields):
    """Container or media read-back; None when oid is neither (or not visible)."""
    st = req.state
    c = st.containers.get(oid)
    if c is not None and st.can_access(tok, c["owner"]):
        names = [f for f, _ in fields or []]
        status_of(st, c, "status_code" in names or "status" in names)
        obj = {"id": c["id"], "status_code": c["status_code"], "status": status_text(c),
               "copyright_check_status": {"status": "completed", "matches_found": False}
               if c["is_video"] else None, "video_status": None}
        return json_response(select(obj, fields, "ShadowIGMediaBuilder", host=req.host))
    md = st.media.get(oid)
    if md is not None and st.can_access(tok, md["owner"]["id"]):
        return json_response(select(public_media(md), fields, "IGMedia", host=req.host))
    return None


def list_media(req, m):
    st = req.state
    tok = authenticate(req)
    ig_id = resolve_account(req, tok, m.group("id"), "media")
    fields = parse_fields(req.p("fields"))
    items = sorted((x for x in st.media.values()
                    if x["owner"]["id"] == ig_id and not x["_parent"]),
                   key=lambda x: (x["_created"], x["id"]), reverse=True)
    try:
        limit = max(1, min(100, int(req.p("limit") or 25)))
        off = int(req.p("after") or 0)
    except ValueError:
        limit, off = 25, 0
    chunk = items[off:off + limit]
    body = {"data": [select(public_media(x), fields, "IGMedia", host=req.host) for x in chunk]}
    if chunk:
        body["paging"] = {"cursors": {"before": str(off), "after": str(off + len(chunk))}}
        if off + len(chunk) < len(items):
            body["paging"]["next"] = req.url(req.host, "%s?%s" % (
                req.path, "&".join("%s=%s" % kv for kv in (
                    ("access_token", tok.token), ("limit", limit),
                    ("after", off + len(chunk))))))
    return json_response(body)


def publishing_limit(req, m):
    st, cfg = req.state, req.state.config
    tok = authenticate(req)
    ig_id = resolve_account(req, tok, m.group("id"), "content_publishing_limit")
    now = st.now()
    start = now - 86400
    try:
        if req.p("since"):
            start = max(start, float(req.p("since")))
    except ValueError:
        raise bad(req, 100, "(#100) Param since must be a unix timestamp")
    used = len([t for t in st.publishes.get(ig_id, []) if t > start])
    obj = {"quota_usage": used, "config": {"quota_total": int(cfg.quota_total),
                                           "quota_duration": 86400}}
    fields = parse_fields(req.p("fields")) or [("quota_usage", None)]
    out = {}
    for name, _ in fields:
        if name not in obj:
            raise bad(req, 100, "(#100) Tried accessing nonexisting field (%s) on node type "
                      "(ContentPublishingLimit)" % name)
        out[name] = obj[name]
    return json_response({"data": [out]})


def subscribed_apps(req, m):
    st, cfg = req.state, req.state.config
    tok = authenticate(req)
    oid = m.group("id")
    key = tok.subject if oid == "me" else oid
    if req.method == "POST":
        st.subscriptions[key] = [f for f in (req.p("subscribed_fields") or "").split(",") if f]
        return json_response({"success": True})
    if req.method == "DELETE":
        st.subscriptions.pop(key, None)
        return json_response({"success": True})
    if key not in st.subscriptions:
        return json_response({"data": []})
    app = cfg.ig_app_id if tok.kind.startswith("ig_") else cfg.app_id
    return json_response({"data": [{"id": app, "name": cfg.app_name,
                                    "subscribed_fields": st.subscriptions[key]}]})


def register(r):
    for host in ("graph.facebook.com", "graph.instagram.com"):
        r.add("POST", host, V + IDP + r"/media", create_media)
        r.add("GET", host, V + IDP + r"/media", list_media)
        r.add("POST", host, V + IDP + r"/media_publish", publish)
        r.add("GET", host, V + IDP + r"/content_publishing_limit", publishing_limit)
        r.add(("GET", "POST", "DELETE"), host, V + IDP + r"/subscribed_apps", subscribed_apps)
    for host in ("rupload.facebook.com", "rupload.instagram.com"):
        r.add("POST", host, r"/ig-api-upload/(?P<version>v\d+\.\d+)/(?P<id>[0-9]+)", upload)
