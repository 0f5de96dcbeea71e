"""MessageWhiz's own rules, checked before a round trip so users hear about mistakes at once."""

import re

import phonenumbers
from django.core.exceptions import ValidationError

# "Sender must not exceed 11 letters (latin alphabet or special symbols “'._-+&{space}” are allowed)
# or 20 numbers." — the reference's validation message for `from`.
ALPHANUMERIC_SENDER = re.compile(r"[A-Za-z0-9'._\-+& ]{1,11}")
# [0-9], not \d: \d also matches Arabic-Indic and other digits MessageWhiz refuses.
NUMERIC_SENDER = re.compile(r"[0-9]{1,20}")
SENDER_RULE = (
    "Sender must not exceed 11 letters (latin alphabet or special symbols “'._-+&{space}” "
    "are allowed) or 20 numbers."
)


def validate_sender_name(value: str) -> None:
    if NUMERIC_SENDER.fullmatch(value):
        return
    if not ALPHANUMERIC_SENDER.fullmatch(value):
        raise ValidationError(SENDER_RULE, code="sender_name")


def validate_country(value: str) -> None:
    """An ISO region code phonenumbers knows ("GB"), as numbers' countries are recorded."""
    if value not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError(f"“{value}” is not an ISO country code (e.g. GB, US).")
