"""MessageWhiz broadcasts in parts: one per sending window, each with a recipient list of its own.

MessageWhiz sends a broadcast to all of its lists at one time. When the sending policy
(`campaigns.policy.broadcast_plan`) finds recipients who must not get it at that time — their
window is closed, they opted out, they are over the frequency cap — the broadcast is made to fit
before it is submitted (campaigns.sending calls `parts_split`, then `part_lists_push`):

- it gets a recipient list of its own (`Broadcast.part_list`), made here from the recipients who
  may get it at the send time (with their fields, so personalisation is unchanged) and uploaded
  to MessageWhiz by the list machinery (messaging.sync.push) before the broadcast is submitted;
  the lists the user chose stay as they are;
- the recipients whose window is closed then are grouped by the instant it next opens, and each
  group becomes a child broadcast (`parent`, role WINDOW) with a list of its own, scheduled at
  that instant (a UTC send_date, utc_offset 0). Beat hands it over shortly before, like any
  scheduled broadcast, and its own plan then leaves out whoever opted out or reached the cap since;
- if nobody may get it at the send time, the broadcast itself moves to the first opening.

Opted-out and capped numbers are simply not in these lists, and counted on the broadcast: the
unsubscribe lists are not used to leave recipients out, because a pull would read their numbers
as opt-outs (messaging/messagewhiz/ASSUMPTIONS.md).

Safe to run again: a broadcast whose lists all qualify is left as it is, so a retried or
redelivered task plans again and finds nothing to split. The split (lists, children, figures)
is one transaction, made under the broadcast's preparation lease (campaigns.sending).
"""

import logging

from django.db import connection, transaction
from django.db.models import F

from messaging.mirror import SyncState
from messaging.sync.push import TransientSyncError, mirror_push
from recipients.models import Recipient, RecipientList

from .models import Broadcast, BroadcastEvent
from .policy import Part, Plan
from .scheduling import CLONED_RELATIONS, WAITING, broadcast_clone, broadcast_schedule
from .states import broadcast_transition_or_raise

logger = logging.getLogger(__name__)

S = Broadcast.State

COPY_CHUNK = 5000
COPIED_FIELDS = ("phone", "first_name", "last_name", "email", "url", "custom", "custom1", "custom2", "custom3",
                 "custom4", "timezone")
NAME_MAX = 255


class PartsProblem(Exception):
    """The broadcast can't be made to fit the sending policy; the message says why."""


def parts_split(broadcast: Broadcast, plan: Plan, *, tag: str) -> bool:
    """Give the broadcast a list of its own and a scheduled part per later opening (see the module).
    Returns whether it still goes at its send time (False: it moved to the first opening).
    `tag` names the lists after the broadcast's submission key, so a lost upload is found again."""
    if plan.never:
        raise PartsProblem(f"{plan.never} recipients' sending window never opens in all of their zones this week "
                           f"({'; '.join(sorted(plan.never_zones)[:5])}): check the account's window and days.")
    parts = plan.ordered_parts()
    if not plan.now and not parts:
        raise PartsProblem(f"None of the {plan.total} recipients may be messaged: {plan.opted_out} opted out, "
                           f"{plan.capped} over the account's frequency cap.")
    first = None if plan.now else parts.pop(0)
    root = broadcast.parent or broadcast
    with transaction.atomic():
        # A cancel waits for the split, and then finds its parts to cancel with it; or came first.
        state = Broadcast.objects.select_for_update().filter(pk=broadcast.pk).values_list("state", flat=True).first()
        if state not in WAITING:
            raise PartsProblem(f"It became {Broadcast.State(state).label.lower()} meanwhile: nothing was split.")
        if first is None:
            own = _part_list(broadcast, plan.now_ids, "at the send time", tag=tag)
        else:
            own = _part_list(broadcast, first.ids, f"from {first.opens:%Y-%m-%d %H:%M} UTC", tag=tag)
        columns = _column_names(broadcast)
        broadcast.recipient_lists.set([own])
        for part in parts:
            _child(broadcast, root, part, _part_list(broadcast, part.ids, f"from {part.opens:%Y-%m-%d %H:%M} UTC",
                                                      tag=tag, columns=columns))
        Broadcast.objects.filter(pk=broadcast.pk).update(
            part_list=own, opted_out=F("opted_out") + plan.opted_out, capped=F("capped") + plan.capped,
            held=first.count if first else 0)
        broadcast.part_list = own
        if first is not None:
            _move(broadcast, first)
    return first is None


def _column_names(broadcast: Broadcast) -> dict:
    names = {}
    for columns in broadcast.recipient_lists.values_list("column_names", flat=True):
        names = {**columns, **names}
    return names


def _part_list(broadcast: Broadcast, ids, label: str, *, tag: str, columns: dict | None = None) -> RecipientList:
    """A new list of these recipients (copied with their fields), waiting to be uploaded."""
    suffix = f" · {label} [{tag}]"
    part_list = RecipientList.objects.create(
        account=broadcast.account, name=broadcast.name[:NAME_MAX - len(suffix)].rstrip() + suffix,
        recipient_count=len(ids), column_names=columns if columns is not None else _column_names(broadcast))
    table = Recipient._meta.db_table
    columns = ", ".join(COPIED_FIELDS)
    with connection.cursor() as cursor:
        for start in range(0, len(ids), COPY_CHUNK):
            batch = ids[start:start + COPY_CHUNK].tolist()
            # One INSERT … SELECT per batch: a million recipients are copied in seconds, not minutes.
            if connection.vendor == "postgresql":
                where, params = "id = ANY(%s)", [batch]
            else:
                where, params = f"id IN ({', '.join(['%s'] * len(batch))})", batch
            cursor.execute(f"INSERT INTO {table} (recipient_list_id, {columns}) "  # noqa: S608
                           f"SELECT %s, {columns} FROM {table} WHERE {where} ORDER BY id", [part_list.pk, *params])
    return part_list


def _child(broadcast: Broadcast, root: Broadcast, part: Part, part_list: RecipientList) -> Broadcast:
    suffix = f" (part at {part.opens:%Y-%m-%d %H:%M} UTC)"
    child = broadcast_clone(
        broadcast, relations=tuple(r for r in CLONED_RELATIONS if r != "recipient_lists"),
        name=root.name[:NAME_MAX - len(suffix)].rstrip() + suffix, parent=root, role=Broadcast.Role.WINDOW,
        window_start=broadcast.window_start, window_end=broadcast.window_end, part_list=part_list,
        held=part.count)
    child.recipient_lists.set([part_list])
    broadcast_schedule(child, send_at=part.opens, time_zone=broadcast.time_zone)
    return child


def _move(broadcast: Broadcast, first: Part) -> None:
    """Nobody may get it at the send time: the broadcast itself waits for the first opening."""
    reason = (f"Nobody's sending window is open at the send time: it goes when the first opens, "
              f"{first.opens:%Y-%m-%d %H:%M} UTC ({first.count} recipients {first.label})")
    Broadcast.objects.filter(pk=broadcast.pk).update(send_at=first.opens)
    broadcast.send_at = first.opens
    if broadcast.state == S.SCHEDULED:
        BroadcastEvent.objects.create(broadcast=broadcast, from_state=S.SCHEDULED, to_state=S.SCHEDULED,
                                      reason=reason)
    else:
        broadcast_transition_or_raise(broadcast, S.SCHEDULED, reason=reason)


def part_lists_push(broadcast: Broadcast) -> str | None:
    """Upload the lists made here that MessageWhiz does not have yet: the broadcast's own (a
    TransientSyncError: try again later), then its waiting parts' (each part's own submission
    tries again if one fails). Returns why the broadcast's own list can't be used, or None."""
    own = broadcast.part_list
    if own is not None:
        own.refresh_from_db()
        if own.sync_state == SyncState.PENDING:
            mirror_push(own)
            own.refresh_from_db()
        if own.remote_id is None or own.sync_state == SyncState.FAILED:
            return f"Its recipient list “{own}” could not be uploaded to MessageWhiz: {own.sync_error or 'no id'}."
    pending = RecipientList.objects.filter(
        pk__in=broadcast.children.filter(role=Broadcast.Role.WINDOW, state__in=WAITING).values("part_list"),
        sync_state=SyncState.PENDING)
    for part_list in pending:
        try:
            mirror_push(part_list)
        except TransientSyncError as exc:
            logger.info("Part list %s: upload will be tried again with its part (%s)", part_list.pk, exc)
    return None


def parts_of(broadcast: Broadcast):
    """The broadcast's scheduled parts, soonest first (the broadcast page lists them)."""
    return broadcast.children.filter(role=Broadcast.Role.WINDOW).order_by("send_at", "pk")
