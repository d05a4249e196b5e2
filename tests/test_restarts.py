"""Restarts as a busy server sees them: 20 graceful restarts and 5 stops (each followed by a new
start) under prefork and event, while a token refresh hangs at the fake Meta server and publish
jobs keep arriving and running. No child may crash (the error-log check fails on "Segmentation
fault" and AH00052), no restart may hang, and every accepted job is published exactly once."""
import threading
import time

import pytest
import requests

from flows import accounts, connect
from harness import TIME_SCALE

DAY = 86400
GRACEFULS, STOPS = 20, 5
PROMPT = 10 * TIME_SCALE   # seconds a graceful restart or a stop may take


def move(httpd, fake, seconds):
    httpd.set_time_offset(seconds)
    fake.control("clock", {"set": int(time.time()) + seconds})


class Poster(threading.Thread):
    """Posts a new image job every 0.25 s; keeps the ids of the jobs the module accepted (202).
    At most 80: Instagram's (and the fake's) limit is 100 posts in 24 hours."""

    def __init__(self, h):
        super().__init__(daemon=True)
        self.h, self.accepted, self.stopped, self.n = h, [], threading.Event(), 0

    def run(self):
        s = requests.Session()
        while not self.stopped.is_set() and len(self.accepted) < 80:
            self.n += 1
            try:
                r = s.post(self.h.url("/ig/publish"), timeout=10,
                           json={"media_type": "IMAGE", "caption": "restart",
                                 "image_url": f"https://cdn.example.org/r/{self.n}.jpg"})
                if r.status_code == 202:
                    self.accepted.append(r.json()["job"]["id"])
            except requests.RequestException:
                s = requests.Session()   # the server is between generations: ask again later
            time.sleep(0.25)


@pytest.mark.processes
@pytest.mark.parametrize("mpm", ["prefork", "event"])
def test_restarts_under_load_never_crash_hang_or_lose_a_job(make_httpd, fake, mpm):
    fake.control("ig_user", {"username": "ig.busy"})
    fake.control("config", {"container": {"finish_after_polls": 2}})
    h = make_httpd(faketime=True, mpm=mpm,
                   directives="IGraphMaintenanceInterval 1s\nIGraphPublishConcurrency 10")
    assert connect(h, h.session(), "instagram").status_code == 302
    fake.control("fault", {"route": "graph.instagram.com/refresh_access_token", "kind": "hang",
                           "seconds": 30})
    move(h, fake, 46 * DAY)
    end = time.time() + 15
    while not [q for q in fake.requests_log() if "refresh_access_token" in q["path"]]:
        assert time.time() < end, "a token sweep is in flight"
        time.sleep(0.2)

    poster = Poster(h)
    poster.start()
    try:
        for i in range(GRACEFULS + STOPS):
            time.sleep(0.5)
            t0 = time.time()
            if i % 5 == 4:
                h.stop()
                took = time.time() - t0
                assert took < PROMPT, f"stop {i // 5 + 1} took {took:.1f} s"
                h.start()
            else:
                h.graceful()
                assert time.time() - t0 < PROMPT, f"graceful {i} took {time.time() - t0:.1f} s"
            assert h.session().get(h.url("/ig/api/accounts")).status_code == 200
    finally:
        poster.stopped.set()
        poster.join(15)
    assert len(poster.accepted) >= 20, "jobs kept arriving during the restarts"

    # the sweep's hang ends; every job that ever got a row reaches "published", once
    fake.control("fault", method="DELETE")
    end = time.time() + 90 * TIME_SCALE
    while time.time() < end:
        rows = dict(h.sql("SELECT id, status FROM jobs"))
        if rows and all(st == "published" for st in rows.values()):
            break
        time.sleep(0.5)
    rows = dict(h.sql("SELECT id, status FROM jobs"))
    assert set(poster.accepted) <= set(rows), "an accepted job was lost"
    assert all(st == "published" for st in rows.values()), \
        {st: sum(1 for v in rows.values() if v == st) for st in set(rows.values())}
    assert sum(fake.state()["publishes"].values()) == len(rows), "published twice"
    [a] = accounts(h, h.session())
    assert a["status"] == "active"


@pytest.mark.processes
@pytest.mark.parametrize("mpm", ["prefork", "event"])
def test_stop_right_after_start_never_crashes(make_httpd, fake, mpm):
    """A stop that reaches children still in child_init (a stop right after a start, or a slow
    first start on a fresh machine): the maintenance thread must never outlive the pool it runs
    on. 10 starts and stops, with a job queued so the worker has something to do at once."""
    fake.control("config", {"container": {"finish_after_polls": 50}})
    h = make_httpd(mpm=mpm, directives="IGraphMaintenanceInterval 1s")
    assert connect(h, h.session(), "instagram").status_code == 302
    r = h.session().post(h.url("/ig/publish"), json={"media_type": "IMAGE",
                                                     "image_url": "https://cdn.example.org/q.jpg"})
    assert r.status_code == 202
    for _ in range(10):
        h.stop()
        h.start()
    h.stop()
    assert "Segmentation fault" not in h.error_log_text()
    assert "AH00052" not in h.error_log_text()
    h.start()   # the fixture stops it again and checks the whole log
