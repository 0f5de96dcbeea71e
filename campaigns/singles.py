"""Messages sent at once, outside compose → review: a single message (MessageWhiz's fast single
`POST /sms`, or the older tiny single), and the same text to pasted numbers (`combinedsubmit`).

Each send is a Broadcast whose Message rows are written before the request leaves. The fast
single also tells MessageWhiz our DLR URL and the message's client_ref, so its delivery report
lands on the right message even before the answer does; tiny singles and pasted numbers are
broadcasts on MessageWhiz's side, whose reports come through "DLR to webhook" by broadcast id.

A request that may have been applied (no answer, or a 5xx after it arrived) is never repeated:
its messages are recorded as UNKNOWN, and a delivery report still settles them.
"""

import math
import re
import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from messaging import breaker
from messaging.messagewhiz.client import MessageWhizClient
from messaging.messagewhiz.errors import (
    AmbiguousRequestError,
    MessageWhizError,
    TransportError,
)
from messaging.models import FailoverRoute
from messaging.validators import validate_sender_name
from recipients.phones import PhoneRejected, normalize_phone, phone_country

from . import policy
from .approvals import over_threshold
from .estimates import body_problems, problems_summary, text_parts_problem
from .models import Broadcast, Message
from .models.broadcasts import STATUS_RANK
from .sending import remote_name
from .signals import messages_identified_announce
from .states import broadcast_transition

MAX_TEXT = 100_000  # the reference's own limit for `text`
MAX_PASTED = 10_000  # numbers per combined submit: one request, one list on MessageWhiz's side
FAST, TINY = "fast", "tiny"


class SingleProblem(Exception):
    pass


def outcome_unknown(exc: MessageWhizError) -> bool:
    """Whether a send that failed this way may still have happened: the answer was lost, or the
    provider failed (5xx) after the request reached it."""
    return isinstance(exc, AmbiguousRequestError) or (exc.status or 0) >= 500


def carrier_for(account):
    """The account a send goes through, and the probe token when it is that account's single
    half-open probe: `account` while its circuit breaker is closed, else the first of its failover
    routes (MessageWhiz accounts, active) that admits a request. SingleProblem when none does:
    nothing was written."""
    if not breaker.enabled():
        return account, None
    candidates = [account, *(entry.route for entry in FailoverRoute.objects.filter(account=account).select_related(
        "route") if entry.route.is_active and entry.route.kind == account.kind)]
    for candidate in candidates:
        state = breaker.route_state(candidate)
        if state == breaker.SEND:
            return candidate, None
        if state == breaker.PROBE and (token := breaker.probe_take(candidate)):
            return candidate, token
    wait = min(breaker.wait_seconds(candidate) for candidate in candidates)
    raise SingleProblem(f"Not sent: the circuit breaker of every route is open ({', '.join(map(str, candidates))}), "
                        f"because they have been failing; try again in {max(1, math.ceil(wait))} s.")


def _book(carrier, probe: str | None, started: float, exc: MessageWhizError | None = None) -> None:
    """Tell the carrier's breaker what the request met (one request: the client never repeats a send)."""
    if breaker.enabled():
        failing = exc is not None and (isinstance(exc, AmbiguousRequestError) or (exc.status or 0) >= 500 or
                                       exc.status in (408, 429) or (isinstance(exc, TransportError) and not
                                                                    exc.permanent))
        breaker.record(carrier, [(1, int(failing), (time.monotonic() - started) * 1000)], probe=probe)


def _through(label: str, account, carrier) -> str:
    if carrier == account:
        return label
    return f"{label} through {carrier}: the circuit breaker of {account} is open"


def dlr_callback_url(account) -> str:
    return settings.PUBLIC_BASE_URL + reverse("callbacks:dlr", kwargs={"token": account.callback_token})


def single_send(*, account, sender: str, phone: str, text: str, endpoint: str = FAST, actor=None) -> Message:
    """One message to one number, through the fast single (`/sms`) or the tiny single."""
    try:
        phone = normalize_phone(phone)
    except PhoneRejected as exc:
        raise SingleProblem(f"The recipient number: {exc} (write it in international format, "
                            f"e.g. +380 50 123 45 67).") from None
    _check_text_and_sender(text, sender)
    if endpoint not in (FAST, TINY):
        raise SingleProblem("Choose the fast or the tiny single endpoint.")
    if refusal := policy.single_refusal(account=account, phone=phone):
        raise SingleProblem(refusal)

    carrier, probe = carrier_for(account)
    label = "Single" if endpoint == FAST else "Tiny single"
    # The message (and its broadcast: reports are matched by the carrier's callbacks) is the carrier's.
    with transaction.atomic():
        broadcast = Broadcast.objects.create(account=carrier, name=f"{label} to {phone}", recipient=phone,
                                             type=Broadcast.Type.SINGLE, body=text, created_by=actor,
                                             recipients_count=1)
        message = Message.objects.create(account=carrier, broadcast=broadcast, phone=phone,
                                         country=phone_country(phone))
    broadcast_transition(broadcast, Broadcast.State.SUBMITTING, actor=actor,
                         reason=_through(f"Sending a {label.lower()}", account, carrier))
    started = time.monotonic()
    try:
        with MessageWhizClient.from_account(carrier) as client:
            if endpoint == FAST:
                result = client.fast_single_send(to=phone, sender=sender, text=text,
                                                 client_ref=str(message.client_ref),
                                                 callback=dlr_callback_url(carrier))
            else:
                result = client.tiny_single_send(recipient=phone, sender=sender, message_body=text)
    except MessageWhizError as exc:
        _book(carrier, probe, started, exc)
        send_failed(broadcast, exc)
        if not outcome_unknown(exc):
            raise SingleProblem(f"MessageWhiz refused the message: {exc}") from exc
    else:
        _book(carrier, probe, started)
        remote = {"remote_id": result.get("broadcastId"), "remote_segment_id": result.get("segmentId")}
        if endpoint == FAST:
            Message.objects.filter(pk=message.pk).update(provider_message_id=str(result.get("message_id") or ""))
            remote["message"] = message
        send_accepted(broadcast, **remote)
        policy.sent_record(account=account, phones=[phone], messages=[message])
    message.refresh_from_db()
    return message


def pasted_numbers(text: str) -> list[str]:
    """International numbers from pasted text (one per line, or separated by commas or semicolons),
    without repeats; SingleProblem names the lines that are not numbers."""
    numbers, wrong = {}, []
    items = [item for item in re.split(r"[\n,;]", text) if item.strip()]
    for index, item in enumerate(items, 1):
        try:
            numbers.setdefault(normalize_phone(item), None)
        except PhoneRejected as exc:
            wrong.append(f"#{index} “{item.strip()[:30]}”: {exc}")
    if wrong:
        more = f" and {len(wrong) - 5} more" if len(wrong) > 5 else ""
        raise SingleProblem("Not phone numbers: " + "; ".join(wrong[:5]) + more + ".")
    if not numbers:
        raise SingleProblem("Paste at least one phone number.")
    if len(numbers) > MAX_PASTED:
        raise SingleProblem(f"Paste at most {MAX_PASTED:,} numbers; for more, import a recipient list.")
    return list(numbers)


def pasted_send(*, account, sender: str, numbers: str, text: str, name: str = "", actor=None) -> Broadcast:
    """The same text to pasted numbers at once, as one base broadcast (`combinedsubmit`)."""
    phones = pasted_numbers(numbers)
    _check_text_and_sender(text, sender)
    if errors := problems_summary(body_problems(text, account=account, provider_renders=True)):
        raise SingleProblem(errors)
    phones, skipped = policy.pasted_split(account=account, phones=phones)
    if over_threshold(account, len(phones)):
        raise SingleProblem(f"{len(phones):,} numbers are more than this account sends to without a second person's "
                            f"approval ({account.approval_threshold:,}): import them as a list and compose a "
                            "broadcast, which an approver can confirm.")
    if refusal := policy.broadcast_refusal(Broadcast(account=account), phones):
        raise SingleProblem(refusal)
    if not phones:
        raise SingleProblem(f"None of these numbers may be messaged: {skipped['opted_out']} opted out, "
                            f"{skipped['capped']} over the account's frequency cap.")

    carrier, probe = carrier_for(account)
    with transaction.atomic():
        broadcast = Broadcast.objects.create(
            account=carrier, name=name.strip() or f"Pasted numbers ({len(phones)})", type=Broadcast.Type.BASE,
            body=text, created_by=actor, recipients_count=len(phones), **skipped)
        Message.objects.bulk_create(Message(account=carrier, broadcast=broadcast, phone=phone,
                                            country=phone_country(phone)) for phone in phones)
    broadcast_transition(broadcast, Broadcast.State.SUBMITTING, actor=actor,
                         reason=_through("Sending to pasted numbers", account, carrier))
    started = time.monotonic()
    try:
        with MessageWhizClient.from_account(carrier) as client:
            # The name carries our tag, so a broadcast whose answer was lost can be found in MessageWhiz.
            result = client.broadcast_combined_submit(recipients=[{"phone_number": phone} for phone in phones],
                                                      message_body=text, sender=sender, name=remote_name(broadcast))
    except MessageWhizError as exc:
        _book(carrier, probe, started, exc)
        send_failed(broadcast, exc)
        if not outcome_unknown(exc):
            raise SingleProblem(f"MessageWhiz refused the broadcast: {exc}") from exc
    else:
        _book(carrier, probe, started)
        ids = result[0] if isinstance(result, list) and result else {}
        send_accepted(broadcast, remote_id=ids.get("broadcastID"), remote_segment_id=ids.get("segmentID"))
        policy.sent_record(account=account, phones=phones)
    return broadcast


def _check_text_and_sender(text: str, sender: str) -> None:
    if not text.strip() or len(text) > MAX_TEXT:
        raise SingleProblem("Write the message (up to 100,000 characters).")
    if problem := text_parts_problem(text):
        raise SingleProblem(problem)
    try:
        validate_sender_name(sender)
    except ValidationError as exc:
        raise SingleProblem(exc.messages[0]) from None


def _settle(broadcast: Broadcast, status: str, *, error: str = "") -> dict:
    """Move the broadcast's messages no report has reached yet (still QUEUED) to `status`, and
    return the counter changes that go with it, as callbacks would make them: each counts as sent,
    and FAILED / UNKNOWN also in the counter of that name. Call inside the transaction that
    writes those counters."""
    moved = Message.objects.filter(broadcast=broadcast, status_rank=0).update(
        status=status, status_rank=STATUS_RANK[status], error=error, submitted_at=timezone.now(),
        status_at=timezone.now())
    counters = {"sent": F("sent") + moved}
    if status != Message.Status.SUBMITTED:
        counters[status] = F(status) + moved
    return counters


def send_accepted(broadcast: Broadcast, *, message: Message | None = None, **remote) -> None:
    """The provider took the send: its messages are SUBMITTED, `remote` ids stored. Reports that
    came in before are applied now: those naming `message` (by our client_ref or the provider's
    id: the fast single, OTP), else those naming the MessageWhiz broadcast (tiny single, pasted)."""
    with transaction.atomic():
        counters = _settle(broadcast, Message.Status.SUBMITTED)
        broadcast_transition(broadcast, Broadcast.State.SUBMITTED, reason="Accepted by MessageWhiz",
                             **{k: v for k, v in remote.items() if v}, **counters)
    broadcast.refresh_from_db()
    if message is not None:
        messages_identified_announce(message_ids=[message.pk])
    elif broadcast.remote_id:
        messages_identified_announce(broadcast_remote_ids=[broadcast.remote_id])


def send_failed(broadcast: Broadcast, exc: MessageWhizError) -> None:
    """The send failed: refused (FAILED), or maybe sent after all (UNKNOWN, see outcome_unknown)."""
    with transaction.atomic():
        if outcome_unknown(exc):
            # It may have gone: not sent again. A delivery report still settles it.
            note = (f"No clear answer from MessageWhiz, so it may have been sent; not sent again. "
                    f"Check the delivery report before sending it again ({exc}).")
            counters = _settle(broadcast, Message.Status.UNKNOWN, error=note)
            broadcast_transition(broadcast, Broadcast.State.SUBMITTED, reason="Outcome unknown", last_error=note,
                                 **counters)
        else:
            counters = _settle(broadcast, Message.Status.FAILED, error=str(exc))
            broadcast_transition(broadcast, Broadcast.State.FAILED, reason=str(exc), last_error=str(exc), **counters)
    broadcast.refresh_from_db()
