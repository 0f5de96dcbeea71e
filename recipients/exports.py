"""Downloads of lists: MessageWhiz's CSV form and XLSX, streamed, safe to open in Excel; and the
plain RFC 4180 CSV that uploads to MessageWhiz.

Every text cell goes through `messaging.spreadsheets.neutralise`: a value starting with =, +, -, @, tab or CR
gets a leading apostrophe so a spreadsheet shows it instead of running it as a formula. Numbers
("+380501234567", "-12.5") run nothing and are never touched, nor are phones (digits only). CSV
downloads start with a UTF-8 byte order mark: without it Excel reads them as the local ANSI code
page and shows Cyrillic as mojibake.
"""

import codecs
import csv
import io
from collections.abc import Iterator

from django.db.models import Max

from messaging.spreadsheets import neutralise

from .importing import RECIPIENT_COLUMNS
from .models import Recipient, RecipientList, UnsubscribeList, UnsubscribeNumber

_CHUNK_ROWS = 2_000
_FETCH = 10_000


def recipient_list_columns(*, recipient_list: RecipientList) -> list[str]:
    """phone_number plus the fields any recipient of the list has, in MessageWhiz's order."""
    maxima = Recipient.objects.filter(recipient_list=recipient_list).aggregate(
        **{column: Max(column) for column in RECIPIENT_COLUMNS}
    )
    return ["phone_number", *(column for column in RECIPIENT_COLUMNS if maxima[column])]


def recipient_list_export_csv(*, recipient_list: RecipientList, columns: list[str] | None = None) -> Iterator[bytes]:
    """The list as MessageWhiz's download: `"phone_number";"first_name"` then one row per recipient."""
    columns = columns or recipient_list_columns(recipient_list=recipient_list)
    return _csv(columns, _recipient_rows(recipient_list, columns), for_spreadsheet=True)


def unsubscribe_list_export_csv(*, unsubscribe_list: UnsubscribeList) -> Iterator[bytes]:
    return _csv(["phone_number"], _unsubscribe_rows(unsubscribe_list), for_spreadsheet=True)


def recipient_list_upload_csv(*, recipient_list: RecipientList, columns: list[str]) -> Iterator[bytes]:
    """The list as uploaded to MessageWhiz: RFC 4180 (comma separated, quoted only where needed, CRLF),
    a header row, and the values exactly as stored — a neutralising apostrophe would become part of
    the value there (and a 50-character name 51)."""
    return _csv(columns, _recipient_rows(recipient_list, columns), for_spreadsheet=False)


def unsubscribe_list_upload_csv(*, unsubscribe_list: UnsubscribeList) -> Iterator[bytes]:
    return _csv(["phone_number"], _unsubscribe_rows(unsubscribe_list), for_spreadsheet=False)


def recipient_list_export_xlsx(*, recipient_list: RecipientList, output, columns: list[str] | None = None) -> None:
    """Write the list as an .xlsx workbook to `output` (a path or a binary file)."""
    columns = columns or recipient_list_columns(recipient_list=recipient_list)
    _xlsx(output, recipient_list.name, columns, _recipient_rows(recipient_list, columns))


def unsubscribe_list_export_xlsx(*, unsubscribe_list: UnsubscribeList, output) -> None:
    _xlsx(output, unsubscribe_list.name, ["phone_number"], _unsubscribe_rows(unsubscribe_list))


def _recipient_rows(recipient_list, columns) -> Iterator[tuple]:
    fields = ["phone" if column == "phone_number" else column for column in columns]
    rows = Recipient.objects.filter(recipient_list=recipient_list).order_by("id").values_list(*fields)
    # iterator(): a server-side cursor on PostgreSQL, so a million rows never sit in memory.
    return rows.iterator(chunk_size=_FETCH)


def _unsubscribe_rows(unsubscribe_list) -> Iterator[tuple]:
    rows = UnsubscribeNumber.objects.filter(unsubscribe_list=unsubscribe_list).order_by("id").values_list("phone")
    return rows.iterator(chunk_size=_FETCH)


def _csv(columns: list[str], rows, *, for_spreadsheet: bool) -> Iterator[bytes]:
    buffer = io.StringIO()
    if for_spreadsheet:
        yield codecs.BOM_UTF8
        writer = csv.writer(buffer, delimiter=";", quoting=csv.QUOTE_ALL, lineterminator="\n")
    else:
        # The reference names no dialect beyond ".csv": RFC 4180 is what any CSV reader takes.
        writer = csv.writer(buffer, delimiter=",", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(columns)
    for count, row in enumerate(rows, start=1):
        writer.writerow([neutralise(value) for value in row] if for_spreadsheet else row)
        if count % _CHUNK_ROWS == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def _xlsx(output, title: str, columns: list[str], rows) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    # Write-only mode streams rows to a temporary file instead of building the sheet in memory.
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_sheet_title(title))
    sheet.append(columns)

    def text(value):
        # Stored as text, never as a number (phones keep every digit) or a formula. Control
        # characters other than tab and newlines can't be stored in the file at all.
        cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", neutralise(value)))
        cell.data_type = "s"
        return cell

    for row in rows:
        sheet.append([text(value) for value in row])
    workbook.save(output)


def _sheet_title(name: str) -> str:
    # Excel: at most 31 characters, none of []:*?/\
    cleaned = "".join("_" if char in "[]:*?/\\" else char for char in name).strip("'")
    return cleaned[:31] or "List"
