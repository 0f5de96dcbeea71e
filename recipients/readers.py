"""Read uploaded contact files — CSV/text, XLSX, XLS — as rows of strings, streaming.

`open_table(path)` looks at the file's content (not its name), refuses what it can't read safely
with `FileRejected`, and returns a `Table` whose `rows()` yields `(row number, [cell, …])`.
Row numbers are what a spreadsheet shows: the header is row 1 and blank rows count.

Text is UTF-8 (with or without BOM), UTF-16 as Excel's "Unicode text" writes it, or else
Windows-1251 or 1252, told apart by the shape of the first 64 KB (see `_windows_code_page`).

Cells are always strings. Spreadsheet numbers come out as their exact digits (a phone stored as
the number 380501234567 reads "380501234567", never "3.80501234567e+11" or "…567.0"), dates as
ISO dates.
"""

import codecs
import csv
import datetime
import io
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings

from .errors import FileRejected
from .workbooks import check_xls, check_xlsx, open_workbook

# A CSV line longer than this is refused before the csv module sees it: a 100 MB "cell" would
# otherwise be read into memory whole. Legitimate rows are far shorter (5000 chars per field).
MAX_LINE_CHARS = 1024 * 1024
# The same bound for one spreadsheet cell (whose size the workbook checks bound only in total).
MAX_CELL_CHARS = MAX_LINE_CHARS
CHUNK_CHARS = 1024 * 1024

_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGIC = b"PK\x03\x04"
# C0 controls other than tab/CR/LF: plain text never has many of them, binary files do.
_CONTROL = re.compile(r"[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]")
_DELIMITERS = (",", ";", "\t", "|")


@dataclass
class Table:
    """An opened file: its format and how to read its rows."""

    path: str
    kind: str  # "csv", "xlsx" or "xls"
    sheet_names: list[str] = field(default_factory=list)
    sheet: str = ""
    encoding: str = ""
    delimiter: str = ""
    rows_estimated: int | None = None
    _rows: Callable[[], Iterator[tuple[int, list[str]]]] | None = None

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """(row number, cells) from the top, every time it is called."""
        return self._rows()


def open_table(path: str | os.PathLike, *, sheet: str | int | None = None, quick: bool = False) -> Table:
    """Open a file for reading; raises FileRejected for anything that can't be read safely.

    A text file is normally decoded once in full first (see `_scan_text`), and a workbook fully
    checked and opened (see `recipients.workbooks`). `quick` is a fast answer about whether the
    file is worth queuing: it checks a text file's beginning and a workbook's zip directory only,
    and the returned table has no rows.
    """
    path = os.fspath(path)
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise FileRejected("The file could not be opened.") from exc
    if size == 0:
        raise FileRejected("The file is empty.")
    if size > settings.UPLOAD_MAX_BYTES:
        raise FileRejected(
            f"The file is {_megabytes(size)}; "
            f"files up to {_megabytes(settings.UPLOAD_MAX_BYTES)} are accepted."
        )
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(_ZIP_MAGIC):
        check_xlsx(path, scan=not quick)
        return Table(path=path, kind="xlsx") if quick else _open_spreadsheet(path, "xlsx", sheet)
    if head.startswith(_OLE2_MAGIC):
        if quick:
            return Table(path=path, kind="xls")
        check_xls(path)
        return _open_spreadsheet(path, "xls", sheet)
    return _open_csv(path, quick)


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


# --- CSV and text -----------------------------------------------------------------------------


def _open_csv(path: str, quick: bool) -> Table:
    with open(path, "rb") as fh:
        head = fh.read(64 * 1024)
    encodings = _candidate_encodings(head)
    for encoding in encodings:
        try:
            rows_estimated, sample = _scan_text(path, encoding, whole=not quick)
        except UnicodeDecodeError:
            continue
        break
    else:
        raise FileRejected(
            "The file is not readable text: it is neither UTF-8, UTF-16 nor Windows-1251/1252. "
            "Save it as CSV (UTF-8) or as an Excel workbook."
        )
    delimiter = _detect_delimiter(sample, encoding)
    table = Table(
        path=path, kind="csv", encoding=encoding, delimiter=delimiter, rows_estimated=rows_estimated
    )
    table._rows = lambda: _csv_rows(path, encoding, delimiter)
    return table


def _candidate_encodings(head: bytes) -> list[str]:
    if head.startswith(codecs.BOM_UTF8):
        return ["utf-8-sig"]
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Excel's "Unicode text": UTF-16 with a byte order mark, tab-separated.
        return ["utf-16"]
    if b"\x00" in head:
        # UTF-16 without a BOM shows as every other byte being zero.
        even, odd = head[0::2], head[1::2]
        if odd.count(0) > len(odd) * 0.4 and even.count(0) < len(even) * 0.1:
            return ["utf-16-le"]
        if even.count(0) > len(even) * 0.4 and odd.count(0) < len(odd) * 0.1:
            return ["utf-16-be"]
        raise FileRejected("The file contains binary data; upload a CSV or Excel file.")
    return ["utf-8", _windows_code_page(head)]


# Cyrillic letters in Windows-1251: the alphabet (0xC0-0xFF) and the Ukrainian and Russian extras.
_CYRILLIC_WORD = re.compile(rb"[\xa5\xa8\xaa\xaf\xb2-\xb4\xb8\xba\xbf\xc0-\xff]{3,}")
_HIGH_BYTE = re.compile(rb"[\x80-\xff]")


def _windows_code_page(head: bytes) -> str:
    """Windows-1251 (what Ukrainian and Russian Excel saves) or 1252 (Western), for text that isn't UTF-8.

    Both decode any byte, so look at the bytes above 0x7F: in Cyrillic text they make whole
    words, while accented Latin letters sit one or two at a time between ASCII ones ("Renée",
    "Conceição"). Mostly such runs of three or more: Windows-1251.
    """
    high = len(_HIGH_BYTE.findall(head))
    in_words = sum(map(len, _CYRILLIC_WORD.findall(head)))
    return "cp1251" if high and in_words * 2 > high else "cp1252"


def _scan_text(path: str, encoding: str, whole: bool = True) -> tuple[int | None, str]:
    """Decode the whole file once before parsing it (only its first chunk unless `whole`).

    This settles the encoding (UTF-8 that breaks on line 900,000 falls back to Windows-1252 before
    anything is imported), refuses binary content and over-long lines with bounded memory, and
    counts lines for the progress bar. Returns (line count, the first chunk for sniffing).
    """
    newlines = returns = 0
    run = 0  # length of the line still open at the end of the previous chunk
    sample = ""
    with open(path, encoding=encoding, newline="") as fh:
        while chunk := fh.read(CHUNK_CHARS):
            if not sample:
                sample = chunk
                if len(_CONTROL.findall(chunk, 0, 65536)) > 16:
                    raise FileRejected("The file contains binary data; upload a CSV or Excel file.")
            if "\x00" in chunk:
                raise FileRejected("The file contains binary data; upload a CSV or Excel file.")
            # Lines inside a chunk are shorter than the chunk (CHUNK_CHARS <= MAX_LINE_CHARS);
            # only a line running across chunk boundaries can be too long.
            first = min((i for i in (chunk.find("\n"), chunk.find("\r")) if i >= 0), default=-1)
            if first < 0:
                run += len(chunk)
            else:
                run += first
                if run <= MAX_LINE_CHARS:
                    run = len(chunk) - 1 - max(chunk.rfind("\n"), chunk.rfind("\r"))
            if run > MAX_LINE_CHARS:
                raise FileRejected(
                    f"The file has a line longer than {MAX_LINE_CHARS:,} characters; it is not a "
                    "contact list (or a cell holds far more text than any field can store)."
                )
            newlines += chunk.count("\n")
            returns += chunk.count("\r")
            if not whole:
                break
    if not sample.strip():
        raise FileRejected("The file is empty.")
    if not whole:
        return None, sample
    # Old Mac files end lines with CR alone.
    return (newlines or returns) + (1 if run else 0), sample


def _detect_delimiter(sample: str, encoding: str) -> str:
    """The delimiter that splits the first lines into the most consistent number of columns."""
    # Only whole lines: a cut-off quoted field would confuse the count.
    cut = max(sample.rfind("\n", 0, 65536), 0)
    text = sample[:cut] if cut else sample[:65536]
    best, best_score = ",", (0.0, 1)
    for delimiter in _DELIMITERS:
        try:
            widths = [len(row) for row in csv.reader(io.StringIO(text), delimiter=delimiter) if row][:50]
        except csv.Error:
            continue
        if not widths:
            continue
        common = max(set(widths), key=widths.count)
        if common < 2:
            continue
        score = (widths.count(common) / len(widths), common)
        if score > best_score:
            best, best_score = delimiter, score
    if best_score == (0.0, 1) and encoding.startswith("utf-16"):
        return "\t"
    return best


def _csv_rows(path: str, encoding: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    with open(path, encoding=encoding, newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        number = 0
        try:
            for number, row in enumerate(reader, start=1):
                yield number, row
        except csv.Error as exc:
            raise FileRejected(f"Row {number + 1} could not be read: {exc}.") from exc


# --- Spreadsheets -----------------------------------------------------------------------------


def _open_spreadsheet(path: str, kind: str, sheet) -> Table:
    try:
        workbook = open_workbook(path, kind)
        names = list(workbook.sheet_names)
    except _calamine_errors() as exc:
        raise FileRejected(_damaged(kind)) from exc
    if not names:
        raise FileRejected("The workbook has no sheets.")
    index = _sheet_index(sheet, names)
    table = Table(path=path, kind=kind, sheet_names=names, sheet=names[index])

    try:
        worksheet = workbook.get_sheet_by_index(index)
        end = worksheet.end
    except _calamine_errors() as exc:
        raise FileRejected(_damaged(kind)) from exc
    table.rows_estimated = end[0] + 1 if end else 0

    def rows():
        # calamine's iter_rows() starts at the sheet's first row (blank rows above the data come
        # out empty) but at the first *used* column; pad so that column A is always index 0.
        pad = [""] * (worksheet.start or (0, 0))[1]
        try:
            for number, cells in enumerate(worksheet.iter_rows(), start=1):
                # Most cells are text already; only the others go through a function call.
                row = [value if type(value) is str else _cell_text(value) for value in cells]
                if pad:
                    row = pad + row
                if row and max(map(len, row)) > MAX_CELL_CHARS:
                    _refuse_long_cell(number, row)
                yield number, row
        except _calamine_errors() as exc:
            raise FileRejected(_damaged(kind)) from exc

    table._rows = rows
    return table


def _refuse_long_cell(number: int, row: list[str]) -> None:
    index = next(index for index, value in enumerate(row) if len(value) > MAX_CELL_CHARS)
    raise FileRejected(
        f"Row {number}, column {_column_letters(index)} holds {len(row[index]):,} characters; a cell "
        f"may hold up to {MAX_CELL_CHARS:,} (no field of a list takes more than 5,000)."
    )


def _column_letters(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def _damaged(kind: str) -> str:
    return f"The file looks like an Excel workbook (.{kind}) but is damaged and can't be read."


def _calamine_errors() -> tuple[type[BaseException], ...]:
    """What calamine raises for a bad file, for `except _calamine_errors():`.

    Its own CalamineError family, plus a Rust panic, which pyo3 surfaces as PanicException: a
    BaseException subclass created on the first panic. An except clause is evaluated only once
    something was raised, so by then the class exists and can be found by name.
    """
    import python_calamine

    panics = tuple(cls for cls in BaseException.__subclasses__() if cls.__name__ == "PanicException")
    return (python_calamine.CalamineError, ValueError, OSError, *panics)


def _sheet_index(sheet, names: list[str]) -> int:
    if sheet is None or sheet == "":
        return 0
    if isinstance(sheet, int) or (isinstance(sheet, str) and sheet.isdigit() and sheet not in names):
        index = int(sheet)
        if 0 <= index < len(names):
            return index
    elif sheet in names:
        return names.index(sheet)
    raise FileRejected(f"The workbook has no sheet {sheet!r}; its sheets are: {', '.join(names)}.")


def _cell_text(value) -> str:
    if type(value) is float:  # every number Excel stores, phones included
        return str(int(value)) if value.is_integer() else _float_text(value)
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, datetime.datetime):
        if value.time() == datetime.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if value is None:
        return ""
    return str(value)


def _float_text(value: float) -> str:
    """Excel stores every number as a float; phones must come back as their exact digits."""
    if value != value or value in (float("inf"), float("-inf")):
        return ""
    if value.is_integer():
        return str(int(value))
    text = repr(value)
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    return text
