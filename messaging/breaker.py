"""A circuit breaker per provider account, and the book of request outcomes behind it.

Every sender records what its requests to an account told about the provider (`record`): how
many, how many failed the way a failing provider fails (no connection or answer, timeouts, 5xx,
429 — `messaging.providers.generic.aio.unhealthy`; never a 4xx about one message) and how long
they took. The breaker, Saleor's breaker board applied to provider accounts, reads that:

* **closed**: requests flow. Over the last `PROVIDER_BREAKER_WINDOW_SECONDS`, once at least
  `account.breaker_min_requests` requests were made and `account.breaker_error_rate` % of them
  failed, it opens;
* **open**: senders keep away for `account.breaker_cooldown` seconds (they use the account's
  failover routes, or hold their messages);
* then one sender takes the single probe (`probe_take`: the breaker becomes **half-open** under
  that sender's token) and sends exactly one request: its success closes the breaker with a clean
  window, its failure opens it for another cool-down. A probe whose answer never comes is free to
  take again after `PROVIDER_BREAKER_PROBE_SECONDS`.

State is shared by every worker and process: one small JSON document per account, changed only
under a lock — in Redis (WATCH/MULTI) when `REDIS_URL` is set (workers on any number of
machines), otherwise in a file under `VAR_DIR` changed under flock (every process of `make run`:
Django's file cache has no atomic operation to build on). A sender records once per batch of
outcomes (campaigns.dispatch: at most every 0.1 s) and reads the state at most every
`CHECK_SECONDS`, so the book costs little (bench/dispatch.py measures it). If the store cannot be
reached, sending goes on as if the breaker were closed, and the failure is logged.

The same document keeps per-minute counts and a latency histogram for `PROVIDER_HEALTH_SECONDS`,
which the health panel reads (`health`).
"""

import fcntl
import hashlib
import json
import logging
import math
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import redis
from django.conf import settings
from django.db import connection

logger = logging.getLogger(__name__)

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
# What a sender may do with an account now (`route_state`).
SEND, PROBE, WAIT = "send", "probe", "wait"
CHECK_SECONDS = 0.25  # how stale a sender's reading of the state may be
WINDOW_BUCKET = 5  # seconds per breaker-window bucket
HEALTH_BUCKET = 60  # seconds per health-panel bucket
# Upper bounds (ms) of the latency histogram's buckets; a last one holds everything slower.
LATENCY_BOUNDS = (10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000)


def enabled() -> bool:
    return bool(getattr(settings, "PROVIDER_BREAKER", True))


def window_seconds() -> int:
    return int(getattr(settings, "PROVIDER_BREAKER_WINDOW_SECONDS", 60))


def probe_seconds() -> int:
    return int(getattr(settings, "PROVIDER_BREAKER_PROBE_SECONDS", 60))


def health_seconds() -> int:
    return int(getattr(settings, "PROVIDER_HEALTH_SECONDS", 900))


# --- the shared store ---------------------------------------------------------------------------------
class _FileStore:
    """One JSON file per account, read and rewritten under an exclusive flock (held for well under
    a millisecond). Descriptors are kept per process: a forked worker opens its own, because a
    descriptor shared across a fork shares its lock too."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.fds: dict[tuple[int, str], int] = {}

    def _fd(self, key: str) -> int:
        slot = (os.getpid(), key)
        if slot not in self.fds:
            self.directory.mkdir(parents=True, exist_ok=True)
            self.fds[slot] = os.open(self.directory / key, os.O_RDWR | os.O_CREAT, 0o600)
        return self.fds[slot]

    @staticmethod
    def _load(fd: int) -> dict:
        raw = os.pread(fd, 1 << 20, 0)
        return json.loads(raw) if raw else {}

    def read(self, key: str) -> dict:
        fd = self._fd(key)
        fcntl.flock(fd, fcntl.LOCK_SH)
        try:
            return self._load(fd)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def update(self, key: str, change):
        fd = self._fd(key)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            doc = self._load(fd)
            result = change(doc)
            raw = json.dumps(doc, separators=(",", ":")).encode()
            os.pwrite(fd, raw, 0)
            os.ftruncate(fd, len(raw))
            return result
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)


class _RedisStore:
    """One key per account, changed in an optimistic transaction (WATCH, MULTI): a writer that
    raced another one reads again and retries."""

    def __init__(self, url: str):
        self.client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)

    def read(self, key: str) -> dict:
        raw = self.client.get(key)
        return json.loads(raw) if raw else {}

    def update(self, key: str, change):
        result = []

        def transaction(pipe):
            raw = pipe.get(key)
            doc = json.loads(raw) if raw else {}
            result[:] = [change(doc)]
            pipe.multi()
            pipe.set(key, json.dumps(doc, separators=(",", ":")), ex=max(86400, health_seconds() * 2))

        self.client.transaction(transaction, key)
        return result[0]


_stores: dict[str, object] = {}


def _store():
    where = settings.REDIS_URL or str(Path(settings.VAR_DIR) / "health")
    if where not in _stores:
        _stores[where] = _RedisStore(where) if settings.REDIS_URL else _FileStore(Path(where))
    return _stores[where]


def _key(account) -> str:
    """Named by database and by the account's creation too: installations (and test runs) sharing a
    Redis or a VAR_DIR keep their own, and a new account never inherits a deleted one's state."""
    database = hashlib.blake2s(str(connection.settings_dict["NAME"]).encode()).hexdigest()[:12]
    created = int(account.created_at.timestamp() * 1e6) if account.created_at else 0
    key = f"{database}-{account.pk}-{created}"
    return f"textcast:health:{key}" if settings.REDIS_URL else key


_STORE_ERRORS = (redis.RedisError, OSError, ValueError)


def _read(account) -> dict:
    try:
        return _store().read(_key(account))
    except _STORE_ERRORS:
        logger.warning("The provider health store is unavailable; treating %r as healthy", account, exc_info=True)
        return {}


def _update(account, change, default=None):
    try:
        return _store().update(_key(account), change)
    except _STORE_ERRORS:
        logger.warning("The provider health store is unavailable; %r's outcomes are not recorded", account,
                       exc_info=True)
        return default


# --- the breaker ---------------------------------------------------------------------------------------
def route_state(account, *, now: float | None = None) -> str:
    """SEND (closed), PROBE (the cool-down is over and nobody holds the probe) or WAIT."""
    return _route_state(_read(account), time.time() if now is None else now)


def _route_state(doc: dict, now: float) -> str:
    state = doc.get("state", CLOSED)
    if state == CLOSED:
        return SEND
    return PROBE if now >= doc.get("until", 0) else WAIT


def wait_seconds(account) -> float:
    """How long until a probe of this account is due (0: now, or it is closed)."""
    doc = _read(account)
    if doc.get("state", CLOSED) == CLOSED:
        return 0.0
    return max(0.0, doc.get("until", 0) - time.time())


def probe_take(account) -> str | None:
    """Take the account's single probe: a token when this caller is to send the one request that
    decides (pass it to `record`), None when the breaker is closed, cooling down, or probed by
    someone else."""
    token = uuid.uuid4().hex

    def change(doc):
        now = time.time()
        if _route_state(doc, now) != PROBE:
            return None
        doc.update(state=HALF_OPEN, probe=token, until=now + probe_seconds(), changed=now)
        return token

    return _update(account, change)


def probe_now(account) -> None:
    """End an open breaker's cool-down now (an operator resuming sending says "try it"): the next
    sender still sends one probe request before any other goes."""
    def change(doc):
        if doc.get("state") == OPEN:
            doc["until"] = time.time()

    _update(account, change)


def record(account, samples, *, probe: str | None = None) -> str:
    """Book requests' outcomes, `samples` = [(requests, errors, latency_ms or None), …], and move the
    breaker; returns its state afterwards. With `probe` (the token of `probe_take`), the samples
    are the probe's: an error opens the breaker again, none closes it."""
    requests = errors = 0
    latencies = []
    for n, bad, ms in samples:
        requests, errors = requests + n, errors + bad
        if ms is not None:
            latencies.append(ms)
    if not requests and probe is None:
        return CLOSED

    def change(doc):
        now = time.time()
        _book_health(doc, now, requests, errors, latencies)
        state = doc.get("state", CLOSED)
        if probe is not None and state == HALF_OPEN and doc.get("probe") == probe:
            if errors or not requests:
                _open(doc, account, now)
            else:
                doc.update(state=CLOSED, window=[], changed=now, probe="", until=0)
            return doc["state"]
        if state != CLOSED:
            return state  # late answers of requests that left before it opened: counted, not judged
        window = [b for b in doc.get("window", []) if b[0] > now - window_seconds()]
        start = int(now // WINDOW_BUCKET * WINDOW_BUCKET)
        if window and window[-1][0] == start:
            window[-1][1] += requests
            window[-1][2] += errors
        else:
            window.append([start, requests, errors])
        doc["window"] = window
        total, failed = sum(b[1] for b in window), sum(b[2] for b in window)
        if total >= account.breaker_min_requests and failed * 100 >= account.breaker_error_rate * total:
            _open(doc, account, now)
        return doc.get("state", CLOSED)

    return _update(account, change, default=CLOSED)


def _open(doc: dict, account, now: float) -> None:
    doc.update(state=OPEN, until=now + account.breaker_cooldown, changed=now, probe="", window=[],
               opened=doc.get("opened", 0) + 1)


def _book_health(doc: dict, now: float, requests: int, errors: int, latencies: list[float]) -> None:
    start = int(now // HEALTH_BUCKET * HEALTH_BUCKET)
    buckets = doc.setdefault("health", [])
    if not buckets or buckets[-1][0] != start:
        buckets.append([start, 0, 0, *([0] * (len(LATENCY_BOUNDS) + 1))])
        doc["health"] = buckets = [b for b in buckets if b[0] > now - health_seconds() - HEALTH_BUCKET]
    bucket = buckets[-1]
    bucket[1] += requests
    bucket[2] += errors
    for ms in latencies:
        bucket[3 + _latency_slot(ms)] += 1


def _latency_slot(ms: float) -> int:
    for slot, bound in enumerate(LATENCY_BOUNDS):
        if ms <= bound:
            return slot
    return len(LATENCY_BOUNDS)


# --- the health panel ----------------------------------------------------------------------------------
@dataclass
class Health:
    state: str  # CLOSED, OPEN, HALF_OPEN
    until: float | None  # open: when the cool-down ends (epoch seconds); half-open: when the probe lapses
    opened: int  # how often it has opened
    window_requests: int  # the breaker's window (since it last closed)
    window_errors: int
    requests: int  # the last PROVIDER_HEALTH_SECONDS
    errors: int
    p50_ms: float | None  # upper bounds of the histogram buckets the percentiles fall in
    p99_ms: float | None

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None

    @property
    def window_error_rate(self) -> float | None:
        return self.window_errors / self.window_requests if self.window_requests else None


def health(account) -> Health:
    doc = _read(account)
    now = time.time()
    buckets = [b for b in doc.get("health", []) if b[0] > now - health_seconds() - HEALTH_BUCKET]
    window = [b for b in doc.get("window", []) if b[0] > now - window_seconds()]
    histogram = [sum(b[3 + slot] for b in buckets) for slot in range(len(LATENCY_BOUNDS) + 1)]
    state = doc.get("state", CLOSED)
    return Health(state=state, until=doc.get("until") if state != CLOSED else None, opened=doc.get("opened", 0),
                  window_requests=sum(b[1] for b in window), window_errors=sum(b[2] for b in window),
                  requests=sum(b[1] for b in buckets), errors=sum(b[2] for b in buckets),
                  p50_ms=percentile(histogram, 0.50), p99_ms=percentile(histogram, 0.99))


def percentile(histogram: list[int], q: float) -> float | None:
    """The upper bound of the bucket the q-quantile falls in (math.inf: slower than the last bound)."""
    total = sum(histogram)
    if not total:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for slot, count in enumerate(histogram):
        seen += count
        if seen >= rank:
            return float(LATENCY_BOUNDS[slot]) if slot < len(LATENCY_BOUNDS) else math.inf
    return math.inf

