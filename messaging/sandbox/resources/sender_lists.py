"""Sender lists: groups of senders, one picked at random per broadcast message."""

from ..errors import ApiError
from ..validation import array, flag, integer
from ..web import Call
from .crud import Resource, name_field, register, route

__all__ = ["SENDER_LISTS"]


def _sender_ids(call: Call, raw, field: str) -> list[int]:
    """Existing sender ids among the array raw; the rest (unknown ids, and ids that are not
    integers, as the examples' ids are) are ignored ("In case of all invalid senderIds, Senders
    will not be added to the list, and the list will be created empty")."""
    found = []
    for value in array(raw, field):
        is_id = isinstance(value, int) and not isinstance(value, bool)
        if is_id and call.store.get("senders", value) is not None and value not in found:
            found.append(value)
    return found


def _add_members(call: Call, obj: dict, raw, field: str = "senderIds") -> list[int]:
    ids = _sender_ids(call, raw, field)
    obj["sender_ids"].extend(ident for ident in ids if ident not in obj["sender_ids"])
    return ids


SENDER_LISTS = register(
    Resource(
        collection="sender_lists",
        label="Sender list",
        path="senderList",
        fields={"name": name_field},
        required=("name",),
        defaults=lambda call: {"sender_ids": []},
        created=("id", "name", "enabled", "count"),
        listed=("enabled", "id", "name", "count"),
        computed={"count": lambda call, obj: len(obj["sender_ids"])},
        on_write=lambda call, obj, body: _on_write(call, obj, body),
        put_enables=True,  # the PUT prose lists "enabled(bool)"
    )
)


def _on_write(call: Call, obj: dict, body: dict) -> None:
    if "enabled" in body:
        flag(body["enabled"], "enabled")  # the PUT prose types it "enabled(bool) - true or false"
    if "senderIds" in body:
        _add_members(call, obj, body["senderIds"])  # "added to the list", as the prose says (not a replacement)


def _find(call: Call, ident: int) -> dict:
    return call.store.find("sender_lists", "Sender list", ident)


@route("POST", "/api/3/senderList/<int:ident>/senders")
def add_senders(call: Call, ident: int) -> list[int]:
    obj = _find(call, ident)
    body = call.json
    if "ids" not in body:
        raise ApiError(400, "ids should not be empty")
    return _add_members(call, obj, body["ids"], "ids")


@route("GET", "/api/3/senderList/<int:ident>/senders")
def senders(call: Call, ident: int) -> dict:
    obj = _find(call, ident)
    members = [call.store.get("senders", sender_id) for sender_id in obj["sender_ids"]]
    return {"id": ident, "senders": [{"senderId": s["id"], "name": s["name"]} for s in members if s]}


@route("DELETE", "/api/3/senderList/<int:ident>/senders")
def remove_sender(call: Call, ident: int) -> bool:
    obj = _find(call, ident)
    raw = call.query.get("id")  # `?id=` here; link lists use `?[id]=`
    if raw is None:
        raise ApiError(400, "id should not be empty")
    sender_id = integer(raw, "id")
    if sender_id not in obj["sender_ids"]:
        raise ApiError(404, f"Sender {sender_id} is not in sender list {ident}")
    obj["sender_ids"].remove(sender_id)
    return True
