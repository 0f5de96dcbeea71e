"""How a broadcast is sent: its recipients, senders, bodies and timing, then its segments and one
simulated message per recipient (after unsubscribe exclusion and de-duplication)."""

from datetime import UTC, datetime, timedelta

from ..callbacks import Dispatcher
from ..errors import ApiError
from ..messages import Renderer, check_tokens, new_message
from ..state import USER_ID, Store
from ..validation import (
    id_string,
    integer,
    iso,
    iso_date,
    now,
    number,
    parse_bool,
    parse_datetime,
    sql_time,
    text,
    utc_offset,
)

SINGLE, BASE, SMART = 10, 11, 12
COMPANY_NAME = "Sandbox company"


def missing(body: dict, *alternatives: tuple[str, ...] | str) -> list[str]:
    """Messages for required fields; a tuple means "any one of these"."""
    problems = []
    for fields in alternatives:
        fields = (fields,) if isinstance(fields, str) else fields
        if all(body.get(field) in (None, "", []) for field in fields):
            problems.append(f"{fields[0]} should not be empty")
    return problems


def active_campaign(store: Store, raw) -> dict:
    campaign = store.find("campaigns", "Campaign", integer(raw, "campaign_id"))
    if not campaign["enabled"]:
        raise ApiError(400, f"Campaign {campaign['id']} is not active")
    return campaign


def enabled(store: Store, collection: str, label: str, ident: int) -> dict:
    obj = store.find(collection, label, ident)
    if not obj["enabled"]:
        raise ApiError(400, f"{label} {ident} is disabled")
    return obj


def sender_names(store: Store, sender_ids: list[int], sender_list_ids: list[int]) -> list[str]:
    names = [enabled(store, "senders", "Sender", ident)["name"] for ident in sender_ids]
    for list_id in sender_list_ids:
        sender_list = enabled(store, "sender_lists", "Sender list", list_id)
        members = (store.get("senders", ident) for ident in sender_list["sender_ids"])
        names.extend(sender["name"] for sender in members if sender and sender["enabled"])
    if not names:
        raise ApiError(400, "sender_ids should not be empty (no enabled sender in the given senders and lists)")
    return names


def message_bodies(store: Store, body: dict, template_key: str = "template_id") -> list[str]:
    """The named template(s)' bodies (several rotate over the recipients), else message_body.

    Decision: a template wins over message_body when both are sent ("if you want to use a specific
    template for message body"). `template_key` is the single-template field the endpoint has
    (`template_id (number)`), or None where it has only `template_ids (string)`.
    """
    content = None
    if body.get("message_body") not in (None, ""):
        content = text(body["message_body"], "message_body", max_length=100000)
    template_ids = []
    if body.get("template_ids") not in (None, ""):
        template_ids = id_string(body["template_ids"], "template_ids")
    elif template_key and body.get(template_key) not in (None, ""):
        template_ids = [number(body[template_key], template_key, minimum=1)]
    if template_ids:
        bodies = [enabled(store, "templates", "Template", ident)["body"] for ident in template_ids]
    elif content is not None:
        bodies = [content]
    else:
        raise ApiError(400, "message_body should not be empty")
    for candidate in bodies:
        check_tokens(store, candidate)
    return bodies


def recipients_for(
    store: Store, list_ids: list[int], unsubscribe_ids: list[int], single: str | None = None
) -> list[dict]:
    """Recipients of the lists (or the single number), minus unsubscribed numbers, de-duplicated."""
    excluded: set[str] = set()
    for ident in unsubscribe_ids:
        unsubscribe_list = store.find("unsubscribe_lists", "Unsubscribe list", ident)
        if unsubscribe_list["enabled"]:
            excluded.update(unsubscribe_list["numbers"])
    if single is not None:
        candidates = [{"phone_number": single}]
    else:
        candidates = []
        for ident in list_ids:
            enabled(store, "recipient_lists", "Recipient list", ident)
            candidates.extend(store.recipients.get(ident, []))
    seen: set[str] = set()
    chosen = []
    for recipient in candidates:
        number = recipient["phone_number"]
        if number not in seen and number not in excluded:
            seen.add(number)
            chosen.append(recipient)
    return chosen


def local_instant(value: str, offset_minutes: int) -> float:
    """Decision (the reference never says whether send_date is UTC or local time): the least
    convenient reading — the date's wall-clock digits are local time in `utc_offset`, whatever
    zone designator (`Z`, `+02:00`) it carries. Only an offset of 0 makes both readings agree."""
    moment = parse_datetime(value).replace(tzinfo=UTC)
    return (moment - timedelta(minutes=offset_minutes)).timestamp()


class Timing:
    """When a broadcast starts: now, at send_date (local time in utc_offset), or when its
    trigger fires. Decision: a trigger's `delay` minutes are recorded but not waited for."""

    def __init__(self, store: Store, body: dict, now_key: str = "send_now"):
        self.utc_offset = utc_offset(body["utc_offset"]) if body.get("utc_offset") not in (None, "") else 0
        self.send_date = iso_date(body.get("send_date"), "send_date")
        self.trigger = None
        if body.get("trigger_id") not in (None, ""):
            self.trigger = store.find("triggers", "Trigger", integer(body["trigger_id"], "trigger_id"))
        self.delay = integer(body["delay"], "delay", minimum=0) if body.get("delay") not in (None, "") else None
        explicit_now = parse_bool(body.get(now_key)) if body.get(now_key) is not None else None
        self.send_now = explicit_now if explicit_now is not None else not (self.send_date or self.trigger)
        self.start_at = None
        if self.send_date and not self.send_now:
            self.start_at = local_instant(self.send_date, self.utc_offset)

    @property
    def waits_for_trigger(self) -> bool:
        return bool(self.trigger) and not self.send_now and not self.trigger.get("fired")


def timezone_label(offset: int) -> str:
    sign = "-" if offset < 0 else "+"
    hours, minutes = divmod(abs(offset), 60)
    return f"GMT {sign}{hours}" + (f":{minutes:02d}" if minutes else "")


def new_broadcast(
    store: Store,
    *,
    name,
    broadcast_type: int,
    message_body: str,
    timing: Timing | None,
    source: str,
    campaign_id=None,
    **extra,
) -> dict:
    created = now()
    offset = timing.utc_offset if timing else 0
    broadcast = {
        "id": None,
        "user_id": USER_ID,
        "name": name,
        "type": broadcast_type,
        "message_body": message_body,
        "enabled": 1,
        "trigger_id": timing.trigger["id"] if timing and timing.trigger else None,
        "send_date": (timing.send_date if timing and timing.send_date else iso(created)),
        "state": 0,
        "parent_id": None,
        "real_price": 0,
        "estimated_price": 0,
        "create_date": iso(created),
        "estimated_count": 0,
        "utc_offset": offset,
        "next_segment_size": None,
        "eb_type": None,
        "company_name": COMPANY_NAME,
        "timezone": timezone_label(offset),
        "send_now": timing.send_now if timing else True,
        "campaign_id": campaign_id,
        "source": source,
        "custom_parameter": None,
        "delay": timing.delay if timing else None,
        **extra,
    }
    store.add("broadcasts", broadcast)
    if broadcast["name"] in (None, ""):
        broadcast["name"] = str(broadcast["id"])  # combined submit: "the broadcast ID will be used as a name"
    return broadcast


def send_segment(
    store: Store,
    dispatcher: Dispatcher,
    broadcast: dict,
    recipients: list[dict],
    *,
    bodies: list[str],
    senders: list[str],
    timing: Timing | None,
    otp_code: str | None = None,
    client_ref: str | None = None,
    callback: str | None = None,
    plain: bool = False,
) -> dict:
    """A segment and its messages, each with its fate planned. `plain`: text is sent as is (/sms)."""
    created = now()
    segment = store.add(
        "segments",
        {
            "real_price": 0,
            "id": None,
            "broadcast_id": broadcast["id"],
            "utc_offset": timing.utc_offset if timing else 0,
            "message_body": bodies[0],
            "template_id": None,
            "batch_index": None,
            "state": "queued",  # opaque, like a broadcast's (see STATES)
            "recipient_count": len(recipients),
            "estimated_price": 0,
            "send_conditions_id": None,
            "enabled": True,
            "created_at": sql_time(created),
            "send_time": sql_time(
                datetime.fromtimestamp(timing.start_at, UTC) if timing and timing.start_at else created
            ),
            "estimated_count": len(recipients),
        },
    )
    segment["send_conditions_id"] = segment["id"]
    renderer = Renderer(store, otp_code)
    start_at = timing.start_at if timing else None
    wait = timing.waits_for_trigger if timing else False
    price = 0.0
    for index, recipient in enumerate(recipients):
        template = bodies[index % len(bodies)]
        content, links = (template, renderer.track_urls(template)) if plain else renderer.render(template, recipient)
        sender = senders[0] if len(senders) == 1 else store.rng.choice(senders)
        message = new_message(
            store,
            broadcast_id=broadcast["id"],
            segment_id=segment["id"],
            recipient=recipient["phone_number"],
            sender=sender,
            content=content,
            links=links,
            source=broadcast["source"],
            client_ref=client_ref,
            callback=callback,
        )
        dispatcher.plan(message, start_at, wait_for_trigger=wait)
        price += message["price"]
    segment["estimated_price"] = round(price, 2)
    broadcast["estimated_price"] = round(broadcast["estimated_price"] + price, 2)
    broadcast["estimated_count"] += len(recipients)
    return segment


# Decision (the reference shows `state` but never lists its values): the least convenient
# reading — opaque values, ints and strings, that change from one look to the next; 2, the
# example's value, means "still sending" here, and no value marks "done" twice in a row.
STATES = {
    "scheduled": (0, "queued", 11),
    "sending": (2, "in_progress", 7, "processing"),
    "done": (5, "finished", 99),
}


def broadcast_state(store: Store, broadcast: dict) -> int | str:
    states = [message["state"] for message in store.broadcast_messages(broadcast["id"])]
    if any(state is None for state in states):
        phase = "scheduled"
    elif any(state in (0, 1) for state in states):
        phase = "sending"
    else:
        phase = "done"
    looks = broadcast["state_looks"] = broadcast.get("state_looks", -1) + 1
    return STATES[phase][looks % len(STATES[phase])]


def release_trigger(store: Store, dispatcher: Dispatcher, trigger_id: int) -> int:
    """The trigger's short URL was "clicked": start what waited for it (control endpoint)."""
    trigger = store.find("triggers", "Trigger", trigger_id)
    trigger["fired"] = True
    released = 0
    for broadcast in store.data["broadcasts"].values():
        if broadcast["trigger_id"] != trigger_id:
            continue
        for message in store.broadcast_messages(broadcast["id"]):
            if message["state"] is None and "planned" in message:
                dispatcher.release(message)
                released += 1
    return released
