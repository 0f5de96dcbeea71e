"""Every error the reference documents, answered by the strict sandbox, becomes the right typed
error with the message a user is shown (`str(exc)` is what a broadcast's last error and an
object's sync error say).

The reference documents the error table (400, 401, 403, 404, 409, in the v3 envelope) and the fast
single's NestJS answers (400 with its three validation lists, 401 `Unauthorized`). The 403 and 409
cannot be provoked (no disabled company, no uniqueness rule), so they come from fault injection.
"""

import pytest

from messaging.messagewhiz.client import MessageWhizClient
from messaging.messagewhiz.errors import (
    AuthenticationError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    ResultError,
    ValidationError,
)
from tests.sandbox.test_fast_single import FROM_MESSAGE, TEXT_MESSAGES, TO_MESSAGE  # the reference's words


@pytest.fixture
def wrong_key(sandbox):
    with MessageWhizClient(sandbox.url, "not-the-key", timeout=(2, 5), max_retries=0) as client:
        yield client


def test_400_lists_every_validation_message(client):
    with pytest.raises(ValidationError) as caught:
        client.template_create(name="", body="")
    error = caught.value
    assert (error.status, error.error_code, error.error_type) == (400, 400, "Bad Request")
    # the v3 envelope carries one errorMessage string (the sandbox joins class-validator's list)
    assert error.validation == ["name should not be empty; body should not be empty"]
    assert str(error) == "POST /api/3/template: HTTP 400: name should not be empty; body should not be empty"
    assert error.permanent


def test_401_in_the_v3_envelope(wrong_key):
    with pytest.raises(AuthenticationError) as caught:
        wrong_key.campaign_list()
    error = caught.value
    assert (error.status, error.error_type) == (401, "Unauthorized")
    assert str(error) == "GET /api/3/campaign: HTTP 401: API key is missing or invalid"
    assert error.permanent


def test_403_forbidden(client, sandbox):
    sandbox.faults(fail_next=[{"status": 403}])
    with pytest.raises(ForbiddenError) as caught:
        client.campaign_create(name="x")
    error = caught.value
    assert (error.status, error.error_type) == (403, "Forbidden")
    assert str(error) == (
        "POST /api/3/campaign: HTTP 403: User/company is either disabled or doesn't have enough permissions"
    )
    assert sandbox.state("campaigns") == []


def test_404_entity_not_found(client):
    with pytest.raises(NotFoundError) as caught:
        client.campaign_update(999, name="x")
    error = caught.value
    assert (error.status, error.error_type) == (404, "Not found")
    assert str(error) == "PUT /api/3/campaign/999: HTTP 404: Campaign 999 not found"


def test_404_for_a_path_the_api_lacks_says_so(client):
    with pytest.raises(NotFoundError) as caught:
        client._call("GET", "/api/3/recipientList")  # the list is only documented as RecipientList
    assert str(caught.value) == "GET /api/3/recipientList: HTTP 404: Cannot GET /api/3/recipientList"


def test_409_duplicate_entry(client, sandbox):
    sandbox.faults(fail_next=[{"status": 409}])
    with pytest.raises(ConflictError) as caught:
        client.sender_create(name="FirstSender")
    error = caught.value
    assert (error.status, error.error_type) == (409, "Duplicate entry")
    assert str(error) == "POST /api/3/sender: HTTP 409: Duplicate entry"
    assert error.permanent


def test_errorcode_inside_a_200(client, sandbox):
    sandbox.faults(fail_next=[{"status": 200, "error_code": 7, "error_message": "Campaign is disabled"}])
    with pytest.raises(ResultError) as caught:
        client.campaign_list()
    assert caught.value.error_code == 7
    assert str(caught.value) == "GET /api/3/campaign: errorCode 7: Campaign is disabled"


@pytest.mark.parametrize(
    "missing,messages",
    [("text", TEXT_MESSAGES), ("to", [TO_MESSAGE]), ("from", [FROM_MESSAGE])],
)
def test_fast_single_validation_errors(client, sandbox, missing, messages):
    """The reference's three "without mandatory field" answers of POST /sms."""
    fields = {"to": "2605876689", "sender": "sender", "text": "sample message"}
    fields["sender" if missing == "from" else missing] = None  # left out of the request
    with pytest.raises(ValidationError) as caught:
        client.fast_single_send(**fields)
    error = caught.value
    assert (error.status, error.error_type, error.validation) == (400, "Bad Request", messages)
    assert str(error) == f"POST /sms: HTTP 400: {'; '.join(messages)}"
    assert sandbox.state("messages") == []


def test_fast_single_without_api_key(wrong_key):
    with pytest.raises(AuthenticationError) as caught:
        wrong_key.fast_single_send(to="2605876689", sender="sender", text="sample message")
    error = caught.value
    assert error.status == 401
    assert str(error) == "POST /sms: HTTP 401: Unauthorized"
