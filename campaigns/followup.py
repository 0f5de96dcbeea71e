"""Following submitted broadcasts until they are final, from MessageWhiz's side.

A beat job asks /api/3/Broadcast/List for state and broadcastConversion and /api/3/DeliveryReport
for per-status counts. These are MessageWhiz's figures, kept in `provider_report` beside our own
counters (which delivery callbacks keep exact). A broadcast completes when the report has nothing
left in flight and accounts for every recipient.
"""

from django.utils import timezone

from messaging.messagewhiz.client import MessageWhizClient
from messaging.messagewhiz.errors import MessageWhizError

from .models import Broadcast
from .states import broadcast_transition

FINAL_COUNTS = ("delivered", "undelivered", "rejected", "expired", "failed")
# Ours are among the newest broadcasts; don't walk an account's whole history for a lost one.
MAX_LIST_PAGES = 20
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
            delivery = _sum_rows(rows)
            item = listed.get(remote_id, {})
            report = {"delivery": delivery, "conversion": item.get("broadcastConversion") or {},
                      "remote_state": item.get("state"), "refreshed_at": timezone.now().isoformat()}
            Broadcast.objects.filter(pk=broadcast.pk).update(provider_report=report, remote_state=item.get("state"))
            if _is_complete(delivery, broadcast.recipients_count) and broadcast_transition(
                broadcast, Broadcast.State.COMPLETED, reason="MessageWhiz reports every message final"
            ):
                completed += 1
    return completed


def _listed(client, wanted: set[int]) -> dict[int, dict]:
    found = {}
    for page in range(MAX_LIST_PAGES):
        items = client.broadcast_list(start=page * PAGE_SIZE, limit=PAGE_SIZE, orderby="create_date DESC")
        found.update({item["id"]: item for item in items if item.get("id") in wanted})
        if len(items) < PAGE_SIZE or wanted <= set(found):
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


def _is_complete(delivery: dict, recipients: int) -> bool:
    final = sum(delivery.get(key, 0) for key in FINAL_COUNTS)
    return delivery.get("sent", 0) == 0 and final > 0 and final >= recipients
