"""Resending what was not delivered, once, through another route.

A broadcast's retry policy (messaging.models.RetryPolicy: copied from its account's default when
composed) names the final statuses that count as undelivered, an optional "no report after T",
how long to wait, and the route: another provider account (generic or MessageWhiz) and, for
MessageWhiz, another sender or sender list.

Which messages are retried — never one the provider may still deliver:
- a final status the policy names (undelivered, expired, rejected, failed): final statuses are
  final (a message's status only moves forward), so the provider will not deliver it any more;
  it is retried `retry_wait_minutes` after that status came;
- "no report after T": only a message still *submitted* — the provider took it and has sent no
  report of any kind — T minutes after it was sent, and T is never shorter than
  RETRY_NO_REPORT_MIN_MINUTES (a carrier's validity period; the compose form says so). En route or
  accepted (the carrier is still trying), unknown (we do not know whether it left), queued or
  sending are never retried;
- never a retry itself (retry broadcasts have no policy), never twice (`Message.retry_of` is unique),
  never a number that opted out of the original account. Everything else the one policy check
  decides on the retry's own route (campaigns.policy: its opt-outs, quiet hours — a retry outside
  its recipient's window waits for it — and caps), as for any message.

Routes:
- a generic account: one child broadcast (`role=RETRY`) on it, whose messages are the retries —
  QUEUED rows with `retry_of`, added as originals fall due and sent by campaigns.dispatch (lease,
  claim, Gate, exactly once), reopening the child when it had finished;
- a MessageWhiz account: once, `retry_wait_minutes` after the original was sent (the reports in by
  then decide who is in it), a child base broadcast to a new recipient list of the numbers due,
  uploaded by the list push; it is submitted (campaigns.sending) once MessageWhiz has the list and
  its recipients' window is open, and its messages are then linked to the originals.
Either way a broadcast has at most one retry child (a unique constraint).

A retry made for "no report after T" whose original reports after all (en route, accepted,
delivered) before the retry has started — it may wait hours for its window — is withdrawn.

Triggers: applying delivery reports (callbacks.services) asks `retries_on_reports`, one query by
primary keys, and queues `campaigns.tasks.retry_undelivered` on commit; beat runs `retry_sweep` every
minute over every broadcast still within RETRY_HORIZON_HOURS of sending, so nothing is lost when a
worker dies.
"""

import logging
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q, Subquery
from django.utils import timezone

from messaging.mirror import SyncState
from messaging.models import ProviderAccount
from messaging.sync.push import mirror_changed
from recipients.models import Recipient, RecipientList, Suppression

from . import policy
from .models import Broadcast, Message
from .states import broadcast_reopen, broadcast_transition

logger = logging.getLogger(__name__)

S = Broadcast.State
M = Message.Status
UNDELIVERED = frozenset({M.UNDELIVERED, M.EXPIRED, M.REJECTED, M.FAILED})
STILL_ON_ITS_WAY = frozenset({M.ENROUTE, M.ACCEPTED, M.DELIVERED})
RECIPIENT_FIELDS = ("first_name", "last_name", "email", "url", "custom", "custom1", "custom2", "custom3", "custom4")
CHUNK = 2000
DISPATCH, SUBMIT = "dispatch", "submit"


def no_report_min_minutes() -> int:
    return int(getattr(settings, "RETRY_NO_REPORT_MIN_MINUTES", 24 * 60))


def horizon() -> timedelta:
    return timedelta(hours=float(getattr(settings, "RETRY_HORIZON_HOURS", 7 * 24)))


def retry_policy_copy(source, target) -> None:
    """Copy a retry policy (an account's default onto a new broadcast)."""
    for name in ProviderAccount.RETRY_FIELDS:
        field = ProviderAccount._meta.get_field(name)
        setattr(target, field.attname, getattr(source, field.attname))


def route_account(broadcast: Broadcast) -> ProviderAccount:
    return broadcast.retry_account or broadcast.account


# --- triggers ----------------------------------------------------------------------------------------
def retries_on_reports(changes: Iterable[tuple[int, int | None, str]]) -> dict[int, int]:
    """What delivery reports just did ((message pk, broadcast id, new status) triples, inside the
    transaction applying them) means for retries. Returns the broadcasts whose policy retries one
    of the new statuses: id → seconds to wait (the caller queues them on commit). And a message
    retried for "no report after T" that reports after all (en route, accepted, delivered) was
    not lost: its retry, if it has not started, is withdrawn. One query by primary keys (none
    without a status that matters), and one more only for "no report" policies."""
    changes = [c for c in changes if c[1] is not None and c[2] in UNDELIVERED | STILL_ON_ITS_WAY]
    if not changes:
        return {}
    policies = {pk: (set(wanted or ()), wait, no_report) for pk, wanted, wait, no_report in Broadcast.objects.filter(
        pk__in=sorted({b for _, b, _ in changes}), retry_enabled=True, role="").values_list(
        "pk", "retry_statuses", "retry_wait_minutes", "retry_no_report_minutes")}
    due, reported = {}, []
    for pk, broadcast_id, status in changes:
        if (policy_of := policies.get(broadcast_id)) is None:
            continue
        wanted, wait, no_report = policy_of
        if status in wanted:
            due[broadcast_id] = wait * 60
        elif status in STILL_ON_ITS_WAY and no_report is not None:
            reported.append(pk)
    if reported:
        _withdraw(reported)
    return due


def _withdraw(original_pks: list[int]) -> int:
    """Remove the not yet started retries of these originals (a claimed one is never marked sending
    once its row is gone: dispatch treats it like one a report moved), with the child's counters."""
    rows = list(Message.objects.select_for_update().filter(retry_of_id__in=sorted(original_pks), status=M.QUEUED)
                .order_by("pk").values_list("pk", "broadcast_id", "not_before"))
    if not rows:
        return 0
    Message.objects.filter(pk__in=[pk for pk, _, _ in rows], status=M.QUEUED).delete()
    per_child: dict[int, list[int]] = {}
    for _, child_id, not_before in rows:
        counts = per_child.setdefault(child_id, [0, 0])
        counts[0] += 1
        counts[1] += not_before is not None
    for child_id, (count, held) in sorted(per_child.items()):
        Broadcast.objects.filter(pk=child_id).update(recipients_count=F("recipients_count") - count,
                                                     held=F("held") - held)
    logger.info("Withdrew %d retries whose originals reported after all", len(rows))
    return len(rows)


def retry_due_ids() -> list[int]:
    """Broadcasts whose retries may be due (beat's sweep): retrying, sent within the horizon."""
    return list(Broadcast.objects.filter(
        retry_enabled=True, role="", state__in=(S.SUBMITTED, S.COMPLETED),
        submitted_at__gte=timezone.now() - horizon()).values_list("pk", flat=True))


# --- which messages are due --------------------------------------------------------------------------
def due_originals(parent: Broadcast, *, now, waited: bool = False):
    """The parent's messages that are due for their retry now (see the module docstring);
    `waited`: the wait is counted from the parent's sending, not from each status."""
    statuses = [s for s in (parent.retry_statuses or ()) if s in UNDELIVERED]
    wait = timedelta(minutes=parent.retry_wait_minutes)
    due = Q(status__in=statuses) if waited else Q(status__in=statuses, status_at__lte=now - wait)
    if parent.retry_no_report_minutes is not None:
        after = timedelta(minutes=max(parent.retry_no_report_minutes, no_report_min_minutes()))
        due |= Q(status=M.SUBMITTED, submitted_at__lte=now - (after if waited else max(after, wait)))
    opted_out = Suppression.objects.filter(account_id=parent.account_id, phone=OuterRef("phone"))
    retried = Message.objects.filter(retry_of=OuterRef("pk"))
    return (Message.objects.filter(broadcast=parent).filter(due)
            .exclude(Exists(retried)).exclude(Exists(opted_out)))


# --- running -----------------------------------------------------------------------------------------
def retries_run(broadcast_id: int) -> list[tuple[str, int]]:
    """Create what is due of one broadcast's retries; returns what to start: (DISPATCH or SUBMIT,
    child id). Safe to run any number of times, concurrently too."""
    parent = Broadcast.objects.select_related("account", "retry_account").filter(
        pk=broadcast_id, retry_enabled=True, role="").first()
    if parent is None or parent.state not in (S.SUBMITTED, S.COMPLETED) or parent.submitted_at is None:
        return []
    route = route_account(parent)
    if not route.is_active:
        return []
    now = timezone.now()
    if route.kind == ProviderAccount.Kind.GENERIC:
        if not hasattr(route, "generic"):
            return []  # nothing to send with until its HTTP configuration exists
        return _generic_run(parent, route, now)
    return _messagewhiz_run(parent, route, now)


def _child(parent: Broadcast, route: ProviderAccount) -> Broadcast:
    """The parent's retry broadcast, created on first use (once: a unique constraint)."""
    existing = Broadcast.objects.filter(parent=parent, role=Broadcast.Role.RETRY).first()
    if existing is not None:
        return existing
    same = route.pk == parent.account_id
    child = Broadcast(
        parent=parent, role=Broadcast.Role.RETRY, account=route, name=f"{parent.name} · retry"[:255],
        type=Broadcast.Type.BASE, body=parent.body or (parent.template.body if parent.template else ""),
        template=parent.template if same else None, whatsapp_template=parent.whatsapp_template if same else None,
        # MessageWhiz needs a campaign of the route's own account; our own sender takes any.
        campaign=parent.campaign if route.kind == ProviderAccount.Kind.GENERIC or (
            parent.campaign and parent.campaign.account_id == route.pk) else None,
        time_zone=parent.time_zone, window_start=parent.window_start, window_end=parent.window_end,
        exp_date=parent.exp_date, created_by=parent.created_by)
    try:
        with transaction.atomic():
            child.save()
    except IntegrityError:  # another run made it first
        return Broadcast.objects.get(parent=parent, role=Broadcast.Role.RETRY)
    if parent.retry_sender_id or parent.retry_sender_list_id:
        child.senders.set([parent.retry_sender_id] if parent.retry_sender_id else [])
        child.sender_lists.set([parent.retry_sender_list_id] if parent.retry_sender_list_id else [])
    elif same:
        child.senders.set(parent.senders.all())
        child.sender_lists.set(parent.sender_lists.all())
    if same:
        child.unsubscribe_lists.set(parent.unsubscribe_lists.all())
    return child


def _generic_run(parent: Broadcast, route: ProviderAccount, now) -> list[tuple[str, int]]:
    if not due_originals(parent, now=now).exists():
        return _stranded(parent)
    child = _child(parent, route)
    if not child.recipient_lists.exists():
        child.recipient_lists.set(parent.recipient_lists.all())  # the recipients' fields, for the tokens
    with transaction.atomic():
        child = Broadcast.objects.select_for_update().get(pk=child.pk)  # one adder at a time
        if child.state in (S.CANCELLED, S.FAILED) or child.dispatch_state == "cancelled":
            return []
        # Each pass leaves out what the previous one retried; a conflict (another run's row) is skipped.
        while rows := list(due_originals(parent, now=now).values_list("pk", "phone")[:CHUNK]):
            Message.objects.bulk_create(
                [Message(account=route, broadcast=child, phone=phone, retry_of_id=pk) for pk, phone in rows],
                ignore_conflicts=True)
            if len(rows) < CHUNK:
                break
        added = Message.objects.filter(broadcast=child).count() - child.recipients_count
        if added <= 0:
            return []
        reason = f"{added} undelivered message{'s' if added != 1 else ''} of “{parent.name}” to retry"
        counters = {"recipients_count": F("recipients_count") + added, "dispatch_state": _running(child)}
        if child.state == S.DRAFT:
            broadcast_transition(child, S.SUBMITTING, reason=reason)
            broadcast_transition(child, S.SUBMITTED, reason=f"Sending through {route}", last_error="", **counters)
        elif child.state == S.COMPLETED:
            broadcast_reopen(child, reason=reason, **counters)
        else:
            Broadcast.objects.filter(pk=child.pk).update(**counters)
    return [(DISPATCH, child.pk)] if _running(child) == "running" else []


def _stranded(parent: Broadcast) -> list[tuple[str, int]]:
    """Retries added while the child's sender was finishing (it then marked the child done):
    sending again. Waiting for a window does not count: the dispatch sweep wakes those."""
    child = Broadcast.objects.filter(parent=parent, role=Broadcast.Role.RETRY, dispatch_state="done").first()
    if child is None or not Message.objects.filter(broadcast=child, status=M.QUEUED, not_before__isnull=True).exists():
        return []
    with transaction.atomic():
        child = Broadcast.objects.select_for_update().get(pk=child.pk)
        if child.dispatch_state != "done" or child.state not in (S.SUBMITTED, S.COMPLETED):
            return []
        if child.state == S.COMPLETED:
            broadcast_reopen(child, reason="Retries left to send", dispatch_state="running")
        else:
            Broadcast.objects.filter(pk=child.pk).update(dispatch_state="running")
    return [(DISPATCH, child.pk)]


def _running(child: Broadcast) -> str:
    return "paused" if child.dispatch_state == "paused" else "running"


def _messagewhiz_run(parent: Broadcast, route: ProviderAccount, now) -> list[tuple[str, int]]:
    child = Broadcast.objects.filter(parent=parent, role=Broadcast.Role.RETRY).select_related(
        "account").first()
    if child is None:
        if now < parent.submitted_at + timedelta(minutes=parent.retry_wait_minutes):
            return []
        _messagewhiz_child(parent, route, now)
        return []  # submitted once MessageWhiz has its list (a later run)
    if child.state == S.SUBMITTED:
        _link(child, parent)
        return []
    if child.state != S.DRAFT:
        return []
    retry_list = child.recipient_lists.first()
    if retry_list is not None and retry_list.sync_state == SyncState.FAILED:
        Broadcast.objects.filter(pk=child.pk).update(
            last_error=f"MessageWhiz did not take the retry list “{retry_list}”: {retry_list.sync_error}")
        return []
    if retry_list is None or retry_list.remote_id is None or retry_list.sync_state != SyncState.SYNCED:
        return []
    phones = list(retry_list.recipients.values_list("phone", flat=True))
    if refusal := policy.broadcast_refusal(child, phones, at=policy.now()):
        Broadcast.objects.filter(pk=child.pk).update(last_error=f"Waiting for the sending window: {refusal}")
        return []
    return [(SUBMIT, child.pk)]


def _messagewhiz_child(parent: Broadcast, route: ProviderAccount, now) -> Broadcast | None:
    """The follow-up base broadcast to the numbers due now, with a recipient list of its own
    (pushed to MessageWhiz on commit). Nothing is made when no number is due."""
    rows = list(due_originals(parent, now=now, waited=True).values_list("phone", flat=True))
    if not rows:
        return None
    fields = {}
    for chunk_start in range(0, len(rows), CHUNK):
        for row in Recipient.objects.filter(recipient_list__in=parent.recipient_lists.all(),
                                            phone__in=rows[chunk_start:chunk_start + CHUNK]).values(
                "phone", *RECIPIENT_FIELDS):
            fields.setdefault(row["phone"], row)
    with transaction.atomic():
        child = _child(parent, route)
        if child.recipient_lists.exists():
            return child
        name = f"Retry of {parent.name} [{parent.submission_key.hex[:12]}]"
        retry_list = RecipientList(account=route, name=name[-255:], recipient_count=len(set(rows)))
        mirror_changed(retry_list)
        Recipient.objects.bulk_create([Recipient(recipient_list=retry_list, **(fields.get(phone) or {"phone": phone}))
                                       for phone in dict.fromkeys(rows)], batch_size=CHUNK)
        child.recipient_lists.set([retry_list])
        Broadcast.objects.filter(pk=child.pk).update(recipients_count=retry_list.recipient_count)
    return child


def _link(child: Broadcast, parent: Broadcast) -> int:
    """The follow-up's messages (made when MessageWhiz took it) point at the originals they retry."""
    original = Message.objects.filter(broadcast=parent, phone=OuterRef("phone")).values("pk")[:1]
    return Message.objects.filter(broadcast=child, retry_of__isnull=True).update(retry_of_id=Subquery(original))
