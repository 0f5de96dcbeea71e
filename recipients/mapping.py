"""Which file column holds what: MessageWhiz's mapping markers, their limits, suggestions."""

import re

from messaging import safejson

from .errors import MappingError
from .models import EMAIL_URL_MAX, NAME_MAX, OTHER_MAX

PHONE = "phone_number"
# Marker → the longest value MessageWhiz accepts. The first six are MessageWhiz's markers;
# custom1..custom4 hold further custom columns locally.
LIMITS = {
    "first_name": NAME_MAX,
    "last_name": NAME_MAX,
    "email": EMAIL_URL_MAX,
    "url": EMAIL_URL_MAX,
    "custom": OTHER_MAX,
    "custom1": OTHER_MAX,
    "custom2": OTHER_MAX,
    "custom3": OTHER_MAX,
    "custom4": OTHER_MAX,
    # An IANA zone name (e.g. America/Chicago) that overrides the zone quiet hours derive from the number.
    "timezone": 64,
}
MARKERS = (PHONE, *LIMITS)
IGNORE = ("", "ignore", None)

# Header names (lowercase, letters and digits only) that suggest a marker.
_HEADER_MARKERS = {
    PHONE: {
        "phone", "phonenumber", "phonenumbers", "phoneno", "mobile", "mobilephone", "mobilenumber",
        "msisdn", "number", "numbers", "tel", "telephone", "cell", "cellphone", "gsm", "телефон",
        "номер", "мобильный", "мобільний",
    },
    "first_name": {"firstname", "first", "name", "givenname", "forename", "имя", "імя"},
    "last_name": {"lastname", "last", "surname", "familyname", "фамилия", "прізвище"},
    "email": {"email", "emailaddress", "mail"},
    "url": {"url", "link", "website", "web", "site"},
    "custom": {"custom", "custom0"},
    "custom1": {"custom1"},
    "custom2": {"custom2"},
    "custom3": {"custom3"},
    "custom4": {"custom4"},
    "timezone": {"timezone", "tz", "zone", "timezonename"},
}
_NOT_WORD = re.compile(r"[\W_]+")


def parse_mapping(mapping, *, columns: int | None = None) -> dict[int, str]:
    """Column index → marker, checked; raises MappingError with a message for the user.

    Accepts MessageWhiz's form ({"0": "phone_number", "1": "first_name"}) as a dict or JSON
    text; columns mapped to "" / "ignore" / None are left out. `columns` is the file's width.
    """
    if isinstance(mapping, str):
        try:
            mapping = safejson.loads(mapping)
        except safejson.JSONError as exc:
            raise MappingError('The mapping is not valid JSON, e.g. {"0": "phone_number"}.') from exc
    if not isinstance(mapping, dict) or not mapping:
        raise MappingError('The mapping must name the phone column, e.g. {"0": "phone_number"}.')
    result: dict[int, str] = {}
    seen: dict[str, int] = {}
    for key, marker in mapping.items():
        try:
            index = int(key)
        except (TypeError, ValueError):
            index = -1
        if index < 0 or str(key).strip() != str(index):
            raise MappingError(f"{key!r} is not a column number; columns are numbered from 0.")
        if marker in IGNORE:
            continue
        if marker not in MARKERS:
            raise MappingError(
                f"Unknown marker {marker!r} for column {index}; use one of: {', '.join(MARKERS)}."
            )
        if marker in seen:
            raise MappingError(
                f"Columns {seen[marker]} and {index} are both mapped to {marker}; map it once."
            )
        if columns is not None and index >= columns:
            raise MappingError(
                f"Column {index} is mapped to {marker}, but the file has only {columns} "
                f"column{'s' if columns != 1 else ''} (numbered from 0)."
            )
        seen[marker] = index
        result[index] = marker
    if PHONE not in seen:
        raise MappingError("No column is mapped to phone_number; one column must hold the phone numbers.")
    return dict(sorted(result.items()))


def suggest_mapping(header: list[str] | None, numeric_columns: list[bool]) -> dict[str, str]:
    """A first guess at the mapping, from header names, else the first all-numeric column."""
    suggestion: dict[str, str] = {}
    taken = set()
    for index, name in enumerate(header or []):
        key = _NOT_WORD.sub("", name.strip().lower())
        for marker, names in _HEADER_MARKERS.items():
            if marker not in taken and (key in names or (marker == PHONE and key.startswith("phone"))):
                suggestion[str(index)] = marker
                taken.add(marker)
                break
    if PHONE not in taken:
        for index, numeric in enumerate(numeric_columns):
            if numeric and str(index) not in suggestion:
                suggestion[str(index)] = PHONE
                break
    return dict(sorted(suggestion.items(), key=lambda item: int(item[0])))
