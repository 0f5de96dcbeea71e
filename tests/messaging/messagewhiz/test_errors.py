"""Every failure comes back as a typed MessageWhizError carrying what the provider said."""

import pytest

from messaging.messagewhiz.client import MessageWhizClient
from messaging.messagewhiz.errors import (
    AmbiguousServerError,
    AuthenticationError,
    ConflictError,
    ForbiddenError,
    MessageWhizError,
    NotFoundError,
    RedirectError,
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


def test_duplicate_is_a_conflict(client, sandbox):
    sandbox.faults(fail_next=[{"status": 409}])
    with pytest.raises(ConflictError) as caught:
        client.sender_create(name="FirstSender")
    assert caught.value.status == 409


def test_forbidden(client, sandbox):
    sandbox.faults(fail_next=[{"status": 403, "error_message": "User is disabled"}, {"status": 403}])
    with pytest.raises(ForbiddenError) as v3:
        client.sender_create(name="x")
    with pytest.raises(ForbiddenError) as nest:
        client.fast_single_send(to="2605876689", sender="sender", text="hi")
    assert v3.value.status == v3.value.error_code == 403
    assert v3.value.error_message == "User is disabled"
    assert v3.value.error_type == "Forbidden"
    assert v3.value.permanent is True
    assert nest.value.status == 403 and nest.value.permanent is True
    assert "disabled" in nest.value.error_message  # the reference's default text for a 403
    assert sandbox.state("senders") == []


def test_error_code_inside_a_200(client, sandbox):
    sandbox.faults(fail_next=[{"status": 200, "error_code": 7, "error_message": "Campaign is disabled"}])
    with pytest.raises(ResultError) as caught:
        client.campaign_list()
    assert caught.value.status == 200
    assert caught.value.error_code == 7
    assert caught.value.error_message == "Campaign is disabled"
    assert caught.value.permanent is True
    assert len(sandbox.requests(path="^/api/3/campaign$")) == 1  # a polite refusal is not retried


def test_error_code_inside_a_200_on_the_nest_send(client, sandbox):
    sandbox.faults(fail_next=[{"status": 200, "error_code": 409}])
    with pytest.raises(ResultError) as caught:
        client.fast_single_send(to="2605876689", sender="sender", text="hi")
    assert (caught.value.status, caught.value.error_code) == (200, 409)
    assert caught.value.error_type == "Duplicate entry"


def test_5xx_error_code_inside_a_200_to_a_send_is_ambiguous(client, sandbox):
    sandbox.faults(fail_next=[{"status": 200, "error_code": 500, "apply": True}])
    with pytest.raises(AmbiguousServerError) as caught:
        client.campaign_create(name="Maybe")
    assert caught.value.error_code == 500 and caught.value.permanent is True
    assert [c["name"] for c in sandbox.state("campaigns")] == ["Maybe"]


@pytest.mark.parametrize("status", [302, 307])
def test_redirect_is_an_error_and_the_key_never_leaves(stub, sandbox, status):
    # A server on another port answers with a redirect to the sandbox, which logs every request.
    stub.script = [{"status": status, "headers": {"Location": f"{sandbox.url}/sms?x=1"}}]
    with MessageWhizClient(stub.url, sandbox.api_key) as mw, pytest.raises(RedirectError) as caught:
        mw.fast_single_send(to="2605876689", sender="sender", text="hi")
    assert caught.value.status == status and caught.value.permanent is True
    assert f"redirected to {sandbox.url}/sms;" in str(caught.value)
    assert sandbox.requests() == []  # neither the apikey header nor the body's api_key reached it
    assert sandbox.state("messages") == []
    assert [seen["method"] for seen in stub.seen] == ["POST"]


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
