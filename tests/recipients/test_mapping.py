"""Mapping errors are caught before any work, with a message saying what to fix."""

import pytest

from recipients.errors import MappingError
from recipients.mapping import parse_mapping


def test_messagewhiz_mapping_as_json_or_dict():
    expected = {0: "phone_number", 1: "first_name"}
    assert parse_mapping('{"0":"phone_number", "1":"first_name"}', columns=2) == expected
    assert parse_mapping({"1": "first_name", "0": "phone_number", "2": "ignore", "3": ""}, columns=4) == expected


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"1": "first_name"}, "No column is mapped to phone_number"),
        ({}, "must name the phone column"),
        ({"0": "phone_number", "1": "phone_number"}, "Columns 0 and 1 are both mapped to phone_number"),
        ({"0": "phone_number", "1": "email", "2": "email"}, "both mapped to email"),
        ({"0": "phone_number", "5": "first_name"}, "Column 5 is mapped to first_name, but the file has only 3 columns"),
        ({"0": "phone_number", "1": "nickname"}, "Unknown marker 'nickname' for column 1"),
        ({"A": "phone_number"}, "'A' is not a column number"),
        ({"-1": "phone_number"}, "'-1' is not a column number"),
        ("not json", "not valid JSON"),
        ('["phone_number"]', "must name the phone column"),
    ],
)
def test_mapping_errors(mapping, message):
    with pytest.raises(MappingError, match=message):
        parse_mapping(mapping, columns=3)


def test_extra_custom_columns():
    mapping = {"0": "phone_number", "1": "custom", "2": "custom1", "3": "custom4"}
    assert parse_mapping(mapping, columns=4) == {0: "phone_number", 1: "custom", 2: "custom1", 3: "custom4"}
