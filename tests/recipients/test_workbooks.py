"""Tiny workbooks that would make calamine lay out billions of cells are refused before it opens them.

Each of these files is a few KB; without the checks, opening it aborts the whole process (a failed
allocation in calamine is not a Python exception), in the web request and in the worker alike.
"""

import struct
import time
import zipfile
import zlib

import pytest

from recipients import workbooks
from recipients.errors import FileRejected
from recipients.readers import open_table

from .workbook_files import MAIN, dimensions, inline, label, number, record, xls, xlsx

NOISE = "".join(f"{i:07x}" for i in range(200_000))  # text that doesn't compress away
HEADER_AND_ONE = '<row r="1">' + inline("A1", "phone") + '</row><row r="2"><c r="A2"><v>380501234567</v></c></row>'


def refused(path) -> str:
    started = time.monotonic()
    with pytest.raises(FileRejected) as caught:
        table = open_table(path)
        list(table.rows())
    assert time.monotonic() - started < 5
    return caught.value.message


def rows(path, **kwargs):
    return [row for _number, row in open_table(path, **kwargs).rows()]


def test_hand_written_files_are_read(tmp_path):
    assert rows(xlsx(tmp_path / "a.xlsx", HEADER_AND_ONE)) == [["phone"], ["380501234567"]]
    records = label(0, 0, "phone") + number(1, 0, 380501234567)
    assert rows(xls(tmp_path / "a.xls", records)) == [["phone"], ["380501234567"]]
    # A Workbook stream under 4 KB lives in the compound file's mini stream.
    assert rows(xls(tmp_path / "mini.xls", records, pad_to=0)) == [["phone"], ["380501234567"]]


def test_xlsx_with_a_cell_at_the_far_corner(tmp_path):
    path = xlsx(tmp_path / "corner.xlsx", HEADER_AND_ONE + '<row r="1048576">' + inline("XFD1048576", "x") + "</row>")
    assert path.stat().st_size < 3000
    assert refused(path) == (
        "The workbook spans 17,179,869,184 cells (from its first to its last used row and column); up to "
        "2,500,000 can be read. Delete stray cells far from the data, or save it as CSV."
    )


@pytest.mark.parametrize(
    "cell",
    [
        '<c r="xfd1048576" t="inlineStr"><is><t>x</t></is></c>',  # lower case: calamine reads it alike
        '<c t="inlineStr" r="XFD1048576"><is><t>x</t></is></c>',  # r not first
        '<c\tr="XFD1048576" t="inlineStr"><is><t>x</t></is></c>',  # a tab
        "<c r='XFD1048576' t=\"inlineStr\"><is><t>x</t></is></c>",  # single quotes
        '<c r="XFD01048576" t="inlineStr"><is><t>x</t></is></c>',  # a leading zero
    ],
)
def test_far_cells_spelled_unusually_are_found(tmp_path, cell):
    path = xlsx(tmp_path / "odd.xlsx", HEADER_AND_ONE + f'<row r="1048576">{cell}</row>')
    assert "up to 2,500,000 can be read" in refused(path)


def test_far_cell_with_a_namespace_prefix(tmp_path):
    path = xlsx(tmp_path / "prefix.xlsx", "", extra={"xl/worksheets/sheet1.xml": (
        '<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><x:sheetData>'
        '<x:row r="1"><x:c r="A1"><x:v>1</x:v></x:c><x:c r="XFD1048576"><x:v>2</x:v></x:c></x:row>'
        "</x:sheetData></x:worksheet>")})
    assert "up to 2,500,000 can be read" in refused(path)


def test_cells_without_references_are_placed_as_calamine_places_them(tmp_path):
    # No r attributes: each cell goes next to the previous one, each row below the previous one.
    wide = "<row>" + "<c><v>1</v></c>" * 3000 + "</row>"
    path = xlsx(tmp_path / "implicit.xlsx", '<row r="1000">' + "<c><v>1</v></c></row>" + wide)
    assert "spans 3,003,000 cells" in refused(path)
    fine = xlsx(tmp_path / "fine.xlsx", "<row>" + inline("", "phone").replace(' r=""', "") + "</row>"
                "<row><c><v>380501234567</v></c><c t=\"inlineStr\"><is><t>Ann</t></is></c></row>")
    assert rows(fine) == [["phone", ""], ["380501234567", "Ann"]]


def test_far_cell_hidden_across_the_scanners_chunk_boundary(tmp_path):
    far = '<row r="1048576">' + inline("XFD1048576", "x") + "</row>"
    prefix = f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{MAIN}"><sheetData>'
    # Pad with a comment so that the far cell's "<" is the last byte of the first MiB the scan reads.
    padding = 1024 * 1024 - len(prefix) - len('<row r="1048576">') - 1
    sheet = prefix + "<!--" + NOISE[: padding - 7] + "-->" + far + "</sheetData></worksheet>"
    path = xlsx(tmp_path / "boundary.xlsx", "", extra={"xl/worksheets/sheet1.xml": sheet})
    assert "up to 2,500,000 can be read" in refused(path)


def test_sheet_stored_away_from_xl_worksheets(tmp_path):
    path = xlsx(tmp_path / "elsewhere.xlsx", HEADER_AND_ONE + "<row>" + inline("XFD1048576", "x") + "</row>",
                sheet_path="xl/media/image1.xml")
    assert "up to 2,500,000 can be read" in refused(path)


def test_entity_declarations_are_refused(tmp_path):
    laughs = ('<?xml version="1.0"?><!DOCTYPE w [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;">]>'
              '<worksheet><sheetData><row><c t="inlineStr"><is><t>&b;</t></is></c></row></sheetData></worksheet>')
    path = xlsx(tmp_path / "laughs.xlsx", "", extra={"xl/worksheets/sheet1.xml": laughs})
    assert refused(path) == "The workbook is damaged and can't be read."


def test_a_sheet_just_within_the_budget_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(workbooks, "MAX_SHEET_CELLS", 9)
    path = xlsx(tmp_path / "nine.xlsx", HEADER_AND_ONE + '<row r="3"><c r="C3"><v>1</v></c></row>')
    assert rows(path)[-1] == ["", "", "1"]
    monkeypatch.setattr(workbooks, "MAX_SHEET_CELLS", 8)
    assert "spans 9 cells" in refused(path)


def test_upload_named_ods_is_still_read_as_the_xlsx_it_is(tmp_path):
    # calamine chooses its reader by the name's extension; the checks above only follow xlsx.
    path = xlsx(tmp_path / "contacts.ods", HEADER_AND_ONE)
    assert rows(path) == [["phone"], ["380501234567"]]


def patch_member(path, name, **fields):
    """Overwrite a member's crc / compressed / size in its local header and central directory entry."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        local = archive.getinfo(name).header_offset
    entry = struct.unpack_from("<I", data, data.rfind(b"PK\x05\x06") + 16)[0]
    while data[entry + 46 : entry + 46 + struct.unpack_from("<H", data, entry + 28)[0]] != name.encode():
        entry += 46 + sum(struct.unpack_from("<3H", data, entry + 28))
    for field, value in fields.items():
        offset = {"crc": 14, "compressed": 18, "size": 22}[field]
        for at in (local + offset, entry + offset + 2):
            data[at : at + 4] = struct.pack("<I", value)
    path.write_bytes(bytes(data))


def test_member_that_inflates_beyond_its_declared_size_though_its_crc_matches(tmp_path):
    path = xlsx(tmp_path / "liar.xlsx", HEADER_AND_ONE, extra={"xl/styles.xml": b"s" * 100_000})
    # Declare 1,000 bytes with the CRC of those 1,000: zipfile reads them and is satisfied.
    patch_member(path, "xl/styles.xml", crc=zlib.crc32(b"s" * 1000), size=1000)
    with zipfile.ZipFile(path) as archive:
        assert archive.read("xl/styles.xml") == b"s" * 1000
    assert "looks like a zip bomb" in refused(path)


def test_member_whose_deflate_stream_is_cut_short(tmp_path):
    path = xlsx(tmp_path / "cut.xlsx", HEADER_AND_ONE, extra={"xl/styles.xml": bytes(range(256)) * 400})
    with zipfile.ZipFile(path) as archive:
        compressed = archive.getinfo("xl/styles.xml").compress_size
    patch_member(path, "xl/styles.xml", compressed=compressed // 2)
    assert refused(path) == "The workbook is damaged and can't be read."


def test_cell_over_a_megabyte_is_refused_naming_it(tmp_path):
    big = NOISE[:1_120_000]
    path = xlsx(tmp_path / "big.xlsx", HEADER_AND_ONE + '<row r="3">' + inline("B3", big) + "</row>")
    assert refused(path) == (
        "Row 3, column B holds 1,120,000 characters; a cell may hold up to 1,048,576 "
        "(no field of a list takes more than 5,000)."
    )


def test_xls_with_a_cell_at_the_far_corner(tmp_path):
    path = xls(tmp_path / "corner.xls", label(0, 0, "phone") + label(65535, 255, "x"))
    assert path.stat().st_size < 6000
    assert "spans 16,777,216 cells" in refused(path)


def test_xls_with_a_cell_beyond_excels_columns(tmp_path):
    path = xls(tmp_path / "wide.xls", label(0, 0, "p") + number(65535, 65535, 1))
    assert "spans 4,294,967,296 cells" in refused(path)


def test_xls_with_a_forged_dimensions_record(tmp_path):
    path = xls(tmp_path / "dims.xls", dimensions(0, 0xFFFFFFF0, 0, 0xFFF0) + label(0, 0, "phone"))
    assert "up to 2,500,000 can be read" in refused(path)


def test_xls_mulrk_run_counts_every_cell_it_holds(tmp_path, monkeypatch):
    run = record(0x00BD, struct.pack("<HH", 9, 0) + b"\0" * 6 * 100 + struct.pack("<H", 99))  # J1:J100
    path = xls(tmp_path / "mulrk.xls", label(0, 0, "p") + run)
    monkeypatch.setattr(workbooks, "MAX_SHEET_CELLS", 1000)
    assert len(rows(path)) == 10
    monkeypatch.setattr(workbooks, "MAX_SHEET_CELLS", 999)
    assert "spans 1,000 cells" in refused(path)


def test_damaged_compound_file(tmp_path):
    path = xls(tmp_path / "loop.xls", label(0, 0, "phone"))
    data = bytearray(path.read_bytes())
    data[512 + 4 * 3 : 512 + 4 * 4] = struct.pack("<I", 2)  # the stream's chain loops back
    path.write_bytes(bytes(data))
    assert "damaged" in refused(path)


def test_binary_parts_that_happen_to_hold_cell_like_bytes_are_left_alone(tmp_path):
    image = (b"\x89PNG\r\n\x1a\n" + b"<c\n<c/><c r='XFD1048576'>\x00\xff" * 1000)
    path = xlsx(tmp_path / "logo.xlsx", HEADER_AND_ONE, extra={"xl/media/image1.png": image})
    assert rows(path) == [["phone"], ["380501234567"]]
