"""Sender lists: groups of senders, one picked at random per broadcast message."""

from ..errors import ApiError
from ..validation import integer
from ..web import Call
from .crud import Resource, name_field, register, route

__all__ = ["SENDER_LISTS"]


def _sender_ids(call: Call, raw) -> list[int]:
    """Existing sender ids among raw; the rest are ignored ("In case of all invalid senderIds,
    Senders will not be added to the list, and the list will be created empty")."""
    if not isinstance(raw, list):
        raw = [raw]
    found = []
    for value in raw:
        try:
            ident = integer(value, "senderIds")
        except ApiError:
            continue
        if call.store.get("senders", ident) is not None and ident not in found:
            found.append(ident)
    return found


def _add_members(call: Call, obj: dict, raw) -> list[int]:
    ids = _sender_ids(call, raw)
    obj["sender_ids"].extend(ident for ident in ids if ident not in obj["sender_ids"])
    return ids


SENDER_LISTS = register(
    Resource(
        collection="sender_lists",
        label="Sender list",
        path="senderlist",
        fields={"name": name_field},
        required=("name",),
        defaults=lambda call: {"sender_ids": []},
        created=("id", "name", "enabled", "count"),
        listed=("enabled", "id", "name", "count"),
        computed={"count": lambda call, obj: len(obj["sender_ids"])},
        # PUT senderIds are "added to the list", as the prose says (not a replacement)
        on_write=lambda call, obj, body: _add_members(call, obj, body["senderIds"]) if "senderIds" in body else None,
        put_enables=True,  # the PUT prose lists "enabled(bool)"
    )
)


def _find(call: Call, ident: int) -> dict:
    return call.store.find("sender_lists", "Sender list", ident)


@route("POST", "/api/3/senderlist/<int:ident>/senders")
def add_senders(call: Call, ident: int) -> list[int]:
    obj = _find(call, ident)
    body = call.json
    if "ids" not in body:
        raise ApiError(400, "ids should not be empty")
    return _add_members(call, obj, body["ids"])


@route("GET", "/api/3/senderlist/<int:ident>/senders")
def senders(call: Call, ident: int) -> dict:
    obj = _find(call, ident)
    members = [call.store.get("senders", sender_id) for sender_id in obj["sender_ids"]]
    return {"id": ident, "senders": [{"senderId": s["id"], "name": s["name"]} for s in members if s]}


@route("DELETE", "/api/3/senderlist/<int:ident>/senders")
def remove_sender(call: Call, ident: int) -> bool:
    obj = _find(call, ident)
    raw = call.query.get("id") or call.query.get("[id]")
    if raw is None:
        raise ApiError(400, "id should not be empty")
    sender_id = integer(raw, "id")
    if sender_id not in obj["sender_ids"]:
        raise ApiError(404, f"Sender {sender_id} is not in sender list {ident}")
    obj["sender_ids"].remove(sender_id)
    return True
