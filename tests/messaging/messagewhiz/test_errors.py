"""Every failure comes back as a typed MessageWhizError carrying what the provider said."""

import pytest

from messaging.messagewhiz.client import MessageWhizClient
from messaging.messagewhiz.errors import (
    AuthenticationError,
    ConflictError,
    ForbiddenError,
    MessageWhizError,
    NotFoundError,
    ResultError,
    ServerError,
    TransportError,
    ValidationError,
)
from tests.conftest import free_port


def test_v3_validation_error(client):
    with pytest.raises(ValidationError) as caught:
        client.campaign_create(name="")
    error = caught.value
    assert error.status == 400
    assert error.error_code == 400
    assert error.permanent is True
    assert any("name" in message for message in error.validation)


def test_nest_validation_error_lists_every_message(client):
    with pytest.raises(ValidationError) as caught:
        client.fast_single_send(to="12", sender="a" * 30, text="")
    error = caught.value
    assert error.status == 400
    assert error.error_type == "Bad Request"
    assert "text should not be empty" in error.validation
    assert any("recipient number entered is invalid" in message for message in error.validation)
    assert any(message.startswith("Sender must not exceed 11 letters") for message in error.validation)


def test_wrong_key(sandbox):
    with MessageWhizClient(sandbox.url, "not-the-key") as wrong:
        with pytest.raises(AuthenticationError) as v3:
            wrong.campaign_list()
        with pytest.raises(AuthenticationError) as nest:
            wrong.fast_single_send(to="2605876689", sender="sender", text="hi")
    assert v3.value.status == nest.value.status == 401
    assert v3.value.permanent is True
    assert "not-the-key" not in str(v3.value) + str(nest.value)


def test_unknown_id(client):
    with pytest.raises(NotFoundError) as caught:
        client.campaign_update(999, name="nope")
    assert caught.value.status == 404
    assert caught.value.permanent is True


def test_duplicate_is_a_conflict(client):
    client.sender_create(name="FirstSender")
    with pytest.raises(ConflictError) as caught:
        client.sender_create(name="FirstSender")
    assert caught.value.status == 409


def test_forbidden(stub):
    # The sandbox has no disabled users, so a 403 comes from the scripted server.
    stub.script = [{"status": 403, "json": {"errorCode": 403, "errorMessage": "User is disabled",
                                            "errorType": "Forbidden", "result": None}}]
    with MessageWhizClient(stub.url, "k") as mw, pytest.raises(ForbiddenError) as caught:
        mw.sender_create(name="x")
    assert caught.value.status == caught.value.error_code == 403
    assert caught.value.error_message == "User is disabled"
    assert caught.value.error_type == "Forbidden"
    assert caught.value.permanent is True


def test_error_code_inside_a_200(stub):
    stub.script = [{"json": {"errorCode": 7, "errorMessage": "Campaign is disabled", "errorType": "Error",
                             "result": None}}]
    with MessageWhizClient(stub.url, "k") as mw, pytest.raises(ResultError) as caught:
        mw.campaign_list()
    assert caught.value.status == 200
    assert caught.value.error_code == 7
    assert caught.value.error_message == "Campaign is disabled"


def test_non_json_5xx(stub, sleeps):
    page = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    stub.script = [{"status": 502, "body": page}] * 3
    mw = MessageWhizClient(stub.url, "k", max_retries=2, sleep=sleeps.append)
    with pytest.raises(ServerError) as caught:
        mw.campaign_list()
    assert caught.value.status == 502
    assert caught.value.permanent is False
    assert "502 Bad Gateway" in str(caught.value)
    assert len(stub.seen) == 3


def test_non_json_success_is_an_error(stub):
    stub.script = [{"status": 200, "body": "<html>maintenance</html>"}]
    with MessageWhizClient(stub.url, "k") as mw, pytest.raises(MessageWhizError):
        mw.campaign_list()


def test_unreachable(sleeps):
    mw = MessageWhizClient(f"http://127.0.0.1:{free_port()}", "k", max_retries=1, sleep=sleeps.append)
    with pytest.raises(TransportError) as caught:
        mw.campaign_list()
    assert caught.value.permanent is False
