"""Deeply nested or unparseable JSON, wherever we read it: a 400 with a reason for what others send
us, and "unknown" (never "failed") for a provider's 2xx answer we cannot read."""

import json

import pytest
from django.urls import reverse

from campaigns.models import Message
from campaigns.tasks import submit_broadcast
from messaging import safejson
from messaging.models import ApiToken, GenericProviderConfig

NESTED = "[" * 100_000
NESTED_OBJECT = '{"a":' * 5_000 + "1" + "}" * 5_000

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("text", [NESTED, NESTED_OBJECT, '{"a": [' * 65 + "]" * 65 + "}", '{"a": "x"', "\ud800"])
def test_the_safe_parser_refuses_with_its_own_error(text):
    with pytest.raises(safejson.JSONError):
        safejson.loads(text)


def test_brackets_inside_strings_are_not_nesting():
    assert safejson.loads(json.dumps({"text": "[" * 10_000})) == {"text": "[" * 10_000}


@pytest.fixture
def generic_account(make_account):
    account = make_account(dlr_enabled=True, dlr_ref_field="ref", dlr_status_field="state",
                           dlr_status_map={"DELIVRD": "delivered"},
                           channel=GenericProviderConfig.Channel.WHATSAPP)
    return account


@pytest.mark.parametrize("body", [NESTED, NESTED_OBJECT])
def test_nested_callback_bodies_are_a_400_with_a_reason(client, generic_account, body):
    token = generic_account.callback_token
    for path in (f"/providers/cb/{token}/dlr/", f"/providers/cb/{token}/inbound/", f"/callbacks/{token}/dlr/",
                 f"/callbacks/{token}/dlr-batch/", f"/callbacks/{token}/click/"):
        response = client.post(path, data=body, content_type="application/json")
        assert response.status_code == 400, path
        assert "not valid JSON" in response.json()["error"], path


def test_a_nested_provider_answer_to_a_test_send_is_shown_not_a_500(admin_client, stub, make_account):
    account = make_account(response_id_field="message_id")
    stub.script = [(200, {"Content-Type": "application/json"}, NESTED)]
    response = admin_client.post(f"/providers/generic/{account.pk}/test/",
                                 {"country_code": "+44", "number": "7700 900123", "message": "Hello"})
    assert response.status_code == 200
    assert "may have been sent" in response.content.decode()


@pytest.mark.parametrize("answer", [NESTED, "<html>OK</html>"])
def test_an_unreadable_2xx_answer_leaves_the_message_unknown_never_failed(stub, make_account, make_broadcast,
                                                                          answer):
    account = make_account(response_id_field="message_id")
    broadcast, _ = make_broadcast(account, 3)
    stub.responder = lambda request: (200, {"Content-Type": "application/json"}, answer)
    submit_broadcast(broadcast.pk)
    assert len(stub.requests) == 3  # each sent once, none resent
    assert set(Message.objects.filter(broadcast=broadcast).values_list("status", flat=True)) == {"unknown"}
    broadcast.refresh_from_db()
    assert (broadcast.sent, broadcast.failed, broadcast.unknown) == (3, 0, 3)


def test_a_nested_otp_api_body_is_a_400(client, admin_user):
    _, key = ApiToken.issue(name="CRM", user=admin_user)
    response = client.post(reverse("campaigns:api_otp_send"), NESTED, content_type="application/json",
                           headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 400 and response.json()["error"]
