"""Provider endpoints cannot be turned against internal addresses, and saved secrets never go to
a host they were not entered for (issue 18: a zero-permission staff user, a masked key kept, the
endpoint pointed at their own server, "Send test")."""

import uuid

import pytest

from messaging.models import GenericProviderConfig, ProviderAccount
from messaging.providers.generic.aio import AsyncSender
from messaging.providers.generic.request import Record, RequestTemplate
from tests.providers.stub import StubServer, send_all
from tests.providers.test_pages import form_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def guarded(settings):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = False
    settings.OUTBOUND_ALLOWED_HOSTS = []
    return settings


@pytest.fixture
def attacker():
    server = StubServer().start()
    yield server
    server.stop()


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:5432/", "http://169.254.169.254/latest/meta-data/",
                                      "http://[::1]/sms", "http://0x7f000001/sms", "http://2130706433:6379/"])
def test_the_form_refuses_internal_endpoints(admin_client, stub, guarded, endpoint):
    page = admin_client.post("/providers/generic/new/", form_data(stub, endpoint=endpoint))
    assert page.status_code == 200
    assert "non-public address" in page.context["form"].errors["endpoint"][0]
    assert not ProviderAccount.objects.filter(name="Acme SMS").exists()


def test_an_allowed_host_is_accepted(admin_client, stub, guarded):
    guarded.OUTBOUND_ALLOWED_HOSTS = [stub.url.removeprefix("http://")]
    response = admin_client.post("/providers/generic/new/", form_data(stub))
    assert response.status_code == 302


def test_test_send_to_an_internal_address_sends_nothing(admin_client, stub, make_account, guarded):
    """An endpoint saved before (or resolving differently now) is refused on the connection itself."""
    account = make_account(endpoint=f"{stub.url.replace('127.0.0.1', 'localhost')}/sms",
                           headers=[["apikey", "REAL-KEY-42"]])
    page = admin_client.post(f"/providers/generic/{account.pk}/test/",
                             {"country_code": "+44", "number": "7700 900123", "message": "Hello"}).content.decode()
    assert "Failed" in page and "non-public address" in page
    assert stub.requests == []


def test_broadcast_sender_refuses_internal_addresses_too(stub, make_account, guarded):
    account = make_account(endpoint=f"{stub.url.replace('127.0.0.1', 'localhost')}/sms")
    template = RequestTemplate(account.generic)
    sender = AsyncSender(account.generic)
    try:
        outcomes = send_all(sender, [(1, template.single(Record("380500000001", "Hi", str(uuid.uuid4()))), 1)],
                            timeout=20)
    finally:
        sender.close()
    assert [outcome.kind for outcome in outcomes.values()] == ["failed"]
    assert stub.requests == []


def test_secrets_are_not_kept_when_the_endpoint_moves_to_another_host(admin_client, stub, attacker):
    admin_client.post("/providers/generic/new/", form_data(stub, params_text="api_key=P-777"))
    account = ProviderAccount.objects.get(name="Acme SMS")
    masked = form_data(stub, endpoint=f"{attacker.url}/collect", password="",
                       headers_text="apikey: ********\nContent-Type: application/json",
                       params_text="api_key=********")
    page = admin_client.post(f"/providers/generic/{account.pk}/edit/", masked)
    assert page.status_code == 200
    errors = page.context["form"].errors
    assert "enter the password again" in errors["password"][0]
    assert "enter the header apikey again" in errors["headers_text"][0]
    assert "enter the parameter api_key again" in errors["params_text"][0]
    config = GenericProviderConfig.objects.get(account=account)
    assert config.endpoint == f"{stub.url}/sms" and config.password == "s3cret-pass"

    # Nothing was saved, so a test send still goes to the provider, never to the new host.
    admin_client.post(f"/providers/generic/{account.pk}/test/",
                      {"country_code": "+44", "number": "7700 900123", "message": "Hello"})
    assert attacker.requests == [] and len(stub.requests) == 1

    # Re-entering them moves the account: only the values typed for the new host go there.
    admin_client.post(f"/providers/generic/{account.pk}/edit/",
                      {**masked, "password": "new-pass", "headers_text": "apikey: NEW-KEY",
                       "params_text": "api_key=NEW-P"})
    config.refresh_from_db()
    assert config.endpoint == f"{attacker.url}/collect" and config.password == "new-pass"
    assert config.headers == [["apikey", "NEW-KEY"]] and config.params == [["api_key", "NEW-P"]]


def test_masked_query_secrets_are_not_carried_to_another_host(admin_client, stub, attacker):
    admin_client.post("/providers/generic/new/", form_data(stub, endpoint=f"{stub.url}/sms?token=T-99&to=$$To",
                                                           auth="none", username=""))
    account = ProviderAccount.objects.get(name="Acme SMS")
    page = admin_client.post(f"/providers/generic/{account.pk}/edit/",
                             form_data(stub, endpoint=f"{attacker.url}/sms?token=********&to=$$To", auth="none",
                                       username="", password="",
                                       headers_text="apikey: NEW\nContent-Type: application/json"))
    assert "Enter a value for the query argument token" in page.context["form"].errors["endpoint"][0]
    assert GenericProviderConfig.objects.get(account=account).endpoint == f"{stub.url}/sms?token=T-99&to=$$To"
