"""Cells safe to open in a spreadsheet, for every export Textcast offers."""

# A cell starting with one of these is read by Excel / LibreOffice as a formula (CSV injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value) -> str:
    """Text that a spreadsheet shows as typed: a leading ' stops it being run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text
