"""Checks that run before calamine opens a workbook, so that no file can make it exhaust memory.

calamine lays a sheet out as a dense grid of (last row x last column) cells, about 32 bytes each
(plus ~40 per cell while building it), and aborts the whole process — not a Python exception —
when an allocation fails. A 2 KB .xlsx with one cell at A1 and one at XFD1048576 asks for 549 GB;
a forged DIMENSIONS record in an .xls makes it reserve petabytes. So before calamine sees a file:

* .xlsx: every zip member is inflated here (bounded, sizes checked — see `_inflate`) and its XML
  scanned for the cells calamine would place, to bound the grid;
* .xls: the Workbook stream is read out of its OLE2 container and its BIFF records walked for the
  same bound (calamine parses every sheet of an .xls when it opens the file).

`open_workbook` then opens the file with the name extension of the checked format: calamine picks
its reader by extension, and an upload named .ods or .xlsb would otherwise reach a reader these
checks never looked at.
"""

import mmap
import os
import re
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from xml.parsers import expat

from .errors import FileRejected

# Cells of the grid calamine may build for one file (all its sheets, for .xls). Measured: ~95
# bytes per cell in calamine for a typical contact sheet, so this stays near 240 MB, within the
# import's 400 MB alongside everything else. 600,000 rows of 4 columns fit.
MAX_SHEET_CELLS = 2_500_000
# Zip members inflated in total. calamine streams sheet XML but keeps the shared strings (about
# twice their XML size in memory); a contact sheet within MAX_SHEET_CELLS unpacks to well under this.
MAX_XLSX_UNPACKED_BYTES = 160 * 1024 * 1024
MAX_XLSX_RATIO = 100  # sheet XML compresses 5-50 times; bombs 1000 and more
MAX_ZIP_ENTRIES = 10_000
_CHUNK = 1024 * 1024

DAMAGED = "The workbook is damaged and can't be read."
_BOMB = "The workbook unpacks to far more data than a contact list holds; it looks like a zip bomb."


def too_many_cells(cells: int) -> FileRejected:
    return FileRejected(
        f"The workbook spans {cells:,} cells (from its first to its last used row and column); up to "
        f"{MAX_SHEET_CELLS:,} can be read. Delete stray cells far from the data, or save it as CSV."
    )


def open_workbook(path: str, kind: str):
    """calamine's workbook for a file `check_xlsx` / `check_xls` accepted, read as `kind`."""
    import python_calamine

    with tempfile.TemporaryDirectory() as tmp:
        link = os.path.join(tmp, f"workbook.{kind}")
        os.symlink(os.path.abspath(path), link)
        # calamine keeps the file open; the link may go.
        return python_calamine.CalamineWorkbook.from_path(link)


# --- XLSX ---------------------------------------------------------------------------------------


def check_xlsx(path: str, *, scan: bool = True) -> None:
    """Refuse zip bombs, non-workbooks and sheets too large to lay out; `scan=False` skips inflating."""
    try:
        with zipfile.ZipFile(path) as archive, open(path, "rb") as fh:
            members = archive.infolist()
            if len(members) > MAX_ZIP_ENTRIES:
                raise FileRejected(_BOMB)
            if sum(member.file_size for member in members) > MAX_XLSX_UNPACKED_BYTES:
                raise FileRejected(_BOMB)
            for member in members:
                if member.file_size > _CHUNK and member.file_size > MAX_XLSX_RATIO * max(member.compress_size, 1):
                    raise FileRejected(_BOMB)
            if "xl/workbook.xml" not in {member.filename for member in members}:
                raise FileRejected("The file is a zip archive but not an Excel workbook (.xlsx).")
            if not scan:
                return
            # Every member, not just xl/worksheets/*: a workbook's relationships may put a sheet
            # anywhere. Other parts hold no cells and cost one fast pass.
            for member in members:
                cells = _fast_cells(_inflate(fh, member))
                if cells is None:
                    cells = _exact_cells(_inflate(fh, member))
                if cells > MAX_SHEET_CELLS:
                    raise too_many_cells(cells)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError,
            zlib.error, struct.error) as exc:
        raise FileRejected(DAMAGED) from exc


def _inflate(fh, member: zipfile.ZipInfo) -> Iterator[bytes]:
    """A member's bytes, inflated here and held to its declared size.

    zipfile stops reading at the declared size, so a member whose real stream is far longer
    passes it once its CRC is forged to match — and calamine then inflates the real stream.
    """
    if member.flag_bits & 0x1:
        raise FileRejected(DAMAGED)  # encrypted
    fh.seek(member.header_offset)
    header = fh.read(30)
    if len(header) != 30 or header[:4] != b"PK\x03\x04":
        raise FileRejected(DAMAGED)
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    fh.seek(member.header_offset + 30 + name_length + extra_length)
    remaining = member.compress_size
    if member.compress_type == zipfile.ZIP_STORED:
        if member.compress_size != member.file_size:
            raise FileRejected(DAMAGED)
        while remaining:
            data = fh.read(min(_CHUNK, remaining))
            if not data:
                raise FileRejected(DAMAGED)
            remaining -= len(data)
            yield data
        return
    if member.compress_type != zipfile.ZIP_DEFLATED:
        raise FileRejected(DAMAGED)
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    produced = 0
    while not inflater.eof:
        data = fh.read(min(_CHUNK, remaining))
        remaining -= len(data)
        # Output is taken in bounded pieces; an empty `data` drains what zlib still holds.
        while not inflater.eof:
            out = inflater.decompress(data, _CHUNK)
            data = inflater.unconsumed_tail
            if not out and not data:
                break
            produced += len(out)
            if produced > member.file_size:
                raise FileRejected(_BOMB)
            yield out
        if not remaining:
            break
    if not inflater.eof or produced != member.file_size:
        raise FileRejected(DAMAGED)


# How every writer we know starts a cell: `<c r="B12"`.
_CELL_ROW = re.compile(rb'<c r="[A-Z]{1,3}([1-9][0-9]{0,6})"')
_CELL_COLUMN = re.compile(rb'<c r="([A-Z]{1,3})[1-9]')
# Other spellings calamine (which ignores namespace prefixes) would also read as a cell.
_ODD_CELL = re.compile(rb"<c[\t\n\r/>]")
_PREFIXED_CELL = re.compile(rb"<[^\s<>/!?]+:c[\s/>]")


def _fast_cells(chunks: Iterator[bytes]) -> int | None:
    """The grid's size, when every cell is spelled `<c r="B12"`; None when some other form appears.

    0 for a part without `sheetData`: calamine reads cells from nothing else (images and other
    binary parts end here, whatever their bytes). The rest is C-speed passes: the count of `<c `
    must equal the references found (so no cell is placed implicitly, next to the previous one)
    and `r="` may appear only in cells and rows.
    """
    last_row = 0
    columns: set[bytes] = set()
    tail = b""
    sheet, plain = False, True
    for chunk in chunks:
        chunk = tail + chunk
        # Cut after a '>' so that no `<c r="…"` (nor "sheetData") is split between two chunks.
        cut = chunk.rfind(b">") + 1
        chunk, tail = chunk[:cut], chunk[cut:]
        if len(tail) > 8 * _CHUNK:
            plain, tail = False, tail[-16:]
        sheet = sheet or b"sheetData" in chunk
        if not plain:
            continue
        rows = _CELL_ROW.findall(chunk)
        if (
            chunk.count(b"<c ") != len(rows)
            or chunk.count(b' r="') != len(rows) + chunk.count(b'<row r="')
            or _ODD_CELL.search(chunk)
            or (b":c" in chunk and _PREFIXED_CELL.search(chunk))
        ):
            plain = False
        elif rows:
            last_row = max(last_row, max(map(int, rows)))
            columns.update(_CELL_COLUMN.findall(chunk))
    if not sheet and b"sheetData" not in tail:
        return 0
    if not plain or tail.strip():
        return None
    return last_row * max((_column_number(letters) for letters in columns), default=0)


def _exact_cells(chunks: Iterator[bytes]) -> int:
    """The grid's size, following calamine's placement of cells: at their `r`, else next to the
    previous cell of the row (rows: at their `r`, else below the previous one). Slower than
    `_fast_cells`; used only for sheets written in other forms. Refuses XML that isn't well formed."""
    state = {"row": 0, "column": 0, "last_row": 0, "last_column": 0}

    def start(name, attributes):
        local = name.rpartition(":")[2]
        if local == "row" and "r" in attributes:
            state["row"] = _reference(attributes["r"], column_required=False)[0] - 1
        elif local == "c":
            if "r" in attributes:
                row, column = _reference(attributes["r"])
                row, state["column"] = row - 1, column - 1
            else:
                row = state["row"]
            state["last_row"] = max(state["last_row"], row + 1)
            state["last_column"] = max(state["last_column"], state["column"] + 1)
            state["column"] += 1

    def end(name):
        if name.rpartition(":")[2] == "row":
            state["row"] += 1
            state["column"] = 0

    def refuse_entities(*_args):
        raise FileRejected(DAMAGED)

    parser = expat.ParserCreate()
    parser.StartElementHandler, parser.EndElementHandler = start, end
    parser.EntityDeclHandler = refuse_entities  # no DTD tricks (billion laughs)
    try:
        for chunk in chunks:
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except expat.ExpatError as exc:
        raise FileRejected(DAMAGED) from exc
    return state["last_row"] * state["last_column"]


_REFERENCE = re.compile(r"([A-Za-z]*)([0-9]+)")


def _reference(text: str, *, column_required: bool = True) -> tuple[int, int]:
    """(row, column), both from 1, of a reference such as "B12"."""
    match = _REFERENCE.fullmatch(text)
    if match is None or int(match.group(2)) < 1 or (column_required and not match.group(1)):
        raise FileRejected(DAMAGED)  # calamine refuses these too (or wraps row 0 round to the last)
    return int(match.group(2)), _column_number(match.group(1).upper().encode())


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + letter - 64
    return number


# --- XLS ----------------------------------------------------------------------------------------

_FREE_SECTORS = 0xFFFFFFFA  # ids from here up are markers (end of chain, free, FAT, DIFAT)
_END_OF_CHAIN = 0xFFFFFFFE
# BIFF records that place a cell at (row, column), the two u16 they start with.
_CELL_RECORDS = {0x0006, 0x00FD, 0x0203, 0x0204, 0x0205, 0x027E}
_FORMULA, _MULRK, _DIMENSIONS, _BOUNDSHEET, _EOF = 0x0006, 0x00BD, 0x0200, 0x0085, 0x000A


def check_xls(path: str) -> None:
    """Refuse an .xls whose sheets would make calamine lay out (or reserve) too many cells."""
    try:
        with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            streams = _workbook_streams(data)
        if not streams:
            raise FileRejected(DAMAGED)
        for stream in streams:
            cells = _biff_cells(stream)
            if cells > MAX_SHEET_CELLS:
                raise too_many_cells(cells)
    except (struct.error, IndexError, ValueError, OSError) as exc:
        raise FileRejected(DAMAGED) from exc


def _workbook_streams(data) -> list[bytes]:
    """The "Workbook" (BIFF8) or "Book" (BIFF5) streams of an OLE2 compound file."""
    sector_shift, mini_shift = struct.unpack_from("<HH", data, 30)
    if sector_shift not in (9, 12) or mini_shift != 6:
        raise FileRejected(DAMAGED)
    size = 1 << sector_shift
    sectors = (len(data) + size - 1) // size - 1  # sector n starts at (n + 1) x size
    first_directory, first_minifat, first_difat = struct.unpack_from("<I8xI4xI", data, 48)

    def sector(number: int) -> bytes:
        if number >= sectors:
            raise FileRejected(DAMAGED)
        start = (number + 1) * size
        return data[start : start + size].ljust(size, b"\0")

    def chain(first: int, table: list[int]) -> Iterator[int]:
        number, seen = first, 0
        while number != _END_OF_CHAIN:
            if number >= len(table) or seen > len(table):  # off the table, or a loop
                raise FileRejected(DAMAGED)
            yield number
            number, seen = table[number], seen + 1

    fat_sectors = [n for n in struct.unpack_from("<109I", data, 76) if n < _FREE_SECTORS]
    difat, seen = first_difat, 0
    while difat < _FREE_SECTORS:
        entries = struct.unpack(f"<{size // 4}I", sector(difat))
        fat_sectors += [n for n in entries[:-1] if n < _FREE_SECTORS]
        difat, seen = entries[-1], seen + 1
        if seen > sectors:
            raise FileRejected(DAMAGED)
    fat = [n for number in fat_sectors for n in struct.unpack(f"<{size // 4}I", sector(number))]

    def read(first: int, length: int | None = None) -> bytes:
        stream = b"".join(sector(number) for number in chain(first, fat))
        return stream if length is None else stream[:length]

    directory = read(first_directory)
    entries = []
    for offset in range(0, len(directory) - 127, 128):
        entry = directory[offset : offset + 128]
        name_length, kind = struct.unpack_from("<HB", entry, 64)
        name = entry[: max(name_length - 2, 0)].decode("utf-16-le", "replace")
        start, length = struct.unpack_from("<IQ" if size == 4096 else "<II", entry, 116)
        entries.append((name, kind, start, length))
    if not entries:
        raise FileRejected(DAMAGED)
    _root, _kind, mini_start, mini_length = entries[0]
    streams = []
    for name, kind, start, length in entries[1:]:
        if kind != 2 or name.lower() not in ("workbook", "book"):
            continue
        if length > len(data):
            raise FileRejected(DAMAGED)
        if length >= 4096:  # calamine's cut-off for the mini stream
            streams.append(read(start, length))
            continue
        mini_stream = read(mini_start, mini_length)
        minifat_bytes = read(first_minifat) if first_minifat < _FREE_SECTORS else b""
        minifat = list(struct.unpack(f"<{len(minifat_bytes) // 4}I", minifat_bytes))
        pieces = [mini_stream[number * 64 : number * 64 + 64] for number in chain(start, minifat)]
        streams.append(b"".join(pieces)[:length])
    return streams


def _biff_cells(stream: bytes) -> int:
    """Cells calamine lays out (or reserves) for all the sheets of a BIFF workbook stream."""
    positions = []
    for kind, body in _records(stream, 0):
        if kind == _BOUNDSHEET and len(body) >= 4:
            positions.append(struct.unpack_from("<I", body)[0])
        elif kind == _EOF:
            break
    total = 0
    # Every sheet, as calamine loads each one when it opens the file (twice if listed twice).
    for position in positions:
        reserved, values, formulas = 1, [0, 0], [0, 0]  # [last row, last column]
        for kind, body in _records(stream, position):
            if kind in _CELL_RECORDS and len(body) >= 4:
                row, column = struct.unpack_from("<HH", body)
                _extend(values, row, column)
                if kind == _FORMULA:  # formulas get a grid of their own
                    _extend(formulas, row, column)
            elif kind == _MULRK and len(body) >= 6:
                row, first = struct.unpack_from("<HH", body)
                _extend(values, row, first + (len(body) - 6) // 6 - 1)
            elif kind == _DIMENSIONS:
                reserved = max(reserved, _dimensions(body))
            elif kind == _EOF:
                break
        total += max(reserved, values[0] * values[1]) + formulas[0] * formulas[1]
    return total


def _extend(last: list[int], row: int, column: int) -> None:
    last[0], last[1] = max(last[0], row + 1), max(last[1], column + 1)


def _records(stream: bytes, offset: int) -> Iterator[tuple[int, bytes]]:
    while offset + 4 <= len(stream):
        kind, length = struct.unpack_from("<HH", stream, offset)
        yield kind, stream[offset + 4 : offset + 4 + length]
        offset += 4 + length


def _dimensions(body: bytes) -> int:
    """Cells calamine reserves for a DIMENSIONS record: its arithmetic, wrapping as its u32 does."""
    if len(body) == 10:
        first_row, last_row, first_column, last_column = struct.unpack_from("<4H", body)
    elif len(body) == 14:
        first_row, last_row, first_column, last_column = struct.unpack_from("<IIHH", body)
    else:
        return 0  # calamine refuses the file
    if last_row < 1 or last_column < 1:
        return 1
    return ((last_row - first_row) % 2**32) * ((last_column - first_column) % 2**32)
