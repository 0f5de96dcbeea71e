"""Delivery reports from a generic provider, mapped by the account's field table."""

import json
import os

import pytest

from campaigns.models import Broadcast, Message
from campaigns.tasks import submit_broadcast
from messaging.providers.generic.dlr import CANONICAL_STATUSES

pytestmark = pytest.mark.django_db(transaction=True)

DLR = {"dlr_enabled": True, "dlr_ref_field": "ref", "dlr_id_field": "data.id", "dlr_status_field": "data.state",
       "dlr_error_field": "data.reason",
       "dlr_status_map": {"DELIVRD": "delivered", "Failed": "failed", "sent": "enroute", "EXPIRED": "expired"}}


@pytest.fixture(params=["direct", "buffered"])
def mode(request, settings):
    """Reports are applied in the request, or through the Redis buffer as in production."""
    if request.param == "buffered":
        url = os.environ.get("REDIS_URL", "")
        if not url:
            pytest.skip("REDIS_URL is not set")
        settings.REDIS_URL = url
    else:
        settings.REDIS_URL = settings.CALLBACK_REDIS_URL = ""
    return request.param


def settle(mode):
    if mode == "buffered":
        from callbacks import buffer

        while buffer.drain_once(consumer="test", block_ms=0):
            pass


def test_canonical_statuses_are_message_statuses():
    # Opted out and capped are ours (never sent), not anything a provider reports.
    assert set(CANONICAL_STATUSES) == set(Message.Status.values) - {"queued", "sending", "opted_out", "capped"}


@pytest.fixture
def sent(stub, make_account, make_broadcast):
    account = make_account(**DLR)
    broadcast, _ = make_broadcast(account, 4)
    submit_broadcast(broadcast.pk)
    messages = list(Message.objects.filter(broadcast=broadcast).order_by("phone"))
    return account, broadcast, messages


def post(client, account, body, *, content_type="application/json", token=None):
    return client.post(f"/providers/cb/{token or account.callback_token}/dlr/",
                       data=json.dumps(body) if content_type == "application/json" else body,
                       content_type=content_type)


def test_reports_move_statuses_forward_and_counters_stay_exact(client, sent, mode):
    account, broadcast, (m1, m2, m3, m4) = sent
    ok = post(client, account, [
        {"ref": str(m1.client_ref), "data": {"id": "p1", "state": "delivrd"}},
        {"ref": str(m2.client_ref), "data": {"id": "p2", "state": "Failed", "reason": "absent subscriber"}},
        {"ref": str(m3.client_ref), "data": {"id": "p3", "state": "sent"}},
    ])
    assert ok.status_code == 200 and ok.json() == {"ok": True, "applied": 3, "unmapped": 0}
    # A repeat, and a late "sent" after "delivered", change nothing.
    post(client, account, {"ref": str(m1.client_ref), "data": {"id": "p1", "state": "DELIVRD"}})
    post(client, account, {"ref": str(m1.client_ref), "data": {"state": "sent"}})
    # GET reports with the provider's id only.
    response = client.get(f"/providers/cb/{account.callback_token}/dlr/", {"data.id": "p3", "data.state": "EXPIRED"})
    assert response.status_code == 200
    settle(mode)

    status = dict(Message.objects.filter(broadcast=broadcast).values_list("phone", "status"))
    assert [status[m.phone] for m in (m1, m2, m3, m4)] == ["delivered", "failed", "expired", "submitted"]
    assert Message.objects.get(pk=m2.pk).error == "absent subscriber"
    broadcast.refresh_from_db()
    assert (broadcast.sent, broadcast.delivered, broadcast.failed, broadcast.expired) == (4, 1, 1, 1)


def test_unmapped_status_values_are_skipped_not_refused(client, sent, mode):
    account, _, (m1, *_rest) = sent
    response = post(client, account, {"ref": str(m1.client_ref), "data": {"state": "WEIRD"}})
    assert response.status_code == 200 and response.json()["unmapped"] == 1


@pytest.mark.parametrize("body, content_type, reason", [
    ("{not json", "application/json", "not valid JSON"),
    ([1, 2], "application/json", "array of objects"),
    ({"data": {"state": "DELIVRD"}}, "application/json", "names no message"),
    ({"ref": "x"}, "application/json", "required"),
    ("", "application/x-www-form-urlencoded", "empty body"),
])
def test_malformed_reports_get_400(client, sent, body, content_type, reason):
    account = sent[0]
    data = body if isinstance(body, str) else json.dumps(body)
    response = client.post(f"/providers/cb/{account.callback_token}/dlr/", data=data, content_type=content_type)
    assert response.status_code == 400 and reason in response.json()["error"]


def test_unknown_token_is_404_and_accounts_without_dlr_say_so(client, make_account):
    assert client.post("/providers/cb/nope/dlr/", data="{}", content_type="application/json").status_code == 404
    account = make_account()
    response = client.post(f"/providers/cb/{account.callback_token}/dlr/", data="{}", content_type="application/json")
    assert response.status_code == 404 and "not enabled" in response.json()["error"]


def test_form_encoded_report(client, sent, mode):
    account, broadcast, (m1, *_rest) = sent
    account.generic.dlr_status_field = "state"
    account.generic.save()
    response = client.post(f"/providers/cb/{account.callback_token}/dlr/", data=f"ref={m1.client_ref}&state=DELIVRD",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    settle(mode)
    assert Message.objects.get(pk=m1.pk).status == "delivered"
    assert Broadcast.objects.get(pk=broadcast.pk).delivered == 1
