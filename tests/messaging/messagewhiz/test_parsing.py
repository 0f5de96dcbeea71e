"""Lenient reading of the many shapes the reference shows for one field."""

from datetime import UTC, date, datetime

import pytest

from messaging.messagewhiz.parsing import (
    api_datetime,
    api_plain_datetime,
    id_string,
    normalise,
    to_bool,
    to_datetime,
    to_phone,
)


@pytest.mark.parametrize("raw", [True, 1, "1", "true", "True"])
def test_enabled_true_in_every_documented_form(raw):
    assert to_bool(raw) is True


@pytest.mark.parametrize("raw", [False, 0, "0", "false"])
def test_enabled_false_in_every_documented_form(raw):
    assert to_bool(raw) is False


@pytest.mark.parametrize("raw", [6593333311, "6593333311", "+65 9333-3311", 6593333311.0])
def test_phone_numbers_become_digit_strings(raw):
    assert to_phone(raw) == "6593333311"


def test_dates_become_aware_datetimes():
    assert to_datetime("2020-07-22T21:00:00.000Z") == datetime(2020, 7, 22, 21, tzinfo=UTC)
    assert to_datetime("2021-06-25 14:02:50") == datetime(2021, 6, 25, 14, 2, 50, tzinfo=UTC)
    assert to_datetime(1629461739834) == datetime(2021, 8, 20, 12, 15, 39, 834000, tzinfo=UTC)
    assert to_datetime(None) is None
    assert to_datetime("") is None
    assert to_datetime("next tuesday") == "next tuesday"  # kept, not guessed at


def test_normalise_walks_the_documented_shapes():
    raw = {
        "id": "46279",
        "is_default": 0,
        "enabled": "1",
        "start_date": "2020-07-22T21:00:00.000Z",
        "end_date": None,
        "userList": [{"campaign_id": "46279", "user_id": 3191, "company_id": None}],
        "recipients": [{"phone_number": 6593333311, "first_name": "Anthony"}],
        "broadcastConversion": {"recipientCount": "8", "conversion": "0.00", "broadcastId": "200"},
        "message_id": "1234",  # a string id, even when it looks numeric
        "_id": "611f9cdf8d0a4976d8d8462aaaac",
        "recipient_cap": "no limit",
    }
    assert normalise(raw) == {
        "id": 46279,
        "is_default": False,
        "enabled": True,
        "start_date": datetime(2020, 7, 22, 21, tzinfo=UTC),
        "end_date": None,
        "userList": [{"campaign_id": 46279, "user_id": 3191, "company_id": None}],
        "recipients": [{"phone_number": "6593333311", "first_name": "Anthony"}],
        "broadcastConversion": {"recipientCount": 8, "conversion": 0.0, "broadcastId": 200},
        "message_id": "1234",
        "_id": "611f9cdf8d0a4976d8d8462aaaac",
        "recipient_cap": "no limit",
    }


def test_writers():
    assert api_datetime(datetime(2020, 7, 22, 21, tzinfo=UTC)) == "2020-07-22T21:00:00.000Z"
    assert api_datetime(date(2020, 7, 22)) == "2020-07-22T00:00:00.000Z"
    assert api_datetime("2020-07-22T21:00:00.000Z") == "2020-07-22T21:00:00.000Z"
    assert api_plain_datetime(datetime(2021, 9, 25, 13, 55, 58, tzinfo=UTC)) == "2021-09-25 13:55:58"
    assert id_string([12, "13"]) == "12,13"
    assert id_string(23) == "23"
    assert id_string("1,2") == "1,2"
