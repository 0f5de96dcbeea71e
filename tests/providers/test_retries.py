"""Retrying undelivered messages through another route, over real HTTP: a generic broadcast's
undelivered reports (posted to our callback URL) make exactly one retry on the backup account
(the stand-in sees it on the backup's endpoint), and nothing else does."""

import os
from datetime import UTC, datetime, time
from urllib.parse import urlsplit

import pytest

from campaigns import policy
from campaigns.models import Broadcast, Campaign, Message
from campaigns.retries import retry_policy_copy
from campaigns.tasks import dispatch_sweep, retry_sweep, submit_broadcast
from messaging.models import SendingPolicy
from recipients.consent import consent_record
from recipients.models import ConsentEvent

pytestmark = pytest.mark.django_db(transaction=True)

DLR = {"dlr_enabled": True, "dlr_ref_field": "ref", "dlr_status_field": "state",
       "dlr_status_map": {"DELIVRD": "delivered", "UNDELIV": "undelivered", "FAILED": "failed",
                          "ENROUTE": "enroute"}}


@pytest.fixture(autouse=True)
def _applied_at_once(settings):
    """Callbacks are applied in the request (no Redis buffer), so their retries queue on commit."""
    settings.REDIS_URL = settings.CALLBACK_REDIS_URL = ""


@pytest.fixture
def routes(stub, make_account):
    main = make_account(**DLR)
    backup = make_account(name="Backup", endpoint=f"{stub.url}/backup", **DLR)
    return main, backup


@pytest.fixture
def sent(stub, routes, make_broadcast):
    main, backup = routes
    main.retry_enabled, main.retry_statuses, main.retry_wait_minutes = True, ["undelivered", "failed"], 0
    main.retry_account = backup
    main.save()
    broadcast, phones = make_broadcast(main, 4)
    retry_policy_copy(main, broadcast)
    broadcast.save()
    submit_broadcast(broadcast.pk)
    refs = {r.json()["to"]: r.json()["ref"] for r in stub.requests}
    return broadcast, phones, refs


def report(client, account, ref, state):
    response = client.post(f"/providers/cb/{account.callback_token}/dlr/", content_type="application/json",
                           data={"ref": ref, "state": state})
    assert response.status_code == 200, response.content


def backup_sends(stub):
    return [r.json()["to"] for r in stub.requests if r.path == "/backup"]


def test_undelivered_reports_make_exactly_one_retry_on_the_backup_route(admin_client, client, stub, routes, sent):
    main, backup = routes
    broadcast, phones, refs = sent
    report(client, main, refs[phones[0]], "DELIVRD")
    report(client, main, refs[phones[1]], "UNDELIV")
    report(client, main, refs[phones[2]], "ENROUTE")  # still on its way: never retried
    assert backup_sends(stub) == [phones[1]]

    # A duplicate, a late different final status, and the sweep make no second retry.
    report(client, main, refs[phones[1]], "UNDELIV")
    report(client, main, refs[phones[1]], "FAILED")
    report(client, main, refs[phones[0]], "UNDELIV")  # delivered is final: not retried either
    retry_sweep()
    dispatch_sweep()
    assert backup_sends(stub) == [phones[1]]

    retry = Message.objects.get(retry_of__broadcast=broadcast)
    assert (retry.phone, retry.account_id, retry.retry_of.phone) == (phones[1], backup.pk, phones[1])
    child = retry.broadcast
    assert (child.parent_id, child.role, child.account_id) == (broadcast.pk, Broadcast.Role.RETRY, backup.pk)
    # The body went out rendered for the recipient, as the original did.
    assert [r.json()["text"] for r in stub.requests if r.path == "/backup"] == ["Hi Ann & co"]

    # The retry's own failure is not retried again (a retry has no retry policy).
    backup_ref = next(r.json()["ref"] for r in stub.requests if r.path == "/backup")
    report(client, backup, backup_ref, "UNDELIV")
    assert backup_sends(stub) == [phones[1]]
    assert Message.objects.filter(retry_of__isnull=False).count() == 1


def test_the_broadcast_page_shows_what_the_retry_recovered(admin_client, client, stub, routes, sent):
    main, backup = routes
    broadcast, phones, refs = sent
    campaign = Campaign.objects.create(account=main, name="Autumn")
    Broadcast.objects.filter(pk=broadcast.pk).update(campaign=campaign)
    report(client, main, refs[phones[0]], "DELIVRD")
    report(client, main, refs[phones[1]], "UNDELIV")
    report(client, main, refs[phones[2]], "FAILED")
    backup_refs = {r.json()["to"]: r.json()["ref"] for r in stub.requests if r.path == "/backup"}
    assert set(backup_refs) == {phones[1], phones[2]}
    report(client, backup, backup_refs[phones[1]], "DELIVRD")

    page = admin_client.get(f"/broadcasts/{broadcast.pk}/").content.decode()
    assert "Recovered by retry" in page
    assert "retried 2, delivered on retry 1" in page
    # Counted once: 1 delivered first time + 1 recovered; 1 still failed.
    figures = admin_client.get(f"/broadcasts/{broadcast.pk}/figures/").content.decode()
    assert '<span class="stat-value">2</span><span class="stat-label">Delivered' in figures
    assert '<span class="stat-value">1</span><span class="stat-label">Failed' in figures
    assert '<span class="stat-value">4</span><span class="stat-label">Recipients' in figures  # not 4 + 2
    # So does the campaign (the retry broadcast is under it too).
    assert Broadcast.objects.get(parent=broadcast).campaign_id == campaign.pk
    page = admin_client.get(f"/campaigns/{campaign.pk}/broadcasts/").content.decode()
    assert '<span class="stat-value">2</span><span class="stat-label">Delivered' in page
    assert '<span class="stat-value">1</span><span class="stat-label">Failed' in page


def test_a_number_that_opted_out_is_not_retried(client, stub, routes, sent):
    main, _ = routes
    _broadcast, phones, refs = sent
    consent_record(account=main, phones=[phones[1]], kind=ConsentEvent.Kind.OPT_OUT, source="test")
    report(client, main, refs[phones[1]], "UNDELIV")
    report(client, main, refs[phones[2]], "UNDELIV")
    assert backup_sends(stub) == [phones[2]]


def test_a_retry_outside_its_recipients_window_waits_for_it(client, stub, routes, sent, monkeypatch):
    main, backup = routes
    _broadcast, phones, refs = sent
    SendingPolicy.objects.create(account=backup, window_start=time(8), window_end=time(21))
    clock = {"at": datetime(2026, 6, 1, 3, 0, tzinfo=UTC)}  # 06:00 in Kyiv
    monkeypatch.setattr(policy, "clock", lambda: clock["at"])
    report(client, main, refs[phones[1]], "UNDELIV")
    assert backup_sends(stub) == []
    retry = Message.objects.get(retry_of__phone=phones[1])
    assert (retry.status, retry.not_before) == (Message.Status.QUEUED, datetime(2026, 6, 1, 5, 0, tzinfo=UTC))
    assert Broadcast.objects.get(pk=retry.broadcast_id).state == Broadcast.State.SUBMITTED

    clock["at"] = datetime(2026, 6, 1, 5, 1, tzinfo=UTC)
    dispatch_sweep()  # the every-minute sweep wakes it at the opening
    assert backup_sends(stub) == [phones[1]]


def test_no_report_after_t_retries_only_what_got_no_report_at_all(client, stub, routes, sent, settings):
    main, _ = routes
    broadcast, phones, refs = sent
    settings.RETRY_NO_REPORT_MIN_MINUTES = 0
    Broadcast.objects.filter(pk=broadcast.pk).update(retry_no_report_minutes=0, retry_statuses=[])
    report(client, main, refs[phones[0]], "DELIVRD")
    report(client, main, refs[phones[1]], "ENROUTE")
    retry_sweep()
    # phones[2] and phones[3] never had a report: retried; en route and delivered are not.
    assert sorted(backup_sends(stub)) == [phones[2], phones[3]]


def test_a_late_report_withdraws_a_no_report_retry_still_waiting(client, stub, routes, sent, settings,
                                                                 monkeypatch):
    main, backup = routes
    broadcast, phones, refs = sent
    settings.RETRY_NO_REPORT_MIN_MINUTES = 0
    Broadcast.objects.filter(pk=broadcast.pk).update(retry_no_report_minutes=0, retry_statuses=[])
    SendingPolicy.objects.create(account=backup, window_start=time(8), window_end=time(21))
    clock = {"at": datetime(2026, 6, 1, 3, 0, tzinfo=UTC)}  # the backup's window is closed
    monkeypatch.setattr(policy, "clock", lambda: clock["at"])
    retry_sweep()
    child = Broadcast.objects.get(parent=broadcast)
    assert (child.recipients_count, child.held) == (4, 4)
    report(client, main, refs[phones[0]], "DELIVRD")  # it was not lost after all
    report(client, main, refs[phones[1]], "ENROUTE")
    report(client, main, refs[phones[2]], "UNDELIV")  # final: its retry stays
    child.refresh_from_db()
    assert (child.recipients_count, child.held) == (2, 2)

    clock["at"] = datetime(2026, 6, 1, 5, 1, tzinfo=UTC)
    dispatch_sweep()
    assert sorted(backup_sends(stub)) == [phones[2], phones[3]]


def test_delivered_messages_are_never_retried(client, stub, routes, sent):
    main, _ = routes
    broadcast, phones, refs = sent
    for phone in phones:
        report(client, main, refs[phone], "DELIVRD")
    report(client, main, refs[phones[0]], "UNDELIV")  # a late contradiction changes nothing
    retry_sweep()
    assert backup_sends(stub) == []
    assert not Broadcast.objects.filter(parent=broadcast).exists()


def test_a_broadcast_whose_policy_is_off_retries_nothing(client, stub, routes, sent):
    main, _ = routes
    broadcast, phones, refs = sent
    Broadcast.objects.filter(pk=broadcast.pk).update(retry_enabled=False)
    report(client, main, refs[phones[1]], "UNDELIV")
    retry_sweep()
    assert backup_sends(stub) == []


def test_reports_through_the_redis_buffer_retry_once_too(client, stub, routes, sent, settings):
    url = os.environ.get("REDIS_URL", "")
    if not url:
        pytest.skip("REDIS_URL is not set")
    from callbacks import buffer

    settings.REDIS_URL, settings.CALLBACK_REDIS_URL = url, urlsplit(url)._replace(path="/15").geturl()
    main, _ = routes
    _broadcast, phones, refs = sent
    report(client, main, refs[phones[1]], "UNDELIV")
    report(client, main, refs[phones[1]], "UNDELIV")  # posted twice, as providers do
    assert backup_sends(stub) == []  # only buffered so far
    while buffer.drain_once(consumer="test", block_ms=0):
        pass
    retry_sweep()
    assert backup_sends(stub) == [phones[1]]
