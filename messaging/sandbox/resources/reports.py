"""What happened to broadcasts: the broadcast list (state, conversion) and the delivery report."""

from ..errors import ApiError, not_found
from ..state import Store, page_params, parse_filter
from ..validation import integer, number, only_fields, parse_datetime
from ..web import Call
from .crud import route
from .sending import SMART, broadcast_state

# Delivery report counters by message state (ids from the reference's DLR status list);
# decision: ACCEPTD counts as sent, UNKNOWN as undelivered, DELETED as failed.
REPORT_COUNTERS = {
    0: "sent",
    1: "sent",
    6: "sent",
    2: "delivered",
    5: "undelivered",
    7: "undelivered",
    8: "rejected",
    3: "expired",
    9: "failed",
    4: "failed",
}
LIST_FILTERS = ("name", "type", "parent_id", "start_date", "end_date", "filterBy")


# broadcast list -------------------------------------------------------------------------------------
def _conversion(store: Store, broadcast: dict) -> dict:
    messages = store.broadcast_messages(broadcast["id"])
    unique = sum(1 for m in messages if m["unique_clicks"])
    count = len(messages)
    return {
        "uniqueClicks": unique,
        "totalClicks": sum(m["clicks"] for m in messages),
        "recipientCount": count,
        "conversion": f"{unique * 100 / count:.2f}" if count else "0.00",
        "broadcastId": broadcast["id"],
    }


LIST_KEYS = (
    "id",
    "user_id",
    "name",
    "type",
    "message_body",
    "enabled",
    "trigger_id",
    "send_date",
    "state",
    "parent_id",
    "real_price",
    "estimated_price",
    "create_date",
    "estimated_count",
    "utc_offset",
    "next_segment_size",
    "eb_type",
    "company_name",
    "timezone",
    "send_now",
)


def _list_item(store: Store, broadcast: dict) -> dict:
    item = {key: broadcast.get(key) for key in LIST_KEYS}
    item["state"] = broadcast_state(store, broadcast)
    item["broadcastConversion"] = _conversion(store, broadcast)
    return item


def _date_param(value: str, field: str) -> float:
    moment = parse_datetime(value)
    if moment is None:
        raise ApiError(400, f"{field} must be a date")
    return moment.timestamp()


@route("GET", "/api/3/Broadcast/List")
def broadcast_list(call: Call) -> list[dict]:
    store, query = call.store, call.query
    start, limit = page_params(query, max_limit=100)  # "numbers in range 1-100"
    order_field, _, direction = query.get("orderby", "create_date DESC").strip().partition(" ")
    direction = direction.strip().upper() or "DESC"
    if order_field not in ("create_date", "send_date") or direction not in ("ASC", "DESC"):
        raise ApiError(400, "orderby must be '<create_date|send_date> <ASC|DESC>'")
    names, types, parents, criteria = [], set(), set(), {"filterBy": "create_date"}
    for key, value in parse_filter(query.get("filter"), LIST_FILTERS):
        if key == "name":
            names.append(value.lower())
        elif key == "type":
            types.add(integer(value, "type"))
        elif key == "parent_id":
            parents.add(integer(value, "parent_id"))
        else:
            criteria[key] = value
    if parents:
        types = {3}  # "type is automatically set to 3"
    by = criteria["filterBy"].replace(" ", "_")
    if by not in ("create_date", "send_date"):
        raise ApiError(400, "filterBy must be create_date or send_date")
    since = _date_param(criteria["start_date"], "start_date") if "start_date" in criteria else None
    until = _date_param(criteria["end_date"], "end_date") if "end_date" in criteria else None

    def wanted(broadcast: dict) -> bool:
        moment = parse_datetime(broadcast[by]).timestamp()
        return (
            broadcast["source"] != "sms"  # fast singles are not broadcasts of the v3 API
            and all(name in broadcast["name"].lower() for name in names)
            and (not types or broadcast["type"] in types)
            and (not parents or broadcast["parent_id"] in parents)
            and (since is None or moment >= since)
            and (until is None or moment <= until)
        )

    chosen = [b for b in store.data["broadcasts"].values() if wanted(b)]
    chosen.sort(key=lambda b: (parse_datetime(b[order_field]).timestamp(), b["id"]), reverse=direction == "DESC")
    return [_list_item(store, broadcast) for broadcast in chosen[start : start + limit]]


# delivery report ------------------------------------------------------------------------------------
def _counts(messages: list[dict]) -> dict:
    counts = dict.fromkeys(("sent", "delivered", "undelivered", "rejected", "expired", "failed"), 0)
    for message in messages:
        counter = REPORT_COUNTERS.get(message["state"])
        if counter:
            counts[counter] += 1
    return counts


@route("POST", "/api/3/DeliveryReport")
def delivery_report(call: Call) -> list[dict]:
    body, store = call.json, call.store
    only_fields(body, "bid")  # "You should pass only one parameter in the body"
    if body.get("bid") in (None, ""):
        raise ApiError(400, "bid should not be empty")
    broadcast = store.get("broadcasts", number(body["bid"], "bid"))  # "bid (integer)"
    if broadcast is None:
        raise not_found("Broadcast", body["bid"])
    messages = store.broadcast_messages(broadcast["id"])
    if broadcast["type"] == SMART:  # "each segment DLR will be shown in a separate object"
        segment_ids = sorted({m["segment_id"] for m in messages})
        return [
            {
                "broadcast_id": broadcast["id"],
                "segment_id": segment_id,
                **_counts([m for m in messages if m["segment_id"] == segment_id]),
            }
            for segment_id in segment_ids
        ]
    return [{"broadcast_id": broadcast["id"], **_counts(messages)}]
