"""The NestJS-style services: fast single (`POST /sms`), OTP send and OTP verify."""

from ..errors import ApiError
from ..state import Store
from ..validation import (
    FALSE_WORDS,
    PHONE_MESSAGE,
    SENDER_MESSAGE,
    id_string,
    is_sender_name,
    is_url,
    iso,
    normalize_phone,
    now,
    only_fields,
    parse_bool,
)
from ..web import Call, Raw
from .crud import route
from .sending import (
    SINGLE,
    Timing,
    active_campaign,
    message_bodies,
    new_broadcast,
    recipients_for,
    send_segment,
    sender_names,
)

TEXT_MAX = 100000


def _text_problems(value) -> list[str]:
    """class-validator's MaxLength(100000), MinLength(1), IsNotEmpty on `text`, in that order."""
    problems = []
    if not isinstance(value, str) or len(value) > TEXT_MAX:
        problems.append(f"text must be shorter than or equal to {TEXT_MAX} characters")
    if not isinstance(value, str) or len(value) < 1:
        problems.append("text must be longer than or equal to 1 characters")
    if value in (None, "", [], {}):
        problems.append("text should not be empty")
    return problems


@route("POST", "/sms", style="nest", body_key=True)
def fast_single(call: Call) -> Raw:
    body, store = call.json, call.store
    problems = []
    # decision: a leading "+" and separators are tolerated; 10-15 digits must remain
    if normalize_phone(body.get("to")) is None:
        problems.append(PHONE_MESSAGE)
    if not is_sender_name(body.get("from")):
        problems.append(SENDER_MESSAGE)
    problems += _text_problems(body.get("text"))
    client_ref = body.get("client_ref")
    if client_ref is not None:
        if not isinstance(client_ref, str):
            problems.append("client_ref must be a string")
        elif len(client_ref) > 160:
            problems.append("client_ref must be shorter than or equal to 160 characters")
    callback = body.get("callback")
    if callback not in (None, "") and not is_url(callback):
        problems.append("callback must be a URL address")
    if problems:
        raise ApiError(400, problems)
    number = normalize_phone(body["to"])
    # Decision: each fast single gets an internal type-10 broadcast and segment, so it has the
    # segment_id/broadcast_id a "DLR to webhook" entry needs; it is not listed by Broadcast/List.
    broadcast = new_broadcast(
        store,
        name=f"Fast single to {number}",
        broadcast_type=SINGLE,
        message_body=body["text"],
        timing=None,
        source="sms",
        custom_parameter=client_ref,
    )
    send_segment(
        store,
        call.dispatcher,
        broadcast,
        [{"phone_number": number}],
        bodies=[body["text"]],
        senders=[body["from"]],
        timing=None,
        client_ref=client_ref,
        callback=callback or None,
        plain=True,
    )
    message = store.broadcast_messages(broadcast["id"])[0]
    # Decision: 201, NestJS's default for POST (the reference shows no status for this answer).
    return Raw({"message_id": message["message_id"]}, status=201)


def _otp_requested(call: Call, body: dict) -> bool:
    raw = call.query.get("otp")
    return (raw is not None and raw.lower() not in FALSE_WORDS) or parse_bool(body.get("verification")) is True


@route("POST", "/api/broadcasts/single", style="nest")
def send_single(call: Call) -> Raw:
    """Single message, with a one-time password when `?otp=true` (then `verification` must be true
    and the body must carry the {{verification_code}} token)."""
    body, store = call.json, call.store
    otp = _otp_requested(call, body)
    problems = []
    # the prose's types: campaign_id (integer), sender_id (string), recipient (string),
    # verification (boolean), message_template_id / utc_offset / trigger_id (integer), is_now (bool)
    if body.get("campaign_id") in (None, ""):
        problems.append("campaign_id should not be empty")
    elif not _is_int(body["campaign_id"]):
        problems.append("campaign_id must be an integer number")
    if body.get("message_body") in (None, "") and body.get("message_template_id") in (None, ""):
        problems.append("message_body should not be empty")
    for key in ("message_template_id", "trigger_id", "utc_offset"):
        if body.get(key) is not None and not _is_int(body[key]):
            problems.append(f"{key} must be an integer number")
    if body.get("is_now") is not None and not isinstance(body["is_now"], bool):
        problems.append("is_now must be a boolean value")
    if body.get("sender_id") in (None, "") and body.get("sender") in (None, ""):
        problems.append("sender_id should not be empty")
    elif body.get("sender_id") not in (None, "") and not isinstance(body["sender_id"], str):
        problems.append("sender_id must be a string")
    elif body.get("sender_id") in (None, "") and not is_sender_name(body["sender"]):
        problems.append(SENDER_MESSAGE)
    if not isinstance(body.get("recipient"), str) or normalize_phone(body["recipient"]) is None:
        problems.append(PHONE_MESSAGE)
    if otp and body.get("verification") is not True:
        problems.append("verification must be true")
    if problems:
        raise ApiError(400, problems)
    campaign = active_campaign(store, body["campaign_id"])
    bodies = message_bodies(
        store, {"message_body": body.get("message_body"), "template_id": body.get("message_template_id")}
    )
    if otp and "{{verification_code}}" not in bodies[0].replace(" ", ""):
        raise ApiError(400, "message_body must contain the {{verification_code}} token")
    if body.get("sender_id") not in (None, ""):
        if not body["sender_id"].isdigit():
            raise ApiError(400, "sender_id must be a number string")
        senders = sender_names(store, [int(body["sender_id"])], [])
    else:
        senders = [body["sender"]]
    recipient = normalize_phone(body["recipient"])
    timing = Timing(store, body, now_key="is_now")
    recipients = recipients_for(
        store, [], id_string(body.get("unsubscriber_list_ids"), "unsubscriber_list_ids"), recipient
    )
    code = f"{store.rng.randint(1000, 9999)}" if otp else None
    broadcast = new_broadcast(
        store,
        name=f"{'OTP' if otp else 'Single'} to {recipient}",
        broadcast_type=SINGLE,
        message_body=bodies[0],
        timing=timing,
        source="otp" if otp else "single",
        campaign_id=campaign["id"],
    )
    send_segment(
        store,
        call.dispatcher,
        broadcast,
        recipients,
        bodies=bodies,
        senders=senders,
        timing=timing,
        otp_code=code,
    )
    if otp:
        store.add(
            "otps",
            {
                "id": None,
                "phone_number": recipient,
                "code": code,
                "broadcast_id": broadcast["id"],
                "created": iso(now()),
                "verified": False,
                "attempts": 0,
            },
        )
    return Raw({"id": broadcast["id"]})


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def latest_otp(store: Store, number: str) -> dict | None:
    candidates = [otp for otp in store.data["otps"].values() if otp["phone_number"] == number]
    return max(candidates, key=lambda otp: otp["id"]) if candidates else None


@route("POST", "/api/recipients/<phone_number>/verification", style="nest")
def verify(call: Call, phone_number: str) -> Raw:
    """Checks the code of the number's latest OTP; a code verifies once (decision)."""
    only_fields(call.json, "verification_code")  # "Only one parameter should be passed in the request body"
    code = call.json.get("verification_code")
    if code in (None, ""):
        raise ApiError(400, "verification_code should not be empty")
    otp = latest_otp(call.store, normalize_phone(phone_number) or phone_number)
    valid = bool(otp) and not otp["verified"] and str(code).strip() == otp["code"]
    if otp:
        otp["attempts"] += 1
        otp["verified"] = otp["verified"] or valid
    return Raw({"valid": valid})
