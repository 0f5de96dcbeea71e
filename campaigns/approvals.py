"""Four-eyes approval: a broadcast to more recipients than its account's `approval_threshold`
waits, once confirmed, in "awaiting approval" until someone else approves it.

- Approving needs `campaigns.approve_broadcast` and not being its composer (`created_by`). A
  superuser approves their own only where the account's `superusers_approve_own` is ticked.
- Approved, it goes on as confirmed: sent now, scheduled for its time (or now if that has passed
  meanwhile), or, for a recurring definition, its schedule started.
- Rejected (with a reason), it is a draft again, to be changed and confirmed anew.
Each step is a state transition with its actor and reason on the broadcast's timeline.
"""

import zoneinfo
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .models import Broadcast, RecurringBroadcast
from .states import broadcast_transition, broadcast_transition_or_raise

APPROVE = "campaigns.approve_broadcast"
AWAITING = Broadcast.State.AWAITING_APPROVAL


class ApprovalRefused(Exception):
    pass


def approval_needed(broadcast: Broadcast) -> bool:
    """Whether confirming `broadcast` needs a second person: its estimated recipients (its whole
    audience, so a smart broadcast's later segments are covered too) exceed the threshold."""
    return over_threshold(broadcast.account, approval_recipients(broadcast))


def over_threshold(account, recipients: int) -> bool:
    """More recipients than `account` sends to without approval (no threshold set: never)."""
    return account.approval_threshold is not None and recipients > account.approval_threshold


def approval_recipients(broadcast: Broadcast) -> int:
    return int((broadcast.local_estimate or {}).get("recipients") or 0)


def broadcast_request_approval(broadcast: Broadcast, *, actor) -> None:
    """The confirmation of a broadcast over the threshold: it waits instead of going out."""
    broadcast_transition_or_raise(
        broadcast, AWAITING, actor=actor,
        reason=f"Confirmed for {approval_recipients(broadcast):,} recipients, more than the account's approval "
               f"threshold of {broadcast.account.approval_threshold:,}: waits for a second person's approval")


def approval_problem(broadcast: Broadcast, user) -> str:
    """Why `user` may not approve (or reject) `broadcast`, or ""."""
    if broadcast.state != AWAITING:
        return f"“{broadcast}” is {broadcast.get_state_display().lower()}, not awaiting approval."
    if not user.has_perm(APPROVE):
        return "Approving broadcasts needs the Approver role (campaigns.approve_broadcast)."
    return ""


def self_approval_problem(broadcast: Broadcast, user) -> str:
    """Four-eyes: the composer never approves their own broadcast, a superuser only where the
    account allows it."""
    if broadcast.created_by_id is None or broadcast.created_by_id != user.pk:
        return ""
    if user.is_superuser and broadcast.account.superusers_approve_own:
        return ""
    return (f"You composed “{broadcast}”: someone else with the approve permission must approve it "
            "(four-eyes rule).")


def broadcast_approve(broadcast: Broadcast, *, actor) -> bool:
    """Approve and carry on with what was confirmed. Returns whether it is to be submitted now
    (the caller queues the submission on commit). ApprovalRefused says why not."""
    if problem := approval_problem(broadcast, actor) or self_approval_problem(broadcast, actor):
        raise ApprovalRefused(problem)
    by = f"Approved by {actor.get_username()}"
    with transaction.atomic():
        recurrence = RecurringBroadcast.objects.filter(definition=broadcast).first()
        if recurrence is not None:
            from .scheduling import recurring_broadcast_save  # scheduling asks this module at confirmation

            _move(broadcast, Broadcast.State.ESTIMATED, actor=actor, reason=f"{by}: the recurring schedule starts")
            recurrence.enabled = True
            recurring_broadcast_save(recurrence)
            return False
        soon = timezone.now() + timedelta(seconds=settings.SCHEDULE_LEAD_SECONDS)
        if broadcast.send_at and broadcast.send_at > soon:
            local = timezone.localtime(broadcast.send_at, zoneinfo.ZoneInfo(broadcast.time_zone))
            _move(broadcast, Broadcast.State.SCHEDULED, actor=actor,
                  reason=f"{by}: scheduled for {local:%Y-%m-%d %H:%M} {broadcast.time_zone}")
            return False
        late = " (its send time has passed)" if broadcast.send_at else ""
        _move(broadcast, Broadcast.State.SCHEDULED, actor=actor, reason=f"{by}: sending now{late}")
        return True


def broadcast_reject(broadcast: Broadcast, *, actor, reason: str) -> None:
    """Back to draft, with the reason on its timeline for the composer."""
    if problem := approval_problem(broadcast, actor):
        raise ApprovalRefused(problem)
    reason = reason.strip()
    if not reason:
        raise ApprovalRefused("Say why you reject it: the composer reads the reason on the broadcast's page.")
    _move(broadcast, Broadcast.State.DRAFT, actor=actor, reason=f"Rejected by {actor.get_username()}: {reason}")


def _move(broadcast: Broadcast, to_state: str, **kwargs) -> None:
    if not broadcast_transition(broadcast, to_state, from_state=AWAITING, **kwargs):
        raise ApprovalRefused(f"“{broadcast}” is no longer awaiting approval (someone else was quicker).")


def awaiting_approval():
    return (Broadcast.objects.filter(state=AWAITING).select_related("account", "created_by", "campaign")
            .order_by("updated_at"))
