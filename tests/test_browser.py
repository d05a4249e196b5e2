"""Headless Chromium clicks through the connect flow against the sandbox (the fake's consent
pages), as a newcomer would after `make run`. Saves a screenshot of the accounts page."""
import shutil
import tempfile

import pytest

pytestmark = pytest.mark.browser

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

ARGS = ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
        "--window-size=1200,900", "--disable-background-networking", "--disable-sync",
        "--disable-component-update", "--no-first-run",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost"]


@pytest.fixture
def driver():
    if not shutil.which("chromedriver") or not shutil.which("chromium"):
        pytest.skip("chromium / chromium-driver not installed")
    profile = tempfile.mkdtemp(prefix="chrome-", dir="/tmp")
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for a in ARGS + [f"--user-data-dir={profile}"]:
        opts.add_argument(a)
    d = webdriver.Chrome(service=Service(executable_path=shutil.which("chromedriver")),
                         options=opts)
    yield d
    d.quit()
    shutil.rmtree(profile, ignore_errors=True)


def test_connect_with_facebook_in_a_browser(make_httpd, fake, driver, artifacts):
    fake.control("config", {"consent": "page"})
    fake.control("fb_user", {"name": "Sandbox Tester", "pages": [
        {"name": "Sandbox Bakery", "ig_username": "sandbox.bakery"},
        {"name": "Sandbox Studio", "ig_username": "sandbox.studio"},
        {"name": "Sandbox Notes", "ig_username": None}]})
    h = make_httpd()
    wait = WebDriverWait(driver, 15)
    driver.get(h.url("/ig/accounts"))
    assert driver.find_element(By.ID, "sandbox-banner")
    driver.find_element(By.ID, "connect-facebook").click()
    wait.until(EC.element_to_be_clickable((By.ID, "allow"))).click()
    # several Pages with Instagram accounts: the module asks which to connect
    wait.until(EC.presence_of_element_located((By.ID, "connect-pages")))
    boxes = driver.find_elements(By.CSS_SELECTOR, "input[name=page_id]")
    assert len(boxes) == 2
    boxes[0].click()
    driver.find_element(By.ID, "connect-pages").click()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "li.account")))
    listed = driver.find_elements(By.CSS_SELECTOR, "li.account .username")
    assert [e.text for e in listed] == ["@sandbox.bakery"]
    driver.save_screenshot(str(artifacts / "accounts.png"))
    # the stylesheet loaded under the CSP (a styled page has the grid layout)
    card = driver.find_element(By.CSS_SELECTOR, "li.account")
    assert card.value_of_css_property("display") == "grid"
