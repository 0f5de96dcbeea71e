"""A Redis stream between the callback endpoints and the database (only when REDIS_URL is set).

Why: one INSERT and commit per request tops out near 900 requests/s on a small machine, while a
provider finishing a broadcast posts thousands of DLRs a second. So the endpoint only appends the
validated raw event to a stream (XADD; the request is answered once Redis has it, so Redis must
persist: `appendonly yes`), and `manage.py drain_callbacks` moves the stream into PostgreSQL in
batches through callbacks.services.events_record (one bulk INSERT and one bulk apply per batch).

Delivery is at least once: drainers read through a consumer group and acknowledge (XACK, then
XDEL to free the memory) only after their transaction committed. Entries a dead drainer had read
are claimed by another after CLAIM_IDLE_MS; if its transaction had committed, the unique
CallbackEvent.buffer_id keeps the second copy out and applying again changes nothing.

The stream lives in CALLBACK_REDIS_URL (default: REDIS_URL). That Redis must not lose it: persist
(`appendonly yes`), never evict (`maxmemory-policy noeviction`), and give it a database nobody
flushes; Django's `cache.clear()` on a Redis cache is a FLUSHDB of the cache's database.
"""

import logging
import os
import socket
import threading
from datetime import UTC, datetime, timedelta

import redis
from django.conf import settings

from .models import CallbackEvent

logger = logging.getLogger(__name__)

GROUP = "drainers"
CLAIM_IDLE_MS = 60_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_clients: dict[str, redis.Redis] = {}
_adders: dict[str, "_Adder"] = {}
_groups_seen: set[str] = set()


def redis_url() -> str:
    return getattr(settings, "CALLBACK_REDIS_URL", "") or settings.REDIS_URL


def enabled() -> bool:
    return bool(redis_url())


def stream() -> str:
    return getattr(settings, "CALLBACK_STREAM", "textcast:callbacks")


def client() -> redis.Redis:
    url = redis_url()
    if url not in _clients:
        _clients[url] = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5,
                                             health_check_interval=30)
    return _clients[url]


def push(*, account_id: int, kind: str, dedupe_key: str, body: str, received_at: datetime) -> str:
    """Append one validated event; returns its stream id once Redis has it. Raises redis.RedisError
    if Redis is down or refuses it (the view answers 503 and the provider retries)."""
    micros = (received_at - EPOCH) // timedelta(microseconds=1)
    url = redis_url()
    adder = _adders.get(url) or _adders.setdefault(url, _Adder(client()))
    return adder.add(stream(), {"a": account_id, "k": kind, "d": dedupe_key, "t": micros, "b": body})


class _Slot:
    """One request's XADD: its fields, then its answer (stream id or exception)."""

    __slots__ = ("answer", "done", "fields", "key", "lead")

    def __init__(self, key: str, fields: dict):
        self.key, self.fields, self.answer, self.lead = key, fields, None, False
        self.done = threading.Lock()
        self.done.acquire()  # released once answered, or once it is its thread's turn to flush


class _Adder:
    """XADDs of a process's concurrent request threads, sent together: one pipeline, one round
    trip and one write for all of them. A gunicorn process's threads otherwise each wait for their
    own round trip, and its syscalls, framing and Redis's per-command work cost more CPU than the
    rest of the request. No timer: a thread finding no flush in flight sends what is queued (its
    own entry included) at once; a thread finding one queues its entry, and the first thread
    queued behind a flush sends the next one. Each request is answered only after its own XADD
    came back, so nothing answered 200 is missing from the stream."""

    def __init__(self, r: redis.Redis):
        self.r = r
        self.lock = threading.Lock()
        self.queue: list[_Slot] = []
        self.flushing = False

    def add(self, key: str, fields: dict) -> str:
        slot = _Slot(key, fields)
        with self.lock:
            self.queue.append(slot)
            lead = not self.flushing
            self.flushing = True
        if not lead:
            slot.done.acquire()  # answered, or handed the next flush
            lead = slot.lead
        if lead:
            self._flush()
        if isinstance(slot.answer, BaseException):
            raise slot.answer
        return slot.answer

    def _flush(self) -> None:
        with self.lock:
            batch, self.queue = self.queue, []
        try:
            pipe = self.r.pipeline(transaction=False)
            for slot in batch:
                pipe.xadd(slot.key, slot.fields)
            answers = pipe.execute(raise_on_error=False)
        except BaseException as exc:  # the connection failed: none of them is known to be stored
            answers = [exc if isinstance(exc, redis.RedisError) else redis.RedisError(repr(exc))] * len(batch)
        for slot, answer in zip(batch, answers, strict=True):
            slot.answer = answer if isinstance(answer, BaseException) else answer.decode()
        with self.lock:
            if self.queue:
                # Whoever queued first while this flush was in flight sends the next one.
                self.queue[0].lead = True
                self.queue[0].done.release()
            else:
                self.flushing = False
        for slot in batch:
            if slot.done.locked() and not slot.lead:
                slot.done.release()


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def drain_once(*, consumer: str, count: int = 500, block_ms: int = 1000) -> int:
    """Store and apply up to `count` events from the stream; returns how many were moved."""
    from .services import events_record  # services imports this module

    r, key = client(), stream()
    _ensure_group(r, key)
    # First what a dead drainer left behind, then new entries (waiting up to block_ms for some).
    _, entries, _ = r.xautoclaim(key, GROUP, consumer, min_idle_time=CLAIM_IDLE_MS, start_id="0-0", count=count)
    if not entries:
        # BLOCK 0 would wait forever: no block_ms means do not wait.
        answer = r.xreadgroup(GROUP, consumer, {key: ">"}, count=count, block=block_ms or None)
        entries = answer[0][1] if answer else []
    if not entries:
        return 0
    events, ids = [], []
    for entry_id, fields in entries:
        ids.append(entry_id)
        try:
            events.append(_event(entry_id.decode(), fields))
        except (KeyError, ValueError):
            # Only our endpoints write here; an entry we cannot read is logged and dropped.
            logger.error("Dropping unreadable callback stream entry %s: %r", entry_id, fields)
    if events:
        events_record(events)
    pipe = r.pipeline(transaction=False)
    pipe.xack(key, GROUP, *ids)
    pipe.xdel(key, *ids)
    pipe.execute()
    return len(events)


def persistence_warnings() -> list[str]:
    """What in the stream's Redis set-up could lose accepted callbacks (empty when all is well)."""
    try:
        config = client().config_get("appendonly") | client().config_get("maxmemory-policy")
    except redis.ResponseError:  # CONFIG disabled (managed Redis): say so rather than guess
        return ["could not read the Redis configuration (CONFIG GET); make sure it has appendonly yes and "
                "maxmemory-policy noeviction"]
    warnings = []
    if config.get("appendonly") != "yes":
        warnings.append("Redis has appendonly no: callbacks answered 200 but not yet drained are lost if "
                        "Redis restarts")
    if config.get("maxmemory-policy", "noeviction") != "noeviction":
        warnings.append(f"Redis evicts keys (maxmemory-policy {config['maxmemory-policy']}): under memory "
                        "pressure it may drop the callback stream; use noeviction")
    return warnings


def backlog() -> int:
    """Entries not yet moved into the database (waiting or being moved)."""
    return client().xlen(stream()) if enabled() else 0


def _ensure_group(r: redis.Redis, key: str) -> None:
    try:
        r.xgroup_create(key, GROUP, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise
        _groups_seen.add(key)
        return
    if key in _groups_seen:
        # It existed a moment ago: the stream was deleted, and with it whatever was not drained.
        logger.error("The callback stream %s vanished and was recreated: Redis lost buffered callbacks "
                     "(FLUSHDB, eviction or a restart without persistence?)", key)


def _event(entry_id: str, fields: dict) -> CallbackEvent:
    return CallbackEvent(
        account_id=int(fields[b"a"]),
        kind=fields[b"k"].decode(),
        dedupe_key=fields[b"d"].decode(),
        received_at=EPOCH + timedelta(microseconds=int(fields[b"t"])),
        body=fields[b"b"].decode("utf-8"),
        buffer_id=entry_id,
    )
