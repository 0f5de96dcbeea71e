"""Callback bodies → typed items, strictly.

Three shapes arrive (reference: specs/003, "Example DLR Callback", "Example link click Callback",
"DLR to webhook"; CleverTap's MessageWhiz page for its status words):

* a single-message DLR: `message_id`, `client_ref`, `state` 1-9 and/or `status` word, `price`, …
* a "DLR to webhook" batch: `dlrs[]` of `_id, broadcast_id, recipient, price, task_state, updated`,
  plus `custom_parameter` and `pduDLR` counts;
* a link click: `message_id, link_id, time, unique_click`.

MessageWhiz posts DLRs and clicks of a /sms message to the same `callback` URL, so the shape is
told from the keys, not from the URL. Everything the sender got wrong raises `Rejected` with a
reason for the 400 answer; values are never echoed back. Fields we do not use are not checked,
so the provider may add some.
"""

import functools
import hashlib
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import orjson

from campaigns.models import Message
from messaging import safejson
from messaging.providers.generic import dlr

S = Message.Status

# The reference's DLR states and status words (fast single section).
STATES = {1: S.ENROUTE, 2: S.DELIVERED, 3: S.EXPIRED, 4: S.DELETED, 5: S.UNDELIVERED, 6: S.ACCEPTED,
          7: S.UNKNOWN, 8: S.REJECTED, 9: S.FAILED}
STATUS_WORDS = {
    "ENROUTE": S.ENROUTE, "DELIVRD": S.DELIVERED, "EXPIRED": S.EXPIRED, "DELETED": S.DELETED,
    "UNDELIV": S.UNDELIVERED, "ACCEPTD": S.ACCEPTED, "UNKNOWN": S.UNKNOWN, "REJECTD": S.REJECTED, "FAILED": S.FAILED,
    # CleverTap's words for MessageWhiz DLRs. QUEUED is the provider holding the message, which for
    # us is still "submitted" (our own QUEUED means we have not sent it yet).
    "DELIVERED": S.DELIVERED, "QUEUED": S.SUBMITTED,
}
# "DLR to webhook" task_state: the documented 0 (Sent), 2, 3, 5, 8, 9 share the DLR state ids;
# the others are accepted with the same meaning. "Sent" means the carrier has it: en route.
TASK_STATES = {0: S.ENROUTE, **STATES}

MAX_ID = 64  # Message.provider_message_id
MAX_PRICE = Decimal(10) ** 6  # Message.price: max_digits=10, decimal_places=4
MAX_PARTS = 32767
MAX_EPOCH_MS = 10**13  # year 2286: anything beyond is not a timestamp
CENT = Decimal("0.0001")


class Rejected(ValueError):
    """A body the sender has to fix; str() is the reason given in the 400 answer."""


# Not frozen: a webhook batch makes 100 of these per request, and a frozen dataclass's __init__
# costs several times as much. Nothing changes them after parsing.
@dataclass(slots=True)
class Report:
    """One message's status, from a single DLR or one entry of a batch."""

    status: str
    message_id: str = ""  # the provider's id: /sms message_id or the webhook's _id
    client_ref: uuid.UUID | None = None  # ours, when the provider echoes it
    broadcast_id: int | None = None  # MessageWhiz broadcast id (webhook)
    recipient: str = ""
    price: Decimal | None = None
    parts: int | None = None
    at: datetime | None = None  # when the provider says the status changed


@dataclass(slots=True)
class LinkClick:
    message_id: str  # the provider's id ("" for a click on one of our own links)
    link_id: str
    at: datetime
    unique: bool | None
    client_ref: uuid.UUID | None = None  # ours: clicks on Textcast's own links (callbacks.tracking)


@dataclass(frozen=True, slots=True)
class Parsed:
    kind: str  # CallbackEvent.Kind
    items: list
    dedupe_key: str


def decode(raw: bytes) -> tuple[str, object]:
    """Bytes → (text, JSON value); UTF-8 and standard JSON only (no NaN/Infinity)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Rejected("body is not UTF-8") from None
    if not text.strip():
        raise Rejected("body is empty")
    try:
        return text, _loads(text)
    except safejson.JSONError as exc:
        raise Rejected(f"body is {exc}") from None


def parse(raw: bytes, *, allowed: frozenset[str]) -> tuple[str, Parsed]:
    """Validate a request body; returns its text (stored as is) and what it says."""
    text, value = decode(raw)
    parsed = parse_value(value)
    if parsed.kind not in allowed:
        raise Rejected(f"this URL does not take {parsed.kind.replace('_', ' ')} callbacks")
    return text, parsed


def parse_value(value: object) -> Parsed:
    if not isinstance(value, dict):
        raise Rejected("body must be a JSON object")
    if "dlrs" in value:
        kind = "dlr_batch"
    elif "link_id" in value:
        kind = "click"
    else:
        kind = "dlr"
    items, natural_key = PARSERS[kind](value)
    return Parsed(kind=kind, items=items, dedupe_key=hashlib.sha256(natural_key.encode()).hexdigest())


def is_click(raw: bytes) -> bool:
    """Whether a body is MessageWhiz's link click shape (a JSON object naming a link_id), which
    a generic provider's DLR URL may get too; anything else is read as that provider's report."""
    try:
        value = safejson.loads(raw)
    except (ValueError, RecursionError):
        return False
    return isinstance(value, dict) and "link_id" in value and "message_id" in value


def load(body: str) -> Parsed:
    """A stored body (validated when it was received) → what it says."""
    return parse_value(_loads(body, depth_checked=True))


def _loads(text: str, *, depth_checked: bool = False) -> object:
    """safejson.loads(text, allow_constants=False), four times as fast on a batch of DLRs: orjson
    parses (it takes no NaN/Infinity and stops at 1,024 levels by itself), and what it refuses goes
    to safejson, which then accepts it as before (lone surrogates) or gives the same reason. Numbers
    beyond 64 bits become floats here, not ints: no field we read takes one of either kind. A stored
    body's depth was checked when it was received (`depth_checked`)."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return safejson.loads(text, allow_constants=False)
    limit = safejson.MAX_DEPTH
    if not depth_checked and text.count("[") + text.count("{") > limit and _deeper(value, limit):
        raise safejson.JSONError(f"nested deeper than {safejson.MAX_DEPTH} levels")
    return value


def _deeper(value: object, limit: int) -> bool:
    """Whether the parsed value nests more than `limit` arrays/objects (without recursing)."""
    stack = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        container, depth = stack.pop()
        if depth > limit:
            return True
        for child in container.values() if isinstance(container, dict) else container:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
    return False


def parse_generic(text: str, config, *, content_type: str = "") -> tuple[Parsed, list[dlr.MappedReport], int]:
    """A generic provider's DLR request (JSON, a form body or a GET query string, stored as it came)
    → what it says, read through the account's field mapping (`config`: its GenericProviderConfig);
    also the mapped reports and how many records had a status nobody mapped. Every record is
    checked before anything is stored, so a bad one refuses the whole request."""
    try:
        records = dlr.records_from_request(method="POST", content_type=content_type, body=text.encode(), query={})
        reports, skipped = dlr.map_records(config, records)
    except dlr.Malformed as exc:
        raise Rejected(str(exc)) from None
    items = []
    for index, report in enumerate(reports):
        try:
            [item] = _dlr(dlr.messagewhiz_shape(report))[0]
        except Rejected as exc:
            raise Rejected(f"report {index}: {exc}") from None
        items.append(item)
    key = "generic|" + ",".join(f"{item.client_ref or item.message_id}:{item.status}" for item in items)
    return Parsed(kind="generic", items=items, dedupe_key=hashlib.sha256(key.encode()).hexdigest()), reports, skipped


def _dlr(obj: dict) -> tuple[list, str]:
    # sender, recipient, content and parts[] are not used: they stay in the stored raw body.
    message_id = _text(obj, "message_id", required=False)
    client_ref = _client_ref(obj.get("client_ref"))
    if not message_id and client_ref is None:
        raise Rejected("message_id is required")
    status = _status(obj)
    report = Report(status=status, message_id=message_id, client_ref=client_ref, price=_price(obj, "price"),
                    parts=_int(obj, "parts_count", 0, MAX_PARTS), at=_optional_time(obj.get("timestamp")))
    return [report], f"dlr|{message_id or client_ref}|{status}"


def _batch(obj: dict) -> tuple[list, str]:
    dlrs = obj.get("dlrs")
    if not isinstance(dlrs, list) or not dlrs:
        raise Rejected("dlrs must be a non-empty array")
    custom = obj.get("custom_parameter")
    if custom is not None and not isinstance(custom, str):
        raise Rejected("custom_parameter must be a string")
    # pduDLR counts parts, our counters count messages: checked, and kept in the raw body only.
    _counts(obj, "pduDLR")
    # A /sms message's client_ref comes back as the custom parameter of its one-entry batch; a
    # broadcast's custom parameter is the user's own text and names no message.
    client_ref = _client_ref(custom) if len(dlrs) == 1 else None
    reports, keys = [], []
    for index, item in enumerate(dlrs):
        where = f"dlrs[{index}]."
        if not isinstance(item, dict):
            raise Rejected(f"dlrs[{index}] must be an object")
        state = _int(item, "task_state", 0, 9, where=where, required=True)
        updated = _int(item, "updated", 0, MAX_EPOCH_MS, where=where)
        report = Report(
            status=TASK_STATES[state],
            message_id=_text(item, "_id", where=where),
            client_ref=client_ref,
            broadcast_id=_int(item, "broadcast_id", 1, 2**63 - 1, where=where, required=True),
            recipient=_recipient(item, where),
            price=_price(item, "price", where=where),
            at=datetime.fromtimestamp(updated / 1000, tz=UTC) if updated is not None else None,
        )
        reports.append(report)
        keys.append(f"{report.message_id}:{state}")
    return reports, "batch|" + ",".join(keys)


def _click(obj: dict) -> tuple[list, str]:
    client_ref = _client_ref(obj.get("client_ref"))
    message_id = _text(obj, "message_id", required=client_ref is None)
    link_id = _text(obj, "link_id", max_length=255)
    moment = _time(obj, "time")
    unique = obj.get("unique_click")
    if unique is not None and not isinstance(unique, bool):
        raise Rejected("unique_click must be true or false")
    return ([LinkClick(message_id, link_id, moment, unique, client_ref)],
            f"click|{message_id or client_ref}|{link_id}|{moment.isoformat()}")


PARSERS = {"dlr": _dlr, "dlr_batch": _batch, "click": _click}


# --- fields -------------------------------------------------------------------------------------
def _text(obj: dict, key: str, *, required: bool = True, max_length: int = MAX_ID, where: str = "") -> str:
    value = obj.get(key)
    if value is None:
        if required:
            raise Rejected(f"{where}{key} is required")
        return ""
    if not isinstance(value, str) or not value:
        raise Rejected(f"{where}{key} must be a non-empty string")
    if len(value) > max_length:
        raise Rejected(f"{where}{key} must be at most {max_length} characters")
    # Ids go into indexed columns: no control characters, no lone surrogates (PostgreSQL refuses
    # both, and a 500 would make the provider retry forever).
    if not value.isprintable():
        raise Rejected(f"{where}{key} must be printable text")
    return value


def _int(obj: dict, key: str, low: int, high: int, *, where: str = "", required: bool = False) -> int | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise Rejected(f"{where}{key} is required")
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise Rejected(f"{where}{key} must be an integer from {low} to {high}")
    return value


def _price(obj: dict, key: str, *, where: str = "") -> Decimal | None:
    """The report's price, or None (unknown) when it has none or one we cannot read: a bad price
    must not cost the status it came with, and a 400 would make the provider drop the whole report.
    The reference sends numbers; numbers written as strings ("11.8") are read like its other fields."""
    value = obj.get(key)
    if isinstance(value, str) and len(value) <= 32:
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if (not isinstance(value, int | float) or isinstance(value, bool)
            or not math.isfinite(value) or not 0 <= value < MAX_PRICE):
        return None
    price = _decimal(value)
    return price if price < MAX_PRICE else None  # 999999.99995 rounds up to a value the column cannot hold


@functools.lru_cache(maxsize=4096)
def _decimal(value: int | float) -> Decimal:
    # A broadcast's reports repeat a handful of prices; converting each again costs more than the rest.
    return Decimal(str(value)).quantize(CENT)


def _status(obj: dict) -> str:
    word, state = obj.get("status"), obj.get("state")
    if word is None and state is None:
        raise Rejected("status or state is required")
    by_word = by_state = None
    if word is not None:
        by_word = STATUS_WORDS.get(word.strip().upper()) if isinstance(word, str) else None
        if by_word is None:
            raise Rejected(f"status must be one of {', '.join(STATUS_WORDS)}")
    if state is not None:
        by_state = STATES.get(state) if isinstance(state, int) and not isinstance(state, bool) else None
        if by_state is None:
            raise Rejected("state must be an integer from 1 to 9")
    if by_word and by_state and by_word != by_state:
        raise Rejected("state and status disagree")
    return by_word or by_state


def _client_ref(value) -> uuid.UUID | None:
    """Ours are UUIDs. The field is an echo of what the sender of the message chose (up to 160
    characters of anything): empty, or anything that is not one of ours, names no message of ours
    and is no reason to refuse the report."""
    if not isinstance(value, str) or len(value) > 160:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _recipient(obj: dict, where: str) -> str:
    value = obj.get("recipient")
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        value = str(value)
    if not isinstance(value, str):
        raise Rejected(f"{where}recipient must be a phone number")
    digits = value.removeprefix("+")
    # Message.phone holds international digits without '+', as MessageWhiz sends them.
    if not (digits.isascii() and digits.isdigit() and 1 <= len(digits) <= 15):
        raise Rejected(f"{where}recipient must be a phone number")
    return digits


def _time(obj: dict, key: str) -> datetime:
    moment = _optional_time(obj.get(key))
    if moment is None:
        raise Rejected(f"{key} must be an ISO 8601 time")
    return moment


def _optional_time(value) -> datetime | None:
    """An ISO 8601 time in UTC, or None if it is not one."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        moment = datetime.fromisoformat(value)
        moment = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return moment if moment.year >= 2000 else None  # also inside every database's range once in UTC


def _counts(obj: dict, key: str) -> None:
    value = obj.get(key)
    if value is None:
        return
    if not isinstance(value, dict) or not all(
        isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 2**31 for n in value.values()
    ):
        raise Rejected(f"{key} must map names to counts")
