"""Helpers for the sandbox tests: a thin API client and a local HTTP receiver for callbacks.

The `sandbox` fixture itself (a real sandbox process, reset per test) lives in tests/conftest.py.
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests


class Api:
    """Raw HTTP against the sandbox, the way the real MessageWhiz is reached."""

    def __init__(self, sandbox):
        self.base = sandbox.url
        self.key = sandbox.api_key
        self.http = requests.Session()

    def request(self, method: str, path: str, key: str | None = "default", **kwargs) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}))
        if key == "default":
            key = self.key
        if key is not None:
            headers["apikey"] = key
        kwargs.setdefault("timeout", 10)
        return self.http.request(method, self.base + path, headers=headers, **kwargs)

    def ok(self, method: str, path: str, **kwargs):
        """The `result` of a successful v3 call, after checking the envelope."""
        response = self.request(method, path, **kwargs)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["errorCode"] == 0 and body["errorMessage"] == "" and body["errorType"] == ""
        assert isinstance(body["executionTime"], float)
        return body["result"]

    def error(self, method: str, path: str, status: int, **kwargs) -> dict:
        response = self.request(method, path, **kwargs)
        assert response.status_code == status, response.text
        return response.json()


@pytest.fixture
def api(sandbox) -> Api:
    return Api(sandbox)


class Receiver:
    """A local HTTP server recording every POST (path and JSON body)."""

    def __init__(self):
        self.posts: list[tuple[str, dict]] = []
        self.status = 200
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null")
                with receiver.cond:
                    receiver.posts.append((self.path, body))
                    receiver.cond.notify_all()
                self.send_response(receiver.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def bodies(self, path: str | None = None) -> list[dict]:
        with self.cond:
            return [body for p, body in self.posts if path is None or p == path]

    def wait_for(self, count: int, path: str | None = None, timeout: float = 5.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while len([p for p, _ in self.posts if path is None or p == path]) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"expected {count} posts to {path}, got {self.posts}")
                self.cond.wait(remaining)
        return self.bodies(path)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()
