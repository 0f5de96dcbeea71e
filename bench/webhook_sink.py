"""A small, fast webhook receiver on 127.0.0.1: verifies Standard Webhooks signatures and counts.

Used by the webhook tests (in a thread, `Sink().start()`) and by bench/webhooks.py (as a process
of its own: `python bench/webhook_sink.py PORT SECRET`, figures at GET /_stats). asyncio and
hand-parsed HTTP/1.1 with keep-alive, so the sink is not what limits a benchmark.

What it records: requests, events (a JSON array counts its elements), the distinct event ids and
webhook-ids, repeats of each, requests whose signature did not verify. A test can script the next
answers (`answers`: status codes, or ("hang", seconds)) and keep every request (`keep=True`).
"""

import asyncio
import base64
import hashlib
import hmac
import json
import sys
import threading
import time
from collections import Counter


class Sink:
    def __init__(self, secret: str = "", *, keep: bool = False, port: int = 0):
        self.secret = secret
        self.keep = keep
        self.port = port
        self.answers: list = []
        self.requests: list[dict] = []
        self.reset()
        self._loop = None

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
        if not self.secret:
            return True
        key = base64.b64decode(self.secret.removeprefix("whsec_"))
        signed = f"{headers.get('webhook-id')}.{headers.get('webhook-timestamp')}.".encode() + body
        expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        return any(hmac.compare_digest(part.partition(",")[2], expected)
                   for part in headers.get("webhook-signature", "").split(" ") if part.startswith("v1,"))

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length") or 0))
                status, answer = await self._answer(method, path, headers, body)
                writer.write(b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                             % (status, len(answer), answer))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            writer.close()

    async def _answer(self, method: str, path: str, headers: dict, body: bytes) -> tuple[int, bytes]:
        if method == "GET" and path == "/_stats":
            return 200, json.dumps(self.stats()).encode()
        if method == "POST" and path == "/_reset":
            self.secret = json.loads(body or b"{}").get("secret", self.secret)
            self.reset()
            return 200, b"{}"
        answer = self.answers.pop(0) if self.answers else 204
        self.count += 1
        now = time.time()
        self.first_at = self.first_at or now
        self.last_at = now
        record = {"path": path, "headers": headers, "body": body, "status": answer}
        if self.keep:
            self.requests.append(record)  # on arrival, whatever becomes of the answer
        if isinstance(answer, tuple) and answer[0] == "hang":
            await asyncio.sleep(answer[1])
            answer = record["status"] = 204
        if not self.verified(headers, body):
            self.bad_signatures += 1
            return 401, b'{"error":"bad signature"}'
        if 200 <= answer < 300:
            # Only what was acknowledged counts as received.
            self.webhook_ids[headers.get("webhook-id", "")] += 1
            data = json.loads(body)
            items = data if isinstance(data, list) else [data]
            self.events += len(items)
            self.event_ids.update(item["id"] for item in items)
        return answer, b"{}"

    async def _serve(self, ready: threading.Event | None) -> None:
        server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, limit=2 ** 24, backlog=512)
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


if __name__ == "__main__":
    sink = Sink(sys.argv[2] if len(sys.argv) > 2 else "", port=int(sys.argv[1]))
    asyncio.run(sink._serve(None))
