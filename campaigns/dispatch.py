"""Sending a broadcast ourselves, through a generic HTTP provider (messaging.providers.generic).

Submitting fans the broadcast out into one QUEUED Message per recipient (one INSERT … SELECT) and
queues `campaigns.tasks.dispatch_broadcast`. That task is the broadcast's only sender at a time
(it holds `Broadcast.dispatch_lease`, renewed after every chunk) and works in chunks:

1. claim a chunk: one conditional UPDATE … RETURNING stamps `submitted_at` on QUEUED messages that
   have none (PostgreSQL: FOR UPDATE SKIP LOCKED). A QUEUED message with a `submitted_at` is
   *claimed*: it may be on the wire right now;
2. render each message, build its request and hand the chunk to the async sender, which keeps up
   to `max_concurrency` requests in flight and spaces starts by the rate cap. While one chunk is
   on the wire the next is claimed and the previous one recorded, so the database never stalls
   the pipe;
3. record the outcomes in one transaction: SUBMITTED (+ provider id), FAILED with the provider's
   answer, or UNKNOWN ("no answer after sending"), moving the broadcast's counters with F();
4. between chunks, read `dispatch_state`: pause and cancel stop claiming, finish what is in
   flight, and return. After `DISPATCH_RUN_SECONDS` the task re-queues itself, leaving room for
   other broadcasts' tasks and keeping well inside Celery's time limits.

At most once. A message is sent only by the worker that claimed it, and a claim is never taken
back while that worker may be alive (the lease). A worker that dies mid-chunk leaves claimed,
unrecorded messages: it may or may not have sent them. The next worker to take the lease finds
them and, unless the account says its provider de-duplicates by $$MessageID, marks them UNKNOWN
with `RECONCILE_NOTE` instead of sending them again — a late DLR (matched by our $$MessageID)
still moves them forward. When the provider does de-duplicate, they are released and resent:
the provider drops the copy. Either way none is lost and none is sent twice by us.
"""

import logging
import time
import uuid
from collections import defaultdict, deque
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from messaging.providers.generic.aio import AMBIGUOUS, FAILED, SENT, AsyncSender
from messaging.providers.generic.request import TEMPLATE, Record, RequestTemplate, TemplateError
from messaging.providers.whatsapp.templates import template_object
from recipients.models import Recipient
from recipients.selectors import phones_for_send

from . import rendering
from .models import Broadcast, Message
from .models.broadcasts import STATUS_RANK
from .sending import SubmissionProblem
from .signals import messages_identified
from .states import broadcast_transition, broadcast_transition_or_raise

logger = logging.getLogger(__name__)

S = Broadcast.State
M = Message.Status
RUNNING, PAUSED, CANCELLED, DONE = "running", "paused", "cancelled", "done"
CHUNK = 2000
RECIPIENT_FIELDS = ("phone", "first_name", "last_name", "email", "url", "custom", "custom1", "custom2", "custom3",
                    "custom4")
AMBIGUOUS_NOTE = "No answer after sending; not resent. Check with the provider whether it was sent."
RECONCILE_NOTE = "Interrupted while sending; not resent. Check with the provider whether it was sent."


def lease_seconds() -> int:
    return int(getattr(settings, "DISPATCH_LEASE_SECONDS", 120))


def chunk_size() -> int:
    return int(getattr(settings, "DISPATCH_CHUNK", CHUNK))


def run_seconds() -> float:
    return float(getattr(settings, "DISPATCH_RUN_SECONDS", 240))


# --- submitting --------------------------------------------------------------------------------------
def dispatch_submit(broadcast: Broadcast, *, actor=None) -> None:
    """Fan a generic-provider broadcast out into queued messages and start sending them.
    SubmissionProblem (noted on the broadcast): nothing was queued, fix the broadcast."""
    try:
        _submittable(broadcast)
    except SubmissionProblem as problem:
        Broadcast.objects.filter(pk=broadcast.pk).update(last_error=str(problem))
        raise
    if broadcast.state != S.SUBMITTING:
        broadcast_transition_or_raise(broadcast, S.SUBMITTING, actor=actor, reason="Queuing messages")
    with transaction.atomic():
        count = _messages_create_queued(broadcast)
        broadcast_transition(broadcast, S.SUBMITTED, reason=f"{count} messages queued for {broadcast.account}",
                             recipients_count=count, dispatch_state=RUNNING, last_error="")
    transaction.on_commit(lambda: _enqueue(broadcast.pk))


def _submittable(broadcast: Broadcast) -> None:
    config = getattr(broadcast.account, "generic", None)
    if config is None:
        raise SubmissionProblem("The provider account has no generic configuration.")
    if not broadcast.account.is_active:
        raise SubmissionProblem("The provider account is disabled.")
    if not (broadcast.body or broadcast.template_id or broadcast.whatsapp_template_id):
        raise SubmissionProblem("Write a message or choose a template.")
    if broadcast.type != Broadcast.Type.SINGLE and not broadcast.recipient_lists.exists():
        raise SubmissionProblem("Choose at least one recipient list.")
    if broadcast.type == Broadcast.Type.SINGLE and not broadcast.recipient:
        raise SubmissionProblem("Enter the recipient's number.")
    try:
        RequestTemplate(config)
    except TemplateError as exc:
        raise SubmissionProblem(f"The provider configuration is incomplete: {exc}") from None
    if config.channel == config.Channel.WHATSAPP:
        template = broadcast.whatsapp_template
        if template is None or template.account_id != broadcast.account_id:
            raise SubmissionProblem("Choose one of this WhatsApp account's approved templates.")


def _enqueue(broadcast_id: int, countdown: float | None = None) -> None:
    from .tasks import dispatch_broadcast

    dispatch_broadcast.apply_async((broadcast_id,), countdown=countdown)


def _messages_create_queued(broadcast: Broadcast) -> int:
    """One QUEUED message per recipient in one INSERT … SELECT; safe to repeat (unique per phone)."""
    if Message.objects.filter(broadcast=broadcast).exists():
        return Message.objects.filter(broadcast=broadcast).count()
    if broadcast.type == Broadcast.Type.SINGLE:
        Message.objects.create(account=broadcast.account, broadcast=broadcast, phone=broadcast.recipient)
        return 1
    phones = phones_for_send(
        recipient_list_ids=list(broadcast.recipient_lists.values_list("pk", flat=True)),
        unsubscribe_list_ids=list(broadcast.unsubscribe_lists.values_list("pk", flat=True)),
    )
    if broadcast.recipient_cap:
        phones = phones[: broadcast.recipient_cap]
    select_sql, params = phones.query.sql_with_params()
    table = Message._meta.db_table
    # Ordered client refs (broadcast id + row number), as campaigns.sending makes them.
    if connection.vendor == "postgresql":
        client_ref = "(lpad(to_hex(%s), 12, '0') || lpad(to_hex(row_number() OVER ()), 20, '0'))::uuid"
    else:
        client_ref = "printf('%%012x%%020x', %s, row_number() OVER ())"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (account_id, broadcast_id, phone, client_ref, provider_message_id, status, "  # noqa: S608
            "status_rank, error, clicks) "
            f"SELECT %s, %s, phones.phone, {client_ref}, '', %s, 0, '', 0 FROM ({select_sql}) AS phones",
            [broadcast.account_id, broadcast.pk, broadcast.pk, M.QUEUED, *params],
        )
        return cursor.rowcount


# --- pause, resume, cancel ---------------------------------------------------------------------------
def dispatch_pause(broadcast: Broadcast) -> bool:
    return bool(Broadcast.objects.filter(pk=broadcast.pk, dispatch_state=RUNNING).update(dispatch_state=PAUSED))


def dispatch_resume(broadcast: Broadcast) -> bool:
    resumed = Broadcast.objects.filter(pk=broadcast.pk, state=S.SUBMITTED, dispatch_state=PAUSED).update(
        dispatch_state=RUNNING)
    if resumed:
        transaction.on_commit(lambda: _enqueue(broadcast.pk))
    return bool(resumed)


def dispatch_cancel(broadcast: Broadcast) -> bool:
    """Stop sending; what was sent stays sent, the rest stays QUEUED and is never sent."""
    cancelled = Broadcast.objects.filter(pk=broadcast.pk, dispatch_state__in=(RUNNING, PAUSED)).update(
        dispatch_state=CANCELLED)
    if cancelled:
        transaction.on_commit(lambda: _enqueue(broadcast.pk))  # the sender finishes it under its lease
    return bool(cancelled)


# --- the sender --------------------------------------------------------------------------------------
def dispatch_run(broadcast_id: int) -> str:
    """Send a slice of the broadcast (see the module docstring). Returns what happened, for logs and tests."""
    broadcast = Broadcast.objects.select_related("account__generic", "template", "whatsapp_template").get(
        pk=broadcast_id)
    if broadcast.state != S.SUBMITTED or broadcast.dispatch_state not in (RUNNING, CANCELLED):
        return "idle"
    if not _lease_take(broadcast_id):
        return "busy"
    outcome = "crashed"
    try:
        config = broadcast.account.generic
        _reconcile_orphans(broadcast, dedupes=config.dedupes_message_id)
        state = Broadcast.objects.filter(pk=broadcast_id).values_list("dispatch_state", flat=True).get()
        if state == CANCELLED:
            outcome = _finish(broadcast, cancelled=True)
            return outcome
        outcome = _pump(broadcast, config)
        if outcome == "done":
            outcome = _finish(broadcast, cancelled=False)
        elif outcome == CANCELLED:
            outcome = _finish(broadcast, cancelled=True)
        return outcome
    finally:
        if outcome != "crashed":
            Broadcast.objects.filter(pk=broadcast_id).update(dispatch_lease=None)
        if outcome == "more":
            _enqueue(broadcast_id)


def _pump(broadcast: Broadcast, config) -> str:
    try:
        template = RequestTemplate(config)
    except TemplateError as exc:
        Broadcast.objects.filter(pk=broadcast.pk).update(dispatch_state=PAUSED, last_error=str(exc))
        return PAUSED
    body = broadcast.template.body if broadcast.template else broadcast.body
    renderer = rendering.compile(body)
    whatsapp = broadcast.whatsapp_template if config.channel == config.Channel.WHATSAPP else None
    list_ids = list(broadcast.recipient_lists.values_list("pk", flat=True))
    rate = config.rate_limit
    # A chunk takes at most ~10 s at the rate cap, so the lease (renewed per chunk) never lapses.
    size = max(1, min(chunk_size(), rate * 10 if rate else chunk_size()))
    if template.batch:
        size = max(size, template.batch_size)
    deadline = time.monotonic() + run_seconds()
    sender = AsyncSender(config)
    in_flight: deque = deque()
    outcome, claiming = "done", True
    try:
        while True:
            if claiming and len(in_flight) < 2:
                state = Broadcast.objects.filter(pk=broadcast.pk).values_list("dispatch_state", flat=True).get()
                if state != RUNNING:
                    outcome, claiming = state, False
                elif time.monotonic() > deadline:
                    outcome, claiming = "more", False
                else:
                    rows = _claim(broadcast.pk, size)
                    if rows:
                        jobs = _jobs(rows, template, renderer, list_ids, whatsapp)
                        in_flight.append((sender.submit(jobs), rows))
                        continue
                    claiming = False
            if not in_flight:
                return outcome
            future, rows = in_flight.popleft()
            _record(broadcast.pk, rows, _wait(future, broadcast.pk))
            _lease_renew(broadcast.pk)
    finally:
        sender.close()


def _wait(future, broadcast_id: int):
    """A chunk's outcomes. Retries honouring a long Retry-After can hold a chunk for minutes, so
    the lease is renewed while waiting: it must only run out when this worker is gone."""
    while True:
        try:
            return future.result(timeout=max(0.5, lease_seconds() / 4))
        except TimeoutError:
            _lease_renew(broadcast_id)


def _claim(broadcast_id: int, size: int) -> list[tuple[int, str, str]]:
    """Stamp up to `size` unclaimed QUEUED messages as claimed; returns (pk, phone, client_ref)."""
    table = Message._meta.db_table
    lock = "FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET submitted_at = %s WHERE id IN ("  # noqa: S608
            f"SELECT id FROM {table} WHERE broadcast_id = %s AND status = %s AND submitted_at IS NULL "
            f"ORDER BY phone LIMIT %s {lock}) RETURNING id, phone, client_ref",
            [timezone.now(), broadcast_id, M.QUEUED, size],
        )
        rows = cursor.fetchall()
    rows.sort()
    return [(pk, phone, str(uuid.UUID(str(ref)))) for pk, phone, ref in rows]


def _jobs(rows, template: RequestTemplate, renderer, list_ids: list[int], whatsapp=None) -> list:
    if renderer.static_text is not None:
        text = renderer.static_text
        records = [(pk, Record(phone, text, ref)) for pk, phone, ref in rows]
    else:
        fields = _recipient_fields([phone for _, phone, _ in rows], list_ids)
        records = [(pk, Record(phone, renderer(fields.get(phone) or {"phone": phone}), ref)) for pk, phone, ref in rows]
    if whatsapp is not None:
        # Each line of the rendered body fills one template variable, in order.
        return [(pk, template.single(record, objects={TEMPLATE: template_object(
            whatsapp, body_values=record.body.splitlines())}), 1) for pk, record in records]
    if not template.batch:
        return [(pk, template.single(record), 1) for pk, record in records]
    jobs = []
    for start in range(0, len(records), template.batch_size):
        group = records[start:start + template.batch_size]
        jobs.append((tuple(pk for pk, _ in group), template.batch_request([r for _, r in group]), len(group)))
    return jobs


def _recipient_fields(phones: list[str], list_ids: list[int]) -> dict[str, dict]:
    found: dict[str, dict] = {}
    for row in Recipient.objects.filter(recipient_list_id__in=list_ids, phone__in=phones).order_by(
            "recipient_list_id").values(*RECIPIENT_FIELDS):
        found.setdefault(row["phone"], row)
    return found


def _record(broadcast_id: int, rows, outcomes: dict) -> None:
    """Write a chunk's outcomes and move the broadcast's counters, in one transaction.

    Only rows still at rank 0 change: a DLR that beat us to a message already moved it (and
    counted it as sent), and counting it again would break the counters.
    """
    sent, provider_ids, ambiguous = [], {}, []
    failed: dict[str, list[int]] = defaultdict(list)
    for key, outcome in outcomes.items():
        pks = key if isinstance(key, tuple) else (key,)
        if outcome.kind == SENT:
            sent.extend(pks)
            if outcome.result.provider_message_id and len(pks) == 1:
                provider_ids[pks[0]] = outcome.result.provider_message_id
        elif outcome.kind == FAILED:
            failed[outcome.error[:2000]].extend(pks)
        elif outcome.kind == AMBIGUOUS:
            ambiguous.extend(pks)
    now = timezone.now()
    counts = {"sent": 0, "failed": 0, "unknown": 0}
    with transaction.atomic():
        todo = Message.objects.filter(status_rank=0)
        for chunk in _chunks(sorted(provider_ids.items())):
            counts["sent"] += _mark_sent_with_ids(chunk, now)
        plain = [pk for pk in sent if pk not in provider_ids]
        for chunk in _chunks(plain, 5000):
            counts["sent"] += todo.filter(pk__in=chunk).update(
                status=M.SUBMITTED, status_rank=STATUS_RANK[M.SUBMITTED], submitted_at=now)
        for error, pks in failed.items():
            n = todo.filter(pk__in=pks).update(status=M.FAILED, status_rank=STATUS_RANK[M.FAILED], status_at=now,
                                               error=error)
            counts["sent"] += n
            counts["failed"] += n
        if ambiguous:
            n = todo.filter(pk__in=ambiguous).update(status=M.UNKNOWN, status_rank=STATUS_RANK[M.UNKNOWN],
                                                     status_at=now, error=AMBIGUOUS_NOTE)
            counts["sent"] += n
            counts["unknown"] += n
        _count(broadcast_id, counts)
    if provider_ids:
        # A DLR that arrived before we knew the provider's id was kept pending: apply it now.
        transaction.on_commit(lambda: _apply_pending(list(provider_ids)))


def _mark_sent_with_ids(rows: list[tuple[int, str]], now) -> int:
    """SUBMITTED + the provider's id for each row still at rank 0, in one UPDATE … FROM (VALUES …)
    (PostgreSQL; SQLite ≥ 3.33): a CASE with a branch per row costs far more to build and plan.
    No WITH clause: Python's sqlite3 reports no rowcount for statements that do not start with UPDATE."""
    table = Message._meta.db_table
    values = ", ".join(["(CAST(%s AS BIGINT), %s)"] * len(rows))
    if connection.vendor == "postgresql":
        source, row_id, pid = f"(VALUES {values}) AS v (id, pid)", "v.id", "v.pid"
    else:
        source, row_id, pid = f"(VALUES {values}) AS v", "v.column1", "v.column2"
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET status = %s, status_rank = %s, submitted_at = %s, provider_message_id = {pid} "  # noqa: S608
            f"FROM {source} WHERE {table}.id = {row_id} AND {table}.status_rank = 0",
            [M.SUBMITTED, STATUS_RANK[M.SUBMITTED], now, *(x for row in rows for x in row)],
        )
        return cursor.rowcount


def _apply_pending(message_ids: list[int]) -> None:
    try:
        messages_identified.send(sender=Message, message_ids=message_ids)
    except Exception:
        logger.warning("Applying pending reports failed", exc_info=True)


def _count(broadcast_id: int, counts: dict) -> None:
    changes = {name: F(name) + n for name, n in counts.items() if n}
    if changes:
        Broadcast.objects.filter(pk=broadcast_id).update(**changes)


def _chunks(items, size: int = 500):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _lease_take(broadcast_id: int) -> bool:
    now = timezone.now()
    return bool(Broadcast.objects.filter(Q(dispatch_lease__isnull=True) | Q(dispatch_lease__lt=now), pk=broadcast_id)
                .update(dispatch_lease=now + timedelta(seconds=lease_seconds())))


def _lease_renew(broadcast_id: int) -> None:
    Broadcast.objects.filter(pk=broadcast_id).update(dispatch_lease=timezone.now() + timedelta(seconds=lease_seconds()))


def _reconcile_orphans(broadcast: Broadcast, *, dedupes: bool) -> int:
    """Claims left by a worker that died (we hold the lease, so no live worker owns them)."""
    orphans = Message.objects.filter(broadcast=broadcast, status=M.QUEUED, submitted_at__isnull=False)
    with transaction.atomic():
        if dedupes:
            return orphans.update(submitted_at=None)
        n = orphans.update(status=M.UNKNOWN, status_rank=STATUS_RANK[M.UNKNOWN], status_at=timezone.now(),
                           error=RECONCILE_NOTE)
        _count(broadcast.pk, {"sent": n, "unknown": n})
    if n:
        logger.warning("Broadcast %s: %d messages interrupted mid-send marked for reconciliation", broadcast.pk, n)
    return n


def _finish(broadcast: Broadcast, *, cancelled: bool) -> str:
    left = Message.objects.filter(broadcast=broadcast, status=M.QUEUED).count()
    reason = f"Cancelled; {left} messages not sent" if cancelled else "All messages handed to the provider"
    broadcast_transition(broadcast, S.COMPLETED, reason=reason, dispatch_state=CANCELLED if cancelled else DONE)
    return CANCELLED if cancelled else "done"


def dispatch_stalled_ids() -> list[int]:
    """Broadcasts that should be sending but have no live sender: its worker died (the lease ran
    out) or its task was lost. The sweep re-queues them; the new sender reconciles first."""
    return list(Broadcast.objects.filter(state=S.SUBMITTED, dispatch_state__in=(RUNNING, CANCELLED))
                .filter(Q(dispatch_lease__isnull=True) | Q(dispatch_lease__lt=timezone.now()))
                .values_list("pk", flat=True))


def dispatch_progress(broadcast: Broadcast) -> dict:
    """What the broadcast page shows while it sends (from the pre-aggregated counters)."""
    b = Broadcast.objects.filter(pk=broadcast.pk).values(
        "recipients_count", "sent", "failed", "unknown", "delivered", "dispatch_state").get()
    b["queued"] = max(0, b["recipients_count"] - b["sent"])
    return b

