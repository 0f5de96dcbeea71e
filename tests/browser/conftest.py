"""Browser tests: Debian's Chromium driven by Playwright against the live server and the sandbox,
with a real Celery worker running the tasks the pages queue.

`make screenshots` runs them with SCREENSHOT_DIR set, which saves a PNG of every main page.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db import connection

from tests.conftest import BASE_DIR

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


# The worker takes the tasks of one queue, named per test, so no other worker (a `make run` in the
# same checkout, another test run on the same Redis) takes them, and it queues its own follow-up
# tasks (an imported list's push to MessageWhiz, a due broadcast's submission) there as well.
WORKER = """
import sys
from config.celery import app
app.conf.task_default_queue = sys.argv[1]
app.worker_main(["worker", "--queues", sys.argv[1], "--pool", "solo", "--loglevel", "INFO",
                 "--without-gossip", "--without-mingle", "--without-heartbeat"])
"""


def live_database_url() -> str:
    """The live server's database, for another process."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"  # a file (config.settings): memory is not shared between processes
    return urlsplit(os.environ["DATABASE_URL"])._replace(path=f"/{db['NAME']}").geturl()


class Worker:
    """`celery worker` in its own process, on the live server's database. Until `start()`, what
    the pages queue waits in the broker, as it does when no worker is free."""

    def __init__(self, log: Path, public_url: str):
        self.queue = f"browser-{uuid.uuid4().hex}"
        self.log = log
        self.public_url = public_url
        self.process = None

    def start(self, timeout: float = 90) -> None:
        env = {**os.environ, "DATABASE_URL": live_database_url(), "CELERY_TASK_ALWAYS_EAGER": "false",
               "PUBLIC_BASE_URL": self.public_url, "PYTHONUNBUFFERED": "1",
               # As tests/conftest.py gives the test process: these journeys send at any hour.
               "SENDING_WINDOW": settings.SENDING_WINDOW}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen([sys.executable, "-c", WORKER, self.queue], cwd=BASE_DIR, env=env,
                                            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while " ready." not in self.log.read_text(errors="replace"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the Celery worker did not start:\n{self.log.read_text(errors='replace')}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)  # warm shutdown: the task in hand is finished first
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def worker(live_server, transactional_db, settings, tmp_path):
    """The test process (the live server) queues tasks for a real worker instead of running them inline."""
    from config.celery import app

    settings.PUBLIC_BASE_URL = live_server.url
    worker = Worker(tmp_path / "worker.log", live_server.url)
    before = app.conf.task_always_eager, app.conf.task_default_queue
    app.conf.task_always_eager, app.conf.task_default_queue = False, worker.queue
    try:
        yield worker
    finally:
        app.conf.task_always_eager, app.conf.task_default_queue = before
        worker.stop()  # before the database is emptied for the next test


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """`make run`'s own stack (tests/browser/stack.py), shared by a module's tests."""
    from tests.browser.stack import Stack

    stack = Stack(tmp_path_factory.mktemp("stack"))
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def marketer(browser, stack):
    """A browser signed in to the stack as the admin its start-up created."""
    from tests.browser.stack import sign_in

    page = sign_in(browser, stack)
    yield page
    page.context.close()
