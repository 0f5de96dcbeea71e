"""The release step and the web process as production runs them: `collectstatic` with the real
(manifest) storage, gunicorn with config/gunicorn.conf.py, DEBUG off.

Everything runs in subprocesses with an environment of their own, so the suite's pyproject
overrides (plain static storage, eager Celery) do not apply; the database is a SQLite file in a
temporary directory, and the server listens on a free loopback port.
"""

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import free_port, stop_process, wait_for_http

BASE_DIR = Path(__file__).resolve().parents[2]
PASSWORD = "a-long-passphrase-42"
THREADS = 4  # per worker, one worker
READ_TIMEOUT = 6  # seconds a request may take to arrive (WEB_REQUEST_READ_TIMEOUT)


def production_env(tmp: Path) -> dict[str, str]:
    """DEBUG off and nothing else from the suite's environment; HTTPS redirects and secure cookies
    off only because this client talks plain HTTP to loopback (no TLS proxy in front)."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", str(tmp)),
        "LANG": "C.UTF-8",
        "DEBUG": "false",
        "SECRET_KEY": "x9!v2KqL7m#Rp4tWz8Yb1Nc6Hd3Fg5Js0Ae-Qu_Xo+Ki*Lr&Ty%Mw^Ep@Zs",
        "VAR_DIR": str(tmp / "var"),
        "STATIC_ROOT": str(tmp / "static"),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "SECURE_HSTS_SECONDS": "0",
        "WEB_CONCURRENCY": "1",
        "WEB_THREADS": str(THREADS),
        "WEB_REQUEST_READ_TIMEOUT": str(READ_TIMEOUT),
        "PYTHONUNBUFFERED": "1",
    }


def manage(*args, env):
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-2000:]
    return result.stdout


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The release step, then `gunicorn -c config/gunicorn.conf.py` on a free loopback port."""
    tmp = tmp_path_factory.mktemp("production")
    env = production_env(tmp)
    manage("collectstatic", "--no-input", "-v", "0", env=env)
    manage("migrate", "--no-input", "-v", "0", env=env)
    # The Marketer group comes from the migration and its post_migrate handler (messaging.roles).
    token = manage("shell", "-c", f"from django.contrib.auth.models import Group, User; "
                                  f"from messaging.models import ProviderAccount; "
                                  f"User.objects.create_user('marketer', password='{PASSWORD}')"
                                  f".groups.add(Group.objects.get(name='Marketer')); "
                                  f"print(ProviderAccount.objects.create(name='P', api_key='k').callback_token)",
                   env=env).split()[-1]
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "-c", "config/gunicorn.conf.py"],
        cwd=BASE_DIR, env={**env, "PORT": str(port)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/healthz", timeout=30, proc=proc)
        yield url, tmp, token
    finally:
        stop_process(proc, timeout=15)


def static_urls(html: str) -> list[str]:
    return re.findall(r'(?:href|src)="(/static/[^"]+)"', html)


def assert_hashed_assets_are_served(url: str, html: str):
    assets = static_urls(html)
    assert any(a.startswith("/static/css/app.") for a in assets), assets
    for asset in assets:
        # The manifest storage names every file by its content hash: app.3f2a….css
        assert re.search(r"\.[0-9a-f]{12}\.\w+$", asset), asset
        response = requests.get(url + asset, timeout=10)
        assert response.status_code == 200, asset
        assert "immutable" in response.headers.get("Cache-Control", ""), asset


def test_collectstatic_with_the_manifest_storage_and_the_pages_render(server):
    url, tmp, _ = server
    # The manifest records every vendored file, Chart.js included.
    manifest = (tmp / "static" / "staticfiles.json").read_text()
    assert "vendor/chart-4.6.1.umd.min.js" in manifest

    http = requests.Session()
    login = http.get(f"{url}/accounts/login/", timeout=10)
    assert login.status_code == 200
    assert_hashed_assets_are_served(url, login.text)

    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
    signed_in = http.post(f"{url}/accounts/login/", timeout=10, headers={"Referer": login.url},
                          data={"username": "marketer", "password": PASSWORD, "csrfmiddlewaretoken": token})
    assert signed_in.status_code == 200 and signed_in.url == f"{url}/", signed_in.url
    assert "Overview" in signed_in.text
    assert_hashed_assets_are_served(url, signed_in.text)


def test_slow_clients_do_not_stop_callbacks_or_pages(server):
    """Slowloris: many more clients than threads send a callback's head or body bit by bit. A
    delivery report's URL and the login page still answer at once, and each slow client is
    answered 408 and disconnected once WEB_REQUEST_READ_TIMEOUT has passed."""
    url, _, token = server
    host, port = "127.0.0.1", int(url.rsplit(":", 1)[1])
    slow_clients = 6 * THREADS
    with contextlib.ExitStack() as stack:
        sockets = []
        for number in range(slow_clients):
            sock = stack.enter_context(socket.create_connection((host, port), timeout=5))
            head = f"POST /callbacks/{token}/dlr HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            # Half of them stall in the body, half in the head (the classic slowloris).
            sock.sendall((head + "Content-Length: 1000\r\n\r\n{" if number % 2 else head).encode())
            sockets.append(sock)
        started = time.monotonic()
        for _ in range(3):  # a few bytes more from each, as a slowloris keeps its requests alive
            time.sleep(0.3)
            for number, sock in enumerate(sockets):
                sock.sendall(b" " if number % 2 else b"X-Slow: 1\r\n")

        for path in (f"/callbacks/{token}/ping", "/accounts/login/", "/healthz"):
            sent = time.monotonic()
            response = requests.get(url + path, timeout=READ_TIMEOUT / 2)
            assert response.status_code == 200, path
            assert time.monotonic() - sent < 2, path
        assert time.monotonic() - started < READ_TIMEOUT  # all of that while every slow client held on

        for sock in sockets:
            sock.settimeout(READ_TIMEOUT + 5)
            answer = sock.recv(200)
            assert answer.startswith(b"HTTP/1.1 408"), answer
            assert sock.recv(200) == b""  # and the server closed the connection
        assert time.monotonic() - started < READ_TIMEOUT + 5


def read_response(sock) -> bytes:
    """Everything the server sends until it closes the connection (Connection: close), bounded."""
    sock.settimeout(10)
    data = b""
    for _ in range(100):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_expect_continue_and_chunked_bodies_reach_the_app(server):
    """Clients that wait for "100 Continue" before the body (curl does, for larger bodies) get it
    at once, exactly once; a chunked body is complete when its last chunk arrives."""
    url, _, token = server
    port = int(url.rsplit(":", 1)[1])
    head = (f"POST /callbacks/{token}/dlr HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "Connection: close\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall((head + "Expect: 100-continue\r\nContent-Length: 2\r\n\r\n").encode())
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"{}")
        answer = read_response(sock)
    assert b"100 Continue" not in answer and re.match(rb"HTTP/1.1 [2-4]\d\d ", answer), answer[:200]

    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall((head + "Transfer-Encoding: chunked\r\n\r\n1\r\n{\r\n").encode())
        time.sleep(0.3)
        sock.sendall(b"1\r\n}\r\n0\r\n\r\n")
        answer = read_response(sock)
    assert re.match(rb"HTTP/1.1 [2-4]\d\d ", answer), answer[:200]
