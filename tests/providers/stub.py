"""A stand-in HTTP provider on 127.0.0.1 for tests and the dispatch benchmark.

A small asyncio HTTP/1.1 server (keep-alive, Content-Length request bodies) that records every
request (method, target, headers, body, arrival time) and answers as scripted:

* `latency`: seconds to wait before answering (injected provider latency);
* `script`: answers used in order, one per request, before falling back to the default
  (`(status, headers, body)`, or DROP to close the connection without answering);
* `responder`: a function(request) → answer or None, for per-message behaviour;
* `on_request`: a function(request) called on arrival (tests use it to crash the sender);
* `framing`: how answers are delimited — "length" (Content-Length, keep-alive), "chunked" (in
  two chunks written apart, with a chunk extension and a trailer), "close" (Content-Length and
  `Connection: close`) or "eof" (no length at all: the body ends when the connection closes).

Run in a thread (`StubServer().start()`) for tests, or as a process for the benchmark:
`python -m tests.providers.stub --port 8080 --latency 0.2` (GET /_stats gives counts and
arrival times, POST /_reset clears them). `send_all` drives our bulk sender against it.
"""

import argparse
import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

DROP = "drop"
DEFAULT = (200, {"Content-Type": "application/json"}, b'{"status":"ok","message_id":"p-1"}')


@dataclass
class StubRequest:
    method: str
    target: str
    headers: dict  # lower-cased names
    body: bytes
    at: float = field(default_factory=time.time)

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict:
        return dict(parse_qsl(urlsplit(self.target).query, keep_blank_values=True))

    @property
    def form(self) -> dict:
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True))

    def json(self):
        return json.loads(self.body)


class _Protocol(asyncio.Protocol):
    def __init__(self, server: "StubServer"):
        self.server = server
        self.buffer = b""
        self.transport = None
        self.busy = False

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data: bytes):
        self.buffer += data
        if not self.busy:
            self._next()

    def _next(self):
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0:
            return
        head = self.buffer[:head_end].decode("latin-1").split("\r\n")
        method, target, _ = head[0].split(" ", 2)
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length") or 0)
        if len(self.buffer) < head_end + 4 + length:
            return
        body = self.buffer[head_end + 4:head_end + 4 + length]
        self.buffer = self.buffer[head_end + 4 + length:]
        self.busy = True
        request = StubRequest(method, target, headers, body)
        answer = self.server.handle(request)
        if self.server.latency:
            asyncio.get_running_loop().call_later(self.server.latency, self._answer, answer)
        else:
            self._answer(answer)

    def _answer(self, answer):
        with self.server._lock:
            self.server.in_flight -= 1
        if self.transport.is_closing():
            return
        if answer == DROP:
            self.transport.close()
            return
        status, headers, body = answer
        if isinstance(body, str):
            body = body.encode()
        framing = self.server.framing
        lines = [f"HTTP/1.1 {status} X"]
        if framing == "chunked":
            lines.append("Transfer-Encoding: chunked")
        elif framing != "eof":
            lines.append(f"Content-Length: {len(body)}")
        if framing == "close":
            lines.append("Connection: close")
        lines += [f"{k}: {v}" for k, v in headers.items()]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if framing == "chunked":
            half = len(body) // 2
            self.transport.write(head + _chunk(body[:half]))
            asyncio.get_running_loop().call_later(0.002, self._end_chunked, body[half:])
            return
        self.transport.write(head + body)
        if framing in ("close", "eof"):
            self.transport.close()
            return
        self._done()

    def _end_chunked(self, rest: bytes):
        if not self.transport.is_closing():
            self.transport.write(_chunk(rest) + b"0\r\nX-Trailer: yes\r\n\r\n")
            self._done()

    def _done(self):
        self.busy = False
        if self.buffer:
            self._next()


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x};note=stub\r\n".encode() + data + b"\r\n" if data else b""


class StubServer:
    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, latency: float = 0.0, record: bool = True,
                 ssl_context=None):
        self.host, self.port, self.latency, self.record = host, port, latency, record
        self.ssl_context = ssl_context  # serve HTTPS
        self.requests: list[StubRequest] = []
        self.script: list = []
        self.responder = None
        self.on_request = None
        self.default = DEFAULT
        self.framing = "length"
        self.count = 0
        self.in_flight = self.peak_in_flight = 0  # requests received and not yet answered
        self.times: list[float] = []  # arrival times, kept even when requests are not recorded
        self._lock = threading.Lock()
        self._loop = None
        self._thread = None

    @property
    def url(self) -> str:
        return f"{'https' if self.ssl_context else 'http'}://{self.host}:{self.port}"

    def handle(self, request: StubRequest):
        with self._lock:
            self.count += 1
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            self.times.append(request.at)
            if self.record:
                self.requests.append(request)
            scripted = self.script.pop(0) if self.script else None
        if request.path == "/_stats":
            with self._lock:
                stats = {"count": self.count - 1, "times": self.times[:-1]}
            return 200, {}, json.dumps(stats)
        if request.path == "/_reset":
            self.reset()
            return 200, {}, b"{}"
        if self.on_request:
            self.on_request(request)
        if scripted is not None:
            return scripted
        if self.responder and (answer := self.responder(request)) is not None:
            return answer
        return self.default

    def reset(self):
        with self._lock:
            self.requests.clear()
            self.script.clear()
            self.count = 0
            self.in_flight = self.peak_in_flight = 0
            self.times.clear()
        self.responder = self.on_request = None
        self.default = DEFAULT
        self.framing = "length"

    async def _serve(self):
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _Protocol(self), self.host, self.port, backlog=4096,
                                          ssl=self.ssl_context)
        self.port = server.sockets[0].getsockname()[1]
        return server

    def start(self) -> "StubServer":
        self._loop = asyncio.new_event_loop()
        started = threading.Event()

        def run():
            asyncio.set_event_loop(self._loop)
            self._server = self._loop.run_until_complete(self._serve())
            started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True, name="provider-stub")
        self._thread.start()
        started.wait(10)
        return self

    def stop(self):
        if self._loop:
            self._loop.call_soon_threadsafe(self._server.close)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)


def send_all(sender, jobs: list, timeout: float = 600.0) -> dict:
    """Feed a fixed set of jobs to an `aio.AsyncSender` and wait for all of them: {key: Outcome}."""
    sender.feed(jobs)
    outcomes: dict = {}
    until = time.monotonic() + timeout
    while len(outcomes) < len(jobs):
        if time.monotonic() > until:
            raise TimeoutError(f"{len(jobs) - len(outcomes)} of {len(jobs)} jobs unanswered")
        outcomes.update(sender.collect(timeout=until - time.monotonic()))
    return outcomes


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args()
    stub = StubServer(host=args.host, port=args.port, latency=args.latency, record=False)

    async def forever():
        await stub._serve()
        await asyncio.Event().wait()

    asyncio.run(forever())


if __name__ == "__main__":
    main()
