"""POST /sms: the NestJS-style fast single, its validation messages and message ids."""

import re

import pytest

TEXT_MESSAGES = [
    "text must be shorter than or equal to 100000 characters",
    "text must be longer than or equal to 1 characters",
    "text should not be empty",
]
TO_MESSAGE = (
    "The recipient number entered is invalid. Please ensure that the number is between 10 and 15 digits in length."
)
FROM_MESSAGE = (
    "Sender must not exceed 11 letters (latin alphabet or special symbols “'._-+&{space}” are allowed) or 20 numbers."
)
VALID = {"to": "2605876689", "from": "sender", "text": "sample message"}


def send(api, body, key="body"):
    if key == "body":
        return api.request("POST", "/sms", key=None, json={"api_key": api.key, **body})
    return api.request("POST", "/sms", json=body)


def test_returns_a_nanoid_message_id(api, sandbox):
    response = send(api, VALID)
    assert response.status_code == 201
    [message_id] = response.json().values()
    assert list(response.json()) == ["message_id"] and re.fullmatch(r"[A-Za-z0-9_-]{21}", message_id)
    [message] = sandbox.state("messages")
    assert (message["message_id"], message["recipient"], message["sender"]) == (
        message_id,
        "2605876689",
        "sender",
    )


def test_the_apikey_header_is_not_a_credential_here(api):
    # /sms documents only `api_key` in the body
    response = send(api, VALID, key="header")
    assert response.status_code == 401 and response.json() == {"statusCode": 401, "message": "Unauthorized"}


@pytest.mark.parametrize("missing,messages", [("text", TEXT_MESSAGES), ("to", [TO_MESSAGE]), ("from", [FROM_MESSAGE])])
def test_documented_validation_errors(api, missing, messages):
    body = {k: v for k, v in VALID.items() if k != missing}
    response = send(api, body)
    assert response.status_code == 400
    assert response.json() == {"statusCode": 400, "message": messages, "error": "Bad Request"}


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("to", "123456789", TO_MESSAGE),
        ("to", "1234567890123456", TO_MESSAGE),
        ("from", "TwelveLetter", FROM_MESSAGE),
        ("client_ref", "x" * 161, "client_ref must be shorter than or equal to 160 characters"),
        ("callback", "not-a-url", "callback must be a URL address"),
        ("text", "", "text must be longer than or equal to 1 characters"),
    ],
)
def test_field_rules(api, field, value, message):
    response = send(api, {**VALID, field: value})
    assert response.status_code == 400 and message in response.json()["message"]


def test_optional_fields_are_accepted(api, sandbox):
    response = send(api, {**VALID, "to": 2605876689, "client_ref": "x" * 160, "callback": "http://127.0.0.1:9/dlr"})
    assert response.status_code == 201
    assert sandbox.state("messages")[0]["client_ref"] == "x" * 160
    assert sandbox.state("broadcasts")[0]["source"] == "sms"


def test_long_and_unicode_texts_are_split_into_parts(api, sandbox):
    send(api, {**VALID, "text": "a" * 161})
    send(api, {**VALID, "text": "Привет " * 11})
    gsm, ucs2 = sorted(sandbox.state("messages"), key=lambda m: m["encoding"])
    assert (gsm["encoding"], gsm["parts_count"], len(gsm["parts"][0]["content"])) == (0, 2, 153)
    assert (ucs2["encoding"], ucs2["parts_count"]) == (8, 2)
