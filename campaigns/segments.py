"""Continuing a smart broadcast with another segment (/api/3/Segments).

The segment row is recorded before the request leaves. A lost answer is not retried: MessageWhiz
lists no segments to reconcile against, so the segment is marked unconfirmed rather than risk
sending it twice; its messages still show up in the delivery report.
"""

from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Sum
from django.utils import timezone

from messaging.messagewhiz.client import MessageWhizClient
from messaging.messagewhiz.errors import MessageWhizError

from . import rendering
from .estimates import part_rate, parts_distribution, problems_summary, token_objects
from .followup import remote_state_text
from .models import Broadcast, Segment
from .sending import UTC_OFFSET, SubmissionProblem, message_body_for, remote_ids, sender_ids_for
from .singles import outcome_unknown


def continue_problem(broadcast: Broadcast) -> str:
    """Why the broadcast can't be continued with another segment, or ""."""
    if broadcast.type != Broadcast.Type.SMART or broadcast.remote_id is None or broadcast.is_final:
        return "Only a submitted smart broadcast that is still running can be continued."
    return ""


def segment_remaining(broadcast: Broadcast) -> int:
    """Recipients the broadcast has not reached yet: its audience less the segments sent so far
    (unconfirmed ones included: they may have gone)."""
    sent = broadcast.segments.aggregate(total=Sum("size"))["total"] or 0
    return max(0, broadcast.recipients_count - sent)


def segment_estimate(broadcast: Broadcast, *, size: int, body: str = "", templates=()) -> dict:
    """What a segment of `size` will cost, as the review's estimate counts it: SMS parts of its
    message (or of its longest template) filled in for the broadcast's recipients, taken pro rata
    for `size` of them, at the price per part of the broadcast's MessageWhiz estimate.
    Keys: messages, parts, cost (Decimal or None), currency."""
    objects = token_objects(broadcast.account)
    bodies = [body] if body else [template.body for template in templates]
    per_recipient = 0.0
    for text in bodies:
        distribution, _ = parts_distribution(broadcast, text, spinners=objects["spinners"])
        count = sum(distribution.values())
        if count:
            per_recipient = max(per_recipient, sum(p * n for p, n in distribution.items()) / count)
    parts = -int(-per_recipient * size // 1) if per_recipient else size  # whole parts, rounded up
    rate = part_rate(broadcast.estimate or {})
    cost = (rate * parts).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) if rate is not None else None
    return {"messages": size, "parts": parts, "cost": cost, "currency": broadcast.account.currency}


def segment_problems(bodies, *, objects: dict) -> str:
    """What stops the segment's message(s) being sent (MessageWhiz fills in their tokens), or ""."""
    return "; ".join(filter(None, (problems_summary(rendering.check(text, provider_renders=True, **objects))
                                   for text in bodies)))


def segment_check(broadcast: Broadcast, *, size: int, body: str = "", templates=(), senders=(),
                  sender_lists=(), send_at=None, trigger=None, recipient_cap=None,
                  first_segment_size=None, next_segment_size=None) -> None:
    """SubmissionProblem if the segment can't be sent as it stands (before it is estimated and sent)."""
    if problem := continue_problem(broadcast):
        raise SubmissionProblem(problem)
    if size < 1:
        raise SubmissionProblem("The segment needs at least one recipient.")
    remaining = segment_remaining(broadcast)
    if size > remaining:
        raise SubmissionProblem(f"Only {remaining:,} of the broadcast's {broadcast.recipients_count:,} recipients "
                                f"have not had a message yet: a segment can have at most {remaining:,}.")
    if not (body or templates):
        raise SubmissionProblem("Write the segment's message or choose templates.")
    if not (senders or sender_lists):
        raise SubmissionProblem("Choose at least one sender or sender list.")
    bodies = [body] if body else [template.body for template in templates]
    if problems := segment_problems(bodies, objects=token_objects(broadcast.account)):
        raise SubmissionProblem(problems)
    paused_ctr = broadcast.eb_type == Broadcast.SmartType.CTR
    if paused_ctr and not (first_segment_size and next_segment_size):
        raise SubmissionProblem("Continuing a CTR broadcast needs the first and next segment sizes.")
    if paused_ctr and recipient_cap is not None and recipient_cap <= 2:
        raise SubmissionProblem("The recipient cap must be greater than 2 (or empty for no limit).")


def segment_continue(broadcast: Broadcast, *, size: int, body: str = "", templates=(), senders=(),
                     sender_lists=(), send_at=None, trigger=None, recipient_cap=None,
                     first_segment_size=None, next_segment_size=None) -> Segment:
    """Send the next segment: now, at `send_at` (an instant), or when `trigger` fires."""
    segment_check(broadcast, size=size, body=body, templates=templates, senders=senders, sender_lists=sender_lists,
                  send_at=send_at, trigger=trigger, recipient_cap=recipient_cap,
                  first_segment_size=first_segment_size, next_segment_size=next_segment_size)
    paused_ctr = broadcast.eb_type == Broadcast.SmartType.CTR
    request = {
        # message_body and sender_ids are sent even when templates and sender lists are chosen:
        # the prose lists both as required (ASSUMPTIONS.md)
        "broadcast_id": broadcast.remote_id, "segment_size": size, "message_body": message_body_for(body, templates),
        "template_ids": remote_ids(templates, "Template") or None,
        "sender_ids": sender_ids_for(senders, sender_lists),
        "sender_list_ids": remote_ids(sender_lists, "Sender list") or None,
        "send_now": not (send_at or trigger), "send_date": send_at,
        "trigger_id": remote_ids([trigger], "Trigger")[0] if trigger else None,
        "utc_offset": UTC_OFFSET,  # send_date is UTC under either reading of it (ASSUMPTIONS.md)
        "recipient_cap": (recipient_cap if recipient_cap is not None else "no limit") if paused_ctr else None,
        "first_segment_size": first_segment_size if paused_ctr else None,
        "next_segment_size": next_segment_size if paused_ctr else None,
    }
    segment = Segment.objects.create(
        broadcast=broadcast, size=size, body=body, send_at=send_at, trigger=trigger,
        utc_offset=request["utc_offset"], recipient_cap=recipient_cap, first_segment_size=first_segment_size,
        next_segment_size=next_segment_size,
    )
    segment.templates.set(templates)
    segment.senders.set(senders)
    segment.sender_lists.set(sender_lists)
    try:
        with MessageWhizClient.from_account(broadcast.account) as client:
            result = client.segment_create(**request)
    except MessageWhizError as exc:
        if outcome_unknown(exc):
            # Kept: it may exist remotely. The error tells the user to look before trying again.
            Segment.objects.filter(pk=segment.pk).update(error=f"Unconfirmed: no clear answer from MessageWhiz ({exc})")
            raise SubmissionProblem(f"MessageWhiz gave no clear answer; check the broadcast before trying again "
                                    f"({exc}).") from exc
        segment.delete()
        raise SubmissionProblem(f"MessageWhiz refused the segment: {exc}") from exc
    Segment.objects.filter(pk=segment.pk).update(
        remote_id=result.get("id"), remote_state=remote_state_text(result.get("state")),
        recipient_count=result.get("recipient_count"), estimated_price=result.get("estimated_price"),
    )
    Broadcast.objects.filter(pk=broadcast.pk).update(updated_at=timezone.now())
    segment.refresh_from_db()
    return segment
