"""Lenient readers for what MessageWhiz returns, and writers for what it expects.

The reference returns the same field in several types: ids and phone numbers as `6593333311` or
`"6593333311"`, `enabled` as `true`, `1` or `"1"`, dates as ISO 8601 with a `Z`, as
`"2021-06-25 14:02:50"` or as epoch milliseconds. `normalise()` walks a decoded JSON value and
converts fields by name to one canonical form:

* ids and counts -> int (string ids such as `message_id` or a DLR's `_id` stay strings);
* phone numbers (`phone_number`, `recipient`) -> digit strings, no `+`;
* `enabled` and other flags -> bool;
* dates -> timezone-aware `datetime` (UTC when the provider gives no offset), ready for a
  DateTimeField; prices and rates -> float.

A value that cannot be read is kept as is rather than dropped or guessed at.
"""

import re
from datetime import UTC, date, datetime
from functools import cache

# Ids that are not numbers: message and PDU ids, DLR record ids, short link ids.
STRING_KEYS = frozenset({"_id", "message_id", "pdu_id", "link_id", "uuid", "custom_parameter", "client_ref"})
INT_KEYS = frozenset({
    "inserted", "total", "wrong", "duplicate", "alreadyExists", "notValid", "unsubscribers_amount",
    "linkListLength", "uniqueClicks", "totalClicks", "recipientCount", "totalRecipients", "clicks",
    "messages", "parts", "parts_count", "sent", "delivered", "undelivered", "rejected", "expired", "failed",
    "state", "task_state", "type", "encoding", "utc_offset", "broadcast_type", "segment_size",
    "first_segment_size", "next_segment_size", "recipient_cap", "conversion_threshold", "batch_index",
})
BOOL_KEYS = frozenset({
    "enabled", "is_default", "send_now", "valid", "verification", "unique_click", "is_now",
})
PHONE_KEYS = frozenset({"phone_number", "recipient"})
DATE_KEYS = frozenset({
    "start_date", "end_date", "send_date", "create_date", "created_at", "send_time", "exp_date",
    "timestamp", "time", "date", "updated", "flight_details.arrival_date",
})
FLOAT_KEYS = frozenset({"sum", "rate", "price", "estimated_price", "real_price", "conversion"})

# DLR `state` of a fast single (/sms) and `task_state` of the DLR-to-webhook records.
SMS_DLR_STATES = {
    1: "ENROUTE", 2: "DELIVRD", 3: "EXPIRED", 4: "DELETED", 5: "UNDELIV",
    6: "ACCEPTD", 7: "UNKNOWN", 8: "REJECTD", 9: "FAILED",
}
TASK_STATES = {0: "sent", 2: "delivered", 3: "expired", 5: "undelivered", 8: "rejected", 9: "failed"}

_INT_RE = re.compile(r"[+-]?\d+")
_PHONE_JUNK_RE = re.compile(r"[\s\-().+]")


def to_int(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INT_RE.fullmatch(value.strip()):
        return int(value)
    return value


def to_float(value):
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def to_bool(value):
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        text = value.strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off", ""}:
            return False
    return value


def to_phone(value):
    """Digits only: '+65 9333-3311', 6593333311 and '6593333311' all become '6593333311'."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        digits = _PHONE_JUNK_RE.sub("", value)
        if digits.isdigit():
            return digits
    return value


def to_datetime(value):
    """An aware datetime from ISO 8601 (with or without offset; UTC assumed), or epoch (milli)seconds."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        # Epoch milliseconds (DLR `updated`) are 13 digits; seconds stay below 1e11 until the year 5138.
        return datetime.fromtimestamp(value / 1000 if value > 1e11 else value, tz=UTC)
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            return value
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return value


@cache
def converter(key: str):
    """The canonical converter for a field, chosen by its name (None: leave the value alone)."""
    if key in STRING_KEYS:
        return None
    if key in BOOL_KEYS:
        return to_bool
    if key in PHONE_KEYS:
        return to_phone
    if key in DATE_KEYS:
        return to_datetime
    if key in FLOAT_KEYS:
        return to_float
    if key in INT_KEYS or key == "id" or key.endswith(("_id", "Id", "ID", "count", "Count")):
        return to_int
    return None


def normalise(value, key: str | None = None):
    """Return `value` (decoded JSON) with every known field converted to its canonical form."""
    if isinstance(value, dict):
        return {k: normalise(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(item, key) for item in value]
    convert = converter(key) if key is not None and value is not None else None
    return convert(value) if convert else value


# --- Writers: what we send --------------------------------------------------------------------

def api_datetime(value):
    """ISO 8601 in UTC with milliseconds and a Z, as in every example ("2020-07-22T21:00:00.000Z").

    Strings pass through untouched; naive datetimes and dates are taken as UTC.
    """
    if value is None or isinstance(value, str):
        return value
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def api_plain_datetime(value):
    """'2021-09-25 13:55:58' (UTC), the format the reference shows for a CTR broadcast's exp_date."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime):
        value = value.astimezone(UTC) if value.tzinfo else value
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.strftime("%Y-%m-%d 00:00:00")
    return value


def id_string(ids) -> str | None:
    """'1,2,3' from an iterable of ids (or a single id, or an already joined string).

    None when there are none: a blank id string is never sent (a strict server reads `""` as a
    missing required field, and no reading makes it mean anything)."""
    if isinstance(ids, int):
        return str(ids)
    if ids is None or isinstance(ids, str):
        return ids or None
    return ",".join(str(int(i)) for i in ids) or None


def phone_strings(numbers) -> list[str]:
    """Phone numbers as digit strings, the form most request examples use."""
    return [str(to_phone(n)) for n in numbers]
