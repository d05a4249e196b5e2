"""pytest fixtures: one fake Meta server per session, an httpd per test (or per module)."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import FakeMeta, Httpd  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"

# httpd's own lines that a client closing its keep-alive connection can cause (not the module's)
HTTPD_NOISE = [r"AH03093: process_socket: apr_pollset_add failure for keep alive"]


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives headless Chromium")
    config.addinivalue_line(
        "markers", "processes: restarts or kills the server, or needs several processes "
        "(left out of the valgrind run: apache2 -X is one process)")


@pytest.fixture(scope="session")
def fake():
    f = FakeMeta().start()
    yield f
    f.stop()


@pytest.fixture(autouse=True)
def fresh_fake(request):
    """Every test starts from the fake's defaults, accepting our loopback redirect URIs and
    consenting without a page (the browser test switches the page back on)."""
    if "fake" not in request.fixturenames:
        yield
        return
    f = request.getfixturevalue("fake")
    f.reset()
    f.control("config", {"redirect_prefixes": ["http://127.0.0.1"], "consent": "allow"})
    yield


@pytest.fixture
def make_httpd(fake):
    """Factory: make_httpd(**Httpd options, allowed=[regex, ...]) -> started Httpd.
    At teardown the server is stopped and its error log must hold no unexpected
    [error]/[crit] lines (as in httpd's own module tests)."""
    made = []

    def factory(allowed=(), start=True, **opts):
        opts.setdefault("meta", fake)
        h = Httpd(**opts)
        h.allowed = list(allowed) + HTTPD_NOISE
        made.append(h)
        if start:
            h.start()
        return h

    yield factory
    failures = []
    for h in made:
        try:
            h.stop()
            h.check_log(h.allowed)
            h.check_reports()  # ASan/UBSan/valgrind findings (hardening runs only)
        except AssertionError as e:
            failures.append(str(e))
        else:
            h.cleanup()
    if failures:
        pytest.fail("\n".join(failures))


@pytest.fixture
def httpd(make_httpd):
    return make_httpd()


@pytest.fixture
def artifacts():
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
