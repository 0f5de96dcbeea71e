"""Cells safe to open in a spreadsheet, for every export Textcast offers."""

import re

# A cell starting with one of these is read by Excel / LibreOffice as a formula (CSV injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# A plain signed number ("+380 50 123 45 67", "-12.5"): a spreadsheet reads it as that number,
# which runs nothing, so it is left as it is. "-2+3" or "+1+1" are formulas and are not numbers.
_NUMBER = re.compile(r"[+-]?\d[\d ]*(?:[.,]\d+)?")


def neutralise(value) -> str:
    """Text that a spreadsheet shows as typed: a leading ' stops it being run as a formula."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_TRIGGERS) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text
