"""Submitted broadcasts are followed until MessageWhiz's figures say no report is still expected.

The sandbox reports `state` as opaque values that change from one look to the next (2 while sending,
never 2 once done), as the reference never says what they mean."""

import re
import time
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from campaigns.followup import REPORTS_STALE_AFTER, broadcasts_refresh
from campaigns.models import Broadcast

from .test_sending import run_task


def test_refresh_stores_provider_figures_and_completes(make_broadcast, sandbox, mw_account):
    sandbox.callbacks(delay_ms=0, statuses={"DELIVRD": 1.0})
    broadcast = run_task(make_broadcast())
    deadline = time.monotonic() + 10
    while broadcasts_refresh(account=mw_account) == 0 and time.monotonic() < deadline:
        sandbox.control("POST", "callbacks/drain")
        time.sleep(0.1)
    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.COMPLETED
    assert broadcast.provider_report["delivery"]["delivered"] == 3
    assert "uniqueClicks" in broadcast.provider_report["conversion"]
    assert [e.to_state for e in broadcast.events.all()][-1] == Broadcast.State.COMPLETED


def test_refresh_leaves_broadcasts_in_flight_submitted(make_broadcast, sandbox, mw_account):
    sandbox.callbacks(delay_ms=60_000)
    broadcast = run_task(make_broadcast())
    assert broadcasts_refresh(account=mw_account) == 0
    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.SUBMITTED
    assert broadcast.provider_report["delivery"].get("delivered", 0) == 0


def deliver_everything(sandbox):
    """Every message MessageWhiz has sent gets its final report, now."""
    deadline = time.monotonic() + 10
    while any(m["state"] in (None, 0, 1) and "planned" in m for m in sandbox.state("messages")):
        assert time.monotonic() < deadline, "the sandbox did not deliver"
        sandbox.control("POST", "callbacks/drain")
        time.sleep(0.05)


def test_a_smart_broadcast_stays_open_until_no_recipient_is_left(make_broadcast, sandbox, mw_account, audience):
    from campaigns.segments import segment_continue

    sandbox.callbacks(delay_ms=0, statuses={"DELIVRD": 1.0})
    broadcast = run_task(make_broadcast(type=Broadcast.Type.SMART, eb_type="manual", first_segment_size=2))
    deliver_everything(sandbox)
    assert broadcasts_refresh(account=mw_account) == 0  # its first segment is done; one recipient is left
    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.SUBMITTED
    assert broadcast.provider_report["conversion"]["recipientCount"] == 2

    segment_continue(broadcast, size=1, body="Last call", senders=[audience["sender"]])
    deliver_everything(sandbox)
    assert broadcasts_refresh(account=mw_account) == 1
    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.COMPLETED
    assert broadcast.provider_report["delivery"]["delivered"] == 3


def test_a_ctr_broadcast_completes_once_it_has_expired(make_broadcast, sandbox, mw_account):
    from datetime import timedelta

    from django.utils import timezone

    sandbox.callbacks(delay_ms=0, statuses={"DELIVRD": 1.0})
    expires = timezone.now() + timedelta(seconds=2)
    broadcast = run_task(make_broadcast(type=Broadcast.Type.SMART, eb_type="CTR", first_segment_size=2,
                                        next_segment_size=1, conversion_threshold=50, exp_date=expires))
    deliver_everything(sandbox)
    assert broadcasts_refresh(account=mw_account) == 0  # nobody clicked yet: the next segment may still go
    time.sleep(max(0.0, (expires - timezone.now()).total_seconds()) + 0.05)
    assert broadcasts_refresh(account=mw_account) == 1
    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.COMPLETED


def test_a_trigger_broadcast_completes_after_its_trigger_fired(make_broadcast, sandbox, mw_account, mw):
    from campaigns.models import Trigger

    from .conftest import synced

    sandbox.callbacks(delay_ms=0, statuses={"DELIVRD": 1.0})
    remote = mw.trigger_create(name="Opened the app")
    trigger = synced(Trigger, mw_account, remote, name="Opened the app")
    broadcast = run_task(make_broadcast(trigger=trigger))
    sandbox.control("POST", "callbacks/drain")
    assert broadcasts_refresh(account=mw_account) == 0  # waiting for its trigger
    sandbox.control("POST", f"triggers/{remote['id']}/fire")
    deliver_everything(sandbox)
    assert broadcasts_refresh(account=mw_account) == 1
    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.COMPLETED


def test_state_2_while_reports_are_still_expected_does_not_complete(make_broadcast, sandbox, mw_account,
                                                                     admin_client):
    """2 was the sandbox's invented "done": the sandbox now reports it while messages are in flight."""
    sandbox.callbacks(delay_ms=60_000)
    broadcast = run_task(make_broadcast())  # sent, no delivery report yet
    assert broadcasts_refresh(account=mw_account) == 0
    broadcast.refresh_from_db()
    assert (broadcast.state, broadcast.remote_state) == (Broadcast.State.SUBMITTED, "2")
    assert broadcast.provider_report["delivery"]["sent"] == 3
    page = admin_client.get(reverse("campaigns:broadcast_detail", args=[broadcast.pk])).content.decode()
    assert "its state there: “2” (a value the reference does not explain)" in page


def test_completes_by_its_figures_whatever_state_values_come(make_broadcast, sandbox, mw_account):
    sandbox.callbacks(delay_ms=0, statuses={"DELIVRD": 1.0})
    broadcast = run_task(make_broadcast())
    deliver_everything(sandbox)
    assert broadcasts_refresh(account=mw_account) == 1  # state 5 this time: a value nobody told us about
    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.COMPLETED
    assert broadcast.remote_state == "5" and broadcast.provider_report["states_seen"] == [5]
    assert broadcast.events.last().reason == "MessageWhiz reports a final status for all 3 messages"


def test_a_broadcast_whose_reports_stop_coming_completes_with_a_note(make_broadcast, sandbox, mw_account):
    sandbox.callbacks(delay_ms=3_600_000)  # sent, and the reports never come
    broadcast = run_task(make_broadcast())
    assert broadcasts_refresh(account=mw_account) == 0
    broadcast.refresh_from_db()

    # Nothing has moved since the send, for longer than reports take.
    long_ago = timezone.now() - REPORTS_STALE_AFTER - timedelta(minutes=1)
    report = {**broadcast.provider_report, "changed_at": long_ago.isoformat()}
    Broadcast.objects.filter(pk=broadcast.pk).update(submitted_at=long_ago, provider_report=report)
    assert broadcasts_refresh(account=mw_account) == 1
    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.COMPLETED
    assert broadcast.events.last().reason == (
        "No new delivery reports for 72 hours: 0 of 3 messages have a final status, the rest never reported one")


def test_new_figures_restart_the_quiet_clock(make_broadcast, sandbox, mw_account):
    sandbox.callbacks(delay_ms=3_600_000)
    broadcast = run_task(make_broadcast())
    long_ago = timezone.now() - REPORTS_STALE_AFTER - timedelta(minutes=1)
    Broadcast.objects.filter(pk=broadcast.pk).update(submitted_at=long_ago, provider_report={
        "figures": {"delivery": {}, "reached": 0, "ours": 0}, "changed_at": long_ago.isoformat()})
    # The last look saw nothing; now MessageWhiz reports the messages sent: the figures moved.
    assert broadcasts_refresh(account=mw_account) == 0
    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.SUBMITTED


def test_clicks_messagewhiz_counts_on_a_broadcast_reach_its_figures_even_after_it_completes(
        make_broadcast, sandbox, mw_account, admin_client):
    """MessageWhiz's click callbacks name a broadcast's messages by an id its reports never carry,
    so the broadcast's figures take MessageWhiz's own counts, and keep following them once it is done."""
    from campaigns.selectors import campaign_figures

    sandbox.callbacks(delay_ms=0, statuses={"DELIVRD": 1.0}, click_rate=0.0)
    broadcast = run_task(make_broadcast(body="Hi {{first_name}}, 20% off: https://shop.example/sale"))
    deliver_everything(sandbox)
    deadline = time.monotonic() + 10
    while broadcasts_refresh(account=mw_account) == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    broadcast.refresh_from_db()
    assert broadcast.state == Broadcast.State.COMPLETED and broadcast.clicked == 0

    # Two recipients click after the last report, one of them twice.
    first, second = [m["message_id"] for m in sandbox.state("messages")][:2]
    for message_id in (first, first, second):
        sandbox.control("POST", f"messages/{message_id}/click")
    broadcasts_refresh(account=mw_account)
    broadcast.refresh_from_db()
    assert (broadcast.clicked, broadcast.clicks_unique) == (2, 0)  # none of the callbacks named a known message
    figures = campaign_figures(broadcast.campaign)
    assert (figures["clicks_unique"], figures["clicks_total"]) == (2, 3)
    page = admin_client.get(reverse("campaigns:broadcast_figures", args=[broadcast.pk])).content.decode()
    assert re.search(r'stat-value">2</span><span class="stat-label">Clicked · [\d.]+% · by MessageWhiz', page)

    # A week after completion MessageWhiz's counts are no longer asked for.
    Broadcast.objects.filter(pk=broadcast.pk).update(completed_at=timezone.now() - timedelta(days=8))
    sandbox.control("POST", f"messages/{second}/click")
    broadcasts_refresh(account=mw_account)
    broadcast.refresh_from_db()
    assert broadcast.reported_clicks_total == 3
