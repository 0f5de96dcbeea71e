"""The events applying callbacks reports to outbound webhooks (messaging.webhooks).

Called inside the applying transaction, after the messages are written: the outbox rows commit
with the status changes and clicks they report. Nothing is read or built unless an endpoint
listens to the event type.
"""

from campaigns.models import Message
from messaging.webhooks.events import emit_many, subscribers

from .matching import chunks
from .selectors import NOT_DELIVERED

S = Message.Status


def applied_emit(changed, new_clicks, messages) -> None:
    """`changed`: messages whose status moved (callbacks.services._Message), `new_clicks`: Click
    rows just inserted, `messages`: every locked message by pk."""
    listening = subscribers()
    if not listening:
        return
    delivered = [m for m in changed if m.status == S.DELIVERED and m.was[0] != S.DELIVERED] \
        if "message.delivered" in listening else []
    failed = [m for m in changed if m.status in NOT_DELIVERED and m.was[0] not in NOT_DELIVERED] \
        if "message.failed" in listening else []
    clicks = new_clicks if "link.clicked" in listening else []
    if not (delivered or failed or clicks):
        return
    pks = {m.pk for m in delivered + failed} | {c.message_id for c in clicks}
    known = {}
    for chunk in chunks(sorted(pks)):
        known.update({pk: (phone, str(ref)) for pk, phone, ref in
                      Message.objects.filter(pk__in=chunk).values_list("pk", "phone", "client_ref")})
    for event_type, items in (("message.delivered", delivered), ("message.failed", failed)):
        if items:
            emit_many(event_type, [_message(m, known) for m in items])
    if clicks:
        emit_many("link.clicked", [
            {"message_id": c.message_id, "client_ref": known.get(c.message_id, ("", ""))[1],
             "broadcast_id": messages[c.message_id].broadcast_id if c.message_id in messages else None,
             "phone": known.get(c.message_id, ("", ""))[0], "link_id": c.link_id,
             "clicked_at": c.clicked_at, "unique": c.unique_click} for c in clicks])


def _message(m, known) -> dict:
    phone, ref = known.get(m.pk, ("", ""))
    return {"message_id": m.pk, "client_ref": ref, "broadcast_id": m.broadcast_id, "phone": phone,
            "status": m.status, "status_at": m.at, "provider_message_id": m.provider_message_id,
            "price": m.price, "parts": m.parts}
