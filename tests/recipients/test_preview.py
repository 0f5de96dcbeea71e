"""The preview: first rows, MessageWhiz's column flags over the whole file, a mapping guess."""

import pytest

from recipients.preview import preview_file


def test_preview_like_messagewhiz(write_csv):
    rows = [["phone_number", "first_name"]] + [[f"65933333{i:02d}", name] for i, name in
                                              enumerate(["Anthony", "Bob", "Jonathan", "Alex"])]
    preview = preview_file(write_csv(rows))
    assert preview.as_messagewhiz() == {
        "data": rows,
        "isAllNum": [True, False],
        "isExceedLength50": [False, False],
        "isExceedLength255": [False, False],
        "isExceedLength5000": [False, False],
    }
    assert preview.suggested_mapping == {"0": "phone_number", "1": "first_name"}
    assert (preview.columns, preview.rows) == (2, 5)


def test_length_flags_cover_rows_beyond_the_preview(write_csv):
    rows = [["phone", "name", "email", "notes"]]
    rows += [["380501234567", "Ann", "a@example.com", "short"]] * 20
    rows += [["380501234568", "N" * 51, "e" * 256, "x" * 5001]]
    preview = preview_file(write_csv(rows), rows=5)
    assert len(preview.data) == 5
    assert preview.exceeds_50 == [False, True, True, True]
    assert preview.exceeds_255 == [False, False, True, True]
    assert preview.exceeds_5000 == [False, False, False, True]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (["Mobile", "First Name", "Surname", "E-mail", "Link", "Custom"],
         {"0": "phone_number", "1": "first_name", "2": "last_name", "3": "email", "4": "url", "5": "custom"}),
        (["msisdn", "firstname", "last name"], {"0": "phone_number", "1": "first_name", "2": "last_name"}),
        (["tel", "name"], {"0": "phone_number", "1": "first_name"}),
        (["Phone number", "Email address"], {"0": "phone_number", "1": "email"}),
        (["Number", "custom1", "custom2"], {"0": "phone_number", "1": "custom1", "2": "custom2"}),
    ],
)
def test_suggested_mapping_from_header_names(write_csv, header, expected):
    path = write_csv([header, ["380501234567"] + ["x"] * (len(header) - 1)])
    assert preview_file(path).suggested_mapping == expected


def test_without_a_known_header_the_first_numeric_column_is_the_phone(write_csv):
    path = write_csv([
        ["Customer", "Contact", "City"], ["Anna", "+380 50 123 45 67", "Kyiv"], ["Bob", "380501234568", "Lviv"],
    ])
    preview = preview_file(path)
    assert preview.is_all_num == [False, True, False]
    assert preview.suggested_mapping == {"1": "phone_number"}


def test_no_header_row(write_csv):
    path = write_csv([["380501234567", "Anna"], ["380501234568", "Bob"]])
    preview = preview_file(path, has_header=False)
    assert preview.is_all_num == [True, False]
    assert preview.suggested_mapping == {"0": "phone_number"}


def test_spreadsheet_preview_lists_sheets(write_xlsx):
    path = write_xlsx({"Contacts": [["phone"], [380501234567]], "Archive": [["x"]]})
    preview = preview_file(path, sheet="Contacts")
    assert preview.sheet_names == ["Contacts", "Archive"]
    assert preview.data == [["phone"], ["380501234567"]]
    assert preview.is_all_num == [True]
