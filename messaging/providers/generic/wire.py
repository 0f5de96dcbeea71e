"""A minimal HTTP/1.1 client on asyncio protocols, for the bulk sending path only.

Why not aiohttp: measured against a loopback sink on the 2-core target machine, aiohttp's
per-request Python overhead capped our sender near 2,100 requests/s at 500 concurrent requests,
below the 2,500/s that 500 requests in flight at 200 ms allow. A provider request is always the
same shape (one method, a few headers, a small body, a small answer), so this client does only
that: persistent keep-alive connections (one per concurrency slot), Content-Length or chunked
answers, TLS through the standard ssl module, explicit connect and read timeouts.

Errors say whether the request may have reached the provider, which is all the caller needs:
`NotSent` (could not connect: safe to repeat) and `NoAnswer` (it left, no full answer came back).
"""

import asyncio
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from messaging.netguard import AddressRefused, check_peer

MAX_HEAD = 64 * 1024
MAX_BODY = 1024 * 1024  # a provider's answer is a few hundred bytes; more is read and discarded


class NotSent(Exception):
    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent  # e.g. a certificate we do not trust: trying again cannot help


class NoAnswer(Exception):
    pass


@dataclass(slots=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes


class _Headers(dict):
    """Case-insensitive .get() for the Retry-After lookup shared with the requests path."""

    def get(self, key, default=None):
        return super().get(key.lower(), default)


class _Protocol(asyncio.Protocol):
    __slots__ = ("buffer", "closed", "expect_body", "transport", "waiter")

    def __init__(self):
        self.transport = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future | None = None
        self.closed = False
        self.expect_body = True

    def connection_made(self, transport):
        self.transport = transport

    def connection_lost(self, exc):
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            response = self._parse(eof=True)
            if response is not None:
                self.waiter.set_result(response)
            else:
                self.waiter.set_exception(NoAnswer(f"connection closed{f' ({exc})' if exc else ''}"))

    def data_received(self, data):
        self.buffer += data
        if self.waiter is not None and not self.waiter.done():
            try:
                response = self._parse(eof=False)
            except ValueError as exc:
                self.waiter.set_exception(NoAnswer(f"malformed answer: {exc}"))
                self.transport.close()
                return
            if response is not None:
                self.waiter.set_result(response)

    def _parse(self, *, eof: bool) -> Response | None:
        buffer = self.buffer
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(buffer) > MAX_HEAD:
                raise ValueError("header too long")
            return None
        lines = bytes(buffer[:end]).decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise ValueError("bad status line")
        status = int(parts[1])
        headers = _Headers()
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        start = end + 4
        if not self.expect_body or status in (204, 304) or 100 <= status < 200:
            body, used = b"", start
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            decoded = _dechunk(buffer, start)
            if decoded is None:
                return None
            body, used = decoded
        elif "content-length" in headers:
            length = int(headers["content-length"])
            if len(buffer) - start < length:
                return None
            body, used = bytes(buffer[start:start + length]), start + length
        else:  # the body runs to the end of the connection
            if not eof:
                return None
            body, used = bytes(buffer[start:]), len(buffer)
            headers["connection"] = "close"
        del buffer[:used]
        return Response(status, headers, body[:MAX_BODY])


def _dechunk(buffer: bytearray, position: int) -> tuple[bytes, int] | None:
    body = bytearray()
    while True:
        line_end = buffer.find(b"\r\n", position)
        if line_end < 0:
            return None
        size = int(bytes(buffer[position:line_end]).split(b";")[0].strip() or b"0", 16)
        position = line_end + 2
        if size == 0:
            trailer_end = buffer.find(b"\r\n\r\n", position - 2)
            return (bytes(body), trailer_end + 4) if trailer_end >= 0 else None
        if len(buffer) < position + size + 2:
            return None
        body += buffer[position:position + size]
        position += size + 2


class Pool:
    """Keep-alive connections to one origin, at most `size` of them."""

    def __init__(self, *, size: int, connect_timeout: float, read_timeout: float):
        self.size = size
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.idle: dict[tuple, list[_Protocol]] = {}
        self._ssl_context: ssl.SSLContext | None = None  # made on the first https connection (loading CAs costs ms)

    async def request(self, method: str, url: str, headers: dict[str, str], body: bytes | None) -> Response:
        parts = urlsplit(url)
        https = parts.scheme == "https"
        host, port = parts.hostname, parts.port or (443 if https else 80)
        key = (host, port, https)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host_header = parts.netloc.rpartition("@")[2]
        head = [f"{method} {target} HTTP/1.1", f"Host: {host_header}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        if body is not None or method == "POST":
            head.append(f"Content-Length: {len(body or b'')}")
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + (body or b"")

        connection = await self._connection(key)
        loop = asyncio.get_running_loop()
        connection.waiter = waiter = loop.create_future()
        connection.expect_body = method != "HEAD"
        connection.transport.write(data)
        timer = loop.call_later(self.read_timeout, _expire, waiter)
        try:
            response = await waiter
        except BaseException:
            connection.transport.close()
            raise
        finally:
            timer.cancel()
            connection.waiter = None
        if response.headers.get("connection", "").lower() == "close" or connection.closed:
            connection.transport.close()
        else:
            self.idle.setdefault(key, []).append(connection)
        return response

    async def _connection(self, key) -> _Protocol:
        idle = self.idle.get(key)
        while idle:
            connection = idle.pop()
            # A connection the provider closed while idle is noticed here, before we write to it.
            if not connection.closed and not connection.transport.is_closing() and not connection.buffer:
                return connection
            connection.transport.close()
        host, port, https = key
        loop = asyncio.get_running_loop()
        try:
            _, protocol = await asyncio.wait_for(
                loop.create_connection(_Protocol, host, port, ssl=self._ssl() if https else None),
                self.connect_timeout)
        except ssl.SSLCertVerificationError as exc:
            raise NotSent(f"{type(exc).__name__}: {exc}", permanent=True) from None
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            raise NotSent(f"{type(exc).__name__}: {exc}") from None
        try:  # the address actually connected to, before a byte of the request is written
            check_peer(protocol.transport.get_extra_info("peername")[0], host, port)
        except AddressRefused as exc:
            protocol.transport.close()
            raise NotSent(str(exc), permanent=True) from None
        return protocol

    def _ssl(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context()
        return self._ssl_context

    def close(self) -> None:
        for connections in self.idle.values():
            for connection in connections:
                connection.transport.close()
        self.idle.clear()


def _expire(waiter: asyncio.Future) -> None:
    if not waiter.done():
        waiter.set_exception(NoAnswer("read timeout"))
