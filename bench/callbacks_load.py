"""A small HTTP/1.1 load generator for the callbacks benchmark: asyncio, raw sockets, keep-alive.

Plain Python so the benchmark runs on a clean machine. It is closed-loop: `connections` clients
each send a request, read the whole answer, and send the next, for `seconds`. Parsing is minimal
(status line + Content-Length), which keeps its own CPU cost low: on a 2-core box it shares the
CPU with the server, so the benchmark measures a trivial view the same way to give a ceiling.
"""

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Result:
    seconds: float = 0.0
    requests: int = 0
    errors: int = 0
    statuses: dict = field(default_factory=dict)
    latencies: list = field(default_factory=list)  # seconds, successful requests only
    per_second: list = field(default_factory=list)  # successful requests in each whole second
    ok: set = field(default_factory=set)  # sequence numbers answered 200

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    @property
    def rate(self) -> float:
        return len(self.ok) / self.seconds if self.seconds else 0.0


def request_bytes(host: str, port: int, path: str, body: bytes) -> bytes:
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length, close = 0, False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            close = True
    if length:
        await reader.readexactly(length)
    return status, close


async def _client(host, port, path, make_body, counter, deadline, started, result: Result):
    reader = writer = None
    while time.perf_counter() < deadline:
        seq = next(counter)
        payload = request_bytes(host, port, path, make_body(seq))
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            sent = time.perf_counter()
            writer.write(payload)
            status, close = await _read_response(reader)
            done = time.perf_counter()
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            result.errors += 1
            result.requests += 1
            if writer is not None:
                writer.close()
            reader = writer = None
            await asyncio.sleep(0.01)
            continue
        result.requests += 1
        result.statuses[status] = result.statuses.get(status, 0) + 1
        if status == 200:
            result.ok.add(seq)
            result.latencies.append(done - sent)
            second = int(done - started)
            while len(result.per_second) <= second:
                result.per_second.append(0)
            result.per_second[second] += 1
        else:
            result.errors += 1
        if close:
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


async def _run(host, port, path, make_body, seconds, connections, start) -> Result:
    result = Result()
    counter = itertools.count(start)
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(_client(host, port, path, make_body, counter, deadline, started, result)
                           for _ in range(connections)))
    result.seconds = time.perf_counter() - started
    # The last, partial second would understate the rate.
    result.per_second = result.per_second[: int(seconds)]
    return result


def run(*, host: str, port: int, path: str, make_body: Callable[[int], bytes], seconds: float,
        connections: int, start: int = 0) -> Result:
    """Drive POST `path` with bodies make_body(start), make_body(start + 1), … for `seconds`."""
    return asyncio.run(_run(host, port, path, make_body, seconds, connections, start))
