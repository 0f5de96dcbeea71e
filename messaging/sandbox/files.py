"""Uploaded contact and link files (.csv, .xlsx, .xls): reading, column mapping and preview."""

import csv
import io
import json
from datetime import date, datetime, time

from python_calamine import CalamineWorkbook
from werkzeug.datastructures import FileStorage

from .errors import ApiError
from .validation import normalize_phone

PREVIEW_ROWS = 10  # decision: the reference does not say how many rows a preview shows
LENGTH_LIMITS = (50, 255, 5000)


def read_upload(upload: FileStorage | None) -> list[list[str]]:
    """The first sheet (or the CSV) as rows of strings, without blank rows."""
    if upload is None:
        raise ApiError(400, "doc should not be empty")
    data = upload.read()
    if not data:
        raise ApiError(400, "doc must not be an empty file")
    name = (upload.filename or "").lower()
    if name.endswith((".xlsx", ".xls", ".xlsm", ".ods")) or data[:4] in (b"PK\x03\x04", b"\xd0\xcf\x11\xe0"):
        rows = _read_workbook(data)
    elif name.endswith((".csv", ".txt")) or not name:
        rows = _read_csv(data)
    else:
        raise ApiError(400, "doc must be a .csv, .xlsx or .xls file")
    return [row for row in rows if any(cell.strip() for cell in row)]


def _read_csv(data: bytes) -> list[list[str]]:
    """Decision (the reference says only ".csv"): plain RFC 4180 — comma separated, fields quoted
    only where needed — and no guessing of other delimiters, so a semicolon file is one column."""
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            content = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    return [[cell.strip() for cell in row] for row in csv.reader(io.StringIO(content, newline=""))]


def _read_workbook(data: bytes) -> list[list[str]]:
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        sheet = workbook.get_sheet_by_index(0).to_python()
    except Exception as exc:  # calamine raises several unrelated error types
        raise ApiError(400, f"doc could not be read: {exc}") from None
    return [[_cell(value) for value in row] for row in sheet]


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # spreadsheets store phone numbers as floats
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value).strip()


def parse_mapping(raw, allowed: set[str], required: str) -> dict[int, str]:
    """`{"0":"phone_number","1":"first_name"}` → {0: "phone_number", 1: "first_name"}."""
    if raw in (None, ""):
        raise ApiError(400, "mapping should not be empty")
    try:
        mapping = json.loads(raw) if isinstance(raw, str) else raw
        columns = {int(index): str(marker) for index, marker in mapping.items()}
    except (ValueError, AttributeError, TypeError):
        raise ApiError(400, 'mapping must be a JSON object like {"0":"phone_number"}') from None
    unknown = sorted(set(columns.values()) - allowed)
    if unknown:
        raise ApiError(
            400,
            f"mapping has unknown markers: {', '.join(unknown)}; possible markers: {', '.join(sorted(allowed))}",
        )
    if required not in columns.values():
        raise ApiError(400, f"mapping must contain {required}")
    if any(index < 0 for index in columns):
        raise ApiError(400, "mapping column indexes must not be negative")
    return columns


def cell(row: list[str], index: int) -> str:
    return row[index] if index < len(row) else ""


def preview(rows: list[list[str]]) -> dict:
    """The documented preview: first rows, plus per column whether all values (after a header
    row) are numbers and whether any value exceeds the 50/255/5000 limits."""
    width = max((len(row) for row in rows), default=0)
    body = rows[1:] if len(rows) > 1 else rows
    columns = [[cell(row, index) for row in body] for index in range(width)]
    result = {
        "data": [list(row) for row in rows[:PREVIEW_ROWS]],
        "isAllNum": [all(value.isdigit() for value in column if value) and any(column) for column in columns],
    }
    for limit in LENGTH_LIMITS:
        result[f"isExceedLength{limit}"] = [any(len(value) > limit for value in column) for column in columns]
    return result


CONTACT_MARKERS = {
    "phone_number",
    "first_name",
    "last_name",
    "email",
    "url",
    "custom",
    "custom1",
    "custom2",
    "custom3",
    "custom4",
    "gender",
}
FIELD_LIMITS = {"first_name": 50, "last_name": 50, "email": 255, "url": 255}
OTHER_LIMIT = 5000  # "other - 5000"


def read_contacts(rows: list[list[str]], mapping: dict[int, str], truncate: bool) -> tuple[list[dict], dict]:
    """Rows → recipients `{"phone_number": "...", "first_name": ...}` and the import counters.

    Decision (the reference never mentions a header row): every row is data, so a header is
    counted in `total` and, not being a number, in `wrong`. Without truncate, a value longer than
    its limit fails the whole import (the reference: "an error while loading occurs").
    """
    phone_column = next(index for index, marker in mapping.items() if marker == "phone_number")
    contacts, seen, wrong, duplicate, too_long = [], set(), 0, 0, []
    for number, row in enumerate(rows, start=1):
        phone = normalize_phone(cell(row, phone_column))
        contact = {"phone_number": phone}
        for index, marker in mapping.items():
            if marker == "phone_number":
                continue
            value = cell(row, index)
            limit = FIELD_LIMITS.get(marker, OTHER_LIMIT)
            if len(value) > limit:
                if not truncate:
                    too_long.append(f"row {number}: {marker} is longer than {limit} symbols")
                value = value[:limit]
            if value:
                contact[marker] = value
        if phone is None:
            wrong += 1
        elif phone in seen:
            duplicate += 1
        else:
            seen.add(phone)
            contacts.append(contact)
    if too_long:
        raise ApiError(
            400,
            [
                *too_long[:10],
                "fields exceed the allowed length; fix the file or import it with truncate=true",
            ],
        )
    return contacts, {"inserted": len(contacts), "total": len(rows), "wrong": wrong, "duplicate": duplicate}


def csv_download(columns: list[str], rows: list[list[str]]) -> str:
    """`"phone_number";"first_name"` — the reference's download format."""

    def quote(value) -> str:
        return '"' + str(value).replace('"', '""') + '"'

    return "\n".join(";".join(quote(value) for value in row) for row in [columns, *rows]) + "\n"
