"""Sending broadcasts: estimate, single/base/smart creation, tiny single, continue smart (segments,
and the CTR threshold's automatic next segments), combined submit."""

import hashlib
import json

from ..callbacks import Dispatcher
from ..errors import ApiError
from ..files import CONTACT_MARKERS
from ..messages import MCC_MNC, RATE, check_tokens, estimate_parts, expand_actions
from ..state import Store
from ..validation import (
    array,
    id_list,
    id_string,
    integer,
    iso_date,
    normalize_phone,
    number,
    phone,
    sender_name,
    text,
)
from ..web import Call
from .crud import route
from .sending import (
    BASE,
    SINGLE,
    SMART,
    Timing,
    active_campaign,
    local_instant,
    message_bodies,
    missing,
    new_broadcast,
    recipients_for,
    send_segment,
    sender_names,
)


# estimate -------------------------------------------------------------------------------------------
@route("POST", "/api/3/Broadcast/estimate")
def estimate(call: Call) -> dict:
    body, store = call.json, call.store
    # "template_id ... may be used instead of message_body", "recipient ... instead of recipient_list_ids"
    problems = missing(body, ("recipient_list_ids", "recipient"), ("message_body", "template_id", "template_ids"))
    if problems:
        raise ApiError(400, problems)
    bodies = message_bodies(store, body)
    eb_type = body.get("eb_type")
    if eb_type not in (None, "", "CTR", "manual"):
        raise ApiError(400, "eb_type must be one of the following values: CTR, manual")
    single = phone(number(body["recipient"], "recipient")) if body.get("recipient") not in (None, "") else None
    recipients = recipients_for(
        store,
        id_string(body.get("recipient_list_ids"), "recipient_list_ids"),
        id_string(body.get("unsubscriber_list_ids"), "unsubscriber_list_ids"),
        single,
    )
    for key in ("next_segment_size", "recipient_cap"):  # typed (number); they change no figure here
        if body.get(key) not in (None, ""):
            number(body[key], key, minimum=1)
    parts = estimate_parts(bodies[0])
    count = len(recipients)
    total = round(count * parts * RATE, 2)
    first = count
    if eb_type and body.get("first_segment_size") not in (None, ""):
        first = min(number(body["first_segment_size"], "first_segment_size", minimum=1), count)
    digest = hashlib.sha512(
        json.dumps(
            [bodies, [r["phone_number"] for r in recipients], parts, total, eb_type, first], sort_keys=True
        ).encode()
    ).hexdigest()
    return {
        "messages": count,
        "sum": total,
        "parts": parts,
        "recipient_id_map": [],
        "replacements": {},
        "firstSegmentCount": first,
        "recipient_meta_data_map": [
            [int(r["phone_number"]), {**r, "phone_number": int(r["phone_number"])}] for r in recipients
        ],
        "recipients": {r["phone_number"]: {"rate": RATE, "mccMnc": MCC_MNC} for r in recipients},
        "messageExpanded": {"actions": expand_actions(bodies[0]), "text": bodies[0]},
        "links": {},
        "warnings": [],
        "estimateHash": digest,
        "batchEstimation": {"messages": first, "sum": round(first * parts * RATE, 2), "parts": parts},
    }


# single / base / smart ------------------------------------------------------------------------------
def _smart_settings(body: dict) -> tuple[dict, list[str]]:
    eb_type = body.get("eb_type")
    if eb_type not in ("CTR", "manual"):
        return {}, ["eb_type must be one of the following values: CTR, manual"]
    if "recipient_cap" not in body and "recipeint_cap" in body:  # the reference spells it both ways
        body = {**body, "recipient_cap": body["recipeint_cap"]}
    required = ["first_segment_size"]
    if eb_type == "CTR":
        required += ["exp_date", "conversion_threshold", "next_segment_size", "recipient_cap"]
    problems = missing(body, *required)
    if problems:
        return {}, problems
    settings = {
        "eb_type": eb_type,
        "first_segment_size": number(body["first_segment_size"], "first_segment_size", minimum=1),
    }
    if eb_type == "CTR":
        cap = body["recipient_cap"]  # "(int/string)": a number greater than 2, or the string "no limit"
        if cap != "no limit":
            cap = number(cap, "recipient_cap", minimum=3)
        settings.update(
            exp_date=iso_date(body["exp_date"], "exp_date"),
            conversion_threshold=number(body["conversion_threshold"], "conversion_threshold", minimum=0, maximum=100),
            next_segment_size=number(body["next_segment_size"], "next_segment_size", minimum=1),
            recipient_cap=cap,
        )
    return settings, []


@route("POST", "/api/3/Broadcast")
def create_broadcast(call: Call) -> dict:
    body, store = call.json, call.store
    if body.get("broadcast_type") in (None, ""):
        raise ApiError(400, "broadcast_type should not be empty")
    broadcast_type = number(body["broadcast_type"], "broadcast_type")
    if broadcast_type not in (SINGLE, BASE, SMART):
        raise ApiError(400, "broadcast_type must be one of the following values: 10, 11, 12")
    # message_body and sender_ids are in the required lists; template_id(s) and sender_list_ids are
    # only optional extras here (unlike the estimate and /Segments, which say "instead of").
    if broadcast_type == SINGLE:
        problems = missing(body, "campaign_id", "recipient", "sender_id", "message_body")
    else:
        problems = missing(body, "campaign_id", "name", "sender_ids", "recipient_list_ids", "message_body")
    settings = {}
    if broadcast_type == SMART:
        settings, smart_problems = _smart_settings(body)
        problems += smart_problems
    if problems:
        raise ApiError(400, problems)
    custom_parameter = text(body.get("custom_parameter"), "custom_parameter", max_length=40, required=False)
    campaign = active_campaign(store, body["campaign_id"])
    bodies = message_bodies(store, body)
    timing = Timing(store, body)
    if "exp_date" in settings:  # read like send_date: local time in utc_offset
        settings["expires_at"] = local_instant(settings["exp_date"], timing.utc_offset)
    if broadcast_type == SINGLE:
        senders = sender_names(store, [number(body["sender_id"], "sender_id")], [])  # "sender_id(int)"
        recipients = recipients_for(
            store,
            [],
            id_string(body.get("unsubscriber_list_ids"), "unsubscriber_list_ids"),
            phone(text(body["recipient"], "recipient")),  # "recipient (string)"
        )
        name = body.get("name") or f"Single SMS to {recipients[0]['phone_number'] if recipients else body['recipient']}"
    else:
        senders = sender_names(
            store,
            id_string(body.get("sender_ids"), "sender_ids"),
            id_string(body.get("sender_list_ids"), "sender_list_ids"),
        )
        recipients = recipients_for(
            store,
            id_string(body["recipient_list_ids"], "recipient_list_ids"),
            id_string(body.get("unsubscriber_list_ids"), "unsubscriber_list_ids"),
        )
        name = text(body["name"], "name", max_length=255)
    broadcast = new_broadcast(
        store,
        name=name,
        broadcast_type=broadcast_type,
        message_body=bodies[0],
        timing=timing,
        source="api",
        campaign_id=campaign["id"],
        custom_parameter=custom_parameter,
        sender_names=senders,
        bodies=bodies,
        template_id=body.get("template_id"),
        **settings,
    )
    if broadcast_type == SMART:
        first = settings["first_segment_size"]
        store.pending[broadcast["id"]] = recipients[first:]
        recipients = recipients[:first]
        broadcast["next_segment_size"] = settings.get("next_segment_size")
    segment = send_segment(store, call.dispatcher, broadcast, recipients, bodies=bodies, senders=senders, timing=timing)
    result = {"broadcastID": broadcast["id"], "segmentID": segment["id"]}
    if broadcast_type == SINGLE and custom_parameter:
        result["custom_parameter"] = custom_parameter
    return result


@route("POST", "/api/3/Broadcast/tiny/")  # the trailing slash is in both the example and the prose
def tiny_single(call: Call) -> dict:
    body, store = call.json, call.store
    problems = missing(body, "recipient", "sender", "message_body")
    if problems:
        raise ApiError(400, problems)
    recipient = phone(text(body["recipient"], "recipient"))  # "recipient (string)"
    sender = sender_name(body["sender"])
    content = text(body["message_body"], "message_body", max_length=100000)
    broadcast = new_broadcast(
        store,
        name=f"Tiny single to {recipient}",
        broadcast_type=SINGLE,
        message_body=content,
        timing=None,
        source="tiny",
    )
    segment = send_segment(
        store,
        call.dispatcher,
        broadcast,
        [{"phone_number": recipient}],
        bodies=[content],
        senders=[sender],
        timing=None,
        plain=True,
    )
    return {"broadcastId": broadcast["id"], "segmentId": segment["id"]}  # lower-case "d", as documented


# continue smart -------------------------------------------------------------------------------------
@route("POST", "/api/3/Segments")
def continue_smart(call: Call) -> dict:
    body, store = call.json, call.store
    # the prose's alternatives: template_ids, sender_list_ids, trigger_id / send_date "instead of"
    problems = missing(
        body,
        "broadcast_id",
        ("message_body", "template_ids"),
        "segment_size",
        ("sender_ids", "sender_list_ids"),
        ("send_now", "send_date", "trigger_id"),
    )
    if problems:
        raise ApiError(400, problems)
    broadcast = store.find("broadcasts", "Broadcast", number(body["broadcast_id"], "broadcast_id"))
    if broadcast["type"] != SMART:
        raise ApiError(400, f"Broadcast {broadcast['id']} is not a smart broadcast")
    size = number(body["segment_size"], "segment_size", minimum=1)
    remaining = store.pending.get(broadcast["id"], [])
    if not remaining:
        raise ApiError(400, f"Broadcast {broadcast['id']} has no recipients left to send to")
    bodies = message_bodies(store, body, template_key=None)
    senders = sender_names(
        store,
        id_string(body.get("sender_ids"), "sender_ids"),
        id_string(body.get("sender_list_ids"), "sender_list_ids"),
    )
    for key in ("recipient_cap", "first_segment_size", "next_segment_size"):  # resuming a paused CTR
        if body.get(key) not in (None, ""):
            value = body[key]
            broadcast[key] = (
                value if key == "recipient_cap" and str(value).lower() == "no limit" else integer(value, key, minimum=1)
            )
    broadcast["paused"] = False
    timing = Timing(store, body)
    store.pending[broadcast["id"]] = remaining[size:]
    segment = send_segment(
        store, call.dispatcher, broadcast, remaining[:size], bodies=bodies, senders=senders, timing=timing
    )
    return {
        key: segment[key]
        for key in (
            "real_price",
            "id",
            "broadcast_id",
            "utc_offset",
            "message_body",
            "template_id",
            "batch_index",
            "state",
            "recipient_count",
            "estimated_price",
            "send_conditions_id",
            "enabled",
            "created_at",
            "send_time",
            "estimated_count",
        )
    }


def after_click(store: Store, dispatcher: Dispatcher, message: dict) -> None:
    """CTR threshold smart broadcasts: once a segment's conversion reaches the threshold, the next
    segment (next_segment_size) goes out, until recipient_cap is reached (then it pauses)."""
    broadcast = store.get("broadcasts", message["broadcast_id"])
    if not broadcast or broadcast.get("eb_type") != "CTR" or broadcast.get("paused"):
        return
    segment = store.get("segments", message["segment_id"])
    if not segment or segment.get("advanced"):
        return
    members = [m for m in store.broadcast_messages(broadcast["id"]) if m["segment_id"] == segment["id"]]
    clicked = sum(1 for m in members if m["unique_clicks"])
    if not members or clicked * 100 / len(members) < broadcast["conversion_threshold"]:
        return
    segment["advanced"] = True
    remaining = store.pending.get(broadcast["id"], [])
    sent = len(store.broadcast_messages(broadcast["id"]))
    cap = broadcast["recipient_cap"]
    allowed = len(remaining) if cap == "no limit" else max(0, int(cap) - sent)
    size = min(int(broadcast["next_segment_size"] or 0), allowed, len(remaining))
    if size <= 0:
        broadcast["paused"] = bool(remaining)
        return
    store.pending[broadcast["id"]] = remaining[size:]
    send_segment(
        store,
        dispatcher,
        broadcast,
        remaining[:size],
        bodies=broadcast["bodies"],
        senders=broadcast["sender_names"],
        timing=None,
    )


# combined submit ------------------------------------------------------------------------------------
@route("POST", "/api/3/Broadcast/combinedsubmit")
def combined_submit(call: Call) -> list[dict]:
    body, store = call.json, call.store
    problems = missing(body, "recipients", ("sender", "sender_id"), "message_body")
    if problems:
        raise ApiError(400, problems)
    array(body["recipients"], "recipients")
    if body.get("name") is not None:
        text(body["name"], "name", max_length=255)  # "name (string)"
    content = text(body["message_body"], "message_body", max_length=100000)
    check_tokens(store, content)
    if body.get("sender_id") not in (None, ""):
        senders = sender_names(store, id_list(body["sender_id"], "sender_id"), [])
    else:
        senders = [sender_name(body["sender"])]
    contacts, seen = [], set()
    for item in body["recipients"]:
        number = normalize_phone(item.get("phone_number")) if isinstance(item, dict) else None
        if number is None or number in seen:
            continue  # decision: invalid and repeated numbers are skipped, as in list imports
        seen.add(number)
        contacts.append(
            {
                "phone_number": number,
                **{
                    k: str(v)
                    for k, v in item.items()
                    if k in CONTACT_MARKERS - {"phone_number"} and v not in (None, "")
                },
            }
        )
    if not contacts:
        raise ApiError(400, "recipients must contain at least one valid phone_number")
    timing = Timing(store, {"send_date": body.get("send_date")})
    broadcast = new_broadcast(
        store,
        name=body.get("name"),
        broadcast_type=BASE,
        message_body=content,
        timing=timing,
        source="combined",
        sender_names=senders,
        bodies=[content],
    )
    # "sending it to a new Recipient list": the list is created like any other
    recipient_list = store.add(
        "recipient_lists",
        {
            "id": None,
            "enabled": True,
            "name": f"Combined submit {broadcast['id']}",
            "columns": sorted({key for contact in contacts for key in contact} - {"phone_number"}),
        },
    )
    store.recipients[recipient_list["id"]] = contacts
    broadcast["recipient_list_ids"] = [recipient_list["id"]]
    segment = send_segment(
        store, call.dispatcher, broadcast, contacts, bodies=[content], senders=senders, timing=timing
    )
    return [{"broadcastID": broadcast["id"], "segmentID": segment["id"]}]
