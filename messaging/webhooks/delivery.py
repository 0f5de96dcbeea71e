"""Draining the outbox: claim, sign, POST, record.

Claiming takes the endpoint's row lock (SELECT … FOR UPDATE) for two short statements: pick the
due rows and lease them (`lease_until`), so any number of workers can drain the same endpoint
and none takes a row another holds. The requests are made after that transaction, never inside
one. A worker killed mid-request leaves its rows leased; once the lease runs out they are claimed
again with the webhook-id they had (the event id, or the batch id kept on the rows), so a
receiver sees at worst a repeat it can recognise: delivery is at least once, de-duplicated on
webhook-id (and, inside a batch, on each event's `id`).

A batch that failed goes again as the same batch (same rows, same id) before any new rows are
batched. Failures retry with capped exponential backoff and jitter until the row's `expires_at`
(24 h), then the row is failed. The per-endpoint circuit breaker: WEBHOOK_BREAKER_FAILURES
consecutive failed requests pause the endpoint; when the pause ends one probe request is sent,
and its answer closes the breaker or pauses again for twice as long (up to an hour).
"""

import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

import urllib3
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from messaging import audit, netguard

from . import signing
from .events import copy_rows, emit_many, event_id
from .models import TEST_EVENT, WebhookAttempt, WebhookEndpoint, WebhookMessage

logger = logging.getLogger(__name__)

LOGGED_BODY = 8192  # characters of a request body kept in the log
LOGGED_RESPONSE = 2048
MAX_PAUSE = 3600.0
UNBATCHED_CLAIM = 256  # rows per claim for an endpoint that takes one event per request


@dataclass
class Unit:
    """One request: its webhook-id and the outbox rows it carries (id, body, event id)."""

    webhook_id: str
    rows: list[tuple] = field(default_factory=list)
    batched: bool = False

    def body(self) -> bytes:
        if self.batched:
            return ("[" + ",".join(row[1] for row in self.rows) + "]").encode()
        return self.rows[0][1].encode()


@dataclass
class Result:
    unit: Unit
    headers: dict
    body: bytes
    status: int | None = None
    response: str = ""
    error: str = ""
    duration_ms: float = 0.0
    at: object = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


# --- HTTP -----------------------------------------------------------------------------------------
_pool_lock = threading.Lock()
_pools: dict[int, urllib3.PoolManager] = {}
_executor: list[ThreadPoolExecutor] = []


def _pool() -> urllib3.PoolManager:
    """One connection pool per process (forked workers get their own), connections checked by netguard."""
    import os

    pid = os.getpid()
    with _pool_lock:
        if pid not in _pools:
            manager = urllib3.PoolManager(num_pools=50, maxsize=settings.WEBHOOK_CONCURRENCY, block=False)
            manager.pool_classes_by_scheme = {"http": netguard.GuardedHTTPConnectionPool,
                                              "https": netguard.GuardedHTTPSConnectionPool}
            _pools.clear()
            _executor.clear()
            _pools[pid] = manager
        return _pools[pid]


def _threads() -> ThreadPoolExecutor:
    _pool()
    with _pool_lock:
        if not _executor:
            _executor.append(ThreadPoolExecutor(max_workers=settings.WEBHOOK_CONCURRENCY,
                                                thread_name_prefix="webhooks"))
        return _executor[0]


def _keys(endpoint: WebhookEndpoint, now) -> list[bytes]:
    keys = [signing.secret_key(endpoint.secret)]
    if endpoint.previous_secret and endpoint.previous_secret_until and endpoint.previous_secret_until > now:
        keys.append(signing.secret_key(endpoint.previous_secret))
    return keys


def _post(url: str, keys: list[bytes], unit: Unit) -> Result:
    body = unit.body()
    headers = signing.headers(keys, unit.webhook_id, int(time.time()), body)
    result = Result(unit=unit, headers=headers, body=body, at=timezone.now())
    timeout = settings.WEBHOOK_TIMEOUT_SECONDS
    started = time.perf_counter()
    try:
        response = _pool().request("POST", url, body=body, headers=headers, retries=False, redirect=False,
                                   timeout=urllib3.Timeout(connect=min(5.0, timeout), read=timeout),
                                   preload_content=False)
        try:
            result.status = response.status
            result.response = response.read(LOGGED_RESPONSE).decode("utf-8", "replace")
            response.drain_conn()
        finally:
            response.release_conn()
    except netguard.RefusedConnection as exc:
        result.error = exc.refusal
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        result.error = netguard.refused(exc) or f"{type(exc).__name__}: {exc}"
    result.duration_ms = (time.perf_counter() - started) * 1000
    return result


# --- claiming -------------------------------------------------------------------------------------
ROW = ("pk", "body", "event_id")
P = WebhookMessage.State


def _open(endpoint_id: int, now):
    """Rows that go again under the webhook-id they had: a failed attempt now due, or a dead
    worker's (its lease ran out). Read through the small `webhook_open` index."""
    return WebhookMessage.objects.filter(
        Q(state=P.PENDING, next_attempt_at__lte=now) | Q(state=P.SENDING, lease_until__lt=now),
        Q(state__in=[P.PENDING, P.SENDING]) & ~Q(batch_id=""), endpoint_id=endpoint_id)


def _fresh(endpoint_id: int, now):
    return WebhookMessage.objects.filter(endpoint_id=endpoint_id, state=P.PENDING, next_attempt_at__lte=now,
                                         batch_id="").order_by("next_attempt_at", "pk")


def _lease_fresh(endpoint_id: int, now, lease, limit: int, batch_id: str | None) -> list[tuple]:
    """Lease the oldest never-tried rows in one statement (UPDATE … RETURNING: no id list goes
    back and forth); batch_id None gives each row its own event id."""
    table = connection.ops.quote_name(WebhookMessage._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET state = %s, lease_until = %s, batch_id = COALESCE(%s, event_id) "  # noqa: S608
            f"WHERE id IN (SELECT id FROM {table} WHERE endpoint_id = %s AND state = %s AND batch_id = '' "
            f"AND next_attempt_at <= %s ORDER BY next_attempt_at, id LIMIT %s) RETURNING id, body, event_id",
            [P.SENDING, lease, batch_id, endpoint_id, P.PENDING, now, limit])
        return sorted(cursor.fetchall())


def claim(endpoint_id: int) -> tuple[WebhookEndpoint | None, list[Unit], bool]:
    """Lease the next due rows of an endpoint; returns (endpoint, units, probe)."""
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().filter(pk=endpoint_id, enabled=True).first()
        if endpoint is None:
            return None, [], False
        now = timezone.now()
        probe = endpoint.paused_until is not None
        if probe and endpoint.paused_until > now:
            return endpoint, [], False  # the breaker is open
        lease = now + timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)
        units = []
        if endpoint.batch:
            retry = _open(endpoint.pk, now).values_list("batch_id", flat=True).first()
            if retry:
                rows = list(WebhookMessage.objects.filter(
                    endpoint_id=endpoint.pk, batch_id=retry, state__in=[P.PENDING, P.SENDING]).order_by("pk")
                    .values_list(*ROW))
                WebhookMessage.objects.filter(pk__in=[r[0] for r in rows]).update(state=P.SENDING, lease_until=lease)
                batch_id = retry
            else:
                batch_id = "bat_" + event_id()[4:]
                rows = _lease_fresh(endpoint.pk, now, lease, max(1, endpoint.batch_size), batch_id)
            if rows:
                units = [Unit(webhook_id=batch_id, rows=rows, batched=True)]
        else:
            limit = 1 if probe else UNBATCHED_CLAIM
            rows = list(_open(endpoint.pk, now).values_list(*ROW)[:limit])
            if rows:
                WebhookMessage.objects.filter(pk__in=[r[0] for r in rows]).update(state=P.SENDING, lease_until=lease)
            if len(rows) < limit:
                rows += _lease_fresh(endpoint.pk, now, lease, limit - len(rows), None)
            units = [Unit(webhook_id=r[2], rows=[r]) for r in rows]
        if probe and units:
            # Half-open: this worker's probe is the only request until it is answered.
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(paused_until=lease)
    return endpoint, units, probe


# --- recording ------------------------------------------------------------------------------------
def backoff(attempts: int) -> float:
    """Seconds before attempt `attempts + 1`: exponential, capped, with "equal jitter" (half
    fixed, half random), so a crowd of failures does not come back in step."""
    delay = min(settings.WEBHOOK_RETRY_MAX_SECONDS, settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1))
    return delay / 2 + random.uniform(0, delay / 2)


ATTEMPT_COLUMNS = ("endpoint_id", "webhook_id", "events", "request_headers", "request_body", "response_status",
                   "response_body", "error", "duration_ms", "created_at")


@transaction.atomic  # the log and the outcome together, and one commit (one WAL flush) per run
def _record(endpoint: WebhookEndpoint, results: list[Result], *, probe: bool, released: list[Unit]) -> None:
    now = timezone.now()
    copy_rows(WebhookAttempt, ATTEMPT_COLUMNS, [
        (endpoint.pk, r.unit.webhook_id, len(r.unit.rows), r.headers, r.body[:LOGGED_BODY].decode("utf-8", "replace"),
         r.status, r.response, r.error[:2000], round(r.duration_ms, 2), r.at) for r in results])
    for r in results:
        if r.ok and r.unit.batched:  # by its batch id (the webhook_open index), no list of ids to send
            WebhookMessage.objects.filter(endpoint_id=endpoint.pk, batch_id=r.unit.webhook_id,
                                          state=P.SENDING).update(state=P.DELIVERED, delivered_at=now,
                                                                  attempts=F("attempts") + 1, lease_until=None)
    _delivered([r.unit.rows[0][0] for r in results if r.ok and not r.unit.batched], now)
    failed = [r.unit for r in results if not r.ok]
    if failed:
        _retry_later([row[0] for unit in failed for row in unit.rows], failed, now)
    # Claimed but not tried (the breaker opened during this run): back to the queue as they were.
    back = [row[0] for unit in released for row in unit.rows]
    if back:
        WebhookMessage.objects.filter(pk__in=back).update(state=P.PENDING, lease_until=None)
    _breaker(endpoint, results, probe=probe, now=now)


def _delivered(pks: list[int], now) -> None:
    """One UPDATE for the run's delivered rows. The ids go as one array literal: the client-side
    cursor would otherwise quote each of a few hundred ids in Python."""
    if not pks:
        return
    table = connection.ops.quote_name(WebhookMessage._meta.db_table)
    ids = "{" + ",".join(map(str, pks)) + "}" if connection.vendor == "postgresql" else None
    if ids is None:
        WebhookMessage.objects.filter(pk__in=pks).update(state=P.DELIVERED, delivered_at=now,
                                                        attempts=F("attempts") + 1, lease_until=None)
        return
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET state = %s, delivered_at = %s, attempts = attempts + 1, "  # noqa: S608
                       f"lease_until = NULL WHERE id = ANY(%s::bigint[])", [P.DELIVERED, now, ids])


def _retry_later(pks: list[int], units: list[Unit], now) -> None:
    """Failed units go again after a backoff (one time per unit: a batch comes due, and goes
    again, as one), or fail for good past their window."""
    known = {pk: (attempts, expires_at) for pk, attempts, expires_at in
             WebhookMessage.objects.filter(pk__in=pks).values_list("pk", "attempts", "expires_at")}
    rows = []
    for unit in units:
        present = [row[0] for row in unit.rows if row[0] in known]
        if not present:
            continue
        retry_at = now + timedelta(seconds=backoff(max(known[pk][0] for pk in present) + 1))
        for pk in present:
            attempts, expires_at = known[pk]
            rows.append(WebhookMessage(pk=pk, attempts=attempts + 1, lease_until=None, next_attempt_at=retry_at,
                                       state=P.FAILED if retry_at >= expires_at else P.PENDING))
    WebhookMessage.objects.bulk_update(rows, ["attempts", "lease_until", "next_attempt_at", "state"], batch_size=500)


def _breaker(endpoint: WebhookEndpoint, results: list[Result], *, probe: bool, now) -> None:
    if not results:
        return
    trailing = 0  # failures since the last success, in the order they were sent
    for r in results:
        trailing = 0 if r.ok else trailing + 1
    any_ok = any(r.ok for r in results)
    ep = WebhookEndpoint.objects.filter(pk=endpoint.pk)
    if any_ok and not trailing:
        if endpoint.consecutive_failures or probe or endpoint.paused_until:
            ep.update(consecutive_failures=0, paused_until=None, pauses=0)
        return
    with transaction.atomic():
        current = ep.select_for_update().values_list("consecutive_failures", "pauses").first()
        if current is None:
            return
        failures = trailing if any_ok else current[0] + trailing
        pauses = 0 if any_ok else current[1]
        if probe or failures >= settings.WEBHOOK_BREAKER_FAILURES:
            pause = min(MAX_PAUSE, settings.WEBHOOK_BREAKER_PAUSE_SECONDS * 2 ** pauses)
            logger.warning("Webhook endpoint %s paused for %.0f s after %d failed requests", endpoint.pk, pause,
                           failures)
            ep.update(consecutive_failures=failures, paused_until=now + timedelta(seconds=pause), pauses=pauses + 1)
        else:
            ep.update(consecutive_failures=failures)


# --- draining -------------------------------------------------------------------------------------
def drain_endpoint_once(endpoint_id: int) -> tuple[int, int]:
    """Claim and send one round for an endpoint; returns (events tried, events delivered)."""
    endpoint, units, probe = claim(endpoint_id)
    if not units:
        return 0, 0
    keys = _keys(endpoint, timezone.now())
    results, released = [], []
    if len(units) == 1:
        results.append(_post(endpoint.url, keys, units[0]))
    else:
        # In waves, so an endpoint that stops answering trips the breaker after a wave, not
        # after every claimed row has waited for its timeout.
        wave = settings.WEBHOOK_CONCURRENCY
        threads = _threads()
        failures = endpoint.consecutive_failures
        for start in range(0, len(units), wave):
            if failures >= settings.WEBHOOK_BREAKER_FAILURES:
                released = units[start:]
                break
            batch = list(threads.map(lambda u: _post(endpoint.url, keys, u), units[start:start + wave]))
            results += batch
            for r in batch:
                failures = 0 if r.ok else failures + 1
    _record(endpoint, results, probe=probe, released=released)
    return sum(len(r.unit.rows) for r in results), sum(len(r.unit.rows) for r in results if r.ok)


def drain(*, seconds: float = 50.0, linger: float = 1.0) -> int:
    """Deliver what is due on every enabled endpoint until nothing is left (waiting up to `linger`
    seconds for more) or `seconds` have passed; returns the events delivered."""
    deadline = time.monotonic() + seconds
    idle_since = None
    total = 0
    while time.monotonic() < deadline:
        moved = 0
        for pk in WebhookEndpoint.objects.filter(enabled=True).values_list("pk", flat=True):
            tried, delivered = drain_endpoint_once(pk)
            moved += tried
            total += delivered
            if time.monotonic() >= deadline:
                break
        if moved:
            idle_since = None
            continue
        idle_since = idle_since or time.monotonic()
        if time.monotonic() - idle_since >= linger:
            break
        time.sleep(0.1)
    return total


def expire(*, now=None) -> int:
    """Fail pending rows past their window that nobody holds (an endpoint paused or disabled for
    the whole window); returns how many."""
    now = now or timezone.now()
    return WebhookMessage.objects.filter(Q(state=P.PENDING) | Q(state=P.SENDING, lease_until__lt=now),
                                         expires_at__lte=now).update(state=P.FAILED, lease_until=None)


def log_prune(*, now=None) -> tuple[int, int]:
    """Drop delivery-log rows and finished outbox rows older than WEBHOOK_LOG_DAYS."""
    before = (now or timezone.now()) - timedelta(days=settings.WEBHOOK_LOG_DAYS)
    attempts, _ = WebhookAttempt.objects.filter(created_at__lt=before).delete()
    messages, _ = WebhookMessage.objects.filter(created_at__lt=before, state__in=[P.DELIVERED, P.FAILED]).delete()
    return attempts, messages


# --- what the pages do ----------------------------------------------------------------------------
def endpoint_create(*, endpoint: WebhookEndpoint, user=None) -> str:
    """Save a new endpoint with a fresh secret; returns the secret (to show once)."""
    secret = signing.secret_generate()
    endpoint.secret, endpoint.created_by = secret, user
    endpoint.save()
    return secret


def secret_rotate(*, endpoint: WebhookEndpoint) -> str:
    """A new secret; the old one keeps signing beside it for the retry window, so a receiver can
    deploy the new one without rejecting events in flight. Returns the new secret (shown once)."""
    now = timezone.now()
    secret = signing.secret_generate()
    with transaction.atomic():
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            secret=secret, previous_secret=endpoint.secret, secret_rotated_at=now,
            previous_secret_until=now + timedelta(seconds=settings.WEBHOOK_RETRY_WINDOW_SECONDS))
        audit.record("rotate", endpoint, changes={"secret": audit.HIDDEN})
    return secret


def message_redeliver(*, message: WebhookMessage) -> None:
    """Send an event again now (delivered or failed): a fresh retry window, the same event id.
    Leaves a batch: it goes in the next one."""
    now = timezone.now()
    with transaction.atomic():
        audit.record("redeliver", message.endpoint, detail=f"{message.event_type} {message.event_id}")
        WebhookMessage.objects.filter(pk=message.pk).update(
            state=WebhookMessage.State.PENDING, next_attempt_at=now, lease_until=None, delivered_at=None,
            batch_id="", expires_at=now + timedelta(seconds=settings.WEBHOOK_RETRY_WINDOW_SECONDS))
        transaction.on_commit(_kick)


def endpoint_resume(*, endpoint: WebhookEndpoint) -> None:
    """Close the breaker by hand: the next run sends at once."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=0, paused_until=None, pauses=0)


def test_send(*, endpoint: WebhookEndpoint, user=None) -> None:
    """Queue a `webhook.test` event for this endpoint only."""
    with transaction.atomic():
        emit_many(TEST_EVENT, [{"endpoint": endpoint.name, "sent_by": getattr(user, "username", "")}],
                  endpoint_ids=[endpoint.pk])


def _kick() -> None:
    from .events import kick

    kick()
