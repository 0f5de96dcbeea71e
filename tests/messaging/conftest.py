"""A scripted HTTP server for the few answers the MessageWhiz sandbox never gives.

It is a real server on a real socket, so the client under test runs unpatched; it only lets a
test say what the next responses are (a proxy's HTML page, a dropped connection, a redirect).
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class StubServer:
    def __init__(self):
        self.script: list[dict] = []
        self.seen: list[dict] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def handle_any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                stub.seen.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                  "body": body})
                answer = stub.script.pop(0) if stub.script else {"json": {"errorCode": 0, "result": True}}
                if answer.get("drop"):
                    # Read the request, then hang up without a word: the server may have acted on it.
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                payload = answer.get("body", "")
                content_type = answer.get("content_type", "text/html")
                if "json" in answer:
                    payload, content_type = json.dumps(answer["json"]), "application/json"
                data = payload.encode()
                self.send_response(answer.get("status", 200))
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for name, value in answer.get("headers", {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub():
    server = StubServer()
    yield server
    server.close()
