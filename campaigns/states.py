"""The broadcast state machine: the only way a broadcast's state changes.

draft → estimated → scheduled → submitting → submitted → completed, with failed and cancelled
as the other ends. Each move is a conditional UPDATE (it happens only if the broadcast is still
in an allowed source state, so two workers can't both claim it) and leaves a BroadcastEvent.
"""

from django.db import transaction
from django.utils import timezone

from messaging import audit
from messaging.webhooks.events import emit, subscribed

from .models import Broadcast, BroadcastEvent

S = Broadcast.State

ALLOWED_FROM = {
    S.DRAFT: {S.DRAFT, S.ESTIMATED, S.SCHEDULED},
    S.ESTIMATED: {S.DRAFT, S.ESTIMATED},
    S.SCHEDULED: {S.DRAFT, S.ESTIMATED},
    S.SUBMITTING: {S.DRAFT, S.ESTIMATED, S.SCHEDULED},
    S.SUBMITTED: {S.SUBMITTING},
    S.COMPLETED: {S.SUBMITTED},
    S.FAILED: {S.SUBMITTING, S.SUBMITTED},
    S.CANCELLED: {S.DRAFT, S.ESTIMATED, S.SCHEDULED},
}


# Outbound webhook events for the ends a receiver cares about (messaging.webhooks), emitted in the
# transaction of the move.
WEBHOOK_EVENTS = {S.COMPLETED: "broadcast.completed", S.FAILED: "broadcast.failed"}


def _webhook_emit(broadcast_id: int, event_type: str, reason: str) -> None:
    if not subscribed(event_type):
        return
    row = Broadcast.objects.filter(pk=broadcast_id).values(
        "id", "name", "state", "parent_id", "role", "remote_id", "submitted_at", "completed_at", "recipients_count",
        "sent", "delivered", "failed", "clicks_unique", "cost").first()
    if row:
        emit(event_type, {**row, "reason": reason[:500]})


# Moves someone makes happen, for the audit trail: sending (once, when it leaves the drafts) and cancelling.
_AUDITED = {S.SCHEDULED: "send", S.SUBMITTING: "send", S.CANCELLED: "cancel"}


def _audited(previous: str | None, to_state: str) -> str:
    action = _AUDITED.get(to_state, "")
    return "" if action == "send" and previous not in (S.DRAFT, S.ESTIMATED) else action


class TransitionRefused(Exception):
    pass


def broadcast_transition(broadcast: Broadcast, to_state: str, *, actor=None, reason: str = "",
                         **fields) -> bool:
    """Move `broadcast` to `to_state` if its current state allows it; returns whether it moved.

    Extra `fields` are saved in the same UPDATE (e.g. remote_id with SUBMITTED).
    """
    sources = ALLOWED_FROM[to_state]
    now = timezone.now()
    if to_state == S.SUBMITTED:
        fields.setdefault("submitted_at", now)
    if to_state in (S.COMPLETED, S.FAILED, S.CANCELLED):
        fields.setdefault("completed_at", now)
    with transaction.atomic():
        previous = Broadcast.objects.select_for_update().filter(pk=broadcast.pk).values_list("state", flat=True).first()
        moved = Broadcast.objects.filter(pk=broadcast.pk, state__in=sources).update(
            state=to_state, updated_at=now, **fields
        )
        if moved:
            BroadcastEvent.objects.create(broadcast_id=broadcast.pk, from_state=previous or "", to_state=to_state,
                                          actor=actor, reason=reason[:2000])
            if action := _audited(previous, to_state):
                audit.record(action, broadcast, user=actor, detail=reason,
                             changes={"state": [previous, to_state]})
            if to_state in WEBHOOK_EVENTS:
                _webhook_emit(broadcast.pk, WEBHOOK_EVENTS[to_state], reason)
    if moved:
        broadcast.state = to_state
        for name, value in fields.items():
            setattr(broadcast, name, value)
    return bool(moved)


def broadcast_reopen(broadcast: Broadcast, *, actor=None, reason: str, **fields) -> None:
    """A submitted or completed broadcast sending again (campaigns.dispatch: resending its unknown
    messages; the caller holds the row lock). Only this path leads from completed back to
    submitted, so no other sender can reopen a finished broadcast."""
    previous = Broadcast.objects.filter(pk=broadcast.pk).values_list("state", flat=True).get()
    Broadcast.objects.filter(pk=broadcast.pk, state__in=(S.SUBMITTED, S.COMPLETED)).update(
        state=S.SUBMITTED, completed_at=None, updated_at=timezone.now(), last_error="", **fields)
    BroadcastEvent.objects.create(broadcast_id=broadcast.pk, from_state=previous, to_state=S.SUBMITTED,
                                  actor=actor, reason=reason[:2000])
    broadcast.state = S.SUBMITTED


def broadcast_transition_or_raise(broadcast: Broadcast, to_state: str, **kwargs) -> None:
    if not broadcast_transition(broadcast, to_state, **kwargs):
        current = Broadcast.objects.filter(pk=broadcast.pk).values_list("state", flat=True).first()
        raise TransitionRefused(
            f"A {Broadcast.State(current).label.lower()} broadcast can't become "
            f"{Broadcast.State(to_state).label.lower()}."
        )
