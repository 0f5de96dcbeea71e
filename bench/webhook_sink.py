"""A small, fast webhook receiver on 127.0.0.1: verifies Standard Webhooks signatures and counts.

Used by the webhook tests (in a thread, `Sink().start()`) and by bench/webhooks.py (as processes
of their own: `python bench/webhook_sink.py PORT [--processes N]`). asyncio with a bare Protocol
and hand-parsed HTTP/1.1 with keep-alive, so the sink is not what limits a benchmark: a stream
reader/writer pair per request costs several times more than the signature check.

With `--processes N`, N receivers share PORT (SO_REUSEPORT: the kernel spreads connections over
them) and the parent answers GET /_stats and POST /_reset on PORT + 1, merging the children's
counts: distinct ids are the union of every child's, so a repeat that lands on another child
still counts as one event.

What it records: requests, events (a JSON array counts its elements), the distinct event ids and
webhook-ids, repeats of each, requests whose signature did not verify. Only what it acknowledged
(a 2xx written to a connection still open) counts as received. A test can script the next
answers (`answers`: status codes, or ("hang", seconds)) and keep every request (`keep=True`).
"""

import asyncio
import base64
import hashlib
import hmac
import json
import multiprocessing
import signal
import socket
import sys
import threading
import time
from collections import Counter

MAX_HEAD = 65536


class Sink:
    def __init__(self, secret: str = "", *, keep: bool = False, port: int = 0):
        self.keep = keep
        self.port = port
        self.answers: list = []
        self.requests: list[dict] = []
        self.secret = secret
        self.reset()
        self._loop = None

    @property
    def secret(self) -> str:
        return self._secret

    @secret.setter
    def secret(self, value: str) -> None:
        self._secret = value
        self._key = base64.b64decode(value.removeprefix("whsec_")) if value else b""

    def reset(self) -> None:
        self.count = 0
        self.events = 0
        self.event_ids: Counter = Counter()
        self.webhook_ids: Counter = Counter()
        self.bad_signatures = 0
        self.first_at = self.last_at = None
        self.requests = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def stats(self) -> dict:
        return {"requests": self.count, "events": self.events, "unique_events": len(self.event_ids),
                "repeated_events": sum(n - 1 for n in self.event_ids.values()),
                "unique_webhook_ids": len(self.webhook_ids), "bad_signatures": self.bad_signatures,
                "first_at": self.first_at, "last_at": self.last_at}

    def verified(self, headers: dict, body: bytes) -> bool:
        if not self._key:
            return True
        signed = b"%s.%s.%s" % (headers.get("webhook-id", "").encode(), headers.get("webhook-timestamp", "").encode(),
                                body)
        expected = b"v1," + base64.b64encode(hmac.new(self._key, signed, hashlib.sha256).digest())
        return any(hmac.compare_digest(part.encode(), expected)
                   for part in headers.get("webhook-signature", "").split(" "))

    def receive(self, method: str, path: str, headers: dict, body: bytes) -> tuple[int, bytes, float]:
        """(status, answer body, seconds to hold the answer) for a request, counted on arrival."""
        if method == "GET" and path == "/_stats":
            return 200, json.dumps(self.stats()).encode(), 0.0
        if method == "POST" and path == "/_reset":
            self.secret = json.loads(body or b"{}").get("secret", self.secret)
            self.reset()
            return 200, b"{}", 0.0
        answer = self.answers.pop(0) if self.answers else 204
        self.count += 1
        now = time.time()
        self.first_at = self.first_at or now
        self.last_at = now
        record = {"path": path, "headers": headers, "body": body, "status": answer}
        if self.keep:
            self.requests.append(record)  # on arrival, whatever becomes of the answer
        delay = 0.0
        if isinstance(answer, tuple) and answer[0] == "hang":
            delay, answer = answer[1], 204
            record["status"] = answer
        if not self.verified(headers, body):
            self.bad_signatures += 1
            return 401, b'{"error":"bad signature"}', delay
        return answer, b"{}", delay

    def acknowledged(self, headers: dict, body: bytes) -> None:
        """Count a request whose 2xx was written."""
        self.webhook_ids[headers.get("webhook-id", "")] += 1
        data = json.loads(body)
        items = data if isinstance(data, list) else [data]
        self.events += len(items)
        self.event_ids.update(item["id"] for item in items)

    async def _serve(self, ready: threading.Event | None, *, sock: socket.socket | None = None) -> None:
        loop = asyncio.get_running_loop()
        if sock is None:
            server = await loop.create_server(lambda: _Connection(self), "127.0.0.1", self.port, backlog=1024)
        else:
            server = await loop.create_server(lambda: _Connection(self), sock=sock, backlog=1024)
        self.port = server.sockets[0].getsockname()[1]
        if ready:
            ready.set()
        async with server:
            await server.serve_forever()

    def start(self) -> "Sink":
        """Serve from a daemon thread of this process; returns once the port is bound."""
        ready = threading.Event()

        def run():
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self._serve(ready))

        threading.Thread(target=run, daemon=True).start()
        ready.wait(10)
        return self


class _Connection(asyncio.Protocol):
    """One keep-alive connection: requests are answered in order; one held ("hang") answer holds
    the ones behind it."""

    def __init__(self, sink: Sink):
        self.sink = sink
        self.buffer = bytearray()
        self.transport = None
        self.held = False

    def connection_made(self, transport) -> None:
        self.transport = transport

    def connection_lost(self, exc) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._process()

    def _process(self) -> None:
        while not self.held and self.transport is not None:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > MAX_HEAD:
                    self.transport.close()
                return
            lines = self.buffer[:end].decode("latin-1").split("\r\n")
            try:
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length") or 0)
            except ValueError:
                self.transport.close()
                return
            total = end + 4 + length
            if len(self.buffer) < total:
                return
            body = bytes(self.buffer[end + 4:total])
            del self.buffer[:total]
            status, answer, delay = self.sink.receive(method, path, headers, body)
            if delay:
                self.held = True
                asyncio.get_running_loop().call_later(delay, self._answer, status, answer, headers, body, path)
                return
            self._answer(status, answer, headers, body, path)

    def _answer(self, status: int, answer: bytes, headers: dict, body: bytes, path: str) -> None:
        self.held = False
        if self.transport is None or self.transport.is_closing():
            return  # nobody to acknowledge to: not received
        self.transport.write(b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                             % (status, len(answer), answer))
        if 200 <= status < 300 and not path.startswith("/_"):
            self.sink.acknowledged(headers, body)
        self._process()


# --- several processes on one port ----------------------------------------------------------------
def _child(port: int, pipe) -> None:
    """A receiver on the shared port; answers the parent's "stats" (with its ids) and "reset"."""
    sink = Sink()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))

    def command():
        try:
            kind, arg = pipe.recv()
        except EOFError:  # the parent is gone
            sys.exit(0)
        if kind == "reset":
            sink.secret = arg if arg is not None else sink.secret
            sink.reset()
            pipe.send(None)
        else:
            pipe.send({**sink.stats(), "event_ids": dict(sink.event_ids), "webhook_ids": dict(sink.webhook_ids)})

    async def main():
        asyncio.get_running_loop().add_reader(pipe.fileno(), command)
        await sink._serve(None, sock=sock)

    asyncio.run(main())


def merged(parts: list[dict]) -> dict:
    event_ids, webhook_ids = Counter(), Counter()
    for part in parts:
        event_ids.update(part["event_ids"])
        webhook_ids.update(part["webhook_ids"])
    times = [p for p in parts if p["first_at"]]
    return {"requests": sum(p["requests"] for p in parts), "events": sum(p["events"] for p in parts),
            "unique_events": len(event_ids), "repeated_events": sum(n - 1 for n in event_ids.values()),
            "unique_webhook_ids": len(webhook_ids), "bad_signatures": sum(p["bad_signatures"] for p in parts),
            "first_at": min((p["first_at"] for p in times), default=None),
            "last_at": max((p["last_at"] for p in times), default=None)}


def serve_processes(port: int, processes: int) -> None:
    """`processes` receivers on `port`; their merged figures on port + 1 (GET /_stats, POST /_reset)."""
    # A terminated parent exits normally, so multiprocessing ends the (daemon) children too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    pipes = []
    for _ in range(processes):
        parent, child = multiprocessing.Pipe()
        multiprocessing.Process(target=_child, args=(port, child), daemon=True).start()
        pipes.append(parent)

    class Control(Sink):
        def receive(self, method, path, headers, body):
            if path == "/_reset":
                secret = json.loads(body or b"{}").get("secret")
                for pipe in pipes:
                    pipe.send(("reset", secret))
                for pipe in pipes:
                    pipe.recv()
                return 200, b"{}", 0.0
            for pipe in pipes:
                pipe.send(("stats", None))
            return 200, json.dumps(merged([pipe.recv() for pipe in pipes])).encode(), 0.0

    asyncio.run(Control(port=port + 1)._serve(None))


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--secret", default="")
    args = parser.parse_args()
    if args.processes > 1:
        serve_processes(args.port, args.processes)
    else:
        sink = Sink(args.secret, port=args.port)
        asyncio.run(sink._serve(None))
