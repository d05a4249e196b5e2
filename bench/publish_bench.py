#!/usr/bin/python3
"""mod_igraph publish benchmark (issue 4, "Tests and benchmark" / "Pipeline").

    make -f Makefile.apxs bench            # builds the module, then runs this script
    /usr/bin/python3 bench/publish_bench.py [--quick] [--speed N] [--full] ...

Starts the project's fake Meta server and real httpds with the built module (tests/harness.py),
all on 127.0.0.1, and prints figures measured in this one run. It never asserts a timing: the
issue's targets are printed next to the figures with MET / NOT MET.

1. Polling efficiency. A Reel whose container is ready 5 s, 30 s and 300 s after creation,
   published by mod_igraph (POST /ig/publish, wait=0) and by the seed's fixed 3 s loop (done here:
   create the container with the account's token, GET ?fields=status_code every 3 s, give up
   after 180 s, else media_publish). Graph calls from container creation through media_publish
   (the quota check before creation excluded) are counted in the fake's request log; the delay is
   from "ready" (creation + finish_after_seconds, fake's clock) to the media_publish request.
   The 300 s case runs with time accelerated by libfaketime ("+0 x10" for httpd AND the fake; the
   3 s loop sleeps 0.3 s), after checking that both clocks and the worker's timed waits really
   run faster. The 5 s and 30 s cases are run again in real time as a cross-check.
2. 200 Reels in flight across 100 Instagram-login accounts (2 per account), containers ready
   after 30 s, in real time: delay after ready and calls per reel (median/max), start latency.
3. Accept throughput: POST /ig/publish wait=0 (distinct image URLs, SQLite) vs GET of a small
   static file from the same httpd, same client (forked raw-socket keep-alive workers), same concurrency.
"""
import argparse
import email.utils
import json
import multiprocessing
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

import requests  # noqa: E402

import harness  # noqa: E402
from harness import FAKETIME_LIB, FakeMeta, Httpd  # noqa: E402
from flows import connect  # noqa: E402

GRAPH_HOSTS = ("graph.instagram.com", "graph.facebook.com")
SEED_POLL = 3.0          # the seed's fixed loop
SEED_GIVE_UP = 180.0     # ... answered 504 after IGraphPublishWait-like 180 s and abandoned it
TARGETS = {30: (5.0, 8), 300: (16.0, 30)}   # container seconds -> (delay after ready, calls)
CDN = "https://cdn.example.org/bench"


def log(*a):
    print("..", *a, file=sys.stderr, flush=True)


def out(*a):
    print(" ".join(str(x) for x in a).rstrip(), flush=True)


class Stop(Exception):
    pass


# ------------------------------------------------------------------------------ environment
class Lab:
    """Everything this run started, so that it can all be stopped."""

    def __init__(self, keep=False):
        self.keep = keep
        self.fakes, self.httpds = [], []

    def fake(self, speed):
        env = None
        if speed != 1:
            env = dict(os.environ, LD_PRELOAD=FAKETIME_LIB, FAKETIME="+0 x%g" % speed)
        f = FakeMeta(env=env)
        self.fakes.append(f)
        f.start()
        f.control("config", {"redirect_prefixes": ["http://127.0.0.1"], "consent": "allow",
                             "container": {"finish_after_polls": 0, "finish_after_seconds": 0}})
        return f

    def httpd(self, fake, speed, directives=""):
        env = {}
        if speed != 1:
            env = {"LD_PRELOAD": FAKETIME_LIB, "FAKETIME": "+0 x%g" % speed}
        h = Httpd(meta=fake, env=env, directives=directives)
        self.httpds.append(h)
        h.start(timeout=20)
        return h

    def stop_httpd(self, h):
        try:
            h.stop()
        except Exception as e:              # noqa: BLE001 - report, keep stopping the rest
            log("httpd stop:", e)
            if h.proc and h.proc.poll() is None:
                h.proc.kill()

    def close(self):
        for h in self.httpds:
            if h.proc is not None:
                self.stop_httpd(h)
            if not self.keep:
                h.cleanup()
        for f in self.fakes:
            try:
                f.stop()
            except Exception as e:          # noqa: BLE001
                log("fake stop:", e)
            if not self.keep and getattr(f, "log_path", None):
                shutil.rmtree(f.log_path.parent, ignore_errors=True)


def set_container(fake, seconds, polls=0):
    fake.control("config", {"container": {"finish_after_seconds": seconds,
                                          "finish_after_polls": polls}})


def connect_ig(h, fake, s, username):
    fake.control("ig_user", {"username": username})
    r = connect(h, s, "instagram")
    if r.status_code != 302:
        raise RuntimeError("connect %s: %s %s" % (username, r.status_code, r.text[:300]))
    return fake.control("ig_user")["ig_id"]


def ig_long_token(fake, ig_id):
    toks = [t for t in fake.state()["tokens"]
            if t["kind"] == "ig_long" and t["subject"] == ig_id and not t["revoked"]]
    if not toks:
        raise RuntimeError("no ig_long token for %s" % ig_id)
    return toks[-1]["token"]


class FakeClock:
    """Samples of the fake's clock against ours (precise: a Graph-host request's log time)."""

    def __init__(self, fake, speed):
        self.fake, self.speed = fake, speed
        self.r0, self.f0 = self.sample()

    def sample(self):
        tag = "bench-clock-%d" % time.monotonic_ns()
        a = time.time()
        requests.get(self.fake.base_url + "/graph.instagram.com/v26.0/" + tag, timeout=10)
        b = time.time()
        entries = requests.get(self.fake.base_url + "/_control/requests",
                               params={"path": tag}, timeout=10).json()
        return (a + b) / 2, entries[-1]["t"]


def httpd_date(h):
    r = requests.get(h.url("/static.txt"), timeout=10)
    return email.utils.parsedate_to_datetime(r.headers["Date"]).timestamp()


# ------------------------------------------------------------------------------ request log
def _hdr(e, name):
    for k, v in (e.get("headers") or {}).items():
        if k.lower() == name:
            return v
    return None


def entry_token(e):
    a = _hdr(e, "authorization") or ""
    if a.lower().startswith(("bearer ", "oauth ")):
        return a.split(" ", 1)[1].strip()
    return (e.get("form") or {}).get("access_token") or (e.get("query") or {}).get("access_token")


def graph_log(fake):
    return [e for e in fake.requests_log() if e["host"] in GRAPH_HOSTS]


def poll_offset(n):
    """mod_igraph's schedule (igraph_job.c igraph_poll_offset): status poll n (0-based) is due
    this many seconds after container creation: 2, 6, 11, 17, 24, ... then every 15 s."""
    first, grow_from, cap = 2, 3, 15
    m = min(n, cap - grow_from)
    return first + grow_from * m + m * (m + 1) // 2 + cap * (n - m)


def measure(entries, containers, video_url, cid, token=None):
    """Graph calls of one post: the container creation(s) for video_url, status reads of cid,
    media_publish of cid, up to the successful media_publish; plus any other call made with the
    account's token in that window except quota checks and the attributed ones (token given)."""
    creates = [e for e in entries if e["method"] == "POST" and e["path"].endswith("/media")
               and (e.get("form") or {}).get("video_url") == video_url]
    if not creates or not cid:
        return {"calls": len(creates), "published": False, "delay": None}
    t0 = creates[0]["t"]
    pubs = [e for e in entries if e["path"].endswith("/media_publish")
            and (e.get("form") or {}).get("creation_id") == cid]
    ok = [e for e in pubs if e.get("status") == 200]
    t1 = ok[0]["t"] if ok else float("inf")
    polls = [e for e in entries if e["method"] == "GET"
             and e["path"].rstrip("/").endswith("/" + cid) and e["t"] <= t1]
    mine = creates + polls + [e for e in pubs if e["t"] <= t1]
    other = []
    if token:
        ids = {id(e) for e in mine}
        other = [e for e in entries if t0 <= e["t"] <= t1 and id(e) not in ids
                 and entry_token(e) == token
                 and not e["path"].endswith("/content_publishing_limit")]
    c = containers.get(cid) or {}
    ready = c.get("created_at", t0) + float(c.get("finish_after_seconds") or 0)
    return {"calls": len(mine) + len(other), "other": len(other), "polls": len(polls),
            "published": bool(ok), "delay": (t1 - ready) if ok else None,
            "created": c.get("created_at", t0), "ready": ready, "publish_t": ok[0]["t"] if ok
            else None, "first_poll": polls[0]["t"] - c.get("created_at", t0) if polls else None,
            "create_t": t0,
            "late": [e["t"] - t0 - poll_offset(k) for k, e in enumerate(polls)],
            "after_poll": (t1 - polls[-1]["t"]) if ok and polls else None}


# ------------------------------------------------------------------------------ clients
def seed_loop(fake, ig_id, token, video_url, speed, stop, version="v26.0"):
    """The seed's publisher: create, then sleep 3 s / poll status_code until FINISHED or 180 s
    (504, container abandoned), then media_publish. Sleeps are divided by `speed`."""
    base = "%s/%s" % (fake.endpoint("instagram-graph"), version)
    s = requests.Session()
    s.headers["Authorization"] = "Bearer " + token
    res = {"cid": None, "outcome": "error"}
    r = s.post("%s/%s/media" % (base, ig_id), timeout=30, data={
        "media_type": "REELS", "video_url": video_url, "caption": "seed loop",
        "share_to_feed": "true"})
    if r.status_code != 200:
        res["outcome"] = "create failed: %s" % r.text[:200]
        return res
    res["cid"] = cid = r.json()["id"]
    t0 = time.monotonic()
    for _ in range(int(SEED_GIVE_UP / SEED_POLL) + 2):
        if stop.wait(SEED_POLL / speed):
            res["outcome"] = "interrupted"
            return res
        if (time.monotonic() - t0) * speed > SEED_GIVE_UP:
            res["outcome"] = "gave up at %d s (504, container abandoned)" % SEED_GIVE_UP
            return res
        st = s.get("%s/%s" % (base, cid), params={"fields": "status_code"}, timeout=30)
        code = st.json().get("status_code") if st.status_code == 200 else None
        if code == "FINISHED":
            p = s.post("%s/%s/media_publish" % (base, ig_id), data={"creation_id": cid},
                       timeout=30)
            res["outcome"] = "published" if p.status_code == 200 else "publish failed"
            return res
        if code in ("ERROR", "EXPIRED"):
            res["outcome"] = code.lower()
            return res
    res["outcome"] = "gave up at %d s (504, container abandoned)" % SEED_GIVE_UP
    return res


def module_submit(h, s, username, video_url, caption="bench"):
    r = s.post(h.url("/ig/publish"), timeout=30, json={
        "account": "@" + username, "media_type": "REELS", "video_url": video_url,
        "caption": caption, "share_to_feed": True, "wait": 0})
    if r.status_code not in (200, 202):
        raise RuntimeError("POST /ig/publish: %s %s" % (r.status_code, r.text[:300]))
    return r.json()["job"]


def module_job(h, s, job_id):
    r = s.get(h.url("/ig/publish/%s" % job_id), timeout=30)
    return r.json().get("job") if r.status_code == 200 else None


def wait_for(pred, timeout, interval):
    """Calls pred() until true or timeout (real seconds); bounded in count and time."""
    end = time.monotonic() + timeout
    for _ in range(int(timeout / interval) + 2):
        v = pred()
        if v or time.monotonic() > end:
            return v
        time.sleep(interval)
    return pred()


DONE = ("published", "failed", "cancelled")
DUMP = None


def dump(name, data):
    """--dump DIR: raw data of a part (the fake's request log, jobs) for a closer look."""
    DUMP.mkdir(parents=True, exist_ok=True)
    (DUMP / (name + ".json")).write_text(json.dumps(data, indent=1, default=str))


# ------------------------------------------------------------------------------ 1: polling
class Polling:
    """One httpd + fake pair at a given speed; module accounts and seed-loop accounts."""

    def __init__(self, lab, speed):
        self.lab, self.speed = lab, speed
        self.fake = lab.fake(speed)
        self.h = lab.httpd(self.fake, speed)
        self.s = self.h.session()
        self.n = 0

    def account(self, prefix):
        self.n += 1
        name = "bench.%s.x%g.%d" % (prefix, self.speed, self.n)
        ig = connect_ig(self.h, self.fake, self.s, name)
        return name, ig

    def verify(self):
        """Clock rates of the fake and of httpd, and the worker's first poll (fake seconds)."""
        c = FakeClock(self.fake, self.speed)
        d0, r0 = httpd_date(self.h), time.time()
        time.sleep(2.0)
        r1, f1 = c.sample()
        d1, r1b = httpd_date(self.h), time.time()
        fake_rate = (f1 - c.f0) / (r1 - c.r0)
        httpd_rate = (d1 - d0) / (r1b - r0)
        # probes: two Reels ready at creation; the first status poll should come ~2 fake s
        # after creation (IGraph's schedule), so the worker's timed waits must scale too
        set_container(self.fake, 0)
        probes = []
        for i in range(2):
            name, ig = self.account("probe")
            url = "%s/probe-%g-%d.mp4" % (CDN, self.speed, i)
            probes.append((url, module_submit(self.h, self.s, name, url)["id"]))
        wait_for(lambda: all((module_job(self.h, self.s, j) or {}).get("status") in DONE
                             for _, j in probes), 60 / self.speed + 10, 0.05)
        entries, st = graph_log(self.fake), self.fake.state()
        firsts = []
        for url, j in probes:
            job = module_job(self.h, self.s, j) or {}
            m = measure(entries, st["containers"], url, job.get("creation_id"))
            firsts.append(m.get("first_poll"))
        return fake_rate, httpd_rate, firsts

    def run_case(self, seconds, seed=True, stop=None):
        stop = stop or threading.Event()
        mname, mig = self.account("module")
        sname = sig = None
        if seed:
            sname, sig = self.account("seed")
        set_container(self.fake, seconds)
        tag = "%gx%d" % (self.speed, seconds)
        murl, surl = "%s/module-%s.mp4" % (CDN, tag), "%s/seed-%s.mp4" % (CDN, tag)
        seed_res = {}
        th = None
        if seed:
            tok = ig_long_token(self.fake, sig)
            th = threading.Thread(target=lambda: seed_res.update(
                seed_loop(self.fake, sig, tok, surl, self.speed, stop)), daemon=True)
            th.start()
        job = module_submit(self.h, self.s, mname, murl)
        limit = (seconds * 1.5 + 120) / self.speed + 15
        t0 = time.monotonic()
        job = wait_for(lambda: (lambda j: j if j and j["status"] in DONE else None)(
            module_job(self.h, self.s, job["id"])), limit, max(0.05, 0.5 / self.speed)) or \
            module_job(self.h, self.s, job["id"]) or job
        if th:
            th.join(max(1.0, limit - (time.monotonic() - t0)))
            if th.is_alive():
                stop.set()
                th.join(5)
        entries, st = graph_log(self.fake), self.fake.state()
        mtok = ig_long_token(self.fake, mig)
        mod = measure(entries, st["containers"], murl, job.get("creation_id"), mtok)
        mod["outcome"] = job.get("status", "?") + (
            " (%s)" % job["error"] if job.get("error") else "")
        res = {"seconds": seconds, "speed": self.speed, "module": mod}
        if seed:
            sd = measure(entries, st["containers"], surl, seed_res.get("cid"),
                         ig_long_token(self.fake, sig))
            sd["outcome"] = seed_res.get("outcome", "?")
            res["seed"] = sd
        return res

    def close(self):
        self.lab.stop_httpd(self.h)
        self.fake.stop()


def fmt_delay(m):
    return "%.1f s" % m["delay"] if m.get("delay") is not None else "-"


def target_text(seconds, m):
    if seconds not in TARGETS:
        return ""
    d, c = TARGETS[seconds]
    ok = m.get("delay") is not None and m["delay"] <= d and m["calls"] <= c
    msg = "<= %g s, <= %d calls: %s" % (d, c, "MET" if ok else "NOT MET")
    if not ok:
        over = []
        if m.get("delay") is None:
            over.append("not published")
        else:
            if m["delay"] > d:
                over.append("delay +%.1f s" % (m["delay"] - d))
            if m["calls"] > c:
                over.append("calls +%d" % (m["calls"] - c))
        msg += " (" + ", ".join(over) + ")"
    return msg


def print_polling(results):
    out("")
    out("1. Polling efficiency: one Reel per account; calls = Graph calls from container creation")
    out("   through media_publish (quota check before creation excluded); delay = media_publish")
    out("   request minus ready (creation + processing time), on the fake's clock")
    out("")
    out("   %-9s %-7s %-16s %5s %6s %13s  %-44s %s" % (
        "container", "clock", "client", "calls", "polls", "after ready", "outcome", "target"))
    for r in results:
        clock = "x%g" % r["speed"] if r["speed"] != 1 else "real"
        for who, label in (("module", "mod_igraph"), ("seed", "fixed 3 s loop")):
            m = r.get(who)
            if not m:
                continue
            out("   %-9s %-7s %-16s %5d %6d %13s  %-44s %s" % (
                "%d s" % r["seconds"], clock, label, m["calls"], m.get("polls", 0),
                fmt_delay(m), m["outcome"][:44], target_text(r["seconds"], m)
                if who == "module" else ""))
            if m.get("other"):
                out("   %-9s %-7s %-16s (%d of these calls were other calls with the account's"
                    " token)" % ("", "", "", m["other"]))
    diag = []
    for r in results:
        m = r["module"]
        if m.get("after_poll") is not None:
            diag.append("%d s%s: polls late %.1f s on average (max %.1f), media_publish %.1f s "
                        "after the FINISHED poll" % (
                            r["seconds"], "" if r["speed"] == 1 else " x%g" % r["speed"],
                            statistics.mean(m["late"]), max(m["late"]), m["after_poll"]))
    if diag:
        out("")
        out("   mod_igraph vs its schedule (polls due 2, 6, 11, 17, 24, 32, ... s after creation):")
        for d in diag:
            out("     " + d)
    out("")
    out("   ratios (fixed 3 s loop / mod_igraph):")
    for r in results:
        m, s = r["module"], r.get("seed")
        if not s:
            continue
        clock = "x%g" % r["speed"] if r["speed"] != 1 else "real time"
        calls = "%.2f" % (s["calls"] / m["calls"]) if m["calls"] else "n/a"
        if s.get("delay") is not None and m.get("delay") is not None:
            dr = ("%.2f" % (s["delay"] / m["delay"])) if m["delay"] > 0 else "inf"
            delay = "delay %.1f s / %.1f s = %s" % (s["delay"], m["delay"], dr)
        elif m.get("delay") is not None:
            delay = "the loop never published; mod_igraph did, %.1f s after ready" % m["delay"]
        else:
            delay = "delay n/a"
        out("     %4d s (%s): calls %d / %d = %s; %s" % (
            r["seconds"], clock, s["calls"], m["calls"], calls, delay))
    out("   (the fixed loop polls at 3, 6, 9, ... s: its delay is 0-3 s depending on where 'ready'"
        " falls")
    out("   between two polls, 1.5 s on average; a 30 s container is ready right at a poll)")


# ------------------------------------------------------------------------------ 2: 200 in flight
def many_in_flight(lab, accounts, per_account, ready_after, threads=8):
    fake = lab.fake(1)
    h = lab.httpd(fake, 1)
    s = h.session()
    t = time.monotonic()
    names = []
    for i in range(accounts):
        name = "bench.many.%03d" % i
        connect_ig(h, fake, s, name)
        names.append(name)
    connect_s = time.monotonic() - t
    log("connected %d accounts in %.1f s" % (accounts, connect_s))
    set_container(fake, ready_after)
    fake.clear_requests()
    work = [(n, "%s/many-%03d-%d.mp4" % (CDN, i, k))
            for k in range(per_account) for i, n in enumerate(names)]
    submitted = {}

    def submit(item):
        name, url = item
        ss = requests.Session()
        j = module_submit(h, ss, name, url)
        return url, j["id"], time.time()

    t_submit0 = time.time()
    with ThreadPoolExecutor(threads) as ex:
        for url, jid, at in ex.map(submit, work):
            submitted[url] = (jid, at)
    t_submit1 = time.time()
    log("submitted %d jobs in %.2f s" % (len(work), t_submit1 - t_submit0))

    def done_count():
        pubs = fake.state()["publishes"]
        return sum(pubs.values())
    wait_for(lambda: done_count() >= len(work), ready_after + 150, 0.5)
    t_end = time.time()
    with ThreadPoolExecutor(threads) as ex:
        jobs = dict(zip(submitted, ex.map(lambda u: module_job(h, requests.Session(),
                                                               submitted[u][0]), submitted)))
    entries, st = graph_log(fake), fake.state()
    if DUMP:
        dump("many", {"entries": [{k: e.get(k) for k in ("t", "method", "path", "form", "status")}
                                  for e in entries], "submitted": submitted, "jobs": jobs})
    ms = []
    for url, (jid, at) in submitted.items():
        j = jobs.get(url) or {}
        m = measure(entries, st["containers"], url, j.get("creation_id"))
        m["status"] = j.get("status")
        m["start"] = (m["create_t"] - at) if m.get("create_t") else None
        ms.append(m)
    per_sec = {}
    for e in entries:
        if e["t"] >= t_submit0:
            per_sec[int(e["t"])] = per_sec.get(int(e["t"]), 0) + 1
    busy = [v for v in per_sec.values() if v >= 5]
    lab.stop_httpd(h)
    errs = [l for l in h.error_log_text().splitlines() if harness.BAD_LOG.search(l)]
    fake.stop()
    return {"busiest": max(per_sec.values(), default=0),
            "busy_mean": statistics.mean(busy) if busy else 0,
            "ms": ms, "submit_s": t_submit1 - t_submit0, "t0": t_submit0, "t_end": t_end,
            "connect_s": connect_s, "accounts": accounts, "n": len(work),
            "ready_after": ready_after, "errors": errs}


def print_many(r):
    ms = r["ms"]
    pub = [m for m in ms if m["published"]]
    delays = sorted(m["delay"] for m in pub)
    calls = sorted(m["calls"] for m in ms)
    starts = sorted(m["start"] for m in ms if m.get("start") is not None)
    last_pub = max((m["publish_t"] for m in pub), default=None)
    d_t, c_t = TARGETS[30]
    meet = [m for m in pub if m["delay"] <= d_t and m["calls"] <= c_t]
    statuses = {}
    for m in ms:
        statuses[m["status"]] = statuses.get(m["status"], 0) + 1
    out("")
    out("2. %d Reels in flight across %d accounts (%d per account, IGraphPublishConcurrency 2),"
        % (r["n"], r["accounts"], r["n"] // r["accounts"]))
    out("   containers ready %d s after creation, real time" % r["ready_after"])
    out("   submitted in %.2f s (%.0f req/s); job states: %s" % (
        r["submit_s"], r["n"] / r["submit_s"] if r["submit_s"] else 0,
        ", ".join("%s %d" % kv for kv in sorted(statuses.items(), key=lambda x: str(x[0])))))
    if delays:
        out("   delay after ready      median %5.1f s   max %5.1f s   (target <= %g s)" % (
            statistics.median(delays), delays[-1], d_t))
    out("   calls per reel         median %5.1f     max %5d     (target <= %d)" % (
        statistics.median(calls) if calls else 0, calls[-1] if calls else 0, c_t))
    if starts:
        out("   accept -> container    median %5.1f s   max %5.1f s   (issue: 'within about a "
            "second')" % (statistics.median(starts), starts[-1]))
    late = [x for m in ms for x in m.get("late", [])]
    after = sorted(m["after_poll"] for m in ms if m.get("after_poll") is not None)
    if late and after:
        out("   status polls late vs schedule  median %4.1f s   max %4.1f s" % (
            statistics.median(late), max(late)))
        out("   media_publish after FINISHED   median %4.1f s   max %4.1f s" % (
            statistics.median(after), after[-1]))
    if r.get("busiest"):
        out("   Graph calls per second         busiest second %d, mean over busy seconds %.0f" % (
            r["busiest"], r["busy_mean"]))
    if last_pub:
        out("   total time             %.1f s from first submit to last media_publish "
            "(%d s of it is Meta's processing)" % (last_pub - r["t0"], r["ready_after"]))
    out("   reels meeting the 30 s target (<= %g s and <= %d calls): %d/%d -> %s" % (
        d_t, c_t, len(meet), r["n"], "MET" if len(meet) == r["n"] else "NOT MET"))
    if len(meet) != r["n"] and pub:
        late = sorted(m["delay"] for m in pub if m["delay"] > d_t)
        many = [m["calls"] for m in ms if m["calls"] > c_t]
        out("   (%d late, worst by %.1f s; %d over the call budget; %d not published)" % (
            len(late), (late[-1] - d_t) if late else 0, len(many), r["n"] - len(pub)))
    if r["errors"]:
        out("   httpd error log: %d error-level line(s), first: %s" % (
            len(r["errors"]), r["errors"][0][:200]))


# ------------------------------------------------------------------------------ 3: throughput
def _read_response(sock, buf):
    """One HTTP/1.1 response from sock (Content-Length or chunked); returns (status, close,
    leftover bytes)."""
    def more():
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("closed")
        return data
    for _ in range(10000):
        if b"\r\n\r\n" in buf:
            break
        buf += more()
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        hdrs[k.strip().lower()] = v.strip().lower()
    close = hdrs.get(b"connection") == b"close"
    if b"content-length" in hdrs:
        n = int(hdrs[b"content-length"])
        for _ in range(100000):
            if len(rest) >= n:
                break
            rest += more()
        return status, close, rest[n:]
    if hdrs.get(b"transfer-encoding") == b"chunked":
        for _ in range(100000):
            for _ in range(10000):
                if b"\r\n" in rest:
                    break
                rest += more()
            line, _, rest = rest.partition(b"\r\n")
            size = int(line.split(b";")[0], 16)
            for _ in range(100000):
                if len(rest) >= size + 2:
                    break
                rest += more()
            rest = rest[size + 2:]
            if size == 0:       # (no trailers from httpd here)
                return status, close, rest
    raise ConnectionError("response without length")


def _load_init():
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _load_worker(args):
    """One keep-alive client on a raw socket (little per-request CPU, so that the client, which
    shares the machine with httpd, limits the figures as little as possible)."""
    port, kind, idx, start_at, seconds, run = args
    n = ok = 0
    bad = {}
    sock, buf = None, b""
    end = start_at + seconds
    while time.time() < start_at:
        time.sleep(0.001)
    for i in range(5_000_000):           # bounded; the duration ends it first
        if time.time() >= end:
            break
        if kind == "static":
            req = b"GET /static.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        else:
            body = json.dumps({"media_type": "IMAGE", "caption": "accept bench",
                               "image_url": "%s/%s/%d-%d.jpg" % (CDN, run, idx, i),
                               "wait": 0}).encode()
            req = (b"POST /ig/publish HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                   % len(body)) + body
        try:
            if sock is None:
                sock = socket.create_connection(("127.0.0.1", port), timeout=30)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                buf = b""
            sock.sendall(req)
            status, close, buf = _read_response(sock, buf)
            n += 1
            if status == (200 if kind == "static" else 202):
                ok += 1
            else:
                bad[status] = bad.get(status, 0) + 1
            if close:
                sock.close()
                sock = None
        except (OSError, ValueError, IndexError) as e:
            bad[type(e).__name__] = bad.get(type(e).__name__, 0) + 1
            if sock is not None:
                sock.close()
            sock = None
    if sock is not None:
        sock.close()
    return n, ok, bad


def load(port, kind, conc, seconds, run):
    ctx = multiprocessing.get_context("fork")
    start_at = time.time() + 0.5
    with ctx.Pool(conc, initializer=_load_init) as pool:
        res = pool.map_async(_load_worker, [(port, kind, i, start_at, seconds, run)
                                            for i in range(conc)])
        parts = res.get(seconds + 60)
    n = sum(p[0] for p in parts)
    ok = sum(p[1] for p in parts)
    bad = {}
    for p in parts:
        for k, v in p[2].items():
            bad[k] = bad.get(k, 0) + v
    return {"n": n, "ok": ok, "bad": bad, "rps": ok / seconds}


def ab_static(port, conc, seconds):
    if not shutil.which("ab"):
        return None
    try:
        p = subprocess.run(["ab", "-q", "-k", "-c", str(conc), "-t", str(seconds), "-n",
                            "10000000", "http://127.0.0.1:%d/static.txt" % port],
                           capture_output=True, text=True, timeout=seconds + 30)
    except subprocess.TimeoutExpired:
        return None
    m = re.search(r"Requests per second:\s+([\d.]+)", p.stdout)
    return float(m.group(1)) if m else None


def throughput(lab, conc, seconds):
    fake = lab.fake(1)
    set_container(fake, 10 ** 6)        # the 2 jobs in flight never finish: the worker idles
    h = lab.httpd(fake, 1)
    s = h.session()
    connect_ig(h, fake, s, "bench.accept")
    run = "r%d" % os.getpid()
    # warm-up: children, mod_dbd connections, the first jobs
    load(h.port, "static", conc, 0.5, run + "w")
    load(h.port, "post", conc, 0.5, run + "w")
    st = load(h.port, "static", conc, seconds, run)
    po = load(h.port, "post", conc, seconds, run)
    abr = ab_static(h.port, conc, max(2, int(seconds)))
    jobs = h.sql("SELECT count(*) FROM jobs")[0][0]
    lab.stop_httpd(h)
    errs = [l for l in h.error_log_text().splitlines() if harness.BAD_LOG.search(l)]
    fake.stop()
    return {"static": st, "post": po, "ab": abr, "conc": conc, "seconds": seconds,
            "errors": errs, "jobs": jobs}


def print_throughput(r):
    st, po = r["static"], r["post"]
    out("")
    out("3. Accept throughput, %d concurrent keep-alive clients (forked raw-socket clients), %g s each,"
        % (r["conc"], r["seconds"]))
    out("   same httpd (event MPM), SQLite via mod_dbd, jobs queue behind 2 slow ones in flight")
    out("   GET /static.txt (25 bytes)          %8.0f req/s   (%d ok, errors %s)" % (
        st["rps"], st["ok"], st["bad"] or "none"))
    out("   POST /ig/publish wait=0 (202)      %8.0f req/s   (%d accepted, errors %s)" % (
        po["rps"], po["ok"], po["bad"] or "none"))
    if st["rps"]:
        out("   ratio publish-accept / static     %8.3f   (1 : %.1f)" % (
            po["rps"] / st["rps"], st["rps"] / po["rps"] if po["rps"] else float("inf")))
    out("   jobs table after the run: %d rows" % r["jobs"])
    if r["ab"]:
        out("   (reference: ab -k -c %d, a C client, on the static file: %.0f req/s)"
            % (r["conc"], r["ab"]))
    if r["errors"]:
        out("   httpd error log: %d error-level line(s), first: %s" % (
            len(r["errors"]), r["errors"][0][:200]))


# ------------------------------------------------------------------------------ main
def source_rev():
    try:
        rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--",
                                "mod_igraph"], capture_output=True, text=True,
                               timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "source revision unknown"
    return "built from %s%s" % (rev or "?", " + uncommitted changes in mod_igraph/" if dirty
                                else "")


def loadavg(flag=True):
    try:
        la = open("/proc/loadavg").read().split()[:3]
    except OSError:
        return "?"
    busy = flag and float(la[0]) > 0.5 * (os.cpu_count() or 1)
    return " ".join(la) + (" (the machine is busy: timings are disturbed)" if busy else "")


def machine():
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return "%s, %d CPU(s) %s, Python %s" % (platform.platform(), os.cpu_count() or 0, cpu,
                                           platform.python_version())


def guarded(part, fn, *a):
    """Runs one part; a failure is printed and the next part still runs."""
    try:
        fn(*a)
    except (KeyboardInterrupt, Stop):
        raise
    except Exception as e:          # noqa: BLE001 - the bench reports, it does not judge
        out("")
        out("part %s FAILED: %s: %s" % (part, type(e).__name__, str(e)[:500]))


def part1(args, lab, stop):
    results = []
    speed = args.speed
    quick = args.quick
    if speed != 1:
        log("polling cases accelerated x%g: checking libfaketime" % speed)
        pol = Polling(lab, speed)
        fr, hr, firsts = pol.verify()
        lo, hi = 0.85 * speed, 1.15 * speed
        fp_ok = all(f is not None and f <= 2 + 2.5 for f in firsts)
        good = lo <= fr <= hi and lo <= hr <= hi and fp_ok
        out("")
        out("time acceleration x%g (libfaketime \"+0 x%g\" for httpd and the fake): fake clock "
            "x%.2f, httpd clock (Date) x%.2f, first status poll %s fake s after creation "
            "(schedule: 2 s) -> %s" % (
                speed, speed, fr, hr,
                "/".join("%.1f" % f if f is not None else "-" for f in firsts),
                "works, used" if good else "NOT reliable, falling back to real time"))
        if not good:
            pol.close()
            speed = 1
            if not args.full:
                quick = True
    if speed == 1:
        out("")
        out("time: REAL (not accelerated)%s" % (
            "; the 300 s case is skipped (--full runs it)" if quick else ""))
        pol = Polling(lab, 1)
    cases = [5, 30] + ([] if quick else [300])
    for sec in cases:
        log("polling case %d s (x%g)" % (sec, speed))
        results.append(pol.run_case(sec, stop=stop))
    errs = [l for l in pol.h.error_log_text().splitlines() if harness.BAD_LOG.search(l)]
    pol.close()
    if speed != 1 and not args.no_crosscheck:
        log("real-time cross-check: 5 s and 30 s")
        rt = Polling(lab, 1)
        for sec in (5, 30):
            log("polling case %d s (real time)" % sec)
            results.append(rt.run_case(sec, stop=stop))
        errs += [l for l in rt.h.error_log_text().splitlines() if harness.BAD_LOG.search(l)]
        rt.close()
    print_polling(results)
    if errs:
        out("   httpd error log: %d error-level line(s), first: %s" % (len(errs), errs[0][:200]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--speed", type=float, default=10,
                    help="time acceleration for the polling cases (libfaketime x N; 1 = real)")
    ap.add_argument("--quick", action="store_true", help="skip the 300 s container case")
    ap.add_argument("--full", action="store_true",
                    help="run the 300 s case even in real time (5+ minutes)")
    ap.add_argument("--no-crosscheck", action="store_true",
                    help="do not repeat the 5 s and 30 s cases in real time")
    ap.add_argument("--accounts", type=int, default=100)
    ap.add_argument("--per-account", type=int, default=2)
    ap.add_argument("--tp-seconds", type=float, default=4)
    ap.add_argument("--tp-concurrency", type=int, default=8)
    ap.add_argument("--skip", default="", help="comma list of parts to skip: 1,2,3")
    ap.add_argument("--module", help="mod_igraph.so to load (default: the built one)")
    ap.add_argument("--keep", action="store_true", help="keep run directories")
    ap.add_argument("--dump", help="write raw request logs and jobs of part 2 to this directory")
    args = ap.parse_args()
    global DUMP
    DUMP = Path(args.dump) if args.dump else None
    if args.module:
        harness.MODULE = Path(args.module).resolve()
    if not Path(harness.MODULE).exists():
        sys.exit("module not built: %s (make -f Makefile.apxs build)" % harness.MODULE)
    skip = set(x.strip() for x in args.skip.split(",") if x.strip())

    def on_term(signum, frame):
        raise Stop("signal %d" % signum)
    signal.signal(signal.SIGTERM, on_term)

    t_start = time.monotonic()
    out("mod_igraph publish bench - %s" % time.strftime("%Y-%m-%d %H:%M:%S %Z"))
    out("machine: %s" % machine())
    out("module: %s (%s)" % (harness.MODULE, "given with --module" if args.module
                                 else source_rev()))
    out("load average at start: %s" % loadavg())
    lab = Lab(keep=args.keep)
    stop = threading.Event()
    try:
        if "1" not in skip:
            guarded("1", part1, args, lab, stop)
        if "2" not in skip:
            log("%d reels across %d accounts" % (args.accounts * args.per_account,
                                                 args.accounts))
            guarded("2", lambda: print_many(many_in_flight(lab, args.accounts, args.per_account,
                                                           30)))
        if "3" not in skip:
            log("accept throughput")
            guarded("3", lambda: print_throughput(throughput(lab, args.tp_concurrency,
                                                             args.tp_seconds)))
    except (KeyboardInterrupt, Stop) as e:
        out("interrupted: %s" % (e or "Ctrl-C"))
        return 130
    finally:
        stop.set()
        lab.close()
    out("")
    out("total bench time %.0f s; load average at the end (the bench's own load included): %s"
        % (time.monotonic() - t_start, loadavg(flag=False)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
