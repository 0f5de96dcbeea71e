"""An account's messages-per-second cap, shared by every worker process that sends for it.

A provider limits the *account*, not one of our workers: two broadcasts dispatched by two workers
at once must share the cap. Each start is spaced twice:

* locally, from this process's *actual* previous start, so a stalled event loop (a garbage
  collection, the GIL busy with the database thread) only delays sending and never lets the slots
  it missed go out in a burst;
* across processes, by reserving the next free slot in a book all workers share: Redis when
  `REDIS_URL` is set (production: workers on any number of machines), otherwise a locked file
  under `VAR_DIR` (the embedded set-up: every process on this machine).

A slot is a start time; taking `n` slots at once (a batch of n messages) moves the next free start
n/rate seconds on. At most `rate` starts fall in any one-second window (+1 at its edge).
"""

import asyncio
import fcntl
import hashlib
import logging
import os
import struct
import time
from pathlib import Path

import redis.asyncio as aioredis
from django.conf import settings
from django.db import connection
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# Reserve `ARGV[1]` seconds from max(now, the next free start); answer how long to wait for it.
# Redis's own clock, so workers on machines whose clocks disagree still share one timeline.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local start = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
local after = start + tonumber(ARGV[1])
redis.call('SET', KEYS[1], string.format('%.6f', after), 'PX', math.ceil((after - now) * 1000) + 60000)
return string.format('%.6f', start - now)
"""


class RedisBook:
    def __init__(self, url: str, key: str):
        self.client = aioredis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        self.script = self.client.register_script(_RESERVE)
        self.key = key

    async def reserve(self, seconds: float) -> float:
        return float(await self.script(keys=[self.key], args=[f"{seconds:.6f}"]))

    async def close(self) -> None:
        await self.client.aclose()


class FileBook:
    """The next free start (wall-clock seconds) in an 8-byte file, read and moved under flock.
    The lock is held for microseconds, so taking it inside the event loop costs nothing."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    async def reserve(self, seconds: float) -> float:
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        try:
            raw = os.pread(self.fd, 8, 0)
            now = time.time()
            start = max(now, struct.unpack("d", raw)[0] if len(raw) == 8 else 0.0)
            os.pwrite(self.fd, struct.pack("d", start + seconds), 0)
        finally:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        return start - now

    async def close(self) -> None:
        os.close(self.fd)


def shared_book(account_id: int):
    # Named by database too: installations (or test runs) sharing a Redis keep their own books.
    name = f"{hashlib.blake2s(str(connection.settings_dict['NAME']).encode()).hexdigest()[:12]}-{account_id}"
    if settings.REDIS_URL:
        return RedisBook(settings.REDIS_URL, f"textcast:rate:{name}")
    return FileBook(Path(settings.VAR_DIR) / "rate" / name)


class RateLimiter:
    """Call `acquire(n)` right before starting a request that carries n messages."""

    def __init__(self, rate: float | None, book=None):
        self.interval = 1.0 / rate if rate else 0.0
        self.book = book if self.interval else None
        self.next_at = 0.0
        self.lock = asyncio.Lock()

    async def acquire(self, n: int = 1) -> None:
        if not self.interval:
            return
        async with self.lock:
            delay = self.next_at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if self.book is not None:
                try:
                    delay = await self.book.reserve(self.interval * n)
                except (RedisError, OSError):
                    # Sending goes on, capped per process, rather than failing messages.
                    logger.warning("The shared rate book is unavailable; capping this worker alone", exc_info=True)
                    delay = 0.0
                if delay > 0:
                    await asyncio.sleep(delay)
            self.next_at = time.monotonic() + self.interval * n

    async def close(self) -> None:
        if self.book is not None:
            await self.book.close()
