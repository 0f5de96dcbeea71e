"""Browser tests: Debian's Chromium driven by Playwright against the live server and the sandbox.

`make screenshots` runs them with SCREENSHOT_DIR set, which saves a PNG of every main page.
"""

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOT_DIR = os.environ.get("SCREENSHOT_DIR")
PASSWORD = "a-long-browser-passphrase"

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")


@pytest.fixture(scope="session")
def browser():
    # Playwright's sync API runs an event loop in this thread; the tests' own ORM calls are still
    # plain synchronous calls, so Django's async-safety guard is lifted while a browser is open.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        try:
            yield browser
        finally:
            browser.close()
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def shot():
    def save(page, name: str) -> None:
        if SCREENSHOT_DIR:
            Path(SCREENSHOT_DIR).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(SCREENSHOT_DIR) / f"{name}.png"), full_page=True)

    return save


@pytest.fixture
def signed_in(page, live_server, django_user_model, transactional_db):
    django_user_model.objects.create_superuser("marketer", "m@example.com", PASSWORD)
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("marketer")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/")
    return page
