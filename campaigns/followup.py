"""Following submitted broadcasts until they are final, from MessageWhiz's side.

A beat job asks /api/3/Broadcast/List for state and broadcastConversion and /api/3/DeliveryReport
for per-status counts. These are MessageWhiz's figures, kept in `provider_report` beside our own
counters (which delivery callbacks keep exact).

The reference shows a broadcast's `state` but never says what its values mean, so completion is
never read from it: it is kept as reported (with every value seen) and shown. A broadcast
completes when the figures say no report is still expected — every message MessageWhiz reached
has a final delivery status, in its report or ours, and none is still "sent" — and, for a smart
broadcast, no recipient is left for another segment (or its CTR expiry has passed). One whose
reports stop coming (lost DLRs) completes once nothing has changed for REPORTS_STALE_AFTER after
its last send or expiry, with a note saying how many reports never came.
"""

from datetime import timedelta

from django.db.models import Max
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from messaging.messagewhiz.client import MessageWhizClient
from messaging.messagewhiz.errors import MessageWhizError

from .models import Broadcast
from .states import broadcast_transition

FINAL_COUNTS = ("delivered", "undelivered", "rejected", "expired", "failed")
# Carriers give up on a message within a validity period of at most a few days; a report not
# in by then is not coming.
REPORTS_STALE_AFTER = timedelta(hours=72)
# Ours are among the newest broadcasts; don't walk an account's whole history for a lost one.
MAX_LISTED = 2000
MAX_STATES_KEPT = 20
# Clicks keep coming after the last delivery report: follow MessageWhiz's click counts that long.
CLICKS_FOLLOWED_FOR = timedelta(days=7)


def broadcasts_refresh(*, account) -> int:
    """Refresh every submitted broadcast of `account`, and the click counts of those completed
    lately (people still click after the last report); returns how many completed."""
    now = timezone.now()
    followed = Broadcast.objects.filter(account=account, remote_id__isnull=False)
    pending = {b.remote_id: b for b in followed.filter(state=Broadcast.State.SUBMITTED)}
    clicking = dict(followed.filter(state=Broadcast.State.COMPLETED, completed_at__gte=now - CLICKS_FOLLOWED_FOR)
                    .values_list("remote_id", "pk"))
    if not pending and not clicking:
        return 0
    completed = 0
    with MessageWhizClient.from_account(account) as client:
        listed = _listed(client, {*pending, *clicking})
        for remote_id, pk in clicking.items():
            _record_clicks(pk, listed.get(remote_id))
        for remote_id, broadcast in pending.items():
            _record_clicks(broadcast.pk, listed.get(remote_id))
            try:
                rows = client.delivery_report(remote_id)
            except MessageWhizError as exc:
                Broadcast.objects.filter(pk=broadcast.pk).update(last_error=f"Delivery report: {exc}")
                continue
            item = listed.get(remote_id, {})
            report = _report(broadcast, _sum_rows(rows), item, now)
            Broadcast.objects.filter(pk=broadcast.pk).update(provider_report=report,
                                                             remote_state=remote_state_text(item.get("state")))
            done, reason = broadcast_completion(broadcast, report, now=now)
            if done and broadcast_transition(broadcast, Broadcast.State.COMPLETED, reason=reason):
                completed += 1
    return completed


def _record_clicks(pk: int, item: dict | None) -> None:
    """MessageWhiz's click counts for the broadcast, when its answer has them as whole numbers."""
    conversion = (item or {}).get("broadcastConversion")
    if not isinstance(conversion, dict):
        return
    counts = {"reported_clicks_unique": conversion.get("uniqueClicks"),
              "reported_clicks_total": conversion.get("totalClicks")}
    counts = {name: value for name, value in counts.items()
              if isinstance(value, int) and not isinstance(value, bool) and value >= 0}
    if counts:
        Broadcast.objects.filter(pk=pk).update(**counts)


def remote_state_text(value) -> str:
    """MessageWhiz's `state` (an int, a string, or missing) as stored: shown, never interpreted."""
    return "" if value is None else str(value)[:40]


def _listed(client, wanted: set[int]) -> dict[int, dict]:
    found = {}
    for seen, item in enumerate(client.broadcast_iter(orderby="create_date DESC")):
        if item.get("id") in wanted:
            found[item["id"]] = item
        if wanted <= set(found) or seen >= MAX_LISTED:
            break
    return found


def _sum_rows(rows) -> dict:
    """One object per segment for smart broadcasts: add them up."""
    totals = {}
    for row in rows if isinstance(rows, list) else [rows]:
        for key, value in (row or {}).items():
            if key in (*FINAL_COUNTS, "sent") and isinstance(value, int):
                totals[key] = totals.get(key, 0) + value
    return totals


def _report(broadcast: Broadcast, delivery: dict, item: dict, now) -> dict:
    """The new provider_report: MessageWhiz's figures, the states seen, and when figures last moved."""
    previous = broadcast.provider_report or {}
    conversion = item.get("broadcastConversion") or {}
    ours = sum(getattr(broadcast, name) for name in FINAL_COUNTS)  # our counters of the same statuses
    figures = {"delivery": delivery, "reached": conversion.get("recipientCount"), "ours": ours}
    moved = figures != previous.get("figures")
    states = list(previous.get("states_seen") or [])
    if item.get("state") is not None and item["state"] not in states:
        states = [*states, item["state"]][-MAX_STATES_KEPT:]
    return {"delivery": delivery, "conversion": conversion, "remote_state": item.get("state"),
            "states_seen": states, "figures": figures, "refreshed_at": now.isoformat(),
            "changed_at": now.isoformat() if moved else previous.get("changed_at", now.isoformat())}


def broadcast_completion(broadcast: Broadcast, report: dict, *, now) -> tuple[bool, str]:
    """Whether the broadcast is complete by what MessageWhiz reported, and why."""
    delivery = report.get("delivery") or {}
    figures = report.get("figures") or {}
    reached = figures.get("reached")
    if not isinstance(reached, int) or reached <= 0:
        reached = broadcast.recipients_count
    final = max(sum(delivery.get(name, 0) for name in FINAL_COUNTS), figures.get("ours") or 0)
    awaiting = delivery.get("sent", 0)
    if _may_grow(broadcast, reached, now):
        return False, ""
    if reached and final >= reached and not awaiting:
        return True, f"MessageWhiz reports a final status for all {reached} messages"
    if broadcast.trigger_id and not (final or awaiting):
        return False, ""  # its trigger has not fired: nothing is overdue yet
    quiet_since = max(_last_send(broadcast), _parse(report.get("changed_at")) or now)
    if now - quiet_since < REPORTS_STALE_AFTER:
        return False, ""
    hours = int(REPORTS_STALE_AFTER.total_seconds() // 3600)
    return True, (f"No new delivery reports for {hours} hours: {min(final, reached)} of {reached} messages "
                  f"have a final status, the rest never reported one")


def _may_grow(broadcast: Broadcast, reached: int, now) -> bool:
    """A smart broadcast may still send another segment: recipients are left (for "continue" or
    its CTR threshold) and, for a CTR one, it has not expired."""
    if broadcast.type != Broadcast.Type.SMART:
        return False
    if broadcast.eb_type == Broadcast.SmartType.CTR and broadcast.exp_date and broadcast.exp_date <= now:
        return False
    return reached < min(broadcast.recipients_count, broadcast.recipient_cap or broadcast.recipients_count)


def _last_send(broadcast: Broadcast):
    """The latest moment anything of the broadcast was due to go out (or, for CTR, could)."""
    moments = [broadcast.submitted_at, broadcast.send_at, broadcast.exp_date,
               *broadcast.segments.aggregate(sent=Max("created_at"), due=Max("send_at")).values()]
    return max((moment for moment in moments if moment is not None), default=timezone.now())


def _parse(value):
    return parse_datetime(value) if isinstance(value, str) else None
