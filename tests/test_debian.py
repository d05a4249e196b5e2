"""Debian's stock Apache, set up as README's "Installing on a server" says, step by step.

The test copies this machine's /etc/apache2 (apache2.conf with its <Directory /> and
<Directory /var/www/>, ports.conf, sites-enabled/000-default.conf, the enabled modules) into a
temporary directory and drives it with Debian's own tools through APACHE_CONFDIR: apache2ctl
(which then passes `-d <copy>`, so the copy is the ServerRoot) and a2enmod. It runs the shell
blocks of README's section as they are written, and makes the edits step 3 documents. What it
changes, and why:

- the system paths README names (/etc/apache2, /var/lib/apache2, /usr/share/mod_igraph) are moved
  into the temporary directory, in README's commands and in the sample igraph.conf alike: the
  test must not touch this machine's Apache;
- envvars' APACHE_RUN_DIR, APACHE_PID_FILE, APACHE_LOCK_DIR and APACHE_LOG_DIR point into the
  temporary directory, and ports.conf's Listen (with 000-default.conf's <VirtualHost *:80>, as
  ports.conf's own comment says) moves to a free port on 127.0.0.1;
- `make -f Makefile.apxs install` (apxs -i into /usr/lib/apache2/modules) is left out: instead
  igraph.load's LoadModule line names the module built in the tree;
- `systemctl reload apache2` is `apache2ctl graceful` (what apache2.service's ExecReload runs;
  there is no systemd here), and htpasswd gets the password with -b instead of asking for it;
- step 3 (app ids, secret files, redirect URL) as documented, plus IGraphEndpoint lines pointing
  at the fake Meta server.
"""
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
import requests

from flows import accounts, connect
from harness import (APP_ID, APP_SECRET, BAD_LOG, ENDPOINT_HOSTS, HTTPD_ENV, IG_APP_ID,
                     IG_APP_SECRET, MODULE, REPO, VALGRIND, free_port, wait_port)

pytestmark = [
    pytest.mark.processes,
    # the sanitizer builds need LD_PRELOAD in every apache2 run, which apache2ctl and a2enmod
    # (perl) would inherit; valgrind runs apache2 -X: both are for the other tests
    pytest.mark.skipif(bool(HTTPD_ENV) or VALGRIND, reason="plain builds only"),
    pytest.mark.skipif(not Path("/etc/apache2/apache2.conf").exists(),
                       reason="Debian's apache2 package is not installed"),
]

MOVED = ("/etc/apache2", "/var/lib/apache2", "/usr/share/mod_igraph")
USER = ("alice", "alice-pw")
REEL = {"video_url": "https://cdn.example.org/v/debian.mp4", "caption": "from Debian",
        "share_to_feed": True}


def readme_blocks():
    """The ```sh blocks of README's "Installing on a server", dedented."""
    text = (REPO / "README.md").read_text()
    section = text[text.index("## Installing on a server"):text.index("## Configuration")]
    return [textwrap.dedent(b) for b in re.findall(r"```sh\n(.*?)\n[ ]*```", section, re.S)]


def edit(text, pattern, repl):
    """text with the one line matching pattern replaced (the sample must have exactly one)."""
    new, n = re.subn(pattern, repl, text, flags=re.M)
    assert n == 1, f"{pattern!r} matched {n} times"
    return new


class Browser(requests.Session):
    """The sample's session cookie is Secure. Browsers treat http://127.0.0.1 as a secure
    context and send it there; Python's cookie jar would not (and requests copies the jar into
    a fresh one with the default policy for every request), so the flag is dropped client-side
    before each request."""

    def prepare_request(self, request):
        for c in self.cookies:
            c.secure = False
        return super().prepare_request(request)


class Stock:
    """The copy of /etc/apache2 and the commands that drive it."""

    def __init__(self):
        # like /: root's own (make_root's var/ would belong to www-data)
        self.t = Path(tempfile.mkdtemp(prefix="igraph-debian-", dir="/tmp"))
        os.chmod(self.t, 0o755)
        self.conf = self.t / "etc" / "apache2"
        self.port = free_port()
        self.mount = "/ig"
        shutil.copytree("/etc/apache2", self.conf, symlinks=True)
        self.log = self.t / "var" / "log" / "apache2" / "error.log"
        self.log.parent.mkdir(parents=True)
        (self.t / "lock").mkdir()               # /var/lock is there on Debian (-> /run/lock)
        envvars = (self.conf / "envvars").read_text()
        for var, path in (("APACHE_PID_FILE", "run/apache2/apache2.pid"),
                          ("APACHE_RUN_DIR", "run/apache2"), ("APACHE_LOCK_DIR", "lock/apache2"),
                          ("APACHE_LOG_DIR", "var/log/apache2")):
            envvars = edit(envvars, rf"^export {var}=.*$", f"export {var}={self.t / path}")
        (self.conf / "envvars").write_text(envvars)
        ports = self.conf / "ports.conf"
        ports.write_text(edit(ports.read_text(), r"^Listen 80$", f"Listen 127.0.0.1:{self.port}"))
        site = self.conf / "sites-available" / "000-default.conf"
        site.write_text(edit(site.read_text(), r"^<VirtualHost \*:80>$",
                             f"<VirtualHost *:{self.port}>"))
        self.env = {"PATH": "/usr/sbin:/usr/bin:/bin", "LANG": "C",
                    "APACHE_CONFDIR": str(self.conf),
                    # a2enmod keeps its "enabled by admin" markers here (default /var/lib/apache2)
                    "APACHE_STATE_DIRECTORY": str(self.t / "var" / "lib" / "apache2"),
                    # apache2ctl start would hand over to systemctl on a systemd machine
                    "APACHE_STARTED_BY_SYSTEMD": "1"}

    def moved(self, text):
        return re.sub(r"(?<![\w/.-])(" + "|".join(map(re.escape, MOVED)) + r")(?=[/\s'\"]|$)",
                      lambda m: str(self.t) + m.group(1), text, flags=re.M)

    def sh(self, script, cwd=REPO):
        p = subprocess.run(["sh", "-ec", script], cwd=str(cwd), env=self.env,
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, f"{script}\n-> {p.returncode}\n{p.stdout}\n{p.stderr}"
        return p.stdout + p.stderr

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def session(self):
        s = Browser()
        s.auth = USER
        return s

    def log_text(self):
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def generations(self):
        return self.log_text().count("resuming normal operations")

    def wait_generation(self, n, timeout=20):
        end = time.time() + timeout
        while self.generations() < n:
            assert time.time() < end, "no new generation:\n" + self.log_text()[-3000:]
            time.sleep(0.05)
        # the new generation's children take over the listener
        end = time.time() + timeout
        while time.time() < end:
            try:
                requests.get(self.url("/"), timeout=2)
                return
            except requests.RequestException:
                time.sleep(0.05)

    def graceful(self):
        n = self.generations()
        self.sh("apache2ctl graceful")
        self.wait_generation(n + 1)

    def pid(self):
        f = self.t / "run" / "apache2" / "apache2.pid"
        return int(f.read_text()) if f.exists() else None

    def stop(self, timeout=20):
        pid = self.pid()
        if not pid:
            return
        self.sh("apache2ctl stop")
        end = time.time() + timeout
        while os.path.exists(f"/proc/{pid}"):
            assert time.time() < end, "apache2 did not stop"
            time.sleep(0.05)

    def state(self):
        """What a reload must not change: the module's files (mode, owner; content of all but
        the live database files) and the accounts."""
        files = {}
        for d in (self.conf / "igraph", self.t / "var" / "lib" / "apache2" / "igraph"):
            for p in sorted(d.iterdir()):
                st = p.lstat()
                digest = None
                if not p.name.startswith("igraph.db"):
                    digest = hashlib.sha256(p.read_bytes()).hexdigest()
                files[str(p)] = (oct(st.st_mode), st.st_uid, st.st_gid, digest)
        return files


def test_readme_install_on_debians_stock_apache(fake):
    stock = Stock()
    try:
        _install_and_use(stock, fake)
    finally:
        try:
            stock.stop()
        except AssertionError:
            pass
    bad = [ln for ln in stock.log_text().splitlines() if BAD_LOG.search(ln)]
    assert not bad, "\n".join(bad)
    shutil.rmtree(stock.t, ignore_errors=True)


def _install_and_use(stock, fake):
    install, secrets, enable = readme_blocks()

    # Debian's Apache runs before the module is installed, and serves its default page
    stock.sh("apache2ctl start")
    assert wait_port(stock.port)
    stock.wait_generation(1)
    assert "Apache2 Debian Default Page" in requests.get(stock.url("/")).text

    # 1. the module and its files
    assert "make -f Makefile.apxs install" in install
    install = "\n".join(ln for ln in install.splitlines()
                        if not ln.startswith("make -f Makefile.apxs install"))
    stock.sh(stock.moved(install))
    avail = stock.conf / "mods-available"
    load = avail / "igraph.load"
    load.write_text(edit(load.read_text(), r"^LoadModule igraph_module .*$",
                         f"LoadModule igraph_module {MODULE}"))

    # 2. the secrets
    for placeholder, value in (("the Facebook app secret", APP_SECRET),
                               ("the Instagram app secret", IG_APP_SECRET)):
        assert placeholder in secrets
        secrets = secrets.replace(placeholder, value)
    secrets = edit(secrets, r"htpasswd -c -B htpasswd alice\b",
                   f"htpasswd -c -B -b htpasswd {USER[0]} {USER[1]}")
    stock.sh(stock.moved(secrets))

    # 3. the documented edits of igraph.conf
    conf = avail / "igraph.conf"
    text = stock.moved(conf.read_text())
    text = edit(text, r"^\s*#IGraphAppID\s+\d+$", f"    IGraphAppID {APP_ID}")
    text = edit(text, r"^\s*#(IGraphAppSecretFile\s+\S+)$", r"    \1")
    text = edit(text, r"^\s*#IGraphInstagramAppID\s+\d+$", f"    IGraphInstagramAppID {IG_APP_ID}")
    text = edit(text, r"^\s*#(IGraphInstagramAppSecretFile\s+\S+)$", r"    \1")
    endpoints = "".join(f"\n    IGraphEndpoint {name} {fake.endpoint(name)}"
                        for name in ENDPOINT_HOSTS)
    text = edit(text, r"^\s*#IGraphRedirectURL\s+\S+$",
                f"    IGraphRedirectURL {stock.url('/ig/oauth/callback')}{endpoints}")
    conf.write_text(text)

    # 4. enable and reload
    n = stock.generations()
    assert "systemctl reload apache2" in enable
    out = stock.sh(enable.replace("systemctl reload apache2", "apache2ctl graceful"))
    assert "Syntax OK" in out, out
    stock.wait_generation(n + 1)
    assert "Syntax OK" in stock.sh("apache2ctl configtest")

    # what it serves: the stock site as before, and the module under /ig behind Basic auth
    assert "Apache2 Debian Default Page" in requests.get(stock.url("/")).text
    assert requests.get(stock.url("/ig/api/accounts")).status_code == 401
    s = stock.session()
    assert s.get(stock.url("/ig/api/accounts")).json() == {"ok": True, "accounts": []}
    assert "text/css" in s.get(stock.url("/ig/assets/igraph.css")).headers["Content-Type"]

    # the connect flow and a publish
    fake.control("config", {"container": {"finish_after_polls": 1}})
    r = connect(stock, s, "instagram")
    assert r.status_code == 302, r.text[:300]
    [acct] = accounts(stock, s)
    assert acct["status"] == "active" and acct["can_publish"], acct
    r = s.post(stock.url("/ig/reels/publish"), json=REEL, timeout=200)
    assert r.status_code == 200, r.text
    assert r.json()["ok"] and r.json()["media_id"]
    assert sum(fake.state()["publishes"].values()) == 1

    # the files the module made, and their modes
    key = stock.conf / "igraph" / "token.key"
    assert oct(key.stat().st_mode & 0o777) == oct(0o600) and key.stat().st_uid == 0
    db = stock.t / "var" / "lib" / "apache2" / "igraph" / "igraph.db"
    for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        assert p.stat().st_mode & 0o007 == 0, (p, oct(p.stat().st_mode))

    # a graceful restart keeps everything; a second one (logrotate's reload) changes nothing
    stock.graceful()
    before = (stock.state(), accounts(stock, s), len(stock.log_text().splitlines()))
    stock.graceful()
    after = (stock.state(), accounts(stock, s))
    assert after == before[:2]
    added = stock.log_text().splitlines()[before[2]:]
    assert not [ln for ln in added if re.search(r"\[(?:[\w_]+:)?(warn|error|crit)", ln)], added
    r = s.post(stock.url("/ig/reels/publish"), json=dict(REEL, caption="after logrotate",
                                                   video_url=REEL["video_url"] + "?2"),
               timeout=200)
    assert r.status_code == 200, r.text
    assert sum(fake.state()["publishes"].values()) == 2
