#!/usr/bin/python3
"""`make -f Makefile.apxs run`: start httpd with the built module on http://127.0.0.1:8080/ig/.

Without Meta credentials in the environment (META_APP_ID + META_APP_SECRET, optionally
META_REDIRECT_URL, META_IG_APP_ID + META_IG_APP_SECRET) the local Meta sandbox (tests/fakemeta)
is started too and the module is pointed at it. State lives in var/run-dev/ and survives restarts.
"""
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import REPO, FakeMeta, Httpd, chown_tree, wait_port  # noqa: E402


def main():
    port = int(os.environ.get("PORT", "8080"))
    root = REPO / "var" / "run-dev"
    for sub in ("run", "logs", "var", "htdocs"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    os.chmod(REPO / "var", 0o755)
    os.chmod(root, 0o755)
    (root / "htdocs" / "static.txt").write_text("hello\n")
    chown_tree(root / "var")
    chown_tree(root / "logs")
    (root / "httpd.conf").unlink(missing_ok=True)

    real = bool(os.environ.get("META_APP_ID") and os.environ.get("META_APP_SECRET"))
    fake = None
    if real:
        env = {k: os.environ[k] for k in ("META_APP_ID", "META_APP_SECRET", "META_REDIRECT_URL",
                                          "META_GRAPH_VERSION", "META_SCOPES") if k in os.environ}
        env.setdefault("META_REDIRECT_URL", f"http://127.0.0.1:{port}/ig/oauth/callback")
        directives = ""
        if os.environ.get("META_IG_APP_ID") and os.environ.get("META_IG_APP_SECRET"):
            directives = (f"IGraphInstagramAppID {os.environ['META_IG_APP_ID']}\n"
                          f"IGraphInstagramAppSecret {os.environ['META_IG_APP_SECRET']}\n")
        httpd = Httpd(meta=None, port=port, credentials=False, env=env, root=root,
                      directives=directives)
        mode = "Meta app %s" % os.environ["META_APP_ID"]
    else:
        fake_port = int(os.environ.get("SANDBOX_PORT", "8081"))
        if wait_port(fake_port, timeout=0.2):
            fake_port = 0
        fake = FakeMeta(port=fake_port, sandbox=True).start()
        httpd = Httpd(meta=fake, port=port, root=root)
        mode = "sandbox: no Meta credentials set, using the local Meta simulator at %s" % fake.base_url

    def stop(*_):
        httpd.stop()
        if fake:
            fake.stop()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        httpd.start()
    except RuntimeError as e:
        print(e, file=sys.stderr)
        if fake:
            fake.stop()
        sys.exit(1)
    print(f"\nmod_igraph is running: open http://127.0.0.1:{port}/ig/accounts ({mode})")
    print(f"error log: {httpd.error_log_path}    stop with Ctrl-C\n", flush=True)
    while httpd.proc and httpd.proc.poll() is None:
        time.sleep(0.5)
    if fake:
        fake.stop()
    sys.exit(httpd.proc.returncode if httpd.proc else 0)


if __name__ == "__main__":
    main()
