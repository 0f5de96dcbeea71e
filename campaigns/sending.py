"""Submitting broadcasts to MessageWhiz, exactly once.

Every broadcast carries a `submission_key`. Its first 12 hex digits are appended to the name we
send (`"Black Friday [tc-1a2b3c4d5e6f]"`), because MessageWhiz has no idempotency key but does let
us search broadcasts by name. The state machine and a lease do the rest:

1. claim the broadcast (conditional UPDATE to SUBMITTING) with a lease: until it runs out no other
   task touches the submission, because our request may still be in flight (`lease_seconds`);
2. send the POST once; the client never re-sends a create on its own;
3. on success record the remote ids and create one Message row per recipient: SUBMITTED when
   MessageWhiz sends to all of them, QUEUED when it sends a first segment only (smart) or waits
   for a trigger (their delivery reports count them as sent);
4. if MessageWhiz is unavailable or its answer was lost (a timeout after the request left, a 5xx),
   the broadcast stays SUBMITTING, leased until its next attempt is due. Beat's sweep
   (`submission_due_ids`) queues broadcasts whose lease has run out: such a retry, or an attempt
   whose worker died. That attempt first looks the key up in /api/3/Broadcast/List and sends
   again only if MessageWhiz has never seen it; after MAX_ATTEMPTS sends it only looks (found:
   submitted; not found: failed).

A task that finds the lease held (a double click, a redelivered task, a backlogged worker) ends
quietly: the holder, or the sweep after it, finishes the job.
"""

import logging
import tempfile
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from messaging.messagewhiz.client import MessageWhizClient
from messaging.messagewhiz.errors import AmbiguousRequestError, MessageWhizError
from messaging.models import ProviderAccount
from messaging.sync.push import TransientSyncError, cannot_reenable
from recipients.consent import optout_list_for, suppressed_phones
from recipients.models import Recipient
from recipients.phones import phone_country
from recipients.selectors import phones_for_send

from . import parts, policy, rendering
from .costs import CountryMap
from .estimates import broadcast_problems, problems_summary
from .models import Broadcast, Message, Segment
from .models.broadcasts import STATUS_RANK
from .signals import messages_identified_announce
from .states import broadcast_transition, broadcast_transition_or_raise

logger = logging.getLogger(__name__)

S = Broadcast.State
T = Broadcast.Type

MAX_ATTEMPTS = 8  # sends of one broadcast; after them it is only looked up
MAX_RETRY_DELAY = 900  # seconds
REMOTE_NAME_MAX = 255  # MessageWhiz's limit on a broadcast's name
UTC_OFFSET = 0  # every date goes out in UTC; the marketer's zone stays here, for display


class SubmissionProblem(Exception):
    """The broadcast can't be submitted as it stands; the message says what to fix."""


@dataclass(frozen=True)
class Request:
    method: str  # MessageWhizClient method name
    kwargs: dict


def remote_tag(broadcast: Broadcast) -> str:
    return f"tc-{broadcast.submission_key.hex[:12]}"


def remote_name(broadcast: Broadcast) -> str:
    """Our name with the key's tag; the name is shortened so that the tag always fits."""
    tag = f" [{remote_tag(broadcast)}]"
    return broadcast.name[:REMOTE_NAME_MAX - len(tag)].rstrip() + tag


def lease_seconds() -> float:
    """How long a submission's request may still be in flight: the client's connect and read
    timeouts, and as much again for MessageWhiz still working on it after the client gave up."""
    return 2 * (settings.MESSAGEWHIZ_CONNECT_TIMEOUT + settings.MESSAGEWHIZ_READ_TIMEOUT)


def remote_ids(objects, what: str) -> list[int]:
    ids = []
    for obj in objects:
        if not obj.enabled or obj.sync_error == cannot_reenable(obj._meta.verbose_name):
            raise SubmissionProblem(f"{what} “{obj}” is disabled{' in MessageWhiz' if obj.enabled else ''}.")
        if obj.remote_id is None:
            raise SubmissionProblem(f"{what} “{obj}” is not in MessageWhiz yet ({obj.get_sync_state_display()}"
                                    f"{': ' + obj.sync_error if obj.sync_error else ''}).")
        ids.append(obj.remote_id)
    return ids


def sender_ids_for(senders, sender_lists) -> list[int]:
    """`sender_ids` for MessageWhiz: the chosen senders, then every enabled sender of the chosen
    sender lists that MessageWhiz knows. The reference lists sender_ids as required even when
    sender lists are given, so it is never left blank (ASSUMPTIONS.md)."""
    ids = remote_ids(senders, "Sender")
    for sender_list in sender_lists:
        for member in sender_list.senders.all():
            if member.enabled and member.remote_id is not None and member.remote_id not in ids:
                ids.append(member.remote_id)
    if not ids and sender_lists:
        raise SubmissionProblem("The chosen sender lists have no sender in MessageWhiz yet: add one, or choose "
                                "a sender.")
    return ids


def message_body_for(body: str, templates) -> str:
    """`message_body` for MessageWhiz: the text written, else the first chosen template's body. The
    reference lists message_body as required even when a template is named (ASSUMPTIONS.md)."""
    return body or next((template.body for template in templates if template is not None), "")


def broadcast_request(broadcast: Broadcast) -> Request:
    """The exact client call that submits `broadcast`, or SubmissionProblem saying what is missing."""
    b = broadcast
    if b.campaign is None:
        raise SubmissionProblem("Choose a campaign.")
    [campaign_id] = remote_ids([b.campaign], "Campaign")
    sender_ids = remote_ids(b.senders.all(), "Sender")
    sender_list_ids = remote_ids(b.sender_lists.all(), "Sender list")
    unsubscribe_ids = remote_ids(b.unsubscribe_lists.all(), "Unsubscribe list")
    # Whoever opted out of this account is left out, whichever lists were picked (campaigns.policy).
    if (optout := optout_list_for(b.account)) is not None and optout.member_count:
        unsubscribe_ids = list(dict.fromkeys([*unsubscribe_ids, *remote_ids([optout], "The opt-out list")]))
    template_id = remote_ids([b.template], "Template")[0] if b.template else None
    if not (b.body or template_id):
        raise SubmissionProblem("Write a message or choose a template.")
    if errors := problems_summary(broadcast_problems(b)):
        raise SubmissionProblem(errors)
    timing = {
        "send_date": b.send_at if b.trigger is None else None,
        # The reference doesn't say whether send_date is UTC or local time in utc_offset; with a
        # UTC instant and offset 0 both readings mean the same moment (ASSUMPTIONS.md).
        "utc_offset": UTC_OFFSET,
        "trigger_id": remote_ids([b.trigger], "Trigger")[0] if b.trigger else None,
        "delay": b.delay if b.trigger else None,
    }
    templates = [b.template] if b.template else list(b.templates.all())
    common = {"name": remote_name(b), "campaign_id": campaign_id,
              "message_body": message_body_for(b.body, templates), "template_id": template_id,
              "unsubscriber_list_ids": unsubscribe_ids or None, **timing}

    if b.type == T.SINGLE:
        if not b.recipient:
            raise SubmissionProblem("Enter the recipient's number.")
        if len(sender_ids) != 1 or sender_list_ids:
            raise SubmissionProblem("A single message needs exactly one sender.")
        # MessageWhiz has no token fallbacks: filled in here, for the one recipient (who has no fields).
        body = rendering.fill_fallbacks(b.body, {"phone": b.recipient}) if b.body else None
        return Request("broadcast_single_send", {**common, "message_body": body, "sender_id": sender_ids[0],
                                                 "recipient": b.recipient,
                                                 "custom_parameter": b.custom_parameter or None})

    if not (sender_ids or sender_list_ids):
        raise SubmissionProblem("Choose at least one sender or sender list.")
    list_ids = remote_ids(b.recipient_lists.all(), "Recipient list")
    if not list_ids:
        raise SubmissionProblem("Choose at least one recipient list.")
    targets = {**common, "sender_ids": sender_ids_for(b.senders.all(), b.sender_lists.all()),
               "sender_list_ids": sender_list_ids or None,
               "recipient_list_ids": list_ids}
    if b.type == T.BASE:
        return Request("broadcast_base_send", targets)
    if not b.first_segment_size:
        raise SubmissionProblem("Give the size of the first segment.")
    if b.eb_type == Broadcast.SmartType.MANUAL:
        template_ids = remote_ids(b.templates.all(), "Template")
        return Request("broadcast_smart_manual_send", {**targets, "first_segment_size": b.first_segment_size,
                                                       "template_ids": template_ids or None})
    if b.eb_type == Broadcast.SmartType.CTR:
        missing = [label for label, value in (("expiry date", b.exp_date), ("next segment size", b.next_segment_size),
                                              ("conversion threshold", b.conversion_threshold)) if not value]
        if missing:
            raise SubmissionProblem(f"A CTR smart broadcast needs its {', '.join(missing)}.")
        if b.recipient_cap is not None and b.recipient_cap <= 2:
            raise SubmissionProblem("The recipient cap must be greater than 2 (or empty for no limit).")
        return Request("broadcast_smart_ctr_send", {
            **targets, "exp_date": b.exp_date, "conversion_threshold": b.conversion_threshold,
            "first_segment_size": b.first_segment_size, "next_segment_size": b.next_segment_size,
            "recipient_cap": b.recipient_cap if b.recipient_cap is not None else "no limit",
        })
    raise SubmissionProblem("Choose the smart broadcast type: manual or CTR.")


def broadcast_submit(broadcast: Broadcast, *, actor=None) -> None:
    """Submit `broadcast` once, or take over one left submitting whose lease has run out.

    SubmissionProblem: nothing was sent, fix the broadcast. TransitionRefused: another task claimed
    it first. Otherwise it ends submitted, failed, or still submitting with its next attempt due.
    """
    if broadcast.account.kind == broadcast.account.Kind.GENERIC:
        from .dispatch import dispatch_submit  # we send these ourselves, message by message

        return dispatch_submit(broadcast, actor=actor)
    with MessageWhizClient.from_account(broadcast.account) as client:
        if broadcast.state == S.SUBMITTING:
            request = _resume(client, broadcast)
            if request is None:
                return
        else:
            try:
                if broadcast.part_list_id is None:
                    broadcast_request(broadcast)  # all in order before any part is made
                if not _policy_fit(broadcast):
                    return
                request = broadcast_request(broadcast)
            except SubmissionProblem as problem:
                _note(broadcast, str(problem))
                raise
            broadcast_transition_or_raise(broadcast, S.SUBMITTING, actor=actor, reason="Submitting to MessageWhiz",
                                          submission_lease=_lease_end(), submission_attempts=1)

        try:
            result = getattr(client, request.method)(**request.kwargs)
        except AmbiguousRequestError as exc:
            _retry_later(broadcast, f"No answer from MessageWhiz; will check before trying again ({exc})")
            return
        except MessageWhizError as exc:
            if exc.permanent:
                broadcast_transition(broadcast, S.FAILED, reason=str(exc), last_error=str(exc))
            else:
                _retry_later(broadcast, f"MessageWhiz is unavailable; will check and try again ({exc})")
            return
    _mark_submitted(broadcast, result, reason="Accepted by MessageWhiz")


def _policy_fit(broadcast: Broadcast) -> bool:
    """The sending policy before MessageWhiz gets the broadcast: a single is refused outside its
    window or when opted out; a broadcast to lists goes to those who may get it at the send time,
    the rest in scheduled parts (campaigns.parts; a trigger's time is not known, so it is not
    checked). False: not to be submitted now (moved to a later opening, its list still on its way
    to MessageWhiz, or another attempt is preparing it)."""
    at = max(broadcast.send_at or policy.now(), policy.now())
    if broadcast.type == T.SINGLE and suppressed_phones(account_id=broadcast.account_id,
                                                        phones=[broadcast.recipient]):
        raise SubmissionProblem("This number has opted out of messages from this account.")
    if broadcast.trigger_id:
        return True
    if broadcast.type == T.SINGLE:
        if refusal := policy.broadcast_refusal(broadcast, [broadcast.recipient], at=at):
            raise SubmissionProblem(refusal)
        return True
    lease = _prepare_lease_take(broadcast)
    if lease is None:
        logger.info("Broadcast %s: another attempt is preparing it", broadcast.pk)
        return False
    try:
        plan = policy.broadcast_plan(broadcast, at=at)
        if broadcast.type == T.SMART and (refusal := policy.smart_refusal(plan)):
            raise SubmissionProblem(refusal)
        now = plan.whole or parts.parts_split(broadcast, plan, tag=remote_tag(broadcast))
        try:
            problem = parts.part_lists_push(broadcast)
        except TransientSyncError as exc:
            _note(broadcast, f"Its recipient list is on its way to MessageWhiz; will try again ({exc})")
            return False
        if problem:
            raise SubmissionProblem(problem)
        return now
    except parts.PartsProblem as problem:
        raise SubmissionProblem(str(problem)) from problem
    finally:
        Broadcast.objects.filter(pk=broadcast.pk, submission_lease=lease).exclude(state=S.SUBMITTING).update(
            submission_lease=None)


def _prepare_lease_take(broadcast: Broadcast):
    """Before it is submitting: one attempt at a time plans, splits and uploads (the lease's end
    is its token); a dead attempt's lease runs out."""
    now, lease = timezone.now(), _lease_end()
    taken = Broadcast.objects.filter(Q(submission_lease__isnull=True) | Q(submission_lease__lt=now),
                                     pk=broadcast.pk, state__in=(S.DRAFT, S.ESTIMATED, S.SCHEDULED)).update(
        submission_lease=lease)
    return lease if taken else None


def submission_due_ids() -> list[int]:
    """Broadcasts left submitting whose lease has run out: a retry that is due, or an attempt whose
    worker died. (Only attempts made here take a lease.)"""
    return list(Broadcast.objects.filter(state=S.SUBMITTING, submission_lease__lt=timezone.now())
                .values_list("pk", flat=True))


def _resume(client, broadcast: Broadcast) -> Request | None:
    """An earlier attempt's outcome is unknown: ask MessageWhiz before sending anything again.
    Returns the request to send, or None when there is nothing to send now."""
    if not _lease_take(broadcast):
        logger.info("Broadcast %s: another attempt holds its submission", broadcast.pk)
        return None
    try:
        found = _reconcile(client, broadcast)
    except MessageWhizError as exc:
        _retry_later(broadcast, f"Could not ask MessageWhiz about an interrupted submission ({exc})")
        return None
    if found is not None:
        _mark_submitted(broadcast, found, reason="Found in MessageWhiz after an interrupted submission")
        return None
    if broadcast.submission_attempts >= MAX_ATTEMPTS:
        reason = f"MessageWhiz did not confirm the broadcast after {broadcast.submission_attempts} attempts"
        last = f" (last: {broadcast.last_error})" if broadcast.last_error else ""
        broadcast_transition(broadcast, S.FAILED, reason=reason, last_error=reason + last)
        return None
    try:
        request = broadcast_request(broadcast)
    except SubmissionProblem as problem:
        broadcast_transition(broadcast, S.FAILED, reason=str(problem), last_error=str(problem))
        return None
    return request if _lease_renew(broadcast) else None


def _lease_end():
    return timezone.now() + timedelta(seconds=lease_seconds())


def _lease_take(broadcast: Broadcast) -> bool:
    now, lease = timezone.now(), _lease_end()
    taken = Broadcast.objects.filter(Q(submission_lease__isnull=True) | Q(submission_lease__lt=now),
                                     pk=broadcast.pk, state=S.SUBMITTING).update(submission_lease=lease)
    if taken:
        broadcast.submission_lease = lease
    return bool(taken)


def _lease_renew(broadcast: Broadcast) -> bool:
    """Renew our lease for the request about to leave and count the attempt; False if another task
    took over while we were checking (the lease's end is our token)."""
    lease = _lease_end()
    renewed = Broadcast.objects.filter(pk=broadcast.pk, state=S.SUBMITTING,
                                       submission_lease=broadcast.submission_lease).update(
        submission_lease=lease, submission_attempts=F("submission_attempts") + 1)
    if renewed:
        broadcast.submission_lease = lease
        broadcast.submission_attempts += 1
    return bool(renewed)


def _retry_later(broadcast: Broadcast, text: str) -> None:
    """Stay submitting, leased until the next attempt is due: never before the request that may
    still be in flight has had its time, and backing off as attempts fail."""
    delay = lease_seconds() * 2 ** max(0, broadcast.submission_attempts - 1)
    due = timezone.now() + timedelta(seconds=max(lease_seconds(), min(MAX_RETRY_DELAY, delay)))
    Broadcast.objects.filter(pk=broadcast.pk, state=S.SUBMITTING, submission_lease=broadcast.submission_lease).update(
        submission_lease=due, last_error=text)


def _note(broadcast: Broadcast, text: str) -> None:
    Broadcast.objects.filter(pk=broadcast.pk).update(last_error=text)


def _reconcile(client, broadcast: Broadcast) -> dict | None:
    tag = remote_tag(broadcast)
    for item in client.broadcast_list(filter={"name": tag}, limit=10):
        if tag in str(item.get("name", "")):
            return {"broadcastID": item["id"]}
    return None


def _mark_submitted(broadcast: Broadcast, result: dict, *, reason: str) -> None:
    remote_id = result.get("broadcastID") or result.get("broadcastId") or result.get("id")
    segment_id = result.get("segmentID") or result.get("segmentId")
    sends_all = broadcast.type != T.SMART and broadcast.trigger_id is None
    status = Message.Status.SUBMITTED if sends_all else Message.Status.QUEUED
    with transaction.atomic():
        if not broadcast_transition(broadcast, S.SUBMITTED, reason=reason, remote_id=remote_id,
                                    remote_segment_id=segment_id, last_error=""):
            return
        count = messages_create(broadcast, status=status)
        sent = count if sends_all else 0
        Broadcast.objects.filter(pk=broadcast.pk).update(recipients_count=count, sent=sent, held=0)
        if sends_all and broadcast.type == T.BASE:
            policy.broadcast_sent_record(broadcast, at=max(broadcast.send_at or policy.now(), policy.now()))
        if broadcast.type == T.SMART:
            Segment.objects.create(broadcast=broadcast, remote_id=segment_id, body=broadcast.body,
                                   size=min(broadcast.first_segment_size or count, count))
        # Delivery reports that arrived before these messages existed are applied now, not by the sweep.
        if remote_id:
            transaction.on_commit(lambda: messages_identified_announce(broadcast_remote_ids=[remote_id]))
    broadcast.recipients_count, broadcast.sent = count, sent


def messages_create(broadcast: Broadcast, *, status: str) -> int:
    """One message per recipient, made in the database in one statement (`rows_insert`)."""
    submitted_at = timezone.now() if status == Message.Status.SUBMITTED else None
    messages_lock_parents(broadcast)
    if broadcast.type == T.SINGLE:
        Message.objects.get_or_create(
            broadcast=broadcast, phone=broadcast.recipient,
            defaults={"account": broadcast.account, "status": status, "status_rank": STATUS_RANK[status],
                      "submitted_at": submitted_at, "country": phone_country(broadcast.recipient)},
        )
        return 1
    list_ids = list(broadcast.recipient_lists.values_list("pk", flat=True))
    phones = phones_for_send(recipient_list_ids=list_ids,
                             unsubscribe_list_ids=list(broadcast.unsubscribe_lists.values_list("pk", flat=True)))
    select_sql, params = phones.query.sql_with_params()
    table = Message._meta.db_table
    client_ref = client_ref_sql()
    # Countries by groups of the lists' rows as they are: grouping them skips the de-duplication.
    country, joins = CountryMap(*Recipient.objects.filter(recipient_list_id__in=list_ids).values("phone")
                                .query.sql_with_params()).sql("phones")
    columns = ("account_id, broadcast_id, phone, client_ref, provider_message_id, status, status_rank, error, "
               "clicks, submitted_at, country")
    rows = (f"SELECT %s, %s, phones.phone, {client_ref}, '', %s, %s, '', 0, %s, {country} "  # noqa: S608
            f"FROM ({select_sql}) AS phones {joins}")
    return rows_insert(table, columns, rows, [broadcast.account_id, broadcast.pk, broadcast.pk, status,
                                              STATUS_RANK[status], submitted_at, *params])


def client_ref_sql() -> str:
    """SQL for a message's client_ref from the broadcast id (one %s) and its row number.

    Ordered, so its unique index is appended to rather than scattered into (a random UUID per row
    made the fan-out several times slower); it only has to be stable and unique, callbacks are
    authenticated by the URL token."""
    if connection.vendor == "postgresql":
        return "(lpad(to_hex(%s), 12, '0') || lpad(to_hex(row_number() OVER ()), 20, '0'))::uuid"
    return "printf('%%012x%%020x', %s, row_number() OVER ())"


def messages_lock_parents(broadcast: Broadcast) -> None:
    """Hold the broadcast and its account FOR KEY SHARE until the transaction ends: the message
    table has no foreign-key constraints (models.Message), so this is what keeps a concurrent
    delete of either from leaving the messages being inserted without them (it waits instead)."""
    if connection.vendor != "postgresql":
        return  # SQLite writes one transaction at a time
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {Broadcast._meta.db_table} WHERE id = %s FOR KEY SHARE", [broadcast.pk])  # noqa: S608
        found = cursor.fetchone()
        cursor.execute(f"SELECT 1 FROM {ProviderAccount._meta.db_table} WHERE id = %s FOR KEY SHARE",  # noqa: S608
                       [broadcast.account_id])
        if found is None or cursor.fetchone() is None:
            raise Broadcast.DoesNotExist("The broadcast or its provider account was deleted.")


def rows_insert(table: str, columns: str, select_sql: str, params) -> int:
    """INSERT INTO table (columns) the rows select_sql makes; returns how many.

    On PostgreSQL the rows are copied out and back in (COPY … TO STDOUT into a temporary file,
    then COPY … FROM STDIN): COPY writes rows to the table in batches where INSERT … SELECT
    writes them one at a time, which makes a million messages about a quarter faster."""
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            cursor.execute(f"INSERT INTO {table} ({columns}) {select_sql}", params)
            return cursor.rowcount
        with tempfile.TemporaryFile() as spool:
            with cursor.copy(f"COPY ({select_sql}) TO STDOUT", params) as copy:
                for block in copy:
                    spool.write(block)
            spool.seek(0)
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                while block := spool.read(1 << 20):
                    copy.write(block)
            return cursor.rowcount
