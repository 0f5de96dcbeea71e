"""Fixtures shared by the whole suite.

The MessageWhiz sandbox runs as a real separate process (as in production the real service
would), once per test session (per xdist worker), and is reset before each test that uses it.
"""

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
import requests

BASE_DIR = Path(__file__).resolve().parent.parent
# The outbound-webhook receiver and endpoints (tests/messaging, tests/callbacks).
pytest_plugins = ["tests.messaging.webhook_fixtures"]
SANDBOX_API_KEY = "test-sandbox-key"


@pytest.fixture(autouse=True)
def _always_within_sending_hours(settings):
    """Tests that are not about quiet hours send at any hour of the real clock; those that are
    save the account's policy (tests/campaigns/test_policy.py) and set a fake clock."""
    settings.SENDING_WINDOW = "00:00-23:59:59"


@pytest.fixture(autouse=True)
def _own_callback_stream(settings):
    """Every test buffers callbacks in a stream of its own, so parallel workers (each with its
    own database) never drain each other's events; and in a Redis database of its own, because
    some tests FLUSHDB the cache's database."""
    if settings.REDIS_URL:
        settings.CALLBACK_REDIS_URL = urlsplit(settings.REDIS_URL)._replace(path="/15").geturl()
    settings.CALLBACK_STREAM = key = f"test:callbacks:{uuid.uuid4().hex}"
    yield
    if settings.CALLBACK_REDIS_URL:
        from callbacks import buffer

        with contextlib.suppress(redis.RedisError):  # some tests point it at a Redis that is down
            buffer.client().delete(key)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, timeout: float = 20.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


class Sandbox:
    """Handle on a running sandbox: its URL, API key and control endpoint."""

    def __init__(self, url: str, api_key: str):
        self.url = url
        self.api_key = api_key
        self.http = requests.Session()

    def control(self, method: str, path: str, **kwargs):
        response = self.http.request(method, f"{self.url}/_sandbox/{path.lstrip('/')}", timeout=10, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def reset(self):
        return self.control("POST", "reset")

    def faults(self, **faults):
        return self.control("POST", "faults", json=faults)

    def callbacks(self, **config):
        return self.control("POST", "callbacks", json=config)

    def state(self, collection: str | None = None):
        return self.control("GET", f"state/{collection}" if collection else "state")

    def seed(self, collection: str, items: list[dict]):
        return self.control("POST", f"seed/{collection}", json={"items": items})

    def requests(self, **params):
        return self.control("GET", "requests", params=params)


@pytest.fixture(scope="session")
def sandbox_server():
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "messaging.sandbox", "--host", "127.0.0.1", "--port", str(port),
         "--api-key", SANDBOX_API_KEY],
        cwd=BASE_DIR,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/_sandbox/health", proc=proc)
        yield Sandbox(url, SANDBOX_API_KEY)
    finally:
        stop_process(proc)


def stop_process(proc: subprocess.Popen, timeout: float = 10) -> None:
    """SIGTERM, and SIGKILL if it has not exited within `timeout` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


@pytest.fixture
def sandbox(sandbox_server):
    """A sandbox with empty state and no faults."""
    sandbox_server.reset()
    yield sandbox_server
    sandbox_server.reset()


@pytest.fixture
def mw_account(db, sandbox):
    """A MessageWhiz provider account pointed at the live sandbox."""
    from messaging.models import ProviderAccount

    return ProviderAccount.objects.create(name="Sandbox", base_url=sandbox.url, api_key=sandbox.api_key)


def run_like_a_worker(call, attempts: int = 10) -> None:
    """Run `call` (a queued task or on-commit callback) until it stops asking to be retried.

    Eager Celery raises Retry instead of running the task again later; a worker would run it
    again, so this does.
    """
    from celery.exceptions import Retry

    for _ in range(attempts):
        try:
            call()
            return
        except Retry:
            continue
    raise AssertionError(f"still retrying after {attempts} attempts")
