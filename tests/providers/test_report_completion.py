"""A broadcast Textcast sends itself completes when its delivery reports are in, not when the last
request left; reports that never come are flagged on the overview and eventually close it."""

import pytest

from campaigns.models import Broadcast
from campaigns.tasks import dispatch_sweep, submit_broadcast

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _applied_at_once(settings):
    """Callbacks (and our own links' clicks) are applied in the request, not buffered in Redis."""
    settings.REDIS_URL = settings.CALLBACK_REDIS_URL = ""

DLR = {"dlr_enabled": True, "dlr_ref_field": "ref", "dlr_status_field": "state",
       "dlr_status_map": {"DELIVRD": "delivered", "UNDELIV": "undelivered"}}


@pytest.fixture
def sent(stub, make_account, make_broadcast):
    account = make_account(**DLR)
    broadcast, phones = make_broadcast(account, 3)
    submit_broadcast(broadcast.pk)
    broadcast.refresh_from_db()
    refs = {r.json()["to"]: r.json()["ref"] for r in stub.requests}
    return account, broadcast, [refs[phone] for phone in phones]


def report(client, account, ref, state="DELIVRD"):
    response = client.post(f"/providers/cb/{account.callback_token}/dlr/", content_type="application/json",
                           data={"ref": ref, "state": state})
    assert response.status_code == 200


def test_it_completes_with_its_last_delivery_report(client, sent):
    account, broadcast, refs = sent
    assert (broadcast.state, broadcast.sent) == (Broadcast.State.SUBMITTED, 3)  # sent, reports expected
    report(client, account, refs[0])
    report(client, account, refs[1], "UNDELIV")
    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.SUBMITTED
    report(client, account, refs[2])
    broadcast.refresh_from_db()
    assert (broadcast.state, broadcast.delivered, broadcast.undelivered) == (Broadcast.State.COMPLETED, 2, 1)
    assert broadcast.events.last().reason == "All messages sent; every delivery report arrived"


def test_missing_reports_are_flagged_and_close_it_when_overdue(admin_client, client, settings, sent):
    account, broadcast, refs = sent
    report(client, account, refs[0])
    settings.DELIVERY_REPORTS_LATE_SECONDS = 0
    home = admin_client.get("/").content.decode()
    assert "No delivery reports" in home and "2 of 3 sent messages have no delivery report yet" in home

    dispatch_sweep()  # not overdue yet
    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.SUBMITTED
    settings.DISPATCH_REPORT_WAIT_SECONDS = 0
    dispatch_sweep()
    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.COMPLETED
    assert broadcast.last_error == "Completed without reports: 2 delivery reports never arrived."
    assert "2 of 3 sent messages" in admin_client.get("/").content.decode()  # still listed: the figures are short


def test_a_provider_without_reports_completes_once_sent_and_is_never_flagged(admin_client, settings, stub,
                                                                             make_account, make_broadcast):
    broadcast, _ = make_broadcast(make_account(), 3)
    submit_broadcast(broadcast.pk)
    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.COMPLETED
    settings.DELIVERY_REPORTS_LATE_SECONDS = 0
    assert "No delivery reports" not in admin_client.get("/").content.decode()
