"""Every way a contact file arrives: encodings, delimiters, quoting, spreadsheets, cell types."""

import codecs
import datetime
from pathlib import Path

import pytest

from recipients.errors import FileRejected
from recipients.readers import open_table

FIXTURES = Path(__file__).parent / "fixtures"
ROWS = [["phone", "first name"], ["380501234567", "Émile"], ["380501234568", "Ольга"]]


def read(path, **kwargs):
    return [row for _number, row in open_table(path, **kwargs).rows()]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be"])
def test_unicode_encodings(write_csv, encoding, settings):
    path = write_csv(ROWS, encoding=encoding)
    assert read(path) == ROWS


def test_excel_unicode_text_is_utf16_with_tabs(tmp_path, settings):
    # What Excel's "Save as Unicode Text" writes: BOM, UTF-16 LE, tab-separated, CRLF.
    text = "phone\tfirst name\r\n380501234567\tÉmile\r\n"
    path = tmp_path / "export.txt"
    path.write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    table = open_table(path)
    assert (table.encoding, table.delimiter) == ("utf-16", "\t")
    assert read(path) == [["phone", "first name"], ["380501234567", "Émile"]]


def test_windows_1252_fallback(write_csv, settings):
    path = write_csv([["phone", "name"], ["380501234567", "Renée"], ["380501234568", "Zoë"]], encoding="cp1252")
    table = open_table(path)
    assert table.encoding == "cp1252"
    assert read(path)[1] == ["380501234567", "Renée"]


def test_windows_1251_from_ukrainian_excel(write_csv, settings):
    rows = [["Телефон", "Ім'я", "Прізвище"], ["380501234567", "Ольга", "Шевченко"], ["380501234568", "Євген", "Ґудзь"]]
    path = write_csv(rows, encoding="cp1251", delimiter=";")
    assert open_table(path).encoding == "cp1251"
    assert read(path) == rows


def test_western_names_with_accents_stay_windows_1252(write_csv, settings):
    rows = [["phone", "name"], ["380501234567", "Conceição"], ["380501234568", "Größe"], ["380501234569", "Müller"]]
    path = write_csv(rows, encoding="cp1252")
    assert open_table(path).encoding == "cp1252"
    assert read(path) == rows


def test_utf8_that_breaks_late_in_the_file_falls_back_to_1252(tmp_path, settings):
    # The first megabyte is plain ASCII; only the scan of the whole file reveals cp1252.
    lines = [f"3805012{i:05d},Name" for i in range(120_000)] + ["380509999999,Café"]
    path = tmp_path / "late.csv"
    path.write_bytes("\n".join(lines).encode("cp1252"))
    assert read(path)[-1] == ["380509999999", "Café"]


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_delimiter_is_detected(write_csv, delimiter, settings):
    rows = [["phone", "first name", "last name"], ["380501234567", "Anna", "Smith, Jr."]]
    path = write_csv(rows, delimiter=delimiter)
    table = open_table(path)
    assert table.delimiter == delimiter
    assert read(path) == rows


def test_quoted_fields_keep_delimiters_quotes_and_newlines(tmp_path, settings):
    path = tmp_path / "quoted.csv"
    path.write_text('phone;note\n380501234567;"a; b"\n380501234568;"line one\nline two ""quoted"""\n', "utf-8")
    assert read(path) == [
        ["phone", "note"], ["380501234567", "a; b"], ["380501234568", 'line one\nline two "quoted"'],
    ]


def test_old_mac_line_endings(tmp_path, settings):
    path = tmp_path / "mac.csv"
    path.write_bytes(b"phone,name\r380501234567,Anna\r380501234568,Bob\r")
    assert read(path) == [["phone", "name"], ["380501234567", "Anna"], ["380501234568", "Bob"]]


def test_single_column_file(tmp_path, settings):
    path = tmp_path / "numbers.csv"
    path.write_text("380501234567\n380501234568\n", "utf-8")
    assert read(path) == [["380501234567"], ["380501234568"]]


def test_row_numbers_count_blank_lines_like_a_spreadsheet(tmp_path, settings):
    path = tmp_path / "blank.csv"
    path.write_text("phone\n\n380501234567\n", "utf-8")
    assert [(number, row) for number, row in open_table(path).rows()] == [
        (1, ["phone"]), (2, []), (3, ["380501234567"]),
    ]


def test_xlsx_numeric_phones_come_back_as_exact_digits(write_xlsx, settings):
    path = write_xlsx([
        ["phone", "name", "joined", "score", "vip"],
        [380501234567, "Int", datetime.date(2024, 3, 1), 12.5, True],
        [380501234568.0, "Float", datetime.datetime(2024, 3, 1, 14, 30), 0.1, False],
        [123456789012345, "15 digits", datetime.datetime(2024, 3, 2), 1e-7, None],
    ])
    assert read(path) == [
        ["phone", "name", "joined", "score", "vip"],
        ["380501234567", "Int", "2024-03-01", "12.5", "TRUE"],
        ["380501234568", "Float", "2024-03-01 14:30:00", "0.1", "FALSE"],
        ["123456789012345", "15 digits", "2024-03-02", "0.0000001", ""],
    ]


def test_xlsx_sheets_by_index_and_name(write_xlsx, settings):
    path = write_xlsx({"First": [["a"], ["1"]], "Second": [["msisdn"], [447400123456]]})
    table = open_table(path)
    assert table.sheet_names == ["First", "Second"]
    assert read(path, sheet=1) == [["msisdn"], ["447400123456"]]
    assert read(path, sheet="1") == [["msisdn"], ["447400123456"]]
    assert read(path, sheet="Second") == [["msisdn"], ["447400123456"]]


def test_unknown_sheet_is_refused_naming_the_sheets(write_xlsx, settings):
    path = write_xlsx({"First": [["a"]], "Second": [["b"]]})
    with pytest.raises(FileRejected, match="no sheet 'Third'; its sheets are: First, Second"):
        open_table(path, sheet="Third")
    with pytest.raises(FileRejected, match="no sheet 5"):
        open_table(path, sheet=5)


def test_xlsx_columns_keep_their_letters_when_column_a_is_empty(tmp_path, settings):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet["B2"] = "phone"
    sheet["B3"] = 380501234567
    path = tmp_path / "offset.xlsx"
    workbook.save(path)
    assert list(open_table(path).rows()) == [(1, ["", ""]), (2, ["", "phone"]), (3, ["", "380501234567"])]


def test_xls_file(settings):
    # contacts.xls was written with xlwt 1.3.0 (BIFF8): numbers stored as doubles, a date cell.
    table = open_table(FIXTURES / "contacts.xls")
    assert table.kind == "xls"
    assert table.sheet_names == ["Contacts", "Other"]
    assert read(FIXTURES / "contacts.xls") == [
        ["phone", "first name", "last name", "joined"],
        ["380501234567", "Olena", "Kovalenko", "2024-03-01"],
        ["+380 50 123 45 68", "José", "Петренко", "2024-03-02"],
        ["380501234569", "Zoë", "Smith", "2024-03-03"],
    ]
    assert read(FIXTURES / "contacts.xls", sheet="Other") == [["msisdn"], ["447400123456"]]


def test_content_decides_the_format_not_the_name(write_xlsx, tmp_path, settings):
    xlsx = write_xlsx([["phone"], [380501234567]], name="really-a-workbook.csv")
    assert open_table(xlsx).kind == "xlsx"
    text = tmp_path / "really-text.xls"
    text.write_text("phone\n380501234567\n", "utf-8")
    assert open_table(text).kind == "csv"


def test_float_cells_read_as_before():
    """The float fast path of _cell_text (every Excel number) equals the general conversion."""
    from recipients.readers import _cell_text, _float_text

    for value in (380501234567.0, -0.0, 0.0, 1e20, 1.5, 0.1, 12345678901234567.0, 1e-7, float("nan"),
                  float("inf"), float("-inf"), -447400123456.0, 2.5e15):
        assert _cell_text(value) == _float_text(value)
    assert _cell_text(380501234567.0) == "380501234567"
