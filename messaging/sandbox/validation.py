"""Parsing and validation of request values, with class-validator style messages.

Where the reference types a field — `(int)`, `(number)`, `(integer)`, `(string)`, `(bool)`,
`(array)` — the type is enforced exactly (`number`, `id_string`, `flag`, `text`, arrays): `"3"` is not
an int and `12` is not a string, even where an example slips (`"sender_id": "23"`; the prose
wins, see specs/README.md). Untyped fields and query parameters, which are strings on the wire,
are read leniently by `integer` and `parse_bool` (the examples send `enabled` as `true`, `1`
and `"1"`).
"""

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from .errors import ApiError

PHONE_MESSAGE = (
    "The recipient number entered is invalid. Please ensure that the number is between 10 and 15 digits in length."
)
SENDER_MESSAGE = (
    "Sender must not exceed 11 letters (latin alphabet or special symbols “'._-+&{space}” are allowed) or 20 numbers."
)
# Decision: digits may appear in alphanumeric senders (the reference's own sender list has "test2").
_ALPHA_SENDER = re.compile(r"^(?=.*[A-Za-z'._\-+& ])[A-Za-z0-9'._\-+& ]{1,11}$")
_NUMERIC_SENDER = re.compile(r"^\d{1,20}$")

TRUE_WORDS = {"true", "1", "yes", "on"}
FALSE_WORDS = {"false", "0", "no", "off"}


def parse_bool(value: Any) -> bool | None:
    """true/1/"1"/"true" → True, false/0/"0"/"false" → False, anything else → None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0 if value in (0, 1) else None
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    return None


def boolean(value: Any, field: str) -> bool:
    parsed = parse_bool(value)
    if parsed is None:
        raise ApiError(400, f"{field} must be a boolean value")
    return parsed


def integer(value: Any, field: str, minimum: int | None = None, maximum: int | None = None) -> int:
    if isinstance(value, bool):
        raise ApiError(400, f"{field} must be an integer number")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        value = int(value)
    if not isinstance(value, int):
        raise ApiError(400, f"{field} must be an integer number")
    if minimum is not None and value < minimum:
        raise ApiError(400, f"{field} must not be less than {minimum}")
    if maximum is not None and value > maximum:
        raise ApiError(400, f"{field} must not be greater than {maximum}")
    return value


def number(value: Any, field: str, minimum: int | None = None, maximum: int | None = None) -> int:
    """A field the reference types (int), (number) or (integer): a JSON integer, never `"3"`."""
    if isinstance(value, str):
        raise ApiError(400, f"{field} must be an integer number")
    return integer(value, field, minimum, maximum)


def flag(value: Any, field: str) -> bool:
    """A field the reference types (bool) or (boolean): JSON true or false."""
    if not isinstance(value, bool):
        raise ApiError(400, f"{field} must be a boolean value")
    return value


def id_string(value: Any, field: str) -> list[int]:
    """A field the reference types (string) of comma separated ids (`"12,13"`): not 12, not [12]."""
    if value is None:
        return []
    if not isinstance(value, str):
        raise ApiError(400, f"{field} must be a string")
    return id_list(value, field)


def array(value: Any, field: str) -> list:
    if not isinstance(value, list):
        raise ApiError(400, f"{field} must be an array")
    return value


def only_fields(body: dict, *allowed: str) -> None:
    """For the endpoints whose prose says "only one parameter": class-validator's whitelist error."""
    extra = [f"property {key} should not exist" for key in body if key not in allowed]
    if extra:
        raise ApiError(400, extra)


def id_list(value: Any, field: str) -> list[int]:
    """`"1,2"`, `1`, `[1, "2"]` → [1, 2]; `""`/None → []."""
    if value is None or value == "":
        return []
    parts = value if isinstance(value, list) else str(value).split(",") if isinstance(value, str) else [value]
    ids = []
    for part in parts:
        text = part.strip() if isinstance(part, str) else part
        if text == "":
            continue
        try:
            ids.append(integer(text, field, minimum=1))
        except ApiError:
            raise ApiError(400, f"{field} must be comma separated numbers") from None
    return ids


def text(value: Any, field: str, max_length: int | None = None, required: bool = True) -> str | None:
    if value is None or value == "":
        if required:
            raise ApiError(400, f"{field} should not be empty")
        return None
    if not isinstance(value, str):
        raise ApiError(400, f"{field} must be a string")
    if max_length is not None and len(value) > max_length:
        raise ApiError(400, f"{field} must be shorter than or equal to {max_length} characters")
    return value


def string_list(value: Any, field: str) -> list[str]:
    if not isinstance(value, list) or not value:
        raise ApiError(400, f"{field} must be a non-empty array")
    if not all(isinstance(item, str) for item in value):
        raise ApiError(400, f"each value in {field} must be a string")
    return list(value)


def normalize_phone(value: Any) -> str | None:
    """The number as a digit string when it is 10-15 digits and nothing else (the reference's
    international form, "18756785619"): no `+`, spaces or separators. Given as a string or a number."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int | str):
        return None
    digits = str(value)
    return digits if digits.isascii() and digits.isdigit() and 10 <= len(digits) <= 15 else None


def phone(value: Any) -> str:
    number = normalize_phone(value)
    if number is None:
        raise ApiError(400, PHONE_MESSAGE)
    return number


def is_sender_name(value: Any) -> bool:
    return isinstance(value, str) and bool(_ALPHA_SENDER.match(value) or _NUMERIC_SENDER.match(value))


def sender_name(value: Any) -> str:
    if not is_sender_name(value):
        raise ApiError(400, SENDER_MESSAGE)
    return value


def parse_datetime(value: str) -> datetime | None:
    """ISO 8601, also the reference's `2021-09-25 13:55:58` and `06/01/2021 12:00 AM` forms."""
    if not isinstance(value, str) or not value.strip():
        return None
    raw = value.strip()
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        for fmt in ("%m/%d/%Y %I:%M %p", "%m/%d/%Y %H:%M", "%m/%d/%Y"):
            try:
                moment = datetime.strptime(raw, fmt)
                break
            except ValueError:
                continue
        else:
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def iso_date(value: Any, field: str, required: bool = False) -> str | None:
    """Validates an ISO 8601 date and returns it as given (the API echoes dates verbatim)."""
    if value is None or value == "":
        if required:
            raise ApiError(400, f"{field} should not be empty")
        return None
    # "Date and time are expressed according to ISO 8601": not the filter's `06/01/2021 12:00 AM`
    if not isinstance(value, str) or not _is_iso(value):
        raise ApiError(400, f"{field} must be a valid ISO 8601 date string")
    return value


def _is_iso(value: str) -> bool:
    try:
        datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def is_url(value: Any) -> bool:
    if not isinstance(value, str) or any(ch.isspace() for ch in value):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def url(value: Any, field: str, required: bool = True) -> str | None:
    if value is None or value == "":
        if required:
            raise ApiError(400, f"{field} should not be empty")
        return None
    if not is_url(value):
        raise ApiError(400, f"{field} must be a URL address")
    return value


def utc_offset(value: Any) -> int:
    return number(value, "utc_offset", minimum=-720, maximum=720)  # "in minutes": a number, typed (int)


def require(body: dict, *fields: str) -> None:
    """400 listing every missing field at once, as class-validator does."""
    missing = [f"{field} should not be empty" for field in fields if body.get(field) in (None, "", [])]
    if missing:
        raise ApiError(400, missing)


def now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """`2020-07-22T21:00:00.000Z`, the API's timestamp form."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def sql_time(moment: datetime) -> str:
    """`2021-06-25 14:02:50`, the form segments use."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
