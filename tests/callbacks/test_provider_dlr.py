"""A generic provider's delivery reports: the raw request is what is kept, all or nothing is stored,
and every failure has its own answer (400, 413, 503), never a 500."""

import json

import pytest
from django.core.management import call_command

from callbacks import services
from callbacks.models import CallbackEvent
from campaigns.models import Message
from messaging.models import GenericProviderConfig, ProviderAccount

from .payloads import figures

S = Message.Status
MAPPING = {"dlr_enabled": True, "dlr_ref_field": "ref", "dlr_id_field": "id", "dlr_status_field": "state",
           "dlr_status_map": {"DELIVRD": "delivered", "UNDELIV": "undelivered", "sent": "enroute"}}


@pytest.fixture
def generic(db):
    account = ProviderAccount.objects.create(name="Generic", kind=ProviderAccount.Kind.GENERIC, api_key="")
    GenericProviderConfig.objects.create(account=account, endpoint="https://sms.example.com/send", **MAPPING)
    return account


@pytest.fixture
def sent(generic, make_broadcast, make_message):
    broadcast = make_broadcast(account=generic, recipients=3, remote_id=None)
    return broadcast, [make_message(broadcast) for _ in range(3)]


def url(account):
    return f"/providers/cb/{account.callback_token}/dlr/"


def settle(mode):
    from callbacks import buffer

    if mode == "buffered":
        while buffer.drain_once(consumer="test", block_ms=0):
            pass


def test_the_raw_request_is_stored_and_applied(client, generic, sent, mode):
    broadcast, (m1, m2, m3) = sent
    body = json.dumps([{"ref": str(m1.client_ref), "state": "DELIVRD", "extra": {"network": "26201"}},
                       {"ref": str(m2.client_ref), "state": "UNDELIV"}])
    form = f"ref={m3.client_ref}&state=sent&note=caf%C3%A9"
    assert client.post(url(generic), data=body, content_type="application/json").status_code == 200
    assert client.post(url(generic), data=form, content_type="application/x-www-form-urlencoded").status_code == 200
    assert client.get(url(generic) + f"?id=p3&ref={m3.client_ref}&state=DELIVRD").status_code == 200
    settle(mode)
    assert list(CallbackEvent.objects.order_by("pk").values_list("kind", "body")) == [
        ("generic", body), ("generic", form), ("generic", f"id=p3&ref={m3.client_ref}&state=DELIVRD")]
    assert [Message.objects.get(pk=m.pk).status for m in (m1, m2, m3)] == [S.DELIVERED, S.UNDELIVERED, S.DELIVERED]
    counters = figures(broadcast)  # the recount reads the raw requests through the account's mapping
    assert (counters["delivered"], counters["undelivered"]) == (2, 1)
    before = figures(broadcast)
    call_command("replay_callbacks")
    assert figures(broadcast) == before


def test_one_bad_report_refuses_the_whole_request(client, generic, sent):
    _broadcast, (m1, m2, _m3) = sent
    body = [{"ref": str(m1.client_ref), "state": "DELIVRD"}, {"ref": str(m2.client_ref), "state": "DELIVRD"},
            {"ref": str(m2.client_ref)}]
    response = client.post(url(generic), data=json.dumps(body), content_type="application/json")
    assert response.status_code == 400 and "state is required" in response.json()["error"]
    too_long = [{"ref": str(m1.client_ref), "state": "DELIVRD"}, {"ref": "x", "id": "a\u0000b", "state": "DELIVRD"}]
    response = client.post(url(generic), data=json.dumps(too_long), content_type="application/json")
    assert response.status_code == 400 and response.json()["error"].startswith("report 1: message_id")
    assert CallbackEvent.objects.count() == 0
    assert Message.objects.get(pk=m1.pk).status == S.SUBMITTED


def test_a_body_over_the_limit_is_413_even_above_djangos_own(client, generic, sent):
    _broadcast, (m1, *_rest) = sent
    padding = "x" * 3_000_000  # more than DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB)
    body = json.dumps({"ref": str(m1.client_ref), "state": "DELIVRD", "padding": padding})
    response = client.post(url(generic), data=body, content_type="application/json")
    assert response.status_code == 413
    inbound = client.post(f"/providers/cb/{generic.callback_token}/inbound/", data=body,
                          content_type="application/json")
    assert inbound.status_code == 413
    assert CallbackEvent.objects.count() == 0


def test_redis_down_is_503_and_nothing_is_applied(client, generic, sent, settings):
    settings.CALLBACK_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    _broadcast, (m1, *_rest) = sent
    response = client.post(url(generic), data=json.dumps({"ref": str(m1.client_ref), "state": "DELIVRD"}),
                           content_type="application/json")
    assert response.status_code == 503
    assert Message.objects.get(pk=m1.pk).status == S.SUBMITTED


@pytest.mark.parametrize("token", ["%00", "a%00b", "nope"])
def test_malformed_and_unknown_tokens_are_404(client, db, token):
    assert client.post(f"/providers/cb/{token}/dlr/", data="{}", content_type="application/json").status_code == 404
    assert client.post(f"/providers/cb/{token}/inbound/", data="{}",
                       content_type="application/json").status_code == 404


def test_a_report_for_a_message_not_known_yet_waits_for_it(client, generic, make_broadcast, make_message, direct):
    broadcast = make_broadcast(account=generic, recipients=1, remote_id=None)
    body = json.dumps({"id": "prov-77", "state": "DELIVRD"})
    assert client.post(url(generic), data=body, content_type="application/json").status_code == 200
    assert CallbackEvent.objects.get().applied_at is None
    message = make_message(broadcast, provider_message_id="prov-77")
    assert services.apply_pending_for(message_ids=[message.pk]).status_changes == 1
    assert Message.objects.get(pk=message.pk).status == S.DELIVERED
    assert figures(broadcast)["delivered"] == 1
