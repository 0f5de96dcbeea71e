"""emit(): how the rest of Textcast reports an event to the webhook endpoints.

Call it inside the transaction that makes the change (a DLR applied, a click recorded, a
broadcast completed, a consent event written): the outbox rows commit or roll back with it, so
no event is sent for a change that did not happen, and none is lost for one that did. After the
commit a delivery task is queued (by name; beat's sweep is the safety net).

Cheap when nobody listens: one indexed query on the (tiny) endpoint table, and nothing else.
Batched callers use `emit_many`, which writes all rows of a batch with one multi-row INSERT.
"""

import json
import logging
import os
import time
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from .models import EVENT_TYPES, TEST_EVENT, WebhookEndpoint, WebhookMessage

TYPES = frozenset(name for name, _ in EVENT_TYPES) | {TEST_EVENT}
DELIVER_TASK = "messaging.tasks.deliver_webhooks"
logger = logging.getLogger(__name__)
_last_kick = [0.0]


def event_id() -> str:
    """Unique, and sortable by time: "evt_" + 12 hex digits of microseconds + 12 random."""
    return f"evt_{time.time_ns() // 1000:012x}{os.urandom(6).hex()}"


def envelope(event_type: str, payload: dict, *, at: datetime, id_: str) -> str:
    return json.dumps({"id": id_, "type": event_type, "timestamp": at.isoformat(), "data": payload},
                      separators=(",", ":"), default=str, ensure_ascii=False)


def subscribers() -> dict[str, list[int]]:
    """Event type → ids of the enabled endpoints that receive it."""
    by_type: dict[str, list[int]] = {}
    for pk, types in WebhookEndpoint.objects.filter(enabled=True).values_list("pk", "event_types"):
        for name in types or ():
            by_type.setdefault(name, []).append(pk)
    return by_type


def subscribed(event_type: str) -> bool:
    """Whether any enabled endpoint receives `event_type` (to skip building payloads at all)."""
    return event_type in subscribers()


def emit(event_type: str, payload: dict) -> int:
    """Record one event for every enabled endpoint subscribed to it; returns the rows written."""
    return emit_many(event_type, [payload])


def emit_many(event_type: str, payloads: Iterable[dict], *, endpoint_ids: list[int] | None = None) -> int:
    """Record events of one type (in the caller's transaction); `endpoint_ids` overrides the
    subscription (a test event for one endpoint)."""
    if event_type not in TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    targets = subscribers().get(event_type, []) if endpoint_ids is None else endpoint_ids
    if not targets:
        return 0
    now = timezone.now()
    expires = now + timedelta(seconds=settings.WEBHOOK_RETRY_WINDOW_SECONDS)
    rows = []  # in COLUMNS order: no model instances on the hot path
    for payload in payloads:
        id_ = event_id()
        body = envelope(event_type, payload, at=now, id_=id_)
        rows += [(pk, id_, event_type, body, now, "pending", 0, now, expires, "") for pk in targets]
    _insert(rows)
    if rows:
        transaction.on_commit(kick)
    return len(rows)


COLUMNS = ("endpoint_id", "event_id", "event_type", "body", "created_at", "state", "attempts", "next_attempt_at",
           "expires_at", "batch_id")


def _insert(rows: list[tuple]) -> None:
    copy_rows(WebhookMessage, COLUMNS, rows)


def copy_rows(model, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """PostgreSQL: COPY, several times cheaper than a multi-row INSERT (whose parameters the
    client-side cursor escapes one by one in Python); the DLR applier's hot path and the delivery
    log pay this. Elsewhere bulk_create."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create([model(**dict(zip(columns, row, strict=True))) for row in rows], batch_size=1000)
        return
    from psycopg.types.json import Jsonb

    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([Jsonb(v) if isinstance(v, dict) else v for v in row])


def kick() -> None:
    """Queue a delivery run, at most one per WEBHOOK_KICK_INTERVAL (0.5 s) per process: a running drain keeps
    going while there is work, and beat's sweep picks up anything a skipped kick would have."""
    now = time.monotonic()
    if now - _last_kick[0] < settings.WEBHOOK_KICK_INTERVAL:
        return
    _last_kick[0] = now
    from celery import current_app

    try:
        current_app.tasks[DELIVER_TASK].apply_async()
    except Exception:  # the broker is down: the events are safe in the outbox, beat's sweep sends them
        logger.warning("Could not queue a webhook delivery run", exc_info=True)
