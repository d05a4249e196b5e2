"""Secrets in the server's memory after connects, refreshes and a publish: the token key and the
app secrets only in memory that core dumps leave out (MADV_DONTDUMP), the key file's text
nowhere, and no token (not even its tail) anywhere: the module's pools, jansson's strings and
libcurl's buffers are all zeroed when done with.

Reads /proc/<pid>/mem of the server's processes (root with CAP_SYS_PTRACE; skipped otherwise).
"""
import os
import re
import time

import pytest

from flows import accounts, connect
from harness import (APP_ID, APP_SECRET, IG_APP_ID, IG_APP_SECRET, SANITIZED, VALGRIND,
                     free_port)

# valgrind and ASan replace malloc (ASan keeps freed blocks in quarantine, valgrind copies them)
# and map terabytes of shadow memory: the layout checked here is the production one
pytestmark = pytest.mark.skipif(VALGRIND or SANITIZED,
                                reason="needs the process's own malloc and memory layout")


def _regions(pid):
    """[(start, end, perms, path, vmflags, rss_kb)] of a process, from /proc/<pid>/smaps."""
    out = []
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            m = re.match(r"([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$", line)
            if m:
                out.append([int(m[1], 16), int(m[2], 16), m[3], m[4].strip(), "", 0])
            elif line.startswith("Rss:") and out:
                out[-1][5] = int(line.split()[1])
            elif line.startswith("VmFlags:") and out:
                out[-1][4] = line.split(":", 1)[1].split()
    return out


def _scan(pid, needles):
    """{needle: [(address, path, in_no_dump_region)]} over the readable, resident regions."""
    hits = {}
    with open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for lo, hi, perms, path, flags, rss in _regions(pid):
            if "r" not in perms or rss == 0 or path in ("[vvar]", "[vsyscall]"):
                continue
            try:
                mem.seek(lo)
                data = mem.read(hi - lo)
            except (OSError, ValueError):
                continue
            for n in needles:
                at = data.find(n)
                while at >= 0:
                    hits.setdefault(n, []).append((hex(lo + at), path, "dd" in flags))
                    at = data.find(n, at + 1)
    return hits


def _server_pids(h):
    parent = h.proc.pid
    pids = [parent]
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == parent:
                        pids.append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    return pids


def test_key_secrets_and_tokens_not_left_in_memory(make_httpd, fake, tmp_path):
    if not os.access("/proc/self/mem", os.R_OK) or os.geteuid() != 0:
        pytest.skip("needs root to read the server's memory")
    fake.control("config", {"container": {"finish_after_polls": 1}})
    fake.control("fb_user", {"name": "M", "pages": [{"name": "P", "ig_username": "mem.fb"}]})
    fake.control("ig_user", {"username": "mem.ig"})
    # secrets from files: a secret written inline in httpd.conf stays in httpd's own copy of
    # the configuration, which the module does not own
    files = {}
    verify = "mem-verify-token-0123"
    for name, value in (("fb", APP_SECRET), ("ig", IG_APP_SECRET), ("hook", verify)):
        files[name] = tmp_path / f"{name}.secret"
        files[name].write_text(value + "\n")
    port = free_port()
    h = make_httpd(credentials=False, port=port, directives="\n".join([
        f"IGraphAppID {APP_ID}", f"IGraphAppSecretFile {files['fb']}",
        f"IGraphInstagramAppID {IG_APP_ID}", f"IGraphInstagramAppSecretFile {files['ig']}",
        f"IGraphWebhookVerifyTokenFile {files['hook']}",
        f"IGraphRedirectURL http://127.0.0.1:{port}/ig/oauth/callback"]))
    s = h.session()
    r = s.get(h.url("/ig/meta/webhook"), params={"hub.mode": "subscribe", "hub.challenge": "c42",
                                                 "hub.verify_token": verify})
    assert (r.status_code, r.text) == (200, "c42")
    assert connect(h, s, "facebook").status_code == 302
    assert connect(h, s, "instagram").status_code == 302
    for a in accounts(h, s):
        assert s.post(h.url(f"/ig/api/accounts/{a['id']}/refresh")).status_code == 200
    r = s.post(h.url("/ig/publish"), json={"account": "@mem.ig", "media_type": "IMAGE",
                                           "wait": 20, "image_url": "https://cdn.example.org/m.jpg"})
    assert r.json()["job"]["status"] == "published", r.json()
    key_hex = (h.root / "var" / "token.key").read_text().strip()
    key = bytes.fromhex(key_hex)
    tokens = [t.encode() for t in fake.tokens()]
    assert tokens
    secrets = [APP_SECRET.encode(), IG_APP_SECRET.encode()]
    parent = h.proc.pid
    for pid in _server_pids(h):
        tails = [t[8:] for t in tokens]
        needles = [key, key_hex.encode(), verify.encode()] + secrets + tokens + tails
        try:
            found = _scan(pid, needles)
        except PermissionError:
            pytest.skip("cannot read the server's memory (no CAP_SYS_PTRACE)")
        assert key_hex.encode() not in found, pid
        # the verify token also arrives in Meta's request, which is httpd's memory: checked in
        # the parent only, which reads it from its file
        for n in [key] + secrets + ([verify.encode()] if pid == parent else []):
            assert all(dd for _, _, dd in found.get(n, [])), (pid, n[:6], found.get(n))
        assert not [t for t in tokens + tails if t in found], pid
    # the scan does see them (in their no-dump mapping)
    seen = _scan(parent, [key, verify.encode()] + secrets)
    assert key in seen and verify.encode() in seen and all(n in seen for n in secrets)


@pytest.mark.processes
def test_secrets_from_the_environment_leave_it(make_httpd, fake):
    """META_APP_SECRET and META_IG_APP_SECRET given in the environment are moved to no-dump
    memory and taken out of the environment in the parent: /proc/<pid>/environ of the parent
    and its children shows neither name nor value, the values sit only in no-dump mappings,
    and they keep working after a graceful restart (which reads the configuration again)."""
    if not os.access("/proc/self/mem", os.R_OK) or os.geteuid() != 0:
        pytest.skip("needs root to read the server's memory")
    fake.control("fb_user", {"name": "E", "pages": [{"name": "P", "ig_username": "env.fb"}]})
    fake.control("ig_user", {"username": "env.ig"})
    port = free_port()
    h = make_httpd(credentials=False, port=port, env={
        "META_APP_ID": APP_ID, "META_APP_SECRET": APP_SECRET,
        "META_IG_APP_ID": IG_APP_ID, "META_IG_APP_SECRET": IG_APP_SECRET,
        "META_REDIRECT_URL": f"http://127.0.0.1:{port}/ig/oauth/callback"})
    s = h.session()
    assert connect(h, s, "facebook").status_code == 302
    assert connect(h, s, "instagram").status_code == 302
    h.graceful()
    for a in accounts(h, s):
        r = s.post(h.url(f"/ig/api/accounts/{a['id']}/refresh"))
        assert r.status_code == 200, r.text
    secrets = [APP_SECRET.encode(), IG_APP_SECRET.encode()]
    time.sleep(1)                    # the old generation's children are gone
    pids = _server_pids(h)
    assert len(pids) > 1
    for pid in pids:
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                environ = f.read()
        except (ProcessLookupError, FileNotFoundError):
            continue                 # a child that was just replaced
        assert b"META_APP_ID=" + APP_ID.encode() in environ or pid != h.proc.pid
        for name in (b"META_APP_SECRET", b"META_IG_APP_SECRET"):
            assert name not in environ, (pid, name)
        for value in secrets:
            assert value not in environ, pid
        try:
            found = _scan(pid, secrets)
        except PermissionError:
            pytest.skip("cannot read the server's memory (no CAP_SYS_PTRACE)")
        for n in secrets:
            assert all(dd for _, _, dd in found.get(n, [])), (pid, n[:6], found.get(n))
    # the scan does see them (in their no-dump mapping)
    seen = _scan(h.proc.pid, secrets)
    assert all(n in seen for n in secrets)
