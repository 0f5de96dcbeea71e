"""Recording callbacks and applying them to messages and broadcast counters.

The order is the webhook receiver's: the view authenticates and parses strictly, then
`callback_receive` stores the raw body, and applying de-duplicates and changes state.

Storing. With REDIS_URL set, the raw event goes onto a Redis stream (callbacks.buffer) and the
request is answered as soon as Redis has it; `manage.py drain_callbacks` moves the stream into
PostgreSQL in batches. Without Redis (local development) it is stored and applied right here, in
the request. Both end in `events_record`: the raw rows are inserted and applied in one
transaction; if applying fails they are still inserted, unapplied, for the pending sweep.

Applying (`_apply`), for a list of events, in one transaction:
1. resolve each report/click to a message (by our client_ref, the MessageWhiz broadcast id +
   recipient, or the provider's message id), with one query per kind of reference;
2. lock those messages (SELECT … FOR UPDATE, in id order so two appliers cannot deadlock) and read
   what they are now;
3. fold the events over them in order: a status moves only to a higher STATUS_RANK, so a
   duplicate or a late ENROUTE changes nothing; price and part count are each taken from the
   highest-ranked report carrying them (at equal rank the larger value: `report_figure`),
   whichever report moved the status and in whatever order they came; a click counts once per
   (message, link, time);
4. write the changed messages with one conditional UPDATE per 5,000 rows (`status_rank < new
   rank`; the rows travel as one JSON parameter), insert the new clicks, move each broadcast's
   counters by the difference between the locked "before" and the "after", with F() expressions,
   and add the status changes per minute and clicks per link (the page's timeline) with one
   upsert each, in the same transaction.
Counters therefore equal a recount from the raw events (callbacks.selectors.recount) under any
concurrency, and a batch of thousands of events costs a dozen statements.

An event naming a message we do not know yet (the provider was faster than our write of its id)
keeps applied_at empty, and the keys it names its messages by are kept beside it
(EventReference). Campaign code that has just created messages or stored provider ids calls
`apply_pending_for(message_ids=…)` (through the `messages_identified` signal): it looks those
messages' keys up and applies only the events that name them. `apply_pending`, the periodic
sweep (beat, and every drainer), retries every waiting event as a safety net.
"""

import json
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import orjson
from django.db import DatabaseError, connection, transaction
from django.db.models import Case, F, FloatField, Value, When
from django.db.models.functions import Cast
from django.utils import timezone

from campaigns.dispatch import dispatch_reports_settle
from campaigns.models import Broadcast, Message
from campaigns.models.broadcasts import STATUS_RANK
from campaigns.retries import retries_on_reports

from . import buffer, parsing
from .matching import CHUNK, among, chunks, db_chunks, message_references, references, resolve, stored_parse
from .models import BroadcastLink, BroadcastMinute, CallbackEvent, Click, EventReference
from .selectors import BUCKETS, PENDING_MAX_AGE, report_figure
from .webhooks import applied_emit

logger = logging.getLogger(__name__)

ROWS_PER_UPDATE = 5000


@dataclass
class Outcome:
    events: int = 0
    status_changes: int = 0
    clicks: int = 0
    pending: int = 0  # events naming a message we do not know (yet)

    def __iadd__(self, other: "Outcome"):
        for name in ("events", "status_changes", "clicks", "pending"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self


def callback_receive(*, account_id: int, parsed: parsing.Parsed, body: str) -> None:
    """Store one accepted callback (the view has authenticated and validated it)."""
    if buffer.enabled():
        buffer.push(account_id=account_id, kind=parsed.kind, dedupe_key=parsed.dedupe_key, body=body,
                    received_at=timezone.now())
    else:
        event = CallbackEvent(account_id=account_id, kind=parsed.kind, body=body, dedupe_key=parsed.dedupe_key,
                              received_at=timezone.now())
        events_record([event], parsed=[parsed])


def events_record(events: list[CallbackEvent], *, parsed: list[parsing.Parsed] | None = None) -> Outcome:
    """Insert raw events and apply them in one transaction; if applying fails, insert them
    unapplied (the pending sweep retries them). Raises only if they cannot be stored at all."""
    try:
        with transaction.atomic():
            return _apply(events, parsed=parsed, then=lambda waiting: _insert(events, waiting))
    except Exception:
        logger.exception("Applying %d callback events failed; storing them for a retry", len(events))
    for event in events:
        event.applied_at = None
    with transaction.atomic():
        _insert(events, {})
    return Outcome(events=len(events), pending=len(events))


def _insert(events: list[CallbackEvent], waiting: dict[int, list[str]]) -> None:
    """Insert raw events, leaving out stream entries stored before (a drainer that died after its
    commit but before acknowledging them: Redis hands them out again), and the keys of those
    still waiting for a message (`waiting`: index in `events` → keys)."""
    entries = [event.buffer_id for event in events if event.buffer_id]
    stored = set(CallbackEvent.objects.filter(buffer_id__in=entries).values_list("buffer_id", flat=True)) \
        if entries else set()
    fresh = [(index, event) for index, event in enumerate(events) if event.buffer_id not in stored]
    # Waiting events need their ids for their keys: an INSERT … RETURNING; they are few.
    keyed = [event for index, event in fresh if waiting.get(index)]
    CallbackEvent.objects.bulk_create(keyed)
    EventReference.objects.bulk_create(
        [EventReference(event_id=event.pk, key=key) for index, event in fresh for key in waiting.get(index, ())],
        batch_size=CHUNK)
    rest = [event for index, event in fresh if not waiting.get(index)]
    if connection.vendor != "postgresql":
        CallbackEvent.objects.bulk_create(rest, batch_size=CHUNK)
        return
    names = [f.attname for f in CallbackEvent._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(CallbackEvent._meta.get_field(n).column) for n in names)
    # COPY takes long bodies as they are: several times faster than a multi-row INSERT, whose
    # literals psycopg has to escape. (Two drainers racing for one entry hit the unique buffer_id
    # and roll back; the entry is retried once the other has committed.)
    with connection.cursor() as cursor, cursor.copy(
            f"COPY {CallbackEvent._meta.db_table} ({columns}) FROM STDIN") as copy:
        for event in rest:
            copy.write_row([getattr(event, name) for name in names])  # psycopg adapts str, int, datetime


def apply_pending(*, account_ids=None, since: datetime | None = None, chunk: int = 200) -> Outcome:
    """Retry the events still waiting for their message (the periodic sweep)."""
    events = CallbackEvent.objects.filter(applied_at__isnull=True,
                                          received_at__gte=since or timezone.now() - PENDING_MAX_AGE)
    if account_ids is not None:
        events = events.filter(account_id__in=list(account_ids))
    return _reapply(events, chunk=chunk)


def apply_pending_for(*, message_ids=(), broadcast_remote_ids=()) -> Outcome:
    """Apply what was waiting for these messages (or for every message of these MessageWhiz
    broadcasts), and only that: call after creating messages or storing their provider ids (outside
    the transaction that did it, so the rows are visible). Costs a lookup of the messages' keys,
    however many other events are waiting; one indexed probe when none is (the sender calls this
    for every batch it learns provider ids for)."""
    if not EventReference.objects.exists():
        return Outcome()
    keys = {f"B:{remote_id}" for remote_id in broadcast_remote_ids}
    for chunk in chunks(sorted(set(message_ids))):
        keys |= message_references(Message.objects.filter(pk__in=chunk).values_list(
            "client_ref", "provider_message_id", "broadcast__remote_id", "phone"))
    event_ids = set()
    for chunk in chunks(sorted(keys)):
        event_ids.update(EventReference.objects.filter(key__in=chunk).values_list("event_id", flat=True))
    total = Outcome()
    for chunk in chunks(sorted(event_ids), 200):
        total += _apply_stored(list(CallbackEvent.objects.filter(pk__in=chunk, applied_at__isnull=True).order_by("pk")))
    return total


def replay(*, since: datetime | None = None, account_ids=None, chunk: int = 200) -> Outcome:
    """Apply stored events again, applied or not; changes nothing that was already applied."""
    events = CallbackEvent.objects.all()
    if since is not None:
        events = events.filter(received_at__gte=since)
    if account_ids is not None:
        events = events.filter(account_id__in=list(account_ids))
    return _reapply(events, chunk=chunk)


def _reapply(events, *, chunk: int) -> Outcome:
    total, last = Outcome(), 0
    while batch := list(events.filter(pk__gt=last).order_by("pk")[:chunk]):
        last = batch[-1].pk
        total += _apply_stored(batch)
    return total


def _apply_stored(events: list[CallbackEvent]) -> Outcome:
    if not events:
        return Outcome()
    def mark_applied(_waiting):
        newly = [e.pk for e in events if e.applied_at]
        CallbackEvent.objects.filter(pk__in=newly, applied_at__isnull=True).update(applied_at=timezone.now())
        EventReference.objects.filter(event_id__in=newly).delete()

    try:
        with transaction.atomic():
            return _apply(events, then=mark_applied)
    except Exception:
        if len(events) == 1:
            logger.exception("Could not apply callback event %s", events[0].pk)
            return Outcome(events=1, pending=1)
    # One bad event must not hold back the others.
    total = Outcome()
    for event in events:
        total += _apply_stored([event])
    return total


# --- applying -----------------------------------------------------------------------------------
@dataclass
class _Message:
    """A locked message: what it was, and what the events make of it."""

    pk: int
    broadcast_id: int | None
    status: str
    rank: int
    price: Decimal | None
    provider_message_id: str
    clicks: int
    parts: int | None
    price_rank: int
    parts_rank: int
    at: datetime | None = None
    was: tuple = ()
    learned_id: bool = False

    def __post_init__(self):
        self.was = (self.status, self.rank, self.price, self.clicks, self.parts)

    def figures_changed(self) -> bool:
        return (self.price, self.parts) != (self.was[2], self.was[4])


@dataclass
class _Timeline:
    """What the applied events add to the broadcasts' timelines."""

    minutes: Counter = field(default_factory=Counter)  # (broadcast, minute, status) → status changes
    links: Counter = field(default_factory=Counter)  # (broadcast, link) → clicks
    people: Counter = field(default_factory=Counter)  # (broadcast, link) → messages clicking it the first time


def _apply(events: list[CallbackEvent], *, then, parsed: list[parsing.Parsed] | None = None) -> Outcome:
    """Apply events in order (caller holds a transaction); sets each event's applied_at to now,
    or to None while it names a message we do not know.

    `then(waiting)` runs after the messages are written and before the rows every applier shares
    (broadcast counters, timeline), so those stay locked only for the last statements before the
    commit; `waiting` has the keys of the messages each waiting event names (index in `events`)."""
    now = timezone.now()
    if parsed is None:
        parsed = stored_parse((event.account_id, event.kind, event.body) for event in events)
    work = list(zip(events, parsed, strict=True))
    refs = resolve([(event.account_id, item) for event, p in work for item in p.items])
    messages = _lock(refs.pks())
    seen_clicks = _clicks_recorded(messages) if any(p.kind == "click" for _, p in work) else set()
    clicked_links = {(pk, link) for pk, link, _ in seen_clicks}
    new_clicks: list[Click] = []
    timeline = _Timeline()
    waiting: dict[int, list[str]] = {}

    outcome = Outcome(events=len(events))
    for index, (event, p) in enumerate(work):
        keys = []
        for item in p.items:
            pk = refs.message(event.account_id, item)
            if pk is None or pk not in messages:
                keys += references(item)
                continue
            message = messages[pk]
            if isinstance(item, parsing.Report):
                if _report(message, item, event.received_at) and message.broadcast_id:
                    minute = message.at.astimezone(UTC).replace(second=0, microsecond=0)
                    timeline.minutes[(message.broadcast_id, minute, message.status)] += 1
            elif (pk, item.link_id, item.at) not in seen_clicks:
                seen_clicks.add((pk, item.link_id, item.at))
                new_clicks.append(Click(message_id=pk, link_id=item.link_id, clicked_at=item.at,
                                        unique_click=item.unique))
                message.clicks += 1
                if message.broadcast_id:
                    timeline.links[(message.broadcast_id, item.link_id)] += 1
                    if (pk, item.link_id) not in clicked_links:
                        clicked_links.add((pk, item.link_id))
                        timeline.people[(message.broadcast_id, item.link_id)] += 1
        event.applied_at = None if keys else now
        if keys:
            waiting[index] = sorted(set(keys))
        outcome.pending += bool(keys)

    changed = [m for m in messages.values() if m.rank > m.was[1]]
    _write_statuses(changed)
    # Undelivered messages of broadcasts with a retry policy: their retry is queued once this
    # commits, after the policy's wait (the every-minute sweep catches any task lost on the way).
    if retries := retries_on_reports((m.pk, m.broadcast_id, m.status) for m in changed):
        transaction.on_commit(lambda: _retries_queue(retries))
    _write_learned_ids([m for m in messages.values() if m.learned_id and m.rank == m.was[1]])
    _write_figures([m for m in messages.values() if m.rank == m.was[1] and m.figures_changed()])
    Click.objects.bulk_create(new_clicks, batch_size=CHUNK)
    _write_clicks([m for m in messages.values() if m.clicks != m.was[3]])
    applied_emit(changed, new_clicks, messages)  # outbound webhooks, in this transaction
    then(waiting)
    _write_counters(messages.values())
    _write_timeline(timeline)
    outcome.status_changes, outcome.clicks = len(changed), len(new_clicks)
    return outcome


def _retries_queue(due: dict[int, int]) -> None:
    from campaigns.tasks import retry_undelivered

    for broadcast_id, wait in due.items():
        retry_undelivered.apply_async((broadcast_id,), countdown=wait or None)


def _report(message: _Message, report: parsing.Report, received_at: datetime) -> bool:
    """Fold one report into the message; True when it moved the status."""
    if report.message_id and not message.provider_message_id and not (report.broadcast_id and report.client_ref):
        # Clicks name a message only by the provider's id: keep the one a DLR told us (a /sms
        # DLR found by client_ref before campaigns stored the answer, or a broadcast's webhook
        # _id). A /sms message's webhook entry has an _id of its own, not the one clicks use.
        message.provider_message_id, message.learned_id = report.message_id, True
    rank = STATUS_RANK[report.status]
    message.price, message.price_rank = report_figure(message.price, message.price_rank, report.price, rank)
    message.parts, message.parts_rank = report_figure(message.parts, message.parts_rank, report.parts, rank)
    if rank <= message.rank:
        return False  # a repeat, or news older than what we know: final statuses are final
    message.status, message.rank, message.at = report.status, rank, report.at or received_at
    return True


def _lock(pks: set[int]) -> dict[int, _Message]:
    messages = {}
    for chunk in db_chunks(sorted(pks)):
        rows = Message.objects.select_for_update().filter(among(Message, "id", chunk)).order_by("pk").values_list(
            "pk", "broadcast_id", "status", "status_rank", "price", "provider_message_id", "clicks", "parts",
            "price_rank", "parts_rank")
        messages.update({row[0]: _Message(*row) for row in rows})
    return messages


def _clicks_recorded(pks: list[int]) -> set[tuple]:
    seen = set()
    for chunk in db_chunks(sorted(pks)):
        seen.update(Click.objects.filter(among(Click, "message", chunk)).values_list(
            "message_id", "link_id", "clicked_at"))
    return seen


def _write_statuses(changed: list[_Message]) -> None:
    # Forward only (status_rank < the new rank), and the counters below assume every row moved:
    # holding the row locks, a shortfall means a bug, and the whole transaction is undone.
    db_time = _db_time()
    for chunk in chunks(changed, ROWS_PER_UPDATE):
        rows = [{"id": m.pk, "status": m.status, "rank": m.rank, "at": db_time(m.at),
                 "provider_id": m.provider_message_id, **_figures(m)} for m in chunk]
        updated = _update_from_rows(
            "status = v.status, status_rank = v.rank, status_at = v.at, provider_message_id = v.provider_id, "
            + FIGURES_SET, "{table}.status_rank < v.rank", rows,
            {"id": "bigint", "status": "text", "rank": "integer", "at": "timestamptz", "provider_id": "text",
             **FIGURES_COLUMNS})
        if updated != len(chunk):
            raise DatabaseError(f"{len(chunk) - updated} messages moved under a lock")


FIGURES_SET = "price = v.price, price_rank = v.price_rank, parts = v.parts, parts_rank = v.parts_rank"
FIGURES_COLUMNS = {"price": "numeric", "price_rank": "integer", "parts": "integer", "parts_rank": "integer"}


def _figures(m: _Message) -> dict:
    return {"price": None if m.price is None else str(m.price), "price_rank": m.price_rank, "parts": m.parts,
            "parts_rank": m.parts_rank}


def _write_figures(messages: list[_Message]) -> None:
    """Price and parts a report carried without moving the status (we hold the rows' locks)."""
    for chunk in chunks(messages, ROWS_PER_UPDATE):
        _update_from_rows(FIGURES_SET, "{table}.status_rank = v.rank",
                          [{"id": m.pk, "rank": m.rank, **_figures(m)} for m in chunk],
                          {"id": "bigint", "rank": "integer", **FIGURES_COLUMNS})


def _write_learned_ids(messages: list[_Message]) -> None:
    """Provider ids learned by messages whose status did not move (the status UPDATE writes the rest)."""
    for chunk in chunks(messages, ROWS_PER_UPDATE):
        _update_from_rows("provider_message_id = v.provider_id", "{table}.provider_message_id = ''",
                          [{"id": m.pk, "provider_id": m.provider_message_id} for m in chunk],
                          {"id": "bigint", "provider_id": "text"})


def _update_from_rows(assignments: str, condition: str, rows: list[dict], columns: dict[str, str]) -> int:
    """UPDATE messages from a list of rows in one statement (the rows travel as one JSON value,
    read as a table `v`): thousands of rows per round trip, no per-row SQL to build or parse."""
    table = connection.ops.quote_name(Message._meta.db_table)
    if connection.vendor == "postgresql":
        source = f"jsonb_to_recordset(%s::jsonb) AS v({', '.join(f'{c} {t}' for c, t in columns.items())})"
    else:
        picks = ", ".join(f"json_extract(value, '$.{c}') AS {c}" for c in columns)
        source = f"(SELECT {picks} FROM json_each(%s)) AS v"  # noqa: S608 - our own column names
    sql = (f"UPDATE {table} SET {assignments} FROM {source} "  # noqa: S608 - no user input in the SQL text
           f"WHERE {table}.id = v.id AND {condition}").replace("{table}", table)
    # orjson: several times faster than json for thousands of rows, and writes datetimes itself.
    payload = orjson.dumps(rows).decode() if connection.vendor == "postgresql" else json.dumps(rows)
    with connection.cursor() as cursor:
        cursor.execute(sql, [payload])
        return cursor.rowcount


def _db_time():
    """datetime → text as the database stores it, for the JSON rows (SQLite keeps naive UTC text).
    Looked up once per batch: `connection` is a thread-local proxy, costly per row."""
    if connection.vendor == "postgresql":
        return _as_is  # the JSON encoder writes ISO 8601 with the offset
    return connection.ops.adapt_datetimefield_value


def _as_is(value):
    return value


def _write_clicks(messages: list[_Message]) -> None:
    by_increment = defaultdict(list)
    for message in messages:
        by_increment[message.clicks - message.was[3]].append(message.pk)
    for increment, pks in by_increment.items():
        for chunk in chunks(pks):
            Message.objects.filter(pk__in=chunk).update(clicks=F("clicks") + increment)


def _write_counters(messages) -> None:
    deltas: dict[int, Counter] = defaultdict(Counter)
    for m in messages:
        if m.broadcast_id is None:
            continue
        was_status, was_rank, was_price, was_clicks, _ = m.was
        delta = deltas[m.broadcast_id]
        if was_rank == 0 and m.rank > 0:
            delta["sent"] += 1  # it reached the provider without campaigns having counted it
        if (before := BUCKETS.get(was_status)) != (after := BUCKETS.get(m.status)):
            delta[before] -= 1
            delta[after] += 1
        delta["cost"] += (m.price or 0) - (was_price or 0)
        delta["clicks_total"] += m.clicks - was_clicks
        if was_clicks == 0 and m.clicks > 0:
            delta["clicks_unique"] += 1
    # Broadcasts after messages and in id order: the same lock order in every applier.
    for broadcast_id in sorted(deltas):
        delta = deltas[broadcast_id]
        changes = {name: F(name) + value for name, value in delta.items() if name and value}
        if delta["clicks_unique"]:
            changes["conversion"] = Case(
                When(recipients_count=0, then=Value(None)),
                default=Cast(F("clicks_unique") + delta["clicks_unique"], FloatField()) * 100.0 / F("recipients_count"),
                output_field=FloatField(),
            )
        if changes:
            Broadcast.objects.filter(pk=broadcast_id).update(**changes)
    # Our own sends (generic providers) complete with their last delivery report.
    dispatch_reports_settle(sorted(deltas))


def _write_timeline(timeline: _Timeline) -> None:
    """Add to the per-minute and per-link rows: one upsert per table, rows in key order (the lock
    order every applier shares)."""
    db_time = _db_time()
    _add_rows(BroadcastMinute, ("broadcast_id", "minute", "status"), ("changes",),
              [(b, db_time(minute), status, n) for (b, minute, status), n in sorted(timeline.minutes.items())])
    _add_rows(BroadcastLink, ("broadcast_id", "link_id"), ("clicks", "people"),
              [(b, link, n, timeline.people[(b, link)]) for (b, link), n in sorted(timeline.links.items())])


def _add_rows(model, keys: tuple[str, ...], amounts: tuple[str, ...], rows: list[tuple]) -> None:
    """INSERT the rows, or add their amounts to the rows already there (PostgreSQL and SQLite)."""
    table = connection.ops.quote_name(model._meta.db_table)
    columns = (*keys, *amounts)
    additions = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in amounts)
    with connection.cursor() as cursor:
        for chunk in chunks(rows, 500):
            values = ", ".join(["(" + ", ".join(["%s"] * len(columns)) + ")"] * len(chunk))
            cursor.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES {values} "  # noqa: S608 - our names
                           f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {additions}",
                           [value for row in chunk for value in row])
