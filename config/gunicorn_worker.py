"""A gthread worker that takes a request into a thread only once it has fully arrived.

gunicorn's gthread worker hands a connection to a thread as soon as its first byte arrives; the
thread then blocks reading the rest. A few clients that send their body one byte at a time
(slowloris) hold every thread, and nothing else is answered, delivery reports included. Here the
worker's main loop, which already polls idle keep-alive connections, reads each request's head
and body (up to WEB_REQUEST_BUFFER_BYTES) without blocking, and only a complete request reaches a
thread. A request that has not arrived WEB_REQUEST_READ_TIMEOUT seconds after the connection was
ready for it is answered 408 and closed. A slow client so costs a socket and its buffer, never a
thread. The buffering proxy in deploy/nginx.conf does the same in front of every worker; this
keeps gunicorn standing without it.
"""

import contextlib
import os
import re
import selectors
import time
from collections import deque
from functools import partial

from gunicorn import util
from gunicorn.workers.gthread import TConn, ThreadWorker

REQUEST_READ_TIMEOUT = float(os.environ.get("WEB_REQUEST_READ_TIMEOUT", "30"))
# Bodies larger than this are read by the thread (uploads); nginx in front buffers those.
REQUEST_BUFFER_BYTES = int(os.environ.get("WEB_REQUEST_BUFFER_BYTES", str(1024 * 1024)))
HEAD_LIMIT = 64 * 1024  # beyond this gunicorn's own parser refuses the head
TIMED_OUT = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
CONTENT_LENGTH = re.compile(rb"\ncontent-length[ \t]*:[ \t]*(\d+)")
EXPECT_CONTINUE = re.compile(rb"\r\nexpect[ \t]*:[ \t]*100-continue[ \t]*(?=\r\n)", re.IGNORECASE)
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def request_complete(data: bytes | bytearray) -> bool:
    """Whether `data` holds a whole HTTP/1 request (or as much of it as we buffer)."""
    head_end = data.find(b"\r\n\r\n")
    if head_end < 0:
        return len(data) > HEAD_LIMIT
    head = bytes(data[:head_end]).lower()
    body = len(data) - head_end - 4
    if b"\ntransfer-encoding" in head:
        # A chunked body ends with the zero-size chunk and the blank line after any trailers. If
        # the data merely happens to end so, the thread reads the rest itself: no harm done.
        return data.endswith(b"0\r\n\r\n") or body >= REQUEST_BUFFER_BYTES
    match = CONTENT_LENGTH.search(head)
    return body >= min(int(match.group(1)) if match else 0, REQUEST_BUFFER_BYTES)


def expects_continue(data: bytes | bytearray) -> bool:
    head_end = data.find(b"\r\n\r\n")
    return head_end >= 0 and EXPECT_CONTINUE.search(bytes(data[:head_end + 2])) is not None


class BufferedConn(TConn):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.buffered = None  # the bytes of the request being read, while in the main loop
        self.read_deadline = 0.0
        self.continued = False  # whether we answered its "Expect: 100-continue" ourselves


class BufferingThreadWorker(ThreadWorker):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.buffering = deque()  # connections whose request is still arriving, oldest first

    def accept(self, listener):
        try:
            client_sock, client_addr = listener.accept()
        except (BlockingIOError, ConnectionAbortedError, InterruptedError):
            return  # another worker took it, or the client gave up: as gthread, ignore
        self.nr_conns += 1
        self.start_buffering(BufferedConn(self.cfg, client_sock, client_addr, listener.getsockname()))

    def on_client_socket_readable(self, conn, client):
        """A kept-alive connection's next request is starting: buffer it too."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self.start_buffering(conn)

    def start_buffering(self, conn):
        if self.cfg.is_ssl or not isinstance(conn, BufferedConn):
            self.enqueue_req(conn)  # TLS bytes cannot be inspected before the handshake
            return
        conn.sock.setblocking(False)
        conn.buffered = bytearray()
        conn.continued = False
        conn.read_deadline = time.monotonic() + REQUEST_READ_TIMEOUT
        self.buffering.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.on_buffering_readable, conn))

    def on_buffering_readable(self, conn, client):
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client went away before its request was complete
            self.stop_buffering(conn)
            self.nr_conns -= 1
            conn.close()
            return
        conn.buffered += data
        if request_complete(conn.buffered):
            self.stop_buffering(conn)
            conn.data_ready = True
            self.enqueue_req(conn)
        elif not conn.continued and expects_continue(conn.buffered):
            # The client waits for this before it sends the body. The header is then dropped
            # (handle()), so that gunicorn does not send a second one.
            conn.continued = True
            with contextlib.suppress(OSError):
                conn.sock.send(CONTINUE)

    def stop_buffering(self, conn):
        self.buffering.remove(conn)
        self.poller.unregister(conn.sock)

    def murder_pending(self):
        """Also answer 408 to requests that are too slow to arrive (all of them when stopping)."""
        super().murder_pending()
        now = time.monotonic()
        while self.buffering and (not self.alive or self.buffering[0].read_deadline <= now):
            conn = self.buffering[0]
            self.stop_buffering(conn)
            with contextlib.suppress(OSError):
                conn.sock.send(TIMED_OUT)
            self.nr_conns -= 1
            util.close(conn.sock)

    def handle(self, conn):
        """Runs in a thread: the parser reads the buffered bytes first, then the socket."""
        buffered = getattr(conn, "buffered", None)
        if buffered is not None:
            conn.buffered = None
            conn.sock.setblocking(True)
            conn.init()
            if conn.continued:
                head_end = buffered.find(b"\r\n\r\n") + 2
                buffered = EXPECT_CONTINUE.sub(b"", bytes(buffered[:head_end]), count=1) + buffered[head_end:]
            conn.parser.unreader.unread(bytes(buffered))
        return super().handle(conn)
