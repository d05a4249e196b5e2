"""Test harness for mod_igraph: the fake Meta server and a real httpd with the built module.

Used by the pytest suite (see conftest.py) and by run_dev.py (`make -f Makefile.apxs run`).

    fake = FakeMeta().start()
    httpd = Httpd(meta=fake).start()
    s = requests.Session()
    loc = s.get(httpd.url("/ig/oauth/start?login=facebook"), allow_redirects=False).headers["Location"]
    cb = follow_dialog(loc)                       # the fake's consent, non-interactively
    r = s.get(cb, allow_redirects=False)          # back to the module's callback
    httpd.stop(); fake.stop()

Hardening runs (see Makefile.apxs `asan` and `valgrind`) steer the harness through the environment:

    IGRAPH_MODULE=/path/mod_igraph.so   load this build instead of mod_igraph/.libs/mod_igraph.so
    IGRAPH_HTTPD_ENV="K=V K2=V2"        extra environment for every apache2 run (start and -t);
                                        an LD_PRELOAD in it comes first (before libfaketime);
                                        ASAN_OPTIONS/UBSAN_OPTIONS get a log_path in <root>/logs
    IGRAPH_VALGRIND=1                   run `apache2 -X` under valgrind memcheck (single process)
    IGRAPH_REPORT_DIR=/dir              copy every sanitizer/valgrind report with a finding here
"""
import json
import os
import pwd
import re
import secrets
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
import urllib.parse
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
TESTS = REPO / "tests"
MODULE = Path(os.environ.get("IGRAPH_MODULE") or REPO / "mod_igraph" / ".libs" / "mod_igraph.so")
TEMPLATE = REPO / "conf" / "igraph-dev.conf.in"
APACHE = "/usr/sbin/apache2"
PY = "/usr/bin/python3"

APP_ID = "1000000000000001"
APP_SECRET = "sandbox-app-secret"
IG_APP_ID = "2000000000000002"
IG_APP_SECRET = "sandbox-ig-secret"
ENDPOINT_HOSTS = {
    "facebook-dialog": "www.facebook.com",
    "facebook-graph": "graph.facebook.com",
    "instagram-authorize": "www.instagram.com",
    "instagram-api": "api.instagram.com",
    "instagram-graph": "graph.instagram.com",
}
FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"
BAD_LOG = re.compile(r"\[(?:[\w_]+:)?(error|crit|alert|emerg)\]|Segmentation fault|AH00052")

# ---- hardening runs (ASan/UBSan module, valgrind) ----------------------------------------------
HTTPD_ENV = dict(kv.split("=", 1) for kv in shlex.split(os.environ.get("IGRAPH_HTTPD_ENV", ""))
                 if "=" in kv)
VALGRIND = os.environ.get("IGRAPH_VALGRIND", "") not in ("", "0")
SANITIZED = "libasan" in os.environ.get("IGRAPH_HTTPD_ENV", "")
VALGRIND_CMD = ["valgrind", "--tool=memcheck", "--keep-debuginfo=yes", "--leak-check=full",
                "--show-leak-kinds=definite", "--errors-for-leak-kinds=definite",
                "--num-callers=30", "--error-exitcode=99"]
VALGRIND_SUPP = TESTS / "valgrind.supp"
REPORT_DIR = os.environ.get("IGRAPH_REPORT_DIR")
# a valgrind log with a finding (a clean one ends "ERROR SUMMARY: 0 errors", "definitely lost"
# only appears when something is)
VALGRIND_BAD = re.compile(r"ERROR SUMMARY: [1-9]|definitely lost: [1-9]")
# UBSan built by gcc next to ASan ignores log_path (its runtime only reads UBSAN_OPTIONS' own
# flags) and writes to stderr, i.e. httpd's ErrorLog: findings there count as reports too
SANITIZER_LOG = re.compile(r"runtime error:|ERROR: (?:Address|Leak|UndefinedBehavior)Sanitizer")
# slower start/stop under the sanitizers and much slower under valgrind
TIME_SCALE = 6.0 if VALGRIND else (2.0 if HTTPD_ENV else 1.0)


def _with_log_path(options, path):
    """ASAN_OPTIONS/UBSAN_OPTIONS with log_path replaced by path (':'-separated key=value)."""
    kept = [o for o in options.split(":") if o and not o.startswith("log_path=")]
    return ":".join(kept + ["log_path=" + str(path)])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def _www_data():
    try:
        pw = pwd.getpwnam("www-data")
        return pw.pw_uid, pw.pw_gid
    except KeyError:
        return None


def make_root(prefix="igraph-"):
    """A fresh run directory reachable by www-data (pytest's tmp_path is 0700)."""
    root = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    os.chmod(root, 0o755)
    for sub in ("run", "logs", "var", "htdocs"):
        (root / sub).mkdir(exist_ok=True)
    (root / "htdocs" / "static.txt").write_text("hello from a static file\n")
    chown_tree(root / "var")
    chown_tree(root / "logs")
    return root


def chown_tree(path):
    ids = _www_data()
    if ids is None or os.geteuid() != 0:
        return
    for p in [path, *Path(path).rglob("*")]:
        os.chown(p, *ids)


class FakeMeta:
    """The fake Meta server (tests/fakemeta) as a subprocess."""

    def __init__(self, port=0, sandbox=False, env=None):
        self.port = port
        self.sandbox = sandbox
        self.env = env          # None: inherit ours; else the whole environment of the process
        self.proc = None
        self.base_url = None

    def start(self):
        d = Path(tempfile.mkdtemp(prefix="fakemeta-", dir="/tmp"))
        portfile = d / "port"
        cmd = [PY, "-m", "fakemeta", "--port", str(self.port), "--portfile", str(portfile)]
        if self.sandbox:
            cmd.append("--sandbox")
        self.log_path = d / "fakemeta.log"
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, cwd=str(TESTS), stdout=self._log, stderr=subprocess.STDOUT,
                                     env=self.env)
        end = time.time() + 10
        while time.time() < end:
            if portfile.exists() and portfile.read_text().strip():
                self.port = int(portfile.read_text().strip())
                break
            if self.proc.poll() is not None:
                raise RuntimeError("fakemeta exited: " + self.log_path.read_text())
            time.sleep(0.05)
        else:
            raise RuntimeError("fakemeta did not start")
        self.base_url = f"http://127.0.0.1:{self.port}"
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc = None

    def endpoint(self, name):
        return f"{self.base_url}/{ENDPOINT_HOSTS[name]}"

    def control(self, path, payload=None, method=None):
        url = f"{self.base_url}/_control/{path.lstrip('/')}"
        method = method or ("POST" if payload is not None else "GET")
        r = requests.request(method, url, json=payload, timeout=10)
        r.raise_for_status()
        return r.json() if r.content else None

    def reset(self):
        return self.control("reset", {})

    def requests_log(self):
        return self.control("requests")

    def clear_requests(self):
        return self.control("requests", method="DELETE")

    def state(self):
        return self.control("state")

    def tokens(self):
        return [t["token"] for t in self.state().get("tokens", [])]


def self_signed_cert(directory):
    """A throw-away certificate for 127.0.0.1 in directory: returns (cert path, key path)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    cert, key = d / "cert.pem", d / "key.pem"
    if not cert.exists():
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                       check=True, capture_output=True)
        os.chmod(key, 0o644)
    return cert, key


class Httpd:
    """A real httpd (/usr/sbin/apache2 -DFOREGROUND) with the built module.

    By default the site part of the configuration (mod_dbd lines, IGraph* lines, <Location /ig>
    with IGraphRequireUser in it, <Location /ig/meta>) is generated from the options. With
    site="..." everything after the common part of conf/igraph-dev.conf.in (ServerRoot, Listen,
    logs, MPM, LoadModule lines, DocumentRoot) is that text, written as an administrator would,
    with these placeholders filled in:

        @ROOT@ @PORT@ @MODULE@   run directory, the main Listen port, the built module
        @VHOST_PORT@             a second free port (self.vhost_port), for a <VirtualHost>
        @DB@                     the SQLite file (self.db_path); @DBD@: DBDriver/DBDParams/
                                 DBDInitSQL lines for it
        @CREDENTIALS@            IGraphAppID/IGraphAppSecret and IGraphInstagramAppID/
                                 IGraphInstagramAppSecret lines (per credentials=, facebook=,
                                 instagram=); no IGraphRedirectURL
        @REDIRECT_URL@           self.redirect_url (http://127.0.0.1:PORT<mount>/oauth/callback)
        @ENDPOINTS@              IGraphEndpoint lines pointing at the fake Meta server (meta=)
        @SESSION_SECRET@         the session passphrase, stable across rewrites
        @TOKEN_KEY@ @ASSETS@     <root>/var/token.key, the repository's htdocs/
        @HTPASSWD@               <root>/htpasswd with users alice/alice-pw and bob/bob-pw
        @TLS_CERT@ @TLS_KEY@     a self-signed certificate for 127.0.0.1 (self_signed_cert)

    extra= is still appended after it. require_user, location_extra and directives only shape
    the generated site part and are ignored with site=. mount= is the path the helpers
    (redirect_url, flows.py, start/graceful probes) use; it does not write any configuration.
    """

    def __init__(self, meta=None, port=None, mpm="event", credentials=True, instagram=True,
                 facebook=True,
                 dbd=True, require_user=False, extra="", location_extra="", env=None,
                 graph_version="v26.0", root=None, faketime=False, directives="",
                 leak_check=True, site=None, mount="/ig", vhost_port=None):
        self.meta = meta
        self.site = site
        # where the module is mounted: "/ig", "/social" (no trailing slash)
        self.mount = mount.rstrip("/")
        self.vhost_port = vhost_port or (free_port() if site and "@VHOST_PORT@" in site
                                         else None)
        self._session_secret = secrets.token_hex(16)
        # False: sanitizer runs skip the leak check at exit (for servers that load modules,
        # such as mod_ssl, whose own per-process objects LeakSanitizer reports); memory errors
        # are still reported
        self.leak_check = leak_check
        self.port = port or free_port()
        self.mpm = mpm
        self.credentials = credentials
        self.instagram = instagram
        self.facebook = facebook
        self.dbd = dbd
        self.require_user = require_user
        self.extra = extra
        self.location_extra = location_extra
        self.directives = directives
        self.env = dict(env or {})
        if VALGRIND:
            # `apache2 -X` with event crashes at exit in httpd's own fdqueue cleanup (recycled
            # transaction pools already freed with pchild); prefork's one process does not, and
            # serves one connection at a time, so no keep-alive (another client would wait for it)
            self.mpm = "prefork"
            self.extra = (extra + "\n" if extra else "") + "KeepAlive Off"
        self.graph_version = graph_version
        self.root = Path(root) if root else make_root()
        self.proc = None
        self.faketime_file = None
        if faketime:
            self.faketime_file = self.root / "run" / "faketime"
            self.set_time_offset(0)
        self.write_conf()

    # ---- configuration ------------------------------------------------------------------
    def meta_block(self):
        lines = self.credential_lines()
        if self.credentials:
            lines.append(f"IGraphRedirectURL {self.redirect_url}")
        lines += self.endpoint_lines()
        lines.append(f"IGraphGraphVersion {self.graph_version}")
        if self.directives:
            lines.append(self.directives)
        return "\n".join(lines)

    @property
    def redirect_url(self):
        return f"http://127.0.0.1:{self.port}{self.mount}/oauth/callback"

    @property
    def htpasswd_path(self):
        return self.root / "htpasswd"

    @property
    def session_secret(self):
        return self._session_secret

    def write_htpasswd(self):
        """<root>/htpasswd with alice/alice-pw and bob/bob-pw (created once)."""
        htpasswd = self.htpasswd_path
        if not htpasswd.exists():
            subprocess.run(["htpasswd", "-cbB", str(htpasswd), "alice", "alice-pw"],
                           check=True, capture_output=True)
            subprocess.run(["htpasswd", "-bB", str(htpasswd), "bob", "bob-pw"],
                           check=True, capture_output=True)
            os.chmod(htpasswd, 0o644)
        return htpasswd

    def credential_lines(self):
        lines = []
        if self.credentials:
            if self.facebook:
                lines += [f"IGraphAppID {APP_ID}", f"IGraphAppSecret {APP_SECRET}"]
            if self.instagram:
                lines += [f"IGraphInstagramAppID {IG_APP_ID}",
                          f"IGraphInstagramAppSecret {IG_APP_SECRET}"]
        return lines

    def endpoint_lines(self):
        if not self.meta:
            return []
        return [f"IGraphEndpoint {name} {self.meta.endpoint(name)}" for name in ENDPOINT_HOSTS]

    def at(self, port=None, scheme="http", mount=None):
        """The same server reached another way (a <VirtualHost>'s port, https, another mount):
        an object with url(), redirect_url, mount and session() for that address, everything
        else delegated to this Httpd. flows.py takes either."""
        return Site(self, port or self.port, scheme, self.mount if mount is None else mount)

    @property
    def db_path(self):
        return self.root / "var" / "igraph.db"

    @property
    def conf_path(self):
        return self.root / "httpd.conf"

    @property
    def error_log_path(self):
        return self.root / "logs" / "error.log"

    def write_conf(self):
        dbd = ""
        if self.dbd:
            dbd = (f'DBDriver sqlite3\nDBDParams "{self.db_path}"\n'
                   'DBDInitSQL "PRAGMA busy_timeout=5000"')
        # keep the session secret stable across rewrites so cookies survive a graceful restart
        # (also for a new Httpd on an existing root, as run_dev.py does)
        if self.conf_path.exists():
            m = re.search(r'SessionCryptoPassphrase\s+"?([0-9a-f]{32})"?',
                          self.conf_path.read_text())
            if m:
                self._session_secret = m.group(1)
        if self.site is not None:
            return self._write_site_conf(dbd)
        loc = []
        if self.require_user:
            htpasswd = self.write_htpasswd()
            loc += ["    IGraphRequireUser On", "    AuthType Basic",
                    '    AuthName "mod_igraph test"', f'    AuthUserFile "{htpasswd}"',
                    "    Require valid-user"]
        else:
            loc += ["    IGraphRequireUser Off"]
        if self.location_extra:
            loc.append(self.location_extra)
        text = TEMPLATE.read_text()
        subst = {
            "@ROOT@": str(self.root), "@PORT@": str(self.port), "@MODULE@": str(MODULE),
            "@MPM@": self.mpm, "@SESSION_SECRET@": self._session_secret,
            "@ASSETS@": str(REPO / "htdocs"), "@DBD@": dbd, "@META@": self.meta_block(),
            "@LOCATION@": "\n".join(loc), "@EXTRA@": self.extra,
        }
        for k, v in subst.items():
            text = text.replace(k, v)
        if self.require_user:
            text = text.replace("    Require local\n", "")
            # Meta's callbacks carry no user of ours (they are signed instead)
            text += ("\n<Location /ig/meta>\n    AuthType None\n    Require all granted\n"
                     "</Location>\n")
        self.conf_path.write_text(text)

    def _write_site_conf(self, dbd):
        """The common head of the template, then self.site with its placeholders filled in,
        then self.extra."""
        template = TEMPLATE.read_text()
        cut = template.find("\n@DBD@\n")
        if cut < 0:
            raise RuntimeError(f"{TEMPLATE} has no @DBD@ line: Httpd(site=...) keeps the "
                               "template up to that line and replaces the rest")
        head = template[:cut + 1]
        site = self.site
        subst = {
            "@ROOT@": str(self.root), "@PORT@": str(self.port), "@MODULE@": str(MODULE),
            "@MPM@": self.mpm,
        }
        for k, v in subst.items():
            head = head.replace(k, v)
        site_subst = dict(subst)
        site_subst.update({
            "@VHOST_PORT@": str(self.vhost_port or ""),
            "@DBD@": dbd or "", "@DB@": str(self.db_path),
            "@CREDENTIALS@": "\n".join(self.credential_lines()),
            "@REDIRECT_URL@": self.redirect_url,
            "@ENDPOINTS@": "\n".join(self.endpoint_lines()),
            "@SESSION_SECRET@": self._session_secret,
            "@TOKEN_KEY@": str(self.root / "var" / "token.key"),
            "@ASSETS@": str(REPO / "htdocs"),
        })
        if "@HTPASSWD@" in site:
            site_subst["@HTPASSWD@"] = str(self.write_htpasswd())
        if "@TLS_CERT@" in site or "@TLS_KEY@" in site:
            cert, key = self_signed_cert(self.root / "tls")
            site_subst.update({"@TLS_CERT@": str(cert), "@TLS_KEY@": str(key)})
        for k, v in site_subst.items():
            site = site.replace(k, v)
        left = re.findall(r"@[A-Z_]+@", site)
        assert not left, "unknown placeholders in site=: %s" % sorted(set(left))
        self.conf_path.write_text(head + "\n" + site.strip("\n") + "\n\n" + self.extra + "\n")

    # ---- time (libfaketime) -------------------------------------------------------------
    def set_time_offset(self, seconds):
        """Moves httpd's clock (needs faketime=True); takes effect at once (FAKETIME_NO_CACHE)."""
        assert self.faketime_file is not None, "Httpd(faketime=True) needed"
        self.faketime_file.write_text(f"{int(seconds):+d}\n")
        os.chmod(self.faketime_file, 0o644)

    def _env(self):
        env = {"PATH": "/usr/sbin:/usr/bin:/bin", "LANG": "C"}
        env.update(HTTPD_ENV)
        # reports per server, in a directory www-data can write (children log after the drop)
        for var, name in (("ASAN_OPTIONS", "asan"), ("UBSAN_OPTIONS", "ubsan")):
            if var in env:
                env[var] = _with_log_path(env[var], self.root / "logs" / name)
        if "ASAN_OPTIONS" in env and not self.leak_check:
            env["ASAN_OPTIONS"] += ":detect_leaks=0"
        # the children (www-data) must read the suppressions file: the checkout may be a 0700
        # directory (CI clones into one), so each server gets its own readable copy
        if "suppressions=" in env.get("LSAN_OPTIONS", ""):
            opts = []
            for o in env["LSAN_OPTIONS"].split(":"):
                if o.startswith("suppressions="):
                    src = Path(o.split("=", 1)[1])
                    dst = self.root / "run" / src.name
                    if src.exists():
                        shutil.copyfile(src, dst)
                        os.chmod(dst, 0o644)
                    o = "suppressions=" + str(dst)
                opts.append(o)
            env["LSAN_OPTIONS"] = ":".join(opts)
        if self.faketime_file is not None:
            # the sanitizer runtime must stay first in the preload list
            preload = " ".join(x for x in (HTTPD_ENV.get("LD_PRELOAD"), FAKETIME_LIB) if x)
            if "ASAN_OPTIONS" in env:
                # the ASan allocator reads the monotonic clock when it first fills a size class
                # unless releasing memory to the OS is off; libfaketime's clock_gettime then
                # resolves its symbols with dlsym, which allocates: a deadlock at start-up.
                # LeakSanitizer does not start under libfaketime at all (the process dies before
                # main), so these servers run without the leak check; memory errors and UB are
                # still caught, and the same code is leak-checked by the tests without faketime.
                env["ASAN_OPTIONS"] += ":allocator_release_to_os_interval_ms=-1:detect_leaks=0"
            env.update({"LD_PRELOAD": preload,
                        "FAKETIME_TIMESTAMP_FILE": str(self.faketime_file),
                        "FAKETIME_NO_CACHE": "1", "FAKETIME_DONT_RESET": "1"})
        env.update(self.env)
        return env

    # ---- lifecycle ----------------------------------------------------------------------
    def configtest(self):
        p = subprocess.run([APACHE, "-t", "-f", str(self.conf_path)], env=self._env(),
                           capture_output=True, text=True)
        self.collect_reports()
        return p.returncode, p.stdout + p.stderr

    def command(self):
        if VALGRIND:
            # -X: one process, no detach; the module's worker thread still runs in it
            cmd = VALGRIND_CMD + [f"--log-file={self.root}/logs/valgrind.%p.log"]
            if VALGRIND_SUPP.exists():
                cmd.append(f"--suppressions={VALGRIND_SUPP}")
            return cmd + [APACHE, "-X", "-f", str(self.conf_path)]
        return [APACHE, "-f", str(self.conf_path), "-DFOREGROUND"]

    def start(self, timeout=10):
        timeout *= TIME_SCALE
        self._generation = self.error_log_text().count("resuming normal operations")
        self._out = open(self.root / "logs" / "stdout.log", "a")
        # its own process group: prefork signals the whole group on graceful restart and stop
        self.proc = subprocess.Popen(self.command(),
                                     env=self._env(), stdout=self._out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        if not wait_port(self.port, timeout):
            self.proc.kill()
            raise RuntimeError("httpd did not start:\n" + self.error_log_text()[-3000:] +
                               (self.root / "logs" / "stdout.log").read_text()[-2000:])
        if VALGRIND:
            # -X never logs "resuming normal operations": wait until the child answers
            end = time.time() + timeout
            while time.time() < end:
                try:
                    requests.get(self.url(self.mount + "/"), timeout=timeout)
                    break
                except requests.RequestException:
                    time.sleep(0.2)
            return self
        self._wait_generation(self._generation + 1, timeout)
        return self

    def _wait_generation(self, n, timeout):
        end = time.time() + timeout
        while time.time() < end:
            if self.error_log_text().count("resuming normal operations") >= n:
                return
            time.sleep(0.05)
        raise RuntimeError("httpd generation %d not reached:\n%s" % (n, self.error_log_text()[-3000:]))

    def graceful(self, timeout=15):
        timeout *= TIME_SCALE
        n = self.error_log_text().count("resuming normal operations")
        self.proc.send_signal(signal.SIGUSR1)
        self._wait_generation(n + 1, timeout)
        # the new generation's children take over the listener
        end = time.time() + timeout
        while time.time() < end:
            try:
                if requests.get(self.url(self.mount + "/api/accounts"),
                                timeout=2).status_code:
                    return
            except requests.RequestException:
                time.sleep(0.05)

    def stop(self, timeout=15):
        if not self.proc:
            return
        timeout *= TIME_SCALE
        # Let connections the test is done with finish first: both MPMs race with a connection
        # that ends at the moment of an ungraceful stop, in httpd and apr-util rather than the
        # module. prefork children die in a signal handler, and one still finishing a response
        # holds a mod_dbd connection (apr-util then asserts in reslist_cleanup); event's main
        # thread closes the sockets its workers hold (close_worker_sockets) while a worker that
        # just saw the client close its keep-alive connection (the test's sessions going away)
        # recycles that connection's pool, socket included: a use-after-free, seen as a child's
        # "exit signal Segmentation fault" in apr_os_sock_get (core dump, httpd 2.4.71).
        time.sleep(0.3)
        t0 = time.time()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("httpd did not stop within %ss" % timeout)
        self.proc = None
        self.stop_seconds = time.time() - t0
        self.collect_reports()

    # ---- sanitizer / valgrind reports ---------------------------------------------------
    def collect_reports(self):
        """Reports with a finding in <root>/logs (ASan/LSan asan.<pid>, UBSan ubsan.<pid>,
        valgrind.<pid>.log); each is copied to IGRAPH_REPORT_DIR when set. Returns them all."""
        found = getattr(self, "reports", [])
        logs = self.root / "logs"
        for path in sorted([*logs.glob("asan.*"), *logs.glob("ubsan.*"),
                            *logs.glob("valgrind.*.log")]):
            text = path.read_text(errors="replace")
            if path.name.startswith("valgrind."):
                if not VALGRIND_BAD.search(text):
                    continue
            elif not text.strip():
                continue
            if any(p == path for p, _ in found):
                continue
            found.append((path, text))
            if REPORT_DIR:
                os.makedirs(REPORT_DIR, exist_ok=True)
                shutil.copy(path, Path(REPORT_DIR) / f"{self.root.name}.{path.name}")
        if HTTPD_ENV:
            for path in (self.error_log_path, logs / "stdout.log"):
                try:
                    text = path.read_text(errors="replace")
                except FileNotFoundError:
                    continue
                hits = [ln for ln in text.splitlines() if SANITIZER_LOG.search(ln)]
                if not hits or any(p == path for p, _ in found):
                    continue
                # the report lines and what follows them (stack traces)
                first = text.find(hits[0])
                found.append((path, text[first:first + 20000]))
                if REPORT_DIR:
                    os.makedirs(REPORT_DIR, exist_ok=True)
                    (Path(REPORT_DIR) / f"{self.root.name}.{path.name}").write_text(
                        text[first:first + 20000])
        self.reports = found
        return found

    def check_reports(self):
        """AssertionError naming every sanitizer/valgrind finding of this server."""
        reports = self.collect_reports()
        if reports:
            raise AssertionError("sanitizer/valgrind reports:\n" + "\n".join(
                f"== {p}\n{t[-6000:]}" for p, t in reports))

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def session(self, user=None):
        s = requests.Session()
        if user:
            s.auth = (user, f"{user}-pw")
        return s

    # ---- inspection ---------------------------------------------------------------------
    def error_log_text(self):
        try:
            return self.error_log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def check_log(self, allowed=()):
        bad = []
        for line in self.error_log_text().splitlines():
            if BAD_LOG.search(line) and not any(re.search(a, line) for a in allowed):
                bad.append(line)
        if bad:
            raise AssertionError("unexpected error-log lines:\n" + "\n".join(bad[:20]))

    def sql(self, query, args=()):
        con = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10)
        try:
            return con.execute(query, args).fetchall()
        finally:
            con.close()

    def sql_write(self, query, args=()):
        con = sqlite3.connect(str(self.db_path), timeout=10)
        try:
            con.execute(query, args)
            con.commit()
        finally:
            con.close()

    def db_bytes(self):
        data = b""
        for suffix in ("", "-wal", "-shm"):
            p = Path(str(self.db_path) + suffix)
            if p.exists():
                data += p.read_bytes()
        return data

    def cleanup(self):
        shutil.rmtree(self.root, ignore_errors=True)


class Site:
    """One address of an Httpd (see Httpd.at): its own url(), redirect_url, mount and session();
    every other attribute is the Httpd's."""

    def __init__(self, httpd, port, scheme, mount):
        self.httpd = httpd
        self.port = port
        self.scheme = scheme
        self.mount = mount.rstrip("/")

    def __getattr__(self, name):
        return getattr(self.httpd, name)

    def url(self, path):
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    @property
    def redirect_url(self):
        return self.url(self.mount + "/oauth/callback")

    def session(self, user=None):
        s = self.httpd.session(user)
        if self.scheme == "https":
            # the self-signed certificate of self_signed_cert(); without trust_env, because a
            # REQUESTS_CA_BUNDLE in the environment would win over the session's verify
            s.verify = False
            s.trust_env = False
        return s


def follow_dialog(location, action="allow", session=None):
    """Drives the fake's consent page for a Location from /ig/oauth/start, like a user clicking
    Allow or Deny, and returns the redirect back to the module (not followed)."""
    s = session or requests.Session()
    r = s.get(location, allow_redirects=False, timeout=10)
    if r.status_code in (301, 302, 303):
        return r.headers["Location"]
    assert r.status_code == 200, (r.status_code, r.text[:500])
    form = _parse_form(r.text)
    form["action"] = action
    target = urllib.parse.urljoin(location, form.pop("__action__", "") or location)
    r = s.post(target, data=form, allow_redirects=False, timeout=10)
    assert r.status_code in (302, 303), (r.status_code, r.text[:500])
    return r.headers["Location"]


def _parse_form(html):
    m = re.search(r'<form[^>]*action="([^"]*)"', html)
    fields = {"__action__": m.group(1).replace("&amp;", "&") if m else ""}
    for tag in re.findall(r"<input[^>]*>", html):
        name = re.search(r'name="([^"]*)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name and 'type="checkbox"' not in tag:
            fields[name.group(1)] = _unescape(value.group(1)) if value else ""
    return fields


def _unescape(s):
    return (s.replace("&quot;", '"').replace("&#39;", "'").replace("&lt;", "<")
            .replace("&gt;", ">").replace("&amp;", "&"))


def csrf_of(html):
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    return m.group(1) if m else None
