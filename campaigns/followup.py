"""Following submitted broadcasts until they are final, from MessageWhiz's side.

A beat job asks /api/3/Broadcast/List for state and broadcastConversion and /api/3/DeliveryReport
for per-status counts. These are MessageWhiz's figures, kept in `provider_report` beside our own
counters (which delivery callbacks keep exact). A broadcast completes when MessageWhiz reports it
done; a smart broadcast only once no recipient is left for another segment (or a CTR one expired).
"""

from django.utils import timezone

from messaging.messagewhiz.client import MessageWhizClient
from messaging.messagewhiz.errors import MessageWhizError

from .models import Broadcast
from .states import broadcast_transition

FINAL_COUNTS = ("delivered", "undelivered", "rejected", "expired", "failed")
# The reference's list example shows `state` without naming its values; the sandbox decides 0
# scheduled, 1 sending, 2 done (every message has its final report).
REMOTE_DONE = 2
# Ours are among the newest broadcasts; don't walk an account's whole history for a lost one.
MAX_LISTED = 2000
PAGE_SIZE = 100


def broadcasts_refresh(*, account) -> int:
    """Refresh every submitted broadcast of `account`; returns how many completed."""
    pending = {b.remote_id: b for b in Broadcast.objects.filter(
        account=account, state=Broadcast.State.SUBMITTED, remote_id__isnull=False)}
    if not pending:
        return 0
    completed = 0
    with MessageWhizClient.from_account(account) as client:
        listed = _listed(client, set(pending))
        for remote_id, broadcast in pending.items():
            try:
                rows = client.delivery_report(remote_id)
            except MessageWhizError as exc:
                Broadcast.objects.filter(pk=broadcast.pk).update(last_error=f"Delivery report: {exc}")
                continue
            item = listed.get(remote_id, {})
            report = {"delivery": _sum_rows(rows), "conversion": item.get("broadcastConversion") or {},
                      "remote_state": item.get("state"), "refreshed_at": timezone.now().isoformat()}
            Broadcast.objects.filter(pk=broadcast.pk).update(provider_report=report, remote_state=item.get("state"))
            if _is_done(broadcast, item) and broadcast_transition(
                broadcast, Broadcast.State.COMPLETED, reason="MessageWhiz reports the broadcast done"
            ):
                completed += 1
    return completed


def _listed(client, wanted: set[int]) -> dict[int, dict]:
    found = {}
    for seen, item in enumerate(client.broadcast_iter(orderby="create_date DESC", page_size=PAGE_SIZE)):
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


def _is_done(broadcast: Broadcast, item: dict) -> bool:
    """MessageWhiz is done with the broadcast. For a smart one "done" is about the segments sent so
    far: it stays open (to be continued, or for its CTR threshold to release more) while recipients
    are left, unless its CTR expiry date has passed."""
    if item.get("state") != REMOTE_DONE:
        return False
    if broadcast.type != Broadcast.Type.SMART:
        return True
    if broadcast.eb_type == Broadcast.SmartType.CTR and broadcast.exp_date and broadcast.exp_date <= timezone.now():
        return True
    reached = (item.get("broadcastConversion") or {}).get("recipientCount") or 0
    return reached >= min(broadcast.recipients_count, broadcast.recipient_cap or broadcast.recipients_count)
