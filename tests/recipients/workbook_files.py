"""Spreadsheet files written byte by byte, to say exactly where each cell sits (however far away).

`xlsx(path, sheet_data)` is a minimal workbook whose one sheet holds the given <sheetData> XML;
`xls(path, sheet_records)` an OLE2 compound file with a BIFF8 Workbook stream.
"""

import struct
import zipfile

_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_OFFICE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def xlsx(path, sheet_data: str, *, sheet_path: str = "xl/worksheets/sheet1.xml", extra: dict | None = None):
    parts = {
        "[Content_Types].xml": (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/></Types>'
        ),
        "_rels/.rels": f'<Relationships xmlns="{_RELS}"><Relationship Id="rId1" '
                       f'Type="{_OFFICE}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<workbook xmlns="{MAIN}" xmlns:r="{_OFFICE}"><sheets>'
                           '<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="{_RELS}"><Relationship Id="rId1" '
                                      f'Type="{_OFFICE}/worksheet" Target="/{sheet_path}"/></Relationships>',
        sheet_path: f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{MAIN}">'
                    f"<sheetData>{sheet_data}</sheetData></worksheet>",
        **(extra or {}),
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text.encode() if isinstance(text, str) else text)
    return path


def inline(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


# --- XLS ----------------------------------------------------------------------------------------


def record(kind: int, body: bytes) -> bytes:
    return struct.pack("<HH", kind, len(body)) + body


def label(row: int, column: int, text: str) -> bytes:
    data = text.encode("latin-1")
    return record(0x0204, struct.pack("<HHHHB", row, column, 0, len(data), 0) + data)


def number(row: int, column: int, value: float) -> bytes:
    return record(0x0203, struct.pack("<HHHd", row, column, 0, value))


def dimensions(first_row: int, last_row: int, first_column: int, last_column: int) -> bytes:
    return record(0x0200, struct.pack("<IIHHH", first_row, last_row, first_column, last_column, 0))


def xls(path, sheet_records: bytes, *, pad_to: int = 4096):
    """One sheet "Sheet1"; the stream is padded to `pad_to` bytes (under 4096: the mini stream)."""
    bof = {kind: record(0x0809, struct.pack("<HHHHII", 0x0600, kind, 0, 0, 0, 0)) for kind in (0x5, 0x10)}
    name = b"Sheet1"
    sheet_at = len(bof[0x5]) + 4 + 8 + len(name) + 4
    stream = (bof[0x5] + record(0x0085, struct.pack("<IBBBB", sheet_at, 0, 0, len(name), 0) + name)
              + record(0x000A, b"") + bof[0x10] + sheet_records + record(0x000A, b""))
    stream += b"\0" * max(pad_to - len(stream), 0)
    end, free = 0xFFFFFFFE, 0xFFFFFFFF
    if len(stream) >= 4096:  # FAT, directory, then the stream in regular sectors
        sectors = _sectors(stream)
        fat = [0xFFFFFFFD, end, *_chain(2, len(sectors))]
        minifat_start, workbook_start, root = end, 2, (end, 0)
        body = sectors
    else:  # FAT, directory, mini FAT, then the mini stream holding the Workbook stream
        mini = -(-len(stream) // 64)
        container = _sectors(stream.ljust(mini * 64, b"\0"))
        fat = [0xFFFFFFFD, end, end, *_chain(3, len(container))]
        minifat = _chain(0, mini) + [free] * (128 - mini)
        minifat_start, workbook_start, root = 2, 0, (3, mini * 64)
        body = [struct.pack("<128I", *minifat), *container]
    fat += [free] * (128 - len(fat))
    header = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 16
              + struct.pack("<HHHHH6xIIIIIIIII", 0x3E, 3, 0xFFFE, 9, 6, 0, 1, 1, 0, 4096, minifat_start,
                            1 if minifat_start != end else 0, end, 0)
              + struct.pack("<I", 0) + struct.pack("<I", free) * 108)
    directory = (_entry("Root Entry", 5, *root, child=1) + _entry("Workbook", 2, workbook_start, len(stream))
                 + b"\0" * 256)
    path.write_bytes(header + struct.pack("<128I", *fat) + directory + b"".join(body))
    return path


def _sectors(data: bytes) -> list[bytes]:
    data = data.ljust(-(-len(data) // 512) * 512, b"\0")
    return [data[i : i + 512] for i in range(0, len(data), 512)]


def _chain(first: int, count: int) -> list[int]:
    return [first + i + 1 for i in range(count - 1)] + [0xFFFFFFFE]


def _entry(name: str, kind: int, start: int, size: int, child: int = 0xFFFFFFFF) -> bytes:
    encoded = (name + "\0").encode("utf-16-le")
    return (encoded.ljust(64, b"\0") + struct.pack("<HBB", len(encoded), kind, 1)
            + struct.pack("<III", 0xFFFFFFFF, 0xFFFFFFFF, child) + b"\0" * 36 + struct.pack("<III", start, size, 0))
