"""Callback bodies in the shapes the reference documents, for tests and their assertions."""

import json
from decimal import Decimal

from django.utils import timezone

from callbacks import parsing, selectors
from callbacks.models import CallbackEvent


def dlr(message, status="DELIVRD", *, by="client_ref", price=0.05, **extra):
    """The reference's "Example DLR Callback" for a message."""
    states = {"ENROUTE": 1, "DELIVRD": 2, "EXPIRED": 3, "DELETED": 4, "UNDELIV": 5, "ACCEPTD": 6, "UNKNOWN": 7,
              "REJECTD": 8, "FAILED": 9}
    body = {
        "message_id": message.provider_message_id or "rbzAV2NXxJ_u5bDL35Hop",
        "sender": "sender", "recipient": message.phone, "content": "Message Text",
        "state": states.get(status), "status": status,
        "client_ref": str(message.client_ref) if by == "client_ref" else "Custom param",
        "timestamp": "2023-03-28T15:52:31.279Z", "parts_count": 1, "price": price,
        "parts": [{"pdu_id": "SVV7oRyvMLX1OIzLwta2p", "encoding": 0, "content": "Message Text", "status": status}],
    }
    if body["state"] is None:
        del body["state"]
    return {**body, **extra}


def webhook_entry(message, task_state=2, *, price=11.8, updated=1629461739834, _id=None):
    return {"segment_id": 100001, "_id": _id or f"611f9cdf8d0a4976d8d8{message.pk:06d}", "broadcast_id":
            message.broadcast.remote_id, "recipient": message.phone, "price": price, "task_state": task_state,
            "updated": updated}


def click(message, link="hkzt.me/ZPFuT5", at="2023-05-01T13:46:37.921Z", unique=True):
    return {"message_id": message.provider_message_id, "link_id": link, "time": at, "unique_click": unique}


def figures(broadcast) -> dict:
    """Stored counters, checked against the recount from the raw events."""
    stored = selectors.counters(broadcast.pk)
    stored["cost"] = Decimal(stored["cost"]).quantize(Decimal("0.0001"))
    assert selectors.mismatches([broadcast.pk]) == [], (stored, selectors.recount([broadcast.pk]))
    return stored


def event(account_id, body) -> CallbackEvent:
    """An accepted callback as the endpoints hand it on, for services.events_record."""
    text = json.dumps(body)
    parsed = parsing.parse(text.encode(), allowed=frozenset({"dlr", "click", "dlr_batch"}))[1]
    return CallbackEvent(account_id=account_id, kind=parsed.kind, body=text, dedupe_key=parsed.dedupe_key,
                         received_at=timezone.now())
